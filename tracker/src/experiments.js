import { cfg, noop, onReady } from './config.js';
import { getJSON, setJSON } from './storage.js';
import { userId } from './identity.js';
import { track, state } from './events.js';
import { equalWeights, pickVariant } from './hash.js';

const assigned = {};
// Last known server config, cached so assignments made before this page's fetch returns
// agree with the server's weights.
let remote = null;

function configured(name) {
  const list = remote || getJSON('exp') || [];
  for (const e of list) {
    if (e && e.key === name && e.variants && e.variants.length) {
      return e.variants.map((v) => ({ key: String(v.key), weight: +v.weight }));
    }
  }
  return null;
}

export function experiment(name, variants) {
  if (!name) return null;
  name = String(name);
  if (name in assigned) return assigned[name];
  const list = configured(name) || (Array.isArray(variants) && variants.length ? equalWeights(variants) : []);
  const forced = new URLSearchParams(location.search).get('aa_variant_' + name);
  let variant = null;
  if (forced && (!list.length || list.some((v) => v.key === forced))) variant = forced;
  else if (list.length) variant = pickVariant(name, userId(), list);
  if (variant === null) return null;
  assigned[name] = variant;
  const props = { experiment: name, variant };
  if (variant === forced) props.forced = true;
  track('$experiment_exposure', props);
  return variant;
}

// <h1 data-aa-experiment="hero" data-aa-variant-b="Text for b">Text for control</h1>
// Without a server config the variants are "control" plus every data-aa-variant-* name.
function applyDeclarative() {
  for (const el of document.querySelectorAll('[data-aa-experiment]')) {
    const names = ['control'];
    for (const a of el.attributes) if (a.name.indexOf('data-aa-variant-') === 0) names.push(a.name.slice(16));
    const variant = experiment(el.getAttribute('data-aa-experiment'), names);
    const text = variant ? el.getAttribute('data-aa-variant-' + variant.toLowerCase()) : null;
    if (text !== null) el.textContent = text;
  }
  // Pages may hide experiment elements with `.aa-loading` until their text is final.
  document.documentElement.classList.remove('aa-loading');
}

export function initExperiments() {
  const ready = () => onReady(applyDeclarative);
  if (state.off || !cfg.token) return ready();
  fetch(cfg.api + '/experiments/config?token=' + encodeURIComponent(cfg.token), { credentials: 'omit' })
    .then((r) => (r.ok ? r.json() : null))
    .then((data) => {
      if (data && Array.isArray(data.experiments)) {
        remote = data.experiments;
        setJSON('exp', remote);
      }
    })
    .catch(noop)
    .then(ready);
}
