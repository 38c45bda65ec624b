// MCAP recordings end to end (issue 23): real `hermes run` processes of the
// launch example (examples/launch: injection, inproc at 20 Hz, process
// module), their HDF5 recordings dumped with h5py (h5_dump.py), their MCAP
// files read with the reference reader and compared bit for bit
// (check_mcap.js).
//   usage: node test_mcap.js HERMES_EXE LAUNCH_YAML PYTHON3 CASE
// CASE: export (zstd, lz4, none; --record-every with --signals; bad
// arguments) or record (--record a.h5 --record b.mcap in one run; MCAP alone;
// a full disk; a realtime run killed with SIGKILL: the stream reader reads
// every complete chunk). Every wait is bounded; children are killed on the way out.
"use strict";

const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const assert = require("node:assert/strict");

const [hermes, launchArg, python, which] = process.argv.slice(2);
const launchYaml = launchArg && path.resolve(launchArg);
if (!hermes || !launchArg || !python || !which) {
  console.error("usage: node test_mcap.js HERMES_EXE LAUNCH_YAML PYTHON3 export|record");
  process.exit(2);
}
const here = __dirname;
const cwd = path.dirname(launchYaml);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-mcap-"));
const children = new Set();
const log = (m) => console.log(`# ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const runName = (tag) => `hermes-mcaptest-${process.pid}-${tag}`;

function run(args, { expect = 0, timeout = 60000 } = {}) {
  const r = spawnSync(hermes, args, { cwd, encoding: "utf8", timeout });
  if (expect !== null && r.status !== expect)
    throw new Error(`hermes ${args.join(" ")}: exit ${r.status} (expected ${expect})\n${r.stdout}\n${r.stderr}`);
  return r;
}

function dump(h5, swmr) {
  const out = h5.replace(/\.h5$/, ".json");
  const r = spawnSync(python, [path.join(here, "h5_dump.py"), h5, out].concat(swmr ? ["--swmr"] : []),
                      { encoding: "utf8", timeout: 60000 });
  assert.equal(r.status, 0, `h5_dump ${h5}: ${r.stderr}`);
  return out;
}

function check(mcap, json, spec) {
  const r = spawnSync(process.execPath, [path.join(here, "check_mcap.js"), mcap, json, JSON.stringify(spec)],
                      { encoding: "utf8", timeout: 120000 });
  process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`check_mcap ${mcap} ${JSON.stringify(spec)}:\n${r.stderr}`);
}

async function caseExport() {
  const h5 = path.join(tmp, "afap.h5");
  run(["run", launchYaml, "--no-server", "--mode", "afap", "--end-time", "40", "--run-name", runName("a"),
       "--seed", "42", "--record", h5]);
  const json = dump(h5);
  for (const [c, name] of [["zstd", "zstd"], ["lz4", "lz4"], ["none", ""]]) {
    const out = path.join(tmp, `afap-${c}.mcap`);
    run(["export", h5, "--mcap", out, "--compression", c]);
    check(out, json, { compression: name, module_rates: "guidance" });
  }
  // An MCAP file read back as a recording: its CSV is the HDF5 file's, byte for byte.
  const csvH5 = path.join(tmp, "h5.csv"), csvMc = path.join(tmp, "mcap.csv");
  run(["export", h5, "--csv", csvH5]);
  run(["export", path.join(tmp, "afap-lz4.mcap"), "--csv", csvMc]);
  assert.ok(fs.readFileSync(csvH5).equals(fs.readFileSync(csvMc)), "CSV of the MCAP file == CSV of the HDF5 file");
  let rr = run(["export", path.join(tmp, "afap-lz4.mcap"), "--mcap", path.join(tmp, "again.mcap")], { expect: 2 });
  assert.match(rr.stderr, /is already an MCAP file/);
  rr = run(["run", launchYaml, "--no-server", "--rerun", path.join(tmp, "afap-zstd.mcap")], { expect: 3 });
  assert.match(rr.stderr, /a rerun needs the HDF5 recording/);
  // MCAP files Hermes did not write are refused with the reason.
  const alien = path.join(tmp, "alien.mcap");
  fs.writeFileSync(alien, Buffer.concat([Buffer.from([0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a]),
                                         Buffer.from([0x0c, 4, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9])]));
  rr = run(["export", alien, "--csv", path.join(tmp, "alien.csv")], { expect: 4 });
  assert.match(rr.stderr, /alien\.mcap': not a readable MCAP file/);
  fs.writeFileSync(alien, Buffer.from([0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a]));
  rr = run(["export", alien, "--csv", path.join(tmp, "alien.csv")], { expect: 4 });
  assert.match(rr.stderr, /not a Hermes MCAP file/);
  // A damaged chunk (one bit flipped in the middle of an uncompressed file) is refused by its CRC.
  const dmg = path.join(tmp, "damaged.mcap");
  const bytes = fs.readFileSync(path.join(tmp, "afap-none.mcap"));
  bytes[bytes.length >> 1] ^= 1;
  fs.writeFileSync(dmg, bytes);
  rr = run(["export", dmg, "--csv", path.join(tmp, "damaged.csv")], { expect: 4 });
  assert.match(rr.stderr, /a chunk's CRC does not match its records \(damaged file\)/);
  // The default is zstd.
  const def = path.join(tmp, "afap-default.mcap");
  run(["export", h5, "--mcap", def]);
  check(def, json, { compression: "zstd" });
  // A recording made with --record-every and a signal subset, exported with a subset of that.
  const sub = path.join(tmp, "every.h5");
  run(["run", launchYaml, "--no-server", "--mode", "afap", "--end-time", "30", "--run-name", runName("e"),
       "--record", sub, "--record-every", "3", "--record-signals", "vehicle.*,guidance.*,hermes.rtf"]);
  const subJson = dump(sub);
  const subOut = path.join(tmp, "every.mcap");
  run(["export", sub, "--mcap", subOut, "--signals", "vehicle.position.*,guidance.phase,hermes.rtf"]);
  check(subOut, subJson, {
    compression: "zstd",
    signals: ["guidance.phase", "vehicle.position.downrange", "vehicle.position.altitude", "hermes.rtf"],
  });
  // Refusals: an unknown compression, a pattern matching nothing, an unwritable file.
  let r = run(["export", h5, "--mcap", path.join(tmp, "x.mcap"), "--compression", "brotli"], { expect: 2 });
  assert.match(r.stderr, /unknown MCAP compression 'brotli' \(zstd, lz4 or none\)/);
  r = run(["export", h5, "--mcap", path.join(tmp, "x.mcap"), "--signals", "nosuch.*"], { expect: 2 });
  assert.match(r.stderr, /nosuch/);
  r = run(["export", h5, "--mcap", path.join(tmp, "no/such/dir/x.mcap")], { expect: 4 });
  assert.match(r.stderr, /cannot create '.*no\/such\/dir\/x\.mcap': No such file or directory/);
  r = run(["export", h5, "--csv", path.join(tmp, "x.csv"), "--compression", "lz4"], { expect: 2 });
  assert.match(r.stderr, /--compression goes with --mcap/);
}

function startRun(args) {
  const child = spawn(hermes, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.logText = "";
  child.stdout.on("data", (d) => (child.logText += d));
  child.stderr.on("data", (d) => (child.logText += d));
  child.exited = new Promise((res) => child.on("exit", (code, sig) => { children.delete(child); res({ code, sig }); }));
  return child;
}

async function waitFor(child, re, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (re.test(child.logText)) return;
    await sleep(50);
  }
  throw new Error(`no ${re} in ${ms} ms:\n${child.logText}`);
}

async function caseRecord() {
  // Both formats from one run; the MCAP file equals the HDF5 recording.
  const h5 = path.join(tmp, "both.h5"), mc = path.join(tmp, "both.mcap");
  run(["run", launchYaml, "--no-server", "--mode", "afap", "--end-time", "30", "--run-name", runName("b"),
       "--record", h5, "--record", mc]);
  check(mc, dump(h5), { compression: "zstd", module_rates: "guidance" });
  // The config's record: section: record.file (HDF5) and record.mcap.
  const yh5 = path.join(tmp, "yaml.h5"), ymc = path.join(tmp, "yaml.mcap");
  const yaml = path.join(cwd, `mcap-test-${process.pid}.yaml`);
  fs.writeFileSync(yaml, fs.readFileSync(launchYaml, "utf8") +
                   `record:\n  file: ${yh5}\n  mcap: ${ymc}\n  every: 2\n`);
  try {
    run(["run", yaml, "--no-server", "--mode", "afap", "--end-time", "10", "--run-name", runName("y")]);
  } finally {
    fs.rmSync(yaml, { force: true });
  }
  check(ymc, dump(yh5), { compression: "zstd" });
  // MCAP alone, lz4, a subset, --record-every: equal to the HDF5 recording of
  // a second run of the same deterministic afap run (no timing signals).
  const only = path.join(tmp, "only.mcap"), ref = path.join(tmp, "only.h5");
  const opts = ["--no-server", "--mode", "afap", "--end-time", "20", "--record-every", "4",
                "--record-signals", "vehicle.*,guidance.phase"];
  run(["run", launchYaml, ...opts, "--run-name", runName("o"), "--record", only, "--record-compression", "lz4"]);
  run(["run", launchYaml, ...opts, "--run-name", runName("r"), "--record", ref]);
  check(only, dump(ref), { compression: "lz4", other_run: true });
  let r = run(["run", launchYaml, "--no-server", "--record", "x.mcap", "--record-compression", "snappy"], { expect: 2 });
  assert.match(r.stderr, /unknown MCAP compression 'snappy'/);
  r = run(["run", launchYaml, "--no-server", "--record", "a.mcap", "--record", "b.mcap"], { expect: 2 });
  assert.match(r.stderr, /--record is given twice for MCAP files/);
  // A full disk (a 1 MiB file size limit, SIGXFSZ ignored as a full disk
  // gives no signal): the run stops with exit status 5 and says why; the file
  // reads up to its last complete chunk.
  const full = path.join(tmp, "full.mcap");
  const fr = spawnSync("/bin/sh", ["-c", `trap '' XFSZ; ulimit -f 1024; exec "$0" "$@"`, hermes, "run", launchYaml,
                                   "--no-server", "--mode", "afap", "--end-time", "100000", "--run-name",
                                   runName("f"), "--record", full],
                       { cwd, encoding: "utf8", timeout: 60000 });
  assert.equal(fr.status, 5, `disk full: exit ${fr.status}\n${fr.stderr}`);
  assert.match(fr.stderr, /recording to '.*full\.mcap' failed after \d+ frames: cannot write '.*full\.mcap': File too large; the file holds the frames up to its last complete chunk/);
  check(full, "-", { truncated: true, min_rows: 100 });
  // A realtime run killed with SIGKILL: every complete chunk reads, and the
  // chunks closed about once a second lose at most about a second.
  const kh5 = path.join(tmp, "kill.h5"), kmc = path.join(tmp, "kill.mcap");
  const child = startRun(["run", launchYaml, "--no-server", "--mode", "realtime", "--end-time", "600",
                          "--run-name", runName("k"), "--record", kh5, "--record", kmc]);
  await waitFor(child, /event=recording /, 10000);
  await sleep(3500);
  child.kill("SIGKILL");
  const ex = await Promise.race([child.exited, sleep(10000).then(() => null)]);
  assert.ok(ex && ex.sig === "SIGKILL", "killed");
  const kjson = dump(kh5, true);
  const rows = JSON.parse(fs.readFileSync(kjson, "utf8")).rows;
  log(`killed run: HDF5 has ${rows} frames`);
  assert.ok(rows >= 200, `HDF5 of the killed run has ${rows} frames`);
  // 100 Hz for about 3.5 s: chunks closed every second leave at least ~2 s.
  check(kmc, kjson, { truncated: true, min_rows: 200 });
  // Hermes reads it too, up to its last complete chunk (hermes replay serves the same rows).
  const kcsv = path.join(tmp, "kill.csv");
  const ke = run(["export", kmc, "--csv", kcsv]);
  assert.match(ke.stdout, /run did not finish/);
  const lines = fs.readFileSync(kcsv, "utf8").trim().split("\n").length - 1;
  assert.ok(lines >= 200, `hermes export read ${lines} frames of the killed run's MCAP file`);
  spawnSync(hermes, ["clean"], { cwd, timeout: 10000 });
}

async function main() {
  const timer = setTimeout(() => { console.error("test_mcap: over 150 s"); cleanup(); process.exit(1); }, 150000);
  try {
    if (which === "export") await caseExport();
    else if (which === "record") await caseRecord();
    else throw new Error(`unknown case ${which}`);
    log(`${which}: ok`);
  } finally {
    clearTimeout(timer);
    cleanup();
  }
}

function cleanup() {
  for (const c of children) c.kill("SIGKILL");
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(`test_mcap: ${e.stack || e}`);
  process.exit(1);
});
