// End to end: a real `hermes run` (tests/foxglove/run.yaml, port 0, paused)
// driven by @foxglove/ws-protocol's FoxgloveClient (the reference client, over
// the `ws` package) side by side with a plain `hermes` protocol client.
//   usage: node test_foxglove.js HERMES_EXE CONFIG_YAML OBSERVER_YAML
// (OBSERVER_YAML: a run with auth_token and observers: true.)
// Every wait is bounded; the whole test is killed after TOTAL_MS. Exit 0 on
// success, 1 with the failing step on stderr.
"use strict";

const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");

let FoxgloveClient, WebSocket;
try {
  FoxgloveClient = require("@foxglove/ws-protocol").FoxgloveClient;
  WebSocket = require("ws");
} catch (e) {
  console.error(`missing npm packages (run: npm ci --prefix tests/foxglove): ${e.message}`);
  process.exit(1);
}

const [hermesExe, configPath, observerPath] = process.argv.slice(2);
if (!hermesExe || !configPath || !observerPath) {
  console.error("usage: node test_foxglove.js HERMES_EXE CONFIG_YAML OBSERVER_YAML");
  process.exit(2);
}

const TOTAL_MS = 60000;
const RATE_HZ = 100; // execution.rate_hz of run.yaml
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let step = "start";
const log = (msg) => console.log(`# ${msg}`);

// ---- the hermes child -------------------------------------------------------
let child = null;
let childLog = "";
function startHermes(config) {
  return new Promise((resolve, reject) => {
    childLog = "";
    child = spawn(hermesExe, ["run", config, "--port", "0", "--paused"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, HERMES_AUTH_TOKEN: "" },
    });
    const timer = setTimeout(() => reject(new Error(`no event=listening in 10 s:\n${childLog}`)), 10000);
    const onData = (d) => {
      childLog += d.toString();
      const m = /event=listening .*?port=(\d+)/.exec(childLog);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`hermes exited with ${code}:\n${childLog}`));
    });
  });
}

// ---- a waitable event log ---------------------------------------------------
class Inbox {
  constructor() {
    this.items = [];
    this.waiters = [];
  }
  push(kind, value) {
    const item = { kind, value, at: Date.now() };
    this.items.push(item);
    for (const w of [...this.waiters]) w();
  }
  // First item (from index `from`) of `kind` satisfying `pred`, within `ms`.
  wait(kind, pred = () => true, ms = 5000, from = 0) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.items.length; i++) {
          const it = this.items[i];
          if (it.kind === kind && pred(it.value)) {
            cleanup();
            resolve(it.value);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${ms} ms waiting for ${kind}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      if (!check()) this.waiters.push(check);
    });
  }
  count(kind, pred = () => true, since = 0) {
    return this.items.filter((it) => it.kind === kind && it.at >= since && pred(it.value)).length;
  }
}

// ---- clients ----------------------------------------------------------------
function foxglove(port, subprotocol, query = "") {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/${query}`, [subprotocol]);
  const client = new FoxgloveClient({ ws });
  const inbox = new Inbox();
  for (const ev of ["open", "serverInfo", "advertise", "advertiseServices", "message", "time", "status",
    "parameterValues", "serviceCallResponse", "serviceCallFailure", "close", "error", "unadvertise"]) {
    client.on(ev, (v) => inbox.push(ev, v));
  }
  return { ws, client, inbox };
}

function hermesClient(port, protocols = ["hermes"]) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, protocols);
  const inbox = new Inbox();
  ws.on("message", (data, isBinary) => {
    if (isBinary) {
      const b = Buffer.from(data);
      const frame = Number(b.readBigUInt64LE(4));
      const count = b.readUInt32LE(20);
      const values = [];
      for (let i = 0; i < count; i++) values.push(b.readDoubleLE(24 + 8 * i));
      inbox.push("frame", { frame, time: b.readDoubleLE(12), values });
    } else {
      const j = JSON.parse(data.toString());
      inbox.push(j.type, j);
    }
  });
  ws.on("open", () => inbox.push("open", null));
  ws.on("error", (e) => inbox.push("error", e));
  let nextId = 1;
  const cmd = async (action, params) => {
    const id = nextId++;
    ws.send(JSON.stringify({ action, params, id }));
    const r = await Promise.race([
      inbox.wait("ack", (a) => a.id === id, 5000),
      inbox.wait("error", (a) => a.id === id, 5000).then((e) => {
        throw new Error(`${action}: ${e.message}`);
      }),
    ]);
    return r;
  };
  return { ws, inbox, cmd };
}

// ---- JSON Schema shape ------------------------------------------------------
const LEAF_TYPES = new Set(["number", "integer", "boolean", "string"]);
// Returns a map title -> { path, type } of the leaves; asserts the shape.
function schemaLeaves(schema, prefix = "", out = new Map()) {
  assert.equal(schema.type, "object", `${prefix || "root"} is an object schema`);
  assert.equal(typeof schema.properties, "object");
  for (const [key, sub] of Object.entries(schema.properties)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (sub.type === "object") {
      schemaLeaves(sub, path, out);
    } else {
      assert.ok(LEAF_TYPES.has(sub.type), `${path}: type ${JSON.stringify(sub.type)}`);
      assert.equal(typeof sub.title, "string", `${path} has a title`);
      assert.ok(!out.has(sub.title), `${sub.title} appears once`);
      out.set(sub.title, { path, type: sub.type });
    }
  }
  return out;
}

const getPath = (obj, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
const decode = (dv) => JSON.parse(new TextDecoder().decode(dv));

function serviceCall(fg, serviceId, callId, request) {
  fg.client.sendServiceCallRequest({
    serviceId, callId, encoding: "json",
    data: new TextEncoder().encode(JSON.stringify(request)),
  });
  return Promise.race([
    fg.inbox.wait("serviceCallResponse", (r) => r.callId === callId, 5000).then((r) => {
      assert.equal(r.serviceId, serviceId);
      assert.equal(r.encoding, "json");
      return JSON.parse(new TextDecoder().decode(r.data));
    }),
    fg.inbox.wait("serviceCallFailure", (r) => r.callId === callId, 5000).then((r) => {
      throw new Error(`service ${serviceId} failed: ${r.message}`);
    }),
  ]);
}

// ---- the test ---------------------------------------------------------------
async function main() {
  step = "start hermes";
  const port = await startHermes(configPath);
  log(`hermes listening on ${port}`);

  step = "both subprotocol names connect";
  const A = foxglove(port, "foxglove.websocket.v1");
  const B = foxglove(port, "foxglove.sdk.v1");
  const H = hermesClient(port);
  await Promise.all([A.inbox.wait("open"), B.inbox.wait("open"), H.inbox.wait("open")]);
  assert.equal(A.ws.protocol, "foxglove.websocket.v1");
  assert.equal(B.ws.protocol, "foxglove.sdk.v1");
  assert.equal(H.ws.protocol, "hermes");

  step = "a client naming no subprotocol keeps the hermes protocol";
  const plain = hermesClient(port, []);
  assert.equal((await plain.inbox.wait("schema")).type, "schema");
  plain.ws.close();

  step = "serverInfo first, then advertise";
  const schema = await H.inbox.wait("schema");
  const infos = [];
  const channelsOf = [];
  for (const fg of [A, B]) {
    const info = await fg.inbox.wait("serverInfo");
    await fg.inbox.wait("advertise");
    await fg.inbox.wait("advertiseServices");
    const kinds = fg.inbox.items.map((it) => it.kind).filter((k) => k !== "open" && k !== "time" && k !== "status");
    assert.equal(kinds[0], "serverInfo", `first message is serverInfo (got ${kinds.join(",")})`);
    assert.ok(kinds.indexOf("advertise") > 0);
    infos.push(info);
    channelsOf.push(fg.inbox.items.find((it) => it.kind === "advertise").value);
  }
  const info = infos[0];
  assert.equal(typeof info.name, "string");
  for (const cap of ["time", "parameters", "services"]) assert.ok(info.capabilities.includes(cap), cap);
  assert.deepEqual(info.supportedEncodings, ["json"]);
  assert.ok(info.sessionId.startsWith(schema.run_id), `sessionId ${info.sessionId} from run ${schema.run_id}`);
  assert.equal(infos[1].sessionId, info.sessionId);

  step = "advertise: channels and schemas";
  const channels = channelsOf[0];
  assert.deepEqual(channels, channelsOf[1]);
  const byTopic = new Map(channels.map((c) => [c.topic, c]));
  for (const t of ["/ctrl", "/plant", "/hermes"]) assert.ok(byTopic.has(t), `channel ${t}`);
  const leaves = new Map(); // qualified name -> { channel, path, type }
  for (const c of channels) {
    assert.equal(typeof c.id, "number");
    assert.equal(c.encoding, "json");
    assert.equal(c.schemaEncoding, "jsonschema");
    assert.equal(typeof c.schemaName, "string");
    const s = JSON.parse(c.schema);
    for (const [title, leaf] of schemaLeaves(s)) {
      assert.ok(!leaves.has(title), `${title} in one channel only`);
      leaves.set(title, { channel: c, ...leaf });
    }
  }
  const names = [];
  for (const [mod, m] of Object.entries(schema.modules)) for (const s of m.signals) names.push(`${mod}.${s.name}`);
  assert.equal(names.length, schema.signal_count);
  for (const n of names) assert.ok(leaves.has(n), `signal ${n} in the Foxglove schemas`);
  assert.equal(leaves.get("plant.position.x").path, "position.x");
  assert.equal(leaves.get("plant.position.x").channel.topic, "/plant");
  assert.equal(leaves.get("ctrl.armed").type, "boolean");
  assert.equal(leaves.get("ctrl.gear").type, "integer");
  for (const extra of ["hermes.state", "hermes.frame", "hermes.time"]) assert.ok(leaves.has(extra), extra);

  step = "advertiseServices";
  const services = A.inbox.items.find((it) => it.kind === "advertiseServices").value;
  const svc = new Map(services.map((s) => [s.name, s]));
  for (const n of ["/hermes/pause", "/hermes/resume", "/hermes/step", "/hermes/reset"]) {
    assert.ok(svc.has(n), n);
    assert.equal(svc.get(n).request.encoding, "json");
    assert.equal(JSON.parse(svc.get(n).request.schema).type, "object");
    assert.equal(JSON.parse(svc.get(n).response.schema).type, "object");
  }

  step = "same frame: Foxglove values equal hermes values";
  const sub = await H.cmd("subscribe", { signals: ["*"] });
  const order = sub.signals;
  const st = await serviceCall(A, svc.get("/hermes/step").id, 1, { count: 3 });
  assert.equal(st.frame, 3);
  assert.equal(st.state, "paused");
  const hf = await H.inbox.wait("frame", (f) => f.frame === 3, 5000);
  const hv = new Map(order.map((n, i) => [n, hf.values[i]]));
  const subIds = new Map();
  let nextSub = 0;
  for (const c of channels) {
    const id = A.client.subscribe(c.id);
    subIds.set(c.topic, id);
    nextSub = Math.max(nextSub, id + 1);
  }
  const tns = BigInt(3 * 1e9 / RATE_HZ);
  const msgs = new Map();
  for (const c of channels) {
    const m = await A.inbox.wait("message", (x) => x.subscriptionId === subIds.get(c.topic) && x.timestamp === tns, 5000);
    msgs.set(c.topic, decode(m.data));
  }
  assert.equal(msgs.get("/hermes").frame, 3);
  assert.equal(msgs.get("/hermes").state, "paused");
  assert.equal(msgs.get("/hermes").time, 0.03);
  for (const n of names) {
    const leaf = leaves.get(n);
    let v = getPath(msgs.get(leaf.channel.topic), leaf.path);
    if (typeof v === "boolean") v = v ? 1 : 0;
    const want = hv.get(n);
    if (Number.isNaN(want)) assert.equal(v, null, n);
    else assert.equal(v, want, `${n}: foxglove ${v}, hermes ${want}`);
  }
  log(`${names.length} signals equal at frame 3`);

  step = "time messages follow sim time (also while paused)";
  await A.inbox.wait("time", (t) => t.timestamp === tns, 3000);
  const t0 = A.inbox.items.length;
  await sleep(300);
  const pausedTimes = A.inbox.items.slice(t0).filter((it) => it.kind === "time");
  assert.ok(pausedTimes.length >= 5, `time messages while paused (${pausedTimes.length})`);
  for (const t of pausedTimes) assert.equal(t.value.timestamp, tns);

  step = "parameters: get, set writable, refuse read-only";
  A.client.getParameters([], "g1");
  const pv = await A.inbox.wait("parameterValues", (p) => p.id === "g1");
  const pnames = pv.parameters.map((p) => p.name).sort();
  // writable signals that no wire drives (plant.velocity is wired from ctrl.throttle)
  assert.deepEqual(pnames, ["ctrl.armed", "ctrl.gear", "ctrl.throttle", "ctrl.trim"]);
  const pthr = pv.parameters.find((p) => p.name === "ctrl.throttle");
  assert.equal(pthr.value, 0);
  assert.equal(pthr.type, "float64");
  assert.equal(pv.parameters.find((p) => p.name === "ctrl.armed").value, false);
  A.client.setParameters([{ name: "ctrl.throttle", value: 0.25 }, { name: "ctrl.armed", value: true }], "s1");
  const sv = await A.inbox.wait("parameterValues", (p) => p.id === "s1");
  assert.deepEqual(sv.parameters.map((p) => [p.name, p.value]), [["ctrl.throttle", 0.25], ["ctrl.armed", true]]);
  const thrIdx = order.indexOf("ctrl.throttle");
  await H.inbox.wait("frame", (f) => f.values[thrIdx] === 0.25, 3000);
  await A.inbox.wait("message", (x) => x.subscriptionId === subIds.get("/ctrl") &&
    decode(x.data).throttle === 0.25 && decode(x.data).armed === true, 3000);
  const statusFrom = A.inbox.items.length;
  A.client.setParameters([{ name: "plant.position.x", value: 1 }], "s2");
  const refusal = await A.inbox.wait("status", (s) => s.level === 2 && /read-only/.test(s.message), 3000, statusFrom);
  log(`read-only refused: ${refusal.message}`);
  const sv2 = await A.inbox.wait("parameterValues", (p) => p.id === "s2");
  assert.equal(sv2.parameters.length, 0);
  A.client.setParameters([{ name: "ctrl.gear", value: 1.5 }], "s3");
  await A.inbox.wait("status", (s) => s.level === 2 && /does not fit/.test(s.message), 3000, statusFrom);
  A.client.setParameters([{ name: "plant.velocity", value: 2 }], "s4");
  await A.inbox.wait("status", (s) => s.level === 2 && /driven by ctrl.throttle/.test(s.message), 3000, statusFrom);
  assert.equal((await A.inbox.wait("parameterValues", (p) => p.id === "s4")).parameters.length, 0);
  await sleep(100);
  const px = order.indexOf("plant.position.x");
  assert.equal(H.inbox.items.filter((it) => it.kind === "frame").pop().value.values[px], 4.5);

  step = "resume and pause services";
  const rs = await serviceCall(A, svc.get("/hermes/resume").id, 2, {});
  assert.equal(rs.state, "running");
  await H.inbox.wait("event", (e) => e.event === "running", 3000);
  await A.inbox.wait("time", (t) => t.timestamp > tns + 100000000n, 5000); // sim time moved by 0.1 s
  const ps = await serviceCall(A, svc.get("/hermes/pause").id, 3, {});
  assert.equal(ps.state, "paused");
  await H.inbox.wait("event", (e) => e.event === "paused", 3000);
  await A.inbox.wait("status", (s) => /paused/.test(s.message), 3000);
  await sleep(100);
  const tpa = A.inbox.items.filter((it) => it.kind === "time").pop().value.timestamp;
  await sleep(300);
  const tpb = A.inbox.items.filter((it) => it.kind === "time").pop().value.timestamp;
  assert.equal(tpa, tpb, "time stands still while paused");
  const fail = await serviceCall(A, svc.get("/hermes/step").id, 4, { count: 0 }).then(() => null, (e) => e);
  assert.ok(fail && /count/.test(fail.message), `step count 0 fails (${fail && fail.message})`);

  step = "unsubscribe stops messages";
  A.client.unsubscribe(subIds.get("/plant"));
  await sleep(300);
  const since = Date.now();
  await sleep(500);
  assert.equal(A.inbox.count("message", (m) => m.subscriptionId === subIds.get("/plant"), since), 0);
  assert.ok(A.inbox.count("message", (m) => m.subscriptionId === subIds.get("/ctrl"), since) > 10);

  step = "a hermes client and a Foxglove client side by side at ~60 Hz";
  const bsub = B.client.subscribe(byTopic.get("/plant").id);
  await serviceCall(B, svc.get("/hermes/resume").id, 5, {});
  await sleep(500);
  const c0 = Date.now();
  await sleep(3000);
  const secs = (Date.now() - c0) / 1000;
  const hz = H.inbox.count("frame", () => true, c0) / secs;
  const fz = B.inbox.count("message", (m) => m.subscriptionId === bsub, c0) / secs;
  log(`rates over ${secs.toFixed(1)} s: hermes ${hz.toFixed(1)} Hz, foxglove ${fz.toFixed(1)} Hz`);
  assert.ok(hz >= 45 && hz <= 75, `hermes client at ${hz} Hz`);
  assert.ok(fz >= 45 && fz <= 75, `foxglove client at ${fz} Hz`);
  // one tick, one snapshot: channels of the same tick carry the same timestamp
  const last = B.inbox.items.filter((it) => it.kind === "message").pop().value;
  assert.ok(last.timestamp > tns);

  step = "reset service: a new sessionId";
  const infoCount = A.inbox.count("serverInfo");
  const rr = await serviceCall(A, svc.get("/hermes/reset").id, 6, {});
  assert.equal(rr.frame, 0);
  const info2 = await A.inbox.wait("serverInfo", (i) => i.sessionId !== info.sessionId, 3000);
  assert.ok(info2.sessionId.startsWith(schema.run_id));
  assert.ok(A.inbox.count("serverInfo") > infoCount);
  await A.inbox.wait("time", (t) => t.timestamp === 0n, 3000);

  step = "protocol errors are status messages";
  const from = A.inbox.items.length;
  A.ws.send(JSON.stringify({ op: "subscribe", subscriptions: [{ id: 1000, channelId: 999 }] }));
  await A.inbox.wait("status", (s) => s.level === 2 && /999/.test(s.message), 3000, from);
  A.ws.send("not json");
  await A.inbox.wait("status", (s) => s.level === 2 && /JSON/.test(s.message), 3000, from);
  A.ws.send(JSON.stringify({ op: "fly" }));
  await A.inbox.wait("status", (s) => s.level === 2 && /fly/.test(s.message), 3000, from);

  step = "close";
  for (const c of [A.ws, B.ws, H.ws]) c.close();
  await sleep(100);
  await stopHermes();
}

// Token and observer rules, shared with the hermes protocol.
async function accessRules() {
  step = "start hermes with a token and observers";
  const port = await startHermes(observerPath);
  const O = foxglove(port, "foxglove.sdk.v1");  // no token: observer
  const C = foxglove(port, "foxglove.websocket.v1", "?token=foxglove-test-token-0123456789");
  const W = foxglove(port, "foxglove.websocket.v1", "?token=wrong-token-0123456789");
  await Promise.all([O.inbox.wait("serverInfo"), C.inbox.wait("serverInfo")]);
  await W.inbox.wait("error", () => true, 5000);  // 401 at the handshake
  assert.ok(!W.inbox.items.some((it) => it.kind === "serverInfo"));
  await O.inbox.wait("status", (s) => /observer connection/.test(s.message));
  await C.inbox.wait("status", (s) => /controller connection/.test(s.message));

  step = "an observer subscribes, reads parameters, and may not set or call";
  const services = new Map((await O.inbox.wait("advertiseServices")).map((s) => [s.name, s.id]));
  const sub = O.client.subscribe(1);
  const m = await O.inbox.wait("message", (x) => x.subscriptionId === sub);
  assert.equal(decode(m.data).throttle, 0.5);
  O.client.getParameters([], "og");
  assert.equal((await O.inbox.wait("parameterValues", (p) => p.id === "og")).parameters[0].value, 0.5);
  O.client.setParameters([{ name: "ctrl.throttle", value: 0.75 }], "os");
  await O.inbox.wait("status", (s) => s.level === 2 && /observer/.test(s.message));
  assert.equal((await O.inbox.wait("parameterValues", (p) => p.id === "os")).parameters.length, 0);
  const denied = await serviceCall(O, services.get("/hermes/resume"), 1, {}).then(() => null, (e) => e);
  assert.ok(denied && /observer/.test(denied.message), `observer service call refused (${denied && denied.message})`);

  step = "the token holder controls";
  C.client.setParameters([{ name: "ctrl.throttle", value: 0.75 }], "cs");
  assert.equal((await C.inbox.wait("parameterValues", (p) => p.id === "cs")).parameters[0].value, 0.75);
  await O.inbox.wait("message", (x) => x.subscriptionId === sub && decode(x.data).throttle === 0.75, 3000);
  const r = await serviceCall(C, services.get("/hermes/step"), 2, {});
  assert.equal(r.frame, 1);
  for (const c of [O.ws, C.ws]) c.close();
  await sleep(100);
  await stopHermes();
}

async function stopHermes() {
  child.removeAllListeners("exit");
  child.kill("SIGINT");
  const code = await new Promise((r) => {
    const t = setTimeout(() => { child.kill("SIGKILL"); r(-1); }, 5000);
    child.on("exit", (c) => { clearTimeout(t); r(c); });
  });
  if (code !== 130 && code !== 0) throw new Error(`hermes exited with ${code}\n${childLog}`);
  child = null;
}

const killer = setTimeout(() => {
  console.error(`FAIL (${step}): the whole test took more than ${TOTAL_MS} ms`);
  if (child) child.kill("SIGKILL");
  process.exit(1);
}, TOTAL_MS);

main().then(accessRules).then(
  () => {
    clearTimeout(killer);
    console.log("ok - foxglove protocol end to end");
    process.exit(0);
  },
  (e) => {
    console.error(`FAIL (${step}): ${e && e.stack ? e.stack : e}`);
    if (child) child.kill("SIGKILL");
    if (process.env.HERMES_KEEP_LOGS) console.error(childLog);
    process.exit(1);
  },
);
