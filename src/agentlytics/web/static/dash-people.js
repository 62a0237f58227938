// People: the users list (POST /query by user), sessions (GET /sessions), one user's timeline
// (GET /events?user_id=) and the live view (GET /live, then SSE from GET /stream).

import {
  $, api, apiFilters, barList, body, ctx, empty, fmt, h, kpi, load, onStateChange, query, range, table,
} from './dashboard.js';

export function start(page) {
  if (page === 'users') startUsers();
  if (page === 'user') startUser();
  if (page === 'live') startLive();
}

/** e-mail > name > id, as everywhere in agentlytics. */
export const display = (who) => who.user_email || who.user_name || who.user_id || 'anonymous';

const userHref = (id) => `/p/${encodeURIComponent(ctx.project)}/user?${new URLSearchParams({ ...Object.fromEntries(new URLSearchParams(location.search)), id })}`;

/** Names of the people seen in the newest events of the range (GET /events), by resolved id. */
async function knownNames() {
  const names = new Map();
  try {
    const res = await api('/events', { params: { project: ctx.project, limit: 1000, ...range() } });
    for (const e of res.events) {
      const id = e.resolved_user_id || e.user_id;
      const seen = names.get(id) || {};
      names.set(id, { user_email: seen.user_email || e.user_email, user_name: seen.user_name || e.user_name });
    }
  } catch {
    // ids stand in for names
  }
  return names;
}

function userLink(id, names) {
  if (!id) return h('span', { class: 'muted' }, 'anonymous');
  const who = { user_id: id, ...(names.get(id) || {}) };
  return h('a', { href: userHref(id) }, display(who));
}

// users and sessions ------------------------------------------------------------------------

function startUsers() {
  const refresh = () => {
    const names = knownNames();
    load(body('users'), async () => {
      const res = await query({ metrics: ['event_count', 'session_count'], group_by: ['user_id'], filters: apiFilters(), order_by: 'event_count', limit: 100 });
      const known = await names;
      return table([
        { label: 'User', cell: (r) => userLink(r.user_id, known) },
        { label: 'Events', num: true, get: (r) => fmt.int(r.event_count) },
        { label: 'Sessions', num: true, get: (r) => fmt.int(r.session_count) },
      ], res.rows.filter((r) => r.user_id), 'Nobody in this range.');
    });
    load(body('sessions'), async () => {
      const res = await api('/sessions', { params: { project: ctx.project, limit: 50, ...range() } });
      const known = await names;
      return table([
        { label: 'Started', get: (r) => fmt.time(r.start_time) },
        { label: 'User', cell: (r) => userLink(r.user_id, known) },
        { label: 'Duration', num: true, get: (r) => fmt.duration(r.duration) },
        { label: 'Entry', get: (r) => r.entry_page },
        { label: 'Exit', get: (r) => r.exit_page },
        { label: 'Events', num: true, get: (r) => fmt.int(r.event_count) },
        { label: 'Bounce', get: (r) => (r.is_bounce ? 'yes' : '') },
      ], res.sessions, 'No sessions in this range.');
    });
    load(body('distribution'), async () => {
      const res = await api('/sessions/distribution', { params: { project: ctx.project, ...range() } });
      return [
        barList(res.distribution, { label: (r) => r.bucket, value: (r) => r.sessions, secondary: (r) => `${fmt.dec(r.pct)}%` }),
        res.total_sessions ? h('p', { class: 'muted small' }, `Median ${res.median_bucket}; ${fmt.dec(res.engaged_pct)}% engaged (30 s or more).`) : null,
      ];
    });
  };
  onStateChange(refresh);
  refresh();
}

function startUser() {
  const id = new URLSearchParams(location.search).get('id') || '';
  const refresh = () => {
    load(body('timeline'), async () => {
      if (!id) return empty('No user given.');
      const res = await api('/events', { params: { project: ctx.project, user_id: id, limit: 500, ...range() } });
      const first = res.events.find((e) => e.user_email) || res.events.find((e) => e.user_name) || {};
      $('#user-title').textContent = display({ user_id: id, ...first });
      const ids = [...new Set(res.events.map((e) => e.user_id).filter(Boolean))];
      $('#user-ids').textContent = ids.length ? `Ids: ${ids.join(', ')}` : '';
      if (!res.events.length) return empty('No events from this person in this range.');
      const sessions = new Map();
      for (const e of res.events) {
        const key = e.session_id || '(no session)';
        if (!sessions.has(key)) sessions.set(key, []);
        sessions.get(key).push(e);
      }
      return [...sessions].map(([sid, events]) => h('div', { class: 'session' },
        h('h3', {}, fmt.time(events[events.length - 1].timestamp), h('span', { class: 'muted small' }, ` session ${sid}`)),
        h('ol', { class: 'timeline' }, events.map((e) => h('li', {},
          h('time', { datetime: new Date(e.timestamp).toISOString() }, fmt.time(e.timestamp)), ' ',
          h('strong', {}, e.event), e.path ? h('span', { class: 'muted' }, ` ${e.path}`) : null,
          Object.keys(e.properties || {}).length ? h('code', { class: 'props' }, ` ${JSON.stringify(e.properties)}`) : null))),
      ));
    });
    load(body('user-sessions'), async () => {
      if (!id) return empty('No user given.');
      const res = await api('/sessions', { params: { project: ctx.project, user_id: id, limit: 100, ...range() } });
      return table([
        { label: 'Started', get: (r) => fmt.time(r.start_time) },
        { label: 'Duration', num: true, get: (r) => fmt.duration(r.duration) },
        { label: 'Entry', get: (r) => r.entry_page },
        { label: 'Events', num: true, get: (r) => fmt.int(r.event_count) },
      ], res.sessions, 'No sessions in this range.');
    });
  };
  onStateChange(refresh);
  refresh();
}

// live --------------------------------------------------------------------------------------

const FEED_MAX = 100;

/** The time of day for today's events, the date too for older ones (sent late, or replayed). */
function clock(ms) {
  const old = Date.now() - Number(ms) > 12 * 3600e3;
  return old ? fmt.time(ms) : new Date(Number(ms)).toLocaleTimeString('en-GB', { timeZone: ctx.tz });
}

function feedRow(e) {
  return h('li', { class: 'feed-row', dataset: { event: e.event } },
    h('time', { datetime: new Date(Number(e.timestamp)).toISOString() }, clock(e.timestamp)), ' ',
    h('strong', {}, e.event), e.path ? h('span', { class: 'muted' }, ` ${e.path}`) : null,
    h('span', { class: 'muted small' }, ` ${display(e)}${e.country ? ` · ${e.country}` : ''}`));
}

function startLive() {
  const feed = h('ol', { class: 'feed', id: 'live-feed', 'aria-live': 'polite' });
  const status = $('#live-status');
  const dot = $('#live-dot');
  let seen = 0;
  const ids = new Set();
  const snapshot = () => load(body('live-pages'), async () => {
    const res = await api('/live', { params: { project: ctx.project, window: 300 } });
    kpi('active_visitors', res.active_visitors, fmt.int(res.active_visitors));
    kpi('active_sessions', res.active_sessions, fmt.int(res.active_sessions));
    kpi('events_per_minute', res.events_per_minute, fmt.dec(res.events_per_minute));
    load(body('live-events'), async () => barList(res.top_events, { label: (r) => r.event, value: (r) => r.count, emptyText: 'No events in the last 5 minutes.' }));
    if (!seen) {
      for (const e of res.recent_events.slice(0, FEED_MAX)) { ids.add(e.id); feed.append(feedRow(e)); }
      seen = feed.children.length;
      if (!seen) feed.append(h('li', { class: 'muted empty' }, 'Waiting for events… open your site in another tab, or send one with curl (Settings shows how).'));
    }
    return barList(res.top_pages, { label: (r) => r.path, value: (r) => r.visitors, emptyText: 'No page views in the last 5 minutes.' });
  });
  body('feed').replaceChildren(feed);
  snapshot();
  const timer = setInterval(snapshot, 15000);
  const source = new EventSource(`/stream?${new URLSearchParams({ project: ctx.project })}`);
  source.addEventListener('connected', () => {
    status.textContent = 'Live: new events appear as they arrive.';
    dot.className = 'dot on';
  });
  source.addEventListener('track', (message) => {
    const e = JSON.parse(message.data);
    if (ids.has(e.id)) return;
    ids.add(e.id);
    if (!seen) feed.replaceChildren();
    seen += 1;
    const row = feedRow(e);
    row.classList.add('new');
    feed.prepend(row);
    while (feed.children.length > FEED_MAX) feed.lastChild.remove();
  });
  source.addEventListener('error', () => {
    status.textContent = source.readyState === EventSource.CLOSED ? 'Disconnected: reload the page.' : 'Reconnecting…';
    dot.className = 'dot';
  });
  window.addEventListener('pagehide', () => { source.close(); clearInterval(timer); });
}
