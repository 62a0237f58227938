import { get, set, getJSON, setJSON } from './storage.js';

const SESSION_TIMEOUT = 30 * 60 * 1000;
const UTM = ['source', 'medium', 'campaign', 'term', 'content'];

export function uuid() {
  try {
    return crypto.randomUUID();
  } catch {
    // randomUUID needs a secure context; plain-http sites still have getRandomValues.
    return '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
      (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)
    );
  }
}

export function visitorId() {
  let id = get('uid');
  if (!id) {
    id = uuid();
    set('uid', id);
  }
  return id;
}

export function userId() {
  return get('identified_uid') || visitorId();
}

export function traits() {
  return getJSON('traits') || {};
}

export function sessionAlive() {
  return !!get('sid') && Date.now() - (+get('last_activity') || 0) <= SESSION_TIMEOUT;
}

// Any active event counts as activity; after 30 idle minutes the next one starts a new
// session, whose UTM values come from its own landing URL. Passive events (heartbeats,
// page-exit metrics) report on the current session without extending or rotating it.
export function sessionId(passive) {
  let sid = get('sid');
  if (passive && sid) return sid;
  if (!sessionAlive()) {
    sid = uuid();
    set('sid', sid);
    set('utm', null);
    set('sc', (+get('sc') || 0) + 1);
  }
  if (!passive) set('last_activity', Date.now());
  return sid;
}

// UTM values from the URL replace the session's; otherwise the session keeps its landing values.
export function campaign() {
  const q = new URLSearchParams(location.search);
  const utm = {};
  let found = false;
  for (const k of UTM) {
    const v = q.get('utm_' + k);
    if (v) {
      utm['utm_' + k] = v.slice(0, 100);
      found = true;
    }
  }
  if (found) setJSON('utm', utm);
  return found ? utm : getJSON('utm') || {};
}

export function visitorProps(utm) {
  let fv = +get('fv');
  if (!fv) set('fv', (fv = Date.now()));
  let ft = getJSON('ft');
  if (!ft) setJSON('ft', (ft = Object.assign({ referrer: document.referrer }, utm)));
  const p = {
    session_count: +get('sc') || 1,
    days_since_first_visit: Math.floor((Date.now() - fv) / 864e5),
  };
  for (const k in ft) if (ft[k]) p['first_' + k] = ft[k];
  return p;
}
