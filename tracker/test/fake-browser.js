// A minimal browser for running the built tracker under `node --test`: just enough DOM,
// storage, history and transport to observe what the tracker sends.
import vm from 'node:vm';
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';

export const BUNDLE = readFileSync(new URL('../../src/agentlytics/web/static/tracker.js', import.meta.url), 'utf8');

class Storage {
  constructor(data) {
    this.data = data || new Map();
  }
  getItem(k) {
    return this.data.has(k) ? this.data.get(k) : null;
  }
  setItem(k, v) {
    this.data.set(k, String(v));
  }
  removeItem(k) {
    this.data.delete(k);
  }
}

class Emitter {
  constructor() {
    this.listeners = {};
  }
  addEventListener(type, fn) {
    (this.listeners[type] = this.listeners[type] || []).push(fn);
  }
  dispatch(type, event = {}) {
    for (const fn of this.listeners[type] || []) fn(Object.assign({ type }, event));
  }
}

function matchesOne(el, sel) {
  const m = /^([a-z]*)((?:\[[^\]]+\])*)$/i.exec(sel.trim());
  if (!m) throw new Error('fake-browser: unsupported selector ' + sel);
  if (m[1] && el.tagName !== m[1].toUpperCase()) return false;
  for (const [, name, value] of m[2].matchAll(/\[([\w-]+)(?:[*^]?="?([^"\]]*)"?)?\]/g)) {
    if (!el.hasAttribute(name)) return false;
    if (value !== undefined && el.getAttribute(name) !== value) return false;
  }
  return true;
}

export class Element {
  constructor(tag, attrs = {}, parent = null, text = '') {
    this.tagName = tag.toUpperCase();
    this.attrs = new Map(Object.entries(attrs));
    this.parent = parent;
    this.textContent = text;
    this.id = attrs.id || '';
  }
  getAttribute(n) {
    return this.attrs.has(n) ? this.attrs.get(n) : null;
  }
  hasAttribute(n) {
    return this.attrs.has(n);
  }
  get attributes() {
    return [...this.attrs].map(([name, value]) => ({ name, value }));
  }
  matches(selector) {
    return selector.split(',').some((s) => matchesOne(this, s));
  }
  closest(selector) {
    for (let el = this; el; el = el.parent) if (el.matches(selector)) return el;
    return null;
  }
}

export function boot(opts = {}) {
  const url = new URL(opts.url || 'https://site.example/landing?utm_source=news&utm_campaign=launch');
  const state = { path: url.pathname + url.search + url.hash };
  const sent = [];
  const logs = [];
  const fetches = [];
  const local = opts.local || new Map();
  const session = opts.session || new Map();
  const elements = opts.elements || [];
  const intervals = [];

  const location = {
    get href() {
      return url.origin + state.path;
    },
    get origin() {
      return url.origin;
    },
    get hostname() {
      return url.hostname;
    },
    get pathname() {
      return new URL(this.href).pathname;
    },
    get search() {
      return new URL(this.href).search;
    },
    get hash() {
      return new URL(this.href).hash;
    },
  };
  const go = (to) => {
    const u = new URL(to, location.href);
    state.path = u.pathname + u.search + u.hash;
  };
  const script = new Element('script', Object.assign({}, opts.attrs || {}));
  script.src = opts.src || 'https://analytics.example/tracker.js';

  const document = new Emitter();
  Object.assign(document, {
    currentScript: script,
    readyState: opts.readyState || 'interactive',
    title: opts.title || 'Landing',
    referrer: opts.referrer === undefined ? 'https://search.example/?q=x' : opts.referrer,
    visibilityState: 'visible',
    documentElement: { classList: { remove() {} }, scrollHeight: 2000, scrollTop: 0 },
    body: { scrollHeight: 2000 },
    querySelector: (sel) => elements.find((el) => el.matches(sel)) || null,
    querySelectorAll: (sel) => elements.filter((el) => el.matches(sel)),
  });

  const win = new Emitter();
  Object.assign(win, {
    document,
    location,
    history: {
      pushState(_s, _t, to) {
        go(to);
      },
      replaceState(_s, _t, to) {
        if (to !== undefined) go(to);
      },
    },
    navigator: Object.assign(
      {
        language: 'en-GB',
        sendBeacon(u, blob) {
          if (opts.noBeacon) return false;
          sent.push({ url: u, via: 'beacon', type: blob.type, body: JSON.parse(blob.parts.join('')) });
          return true;
        },
      },
      opts.navigator || {}
    ),
    screen: { width: 1440, height: 900 },
    localStorage: new Storage(local),
    sessionStorage: new Storage(session),
    crypto: webcrypto,
    Blob: class {
      constructor(parts, o) {
        this.parts = parts;
        this.type = o && o.type;
      }
    },
    fetch(u, init = {}) {
      if (init.method === 'POST') {
        sent.push({ url: u, via: 'fetch', init, body: JSON.parse(init.body) });
        return Promise.resolve({ ok: true });
      }
      fetches.push(u);
      const reply = opts.config;
      return reply ? Promise.resolve({ ok: true, json: async () => reply }) : Promise.resolve({ ok: false });
    },
    console: { log: (...a) => logs.push(a), warn: (...a) => logs.push(a) },
    performance: { getEntriesByType: () => [] },
    setTimeout,
    setInterval: (fn, ms) => intervals.push({ fn, ms }),
    requestAnimationFrame: (fn) => setTimeout(fn, 0),
    HTMLFormElement: class {},
    URL,
    URLSearchParams,
    TextEncoder,
    Intl,
    JSON,
    Math,
    Date,
    Object,
    Array,
    String,
    Number,
    Uint8Array,
    Promise,
    parseInt,
    encodeURIComponent,
  });
  win.window = win;
  win.addEventListener = win.addEventListener.bind(win);
  if (opts.blockStorage) {
    Object.defineProperty(win, 'localStorage', { get() { throw new Error('SecurityError'); } });
    Object.defineProperty(win, 'sessionStorage', { get() { throw new Error('SecurityError'); } });
  }
  vm.createContext(win);
  vm.runInContext(BUNDLE, win);
  const settle = () => new Promise((r) => setTimeout(r, 5));
  const events = (name) => sent.filter((s) => s.url.endsWith('/track')).map((s) => s.body).filter((b) => !name || b.event === name);
  return { win, document, location, sent, logs, fetches, local, session, settle, events, go, intervals };
}
