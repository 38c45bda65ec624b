/* Hermes built-in viewer: the signal list, a virtualised tree (module headers
 * and signal rows of one fixed height; only the rows in view exist in the DOM).
 *
 * The list is a flat sequence of rows: each module's header, then its signals
 * when it is open. Only the rows in view, plus OVERSCAN above and below, are
 * elements (a pool reused as the list scrolls); a spacer gives the scroll
 * height of all rows. The filter tests the schema's names, one regular
 * expression per module (a narrower filter only the previous hits), and never touches the DOM beyond
 * the rows in view, so the schema, a filter, opening a module of 5,000 rows
 * or a click cost the same DOM work with 10^5 signals as with 10.
 *
 * window.HermesTree.create(root, hooks) -> tree; hooks:
 *   plot(name)   a signal row was clicked (or Enter/Space on it)
 *   table(name)  its ▦ button was clicked (or the key t)
 *   marks(name)  -> {plotted, table} or undefined: how the row is marked
 * tree.set(index)    index: HermesTree.index(schema.modules); keeps the
 *                    modules' open state
 * tree.filter(text)  substring of the qualified name, case-insensitive
 * tree.refresh()     redraw the rows in view (marks changed)
 * tree.focusFirst()  move the keyboard cursor to the first signal and focus */
'use strict';

(function () {
  const ROW_H = 22;          /* px, every row: style.css li.row */
  const OVERSCAN = 8;        /* rows made above and below the view */
  const MANY = 300;          /* above this many signals, long modules start closed */
  const LONG = 50;

  /* The schema's signals without an object per signal made up front (10^5 of
   * them cost the page 0.15-0.2 s and as much again in garbage collection):
   * a module's name map is made at its first lookup, a signal's record
   * {name (qualified), module, local, type, unit, writable} when it is first
   * shown or looked up. Module names have no dot (docs/config.md). */
  class SignalIndex {
    constructor(modules) {
      this.mods = [];
      this.byName = new Map();
      this.size = 0;
      for (const name of Object.keys(modules || {})) {
        const raw = (modules[name] && modules[name].signals) || [];
        const m = { name, raw, map: null, recs: new Map() };
        this.mods.push(m);
        this.byName.set(name, m);
        this.size += raw.length;
      }
    }
    get(q) {
      const dot = q.indexOf('.');
      const m = dot > 0 ? this.byName.get(q.slice(0, dot)) : undefined;
      if (!m)
        return undefined;
      if (!m.map) {
        m.map = new Map();
        m.raw.forEach((s, i) => m.map.set(s.name, i));
      }
      const i = m.map.get(q.slice(dot + 1));
      return i === undefined ? undefined : this.record(m, i);
    }
    has(q) {
      return this.get(q) !== undefined;
    }
    record(m, i) {
      let r = m.recs.get(i);
      if (!r) {
        const s = m.raw[i];
        r = { name: m.name + '.' + s.name, module: m.name, local: s.name, type: s.type,
              unit: s.unit || '', writable: !!s.writable };
        m.recs.set(i, r);
      }
      return r;
    }
  }

  const esc = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  /* Indexes i (of from, or all of m.raw) whose qualified name "mod.local"
   * contains f (lower case), ignoring case, without making the qualified
   * names: f is inside "mod." (every signal), inside the local name, or
   * crosses the dot as A.B with A ending the module name and B starting the
   * local name. One regular expression per module, no string per signal. */
  function match(m, f, from) {
    const raw = m.raw;
    const n = from ? from.length : raw.length;
    const mod = m.name.toLowerCase();
    const hits = [];
    if ((mod + '.').includes(f)) {
      for (let j = 0; j < n; j++)
        hits.push(from ? from[j] : j);
      return hits;
    }
    const alts = [esc(f)];
    for (let k = f.indexOf('.'); k >= 0; k = f.indexOf('.', k + 1))
      if (mod.endsWith(f.slice(0, k)))
        alts.push('^' + esc(f.slice(k + 1)));
    const re = new RegExp(alts.join('|'), 'i');
    for (let j = 0; j < n; j++) {
      const i = from ? from[j] : j;
      if (re.test(raw[i].name))
        hits.push(i);
    }
    return hits;
  }

  function span(cls, text) {
    const e = document.createElement('span');
    e.className = cls;
    e.textContent = text;
    return e;
  }

  function create(root, hooks) {
    const spacer = document.createElement('div');
    spacer.className = 'tree-spacer';
    const ul = document.createElement('ul');
    ul.className = 'tree-rows';
    ul.setAttribute('role', 'presentation');
    root.textContent = '';
    root.appendChild(spacer);
    root.appendChild(ul);
    root.tabIndex = 0;
    root.setAttribute('role', 'tree');

    const T = {
      mods: [],              /* {name, sigs, open, fopen, hits: null | [signal]} */
      text: null,            /* the filter applied (lower case) */
      shown: [],             /* modules with rows, in order */
      starts: [],            /* row index of each shown module's header */
      rows: 0,
      cursor: -1,            /* keyboard row, -1: none */
      pool: [],              /* the li elements, rows first..first+pool.length-1 */
      top: 0,                /* scrollTop and height of the list, kept from scroll */
      view: window.innerHeight || 600,  /* and resize events: reading them after a */
    };                       /* change would lay the page out again (10-15 ms at 10^5) */

    const open = (m) => (m.hits ? m.fopen : m.open);
    const count = (m) => (m.hits ? m.hits.length : m.im.raw.length);
    const at = (m, k) => (m.hits ? m.hits[k] : k);
    let index = new SignalIndex({});

    function set(idx) {
      const before = new Map(T.mods.map((m) => [m.im.name, m.open]));
      index = idx;
      T.mods = idx.mods.map((im) => ({ im, open: true, fopen: true, hits: null }));
      for (const m of T.mods)
        m.open = before.has(m.im.name) ? before.get(m.im.name) : (idx.size <= MANY || m.im.raw.length <= LONG);
      const text = T.text || '';
      T.text = null;
      filter(text);
    }

    /* A filter opens the modules it finds signals in (the user may close them
     * again while it is on); clearing it gives back the modules' own
     * open/closed state. A narrower filter looks only at the last hits. */
    function filter(raw) {
      const f = String(raw).trim().toLowerCase();
      if (f === T.text)
        return;
      const narrower = !!T.text && f.includes(T.text);
      for (const m of T.mods) {
        if (!f) {
          m.hits = null;
          continue;
        }
        m.hits = match(m.im, f, narrower ? m.hits : null);
        m.fopen = true;
      }
      T.text = f;
      T.cursor = -1;
      layout();
    }

    function layout() {
      T.shown = [];
      T.starts = [];
      let r = 0;
      for (const m of T.mods) {
        const n = count(m);
        if (n === 0)
          continue;
        T.shown.push(m);
        T.starts.push(r);
        r += 1 + (open(m) ? n : 0);
      }
      T.rows = r;
      if (T.cursor >= r)
        T.cursor = r - 1;
      spacer.style.height = r * ROW_H + 'px';
      render();
    }

    /* Row i: {mod} for a header, {mod, sig} for a signal. */
    function rowAt(i) {
      let lo = 0;
      let hi = T.starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (T.starts[mid] <= i) lo = mid; else hi = mid - 1;
      }
      const m = T.shown[lo];
      const k = i - T.starts[lo];
      return k === 0 ? { mod: m, index: i } : { mod: m, sig: index.record(m.im, at(m, k - 1)), index: i };
    }

    function viewRows() {
      return Math.max(1, Math.floor(T.view / ROW_H));
    }

    function render() {
      const view = T.view;
      const top = Math.max(0, Math.min(T.top, T.rows * ROW_H - view));
      const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
      const last = Math.min(T.rows, Math.ceil((top + view) / ROW_H) + OVERSCAN);
      ul.style.transform = 'translateY(' + first * ROW_H + 'px)';
      let k = 0;
      for (let i = first; i < last; i++, k++) {
        let li = T.pool[k];
        if (!li) {
          li = document.createElement('li');
          ul.appendChild(li);
          T.pool.push(li);
        }
        fill(li, rowAt(i));
      }
      while (T.pool.length > k)
        T.pool.pop().remove();
      T.first = first;
      const cur = T.cursor >= first && T.cursor < last ? T.pool[T.cursor - first] : null;
      if (cur)
        root.setAttribute('aria-activedescendant', cur.id);
      else
        root.removeAttribute('aria-activedescendant');
    }

    function fill(li, r) {
      const m = r.mod;
      const s = r.sig;
      const key = s ? 's' + s.name : 'm' + m.im.name + (open(m) ? '+' : '-') + count(m);
      if (li.dataset.key !== key) {
        li.textContent = '';
        for (const a of ['data-signal', 'data-module', 'title', 'aria-expanded'])
          li.removeAttribute(a);
        li.dataset.key = key;
        li.setAttribute('role', 'treeitem');
        if (s) {
          li.className = 'row sig';
          li.dataset.signal = s.name;
          li.setAttribute('aria-level', '2');
          li.title = s.name + ' (' + s.type + (s.unit ? ', ' + s.unit : '') +
                     (s.writable ? ', writable' : '') + '): click to plot';
          li.appendChild(span('name', s.local));
          li.appendChild(span('unit', s.unit));
          li.appendChild(span('type', s.type));
          li.appendChild(span('w', s.writable ? 'W' : ''));
          const tb = document.createElement('button');
          tb.className = 'add-table small';
          tb.type = 'button';
          tb.tabIndex = -1;  /* the key t does it: rows come and go as the list scrolls */
          tb.textContent = '▦';
          tb.title = 'show ' + s.name + ' in the values table';
          li.appendChild(tb);
        } else {
          li.className = 'row module';
          li.dataset.module = m.im.name;
          li.setAttribute('aria-level', '1');
          li.setAttribute('aria-expanded', String(open(m)));
          li.appendChild(span('caret', open(m) ? '▾' : '▸'));
          li.appendChild(span('mod-name', m.im.name));
          li.appendChild(span('dim count', String(count(m))));
        }
      }
      li.id = 'tree-row-' + r.index;
      if (s) {
        const mk = hooks.marks(s.name);
        li.classList.toggle('plotted', !!(mk && mk.plotted));
        li.classList.toggle('in-table', !!(mk && mk.table));
      }
      li.classList.toggle('cursor', r.index === T.cursor);
    }

    function toggle(m) {
      if (m.hits)
        m.fopen = !m.fopen;
      else
        m.open = !m.open;
      layout();
    }

    function rowOf(li) {
      return T.first + T.pool.indexOf(li);
    }

    /* Scroll so row i is in view, make it the cursor, redraw. */
    function moveTo(i) {
      if (T.rows === 0)
        return;
      i = Math.max(0, Math.min(T.rows - 1, i));
      T.cursor = i;
      const top = i * ROW_H;
      if (top < T.top)
        root.scrollTop = T.top = top;
      else if (top + ROW_H > T.top + T.view)
        root.scrollTop = T.top = top + ROW_H - T.view;
      render();
    }

    root.addEventListener('scroll', () => {
      T.top = root.scrollTop;
      render();
    }, { passive: true });
    new ResizeObserver((entries) => {
      const h = entries[entries.length - 1].contentRect.height;
      if (h > 0 && h !== T.view) {
        T.view = h;
        render();
      }
    }).observe(root);

    root.addEventListener('click', (ev) => {
      const li = ev.target.closest('li.row');
      if (!li || !root.contains(li))
        return;
      const r = rowAt(rowOf(li));
      T.cursor = r.index;
      root.focus({ preventScroll: true });   /* keys go to the list, not to a row's button */
      if (!r.sig)
        toggle(r.mod);
      else if (ev.target.closest('button.add-table'))
        hooks.table(r.sig.name);
      else
        hooks.plot(r.sig.name);
      render();
    });

    root.addEventListener('keydown', (ev) => {
      if (ev.altKey || ev.ctrlKey || ev.metaKey || T.rows === 0)
        return;
      const c = T.cursor < 0 ? 0 : T.cursor;
      const r = T.cursor < 0 ? null : rowAt(c);
      const page = viewRows() - 1;
      switch (ev.key) {
      case 'ArrowDown': moveTo(T.cursor < 0 ? 0 : c + 1); break;
      case 'ArrowUp': moveTo(c - 1); break;
      case 'PageDown': moveTo(c + page); break;
      case 'PageUp': moveTo(c - page); break;
      case 'Home': moveTo(0); break;
      case 'End': moveTo(T.rows - 1); break;
      case 'ArrowRight':
        if (r && !r.sig && !open(r.mod))
          toggle(r.mod);
        else
          moveTo(c + 1);
        break;
      case 'ArrowLeft':
        if (r && !r.sig && open(r.mod))
          toggle(r.mod);
        else if (r && r.sig)
          moveTo(T.starts[T.shown.indexOf(r.mod)]);
        break;
      case 'Enter': case ' ':
        if (!r)
          moveTo(0);
        else if (!r.sig)
          toggle(r.mod);
        else
          hooks.plot(r.sig.name);
        render();
        break;
      case 't': case 'T':
        if (r && r.sig)
          hooks.table(r.sig.name);
        render();
        break;
      default:
        return;
      }
      ev.preventDefault();
    });

    function focusFirst() {
      root.focus();
      let i = 0;
      while (i < T.rows && !rowAt(i).sig)
        i++;
      moveTo(i < T.rows ? i : 0);
    }

    return {
      set,
      filter,
      refresh: render,
      focusFirst,
      rows: () => T.rows,
      rowHeight: ROW_H,
    };
  }

  window.HermesTree = Object.freeze({ create, index: (modules) => new SignalIndex(modules) });
})();
