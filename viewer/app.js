/* Hermes built-in viewer: speaks the Hermes WebSocket protocol (docs/protocol.md)
 * to the server that served this page, shows the run's state and signals,
 * plots the chosen signals with uPlot and sends run-control commands.
 *
 * URL parameters: ?token=T is passed on to the socket (servers with an
 * auth_token); ?ws=ws://host:port/ points the page at another server (for
 * development: that server must allow this page's origin). */
'use strict';

(function () {
  const MAGIC = 0x48455254;          /* "TREH": telemetry frame magic */
  const HEALTH = ['hermes.rtf', 'hermes.overruns', 'hermes.frame_time'];
  const STORE_POINTS = 8192;         /* points kept per signal (older ones thinned) */
  const LOG_MAX = 300;               /* log entries kept */
  const STATS_PERIOD_MS = 2000;
  const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b',
                  '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  const wsOverride = params.get('ws');

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  /* ---- time series store --------------------------------------------------
   * One time column and one value column per subscribed signal, appended
   * together for each new telemetry frame, in Float64Arrays allocated once at
   * their full capacity (NaN: no value yet). When full, the older half is
   * thinned in place to every other point, so recent data keeps full
   * resolution, "since open" still spans the whole run, and memory does not
   * grow with the run's length. */
  class Store {
    constructor(capacity) {
      this.capacity = capacity & ~3;
      this.t = new Float64Array(this.capacity);
      this.cols = new Map();
      this.n = 0;
    }
    clear() { this.n = 0; }
    get length() { return this.n; }
    ensure(name) {
      if (!this.cols.has(name))
        this.cols.set(name, new Float64Array(this.capacity).fill(NaN));
    }
    drop(name) { this.cols.delete(name); }
    /* values: Map name -> number for the signals of this frame. A frame with the
     * same time as the last point (a paused run) replaces that point. */
    push(time, values) {
      let n = this.n;
      if (n > 0 && time === this.t[n - 1]) {
        n--;
      } else {
        if (n >= this.capacity)
          n = this.thin();
        this.n = n + 1;
      }
      this.t[n] = time;
      for (const [name, col] of this.cols)
        col[n] = values.has(name) ? values.get(name) : NaN;
    }
    thin() {
      const half = this.capacity >> 1;
      const q = half >> 1;
      const squeeze = (a) => {
        for (let i = 0; i < q; i++)
          a[i] = a[2 * i];
        a.copyWithin(q, half, this.n);
      };
      squeeze(this.t);
      for (const col of this.cols.values())
        squeeze(col);
      this.n = q + (this.n - half);
      return this.n;
    }
    /* First index with t >= time (binary search). */
    indexFrom(time) {
      let lo = 0, hi = this.n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.t[mid] < time) lo = mid + 1; else hi = mid;
      }
      return lo;
    }
    /* Values i0..n of a column for uPlot: a view when every value is a number,
     * else a copy with null (a gap) for NaN. */
    series(name, i0) {
      const col = this.cols.get(name);
      if (!col)
        return new Array(this.n - i0).fill(null);
      const v = col.subarray(i0, this.n);
      for (let i = 0; i < v.length; i++)
        if (v[i] !== v[i])
          return Array.from(v, (x) => (x === x ? x : null));
      return v;
    }
  }

  /* ---- state --------------------------------------------------------------- */
  const S = {
    ws: null,
    schemaSeen: false,       /* this socket got its schema */
    retryMs: 500,
    retryTimer: null,
    retryAt: 0,
    connState: 'connecting',
    schema: null,
    tree: null,              /* the signal list (tree.js) */
    treeMarks: new Map(),    /* name -> {plotted, table} as the tree shows it */
    timing: {},              /* performance.now() of the last schema's steps (tests) */
    runId: null,
    signals: window.HermesTree.index({}),  /* tree.js index: qualified name -> {name, module, local, type, unit, writable} */
    role: '',
    readOnlyServer: false,
    readOnlyReason: '',
    state: 'unknown',
    frame: null,
    time: null,
    layout: [],              /* subscribed names in payload order */
    subPending: 0,           /* subscribes sent and not yet answered */
    subscribedKey: '',
    latest: new Map(),       /* name -> last value */
    store: new Store(Number(params.get('points')) > 16 ? Number(params.get('points')) : STORE_POINTS),
    charts: [],
    selected: null,
    chartSeq: 0,
    tableNames: [],          /* added to the values table without a plot */
    nextId: 1,
    pending: new Map(),      /* command id -> {action, ok, fail} */
    framesHandled: 0,
    framesIgnored: 0,
    fps: 0,
    fpsCount: 0,
    stats: null,
    dirty: true,
    dirtyTree: false,
  };

  /* ---- URLs ------------------------------------------------------------------ */
  function wsUrl() {
    let u;
    if (wsOverride) {
      u = new URL(wsOverride, location.href);
    } else {
      u = new URL('/', location.href);
      u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    }
    if (token !== null)
      u.searchParams.set('token', token);
    return u.toString();
  }

  /* The same server over HTTP, with the token: a browser sees a refused
   * WebSocket handshake only as a failed connection, so the page asks this
   * URL for the status the server gives the token (401 wrong token, ...). */
  function probeUrl() {
    const u = new URL(wsUrl());
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    return u.toString();
  }

  /* ---- log ------------------------------------------------------------------- */
  function log(kind, text) {
    const ol = $('log');
    const li = el('li', 'log-' + kind);
    const ts = new Date();
    li.appendChild(el('time', 'dim', ts.toTimeString().slice(0, 8)));
    li.appendChild(el('span', 'kind', kind));
    li.appendChild(el('span', 'msg', text));
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > LOG_MAX)
      ol.removeChild(ol.lastChild);
  }

  /* ---- connection -------------------------------------------------------------- */
  function setConn(state, text) {
    S.connState = state;
    const c = $('conn');
    c.dataset.state = state;
    c.className = 'badge conn-' + state;
    c.textContent = text;
    S.dirty = true;
  }

  function banner(text) {
    const b = $('banner');
    b.textContent = text || '';
    b.hidden = !text;
  }

  function connect() {
    S.retryTimer = null;
    S.schemaSeen = false;
    let ws;
    try {
      ws = new WebSocket(wsUrl(), 'hermes');
    } catch (e) {
      setConn('refused', 'bad server address');
      banner('Cannot connect to ' + wsUrl() + ': ' + e.message);
      return;
    }
    ws.binaryType = 'arraybuffer';
    S.ws = ws;
    if (S.connState !== 'reconnecting')
      setConn('connecting', 'connecting…');
    ws.onmessage = (ev) => {
      if (ws !== S.ws)
        return;
      if (typeof ev.data === 'string')
        onText(ev.data);
      else
        onBinary(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws !== S.ws)
        return;
      S.ws = null;
      onClosed(ev);
    };
  }

  function scheduleReconnect() {
    const wait = S.retryMs;
    S.retryMs = Math.min(S.retryMs * 2, 5000);
    S.retryAt = performance.now() + wait;
    S.retryTimer = setTimeout(connect, wait);
  }

  async function onClosed(ev) {
    for (const p of S.pending.values())
      if (p.fail)
        p.fail('connection lost before the answer');
    S.pending.clear();
    S.subPending = 0;
    S.subscribedKey = '';
    S.layout = [];
    const wasLive = S.schemaSeen;
    S.schemaSeen = false;
    S.dirty = true;
    if (wasLive) {
      /* a live connection ended: server stopping (1001), restarted, dropped */
      const why = ev.code === 1001 ? 'server stopped' :
                  ev.code === 1008 ? 'closed by the server: ' + (ev.reason || 'policy') :
                  'connection lost';
      log(ev.code === 1001 ? 'info' : 'error', why + ' (close code ' + ev.code + '); reconnecting');
      S.retryMs = 500;
      setConn('reconnecting', why + ': reconnecting…');
      scheduleReconnect();
      return;
    }
    /* the handshake failed: ask the server over HTTP why */
    let status = 0;
    try {
      const r = await fetch(probeUrl(), { method: 'HEAD', cache: 'no-store', credentials: 'omit' });
      status = r.status;
    } catch (e) {
      status = -1;           /* server not reachable (or another origin in development) */
    }
    if (status === 401) {
      const msg = token === null
        ? 'This server needs a token: open this page as ' + tokenUrlHint() + ' with the server\'s token (server.auth_token or HERMES_AUTH_TOKEN).'
        : 'Wrong token: the server refused the token given in this page\'s URL (HTTP 401). Open the page with the server\'s token: ' + tokenUrlHint() + '.';
      if (S.connState !== 'refused')
        log('error', msg);
      setConn('refused', token === null ? 'token needed' : 'wrong token');
      banner(msg);
      S.retryMs = 10000;
      scheduleReconnect();
    } else if (status === 403) {
      const msg = 'The server refused this page\'s origin (HTTP 403): add ' + location.origin + ' to server.allowed_origins.';
      if (S.connState !== 'refused')
        log('error', msg);
      setConn('refused', 'origin refused');
      banner(msg);
      S.retryMs = 10000;
      scheduleReconnect();
    } else if (status === 503) {
      setConn('reconnecting', 'server busy or stopping: retrying…');
      banner('');
      scheduleReconnect();
    } else if (status === -1) {
      setConn('reconnecting', 'server not reachable: retrying…');
      banner('');
      scheduleReconnect();
    } else {
      /* the page is served but the socket refused: the HTTP route does not
       * say why (token, origin or capacity; the server's log has
       * event=client_refused with the reason) */
      const msg = 'The server answers HTTP (status ' + status + ') but refused the WebSocket connection' +
        (token !== null ? ': probably a wrong token' : '') +
        '. Its log line event=client_refused gives the reason.';
      if (S.connState !== 'refused')
        log('error', msg);
      setConn('refused', 'connection refused');
      banner(msg);
      scheduleReconnect();
    }
  }

  function tokenUrlHint() {
    const u = new URL(location.href);
    u.searchParams.set('token', 'TOKEN');
    return u.toString().replace('TOKEN', '…');
  }

  function send(obj, ok, fail) {
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN) {
      if (fail)
        fail('not connected');
      return false;
    }
    const id = S.nextId++;
    obj.id = id;
    S.pending.set(id, { action: obj.action, ok, fail });
    S.ws.send(JSON.stringify(obj));
    return true;
  }

  /* ---- messages ---------------------------------------------------------------- */
  function onText(text) {
    const received = performance.now();
    let m;
    try {
      m = JSON.parse(text);
    } catch (e) {
      log('error', 'unreadable message from the server: ' + e.message);
      return;
    }
    switch (m.type) {
    case 'schema':
      S.timing = { received, parsed: performance.now(), bytes: text.length };
      onSchema(m);
      S.timing.applied = performance.now();
      document.dispatchEvent(new CustomEvent('hermes-schema'));
      break;
    case 'ack': onAck(m); break;
    case 'error': onError(m); break;
    case 'event': onEvent(m); break;
    default: break;            /* unknown types are ignored (newer servers) */
    }
  }

  function onSchema(m) {
    const newRun = m.run_id !== S.runId;
    S.schema = m;
    S.schemaSeen = true;
    S.retryMs = 500;
    S.runId = m.run_id;
    S.role = m.role || 'controller';
    S.readOnlyServer = m.control === false;
    S.readOnlyReason = S.readOnlyServer ? 'this server is read-only (it accepts no run-control commands)' : '';
    S.state = m.state || 'unknown';
    S.frame = typeof m.frame === 'number' ? m.frame : null;
    S.signals = window.HermesTree.index(m.modules);   /* get(name), has(name), size */
    banner('');
    setConn('connected', 'connected');
    $('server-version').textContent = m.server || '';
    $('run-id').textContent = m.run_id ? 'run ' + m.run_id : '';
    $('st-mode').textContent = (m.mode || '—') + (m.rate_hz ? ' @ ' + m.rate_hz + ' Hz' : '');
    $('seek-group').hidden = m.seek !== true;
    log('info', 'connected to ' + (m.server || 'server') + ', run ' + m.run_id + ', ' +
        S.signals.size + ' signals, role ' + S.role + (S.readOnlyServer ? ', read-only server' : ''));
    /* keep plots and table across reconnects, minus signals that are gone */
    for (const c of S.charts) {
      const keep = c.names.filter((n) => S.signals.has(n));
      if (keep.length !== c.names.length || newRun) {
        c.names = keep;
        rebuildChart(c);
      }
    }
    S.tableNames = S.tableNames.filter((n) => S.signals.has(n));
    if (newRun)
      S.store.clear();
    S.latest.clear();
    S.timing.mapped = performance.now();
    S.tree.set(S.signals);
    S.timing.listed = performance.now();
    markTree();
    buildTable();
    resubscribe();
    sendStats();
    S.dirty = true;
  }

  function onAck(m) {
    const p = S.pending.get(m.id);
    S.pending.delete(m.id);
    switch (m.action) {
    case 'subscribe':
      S.subPending = Math.max(0, S.subPending - 1);
      S.layout = Array.isArray(m.signals) ? m.signals : [];
      break;
    case 'stats':
      S.stats = m;
      break;
    case 'pause': case 'resume': case 'reset': case 'step':
      if (m.state)
        S.state = m.state;
      log('ack', m.action + (m.action === 'step' ? ' ' + m.count + ' → frame ' + m.frame : '') +
          ': ok (state ' + m.state + ')');
      break;
    case 'set':
      log('ack', 'set ' + m.signal + ' = ' + m.value + ': ok');
      break;
    case 'checkpoint':
      log('ack', 'checkpoint: written as ' + m.file + ' in the run\'s checkpoint folder');
      break;
    case 'seek':
      S.store.clear();         /* plots start again at the new position */
      log('ack', 'seek: ok' + (m.frame !== undefined ? ' (frame ' + m.frame + ')' : ''));
      break;
    default:
      break;
    }
    if (p && p.ok)
      p.ok(m);
    S.dirty = true;
  }

  function onError(m) {
    const p = m.id !== undefined ? S.pending.get(m.id) : undefined;
    if (m.id !== undefined)
      S.pending.delete(m.id);
    if (m.action === 'subscribe' || (p && p.action === 'subscribe')) {
      S.subPending = Math.max(0, S.subPending - 1);
      S.subscribedKey = '';
    }
    const msg = String(m.message || 'error');
    if (/read-only/.test(msg) && /server/.test(msg) && !S.readOnlyServer) {
      S.readOnlyServer = true;
      S.readOnlyReason = msg;
    }
    log('error', (m.action ? m.action + ': ' : '') + msg);
    if (p && p.fail)
      p.fail(msg);
    S.dirty = true;
  }

  function onEvent(m) {
    const e = m.event;
    if (e === 'reset') {
      S.state = 'paused';
      S.store.clear();
    } else if (['running', 'paused', 'stopped', 'error'].includes(e)) {
      S.state = e;
    }
    if (typeof m.frame === 'number')
      S.frame = m.frame;
    if (e === 'error')
      log('error', 'run error at frame ' + m.frame + ': ' + (m.message || ''));
    else
      log('event', e + (typeof m.frame === 'number' ? ' at frame ' + m.frame : '') +
          (m.message ? ': ' + m.message : ''));
    S.dirty = true;
  }

  const frameValues = new Map();
  function onBinary(buf) {
    if (buf.byteLength < 24)
      return;
    const dv = new DataView(buf);
    if (dv.getUint32(0, true) !== MAGIC)
      return;
    const count = dv.getUint32(20, true);
    /* frames sent for an older subscription are skipped */
    if (S.subPending > 0 || count !== S.layout.length || buf.byteLength !== 24 + 8 * count) {
      S.framesIgnored++;
      return;
    }
    const frame = Number(dv.getBigUint64(4, true));
    const time = dv.getFloat64(12, true);
    if (S.time !== null && time < S.time)
      S.store.clear();       /* reset or a seek backwards: time starts again */
    frameValues.clear();
    for (let i = 0; i < count; i++) {
      const v = dv.getFloat64(24 + 8 * i, true);
      frameValues.set(S.layout[i], v);
      S.latest.set(S.layout[i], v);
    }
    S.frame = frame;
    S.time = time;
    S.store.push(time, frameValues);
    S.framesHandled++;
    S.fpsCount++;
    S.dirty = true;
  }

  /* ---- subscriptions ------------------------------------------------------------ */
  function wanted() {
    const out = [];
    const add = (n) => { if (S.signals.has(n) && !out.includes(n)) out.push(n); };
    HEALTH.forEach(add);
    for (const c of S.charts)
      c.names.forEach(add);
    S.tableNames.forEach(add);
    return out;
  }

  let resubQueued = false;
  function resubscribe() {
    if (resubQueued)
      return;
    resubQueued = true;
    Promise.resolve().then(() => {
      resubQueued = false;
      if (!S.schemaSeen)
        return;
      const names = wanted();
      const key = names.join('\n');
      if (key === S.subscribedKey)
        return;
      for (const n of names)
        S.store.ensure(n);
      for (const n of Array.from(S.store.cols.keys()))
        if (!names.includes(n))
          S.store.drop(n);
      S.subscribedKey = key;
      S.subPending++;
      send({ action: 'subscribe', params: { signals: names } });
    });
  }

  function sendStats() {
    if (S.schemaSeen)
      send({ action: 'stats' });
  }

  /* ---- run control -------------------------------------------------------------- */
  function controlBlock() {
    if (!S.schemaSeen)
      return 'not connected';
    if (S.readOnlyServer)
      return S.readOnlyReason || 'this server is read-only';
    if (S.role === 'observer')
      return 'observer connection (read-only): open the page with ?token=… to control the run';
    return '';
  }

  function command(action, params) {
    const obj = { action };
    if (params)
      obj.params = params;
    send(obj);
  }

  function wireControls() {
    $('btn-pause').onclick = () => command('pause');
    $('btn-resume').onclick = () => command('resume');
    $('btn-reset').onclick = () => command('reset');
    $('btn-checkpoint').onclick = () => command('checkpoint');
    $('btn-step').onclick = () => {
      const n = Number($('step-count').value);
      if (!Number.isInteger(n) || n < 1) {
        log('error', 'step: the frame count must be an integer >= 1, got "' + $('step-count').value + '"');
        return;
      }
      command('step', { count: n });
    };
    $('btn-seek').onclick = () => {
      const t = Number($('seek-time').value);
      if (!Number.isFinite(t) || t < 0) {
        log('error', 'seek: the time must be a number >= 0');
        return;
      }
      command('seek', { time: t });
    };
    $('btn-add-chart').onclick = () => { addChart([]); };
    $('window').onchange = () => { S.dirty = true; };
    $('btn-clear-log').onclick = () => { $('log').textContent = ''; };
    $('filter').oninput = () => S.tree.filter($('filter').value);
    $('filter').onkeydown = (ev) => {
      if (ev.key === 'ArrowDown' || ev.key === 'Enter') {
        ev.preventDefault();
        S.tree.focusFirst();
      }
    };
  }

  function updateControls() {
    const block = controlBlock();
    const st = S.state;
    const can = block === '';
    const unknown = st === 'unknown';   /* a host without a state query: let the server decide */
    $('btn-pause').disabled = !can || !(st === 'running' || unknown);
    $('btn-resume').disabled = !can || !(st === 'paused' || unknown);
    $('btn-step').disabled = !can || !(st === 'paused' || unknown);
    $('step-count').disabled = !can;
    $('btn-reset').disabled = !can || st === 'stopped';
    $('btn-checkpoint').disabled = !can || st === 'stopped' || st === 'error';
    $('btn-seek').disabled = !can;
    let reason = block;
    if (!reason && (st === 'stopped' || st === 'error'))
      reason = 'the run has ended (' + st + ')';
    const r = $('control-reason');
    if (r.textContent !== reason)
      r.textContent = reason;
    const controls = $('controls');
    controls.dataset.enabled = can ? 'yes' : 'no';
    /* runs every drawn frame: look inside the table only (a document-wide
     * 'button' query checks every row of the tree: 0.5 s with 10^5 signals) */
    for (const b of $('values').querySelectorAll('.set button, .set input')) {
      b.disabled = !can;
      b.title = can ? '' : block;
    }
  }

  /* ---- signal tree ----------------------------------------------------------------
   * The list itself is tree.js (virtualised: only the rows in view are in the
   * DOM). Here: what a click does, and the marks it shows. */
  function markTree() {
    const want = new Map();   /* name -> {plotted, table} */
    const get = (n) => want.get(n) || want.set(n, { plotted: false, table: false }).get(n);
    for (const c of S.charts)
      c.names.forEach((n) => { get(n).plotted = true; });
    S.tableNames.forEach((n) => { get(n).table = true; });
    S.treeMarks = want;
    if (S.tree)
      S.tree.refresh();
  }

  function onTreeTable(name) {
    if (!S.tableNames.includes(name))
      S.tableNames.push(name);
    else if (!plottedAnywhere(name))
      S.tableNames = S.tableNames.filter((n) => n !== name);
    changed();
  }

  function onTreePlot(name) {
    let c = S.selected;
    if (!c || !S.charts.includes(c))
      c = S.charts[S.charts.length - 1] || addChart([]);
    if (c.names.includes(name))
      c.names = c.names.filter((n) => n !== name);
    else
      c.names = c.names.concat([name]);
    rebuildChart(c);
    changed();
  }

  function plottedAnywhere(name) {
    return S.charts.some((c) => c.names.includes(name));
  }

  function changed() {
    buildTable();
    markTree();
    resubscribe();
    S.dirty = true;
  }

  /* ---- charts ------------------------------------------------------------------------ */
  function windowSeconds() {
    return Number($('window').value);
  }

  function addChart(names) {
    const c = { id: ++S.chartSeq, names: names.slice(), plot: null, auto: true, fixed: null };
    const card = el('div', 'chart');
    card.dataset.chart = String(c.id);
    const head = el('div', 'chart-head');
    head.appendChild(el('span', 'chart-title', 'Chart ' + c.id));
    const chips = el('span', 'chips');
    head.appendChild(chips);
    const auto = el('label', 'autoscale');
    const cb = el('input');
    cb.type = 'checkbox';
    cb.checked = true;
    auto.appendChild(cb);
    auto.appendChild(document.createTextNode(' autoscale'));
    head.appendChild(auto);
    const rm = el('button', 'small remove-chart', 'remove');
    rm.type = 'button';
    head.appendChild(rm);
    card.appendChild(head);
    const body = el('div', 'chart-body');
    card.appendChild(body);
    const empty = el('div', 'chart-empty dim', 'Click signals in the list to plot them here.');
    card.appendChild(empty);
    c.card = card; c.body = body; c.chips = chips; c.empty = empty; c.cb = cb;
    cb.onchange = () => {
      c.auto = cb.checked;
      if (!c.auto && c.plot)
        c.fixed = [c.plot.scales.y.min, c.plot.scales.y.max];
      S.dirty = true;
    };
    rm.onclick = (ev) => {
      ev.stopPropagation();
      if (c.plot)
        c.plot.destroy();
      card.remove();
      S.charts = S.charts.filter((x) => x !== c);
      if (S.selected === c)
        select(S.charts[S.charts.length - 1] || null);
      changed();
    };
    card.onclick = () => select(c);
    $('charts').appendChild(card);
    S.charts.push(c);
    select(c);
    rebuildChart(c);
    return c;
  }

  function select(c) {
    S.selected = c;
    for (const x of S.charts)
      x.card.classList.toggle('selected', x === c);
  }

  function chartWidth(c) {
    return Math.max(300, c.card.clientWidth - 16);
  }

  function rebuildChart(c) {
    if (c.plot) {
      c.plot.destroy();
      c.plot = null;
    }
    c.chips.textContent = '';
    c.names.forEach((n, i) => {
      const chip = el('span', 'chip');
      chip.dataset.signal = n;
      const sw = el('span', 'swatch');
      sw.style.background = COLORS[i % COLORS.length];
      chip.appendChild(sw);
      chip.appendChild(document.createTextNode(n));
      const x = el('button', 'small chip-x', '×');
      x.type = 'button';
      x.title = 'remove ' + n + ' from this chart';
      x.onclick = (ev) => {
        ev.stopPropagation();
        c.names = c.names.filter((m) => m !== n);
        rebuildChart(c);
        changed();
      };
      chip.appendChild(x);
      c.chips.appendChild(chip);
    });
    c.empty.hidden = c.names.length > 0;
    c.card.dataset.signals = c.names.join(' ');
    c.card.dataset.points = '0';
    if (c.names.length === 0 || typeof uPlot === 'undefined')
      return;
    /* legend: the values at the cursor, or the newest ones when the cursor is
     * elsewhere */
    const newest = (u, sidx) => {
      const col = u.data[sidx];
      return col && col.length ? col[col.length - 1] : null;
    };
    const series = [{ label: 'sim time (s)',
                      value: (u, v, sidx, idx) => {
                        const x = idx == null ? newest(u, 0) : v;
                        return x == null ? '—' : x.toFixed(3);
                      } }];
    c.names.forEach((n, i) => {
      const s = S.signals.get(n);
      series.push({
        label: n + (s && s.unit ? ' [' + s.unit + ']' : ''),
        stroke: COLORS[i % COLORS.length],
        width: 1.5,
        points: { show: false },
        value: (u, v, sidx, idx) => fmt(idx == null ? newest(u, sidx) : v, s ? s.type : 'f64'),
      });
    });
    const opts = {
      width: chartWidth(c),
      height: 220,
      series,
      scales: {
        x: { time: false, range: (u, min, max) => xRange(c, min, max) },
        y: { range: (u, min, max) => yRange(c, min, max) },
      },
      axes: [{ label: 'sim time (s)' },
             { values: (u, splits) => splits.map(axisLabel),
               size: (u, values) => 16 + 7 * Math.max(3, ...(values || []).map((v) => v.length)) }],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    };
    c.plot = new uPlot(opts, chartData(c), c.body);
  }

  /* A fixed-width window that scrolls once the data fills it. */
  function xRange(c, min, max) {
    const w = windowSeconds();
    if (c.lastT !== undefined && c.lastT !== null && w > 0) {
      const first = S.store.length ? S.store.t[0] : c.lastT;
      return c.lastT - w < first ? [first, first + w] : [c.lastT - w, c.lastT];
    }
    if (min === null || max === null || !(max > min))
      return [min === null ? 0 : min, (min === null ? 0 : min) + 1];
    return [min, max];
  }

  function yRange(c, min, max) {
    if (!c.auto && c.fixed && Number.isFinite(c.fixed[0]) && Number.isFinite(c.fixed[1]))
      return c.fixed;
    if (min === null || max === null)
      return [0, 1];
    if (min === max) {
      const d = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
      return [min - d, max + d];
    }
    const pad = (max - min) * 0.05;
    return [min - pad, max + pad];
  }

  function chartData(c) {
    const st = S.store;
    const w = windowSeconds();
    const n = st.length;
    const lastT = n ? st.t[n - 1] : null;
    const i0 = (w > 0 && n) ? st.indexFrom(lastT - w) : 0;
    c.lastT = lastT;
    const data = [st.t.subarray(i0, n)];
    for (const name of c.names)
      data.push(st.series(name, i0));
    c.card.dataset.points = String(n - i0);
    return data;
  }

  function renderCharts() {
    for (const c of S.charts)
      if (c.plot)
        c.plot.setData(chartData(c));
  }

  /* ---- values table ------------------------------------------------------------------ */
  function shownNames() {
    const out = [];
    for (const c of S.charts)
      for (const n of c.names)
        if (!out.includes(n))
          out.push(n);
    for (const n of S.tableNames)
      if (!out.includes(n))
        out.push(n);
    return out;
  }

  function buildTable() {
    const tbody = document.querySelector('#values tbody');
    tbody.textContent = '';
    const names = shownNames().filter((n) => S.signals.has(n));
    $('values-empty').hidden = names.length > 0;
    for (const n of names) {
      const s = S.signals.get(n);
      const tr = el('tr');
      tr.dataset.signal = n;
      tr.appendChild(el('td', 'name', n));
      const v = el('td', 'num val', '—');
      v.dataset.signal = n;
      tr.appendChild(v);
      tr.appendChild(el('td', 'unit', s.unit));
      tr.appendChild(el('td', 'type', s.type));
      const setTd = el('td', 'set');
      if (s.writable) {
        const form = el('form', 'set-form');
        const inp = el('input');
        inp.type = 'text';
        inp.size = 10;
        inp.placeholder = s.type === 'bool' ? 'true / false' : 'value';
        inp.setAttribute('aria-label', 'new value for ' + n);
        const b = el('button', 'small', 'Set');
        b.type = 'submit';
        const status = el('span', 'set-status');
        /* born with the current control state, not only at the next redraw */
        const block = controlBlock();
        inp.disabled = b.disabled = block !== '';
        b.title = block;
        form.appendChild(inp);
        form.appendChild(b);
        form.appendChild(status);
        form.onsubmit = (ev) => {
          ev.preventDefault();
          setSignal(s, inp.value, status);
        };
        setTd.appendChild(form);
      }
      tr.appendChild(setTd);
      const rmTd = el('td');
      const rm = el('button', 'small', '×');
      rm.type = 'button';
      rm.title = 'remove ' + n + ' from the table and the charts';
      rm.onclick = () => {
        S.tableNames = S.tableNames.filter((m) => m !== n);
        for (const c of S.charts) {
          if (c.names.includes(n)) {
            c.names = c.names.filter((m) => m !== n);
            rebuildChart(c);
          }
        }
        changed();
      };
      rmTd.appendChild(rm);
      tr.appendChild(rmTd);
      tbody.appendChild(tr);
    }
    S.dirty = true;
  }

  function setSignal(s, text, status) {
    const t = text.trim();
    let value;
    if (s.type === 'bool' && /^(true|false)$/i.test(t))
      value = t.toLowerCase() === 'true';
    else if (t !== '' && Number.isFinite(Number(t)))
      value = Number(t);
    else {
      status.className = 'set-status err';
      status.textContent = 'not a number: "' + t + '"';
      return;
    }
    status.className = 'set-status wait';
    status.textContent = 'sending…';
    send({ action: 'set', params: { signal: s.name, value } },
      (ack) => { status.className = 'set-status ok'; status.textContent = '✓ set to ' + ack.value; },
      (msg) => { status.className = 'set-status err'; status.textContent = msg; });
  }

  function axisLabel(v) {
    if (v === 0 || !Number.isFinite(v))
      return String(v);
    const a = Math.abs(v);
    if (a < 1e-3 || a >= 1e7)
      return v.toExponential(2);
    return String(Number(v.toPrecision(4)));
  }

  function fmt(v, type) {
    if (v === null || v === undefined)
      return '—';
    if (type === 'bool')
      return v ? 'true' : 'false';
    if (!Number.isFinite(v))
      return String(v);
    if (type === 'i32' || type === 'i64')
      return String(Math.round(v));
    return String(Number(v.toPrecision(8)));
  }

  /* ---- rendering ------------------------------------------------------------------------ */
  function renderStatus() {
    const stEl = $('st-state');
    const state = S.schemaSeen ? S.state : (S.schema ? S.state + ' (last seen)' : '—');
    stEl.textContent = state;
    stEl.dataset.state = S.state;
    $('st-frame').textContent = S.frame === null ? '—' : String(S.frame);
    $('st-time').textContent = S.time === null ? '—' : S.time.toFixed(3) + ' s';
    const rtf = S.latest.get('hermes.rtf');
    $('st-rtf').textContent = rtf === undefined ? '—' : rtf.toFixed(3);
    const ov = S.latest.get('hermes.overruns');
    $('st-overruns').textContent = ov === undefined ? '—' : String(Math.round(ov));
    $('st-overruns').classList.toggle('warn', ov > 0);
    const ft = S.latest.get('hermes.frame_time');
    $('st-frametime').textContent = ft === undefined ? '—' : (ft * 1e3).toFixed(3) + ' ms';
    $('st-fps').textContent = S.schemaSeen ? S.fps + ' frames/s' : '—';
    $('st-stats').textContent = S.stats ? S.stats.sent + ' / ' + S.stats.dropped : '—';
    $('st-stats').classList.toggle('warn', !!(S.stats && S.stats.dropped > 0));
    $('role').textContent = S.schemaSeen ? S.role + (S.readOnlyServer ? ', read-only server' : '') : '';
    $('role').dataset.role = S.schemaSeen ? S.role : '';
    if (S.retryTimer && S.connState !== 'connected') {
      const secs = Math.max(0, Math.ceil((S.retryAt - performance.now()) / 1000));
      const c = $('conn');
      const base = c.textContent.replace(/ \(retry in \d+ s\)$/, '');
      c.textContent = base + ' (retry in ' + secs + ' s)';
    }
  }

  function renderValues() {
    for (const td of document.querySelectorAll('#values td.val')) {
      const n = td.dataset.signal;
      const s = S.signals.get(n);
      const v = S.latest.get(n);
      const text = fmt(v, s ? s.type : 'f64');
      if (td.textContent !== text)
        td.textContent = text;
    }
  }

  function frame() {
    if (S.dirty) {
      S.dirty = false;
      renderStatus();
      updateControls();
      renderValues();
      renderCharts();
    }
    requestAnimationFrame(frame);
  }

  function resize() {
    for (const c of S.charts)
      if (c.plot)
        c.plot.setSize({ width: chartWidth(c), height: 220 });
  }

  /* ---- start ------------------------------------------------------------------------------ */
  function start() {
    wireControls();
    S.tree = window.HermesTree.create($('tree'), {
      plot: onTreePlot,
      table: onTreeTable,
      marks: (n) => S.treeMarks.get(n),
    });
    window.addEventListener('resize', resize);
    if (typeof uPlot === 'undefined')
      log('error', 'uPlot did not load: charts are off (the values table still works)');
    addChart([]);
    setInterval(() => {
      S.fps = S.fpsCount;
      S.fpsCount = 0;
      S.dirty = true;
    }, 1000);
    setInterval(sendStats, STATS_PERIOD_MS);
    setInterval(() => { if (S.retryTimer) S.dirty = true; }, 500);
    /* read-only figures for tests and benchmarks; charts() draws first, as the
     * charts hold views of the store, which thins in place between draws */
    window.hermesViewer = Object.freeze({
      framesHandled: () => S.framesHandled,
      framesIgnored: () => S.framesIgnored,
      subscribed: () => S.layout.slice(),
      storePoints: () => S.store.length,
      state: () => S.state,
      frame: () => S.frame,
      /* the last schema: received (before JSON.parse), parsed, applied (list
       * and table ready), as performance.now(); the event hermes-schema on
       * document follows */
      timing: () => Object.assign({}, S.timing),
      charts: () => (renderCharts(), S.charts).map((c) => ({
        names: c.names.slice(),
        points: c.plot ? c.plot.data[0].length : 0,
        times: c.plot ? Array.from(c.plot.data[0]) : [],
        last: c.plot ? c.plot.data.slice(1).map((col) => col.length ? col[col.length - 1] : null) : [],
      })),
    });
    connect();
    requestAnimationFrame(frame);
  }

  if (document.readyState === 'loading')
    document.addEventListener('DOMContentLoaded', start);
  else
    start();
})();
