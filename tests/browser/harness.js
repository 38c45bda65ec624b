/* Shared by the viewer's browser test and benchmark: a real `hermes run` child
 * (port read back from its event=listening log line, as tests/hermes_child.h
 * does), headless Debian chromium through playwright-core, and a small
 * protocol client (npm `ws`) for the test's own checks. Every wait is bounded. */
'use strict';

const path = require('path');
const fs = require('fs');
const { spawn } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const MODULES = path.join(ROOT, 'viewer', 'node_modules');
const CHROMIUM = process.env.HERMES_CHROMIUM || '/usr/bin/chromium';

/* playwright-core and ws from viewer/node_modules, and the browser; null plus
 * a reason when something is missing (`npm ci --prefix viewer`, Debian chromium). */
function loadDeps() {
  if (!fs.existsSync(CHROMIUM))
    return { missing: 'no chromium at ' + CHROMIUM + ' (Debian package chromium, or set HERMES_CHROMIUM)' };
  try {
    return {
      playwright: require(path.join(MODULES, 'playwright-core')),
      WebSocket: require(path.join(MODULES, 'ws')),
    };
  } catch (e) {
    return { missing: 'viewer/node_modules is not installed (npm ci --prefix viewer): ' + e.message };
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Poll fn() until it returns a truthy value; throws after ms with `what`. */
async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last)
        return last;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > end)
      throw new Error('timed out after ' + ms + ' ms waiting for ' + what +
                      (last !== undefined && last !== false ? ' (last: ' + JSON.stringify(last) + ')' : ''));
    await sleep(50);
  }
}

const children = new Set();

/* Start `hermes run ARGS...`; resolves {proc, port, log()} once it listens. */
async function startHermes(hermes, args, env, ms = 15000) {
  const proc = spawn(hermes, ['run', ...args], {
    env: Object.assign({}, process.env, env || {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let text = '';
  proc.stdout.on('data', (d) => { text += d; });
  proc.stderr.on('data', (d) => { text += d; });
  let exited = null;
  proc.on('exit', (code, sig) => { exited = code !== null ? code : 128; children.delete(proc); void sig; });
  const port = await waitFor(() => {
    if (exited !== null)
      throw new Error('hermes exited with status ' + exited + ':\n' + text);
    const m = /event=listening[^\n]* port=(\d+)/.exec(text);
    return m ? Number(m[1]) : 0;
  }, ms, 'hermes to listen');
  return { proc, port, log: () => text, exited: () => exited };
}

/* SIGTERM, then SIGKILL after ms; resolves the exit status. */
async function stopHermes(h, ms = 5000) {
  if (!h || h.exited() !== null)
    return h ? h.exited() : null;
  h.proc.kill('SIGTERM');
  try {
    await waitFor(() => h.exited() !== null, ms, 'hermes to stop');
  } catch (e) {
    h.proc.kill('SIGKILL');
    await waitFor(() => h.exited() !== null, 2000, 'hermes to die').catch(() => {});
  }
  return h.exited();
}

function killAll() {
  for (const p of children)
    try { p.kill('SIGKILL'); } catch (e) { /* gone */ }
}

async function launchBrowser(playwright) {
  return playwright.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30000 });
}

/* The test's own protocol client: commands with ids, acks/errors as promises,
 * the latest telemetry frame decoded against the subscribe ack's order. */
class Client {
  constructor(WebSocket, url) {
    this.ws = new WebSocket(url, 'hermes');
    this.nextId = 1;
    this.pending = new Map();
    this.layout = [];
    this.latest = null;
    this.schema = null;
    this.ws.on('message', (data, isBinary) => {
      if (isBinary)
        return this.onFrame(data);
      const m = JSON.parse(data.toString());
      if (m.type === 'schema')
        this.schema = m;
      const p = m.id !== undefined ? this.pending.get(m.id) : undefined;
      if (p && (m.type === 'ack' || m.type === 'error')) {
        this.pending.delete(m.id);
        if (m.type === 'ack' && m.action === 'subscribe')
          this.layout = m.signals;
        m.type === 'ack' ? p.resolve(m) : p.reject(new Error(m.message));
      }
    });
  }
  async open(ms = 5000) {
    await waitFor(() => this.schema, ms, 'the schema');
    return this.schema;
  }
  onFrame(buf) {
    const b = Buffer.from(buf);
    if (b.length < 24 || b.readUInt32LE(0) !== 0x48455254)
      return;
    const count = b.readUInt32LE(20);
    if (count !== this.layout.length)
      return;
    const values = {};
    for (let i = 0; i < count; i++)
      values[this.layout[i]] = b.readDoubleLE(24 + 8 * i);
    this.latest = { frame: Number(b.readBigUInt64LE(4)), time: b.readDoubleLE(12), values };
  }
  request(action, params, ms = 5000) {
    const id = this.nextId++;
    const msg = { action, id };
    if (params)
      msg.params = params;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error(action + ': no reply in ' + ms + ' ms')); }, ms);
      this.pending.set(id, {
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.ws.send(JSON.stringify(msg));
    });
  }
  close() {
    try { this.ws.terminate(); } catch (e) { /* closed */ }
  }
}

module.exports = { ROOT, loadDeps, sleep, waitFor, startHermes, stopHermes, killAll, launchBrowser, Client };
