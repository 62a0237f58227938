// Funnels (POST /funnel, saved ones via /funnels), retention (GET /retention) and paths
// (POST /paths).

import {
  $, $$, api, body, ctx, empty, fmt, h, load, onStateChange, range, rangeDays, table,
} from './dashboard.js';

export function start(page) {
  loadEventNames();
  if (page === 'funnels') startFunnels();
  if (page === 'retention') startRetention();
  if (page === 'paths') startPaths();
}

async function loadEventNames() {
  const list = $('#event-names');
  if (!list) return;
  try {
    const res = await api('/properties', { params: { project: ctx.project, since: '90d' } });
    list.replaceChildren(...res.events.map((e) => h('option', { value: e.event })));
  } catch {
    // suggestions only
  }
}

// funnels -----------------------------------------------------------------------------------

function stepRow(step = { kind: 'event', match: '' }) {
  const row = h('li', { class: 'step' },
    h('select', { 'aria-label': 'Step type', name: 'kind' },
      h('option', { value: 'event' }, 'Event'), h('option', { value: 'pageview' }, 'Page view of')),
    h('input', { type: 'text', name: 'match', required: true, list: 'event-names', 'aria-label': 'Event name or page path', placeholder: 'signup or /pricing' }),
    h('button', { type: 'button', class: 'small secondary', 'aria-label': 'Remove step', onclick: () => { if ($$('.step').length > 2) row.remove(); } }, '×'));
  $('select', row).value = step.kind;
  $('input', row).value = step.match;
  return row;
}

function readSteps() {
  return $$('#funnel-steps .step').map((row) => ({ kind: $('select', row).value, match: $('input', row).value.trim() }))
    .filter((s) => s.match);
}

function setSteps(steps) {
  const list = $('#funnel-steps');
  list.replaceChildren(...steps.map(stepRow));
  while ($$('.step', list).length < 2) list.append(stepRow());
}

function funnelChart(result) {
  const steps = result.steps || [];
  if (!steps.length || !steps[0].users) return empty('Nobody did the first step in this range.');
  const first = steps[0].users;
  const rows = steps.map((s, i) => {
    const kept = `${(100 * s.users) / first}%`;
    const lost = i ? steps[i - 1].users - s.users : 0;
    const li = h('li', { class: 'funnel-step', dataset: { step: s.step } },
      h('div', { class: 'funnel-label' }, h('strong', {}, `${s.step}. ${s.label || s.event}`),
        h('span', { class: 'muted' }, ` ${fmt.int(s.users)} people`)),
      h('div', { class: 'funnel-track' }, h('span', { class: 'funnel-bar' })),
      h('div', { class: 'funnel-nums small' },
        h('span', { class: 'conv' }, `${fmt.pct(s.conversion_from_start ?? s.users / first)} of step 1`),
        i ? h('span', { class: 'drop' }, ` · ${fmt.int(lost)} dropped off (${fmt.pct(s.drop_off_rate)} of step ${i})`) : null));
    $('.funnel-bar', li).style.width = kept;
    return li;
  });
  return [
    h('p', { class: 'funnel-overall' }, 'Overall conversion ', h('strong', { id: 'funnel-overall' }, fmt.pct(result.overall_conversion_rate)),
      h('span', { class: 'muted' }, ` · ${fmt.int(result.users_analyzed)} people analysed${result.users_capped ? ' (capped at 10 000)' : ''}`)),
    h('ol', { class: 'funnel' }, rows),
  ];
}

function runFunnel(steps, windowMs) {
  return load(body('funnel'), async () => {
    if (steps.length < 2) return empty('Add at least two steps.');
    const res = await api('/funnel', { method: 'POST', json: { project: ctx.project, steps, conversion_window_ms: windowMs, ...range() } });
    return funnelChart(res);
  });
}

function loadSaved() {
  return load(body('saved'), async () => {
    const res = await api('/funnels', { params: { project: ctx.project } });
    if (!res.funnels.length) return empty('No saved funnels yet: build one and press "Save funnel".');
    return h('ul', { class: 'plain' }, res.funnels.map((f) => h('li', { dataset: { funnel: f.name } },
      h('button', {
        type: 'button', class: 'link',
        onclick: () => {
          setSteps(f.steps);
          $('#funnel-name').value = f.name;
          $('#funnel-window').value = String(f.conversion_window_ms);
          runFunnel(f.steps, f.conversion_window_ms);
        },
      }, f.name),
      h('span', { class: 'muted small' }, ` ${f.steps.map((s) => s.label || s.match).join(' → ')}`),
      h('button', {
        type: 'button', class: 'link danger small', 'aria-label': `Delete ${f.name}`,
        onclick: async () => {
          await api(`/funnels/${encodeURIComponent(f.id)}`, { method: 'DELETE' });
          loadSaved();
        },
      }, 'delete'))));
  });
}

function startFunnels() {
  setSteps([{ kind: 'pageview', match: '/' }, { kind: 'event', match: '' }]);
  const form = $('#funnel-form');
  const status = $('#funnel-status');
  const windowMs = () => Number($('#funnel-window').value);
  $('#add-step').addEventListener('click', () => { if ($$('.step').length < 8) $('#funnel-steps').append(stepRow()); });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    runFunnel(readSteps(), windowMs());
  });
  $('#save-funnel').addEventListener('click', async () => {
    const name = $('#funnel-name').value.trim();
    if (!name) { status.textContent = 'Give the funnel a name first.'; return; }
    try {
      await api('/funnels', { method: 'POST', json: { project: ctx.project, name, steps: readSteps(), conversion_window_ms: windowMs() } });
      status.textContent = `Saved "${name}".`;
      loadSaved();
    } catch (err) {
      status.textContent = `Not saved: ${err.message}`;
    }
  });
  onStateChange(() => { if (readSteps().length >= 2) runFunnel(readSteps(), windowMs()); });
  loadSaved();
  load(body('funnel'), async () => empty('Pick the steps and press "Show conversion".'));
}

// retention ---------------------------------------------------------------------------------

function shade(rate) {
  const cell = h('td', { class: 'num heat' }, fmt.pct(rate));
  cell.style.setProperty('--heat', String(Math.round(Math.min(1, Math.max(0, rate)) * 100)));
  if (rate >= 0.5) cell.classList.add('hot');
  return cell;
}

function retentionGrid(res) {
  if (!res.cohorts.length || !res.users_analyzed) return empty('Nobody in these cohorts yet.');
  const unit = res.period;
  const width = Math.max(...res.cohorts.map((c) => c.rates.length));
  const head = h('tr', {}, h('th', { scope: 'col' }, 'Cohort'), h('th', { scope: 'col', class: 'num' }, 'People'),
    Array.from({ length: width }, (_, i) => h('th', { scope: 'col', class: 'num' }, `${unit[0].toUpperCase()}${unit.slice(1)} ${i}`)));
  const rows = res.cohorts.map((c) => h('tr', {}, h('th', { scope: 'row' }, c.date), h('td', { class: 'num' }, fmt.int(c.users)),
    c.rates.map((rate) => (c.users ? shade(rate) : h('td', { class: 'num muted' }, '–'))),
    Array.from({ length: width - c.rates.length }, () => h('td', {}))));
  const avg = h('tr', { class: 'avg' }, h('th', { scope: 'row' }, 'Average'), h('td', {}), res.average_rates.map((r) => shade(r)));
  return [
    h('div', { class: 'table-wrap' }, h('table', { class: 'retention' }, h('thead', {}, head), h('tbody', {}, rows, avg))),
    h('p', { class: 'muted small' }, `${fmt.int(res.users_analyzed)} people${res.users_capped ? ' (capped at 10 000)' : ''}; cohorts in ${res.timezone}.`),
  ];
}

// the report's own parameters live in the URL under ret_* (period= is the date range's)
const RETENTION_FIELDS = ['period', 'cohorts', 'event', 'returning_event'];

function startRetention() {
  const form = $('#retention-form');
  const q = new URLSearchParams(location.search);
  for (const name of RETENTION_FIELDS) if (q.get(`ret_${name}`)) form[name].value = q.get(`ret_${name}`);
  const show = () => load(body('retention'), async () => {
    const params = { project: ctx.project };
    for (const name of RETENTION_FIELDS) params[name] = form[name].value.trim();
    return retentionGrid(await api('/retention', { params }));
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams(location.search);
    for (const name of RETENTION_FIELDS) {
      if (form[name].value.trim()) next.set(`ret_${name}`, form[name].value.trim()); else next.delete(`ret_${name}`);
    }
    history.replaceState(null, '', `${location.pathname}?${next}`);
    show();
  });
  show();
}

// paths -------------------------------------------------------------------------------------

function pathsSince() {
  const days = rangeDays();
  return days <= 7 ? '7d' : days <= 14 ? '14d' : days <= 30 ? '30d' : '90d';
}

function pathsView(res) {
  if (!res.entries.length) return empty(`No sessions reached "${res.goal_event}" or dropped off on the way in this range.`);
  const note = h('p', { class: 'muted small' }, `${fmt.int(res.sessions_analyzed)} sessions over the last ${res.since}, ${fmt.int(res.conversions)} reached the goal.`);
  return [note, ...res.entries.map((entry) => h('div', { class: 'entry' },
    h('h3', {}, entry.entry_page, h('span', { class: 'muted small' }, ` ${fmt.int(entry.sessions)} sessions · ${fmt.pct(entry.conversion_rate)} converted`)),
    h('ul', { class: 'paths' }, entry.paths.map((p) => h('li', { class: `path ${p.outcome}` },
      h('span', { class: 'path-steps' }, p.steps.map((step, i) => [i ? h('span', { class: 'arrow' }, ' → ') : null, h('span', { class: 'step-chip' }, step)])),
      h('span', { class: 'outcome' }, p.outcome === 'goal' ? ` → ${res.goal_event}` : p.outcome === 'drop_off' ? ' · dropped off' : ' · …'),
      h('span', { class: 'muted small' }, ` ${fmt.int(p.sessions)} sessions`)))),
    entry.exit_pages.length ? table([
      { label: 'Exit page', get: (r) => r.page },
      { label: 'Sessions', num: true, get: (r) => fmt.int(r.sessions) },
      { label: 'Dropped off', num: true, get: (r) => fmt.int(r.drop_offs) },
    ], entry.exit_pages) : null))];
}

function startPaths() {
  const form = $('#paths-form');
  const q = new URLSearchParams(location.search);
  form.goal_event.value = q.get('goal') || '';
  const show = () => load(body('paths'), async () => {
    const goal = form.goal_event.value.trim();
    if (!goal) return empty('Name the goal event (for example signup) to see the paths that lead to it.');
    return pathsView(await api('/paths', { method: 'POST', json: { project: ctx.project, goal_event: goal, since: pathsSince() } }));
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams(location.search);
    next.set('goal', form.goal_event.value.trim());
    history.replaceState(null, '', `${location.pathname}?${next}`);
    show();
  });
  onStateChange(show);
  show();
}
