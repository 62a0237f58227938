// The dashboard's entry point and the helpers every page module shares.
//
// Every number comes from the JSON API agents use (/query, /stats, /pages, /funnel, …),
// called with the signed-in session's cookie; state-changing calls repeat the page's CSRF
// token in X-CSRF-Token. Data reaches the page only through textContent (h() below).
// The view state (range, comparison, filters, interval) lives in the URL, so a link shares it.

const root = document.getElementById('dash');
const data = root ? root.dataset : {};

export const ctx = {
  page: data.page || '',
  project: data.project || '',
  projectId: data.projectId || '',
  tz: data.tz || 'UTC',
  writeKey: data.writeKey || '',
  baseUrl: data.baseUrl || location.origin,
  csrf: data.csrf || '',
  charts: data.charts === '1' && typeof window.uPlot === 'function',
};

// DOM ---------------------------------------------------------------------------------------

/** An element; string children become text nodes (never parsed as HTML). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (selector, scope = document) => scope.querySelector(selector);
export const $$ = (selector, scope = document) => [...scope.querySelectorAll(selector)];
export const body = (id) => $(`[data-body="${id}"]`);

// formatting --------------------------------------------------------------------------------

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export const fmt = {
  int: (n) => intFmt.format(Number(n || 0)),
  dec: (n) => decFmt.format(Number(n || 0)),
  pct: (rate) => `${decFmt.format(Number(rate || 0) * 100)}%`,
  ms: (n) => (n == null ? '–' : `${intFmt.format(Number(n))} ms`),
  duration(seconds) {
    const s = Math.round(Number(seconds || 0));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  },
  time(ms) {
    return new Date(Number(ms)).toLocaleString('en-GB', { timeZone: ctx.tz, dateStyle: 'medium', timeStyle: 'medium' });
  },
};

// the JSON API ------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, payload) {
    super((payload && payload.message) || `the server answered ${status}`);
    this.status = status;
    this.code = payload && payload.error;
  }
}

export async function api(path, { method = 'GET', params, json } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value != null && value !== '') url.searchParams.set(key, value);
  }
  const headers = { Accept: 'application/json' };
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = ctx.csrf;
  const res = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const type = res.headers.get('content-type') || '';
  const payload = type.includes('json') ? await res.json() : null;
  if (!res.ok) throw new ApiError(res.status, payload);
  return payload;
}

/** POST /query for this project: metrics by group_by over the current range and filters. */
export function query(spec, range = queryRange()) {
  return api('/query', { method: 'POST', json: { project: ctx.project, limit: 10, ...range, ...spec } });
}

// view state in the URL ---------------------------------------------------------------------

export const PERIODS = { today: 'today', '24h': '24h', '7d': '7d', '30d': '30d', '90d': '90d', '12mo': '365d' };
const COMPARES = ['previous', 'year', 'none'];
const INTERVALS = ['hour', 'day', 'week'];
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function parseFilter(text) {
  const match = /^([A-Za-z0-9_$.-]+):(eq|neq|contains|not_contains|gt|lt|gte|lte):(.*)$/s.exec(text || '');
  return match ? { field: match[1], op: match[2], value: match[3] } : null;
}

export const filterText = (f) => `${f.field}:${f.op}:${f.value}`;

export function state() {
  const q = new URLSearchParams(location.search);
  let period = q.get('period') || '7d';
  const from = q.get('from') || '';
  const to = q.get('to') || '';
  if (period === 'custom' ? !(DATE.test(from) && DATE.test(to) && from <= to) : !(period in PERIODS)) period = '7d';
  return {
    period,
    from,
    to,
    compare: COMPARES.includes(q.get('compare')) ? q.get('compare') : 'previous',
    interval: INTERVALS.includes(q.get('interval')) ? q.get('interval') : null,
    filters: q.getAll('filters').map(parseFilter).filter(Boolean),
  };
}

/** The ?since=&until= of the GET endpoints. */
export function range(s = state()) {
  return s.period === 'custom' ? { since: s.from, until: s.to } : { since: PERIODS[s.period] };
}

/** The date_from/date_to of POST /query. */
export function queryRange(s = state()) {
  const r = range(s);
  return { date_from: r.since, date_to: r.until };
}

/** Length of the range in days (custom ranges include their last day). */
export function rangeDays(s = state()) {
  if (s.period === 'custom') return (Date.parse(s.to) - Date.parse(s.from)) / 86400000 + 1;
  return { today: 1, '24h': 1, '7d': 7, '30d': 30, '90d': 90, '12mo': 365 }[s.period];
}

/** The comparison range for POST /query, from the period the main answer reports. */
export function compareRange(period, mode = state().compare) {
  if (mode === 'none') return null;
  const from = Date.parse(period.from);
  const to = Date.parse(period.to);
  const shift = mode === 'year' ? 365 * 86400e3 : to - from;
  return { date_from: new Date(from - shift).toISOString(), date_to: new Date(to - shift).toISOString() };
}

export const compareLabel = () => (state().compare === 'year' ? 'last year' : 'previous period');

export const apiFilters = (s = state()) => s.filters.map((f) => ({ field: f.field, op: f.op, value: f.value }));

const listeners = [];
export const onStateChange = (fn) => listeners.push(fn);

/** Change the view state: the URL first (so it can be shared), then every panel. */
export function setState(patch) {
  const next = { ...state(), ...patch };
  const q = new URLSearchParams(location.search);
  for (const key of ['period', 'from', 'to', 'compare', 'interval', 'filters']) q.delete(key);
  if (next.period !== '7d') q.set('period', next.period);
  if (next.period === 'custom') { q.set('from', next.from); q.set('to', next.to); }
  if (next.compare !== 'previous') q.set('compare', next.compare);
  if (next.interval) q.set('interval', next.interval);
  for (const f of next.filters) q.append('filters', filterText(f));
  const search = q.toString();
  history.pushState(null, '', `${location.pathname}${search ? `?${search}` : ''}${location.hash}`);
  changed();
}

export function addFilter(field, value, op = 'eq') {
  const filters = state().filters.filter((f) => !(f.field === field && f.op === op && f.value === value));
  setState({ filters: [...filters, { field, op, value: String(value) }] });
}

function changed() {
  syncControls();
  for (const fn of listeners) fn(state());
}

window.addEventListener('popstate', changed);

// the filter bar ----------------------------------------------------------------------------

const FIELD_NAMES = {
  path: 'Page', referrer: 'Referrer', utm_source: 'UTM source', utm_campaign: 'UTM campaign',
  country: 'Country', browser: 'Browser', os: 'OS', device: 'Device', event: 'Event',
  tool: 'Tool', client: 'Client', user_id: 'User',
};
const OPS = { eq: 'is', neq: 'is not', contains: 'contains', not_contains: 'does not contain', gt: '>', lt: '<', gte: '≥', lte: '≤' };

export const fieldName = (field) => FIELD_NAMES[field] || field.replace(/^properties\./, '');

function syncControls() {
  const s = state();
  const form = $('#filterbar');
  for (const a of $$('a[data-nav], a[data-nav-live]')) {
    a.href = `${new URL(a.href, location.origin).pathname}${location.search}`;
  }
  const unfiltered = $('#unfiltered');
  if (unfiltered) unfiltered.hidden = !(s.filters.length && (!form || form.dataset.filters !== '1'));
  if (!form) return;
  form.period.value = s.period;
  $('.custom', form).hidden = s.period !== 'custom';
  form.from.value = s.from;
  form.to.value = s.to;
  if (form.compare) form.compare.value = s.compare;
  const chips = $('#chips');
  const applies = form.dataset.filters === '1';
  chips.replaceChildren(...s.filters.map((f, i) => h('span', { class: `chip${applies ? '' : ' off'}`, dataset: { filter: filterText(f) } },
    `${fieldName(f.field)} ${OPS[f.op]} `, h('strong', {}, f.value || '(empty)'),
    h('button', {
      type: 'button', class: 'chip-x', 'aria-label': `Remove filter ${fieldName(f.field)} ${f.value}`,
      onclick: () => setState({ filters: s.filters.filter((_, j) => j !== i) }),
    }, '×'))));
}

function initFilterBar() {
  const form = $('#filterbar');
  syncControls();
  if (!form) return;
  form.period.addEventListener('change', () => {
    if (form.period.value === 'custom') {
      $('.custom', form).hidden = false;
      const today = new Date().toISOString().slice(0, 10);
      form.to.value ||= today;
      form.from.value ||= new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10);
      return;
    }
    setState({ period: form.period.value, interval: null });
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (form.period.value === 'custom' && form.from.value && form.to.value) {
      const [from, to] = [form.from.value, form.to.value].sort();
      setState({ period: 'custom', from, to, interval: null });
    }
  });
  if (form.compare) form.compare.addEventListener('change', () => setState({ compare: form.compare.value }));
  $('#share').addEventListener('click', async (event) => {
    const button = event.currentTarget;
    try {
      await navigator.clipboard.writeText(location.href);
      button.textContent = 'Link copied';
    } catch {
      button.textContent = 'Copy the address bar';
    }
    setTimeout(() => { button.textContent = 'Copy link'; }, 2000);
  });
}

// panels ------------------------------------------------------------------------------------

/** Fill a panel from an async builder, with a loading state, a slow-query note and errors. */
export async function load(el, build) {
  if (!el) return;
  const token = (el.loadToken = (el.loadToken || 0) + 1);
  const note = h('p', { class: 'muted loading-note' }, 'Loading…');
  el.setAttribute('aria-busy', 'true');
  el.replaceChildren(note);
  const slow = setTimeout(() => {
    note.textContent = 'Still working: this is a slow query. A shorter date range answers faster.';
  }, 2500);
  try {
    const content = await build();
    if (el.loadToken === token) el.replaceChildren(...[content].flat().filter(Boolean));
  } catch (err) {
    if (el.loadToken === token) el.replaceChildren(h('p', { class: 'error', role: 'alert' }, errorText(err)));
  } finally {
    clearTimeout(slow);
    if (el.loadToken === token) el.removeAttribute('aria-busy');
  }
}

export function errorText(err) {
  if (err instanceof ApiError && err.status === 401) return 'Your session has ended: sign in again.';
  return `Could not load this: ${err.message}`;
}

export const empty = (text) => h('p', { class: 'muted empty' }, text);

/** Rows as labelled bars; a row with a value becomes a button that adds a filter on `field`. */
export function barList(rows, { label, value, format = fmt.int, field, secondary, none = '(none)', emptyText = 'Nothing in this range.' }) {
  if (!rows.length) return empty(emptyText);
  const max = Math.max(...rows.map((r) => Number(value(r)) || 0), 1);
  return h('ul', { class: 'bars' }, rows.map((row) => {
    const name = label(row);
    const text = name == null || name === '' ? none : String(name);
    const width = `${(100 * (Number(value(row)) || 0)) / max}%`;
    const nameEl = field && name != null && name !== ''
      ? h('button', { type: 'button', class: 'bar-name', title: `Filter: ${fieldName(field)} is ${text}`, onclick: () => addFilter(field, name) }, text)
      : h('span', { class: 'bar-name' }, text);
    const li = h('li', { class: 'bar-row', dataset: { value: text } },
      h('span', { class: 'bar-fill' }), nameEl,
      secondary ? h('span', { class: 'bar-sub muted' }, secondary(row)) : null,
      h('span', { class: 'bar-num' }, format(value(row))));
    li.firstChild.style.width = width;
    return li;
  }));
}

/** A plain table; columns are {label, get, num?, cell?}. */
export function table(columns, rows, emptyText = 'Nothing in this range.') {
  if (!rows.length) return empty(emptyText);
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : null, scope: 'col' }, c.label)))),
    h('tbody', {}, rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.num ? 'num' : null },
      c.cell ? c.cell(row) : String(c.get(row) ?? '–'))))))));
}

export function kpi(key, value, text, change) {
  const card = $(`[data-kpi="${key}"]`);
  if (!card) return;
  card.dataset.value = value == null ? '' : String(value);
  $('.kpi-value', card).textContent = text;
  const el = $('.kpi-change', card);
  if (el) {
    el.textContent = change ? change.text : '';
    el.className = `kpi-change ${change ? change.cls : 'muted'}`;
  }
}

/** "+12% vs previous period", coloured by whether up is good. */
export function change(current, previous, { lowerIsBetter = false, label = 'previous period' } = {}) {
  if (previous == null) return null;
  const cur = Number(current || 0);
  const prev = Number(previous || 0);
  if (!prev) return { text: cur ? `new vs ${label}` : `no change vs ${label}`, cls: 'muted' };
  const pct = ((cur - prev) / prev) * 100;
  const good = lowerIsBetter ? pct < 0 : pct > 0;
  const sign = pct > 0 ? '+' : '';
  return { text: `${sign}${decFmt.format(pct)}% vs ${label}`, cls: Math.abs(pct) < 0.05 ? 'muted' : good ? 'up' : 'down' };
}

// start -------------------------------------------------------------------------------------

const PAGES = {
  projects: () => import('./dash-admin.js'),
  overview: () => import('./dash-overview.js'),
  funnels: () => import('./dash-reports.js'),
  retention: () => import('./dash-reports.js'),
  paths: () => import('./dash-reports.js'),
  live: () => import('./dash-people.js'),
  users: () => import('./dash-people.js'),
  user: () => import('./dash-people.js'),
  mcp: () => import('./dash-admin.js'),
  experiments: () => import('./dash-admin.js'),
  bots: () => import('./dash-admin.js'),
  settings: () => import('./dash-admin.js'),
};

async function start() {
  initFilterBar();
  const loader = PAGES[ctx.page];
  if (!loader) return;
  const mod = await loader();
  mod.start(ctx.page);
  root.dataset.ready = '1';
}

if (root) start();
