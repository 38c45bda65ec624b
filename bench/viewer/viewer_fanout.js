/* Fan-out with and without a viewer page (issue 9: "keep the server's fan-out
 * figures unchanged when a viewer is attached"). A realtime `hermes run` of
 * 1,000 signals (100 Hz, telemetry 60 Hz, config written like
 * bench/gen_config.py 1000 0 2) serves N bench_fanout_client connections
 * subscribed to 20 signals; the server's CPU (utime + stime from /proc over
 * the measure window) and the clients' rates are printed twice: alone, then
 * with one headless chromium page of the built-in viewer plotting 20 signals
 * in 4 charts. The first figure is the reference for the second, measured in
 * the same process on the same machine. Asserts nothing; exit 77 when chromium
 * or viewer/node_modules is missing.
 *
 * usage: node viewer_fanout.js HERMES BENCH_FANOUT_CLIENT [BUILDTYPE] [CLIENTS (200)] [SECONDS (10)]
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFile } = require('child_process');
const H = require('../../tests/browser/harness');

const [hermesArg, clientArg, buildtype = '?', nArg = '200', secArg = '10'] = process.argv.slice(2);
if (!hermesArg || !clientArg) {
  console.error('usage: node viewer_fanout.js HERMES BENCH_FANOUT_CLIENT [BUILDTYPE] [CLIENTS] [SECONDS]');
  process.exit(2);
}
const N = Math.max(1, Number(nArg) || 200);
const SECONDS = Math.max(3, Number(secArg) || 10);
const WARMUP = 3;
const deps = H.loadDeps();
if (deps.missing) {
  console.log('viewer fan-out bench skipped: ' + deps.missing);
  process.exit(77);
}

const SIGNALS = Array.from({ length: 20 }, (_, i) => 'm0.s' + i);

function writeConfig(file) {
  let y = 'version: "0.2"\nmodules:\n';
  for (let m = 0; m < 2; m++) {
    y += '  m' + m + ':\n    type: injection\n    signals:\n';
    for (let s = 0; s < 500; s++)
      y += '      - {name: s' + s + ', type: f64, unit: m' + (s >= 250 ? ', writable: true' : '') + ', initial: 0.5}\n';
  }
  y += 'execution:\n  mode: realtime\n  rate_hz: 100\n';
  y += 'server:\n  enabled: true\n  host: 127.0.0.1\n  telemetry_hz: 60\n  max_clients: ' + (N + 16) + '\n';
  fs.writeFileSync(file, y);
}

/* utime + stime of a process in seconds */
function cpuSeconds(pid) {
  const st = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;   /* fields 14 and 15; USER_HZ is 100 on Linux */
}

async function measure(hermes, withViewer) {
  const cfg = path.join(os.tmpdir(), 'hermes-viewer-fanout-' + process.pid + '.yaml');
  writeConfig(cfg);
  let h = null;
  let browser = null;
  try {
    h = await H.startHermes(hermes, [cfg, '--port', '0']);
    let page = null;
    if (withViewer) {
      browser = await H.launchBrowser(deps.playwright);
      page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
      await page.goto('http://127.0.0.1:' + h.port + '/');
      await page.waitForSelector('#conn[data-state="connected"]', { timeout: 30000 });
      await page.$eval('#tree details[data-module="m0"]', (d) => { d.open = true; });
      for (let i = 0; i < SIGNALS.length; i++) {
        if (i > 0 && i % 5 === 0)
          await page.click('#btn-add-chart');
        await page.click('#tree li.sig[data-signal="' + SIGNALS[i] + '"]');
      }
      await H.waitFor(async () => (await page.evaluate(() => window.hermesViewer.subscribed().filter((n) => n.startsWith('m0.')).length)) === 20,
                      10000, 'the page to subscribe to 20 signals');
    }
    const sub = JSON.stringify({ action: 'subscribe', params: { signals: SIGNALS } });
    const out = new Promise((resolve, reject) => {
      execFile(clientArg, [String(h.port), String(N), String(WARMUP), String(SECONDS), sub],
               { timeout: (WARMUP + SECONDS + 60) * 1000 },
               (err, stdout, stderr) => (err ? reject(new Error(err.message + stderr)) : resolve(stdout.trim())));
    });
    await H.sleep(WARMUP * 1000);
    const c0 = cpuSeconds(h.proc.pid);
    const t0 = Date.now();
    const f0 = page ? await page.evaluate(() => window.hermesViewer.framesHandled()) : 0;
    await H.sleep(SECONDS * 1000);
    const c1 = cpuSeconds(h.proc.pid);
    const t1 = Date.now();
    const f1 = page ? await page.evaluate(() => window.hermesViewer.framesHandled()) : 0;
    const clients = await out;
    const cpu = 100 * (c1 - c0) / ((t1 - t0) / 1000);
    return { cpu, clients, pageHz: page ? (f1 - f0) / ((t1 - t0) / 1000) : null };
  } finally {
    if (browser)
      await browser.close().catch(() => {});
    await H.stopHermes(h);
    fs.unlinkSync(cfg);
  }
}

async function main() {
  const watchdog = setTimeout(() => { console.error('viewer fan-out bench: watchdog'); H.killAll(); process.exit(1); },
                              (2 * (SECONDS + WARMUP) + 120) * 1000);
  const hermes = path.resolve(hermesArg);
  try {
    const a = await measure(hermes, false);
    const b = await measure(hermes, true);
    console.log('viewer fan-out bench: ' + N + ' clients x 20 signals, 1,000-signal run at 100 Hz, telemetry 60 Hz, ' +
                SECONDS + ' s, build type ' + buildtype + ' (shared machine: other jobs may run)');
    console.log('without a viewer: server CPU ' + a.cpu.toFixed(1) + ' %; ' + a.clients);
    console.log('with a viewer:    server CPU ' + b.cpu.toFixed(1) + ' %; ' + b.clients + '; page ' +
                b.pageHz.toFixed(1) + ' frames/s');
    console.log('ratio of server CPU with / without a viewer: ' + (b.cpu / a.cpu).toFixed(2));
  } finally {
    clearTimeout(watchdog);
    H.killAll();
  }
}

main().catch((e) => { console.error('viewer fan-out bench: ' + (e.stack || e.message)); process.exit(1); });
