import { cfg, flag } from './config.js';
import { get, holdStorage } from './storage.js';
import { state, track, identify, reset, setGlobals } from './events.js';
import { initConsent, grantConsent, revokeConsent } from './consent.js';
import { pageview, initPageviews } from './pageviews.js';
import { initAutocapture } from './autocapture.js';
import { initMetrics } from './metrics.js';
import { experiment, initExperiments } from './experiments.js';

// Analytics must never throw into the page.
function safe(fn) {
  return function () {
    try {
      return fn.apply(null, arguments);
    } catch (e) {
      if (cfg.debug) console.warn('[aa]', e);
    }
  };
}

function privacySignal() {
  return navigator.doNotTrack === '1' || window.doNotTrack === '1' || navigator.globalPrivacyControl === true;
}

function init() {
  // `aa_disabled` lets site owners exclude their own browser: localStorage.aa_disabled = 'true'.
  state.off = (flag('do-not-track') && privacySignal()) || get('disabled') === 'true';
  initConsent();
  // With tracking off nothing is sent, so nothing needs to be remembered either.
  if (state.off) holdStorage(true);
  const api = { track: safe(track), identify: safe(identify) };
  window.aa = Object.assign({
    page: safe(pageview),
    set: safe(setGlobals),
    experiment: safe(experiment),
    grantConsent: safe(grantConsent),
    revokeConsent: safe(revokeConsent),
  }, api);
  // Convalytics' API over the same state: identify(userId, {email, name}) also sets traits.
  window.convalytics = Object.assign({ reset: safe(reset) }, api);
  if (state.off) return initExperiments();
  // Features subscribe to page changes before the first page view fires.
  initAutocapture();
  initMetrics();
  initPageviews();
  initExperiments();
}

// Guard against the snippet being included twice (e.g. /tracker.js and /script.js).
if (!window.aa || !window.aa.grantConsent) safe(init)();
