import { cfg } from './config.js';
import { get, set, holdStorage, clearStorage } from './storage.js';
import { post } from './transport.js';

const BATCH = 100;
const MAX_BUFFER = 1000;
let buffer = [];

function decision() {
  return get('consent');
}

export function initConsent() {
  const c = decision();
  holdStorage(c === 'denied' || (cfg.requireConsent && c !== 'granted'));
}

// Every request goes through here: sent, buffered until consent, or dropped after a revoke.
export function deliver(path, body) {
  const c = decision();
  if (c === 'denied') return;
  if (cfg.requireConsent && c !== 'granted') {
    if (buffer.length < MAX_BUFFER) buffer.push([path, body]);
    return;
  }
  post(path, body);
}

export function grantConsent() {
  set('consent', 'granted', true);
  holdStorage(false);
  const events = [];
  for (const [path, body] of buffer) {
    if (path === '/track') events.push(body);
    else post(path, body);
  }
  buffer = [];
  for (let i = 0; i < events.length; i += BATCH) {
    post('/track/batch', { token: cfg.token, events: events.slice(i, i + BATCH) });
  }
}

export function revokeConsent() {
  buffer = [];
  clearStorage();
  holdStorage(true);
  set('consent', 'denied', true);
}
