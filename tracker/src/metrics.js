import { attr, flag } from './config.js';
import { track } from './events.js';
import { sessionAlive } from './identity.js';
import { onEnter, onLeave, pageProps } from './pageviews.js';

// Hidden is the last moment a page is reliably alive (mobile browsers often skip pagehide).
function onExit(fn) {
  addEventListener('pagehide', fn);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') fn();
  });
}

function afterLoad(fn) {
  if (document.readyState === 'complete') setTimeout(fn, 0);
  else addEventListener('load', () => setTimeout(fn, 0));
}

function navigation() {
  return (performance.getEntriesByType && performance.getEntriesByType('navigation')[0]) || {};
}

function trackPerformance() {
  afterLoad(() => {
    const nav = navigation();
    if (!nav.loadEventEnd) return;
    const ms = (v) => Math.max(0, Math.round(v));
    track('$performance', {
      ttfb: ms(nav.responseStart),
      dom_ready: ms(nav.domContentLoadedEventEnd),
      load: ms(nav.loadEventEnd),
    }, true);
  });
}

function observe(type, fn, options) {
  try {
    new PerformanceObserver((list) => list.getEntries().forEach(fn)).observe(Object.assign({ type, buffered: true }, options));
  } catch {
    // Entry type not supported by this browser.
  }
}

// Simplified vitals for the hard page load: LCP, CLS as a plain sum of unexpected shifts,
// INP as the slowest interaction. Sent once, when the landing page is left or hidden.
function trackVitals() {
  const v = {};
  let sent = false;
  observe('largest-contentful-paint', (e) => (v.lcp = Math.round(e.startTime)));
  observe('layout-shift', (e) => {
    if (!e.hadRecentInput) v.cls = (v.cls || 0) + e.value;
  });
  observe('event', (e) => {
    if (e.interactionId) v.inp = Math.max(v.inp || 0, Math.round(e.duration));
  }, { durationThreshold: 40 });
  const flush = () => {
    if (sent || !Object.keys(v).length) return;
    sent = true;
    if (v.cls != null) v.cls = Math.round(v.cls * 1000) / 1000;
    track('$web_vitals', pageProps(v), true);
  };
  onLeave(flush);
  onExit(flush);
}

function trackScroll() {
  let max = 0;
  let sent = false;
  let pending = false;
  const measure = () => {
    pending = false;
    const d = document.documentElement;
    const height = Math.max(d.scrollHeight, document.body ? document.body.scrollHeight : 0);
    const seen = (window.scrollY || d.scrollTop || 0) + window.innerHeight;
    const pct = height > 0 ? Math.min(100, Math.round((seen / height) * 100)) : 100;
    if (pct > max) max = pct;
  };
  // Reading scrollHeight forces layout: at most once per frame.
  const onScroll = () => {
    if (!pending) {
      pending = true;
      requestAnimationFrame(measure);
    }
  };
  const flush = () => {
    if (sent) return;
    sent = true;
    track('$scroll_depth', pageProps({ scroll_depth: Math.floor(max / 25) * 25 }), true);
  };
  addEventListener('scroll', onScroll, { passive: true });
  afterLoad(measure);
  onEnter(() => {
    max = 0;
    sent = false;
    setTimeout(measure, 0);
  });
  onLeave(flush);
  onExit(flush);
}

// Heartbeats never extend the session, so they stop by themselves 30 minutes after the
// visitor's last real activity, and they pause while the tab is hidden.
function trackHeartbeat(seconds) {
  seconds = Math.max(15, seconds);
  setInterval(() => {
    if (document.visibilityState === 'visible' && sessionAlive()) track('$heartbeat', { seconds }, true);
  }, seconds * 1000);
}

// A page is a 404 when it says so: a <meta name="aa-404"> tag, a title containing "404" or
// "not found", or (first page only) an HTTP 404 response status in Navigation Timing.
function is404(first) {
  if (document.querySelector('meta[name="aa-404"]') || /\b404\b|not found/i.test(document.title)) return true;
  return first && navigation().responseStatus === 404;
}

function track404() {
  let first = true;
  onEnter(() => {
    const isFirst = first;
    first = false;
    // After the router has had a chance to render the new title and meta tags.
    setTimeout(() => {
      if (is404(isFirst)) track('$404');
    }, 50);
  });
}

export function initMetrics() {
  const heartbeat = parseInt(attr('heartbeat'), 10);
  if (flag('track-performance')) trackPerformance();
  if (flag('track-vitals')) trackVitals();
  if (flag('track-scroll-depth')) trackScroll();
  if (heartbeat > 0) trackHeartbeat(heartbeat);
  if (flag('track-404')) track404();
}
