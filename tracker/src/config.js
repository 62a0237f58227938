// The embed tag carries all configuration. `document.currentScript` is null when the
// script is injected by a tag manager after load, so fall back to a selector.
const tag = document.currentScript ||
  document.querySelector('script[data-token],script[src*="tracker.js"],script[src*="script.js?key="]');

export function attr(name) {
  return tag ? tag.getAttribute('data-' + name) : null;
}

// Presence turns a feature on (`data-track-clicks`, `="true"`, `=""`); "false"/"0" turn it off.
export function flag(name) {
  const v = attr(name);
  return v !== null && v !== 'false' && v !== '0';
}

const src = tag && tag.src ? new URL(tag.src, location.href) : null;

export const cfg = {
  token: attr('token') || (src && src.searchParams.get('key')) || '',
  api: (attr('api') || (src ? src.origin : location.origin)).replace(/\/+$/, ''),
  debug: flag('debug'),
  // Per the contract, local development only logs; tests and demos opt back in.
  dryRun: /^(localhost|127(\.\d+){3}|\[::1\])$/.test(location.hostname) && !flag('allow-localhost') && !flag('debug'),
  requireConsent: flag('require-consent'),
};

export function noop() {}

export function onReady(fn) {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', fn);
  else fn();
}
