// The project overview: KPIs with a period comparison, the visitors chart, every breakdown,
// custom events and their top property values. All panels are POST /query calls carrying the
// URL's filters, except entry/exit pages (GET /pages, which takes a date range only).

import {
  $, $$, api, apiFilters, barList, body, change, compareLabel, compareRange, ctx, empty, fmt, h, kpi, load,
  onStateChange, query, queryRange, range, rangeDays, setState, state,
} from './dashboard.js';
import { lineChart, series } from './dash-chart.js';

const KPIS = [
  ['unique_users', fmt.int],
  ['pageviews', fmt.int],
  ['session_count', fmt.int],
  ['bounce_rate', fmt.pct, true],
  ['avg_duration', fmt.duration],
];
const BREAKDOWNS = [
  ['referrer', 'referrer'],
  ['utm_source', 'utm_source'],
  ['utm_campaign', 'utm_campaign'],
  ['country', 'country'],
  ['browser', 'browser'],
  ['os', 'os'],
  ['device', 'device'],
];
const NONE = { referrer: 'Direct / none', utm_source: '(no UTM source)', utm_campaign: '(no campaign)', country: '(unknown)' };
const PAGE_VIEW = { field: 'event', op: 'eq', value: 'page_view' };
let selectedEvent = null;

export function start() {
  for (const button of $$('[data-interval]')) {
    button.addEventListener('click', () => setState({ interval: button.dataset.interval }));
  }
  onStateChange(refresh);
  refresh();
}

function refresh() {
  const filters = apiFilters();
  loadKpis(filters);
  loadChart(filters);
  load(body('pages'), async () => {
    const res = await query({ metrics: ['pageviews', 'unique_users'], group_by: ['path'], filters: [...filters, PAGE_VIEW], order_by: 'pageviews' });
    return barList(res.rows, { label: (r) => r.path, value: (r) => r.pageviews, field: 'path', secondary: (r) => `${fmt.int(r.unique_users)} visitors` });
  });
  loadEntryExit();
  for (const [id, dim] of BREAKDOWNS) {
    load(body(id), async () => {
      const res = await query({ metrics: ['unique_users'], group_by: [dim], filters, order_by: 'unique_users' });
      return barList(res.rows, { label: (r) => r[dim], value: (r) => r.unique_users, field: dim, none: NONE[dim] });
    });
  }
  loadEvents(filters);
}

async function loadKpis(filters) {
  const cards = $('#kpis');
  cards.setAttribute('aria-busy', 'true');
  const metrics = [...KPIS.map(([key]) => key), 'event_count'];
  try {
    const now = await query({ metrics, filters, limit: 1 });
    const current = now.rows[0] || {};
    const other = compareRange(now.period);
    const before = other ? (await query({ metrics, filters, limit: 1 }, other)).rows[0] || {} : null;
    for (const [key, format, lowerIsBetter] of KPIS) {
      const previous = before ? before[key] ?? 0 : null;
      kpi(key, current[key] ?? 0, format(current[key]), change(current[key], previous, { lowerIsBetter, label: compareLabel() }));
    }
    await gettingStarted(Number(current.event_count || 0));
  } catch (err) {
    for (const [key] of KPIS) kpi(key, null, '!', { text: err.message, cls: 'error' });
  } finally {
    cards.removeAttribute('aria-busy');
  }
}

/** No events in the range: if none ever arrived either, show what to do next. */
async function gettingStarted(eventsInRange) {
  const card = $('#getting-started');
  if (eventsInRange > 0) { card.hidden = true; return; }
  const ever = await query({ metrics: ['event_count'], limit: 1 }, { date_from: '3650d' });
  card.hidden = Number((ever.rows[0] || {}).event_count || 0) > 0;
}

function defaultInterval() {
  const days = rangeDays();
  return days <= 2 ? 'hour' : days > 120 ? 'week' : 'day';
}

function loadChart(filters) {
  let interval = state().interval || defaultInterval();
  if (interval === 'hour' && rangeDays() > 31) interval = 'day';
  for (const button of $$('[data-interval]')) {
    button.setAttribute('aria-pressed', String(button.dataset.interval === interval));
    button.disabled = button.dataset.interval === 'hour' && rangeDays() > 31;
    button.title = button.disabled ? 'Hourly buckets are for ranges up to 31 days' : '';
  }
  load(body('chart'), async () => {
    const spec = { metrics: ['unique_users', 'pageviews'], group_by: ['date'], interval, filters, order_by: 'date', order: 'asc', limit: 1000 };
    const now = await query(spec);
    const data = series(now.rows, now.period, interval);
    const lines = [
      { label: 'Visitors', values: data.get('unique_users') },
      { label: 'Page views', values: data.get('pageviews') },
    ];
    const other = compareRange(now.period);
    if (other) {
      const before = await query(spec, other);
      const prev = series(before.rows, before.period, interval).get('unique_users');
      lines.push({ label: `Visitors, ${compareLabel()}`, values: data.labels.map((_, i) => prev[i] ?? 0), dash: true });
    }
    return lineChart(data.labels, lines, { interval });
  });
}

function loadEntryExit() {
  const bodies = [body('entry'), body('exit')];
  const answer = api('/pages', { params: { project: ctx.project, type: 'both', limit: 10, ...range() } });
  const pick = (key) => async () => {
    const rows = (await answer)[key];
    return barList(rows, {
      label: (r) => r.page, value: (r) => r.sessions, field: 'path',
      secondary: (r) => `${fmt.pct(r.bounce_rate)} bounce`,
    });
  };
  load(bodies[0], pick('entry_pages'));
  load(bodies[1], pick('exit_pages'));
}

function loadEvents(filters) {
  // page views have their own panels and MCP calls their own page
  const custom = [...filters, ...['page_view', '$mcp_call', '$mcp_session'].map((value) => ({ field: 'event', op: 'neq', value }))];
  const keysAnswer = api('/properties/received', { params: { project: ctx.project } }).catch(() => ({ events: [] }));
  load(body('events'), async () => {
    const res = await query({ metrics: ['event_count', 'unique_users'], group_by: ['event'], filters: custom, order_by: 'event_count', limit: 20 });
    if (!res.rows.length) {
      load(body('props'), async () => empty('No custom events in this range. Send one with track("signup") or POST /track.'));
      return empty('No custom events in this range.');
    }
    if (!res.rows.some((r) => r.event === selectedEvent)) selectedEvent = res.rows[0].event;
    showProps(selectedEvent, filters, keysAnswer);
    const list = barList(res.rows, {
      label: (r) => r.event, value: (r) => r.event_count, field: 'event',
      secondary: (r) => `${fmt.int(r.unique_users)} users`,
    });
    for (const li of $$('.bar-row', list)) {
      const name = li.dataset.value;
      li.append(h('button', {
        type: 'button', class: 'expand', 'aria-label': `Top property values of ${name}`,
        'aria-pressed': String(name === selectedEvent),
        onclick: () => {
          selectedEvent = name;
          for (const b of $$('.expand', list)) b.setAttribute('aria-pressed', String(b === li.lastChild));
          showProps(name, filters, keysAnswer);
        },
      }, '▸'));
    }
    return list;
  });
}

function showProps(eventName, filters, keysAnswer) {
  load(body('props'), async () => {
    const known = (await keysAnswer).events.find((e) => e.event === eventName);
    const keys = known ? known.property_keys.slice(0, 4) : [];
    const title = h('p', { class: 'small' }, 'Event ', h('strong', {}, eventName));
    if (!keys.length) return [title, empty('This event has no properties.')];
    const groups = await Promise.all(keys.map(async (key) => {
      const field = `properties.${key}`;
      const res = await query({
        metrics: ['event_count'], group_by: [field], limit: 5, order_by: 'event_count',
        filters: [...filters, { field: 'event', op: 'eq', value: eventName }],
      });
      return h('div', { class: 'prop-group', dataset: { key } }, h('h3', {}, key),
        barList(res.rows, { label: (r) => r[field], value: (r) => r.event_count, field, emptyText: 'No values.' }));
    }));
    return [title, ...groups];
  });
}

