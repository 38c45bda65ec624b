/* Makes docs/viewer.png: the viewer on the launch-vehicle demo (not a test).
 * usage: node tests/browser/screenshot.js BUILDDIR OUT.png [SECONDS (50)]
 * BUILDDIR must have been built with the viewer (npm ci --prefix viewer). */
'use strict';

const path = require('path');
const H = require('./harness');

async function main() {
  const [buildArg, out, secArg = '50'] = process.argv.slice(2);
  if (!buildArg || !out) {
    console.error('usage: node tests/browser/screenshot.js BUILDDIR OUT.png [SECONDS (50)]');
    process.exit(2);
  }
  const build = path.resolve(buildArg);
  const deps = H.loadDeps();
  if (deps.missing)
    throw new Error(deps.missing);
  let h = null;
  let browser = null;
  try {
    h = await H.startHermes(path.join(build, 'cli/hermes'),
                            [path.join(build, 'examples/launch/launch.yaml'), '--port', '0']);
    browser = await H.launchBrowser(deps.playwright);
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    await page.goto('http://127.0.0.1:' + h.port + '/');
    await page.waitForSelector('#conn[data-state="connected"]', { timeout: 10000 });
    const plot = async (names) => {
      for (const n of names)
        await page.click('#tree li.sig[data-signal="' + n + '"]');
    };
    await plot(['vehicle.position.altitude', 'vehicle.position.downrange']);
    await page.click('#btn-add-chart');
    await plot(['vehicle.speed', 'vehicle.velocity.x']);
    await page.click('#btn-add-chart');
    await plot(['vehicle.dynamic_pressure']);
    await page.click('#tree li.sig[data-signal="commands.pitch_final"] button.add-table');
    await page.click('#tree li.sig[data-signal="guidance.phase"] button.add-table');
    await H.sleep(Number(secArg) * 1000 / 2);
    await page.fill('#values tr[data-signal="commands.pitch_final"] input', '30');
    await page.click('#values tr[data-signal="commands.pitch_final"] button[type=submit]');
    await H.sleep(Number(secArg) * 1000 / 2);
    await page.click('#btn-pause');
    await H.waitFor(async () => (await page.textContent('#st-state')) === 'paused', 5000, 'paused');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: out, fullPage: true });
  } finally {
    if (browser)
      await browser.close().catch(() => {});
    await H.stopHermes(h);
    H.killAll();
  }
}

main().catch((e) => { console.error(e.stack || e.message); H.killAll(); process.exit(1); });
