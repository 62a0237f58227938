import { cfg, noop } from './config.js';

// A text/plain body is a CORS "simple" request: no preflight, so beacons survive unload.
export function post(path, body) {
  const url = cfg.api + path;
  const data = JSON.stringify(body);
  if (cfg.debug || cfg.dryRun) console.log('[aa]', path, body);
  if (cfg.dryRun) return;
  try {
    if (navigator.sendBeacon(url, new Blob([data], { type: 'text/plain' }))) return;
  } catch {
    // No sendBeacon, or its queue is full: fall through to fetch.
  }
  try {
    fetch(url, {
      method: 'POST',
      body: data,
      // Browsers refuse keepalive bodies over 64 KB; large consent flushes go without it.
      keepalive: data.length < 60000,
      credentials: 'omit',
      headers: { 'Content-Type': 'text/plain' },
    }).catch(noop);
  } catch {
    // Nothing left to try; analytics must never break the page.
  }
}
