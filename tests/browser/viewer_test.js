/* The built-in viewer in a real browser (headless Debian chromium driven by
 * playwright-core) against real `hermes run` processes. TAP output; the plan
 * "1..0 # SKIP" only when chromium or viewer/node_modules is missing.
 *
 * usage: node viewer_test.js HERMES SCREENSHOT.png [BUILDTYPE]
 */
'use strict';

const path = require('path');
const H = require('./harness');

const [hermesArg, screenshot, buildType] = process.argv.slice(2);
if (!hermesArg || !screenshot) {
  console.error('usage: node viewer_test.js HERMES SCREENSHOT.png');
  process.exit(2);
}
const hermes = path.resolve(hermesArg);
const deps = H.loadDeps();
if (deps.missing) {
  console.log('1..0 # SKIP ' + deps.missing);   /* TAP: meson counts it as skipped */
  process.exit(0);
}

const CONFIG = path.join(__dirname, 'viewer.yaml');
const TOKEN_CONFIG = path.join(__dirname, 'viewer_token.yaml');
const OBSERVERS_CONFIG = path.join(__dirname, 'viewer_observers.yaml');
const TOKEN = 'viewer-test-token-0123456789abcdef';
const WAIT = 8000;           /* ms for any one condition in the page */

let n = 0;
let failed = 0;
function ok(cond, name, detail) {
  n++;
  console.log((cond ? 'ok ' : 'not ok ') + n + ' - ' + name);
  if (!cond) {
    failed++;
    if (detail)
      console.log('# ' + String(detail).split('\n').join('\n# '));
  }
}
async function step(name, fn) {
  try {
    await fn();
    ok(true, name);
  } catch (e) {
    ok(false, name, e.stack || e.message);
  }
}

const text = (page, sel) => page.textContent(sel, { timeout: WAIT });
const frameOf = async (page) => Number(await text(page, '#st-frame'));

/* A run of 20 modules x 5,000 f64 signals (m0.s0 .. m19.s4999, the last one
 * writable), realtime 50 Hz. */
async function startBig() {
  const big = path.join(require('os').tmpdir(), 'hermes-viewer-big-' + process.pid + '.yaml');
  const parts = ['version: "0.2"\nmodules:\n'];
  for (let m = 0; m < 20; m++) {
    parts.push('  m' + m + ':\n    type: injection\n    signals:\n');
    for (let i = 0; i < 5000; i++)
      parts.push('      - {name: s' + i + ', type: f64' + (m === 19 && i === 4999 ? ', writable: true' : '') + '}\n');
  }
  parts.push('execution:\n  mode: realtime\n  rate_hz: 50\nserver:\n  enabled: true\n');
  require('fs').writeFileSync(big, parts.join(''));
  try {
    return await H.startHermes(hermes, [big, '--port', '0'], null, 60000);
  } finally {
    require('fs').unlinkSync(big);
  }
}

/* Runs in the page before its own scripts. At the first schema (event
 * hermes-schema, sent once the page has applied it), as the next task: filter
 * on the last signal and check its row is laid out in the list; clear the
 * filter, scroll to the end, open the last module of 5,000 signals (its header
 * is there, the hermes module follows) and scroll to the end again; its last
 * signal must then be laid out inside the list's box. Leaves
 * window.hermesUsable = {timing, filtered, scrolled, rows, domRows} (times as
 * performance.now()) or {error}. */
function usableProbe(arg) {
  const inBox = (row, box) => {
    const r = row.getBoundingClientRect();
    const b = box.getBoundingClientRect();
    return r.height > 0 && r.top >= b.top - 1 && r.bottom <= b.bottom + 1;
  };
  const scrollEnd = (tree) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no scroll event')), 5000);
    tree.addEventListener('scroll', () => { clearTimeout(timer); resolve(); }, { once: true });
    tree.scrollTop = tree.scrollHeight;
  });
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  /* the next task: a MessageChannel message, not a timer (chromium defers
   * timers while a page loads; input, like this, is not deferred) */
  const next = (fn) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => fn();
    ch.port2.postMessage(0);
  };
  document.addEventListener('hermes-schema', () => {
    next(async () => {
      try {
        const start = performance.now();
        const tree = document.getElementById('tree');
        const filter = document.getElementById('filter');
        const sel = 'li.sig[data-signal="' + arg.last + '"]';
        filter.value = arg.last;
        filter.dispatchEvent(new Event('input'));
        const hit = tree.querySelector(sel);
        if (!hit || !inBox(hit, tree))
          throw new Error('the filter did not show ' + arg.last);
        const filtered = performance.now();
        filter.value = '';
        filter.dispatchEvent(new Event('input'));
        await scrollEnd(tree);
        const head = tree.querySelector('li.module[data-module="' + arg.mod + '"]');
        if (!head)
          throw new Error('no header of ' + arg.mod + ' at the end of the list');
        head.click();
        await scrollEnd(tree);
        const row = tree.querySelector(sel);
        if (!row || !inBox(row, tree))
          throw new Error(arg.last + ' not in view at the end of the list');
        await frame();
        const scrolled = performance.now();
        window.hermesUsable = { timing: window.hermesViewer.timing(), start, filtered, scrolled,
                                rows: Math.round(tree.scrollHeight / 22),
                                domRows: tree.querySelectorAll('li.row').length };
      } catch (e) {
        window.hermesUsable = { error: e.message };
      }
    });
  }, { once: true });
}

/* Scroll the signal list from the top, a page at a time, until sel is in the
 * DOM (only the rows in view are). */
async function scrollToRow(page, sel) {
  await page.$eval('#tree', (t) => { t.scrollTop = 0; });
  for (let i = 0; i < 200; i++) {
    if (await page.$(sel))
      return;
    const end = await page.$eval('#tree', (t) => {
      const before = t.scrollTop;
      t.scrollTop += t.clientHeight - 22;
      return t.scrollTop === before;
    });
    if (end)
      break;
    await H.sleep(20);
  }
  throw new Error('no row ' + sel + ' in the whole list');
}

/* Console errors, uncaught exceptions, failed and >= 400 requests of a page. */
function watch(page) {
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('exception: ' + e.message));
  page.on('requestfailed', (r) => problems.push('request failed: ' + r.url() + ' ' + (r.failure() || {}).errorText));
  page.on('response', (r) => { if (r.status() >= 400) problems.push('HTTP ' + r.status() + ': ' + r.url()); });
  return problems;
}

async function main() {
  let browser = null;
  let a = null;
  let b = null;
  let c = null;
  let client = null;
  const watchdog = setTimeout(() => {
    console.log('not ok ' + (n + 1) + ' - the whole test finished within 150 s');
    H.killAll();
    process.exit(1);
  }, 150000);
  try {
    a = await H.startHermes(hermes, [CONFIG, '--port', '0']);
    const base = 'http://127.0.0.1:' + a.port + '/';
    client = new H.Client(deps.WebSocket, 'ws://127.0.0.1:' + a.port + '/');
    const schema = await client.open();
    await client.request('subscribe', { signals: ['ctrl.*', 'plant.*'] });
    browser = await H.launchBrowser(deps.playwright);
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await ctx.newPage();
    const problems = watch(page);

    await step('page loads and connects', async () => {
      const res = await page.goto(base, { timeout: WAIT });
      if (res.status() !== 200)
        throw new Error('GET / answered ' + res.status());
      /* the page runs under the server's strict policy: no inline script */
      const csp = res.headers()['content-security-policy'] || '';
      if (!/default-src 'self'/.test(csp) || /unsafe-inline/.test(csp))
        throw new Error('Content-Security-Policy: ' + csp);
      const lic = await page.evaluate(async () => {
        const r = await fetch('uplot.LICENSE');
        return r.status + ' ' + r.headers.get('content-type') + ' ' + (await r.text()).slice(0, 40);
      });
      if (!/^200 text\/plain.*MIT/.test(lic))
        throw new Error('uplot.LICENSE: ' + lic);
      await page.waitForSelector('#conn[data-state="connected"]', { timeout: WAIT });
      const role = await text(page, '#role');
      if (!/controller/.test(role))
        throw new Error('role shown: ' + role);
    });

    await step('signal tree shows every module and signal of the schema, with units and types', async () => {
      for (const mod of Object.keys(schema.modules)) {
        await page.waitForSelector('#tree li.module[data-module="' + mod + '"]', { timeout: WAIT });
        for (const s of schema.modules[mod].signals) {
          const li = await page.$('#tree li.sig[data-signal="' + mod + '.' + s.name + '"]');
          if (!li)
            throw new Error('no row for ' + mod + '.' + s.name);
          const unit = await li.$eval('.unit', (e) => e.textContent);
          const type = await li.$eval('.type', (e) => e.textContent);
          if (unit !== (s.unit || '') || type !== s.type)
            throw new Error(mod + '.' + s.name + ': unit/type shown ' + unit + '/' + type);
        }
      }
      await page.fill('#filter', 'veloc');
      const visible = await page.$$eval('#tree li.sig', (ls) => ls.filter((l) => !l.hidden).map((l) => l.dataset.signal));
      if (visible.join() !== 'plant.velocity')
        throw new Error('filter "veloc" shows ' + visible.join());
      await page.fill('#filter', '');
    });

    await step('run state, frame, sim time, real-time factor and overruns are shown', async () => {
      await H.waitFor(async () => (await text(page, '#st-state')) === 'running', WAIT, 'state running');
      const f1 = await frameOf(page);
      await H.waitFor(async () => (await frameOf(page)) > f1, WAIT, 'the frame counter to advance');
      for (const id of ['#st-time', '#st-rtf', '#st-overruns'])
        await H.waitFor(async () => (await text(page, id)) !== '—', WAIT, id + ' to show a value');
      if (!/ s$/.test(await text(page, '#st-time')))
        throw new Error('sim time shown as ' + await text(page, '#st-time'));
    });

    await step('a plotted signal\'s chart updates and its readout matches the value set through the protocol', async () => {
      await page.click('#tree li.sig[data-signal="ctrl.throttle"]');
      await page.click('#tree li.sig[data-signal="plant.velocity"]');
      await page.waitForSelector('.chart[data-signals="ctrl.throttle plant.velocity"] canvas', { timeout: WAIT });
      await client.request('set', { signal: 'ctrl.throttle', value: 0.625 });
      await H.waitFor(async () => (await text(page, '#values td.val[data-signal="ctrl.throttle"]')) === '0.625',
                      WAIT, 'the readout of ctrl.throttle to show 0.625');
      await H.waitFor(async () => (await text(page, '#values td.val[data-signal="plant.velocity"]')) === '2.25',
                      WAIT, 'the readout of the wired plant.velocity to show 2.25');
      const c1 = (await page.evaluate(() => window.hermesViewer.charts()))[0];
      await H.waitFor(async () => {
        const c = (await page.evaluate(() => window.hermesViewer.charts()))[0];
        return c.points > c1.points && c.last[0] === 0.625 && c.last[1] === 2.25 && c;
      }, WAIT, 'the chart to gain points ending at 0.625 / 2.25');
      const subs = await page.evaluate(() => window.hermesViewer.subscribed());
      if (subs.includes('plant.position.x') || subs.includes('ctrl.gear') || !subs.includes('ctrl.throttle'))
        throw new Error('page subscribed to ' + subs.join(', '));
    });

    await step('pause stops the frame counter and resume restarts it', async () => {
      await page.click('#btn-pause');
      await H.waitFor(async () => (await text(page, '#st-state')) === 'paused', WAIT, 'state paused');
      await H.sleep(200);
      const f1 = await frameOf(page);
      await H.sleep(600);
      const f2 = await frameOf(page);
      if (f2 !== f1)
        throw new Error('paused frame moved from ' + f1 + ' to ' + f2);
      if (!client.latest || client.latest.frame !== f1)
        throw new Error('page frame ' + f1 + ', protocol frame ' + (client.latest && client.latest.frame));
      await page.click('#btn-resume');
      await H.waitFor(async () => (await text(page, '#st-state')) === 'running', WAIT, 'state running');
      await H.waitFor(async () => (await frameOf(page)) > f1 + 10, WAIT, 'the frame counter to move again');
    });

    await step('step 5 advances exactly 5 frames', async () => {
      await page.click('#btn-pause');
      await H.waitFor(async () => (await text(page, '#st-state')) === 'paused', WAIT, 'state paused');
      const f0 = await H.waitFor(async () => {
        const x = await frameOf(page);
        await H.sleep(250);
        return (await frameOf(page)) === x && client.latest.frame === x ? String(x) : false;
      }, WAIT, 'a steady frame').then(Number);
      await page.fill('#step-count', '5');
      await page.click('#btn-step');
      await H.waitFor(async () => (await frameOf(page)) === f0 + 5, WAIT, 'frame ' + (f0 + 5));
      await H.sleep(500);
      const f1 = await frameOf(page);
      if (f1 !== f0 + 5 || client.latest.frame !== f0 + 5)
        throw new Error('after step 5 from ' + f0 + ': page ' + f1 + ', protocol ' + client.latest.frame);
    });

    await step('a writable signal set from the page reaches the backplane', async () => {
      await page.click('#tree li.sig[data-signal="ctrl.gear"] button.add-table');
      await page.fill('#values tr[data-signal="ctrl.gear"] input', '3');
      await page.click('#values tr[data-signal="ctrl.gear"] button[type=submit]');
      await page.waitForSelector('#values tr[data-signal="ctrl.gear"] .set-status.ok', { timeout: WAIT });
      await H.waitFor(() => client.latest && client.latest.values['ctrl.gear'] === 3, WAIT,
                      'ctrl.gear = 3 in the test\'s own telemetry');
      await page.fill('#values tr[data-signal="ctrl.gear"] input', '2.5');
      await page.click('#values tr[data-signal="ctrl.gear"] button[type=submit]');
      const err = await H.waitFor(async () => {
        const s = await page.$('#values tr[data-signal="ctrl.gear"] .set-status.err');
        return s && s.textContent();
      }, WAIT, 'the error for 2.5 into an i32');
      if (!/does not fit/.test(err))
        throw new Error('error shown: ' + err);
      if (client.latest.values['ctrl.gear'] !== 3)
        throw new Error('ctrl.gear changed to ' + client.latest.values['ctrl.gear']);
    });

    await step('events and errors appear in the log; the client\'s own stats are shown', async () => {
      const log = await text(page, '#log');
      if (!/paused/.test(log) || !/does not fit/.test(log))
        throw new Error('log: ' + log.slice(0, 400));
      await H.waitFor(async () => /^\d+ \/ \d+$/.test(await text(page, '#st-stats')), WAIT, 'sent / dropped');
    });

    await step('screenshot saved', async () => {
      await page.click('#btn-resume');
      await page.click('#btn-add-chart');
      await page.click('#tree li.sig[data-signal="hermes.rtf"]');
      await page.click('#tree li.sig[data-signal="hermes.frame_time"]');
      for (const v of [0.2, 0.8, 0.4])
        await client.request('set', { signal: 'ctrl.throttle', value: v }).then(() => H.sleep(700));
      await page.screenshot({ path: screenshot, fullPage: true });
    });

    ok(problems.length === 0, 'no console error, exception or failed request while connected', problems.join('\n'));

    await step('memory is bounded: with ?points=64 a chart keeps at most 64 increasing times, the newest ones', async () => {
      const p = await ctx.newPage();
      await p.goto(base + '?points=64', { timeout: WAIT });
      await p.waitForSelector('#conn[data-state="connected"]', { timeout: WAIT });
      await p.selectOption('#window', '0');
      await p.click('#tree li.sig[data-signal="ctrl.throttle"]');
      const f0 = await frameOf(p);
      await H.waitFor(async () => (await frameOf(p)) > f0 + 300, WAIT, '3 s of frames');
      const c = (await p.evaluate(() => window.hermesViewer.charts()))[0];
      const t = c.times;
      const rising = t.every((x, i) => i === 0 || x > t[i - 1]);
      const newest = Number((await text(p, '#st-time')).replace(' s', ''));
      if (c.points > 64 || c.points < 40 || !rising || newest - t[t.length - 1] > 0.5 || t[t.length - 1] - t[0] < 2)
        throw new Error('points ' + c.points + ', rising ' + rising + ', times ' + t[0] + '..' + t[t.length - 1] +
                        ', page time ' + newest);
      if (c.last[0] !== 0.8 && c.last[0] !== 0.4 && c.last[0] !== 0.2)
        throw new Error('last value ' + c.last[0]);
      await p.close();
    });

    await step('the page reconnects by itself when the server restarts', async () => {
      client.close();
      client = null;
      const port = a.port;
      await H.stopHermes(a);
      await page.waitForSelector('#conn:not([data-state="connected"])', { timeout: WAIT });
      a = await H.startHermes(hermes, [CONFIG, '--port', String(port)]);
      await page.waitForSelector('#conn[data-state="connected"]', { timeout: 15000 });
      await H.waitFor(async () => (await text(page, '#st-state')) === 'running', WAIT, 'state running');
      const c = await page.$('.chart[data-signals="ctrl.throttle plant.velocity"]');
      if (!c)
        throw new Error('the plots were lost across the reconnect');
    });
    await H.stopHermes(a);
    a = null;

    /* ---- a server with a token and observers ---- */
    b = await H.startHermes(hermes, [OBSERVERS_CONFIG, '--port', '0'], { HERMES_AUTH_TOKEN: TOKEN });
    const tbase = 'http://127.0.0.1:' + b.port + '/';

    await step('an observer connection shows the controls disabled, with the reason', async () => {
      const p = await ctx.newPage();
      const probs = watch(p);
      await p.goto(tbase, { timeout: WAIT });
      await p.waitForSelector('#conn[data-state="connected"]', { timeout: WAIT });
      await H.waitFor(async () => /observer/.test(await text(p, '#role')), WAIT, 'role observer');
      for (const id of ['#btn-pause', '#btn-resume', '#btn-step', '#btn-reset'])
        if (!(await p.$eval(id, (e) => e.disabled)))
          throw new Error(id + ' is enabled for an observer');
      const reason = await text(p, '#control-reason');
      if (!/observer/.test(reason) || !/token/.test(reason))
        throw new Error('reason shown: ' + reason);
      await p.click('#tree li.sig[data-signal="ctrl.gear"] button.add-table');
      if (!(await p.$eval('#values tr[data-signal="ctrl.gear"] button[type=submit]', (e) => e.disabled)))
        throw new Error('the set button is enabled for an observer');
      await H.waitFor(async () => (await text(p, '#values td.val[data-signal="ctrl.gear"]')) === '1', WAIT,
                      'an observer to get telemetry');
      if (probs.length)
        throw new Error(probs.join('\n'));
      await p.close();
    });

    await step('a wrong token shows a clear message', async () => {
      const p = await ctx.newPage();
      const res = await p.goto(tbase + '?token=not-the-right-token-0000', { timeout: WAIT });
      if (res.status() === 200) {
        await p.waitForSelector('#conn[data-state="refused"]', { timeout: WAIT });
        const msg = await text(p, '#banner');
        if (!/wrong token/i.test(msg) || !(await p.isVisible('#banner')))
          throw new Error('banner: ' + msg);
        if (!/wrong token/.test(await text(p, '#conn')))
          throw new Error('connection badge: ' + await text(p, '#conn'));
      } else {
        /* the server refused the page itself: its answer must say why */
        const body = await p.textContent('body');
        if (res.status() !== 401 || !/token/i.test(body))
          throw new Error('GET with a wrong token: ' + res.status() + ' ' + body);
      }
      await p.close();
    });

    await H.stopHermes(b);
    b = null;

    /* ---- a token and no observers: the page must still load its files ---- */
    c = await H.startHermes(hermes, [TOKEN_CONFIG, '--port', '0'], { HERMES_AUTH_TOKEN: TOKEN });
    const cport = c.port;
    const cbase = 'http://127.0.0.1:' + cport + '/';
    const p = await ctx.newPage();

    await step('the right token gives a controller, and the page loads all its files', async () => {
      const probs = watch(p);
      await p.goto(cbase + '?token=' + TOKEN, { timeout: WAIT });
      await p.waitForSelector('#conn[data-state="connected"]', { timeout: WAIT });
      await H.waitFor(async () => /controller/.test(await text(p, '#role')), WAIT, 'role controller');
      await H.waitFor(async () => !(await p.$eval('#btn-pause', (e) => e.disabled)), WAIT, 'pause enabled');
      await p.click('#tree li.sig[data-signal="ctrl.throttle"]');
      await p.waitForSelector('.chart canvas', { timeout: WAIT });
      if (probs.length)
        throw new Error(probs.join('\n'));
    });

    await step('after a restart with another token the page says the token is wrong', async () => {
      await H.stopHermes(c);
      c = await H.startHermes(hermes, [TOKEN_CONFIG, '--port', String(cport)],
                              { HERMES_AUTH_TOKEN: TOKEN + 'X' });
      await p.waitForSelector('#conn[data-state="refused"]', { timeout: 15000 });
      const badge = await text(p, '#conn');
      const msg = await text(p, '#banner');
      if (!/wrong token/.test(badge) || !/[Ww]rong token/.test(msg) || !(await p.isVisible('#banner')))
        throw new Error('badge "' + badge + '", banner "' + msg + '"');
      if (!(await p.$eval('#btn-pause', (e) => e.disabled)))
        throw new Error('controls enabled while disconnected');
    });
    await p.close();
    await H.stopHermes(c);
    c = null;

    /* ---- a larger run: modules start closed, a filter opens them ---- */
    const big = path.join(require('os').tmpdir(), 'hermes-viewer-test-' + process.pid + '.yaml');
    let y = 'version: "0.2"\nmodules:\n';
    for (const m of ['ma', 'mb']) {
      y += '  ' + m + ':\n    type: injection\n    signals:\n';
      for (let i = 0; i < 200; i++)
        y += '      - {name: s' + i + ', type: f64}\n';
    }
    require('fs').writeFileSync(big, y + 'execution:\n  mode: realtime\n  rate_hz: 50\nserver:\n  enabled: true\n');
    try {
      c = await H.startHermes(hermes, [big, '--port', '0']);
    } finally {
      require('fs').unlinkSync(big);
    }
    await step('a large run: only the rows in view are in the DOM; folding, filter and keys work; clearing a filter gives back the closed modules', async () => {
      const q = await ctx.newPage();
      await q.goto('http://127.0.0.1:' + c.port + '/', { timeout: WAIT });
      await q.waitForSelector('#tree li.module[data-module="mb"]', { timeout: WAIT });
      const openMods = () => q.$$eval('#tree li.module', (ls) => ls.filter((l) => l.getAttribute('aria-expanded') === 'true' && l.dataset.module !== 'hermes').map((l) => l.dataset.module).join());
      const rowCount = () => q.$$eval('#tree li.row', (ls) => ls.length);
      if ((await openMods()) !== '')
        throw new Error('modules of 200 signals open at first: ' + await openMods());
      /* the user opens both: 400 signal rows in the list, only those in view in the DOM */
      await q.click('#tree li.module[data-module="mb"]', { timeout: WAIT });
      await q.click('#tree li.module[data-module="ma"]', { timeout: WAIT });
      if ((await openMods()) !== 'ma')   /* mb's header is now out of view: not in the DOM */
        throw new Error('open after two clicks: ' + await openMods());
      const inDom = await rowCount();
      if (inDom > 80 || inDom < 10)
        throw new Error(inDom + ' rows in the DOM for 403 rows in the list');
      /* scrolled to the end, the last row is there and the count stays bounded */
      await q.$eval('#tree', (t) => { t.scrollTop = t.scrollHeight; });
      await q.waitForSelector('#tree li.sig[data-signal="mb.s199"]', { timeout: WAIT });
      if ((await rowCount()) > 80)
        throw new Error((await rowCount()) + ' rows in the DOM at the end of the list');
      await scrollToRow(q, '#tree li.module[data-module="mb"]');
      await q.click('#tree li.module[data-module="mb"]', { timeout: WAIT });
      await q.$eval('#tree', (t) => { t.scrollTop = 0; });
      /* a filter opens the modules it finds signals in */
      await q.fill('#filter', 's199');
      const shown = await q.$$eval('#tree li.sig', (ls) => ls.map((l) => l.dataset.signal).join());
      if (shown !== 'ma.s199,mb.s199' || (await openMods()) !== 'ma,mb')
        throw new Error('filter s199 shows ' + shown + ', open: ' + await openMods());
      await q.fill('#filter', 's1990');
      if ((await rowCount()) !== 0)
        throw new Error((await rowCount()) + ' rows for a filter matching nothing');
      await q.fill('#filter', '');
      const after = await openMods();
      if (after !== 'ma')
        throw new Error('after clearing the filter open modules are "' + after + '", expected the user\'s "ma"');
      /* keys: down from the filter to the first signal, Enter plots, t tables */
      await q.fill('#filter', 'mb.s7');
      await q.press('#filter', 'ArrowDown');
      await q.keyboard.press('ArrowDown');
      await q.keyboard.press('Enter');
      await q.waitForSelector('#tree li.sig.plotted[data-signal="mb.s70"]', { timeout: WAIT });
      await q.keyboard.press('ArrowUp');
      await q.keyboard.press('t');
      await q.waitForSelector('#values tr[data-signal="mb.s7"]', { timeout: WAIT });
      await q.keyboard.press('Enter');
      await q.keyboard.press('Home');
      await q.keyboard.press('ArrowLeft');
      if ((await q.$$eval('#tree li.sig', (ls) => ls.length)) !== 0)
        throw new Error('ArrowLeft on the module header did not fold it');
      await q.keyboard.press('ArrowRight');
      await q.waitForSelector('#tree li.sig[data-signal="mb.s79"]', { timeout: WAIT });
      const subs = await q.evaluate(() => window.hermesViewer.subscribed());
      if (!subs.includes('mb.s70') || !subs.includes('mb.s7'))
        throw new Error('subscribed: ' + subs.join(', '));
      await q.fill('#filter', '');
      /* a click marks its row without walking the 400 rows of the tree */
      await q.evaluate(() => {
        window.rowsListed = 0;
        for (const proto of [Document.prototype, Element.prototype]) {
          const orig = proto.querySelectorAll;
          proto.querySelectorAll = function (sel) {
            const r = orig.call(this, sel);
            if (/li\.sig$/.test(sel))   /* every row, not the test's own .plotted query */
              window.rowsListed += r.length;
            return r;
          };
        }
      });
      const marked = () => q.$$eval('#tree li.sig.plotted', (ls) => ls.map((l) => l.dataset.signal).join());
      await q.click('#tree li.sig[data-signal="ma.s3"]');
      await H.waitFor(async () => (await marked()) === 'ma.s3', WAIT, 'ma.s3 marked plotted');
      await q.click('#tree li.sig[data-signal="ma.s3"]');
      await H.waitFor(async () => (await marked()) === '', WAIT, 'ma.s3 no longer marked');
      const listed = await q.evaluate(() => window.rowsListed);
      if (listed > 0)
        throw new Error('two clicks listed ' + listed + ' tree rows');
      /* what runs every drawn frame queries inside the values table, never
       * the whole document for buttons or inputs (each tree row has one) */
      const wide = await q.evaluate(async () => {
        const seen = new Set();
        const orig = Document.prototype.querySelectorAll;
        Document.prototype.querySelectorAll = function (sel) {
          if (/(^|[\s,>])(button|input)\b/.test(sel))
            seen.add(sel);
          return orig.call(this, sel);
        };
        await new Promise((r) => setTimeout(r, 1000));
        Document.prototype.querySelectorAll = orig;
        return [...seen].join(' | ');
      });
      if (wide)
        throw new Error('document-wide queries while running: ' + wide);
      await q.close();
    });
    await H.stopHermes(c);
    c = null;

    /* ---- 10^5 signals: the page is usable soon after the schema ---- */
    c = await startBig();
    await step('10^5 signals: the filter finds the last signal, a click subscribes it, its values arrive; schema to usable page printed', async () => {
      const last = 'm19.s4999';
      const q = await ctx.newPage();
      const probs = watch(q);
      await q.addInitScript(usableProbe, { last, mod: 'm19' });
      await q.goto('http://127.0.0.1:' + c.port + '/', { timeout: 30000 });
      const u = await H.waitFor(() => q.evaluate(() => window.hermesUsable), 60000, 'the page to be usable');
      if (u.error)
        throw new Error('in the page: ' + u.error);
      const t = u.timing;
      const ms = (x) => (x - t.received).toFixed(0);
      console.log('# 10^5 signals (' + u.rows + ' rows in the list, ' + u.domRows + ' in the DOM), ' +
                  (buildType || 'unknown') + ' build, chromium: schema message to usable page ' + ms(u.scrolled) +
                  ' ms (next task at ' + ms(u.start) + ' ms, filter "' + last + '" answered at ' + ms(u.filtered) + ' ms, module of 5,000 opened and list scrolled to its last row at ' +
                  ms(u.scrolled) + ' ms); reference in the same page: JSON.parse of the ' +
                  (t.bytes / 1e6).toFixed(2) + ' MB schema ' + (t.parsed - t.received).toFixed(0) + ' ms, signals mapped at ' + ms(t.mapped) + ' ms, list made at ' + ms(t.listed) + ' ms, schema applied at ' +
                  ms(t.applied) + ' ms');
      if (u.rows < 5020 || u.domRows > 100)   /* 20 headers, m19 open, hermes */
        throw new Error(u.rows + ' rows in the list, ' + u.domRows + ' in the DOM');
      /* the same by hand, through playwright */
      await q.fill('#filter', last);
      const shown = await q.$$eval('#tree li.sig', (ls) => ls.map((l) => l.dataset.signal).join());
      if (shown !== last)
        throw new Error('filter ' + last + ' shows ' + shown);
      await q.click('#tree li.sig[data-signal="' + last + '"]', { timeout: WAIT });
      await H.waitFor(() => q.evaluate((n) => window.hermesViewer.subscribed().includes(n), last), WAIT,
                      last + ' subscribed');
      const cl = new H.Client(deps.WebSocket, 'ws://127.0.0.1:' + c.port + '/');
      try {
        await cl.open(30000);
        await cl.request('set', { signal: last, value: 1.25 }, 10000);
      } finally {
        cl.close();
      }
      await H.waitFor(async () => (await text(q, '#values td.val[data-signal="' + last + '"]')) === '1.25',
                      WAIT, 'the readout of ' + last + ' to show 1.25');
      if (probs.length)
        throw new Error(probs.join('\n'));
      await q.close();
    });
  } catch (e) {
    ok(false, 'test setup', e.stack || e.message);
  } finally {
    clearTimeout(watchdog);
    if (client)
      client.close();
    if (browser)
      await browser.close().catch(() => {});
    await H.stopHermes(a);
    await H.stopHermes(b);
    await H.stopHermes(c);
    H.killAll();
  }
  console.log('1..' + n);
  process.exit(failed ? 1 : 0);
}

main();
