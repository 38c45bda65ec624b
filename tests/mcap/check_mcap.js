// Read a Hermes MCAP file with the reference reader (@mcap/core, pinned in
// package-lock.json; fzstd and lz4js decompress the chunks) and compare it
// with the HDF5 recording of the same run (h5_dump.py's JSON, exact numbers).
//   usage: node check_mcap.js FILE.mcap DUMP.json SPEC_JSON
// DUMP "-": no recording to compare with (structure and schemas only).
// SPEC: compression ("zstd" | "lz4" | ""), signals (recorded names exported;
// default all of the dump), truncated (the file of a killed run: stream reader
// only, a prefix of the dump's rows, at least min_rows), min_rows, other_run
// (the dump is of another run of the same config: run id and start differ).
// Checks: the indexed reader (footer, summary CRC, statistics, chunk and
// message indexes, metadata, attachment) and the stream reader (every record,
// chunk CRCs) agree; the data section CRC; every message's JSON valid against
// its channel's schema and holding every property; one message per channel
// per recorded frame; every value equal bit for bit to the HDF5 recording.
// Exit 0 on success, 1 with the first mismatch on stderr.
"use strict";

const fs = require("node:fs");
const assert = require("node:assert/strict");

let mcap, fzstd, lz4, crc32;
try {
  mcap = require("@mcap/core");
  fzstd = require("fzstd");
  lz4 = require("lz4js");
  crc32 = require("@foxglove/crc").crc32;
} catch (e) {
  console.error(`missing npm packages (run: npm ci --prefix tests/mcap): ${e.message}`);
  process.exit(1);
}

const decompressHandlers = {
  zstd: (data, size) => fzstd.decompress(data, new Uint8Array(Number(size))),
  lz4: (data, size) => lz4.decompress(data, Number(size)),
};

const bitsOf = (x) => Buffer.from(new Float64Array([x]).buffer).toString("hex");

// ---- a JSON Schema checker for what the Hermes schemas use -----------------------
// type (a name or a list), properties, title, description. Every property must
// be present (the messages hold every signal), and no other key.
function checkSchema(schema, value, path) {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const ok = types.some((t) => {
    switch (t) {
      case "object": return value !== null && typeof value === "object" && !Array.isArray(value);
      case "number": return typeof value === "number";
      case "integer": return typeof value === "number" && Number.isInteger(value);
      case "string": return typeof value === "string";
      case "boolean": return typeof value === "boolean";
      case "null": return value === null;
      default: throw new Error(`${path}: schema type ${t} not understood by this checker`);
    }
  });
  if (!ok) throw new Error(`${path}: ${JSON.stringify(value)} is not ${types.join("|")}`);
  for (const k of Object.keys(schema)) {
    if (!["type", "properties", "title", "description"].includes(k))
      throw new Error(`${path}: schema keyword ${k} not understood by this checker`);
  }
  if (schema.properties && typeof value === "object" && value !== null) {
    const want = Object.keys(schema.properties), got = Object.keys(value);
    assert.deepEqual(got.slice().sort(), want.slice().sort(), `${path}: keys`);
    for (const k of want) checkSchema(schema.properties[k], value[k], `${path}.${k}`);
  }
}

// ---- reading ------------------------------------------------------------------------
async function readIndexed(buf) {
  const readable = {
    size: async () => BigInt(buf.length),
    read: async (offset, length) => buf.subarray(Number(offset), Number(offset + length)),
  };
  const r = await mcap.McapIndexedReader.Initialize({ readable, decompressHandlers });
  const messages = [];
  for await (const m of r.readMessages({ validateCrcs: true })) messages.push(m);
  const metadata = [];
  for await (const m of r.readMetadata()) metadata.push(m);
  const attachments = [];
  for await (const a of r.readAttachments({ validateCrcs: true })) attachments.push(a);
  return { r, messages, metadata, attachments };
}

function readStream(buf, complete) {
  const s = new mcap.McapStreamReader({ decompressHandlers, validateCrcs: true });
  s.append(buf);
  const out = { schemas: new Map(), channels: new Map(), messages: [], types: [], chunks: 0, dataEnd: null };
  let rec;
  while ((rec = s.nextRecord())) {
    out.types.push(rec.type);
    if (rec.type === "Schema") out.schemas.set(rec.id, rec);
    else if (rec.type === "Channel") out.channels.set(rec.id, rec);
    else if (rec.type === "Message") out.messages.push(rec);
    else if (rec.type === "DataEnd") out.dataEnd = rec;
  }
  if (complete) {
    assert.ok(s.done(), "stream reader: file not read to its end");
    assert.equal(out.types[out.types.length - 1], "Footer");
  }
  return out;
}

// ---- comparing with the HDF5 recording ------------------------------------------------
function lookup(obj, local) {
  let v = obj;
  for (const k of local.split(".")) {
    if (v === null || typeof v !== "object" || !(k in v)) return undefined;
    v = v[k];
  }
  return v;
}

function compareValue(got, hex, type, what) {
  const want = Buffer.from(hex, "hex").readDoubleLE(0);
  if (type === "bool" && !Number.isNaN(want)) {
    assert.equal(got, want !== 0, what);
  } else if (!Number.isFinite(want)) {
    assert.equal(got, null, what);
  } else {
    assert.equal(typeof got, "number", what);
    assert.equal(bitsOf(got), hex, `${what}: ${got} vs ${want}`);
  }
}

// Every channel's messages in sequence order, parsed and checked against its schema.
function parseAll(channels, schemas, perChannel) {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const parsed = new Map();
  for (const c of channels.values()) {
    const list = (perChannel.get(c.id) || []).sort((a, b) => a.sequence - b.sequence);
    assert.equal(c.messageEncoding, "json");
    const schema = schemas.get(c.schemaId);
    assert.equal(schema.encoding, "jsonschema");
    const js = JSON.parse(decoder.decode(schema.data));
    list.forEach((m, i) => {
      assert.equal(m.sequence, i, `${c.topic}: sequence`);
      assert.equal(m.logTime, m.publishTime, `${c.topic}: publish time`);
    });
    const values = list.map((m) => JSON.parse(decoder.decode(m.data)));
    values.forEach((v, i) => checkSchema(js, v, `${c.topic}[${i}]`));
    parsed.set(c.topic, { list, values });
  }
  return parsed;
}

function byChannel(messages) {
  const perChannel = new Map();
  for (const m of messages) {
    if (!perChannel.has(m.channelId)) perChannel.set(m.channelId, []);
    perChannel.get(m.channelId).push(m);
  }
  return perChannel;
}

// Without a recording to compare with: schemas, one message per module channel per /hermes frame.
function structure(channels, schemas, messages) {
  const parsed = parseAll(channels, schemas, byChannel(messages));
  const rows = parsed.get("/hermes").values.length;
  for (const [topic, p] of parsed)
    if (!topic.startsWith("/hermes/")) assert.equal(p.values.length, rows, `${topic}: one message per frame`);
  return rows;
}

// The messages of each channel in sequence order, checked against the dump.
function compare(channels, schemas, messages, dump, spec) {
  if (!dump) return structure(channels, schemas, messages);
  const cols = (spec.signals || dump.signals.map((s) => s.name)).map((name) => {
    const k = dump.signals.findIndex((s) => s.name === name);
    assert.ok(k >= 0, `signal ${name} not in the recording`);
    const dot = name.indexOf(".");
    return { k, module: name.slice(0, dot), local: name.slice(dot + 1), type: dump.signals[k].type };
  });
  const byTopic = new Map();
  for (const c of channels.values()) byTopic.set(c.topic, c);
  const modules = [...new Set(cols.map((c) => c.module))];
  const want = new Set(modules.map((m) => "/" + m).concat(["/hermes", "/hermes/events", "/hermes/journal"]));
  assert.deepEqual([...byTopic.keys()].sort(), [...want].sort(), "topics");
  const perChannel = byChannel(messages);
  const parsed = parseAll(channels, schemas, perChannel);
  const rows = parsed.get("/hermes").values.length;
  if (spec.truncated) {
    assert.ok(rows <= dump.rows || rows >= (spec.min_rows || 0), "rows");
    assert.ok(rows >= (spec.min_rows || 0), `only ${rows} frames in the killed run's file`);
  } else {
    assert.equal(rows, dump.rows, "one /hermes message per recorded frame");
  }
  const n = Math.min(rows, dump.rows);
  const rate = dump.attrs.rate_hz;
  for (const m of modules) assert.equal(parsed.get("/" + m).values.length, rows, `/${m}: one message per frame`);
  const h = parsed.get("/hermes");
  // state: "paused" until the first event, then what the last event of a lower tick left.
  let ie = 0, state = "paused";
  for (let i = 0; i < n; i++) {
    while (ie < dump.events.length && dump.events[ie].tick < dump.tick[i]) {
      state = dump.events[ie].event === "reset" ? "paused" : dump.events[ie].event;
      ie++;
    }
    assert.equal(h.values[i].state, state, `state of row ${i} (tick ${dump.tick[i]})`);
    assert.equal(h.values[i].frame, dump.frame[i], `frame of row ${i}`);
    assert.equal(bitsOf(h.values[i].time), dump.time[i], `time of row ${i}`);
    assert.equal(h.list[i].logTime, BigInt(Math.round(dump.frame[i] * (1e9 / rate))), `log time of row ${i}`);
    for (const c of cols) {
      const p = parsed.get("/" + c.module);
      assert.equal(p.list[i].logTime, h.list[i].logTime, `/${c.module}[${i}] log time`);
      const got = lookup(p.values[i], c.local);
      compareValue(got, dump.data[c.k][i], c.type, `${c.module}.${c.local} row ${i}`);
    }
  }
  const ev = parsed.get("/hermes/events").values, jr = parsed.get("/hermes/journal").values;
  if (!spec.truncated) {
    assert.equal(ev.length, dump.events.length, "events");
    assert.equal(jr.length, dump.journal.length, "journal entries");
  }
  ev.forEach((e, i) => assert.deepEqual(e, dump.events[i], `event ${i}`));
  jr.forEach((j, i) => {
    const w = dump.journal[i];
    assert.deepEqual([j.action, j.frame, j.tick, j.signal, j.count], [w.action, w.frame, w.tick, w.signal, w.count]);
    compareValue(j.value, w.value, "f64", `journal ${i} value`);
  });
  return rows;
}

async function main() {
  const [file, dumpPath, specText] = process.argv.slice(2);
  const spec = JSON.parse(specText || "{}");
  const buf = new Uint8Array(fs.readFileSync(file));
  const dump = dumpPath === "-" ? null : JSON.parse(fs.readFileSync(dumpPath, "utf8"));
  const stream = readStream(buf, !spec.truncated);
  const rows = compare(stream.channels, stream.schemas, stream.messages, dump, spec);
  if (spec.truncated) {
    assert.ok(rows >= (spec.min_rows || 0), `only ${rows} frames in the file of the stopped run`);
    console.log(`# ${file}: stream reader read ${stream.messages.length} messages, ${rows} frames`);
    return;
  }
  const { r, messages, metadata, attachments } = await readIndexed(buf);
  // Data End's CRC covers every byte before it (magic and header included).
  const dataEnd = Number(r.footer.summaryStart) - 13;
  assert.equal(crc32(buf.subarray(0, dataEnd)), stream.dataEnd.dataSectionCrc, "data section CRC");
  assert.notEqual(r.footer.summaryCrc, 0, "summary CRC present");
  assert.equal(messages.length, stream.messages.length, "indexed and stream readers: message count");
  compare(r.channelsById, r.schemasById, messages, dump, spec);
  const st = r.statistics;
  assert.equal(st.messageCount, BigInt(messages.length), "statistics: message count");
  assert.equal(st.channelCount, r.channelsById.size, "statistics: channels");
  assert.equal(st.chunkCount, r.chunkIndexes.length, "statistics: chunks");
  for (const [id, count] of st.channelMessageCounts)
    assert.equal(count, BigInt(messages.filter((m) => m.channelId === id).length), `statistics: channel ${id}`);
  assert.ok(r.chunkIndexes.length >= 1, "chunk indexes");
  for (const ci of r.chunkIndexes) {
    assert.equal(ci.compression, spec.compression ?? "zstd", "chunk compression");
    assert.ok(ci.messageIndexOffsets.size >= 1, "message index offsets");
  }
  const md = new Map(metadata.map((m) => [m.name, m.metadata]));
  const hermes = md.get("hermes");
  assert.ok(hermes, "metadata 'hermes'");
  for (const k of spec.other_run ? ["hermes_version", "mode"] : ["run_id", "hermes_version", "mode", "start_time_utc"])
    assert.equal(hermes.get(k), dump.attrs[k], `metadata ${k}`);
  assert.equal(hermes.get("seed"), dump.attrs.seed ?? "", "metadata seed");
  assert.match(hermes.get("config_hash"), /^[0-9a-f]{16}$/, "metadata config_hash");
  assert.ok(md.get("hermes.end"), "metadata 'hermes.end'");
  assert.equal(attachments.length, 1, "one attachment");
  assert.equal(attachments[0].mediaType, "application/yaml");
  assert.equal(new TextDecoder().decode(attachments[0].data), dump.attrs.config, "config attachment");
  if (spec.module_rates) assert.ok(md.get("module_rates").has(spec.module_rates), "module_rates metadata");
  console.log(`# ${file}: ${messages.length} messages, ${rows} frames, ${r.chunkIndexes.length} chunks: ok`);
}

main().catch((e) => {
  console.error(`check_mcap: ${e.stack || e}`);
  process.exit(1);
});
