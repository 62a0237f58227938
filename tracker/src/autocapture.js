import { attr, flag } from './config.js';
import { track } from './events.js';
import { onEnter } from './pageviews.js';

const DOWNLOAD_EXT = /\.(pdf|docx?|xlsx?|pptx?|od[tsp]|csv|txt|rtf|zip|rar|7z|t?gz|bz2|xz|tar|dmg|pkg|exe|msi|deb|rpm|apk|iso|mp[34]|wav|mov|avi|mkv|webm|epub)$/i;
const MAX_ERRORS = 5;
const outgoing = flag('track-outgoing');
const downloads = flag('track-downloads');
const clicks = flag('track-clicks');
const linkDomains = (attr('link-domains') || '').toLowerCase().split(',').map((d) => d.trim());

function text(el) {
  return (el.innerText || el.textContent || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 200);
}

// `data-<prefix>-<prop>="v"` attributes become event properties.
function attrProps(el, prefix, props) {
  for (const a of el.attributes) {
    if (a.name.indexOf(prefix) === 0) props[a.name.slice(prefix.length)] = a.value;
  }
  return props;
}

function isInternal(host) {
  host = host.toLowerCase();
  if (host === location.hostname.toLowerCase()) return true;
  for (const d of linkDomains) if (d && (host === d || host.endsWith('.' + d))) return true;
  return false;
}

function onClick(e) {
  const target = e.target;
  if (!target || !target.closest) return;
  const declared = target.closest('[data-aa-event]');
  if (declared) {
    const name = declared.getAttribute('data-aa-event');
    if (name) track(name, attrProps(declared, 'data-aa-event-', {}));
  }
  const link = target.closest('a[href]');
  let url = null;
  if (link) {
    try {
      url = new URL(link.href, location.href);
    } catch {
      url = null;
    }
  }
  const web = url && /^https?:$/.test(url.protocol);
  if (outgoing && web && !isInternal(url.hostname)) {
    track('outgoing_link', { href: url.href, host: url.hostname, text: text(link) });
  }
  if (downloads && url && (link.hasAttribute('download') || (web && DOWNLOAD_EXT.test(url.pathname)))) {
    const file = url.pathname.split('/').pop();
    const ext = file.indexOf('.') > 0 ? file.split('.').pop().toLowerCase() : '';
    track('$download', { href: url.href, filename: link.getAttribute('download') || file, extension: ext });
  }
  if (clicks && !declared) {
    const el = target.closest('a,button,[role=button],input[type=submit],input[type=button]');
    if (el) {
      track('$click', {
        tag: el.tagName.toLowerCase(),
        text: text(el),
        id: el.id || '',
        href: el.tagName === 'A' ? el.href : '',
      });
    }
  }
}

function onSubmit(e) {
  const form = e.target;
  if (!(form instanceof HTMLFormElement)) return;
  // Field values are never read. getAttribute, because a field named "id" or "action"
  // shadows the form's own properties.
  track('$form_submit', {
    id: form.getAttribute('id') || '',
    name: form.getAttribute('name') || '',
    action: (form.getAttribute('action') || '').slice(0, 500),
    method: (form.getAttribute('method') || 'get').toLowerCase(),
  });
}

function trackErrors() {
  let seen = {};
  let count = 0;
  const report = (message, source, line, col) => {
    message = String(message || '').slice(0, 500);
    const key = message + source + line;
    if (count >= MAX_ERRORS || seen[key]) return;
    seen[key] = 1;
    count++;
    track('$error', { message, source: source || '', line: line || 0, col: col || 0 });
  };
  // Resource load failures also fire `error` (without a message); only script errors count.
  addEventListener('error', (e) => {
    if (e.message) report(e.message, e.filename, e.lineno, e.colno);
  });
  addEventListener('unhandledrejection', (e) => {
    const r = e.reason;
    report(r && r.message ? r.message : r, 'unhandledrejection', 0, 0);
  });
  onEnter(() => {
    seen = {};
    count = 0;
  });
}

function trackImpressions() {
  if (typeof IntersectionObserver !== 'function') return;
  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        const el = entry.target;
        observer.unobserve(el);
        track('$impression', attrProps(el, 'data-aa-impression-', { name: el.getAttribute('data-aa-impression') }));
      }
    },
    { threshold: 0.5 }
  );
  // Rescanned after each page view so SPA-rendered elements are picked up; each element once.
  const scan = () => {
    for (const el of document.querySelectorAll('[data-aa-impression]')) {
      if (el.__aaSeen) continue;
      el.__aaSeen = 1;
      observer.observe(el);
    }
  };
  onEnter(() => setTimeout(scan, 0));
}

export function initAutocapture() {
  document.addEventListener('click', onClick, true);
  if (flag('track-forms')) document.addEventListener('submit', onSubmit, true);
  if (flag('track-errors')) trackErrors();
  trackImpressions();
}
