import { onReady } from './config.js';
import { track } from './events.js';

// The page the last page_view described; page-exit metrics report against it even when
// they are flushed after the URL has already changed.
export const page = { key: null, hash: null, url: '', path: '', title: '' };
const leaveHooks = [];
const enterHooks = [];

export function onLeave(fn) {
  leaveHooks.push(fn);
}

export function onEnter(fn) {
  enterHooks.push(fn);
}

function run(hooks) {
  for (const fn of hooks) {
    try {
      fn();
    } catch {
      // One broken feature must not stop the others.
    }
  }
}

// Where a page-exit metric belongs: the page being left, not the URL already navigated to.
export function pageProps(props) {
  return Object.assign({ url: page.url, path: page.path, title: page.title }, props);
}

export function pageview(name) {
  if (page.key !== null) run(leaveHooks);
  page.key = location.pathname + location.search;
  page.hash = location.hash;
  page.url = location.href;
  page.path = location.pathname;
  page.title = document.title;
  track('page_view', name ? { page: String(name) } : null);
  run(enterHooks);
}

// History calls only count when path or query change (routers also use replaceState for
// scroll state and hash-only scroll-spies); popstate/hashchange also count hash changes.
function changed(withHash) {
  return location.pathname + location.search !== page.key || (withHash && location.hash !== page.hash);
}

function onRoute(withHash) {
  if (changed(withHash)) pageview();
}

export function initPageviews() {
  for (const method of ['pushState', 'replaceState']) {
    const original = history[method];
    if (typeof original !== 'function') continue;
    history[method] = function () {
      const result = original.apply(this, arguments);
      // Deferred so a push immediately followed by a redirect counts once, and so the
      // router has a chance to update document.title.
      setTimeout(() => onRoute(false), 0);
      return result;
    };
  }
  addEventListener('popstate', () => onRoute(true));
  addEventListener('hashchange', () => onRoute(true));
  // A page restored from the back/forward cache is a new view of the same URL.
  addEventListener('pageshow', (e) => {
    if (e.persisted) pageview();
  });
  const whenReady = () =>
    onReady(() => {
      if (page.key === null) pageview();
    });
  // Prerendered pages (speculation rules) are counted only when the visitor activates them.
  if (document.prerendering) document.addEventListener('prerenderingchange', whenReady, { once: true });
  else whenReady();
}
