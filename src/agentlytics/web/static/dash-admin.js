// The projects list (sparklines), MCP servers (POST /query with the MCP metrics),
// experiments (GET /experiments…), bot traffic (GET /bot-traffic) and settings
// (PATCH /projects/{id}, /account/keys).

import {
  $, $$, addFilter, api, apiFilters, barList, body, change, compareLabel, compareRange, ctx, empty, fmt,
  h, kpi, load, onStateChange, query, range, table,
} from './dashboard.js';
import { lineChart, series, sparkline } from './dash-chart.js';

export function start(page) {
  ({ projects: startProjects, mcp: startMcp, experiments: startExperiments, bots: startBots, settings: startSettings })[page]();
}

// projects ----------------------------------------------------------------------------------

async function startProjects() {
  const spots = $$('[data-spark]');
  const next = async () => {
    const spot = spots.shift();
    if (!spot) return;
    const project = spot.dataset.spark;
    const range30 = { project, date_from: '30d' };
    try {
      const [daily, total] = await Promise.all([
        api('/query', { method: 'POST', json: { ...range30, metrics: ['unique_users'], group_by: ['date'], interval: 'day', order_by: 'date', order: 'asc', limit: 1000 } }),
        api('/query', { method: 'POST', json: { ...range30, metrics: ['unique_users'], limit: 1 } }),
      ]);
      const data = series(daily.rows, daily.period, 'day');
      spot.replaceChildren(sparkline(data.get('unique_users')));
      const visitors = (total.rows[0] || {}).unique_users || 0;
      const label = $(`[data-total="${CSS.escape(project)}"]`);
      label.dataset.value = String(visitors);
      label.textContent = `${fmt.int(visitors)} visitors in 30 days`;
    } catch (err) {
      spot.textContent = '!';
      spot.title = err.message;
    }
    await next();
  };
  await Promise.all([next(), next(), next(), next()]);
}

// MCP servers -------------------------------------------------------------------------------

const MCP_METRICS = ['call_count', 'error_count', 'error_rate', 'avg_latency_ms', 'p50_latency_ms', 'p95_latency_ms', 'p99_latency_ms'];
const MCP_CALL = { field: 'event', op: 'eq', value: '$mcp_call' };

function mcpTable(rows, dim, name) {
  return table([
    { label: name, cell: (r) => (r[dim] == null ? '(none)' : h('button', { type: 'button', class: 'link', onclick: () => addFilter(dim, r[dim]) }, r[dim])) },
    { label: 'Calls', num: true, get: (r) => fmt.int(r.call_count) },
    { label: 'Errors', num: true, get: (r) => fmt.pct(r.error_rate) },
    { label: 'p50', num: true, get: (r) => fmt.ms(r.p50_latency_ms) },
    { label: 'p95', num: true, get: (r) => fmt.ms(r.p95_latency_ms) },
    { label: 'p99', num: true, get: (r) => fmt.ms(r.p99_latency_ms) },
  ], rows, 'No calls in this range.');
}

function startMcp() {
  const refresh = async () => {
    const filters = [...apiFilters(), MCP_CALL];
    load(body('tools'), async () => mcpTable((await query({ metrics: MCP_METRICS, group_by: ['tool'], filters, order_by: 'call_count', limit: 100 })).rows, 'tool', 'Tool'));
    load(body('clients'), async () => {
      const res = await query({ metrics: ['call_count', 'error_rate'], group_by: ['client'], filters, order_by: 'call_count' });
      return barList(res.rows, { label: (r) => r.client, value: (r) => r.call_count, field: 'client', secondary: (r) => `${fmt.pct(r.error_rate)} errors` });
    });
    load(body('primitives'), async () => {
      const res = await query({ metrics: ['call_count'], group_by: ['primitive_type'], filters, order_by: 'call_count' });
      return barList(res.rows, { label: (r) => r.primitive_type, value: (r) => r.call_count, field: 'primitive_type' });
    });
    load(body('mcp-chart'), async () => {
      const interval = rangeInterval();
      const res = await query({ metrics: ['call_count', 'error_count'], group_by: ['date'], interval, filters, order_by: 'date', order: 'asc', limit: 1000 });
      const data = series(res.rows, res.period, interval);
      return lineChart(data.labels, [{ label: 'Calls', values: data.get('call_count') }, { label: 'Errors', values: data.get('error_count') }], { interval });
    });
    const cards = $('#kpis');
    cards.setAttribute('aria-busy', 'true');
    try {
      await mcpTotals(filters);
    } catch (err) {
      for (const key of ['call_count', 'error_rate', 'p50_latency_ms', 'p95_latency_ms', 'p99_latency_ms']) kpi(key, null, '!', { text: err.message, cls: 'error' });
    } finally {
      cards.removeAttribute('aria-busy');
    }
  };
  onStateChange(refresh);
  refresh();
}

async function mcpTotals(filters) {
  const totals = await query({ metrics: MCP_METRICS, filters, limit: 1 });
  const now = totals.rows[0] || {};
  const other = compareRange(totals.period);
  const before = other ? (await query({ metrics: MCP_METRICS, filters, limit: 1 }, other)).rows[0] || {} : null;
  const label = compareLabel();
  const cmp = (key, lower) => (before ? change(now[key], before[key] ?? 0, { lowerIsBetter: lower, label }) : null);
  kpi('call_count', now.call_count, fmt.int(now.call_count), cmp('call_count'));
  kpi('error_rate', now.error_rate, fmt.pct(now.error_rate), cmp('error_rate', true));
  for (const key of ['p50_latency_ms', 'p95_latency_ms', 'p99_latency_ms']) kpi(key, now[key], fmt.ms(now[key]), cmp(key, true));
  let empty = false;
  if (!Number(now.call_count || 0)) {
    const ever = await query({ metrics: ['call_count'], filters: [MCP_CALL], limit: 1 }, { date_from: '3650d' });
    empty = !Number((ever.rows[0] || {}).call_count || 0);
  }
  $('#mcp-empty').hidden = !empty;
}

function rangeInterval() {
  const r = range();
  return r.since === 'today' || r.since === '24h' ? 'hour' : r.since === '365d' ? 'week' : 'day';
}

// experiments -------------------------------------------------------------------------------

function experimentCard(report) {
  const results = report.results || {};
  const variants = results.variants || [];
  const best = results.probability_best || {};
  const lift = results.lift || {};
  return h('div', { class: 'experiment', dataset: { experiment: report.name } },
    h('h3', {}, report.name, h('span', { class: `badge ${report.status}` }, report.status)),
    h('p', { class: 'muted small' }, `Goal: ${report.goal_event}${report.winner ? ` · winner: ${report.winner}` : ''}`),
    table([
      { label: 'Variant', get: (r) => r.key },
      { label: 'Exposed', num: true, get: (r) => fmt.int(r.unique_users) },
      { label: 'Converted', num: true, get: (r) => fmt.int(r.conversions) },
      { label: 'Rate', num: true, get: (r) => fmt.pct(r.conversion_rate) },
      { label: 'Lift', num: true, get: (r) => (lift[r.key] == null ? '–' : fmt.pct(lift[r.key])) },
      { label: 'Probability best', num: true, cell: (r) => {
        const cell = h('span', { class: 'prob' }, h('span', { class: 'prob-fill' }), fmt.pct(best[r.key] || 0));
        cell.firstChild.style.width = `${100 * (best[r.key] || 0)}%`;
        return cell;
      } },
    ], variants, 'No exposures yet.'),
    h('p', { class: 'recommendation' }, h('strong', {}, 'Recommendation: '), String(results.recommendation || 'keep collecting data')),
    results.sufficient_data === false ? h('p', { class: 'muted small' }, 'Not enough data yet: about 100 exposures per variant are needed.') : null);
}

function startExperiments() {
  load(body('experiments'), async () => {
    const res = await api('/experiments', { params: { project: ctx.project } });
    if (!res.experiments.length) return empty('No experiments yet; the card below shows how to start one.');
    const reports = await Promise.all(res.experiments.map((e) => api(`/experiments/${encodeURIComponent(e.id)}`)));
    return reports.map(experimentCard);
  });
}

// bot traffic -------------------------------------------------------------------------------

const CATEGORY_NAMES = { ai_agent: 'AI agents', search_crawler: 'Search crawlers', social_preview: 'Link previews', monitoring_perf: 'Monitoring and audits' };

function startBots() {
  const refresh = () => load(body('bots-chart'), async () => {
    const res = await api('/bot-traffic', { params: { project: ctx.project, limit: 100, ...range() } });
    kpi('automated_requests', res.automated_requests, fmt.int(res.automated_requests));
    kpi('dropped_events', res.dropped_events, fmt.int(res.dropped_events));
    const categories = Object.entries(res.categories).map(([key, count]) => ({ key, count }));
    load(body('categories'), async () => barList(categories, { label: (r) => CATEGORY_NAMES[r.key] || r.key, value: (r) => r.count }));
    load(body('actors'), async () => table([
      { label: 'Actor', get: (r) => r.actor ?? r.name },
      { label: 'Category', get: (r) => CATEGORY_NAMES[r.category] || r.category },
      { label: 'Requests', num: true, get: (r) => fmt.int(r.count ?? r.requests) },
    ], res.actors, 'No automated traffic in this range: nothing was dropped.'));
    const labels = res.time_series.map((r) => r.date);
    return lineChart(labels, [{ label: 'Automated requests', values: res.time_series.map((r) => r.count) }]);
  });
  onStateChange(refresh);
  refresh();
}

// settings ----------------------------------------------------------------------------------

function startSettings() {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  $('#timezones').replaceChildren(...['UTC', ...zones].map((z) => h('option', { value: z })));
  const form = $('#project-form');
  const status = $('#project-status');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.textContent = 'Saving…';
    try {
      const res = await api(`/projects/${encodeURIComponent(ctx.projectId)}`, {
        method: 'PATCH', json: { allowed_origins: form.allowed_origins.value, timezone: form.timezone.value.trim() },
      });
      form.allowed_origins.value = res.allowed_origins;
      form.timezone.value = res.timezone;
      status.className = 'small ok';
      status.textContent = 'Saved.';
    } catch (err) {
      status.className = 'small error';
      status.textContent = `Not saved: ${err.message}`;
    }
  });
  const keyForm = $('#key-form');
  keyForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const made = await api('/account/keys', { method: 'POST', json: { name: keyForm.name.value.trim(), scope: keyForm.scope.value } });
    $('#new-key-value').textContent = made.api_key;
    $('#new-key').hidden = false;
    keyForm.reset();
    loadKeys();
  });
  $('#copy-key').addEventListener('click', async (event) => {
    try {
      await navigator.clipboard.writeText($('#new-key-value').textContent);
      event.currentTarget.textContent = 'Copied';
    } catch {
      event.currentTarget.textContent = 'Select and copy it by hand';
    }
  });
  loadKeys();
}

function loadKeys() {
  return load(body('keys'), async () => {
    const res = await api('/account/keys');
    const live = res.keys.filter((k) => !k.revoked_at);
    return table([
      { label: 'Name', get: (k) => k.name },
      { label: 'Key', get: (k) => k.prefix },
      { label: 'Scope', get: (k) => k.scope },
      { label: 'Created', get: (k) => fmt.time(k.created_at) },
      { label: '', cell: (k) => h('button', {
        type: 'button', class: 'small danger', dataset: { revoke: k.name },
        onclick: async () => {
          if (!window.confirm(`Revoke "${k.name}"? Scripts using it stop working at once.`)) return;
          await api(`/account/keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' });
          $('#new-key').hidden = true;
          loadKeys();
        },
      }, 'Revoke') },
    ], live, 'No API keys yet.');
  });
}
