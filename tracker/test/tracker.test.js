import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boot, Element } from './fake-browser.js';

const TOKEN = 'aat_test';
const attrs = (extra) => Object.assign({ 'data-token': TOKEN, 'data-project': 'site' }, extra);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('page view on load with the full context', async () => {
  const b = boot({ attrs: attrs() });
  await b.settle();
  const [pv, ...rest] = b.events();
  assert.equal(rest.length, 0);
  assert.equal(b.sent[0].url, 'https://analytics.example/track');
  assert.equal(b.sent[0].type, 'text/plain');
  assert.equal(pv.event, 'page_view');
  assert.equal(pv.token, TOKEN);
  const uid = b.local.get('aa_uid');
  assert.match(uid, UUID);
  assert.equal(pv.user_id, uid);
  assert.equal(pv.anonymous_id, uid);
  assert.equal(pv.session_id, b.session.get('aa_sid'));
  assert.match(pv.id, UUID);
  assert.ok(Math.abs(pv.timestamp - Date.now()) < 5000);
  const p = pv.properties;
  assert.equal(p.url, 'https://site.example/landing?utm_source=news&utm_campaign=launch');
  assert.equal(p.path, '/landing');
  assert.equal(p.title, 'Landing');
  assert.equal(p.referrer, 'https://search.example/?q=x');
  assert.equal(p.language, 'en-GB');
  assert.equal(p.screen, '1440x900');
  assert.equal(typeof p.timezone, 'string');
  assert.equal(p.utm_source, 'news');
  assert.equal(p.utm_campaign, 'launch');
  assert.equal(p.session_count, 1);
  assert.equal(p.first_referrer, 'https://search.example/?q=x');
  assert.equal(p.first_utm_source, 'news');
});

test('Convalytics embed: token from ?key=, API from the script origin, data-api overrides', async () => {
  const b = boot({ src: 'https://an.example:8443/script.js?key=wk_123' });
  await b.settle();
  assert.equal(b.sent[0].url, 'https://an.example:8443/track');
  assert.equal(b.events()[0].token, 'wk_123');
  const c = boot({ attrs: attrs({ 'data-api': 'https://api.example/v1/' }) });
  await c.settle();
  assert.equal(c.sent[0].url, 'https://api.example/v1/track');
});

test('SPA navigation: push, replace, hash, popstate, no duplicates', async () => {
  const b = boot({ attrs: attrs() });
  await b.settle();
  b.win.history.pushState({}, '', '/pricing');
  await b.settle();
  b.win.history.replaceState({ scroll: 1 }, '', '/pricing'); // same URL
  b.win.history.replaceState({}, '', '/pricing#plans'); // hash-only via history
  await b.settle();
  b.win.history.replaceState({}, '', '/pricing?tab=team');
  await b.settle();
  b.go('/pricing?tab=team#faq');
  b.win.dispatch('hashchange');
  b.win.dispatch('hashchange');
  b.go('/landing');
  b.win.dispatch('popstate');
  b.win.dispatch('hashchange');
  await b.settle();
  const paths = b.events('page_view').map((e) => e.properties.url.replace('https://site.example', ''));
  assert.deepEqual(paths, [
    '/landing?utm_source=news&utm_campaign=launch',
    '/pricing',
    '/pricing?tab=team',
    '/pricing?tab=team#faq',
    '/landing',
  ]);
  // UTM values persist for the session after navigating away from the landing URL.
  assert.equal(b.events('page_view')[4].properties.utm_source, 'news');
  // A push immediately followed by a redirect counts once.
  b.win.history.pushState({}, '', '/old');
  b.win.history.replaceState({}, '', '/new');
  await b.settle();
  assert.deepEqual(b.events('page_view').slice(5).map((e) => e.properties.path), ['/new']);
});

test('identify, reload, reset share one identity across aa and convalytics', async () => {
  const local = new Map();
  const session = new Map();
  const b = boot({ attrs: attrs(), local, session });
  await b.settle();
  const uid = local.get('aa_uid');
  b.win.convalytics.identify('user_7', { email: 'a@example.com', name: 'Ada' });
  const identify = b.sent.find((s) => s.url.endsWith('/identify'));
  assert.deepEqual(identify.body, { token: TOKEN, previous_id: uid, user_id: 'user_7' });
  b.win.aa.identify('user_7'); // same user: no second backfill request
  assert.equal(b.sent.filter((s) => s.url.endsWith('/identify')).length, 1);

  const r = boot({ attrs: attrs(), local, session, url: 'https://site.example/app' });
  await r.settle();
  const pv = r.events('page_view')[0];
  assert.equal(pv.user_id, 'user_7');
  assert.equal(pv.anonymous_id, uid);
  assert.equal(pv.user_email, 'a@example.com');
  assert.equal(pv.user_name, 'Ada');
  assert.equal(pv.session_id, b.events()[0].session_id);
  assert.equal(pv.properties.utm_source, 'news'); // same session

  r.win.convalytics.reset();
  r.win.aa.track('after_reset');
  const ev = r.events('after_reset')[0];
  assert.equal(ev.user_id, uid);
  assert.equal(ev.anonymous_id, uid);
  assert.equal(ev.user_email, undefined);
  assert.equal(local.get('aa_uid'), uid);
});

test('session times out after 30 idle minutes', async () => {
  const local = new Map();
  const session = new Map();
  const b = boot({ attrs: attrs(), local, session });
  await b.settle();
  const first = session.get('aa_sid');
  b.win.history.pushState({}, '', '/later');
  await b.settle();
  session.set('aa_last_activity', String(Date.now() - 31 * 60 * 1000));
  b.win.aa.track('later');
  const ev = b.events('later')[0];
  assert.notEqual(ev.session_id, first);
  assert.equal(ev.properties.session_count, 2);
  assert.equal(ev.properties.utm_source, undefined, 'a new session starts without the old UTM');
  assert.equal(ev.properties.first_utm_source, 'news', 'first touch is kept');
});

test('globals from aa.set, custom props win, public API never throws', async () => {
  const b = boot({ attrs: attrs() });
  await b.settle();
  b.win.aa.set({ plan: 'pro', path: 'ignored-by-props' });
  b.win.aa.track('signup', { path: '/custom', n: 1 });
  b.win.aa.set({ plan: null });
  b.win.aa.track('other');
  const [signup] = b.events('signup');
  assert.equal(signup.properties.plan, 'pro');
  assert.equal(signup.properties.path, '/custom');
  assert.equal(b.events('other')[0].properties.plan, undefined);
  assert.doesNotThrow(() => {
    b.win.aa.track();
    b.win.aa.track(null, 5);
    b.win.aa.identify();
    b.win.aa.set('x');
    b.win.aa.experiment();
    b.win.aa.page({});
    b.win.convalytics.identify('u', 'not-an-object');
  });
});

test('blocked storage: still sends, in-memory ids', async () => {
  const b = boot({ attrs: attrs(), blockStorage: true });
  await b.settle();
  const [pv] = b.events('page_view');
  assert.match(pv.anonymous_id, UUID);
  b.win.aa.track('x');
  assert.equal(b.events('x')[0].anonymous_id, pv.anonymous_id);
});

test('consent: buffer without storing, flush in batches of <= 100, revoke', async () => {
  const local = new Map();
  const session = new Map();
  const b = boot({ attrs: attrs({ 'data-require-consent': '' }), local, session });
  await b.settle();
  for (let i = 0; i < 149; i++) b.win.aa.track('click_' + i);
  b.win.aa.identify('user_1');
  assert.equal(b.sent.length, 0);
  assert.equal(local.size + session.size, 0, 'nothing stored before consent');
  b.win.aa.grantConsent();
  const batches = b.sent.filter((s) => s.url.endsWith('/track/batch'));
  assert.deepEqual(batches.map((s) => s.body.events.length), [100, 50]);
  assert.equal(batches[0].body.events[0].event, 'page_view');
  assert.equal(batches[0].body.token, TOKEN);
  assert.equal(b.sent.filter((s) => s.url.endsWith('/identify')).length, 1);
  assert.equal(local.get('aa_consent'), 'granted');
  assert.ok(local.get('aa_uid'));
  b.win.aa.track('direct');
  assert.equal(b.events('direct').length, 1);

  const r = boot({ attrs: attrs({ 'data-require-consent': '' }), local, session });
  await r.settle();
  assert.equal(r.events('page_view').length, 1, 'consent persists across loads');
  r.win.aa.revokeConsent();
  r.win.aa.track('after_revoke');
  assert.equal(r.events('after_revoke').length, 0);
  assert.equal(local.get('aa_consent'), 'denied');
  assert.equal(local.get('aa_uid'), undefined);
});

test('do-not-track and aa_disabled send nothing', async () => {
  const b = boot({ attrs: attrs({ 'data-do-not-track': 'true' }), navigator: { doNotTrack: '1' } });
  await b.settle();
  b.win.aa.track('x');
  b.win.convalytics.identify('u');
  assert.equal(b.sent.length, 0);
  assert.equal(b.local.size, 0);
  const gpc = boot({ attrs: attrs({ 'data-do-not-track': '' }), navigator: { globalPrivacyControl: true } });
  await gpc.settle();
  assert.equal(gpc.sent.length, 0);
  const ignored = boot({ attrs: attrs(), navigator: { doNotTrack: '1' } });
  await ignored.settle();
  assert.equal(ignored.sent.length, 1, 'DNT is opt-in through data-do-not-track');
  const off = boot({ attrs: attrs(), local: new Map([['aa_disabled', 'true']]) });
  await off.settle();
  assert.equal(off.sent.length, 0);
});

test('localhost logs instead of sending unless data-allow-localhost or data-debug', async () => {
  const dev = boot({ attrs: attrs(), url: 'http://127.0.0.1:8000/' });
  await dev.settle();
  assert.equal(dev.sent.length, 0);
  assert.equal(dev.logs[0][0], '[aa]');
  for (const flag of ['data-allow-localhost', 'data-debug']) {
    const b = boot({ attrs: attrs({ [flag]: '' }), url: 'http://localhost:8000/' });
    await b.settle();
    assert.equal(b.events('page_view').length, 1, flag);
  }
});

test('fetch keepalive fallback when sendBeacon refuses', async () => {
  const b = boot({ attrs: attrs(), noBeacon: true });
  await b.settle();
  const [s] = b.sent;
  assert.equal(s.via, 'fetch');
  assert.equal(s.init.keepalive, true);
  assert.equal(s.init.headers['Content-Type'], 'text/plain');
});

test('outgoing links, downloads, declarative events, clicks', async () => {
  const b = boot({
    attrs: attrs({
      'data-track-outgoing': '',
      'data-track-downloads': 'true',
      'data-track-clicks': '',
      'data-link-domains': 'docs.site.example, partner.example',
    }),
  });
  await b.settle();
  const click = (el) => b.document.dispatch('click', { target: el });
  const link = (href, extra = {}) => Object.assign(new Element('a', Object.assign({ href }, extra), null, 'Go'), { href });
  click(link('https://github.com/x/y'));
  click(link('https://docs.site.example/guide'));
  click(link('https://api.partner.example/z'));
  click(link('https://site.example/files/report.PDF'));
  click(link('https://site.example/export', { download: 'data.csv' }));
  const button = new Element('button', { 'data-aa-event': 'cta', 'data-aa-event-plan': 'pro' }, null, 'Buy');
  click(new Element('span', {}, button, 'Buy'));
  const out = b.events('outgoing_link');
  assert.deepEqual(out.map((e) => [e.properties.href, e.properties.host]), [['https://github.com/x/y', 'github.com']]);
  const dl = b.events('$download').map((e) => [e.properties.filename, e.properties.extension]);
  assert.deepEqual(dl, [['report.PDF', 'pdf'], ['data.csv', '']]);
  assert.deepEqual(b.events('cta').map((e) => e.properties.plan), ['pro']);
  assert.equal(b.events('$click').length, 5, 'links count as clicks; declarative elements do not');
});

test('experiments: forced variant, server config, equal split, declarative swap', async () => {
  const heading = new Element('h1', { 'data-aa-experiment': 'hero', 'data-aa-variant-b': 'Ship faster' }, null, 'Original');
  const b = boot({
    attrs: attrs(),
    url: 'https://site.example/?aa_variant_hero=b',
    elements: [heading],
    config: { experiments: [{ key: 'pricing', variants: [{ key: 'control', weight: 0 }, { key: 'annual', weight: 100 }] }] },
  });
  await b.settle();
  assert.deepEqual(b.fetches, ['https://analytics.example/experiments/config?token=aat_test']);
  assert.equal(heading.textContent, 'Ship faster');
  assert.equal(b.win.aa.experiment('pricing', ['control', 'monthly']), 'annual');
  assert.equal(b.win.aa.experiment('pricing'), 'annual');
  const exp = b.events('$experiment_exposure').map((e) => e.properties);
  assert.deepEqual(exp, [
    { ...exp[0], experiment: 'hero', variant: 'b', forced: true },
    { ...exp[1], experiment: 'pricing', variant: 'annual' },
  ]);
  const uid = b.local.get('aa_uid');
  const v = b.win.aa.experiment('cta', ['x', 'y']);
  const { pickVariant, equalWeights } = await import('../src/hash.js');
  assert.equal(v, pickVariant('cta', uid, equalWeights(['x', 'y'])));
  assert.equal(b.win.aa.experiment('unknown'), null);
});

test('experiment config failure falls back silently', async () => {
  const heading = new Element('h1', { 'data-aa-experiment': 'hero', 'data-aa-variant-b': 'B' }, null, 'A');
  const b = boot({ attrs: attrs(), elements: [heading] });
  await b.settle();
  assert.ok(['A', 'B'].includes(heading.textContent));
  assert.equal(b.events('$experiment_exposure').length, 1);
});

test('404 pages by meta tag or title', async () => {
  const meta = new Element('meta', { name: 'aa-404' });
  const b = boot({ attrs: attrs({ 'data-track-404': '' }), elements: [meta] });
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(b.events('$404').length, 1);
  const t = boot({ attrs: attrs({ 'data-track-404': '' }), title: 'Page not found' });
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(t.events('$404').length, 1);
  const ok = boot({ attrs: attrs({ 'data-track-404': '' }) });
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(ok.events('$404').length, 0);
});

test('scroll depth is sent once, for the page being left', async () => {
  const b = boot({ attrs: attrs({ 'data-track-scroll-depth': '' }) });
  b.win.innerHeight = 1000;
  b.win.scrollY = 0;
  await b.settle();
  b.win.scrollY = 600; // bottom at 1600 of 2000 = 80%
  b.win.dispatch('scroll');
  await b.settle();
  b.win.history.pushState({}, '', '/next');
  await b.settle();
  b.win.dispatch('pagehide');
  b.document.visibilityState = 'hidden';
  b.document.dispatch('visibilitychange');
  const depth = b.events('$scroll_depth').map((e) => [e.properties.path, e.properties.scroll_depth]);
  assert.deepEqual(depth, [['/landing', 75], ['/next', 75]]);
});

test('heartbeat: at least 15 s, only while visible, never extends the session', async () => {
  const b = boot({ attrs: attrs({ 'data-heartbeat': '5' }) });
  await b.settle();
  assert.equal(b.intervals.length, 1);
  assert.equal(b.intervals[0].ms, 15000);
  const last = b.session.get('aa_last_activity');
  b.intervals[0].fn();
  assert.deepEqual(b.events('$heartbeat').map((e) => e.properties.seconds), [15]);
  assert.equal(b.session.get('aa_last_activity'), last);
  b.document.visibilityState = 'hidden';
  b.intervals[0].fn();
  b.document.visibilityState = 'visible';
  b.session.set('aa_last_activity', String(Date.now() - 31 * 60 * 1000));
  b.intervals[0].fn();
  assert.equal(b.events('$heartbeat').length, 1);
});

test('form submissions carry the form identity, never field values', async () => {
  const b = boot({ attrs: attrs({ 'data-track-forms': '' }) });
  await b.settle();
  const form = Object.assign(new b.win.HTMLFormElement(), {
    getAttribute: (n) => ({ id: 'signup', name: 'signup_form', action: '/join', method: 'POST' })[n] || null,
    email: { value: 'secret@example.com' },
  });
  b.document.dispatch('submit', { target: form });
  const [ev] = b.events('$form_submit');
  assert.deepEqual(
    [ev.properties.id, ev.properties.name, ev.properties.action, ev.properties.method],
    ['signup', 'signup_form', '/join', 'post']
  );
  assert.ok(!JSON.stringify(ev).includes('secret'));
});

test('a different user without traits drops the previous traits', async () => {
  const b = boot({ attrs: attrs() });
  await b.settle();
  b.win.convalytics.identify('u1', { email: 'one@example.com' });
  b.win.aa.identify('u2');
  b.win.aa.track('x');
  const [ev] = b.events('x');
  assert.equal(ev.user_id, 'u2');
  assert.equal(ev.user_email, undefined);
});
