import { cfg } from './config.js';
import { get, set, setJSON } from './storage.js';
import { uuid, visitorId, userId, traits, sessionId, campaign, visitorProps } from './identity.js';
import { deliver } from './consent.js';

const globals = {};
export const state = { off: false };

function isObject(v) {
  return v && typeof v === 'object' && !Array.isArray(v);
}

export function setGlobals(props) {
  if (!isObject(props)) return;
  for (const k in props) {
    if (props[k] == null) delete globals[k];
    else globals[k] = props[k];
  }
}

// `passive` marks events that are not visitor activity (heartbeats, page-exit metrics).
export function track(event, props, passive) {
  if (state.off || !event) return;
  const sid = sessionId(passive);
  const utm = campaign();
  const properties = Object.assign(
    {
      url: location.href,
      path: location.pathname,
      title: document.title,
      referrer: document.referrer,
      language: navigator.language || '',
      screen: screen.width + 'x' + screen.height,
      timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || '',
    },
    utm,
    visitorProps(utm),
    globals,
    isObject(props) ? props : {}
  );
  const t = traits();
  const body = {
    token: cfg.token,
    event: String(event).slice(0, 200),
    properties,
    user_id: userId(),
    anonymous_id: visitorId(),
    session_id: sid,
    timestamp: Date.now(),
    id: uuid(),
  };
  if (t.email) body.user_email = String(t.email);
  if (t.name) body.user_name = String(t.name);
  deliver('/track', body);
}

// Re-identifying as the same user is a no-op on the wire: /identify triggers a backfill.
// Traits belong to one user: a different id without traits drops the previous ones.
export function identify(id, newTraits) {
  if (id == null || id === '') return;
  id = String(id);
  const same = get('identified_uid') === id;
  if (isObject(newTraits)) {
    const t = {};
    for (const k of ['email', 'name']) if (newTraits[k]) t[k] = String(newTraits[k]).slice(0, 200);
    setJSON('traits', t);
  } else if (!same) set('traits', null);
  if (same) return;
  set('identified_uid', id);
  if (!state.off) deliver('/identify', { token: cfg.token, previous_id: visitorId(), user_id: id });
}

export function reset() {
  set('identified_uid', null);
  set('traits', null);
}
