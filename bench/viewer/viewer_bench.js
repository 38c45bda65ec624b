/* Viewer benchmark: headless chromium shows the built-in page of a 1 kHz
 * realtime `hermes run` with 20 plotted signals (4 charts of 5) for 30 s.
 * Prints the telemetry frames the page handled in each second (target >= 59)
 * next to a reference measured in the same run (the frames/s a plain node
 * client with the same subscription receives), and the page's JS heap (after
 * a forced GC) at 5 s and at 30 s: bounded, since the store is allocated once
 * and old points leave the charts' window (10 s by default).
 * Asserts nothing; exit 77 when chromium or viewer/node_modules is missing.
 *
 * usage: node viewer_bench.js HERMES [BUILDTYPE] [SECONDS (30)] [WINDOW (10 s; 60, or 0: since open)]
 */
'use strict';

const path = require('path');
const H = require('../../tests/browser/harness');

const [hermesArg, buildtype = '?', secArg = '30', windowArg = '10'] = process.argv.slice(2);
const hermes = hermesArg && path.resolve(hermesArg);
const SECONDS = Math.max(6, Number(secArg) || 30);
const WINDOW = Number(windowArg) >= 0 ? Number(windowArg) : 10;   /* chart window: 10, 60 or 0 (since open) */
if (!hermesArg) {
  console.error('usage: node viewer_bench.js HERMES [BUILDTYPE] [SECONDS] [WINDOW]');
  process.exit(2);
}
const deps = H.loadDeps();
if (deps.missing) {
  console.log('viewer bench skipped: ' + deps.missing);
  process.exit(77);
}

async function heapMB(cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  const h = await cdp.send('Runtime.getHeapUsage');
  return h.usedSize / 1048576;
}

async function main() {
  let browser = null;
  let h = null;
  let client = null;
  let driver = null;
  const watchdog = setTimeout(() => { console.error('viewer bench: watchdog'); H.killAll(); process.exit(1); },
                              (SECONDS + 90) * 1000);
  try {
    h = await H.startHermes(hermes, [path.join(__dirname, 'viewer_bench.yaml'), '--port', '0']);
    const url = 'ws://127.0.0.1:' + h.port + '/';
    client = new H.Client(deps.WebSocket, url);
    const schema = await client.open();
    const all = [];
    for (const mod of Object.keys(schema.modules))
      for (const s of schema.modules[mod].signals)
        all.push(mod + '.' + s.name);
    /* The 14 plant signals and the first 6 hermes.* timing signals (there
     * are more of those, one per module among them). */
    const plant = all.filter((n) => n.startsWith('plant.'));
    const names = plant.concat(all.filter((n) => n.startsWith('hermes.')).slice(0, 6));
    if (plant.length !== 14 || names.length !== 20)
      throw new Error('expected 14 plant and at least 6 hermes signals, the schema has ' + all.join(', '));
    let refFrames = 0;
    const onFrame = client.onFrame.bind(client);
    client.onFrame = (b) => { refFrames++; onFrame(b); };
    await client.request('subscribe', { signals: ['hermes.*', 'plant.*'] });
    let k = 0;
    driver = setInterval(() => {
      client.request('set', { signal: 'plant.s00', value: Math.sin(k++ / 10) }).catch(() => {});
    }, 50);

    browser = await H.launchBrowser(deps.playwright);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto('http://127.0.0.1:' + h.port + '/');
    await page.waitForSelector('#conn[data-state="connected"]', { timeout: 10000 });
    await page.selectOption('#window', String(WINDOW));
    for (let i = 0; i < names.length; i++) {
      if (i > 0 && i % 5 === 0)
        await page.click('#btn-add-chart');
      await page.click('#tree li.sig[data-signal="' + names[i] + '"]');
    }
    await H.waitFor(async () => (await page.evaluate(() => window.hermesViewer.subscribed().length)) === 20,
                    10000, 'the page to subscribe to 20 signals');
    const cdp = await page.context().newCDPSession(page);

    /* Samples taken every second inside the page (performance.now) and in
     * node for the reference; rates use the measured time between samples. */
    await page.evaluate(() => {
      window.benchSamples = [[performance.now(), window.hermesViewer.framesHandled()]];
      setInterval(() => window.benchSamples.push([performance.now(), window.hermesViewer.framesHandled()]), 1000);
    });
    const ref = [[Date.now(), refFrames]];
    const refTimer = setInterval(() => ref.push([Date.now(), refFrames]), 1000);
    await H.sleep(5000);
    const heap5 = await heapMB(cdp);
    await H.sleep(SECONDS * 1000 - 5000 + 300);
    clearInterval(refTimer);
    const heapEnd = await heapMB(cdp);
    const samples = (await page.evaluate(() => window.benchSamples)).slice(0, SECONDS + 1);
    const rates = (a) => a.slice(1).map((x, i) => (x[1] - a[i][1]) / ((x[0] - a[i][0]) / 1000));
    const overall = (a) => (a[a.length - 1][1] - a[0][1]) / ((a[a.length - 1][0] - a[0][0]) / 1000);
    const perSec = rates(samples);
    const refPerSec = rates(ref.slice(0, SECONDS + 1));
    const points = await page.evaluate(() => window.hermesViewer.storePoints());
    const stats = await page.textContent('#st-stats');
    const sorted = perSec.slice().sort((x, y) => x - y);
    const secsBelow = perSec.filter((x) => x < 59).length;
    const f1 = (x) => x.toFixed(1);
    console.log('viewer bench: 1 kHz realtime run, telemetry 60 Hz, 20 plotted signals in 4 charts, window ' +
                (WINDOW ? WINDOW + ' s' : 'since open') + ', ' + SECONDS + ' s, build type ' + buildtype + ', chromium ' + browser.version() +
                ' (shared machine: other jobs may run)');
    console.log('page frames/s over ' + perSec.length + ' s: ' + f1(overall(samples)) + ' (per second: min ' +
                f1(sorted[0]) + ', median ' + f1(sorted[sorted.length >> 1]) + ', seconds below 59: ' + secsBelow +
                '/' + perSec.length + ')');
    console.log('reference, a node client with the same subscription in the same run: ' +
                f1(overall(ref.slice(0, SECONDS + 1))) + ' frames/s (per second: min ' + f1(Math.min(...refPerSec)) + ')');
    console.log('page frames/s per second: ' + perSec.map((x) => x.toFixed(0)).join(' '));
    console.log('page JS heap after GC: ' + heap5.toFixed(2) + ' MB at 5 s, ' + heapEnd.toFixed(2) + ' MB at ' +
                SECONDS + ' s (ratio ' + (heapEnd / heap5).toFixed(2) + '); points kept per signal: ' + points +
                ' (at most 8192, allocated at once; charts draw the points in their window)');
    console.log('page frames sent / dropped by the server (its stats): ' + stats);
    if (errors.length)
      console.log('page errors: ' + errors.join('; '));
  } finally {
    clearTimeout(watchdog);
    if (driver)
      clearInterval(driver);
    if (client)
      client.close();
    if (browser)
      await browser.close().catch(() => {});
    await H.stopHermes(h);
    H.killAll();
  }
}

main().catch((e) => { console.error(e.stack || e.message); H.killAll(); process.exit(1); });
