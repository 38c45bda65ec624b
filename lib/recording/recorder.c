/* Recorder: scheduler hooks fill a ring, a writer thread appends it to an HDF5 (SWMR) file.
 *
 * Threading: the frame hook (scheduler thread) is the ring's only producer,
 * the writer thread its only consumer; head/tail are atomics and the slow
 * paths (ring full, writer idle) meet under `mu`. Events and journal entries
 * go through a small queue under `qmu`. Only the writer thread and
 * create/close touch HDF5, never at the same time. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hermes/encoder.h"
#include "hermes/recorder.h"
#include "hermes/version.h"
#include "recording/layout.h"
#include "common/util.h"

#define HDR_WORDS 3u          /* tick, frame, time (seconds, f64 bits) */
#define RING_BYTES (64u << 20)

struct qentry {
    int  is_event;
    union {
        struct rec_event_row   ev;
        struct rec_journal_row jr;
    } u;
};

struct hermes_recorder {
    hermes_scheduler_t     *s;
    hermes_backplane_t     *bp;
    char                   *path;
    hermes_snapshot_plan_t *plan;
    uint32_t                n;          /* recorded signals */
    uint32_t                every;
    double                  flush_ns;

    /* ring */
    uint64_t       *hdr;                /* per slot: tick, frame, time (f64 bits) */
    double         *vals;               /* per slot: n values */
    uint64_t        cap;                /* slots */
    uint64_t        wake_fill;          /* frames buffered before the producer wakes the writer */
    _Atomic uint64_t head, tail;
    _Atomic int     writer_idle, producer_waiting, stopping;
    _Atomic int     failed;             /* 0 or HERMES_E* */
    char            errmsg[768];
    char            h5msg[256];         /* writer: HDF5 message of the first failing call */
    int             h5errno;
    pthread_mutex_t mu;
    pthread_cond_t  cv_data, cv_space;
    pthread_t       writer;
    bool            writer_started;
    _Atomic uint64_t last_tick;         /* set by the frame hook */

    /* events + journal */
    pthread_mutex_t qmu;
    struct qentry  *q;
    size_t          qlen, qcap;

    /* HDF5 */
    hid_t    file, d_data, d_frame, d_time, d_tick, d_events, d_journal;
    hid_t    t_event, t_journal;
    uint64_t rows, nevents, njournal;
    hsize_t  chunk_frames;

    /* stats */
    _Atomic uint64_t st_rows, st_stalls, st_flushes, st_busy_ns;
    bool closed;
};

/* ---- small HDF5 helpers ------------------------------------------------------------ */

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *ctx)
{
    (void)n;
    char *buf = ctx;
    if (!buf[0] && e->desc)
        snprintf(buf, 256, "%s", e->desc);
    return 0;
}

static void no_atexit(void)
{
    /* HDF5's exit handler crashes on a file whose close failed (disk full):
     * Hermes closes what it opens itself. Must precede every other HDF5 call. */
    H5dont_atexit();
}

void hermes__h5_quiet(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, no_atexit);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* Writer: remember the HDF5 message and errno of the first failing call,
 * before later calls clear the thread's error stack. */
static void note(hermes_recorder_t *r)
{
    if (!r->h5msg[0]) {
        r->h5errno = errno;
        hermes__h5_message(r->h5msg, sizeof r->h5msg);
    }
}

void hermes__h5_message(char *buf, size_t cap)
{
    char first[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, first);
    snprintf(buf, cap, "%s", first[0] ? first : "unknown HDF5 error");
    for (char *p = buf; *p; p++)   /* HDF5 messages may span lines */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    H5Eclear2(H5E_DEFAULT);
}

static hid_t str_type(size_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, n);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    return t;
}

/* One member of a compound row type: a native number, or a NUL-terminated
 * string of `len` bytes. */
enum member_kind { M_U8, M_U32, M_U64, M_F64, M_STR };
struct member {
    const char      *name;
    size_t           off;
    enum member_kind kind;
    size_t           len;  /* M_STR */
};

static hid_t compound(size_t size, const struct member *m, size_t n)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, size);
    for (size_t i = 0; i < n; i++) {
        hid_t mt;
        switch (m[i].kind) {
        case M_U8: mt = H5T_NATIVE_UINT8; break;
        case M_U32: mt = H5T_NATIVE_UINT32; break;
        case M_U64: mt = H5T_NATIVE_UINT64; break;
        case M_F64: mt = H5T_NATIVE_DOUBLE; break;
        default: mt = str_type(m[i].len); break;
        }
        H5Tinsert(t, m[i].name, m[i].off, mt);
        if (m[i].kind == M_STR)
            H5Tclose(mt);
    }
    return t;
}

#define COMPOUND(row, members) compound(sizeof(struct row), members, sizeof members / sizeof members[0])

hid_t hermes__rec_signal_type(void)
{
    static const struct member m[] = {
        {"name", HOFFSET(struct rec_signal_row, name), M_STR, REC_NAME_LEN},
        {"type", HOFFSET(struct rec_signal_row, type), M_STR, REC_TYPE_LEN},
        {"unit", HOFFSET(struct rec_signal_row, unit), M_STR, REC_UNIT_LEN},
        {"writable", HOFFSET(struct rec_signal_row, writable), M_U8, 0},
        {"initial", HOFFSET(struct rec_signal_row, initial), M_F64, 0},
    };
    return COMPOUND(rec_signal_row, m);
}

hid_t hermes__rec_module_type(void)
{
    static const struct member m[] = {
        {"name", HOFFSET(struct rec_module_row, name), M_STR, REC_MODNAME_LEN},
        {"type", HOFFSET(struct rec_module_row, type), M_STR, REC_EVENT_LEN},
        {"schedule", HOFFSET(struct rec_module_row, schedule), M_U32, 0},
        {"config_hash", HOFFSET(struct rec_module_row, config_hash), M_U64, 0},
    };
    return COMPOUND(rec_module_row, m);
}

hid_t hermes__rec_wire_type(void)
{
    static const struct member m[] = {
        {"src", HOFFSET(struct rec_wire_row, src), M_STR, REC_NAME_LEN},
        {"dst", HOFFSET(struct rec_wire_row, dst), M_STR, REC_NAME_LEN},
        {"gain", HOFFSET(struct rec_wire_row, gain), M_F64, 0},
        {"offset", HOFFSET(struct rec_wire_row, offset), M_F64, 0},
    };
    return COMPOUND(rec_wire_row, m);
}

hid_t hermes__rec_event_type(void)
{
    static const struct member m[] = {
        {"tick", HOFFSET(struct rec_event_row, tick), M_U64, 0},
        {"frame", HOFFSET(struct rec_event_row, frame), M_U64, 0},
        {"event", HOFFSET(struct rec_event_row, event), M_STR, REC_EVENT_LEN},
        {"detail", HOFFSET(struct rec_event_row, detail), M_STR, REC_DETAIL_LEN},
    };
    return COMPOUND(rec_event_row, m);
}

hid_t hermes__rec_journal_type(void)
{
    static const struct member m[] = {
        {"tick", HOFFSET(struct rec_journal_row, tick), M_U64, 0},
        {"frame", HOFFSET(struct rec_journal_row, frame), M_U64, 0},
        {"action", HOFFSET(struct rec_journal_row, action), M_STR, REC_ACTION_LEN},
        {"signal", HOFFSET(struct rec_journal_row, signal), M_STR, REC_NAME_LEN},
        {"value", HOFFSET(struct rec_journal_row, value), M_F64, 0},
        {"count", HOFFSET(struct rec_journal_row, count), M_U64, 0},
    };
    return COMPOUND(rec_journal_row, m);
}

uint64_t hermes__file_hash(const char *path)
{
    if (!path)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint64_t h = 1469598103934665603ull;
    int c;
    while ((c = fgetc(f)) != EOF) {
        h ^= (uint64_t)(unsigned char)c;
        h *= 1099511628211ull;
    }
    fclose(f);
    return h;
}

int hermes__pattern_match(const char *pat, const char *name)
{
    if (!strcmp(pat, "*"))
        return 1;
    size_t n = strlen(pat);
    if (n >= 2 && pat[n - 1] == '*' && pat[n - 2] == '.')
        return strncmp(pat, name, n - 1) == 0;
    return strcmp(pat, name) == 0;
}

static int attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char *v = value ? value : "";
    herr_t rc = a < 0 ? -1 : H5Awrite(a, t, &v);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc < 0 ? -1 : 0;
}

static int attr_num(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t a = H5Acreate2(obj, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, mem_type, value);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return rc < 0 ? -1 : 0;
}

static int attr_f64(hid_t o, const char *n, double v) { return attr_num(o, n, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v); }
static int attr_u64(hid_t o, const char *n, uint64_t v) { return attr_num(o, n, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v); }

/* Chunked, unlimited 1-D dataset of @p type with @p chunk rows. */
static hid_t make_series(hid_t loc, const char *name, hid_t type, hsize_t chunk)
{
    hsize_t dims = 0, maxd = H5S_UNLIMITED;
    hid_t sp = H5Screate_simple(1, &dims, &maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return d;
}

/* Fixed table of @p n rows. */
static int write_table(hid_t loc, const char *name, hid_t type, const void *rows, hsize_t n)
{
    hsize_t dims = n;
    hid_t sp = H5Screate_simple(1, &dims, NULL);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = d < 0 ? -1 : n ? H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) : 0;
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
    return rc < 0 ? -1 : 0;
}

static void utc_now(char *buf, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static char *read_text(const char *path)
{
    if (!path)
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += k;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

/* ---- failure ------------------------------------------------------------------------ */

/* Writer-side failure: remember the first one and wake the producer. */
static void writer_fail(hermes_recorder_t *r, const char *what, int err)
{
    char h5[256];
    note(r);
    hermes__strlcpy(h5, r->h5msg, sizeof h5);
    if (r->h5errno)
        err = r->h5errno;
    pthread_mutex_lock(&r->mu);
    if (!atomic_load(&r->failed)) {
        snprintf(r->errmsg, sizeof r->errmsg,
                 "recording to '%s' failed: %s after %llu frames (HDF5: %s%s%s); the file holds the frames up to "
                 "its last flush",
                 r->path, what, (unsigned long long)r->rows, h5, err ? "; system: " : "", err ? strerror(err) : "");
        atomic_store(&r->failed, HERMES_ESYS);
    }
    pthread_cond_broadcast(&r->cv_space);
    pthread_mutex_unlock(&r->mu);
    hermes__log(HERMES_LOG_ERROR, "recorder", "event=write_failed file=%s frames=%llu", r->path,
                (unsigned long long)r->rows);
}

/* ---- writer thread ------------------------------------------------------------------ */

static int extend(hid_t d, hsize_t rows)
{
    return H5Dset_extent(d, &rows) < 0 ? -1 : 0;
}

/* Append ring slots [pos, pos + n) (contiguous). */
static int write_rows(hermes_recorder_t *r, uint64_t pos, uint64_t n)
{
    const hsize_t total = r->rows + n;
    hsize_t ddims[2] = {total, r->n};
    if (H5Dset_extent(r->d_data, ddims) < 0 || extend(r->d_frame, total) || extend(r->d_time, total) ||
        extend(r->d_tick, total)) {
        note(r);
        return -1;
    }
    int rc = 0;
    /* data: n contiguous rows of the value ring */
    if (r->n) {
        hsize_t mcount[2] = {n, r->n};
        hid_t dms = H5Screate_simple(2, mcount, NULL);
        hid_t fs = H5Dget_space(r->d_data);
        hsize_t fstart[2] = {r->rows, 0};
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, fstart, NULL, mcount, NULL);
        if (H5Dwrite(r->d_data, H5T_NATIVE_DOUBLE, dms, fs, H5P_DEFAULT, r->vals + pos * r->n) < 0) {
            note(r);
            rc = -1;
        }
        H5Sclose(fs);
        H5Sclose(dms);
    }
    /* Header ring as a 2-D array [cap, 3] of 8-byte cells. */
    hsize_t mdims[2] = {r->cap, HDR_WORDS};
    hid_t ms = H5Screate_simple(2, mdims, NULL);
    /* header columns: tick, frame, time */
    const hid_t ds[3] = {r->d_tick, r->d_frame, r->d_time};
    const hid_t mt[3] = {H5T_NATIVE_UINT64, H5T_NATIVE_UINT64, H5T_NATIVE_DOUBLE};
    for (int c = 0; c < 3 && rc == 0; c++) {
        hsize_t mstart[2] = {pos, (hsize_t)c}, mcount[2] = {n, 1};
        H5Sselect_hyperslab(ms, H5S_SELECT_SET, mstart, NULL, mcount, NULL);
        hid_t fs = H5Dget_space(ds[c]);
        hsize_t fstart = r->rows, fcount = n;
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &fstart, NULL, &fcount, NULL);
        if (H5Dwrite(ds[c], mt[c], ms, fs, H5P_DEFAULT, r->hdr) < 0) {
            note(r);
            rc = -1;
        }
        H5Sclose(fs);
    }
    H5Sclose(ms);
    if (rc == 0)
        r->rows = total;
    return rc;
}

static int append_table(hermes_recorder_t *r, hid_t d, hid_t type, uint64_t *count, const void *row)
{
    hsize_t total = *count + 1;
    if (H5Dset_extent(d, &total) < 0) {
        note(r);
        return -1;
    }
    hid_t fs = H5Dget_space(d);
    hsize_t start = *count, one = 1;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &one, NULL);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    herr_t rc = H5Dwrite(d, type, ms, fs, H5P_DEFAULT, row);
    if (rc < 0)
        note(r);
    H5Sclose(ms);
    H5Sclose(fs);
    if (rc < 0)
        return -1;
    *count = total;
    return 0;
}

static int write_queue(hermes_recorder_t *r)
{
    pthread_mutex_lock(&r->qmu);
    struct qentry *q = r->q;
    size_t n = r->qlen;
    r->q = NULL;
    r->qlen = r->qcap = 0;
    pthread_mutex_unlock(&r->qmu);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = q[i].is_event ? append_table(r, r->d_events, r->t_event, &r->nevents, &q[i].u.ev)
                           : append_table(r, r->d_journal, r->t_journal, &r->njournal, &q[i].u.jr);
    free(q);
    return rc;
}

static void *writer_main(void *arg)
{
    hermes_recorder_t *r = arg;
    hermes__h5_quiet();
    uint64_t next_flush = hermes__now_ns() + (uint64_t)r->flush_ns;
    bool dirty = false;
    for (;;) {
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        uint64_t h = atomic_load(&r->head);
        if (h != t) {
            uint64_t pos = t % r->cap;
            uint64_t n = h - t;
            if (n > r->cap - pos)
                n = r->cap - pos;
            /* Chunk-aligned pieces keep whole-chunk writes out of the cache. */
            uint64_t to_edge = r->chunk_frames - r->rows % r->chunk_frames;
            if (n > to_edge)
                n = to_edge;
            errno = 0;
            uint64_t b0 = hermes__now_ns();
            if (write_rows(r, pos, n) != 0) {
                writer_fail(r, "cannot write frames", errno);
                break;
            }
            atomic_fetch_add(&r->st_busy_ns, hermes__now_ns() - b0);
            atomic_store(&r->tail, t + n);
            atomic_fetch_add(&r->st_rows, n);
            dirty = true;
            if (atomic_load(&r->producer_waiting)) {
                pthread_mutex_lock(&r->mu);
                pthread_cond_broadcast(&r->cv_space);
                pthread_mutex_unlock(&r->mu);
            }
        }
        pthread_mutex_lock(&r->qmu);
        bool queued = r->qlen > 0;
        pthread_mutex_unlock(&r->qmu);
        if (queued) {
            errno = 0;
            if (write_queue(r) != 0) {
                writer_fail(r, "cannot append to the event or journal table", errno);
                break;
            }
            dirty = true;
        }
        uint64_t now = hermes__now_ns();
        if (now >= next_flush) {
            if (dirty) {
                errno = 0;
                uint64_t b0 = hermes__now_ns();
                if (H5Fflush(r->file, H5F_SCOPE_LOCAL) < 0) {
                    writer_fail(r, "cannot flush", errno);
                    break;
                }
                atomic_fetch_add(&r->st_busy_ns, hermes__now_ns() - b0);
                atomic_fetch_add(&r->st_flushes, 1);
                dirty = false;
            }
            next_flush = now + (uint64_t)r->flush_ns;
        }
        if (h != t)
            continue;
        /* Idle: sleep until data arrives, the next flush or a stop. */
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->writer_idle, 1);
        if (atomic_load(&r->head) == atomic_load(&r->tail) && !atomic_load(&r->stopping)) {
            uint64_t wake = next_flush < now + 50000000u ? next_flush : now + 50000000u;
            struct timespec ts = {(time_t)(wake / 1000000000u), (long)(wake % 1000000000u)};
            pthread_cond_timedwait(&r->cv_data, &r->mu, &ts);
        }
        atomic_store(&r->writer_idle, 0);
        bool stop = atomic_load(&r->stopping) && atomic_load(&r->head) == atomic_load(&r->tail);
        pthread_mutex_unlock(&r->mu);
        if (stop) {
            pthread_mutex_lock(&r->qmu);
            bool more = r->qlen > 0;
            pthread_mutex_unlock(&r->qmu);
            if (!more)
                break;
        }
    }
    return NULL;
}

/* ---- hooks (scheduler thread) ------------------------------------------------------- */

static int frame_hook(void *ctx, uint64_t frame, uint64_t tick, hermes_frame_kind_t kind)
{
    hermes_recorder_t *r = ctx;
    r->last_tick = tick;
    int f = atomic_load_explicit(&r->failed, memory_order_acquire);  /* errmsg is written before */
    if (f)
        return hermes__fail(f, "%s", r->errmsg);
    if (kind == HERMES_FRAME_COMPUTED && r->every > 1 && frame % r->every != 0)
        return 0;
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (h - atomic_load_explicit(&r->tail, memory_order_acquire) >= r->cap) {
        atomic_fetch_add(&r->st_stalls, 1);
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->producer_waiting, 1);
        pthread_cond_signal(&r->cv_data);
        while (h - atomic_load(&r->tail) >= r->cap && !atomic_load(&r->failed)) {
            uint64_t wake = hermes__now_ns() + 100000000u;
            struct timespec ts = {(time_t)(wake / 1000000000u), (long)(wake % 1000000000u)};
            pthread_cond_timedwait(&r->cv_space, &r->mu, &ts);
        }
        atomic_store(&r->producer_waiting, 0);
        pthread_mutex_unlock(&r->mu);
        if ((f = atomic_load(&r->failed)) != 0)
            return hermes__fail(f, "%s", r->errmsg);
    }
    uint64_t *slot = r->hdr + (h % r->cap) * HDR_WORDS;
    uint64_t fr = 0, tns = 0;
    if (hermes_backplane_snapshot_plan(r->bp, r->plan, r->vals + (h % r->cap) * r->n, &fr, &tns) != 0)
        return hermes__fail(HERMES_ESYS, "recording to '%s': cannot read frame %llu", r->path,
                            (unsigned long long)frame);
    double secs = (double)tns / 1e9;
    slot[0] = tick;
    slot[1] = fr;
    memcpy(&slot[2], &secs, sizeof secs);
    atomic_store(&r->head, h + 1);
    /* Wake an idle writer only for a batch worth writing (it also wakes by
     * itself every 50 ms): one wake-up per frame would cost the scheduler a
     * syscall and the CPU a context switch at every frame. */
    uint64_t fill = h + 1 - atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (fill >= r->wake_fill && atomic_load(&r->writer_idle)) {
        pthread_mutex_lock(&r->mu);
        pthread_cond_signal(&r->cv_data);
        pthread_mutex_unlock(&r->mu);
    }
    return 0;
}

static void enqueue(hermes_recorder_t *r, const struct qentry *e)
{
    pthread_mutex_lock(&r->qmu);
    if (r->qlen == r->qcap) {
        size_t nc = r->qcap ? r->qcap * 2 : 64;
        struct qentry *nq = realloc(r->q, nc * sizeof *nq);
        if (!nq) {
            pthread_mutex_unlock(&r->qmu);
            hermes__log(HERMES_LOG_ERROR, "recorder", "event=journal_lost reason=out_of_memory");
            return;
        }
        r->q = nq;
        r->qcap = nc;
    }
    r->q[r->qlen++] = *e;
    pthread_mutex_unlock(&r->qmu);
}

static const char *action_name(hermes_command_kind_t k)
{
    switch (k) {
#define X_CASE(kind, word) \
    case HERMES_COMMAND_##kind: return word;
    REC_ACTION_TABLE(X_CASE)
#undef X_CASE
    case HERMES_COMMAND_NONE: break;
    }
    return "none";
}

static void command_hook(void *ctx, const hermes_run_command_t *cmd, uint64_t frame, uint64_t tick)
{
    hermes_recorder_t *r = ctx;
    struct qentry e;
    memset(&e, 0, sizeof e);
    e.u.jr.tick = tick;
    e.u.jr.frame = frame;
    hermes__strlcpy(e.u.jr.action, action_name(cmd->kind), sizeof e.u.jr.action);
    if (cmd->kind == HERMES_COMMAND_SET) {
        hermes_signal_info_t info;
        if (hermes_backplane_info(r->bp, cmd->signal.index, &info) == 0)
            hermes__strlcpy(e.u.jr.signal, info.name, sizeof e.u.jr.signal);
        e.u.jr.value = cmd->value;
    }
    e.u.jr.count = cmd->count;
    enqueue(r, &e);
}

static void event_hook(void *ctx, hermes_event_t ev, uint64_t frame, const char *detail)
{
    hermes_recorder_t *r = ctx;
    struct qentry e;
    memset(&e, 0, sizeof e);
    e.is_event = 1;
    e.u.ev.tick = r->last_tick;
    e.u.ev.frame = frame;
    hermes__strlcpy(e.u.ev.event, hermes_event_name(ev), sizeof e.u.ev.event);
    if (detail)
        hermes__strlcpy(e.u.ev.detail, detail, sizeof e.u.ev.detail);
    enqueue(r, &e);
}

/* ---- create ------------------------------------------------------------------------- */

static const char *const reserved[] = {REC_DATA,    REC_FRAME, REC_TIME,   REC_TICK,    REC_SIGNALS, REC_CONFIG_SIGNALS,
                                       REC_MODULES, REC_WIRES, REC_EVENTS, REC_JOURNAL, NULL};

static int create_fail(hermes_recorder_t *r, int code, const char *what)
{
    char h5[256];
    hermes__h5_message(h5, sizeof h5);
    return hermes__fail(code, "recording to '%s': %s (HDF5: %s)", r->path, what, h5);
}

/* Static part of the file: metadata, tables, signal datasets, series. */
static int build_file(hermes_recorder_t *r, const hermes_recorder_config_t *cfg, const uint32_t *idx)
{
    const hermes_config_t *hc = hermes_scheduler_config(r->s);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    r->file = H5Fcreate(r->path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (r->file < 0)
        return create_fail(r, HERMES_ESYS, "cannot create the file");

    /* Root metadata. */
    hermes_execution_t ex;
    hermes_config_execution(hc, &ex);
    char start[64];
    utc_now(start, sizeof start);
    char *text = cfg->config_text ? NULL : read_text(hermes_config_path(hc));
    const char *cpath = hermes_config_path(hc);
    int rc = attr_str(r->file, "format", HERMES_RECORDING_FORMAT) |
             attr_u64(r->file, "format_version", HERMES_RECORDING_FORMAT_VERSION) |
             attr_str(r->file, "hermes_version", HERMES_VERSION_STRING) |
             attr_str(r->file, "run_id", hermes_backplane_name(r->bp)) |
             attr_str(r->file, "config", cfg->config_text ? cfg->config_text : text ? text : "") |
             attr_str(r->file, "config_path", cpath ? cpath : "") |
             attr_f64(r->file, "rate_hz", ex.rate_hz) | attr_str(r->file, "mode", hermes_mode_name(ex.mode)) |
             attr_f64(r->file, "end_time", ex.has_end_time ? ex.end_time : NAN) |
             attr_str(r->file, "start_time_utc", start) | attr_u64(r->file, "every", r->every) |
             attr_u64(r->file, "start_paused", cfg->start_paused ? 1 : 0) |
             attr_str(r->file, "end_reason", "running (no end recorded: the run did not close the file)");
    free(text);
    if (rc)
        return create_fail(r, HERMES_ESYS, "cannot write the run metadata");

    /* modules and wires tables (also used to check a rerun's config) */
    uint32_t nm = hermes_config_module_count(hc);
    struct rec_module_row *mods = calloc(nm ? nm : 1, sizeof *mods);
    uint32_t nw = hermes_config_wire_count(hc);
    struct rec_wire_row *wires = calloc(nw ? nw : 1, sizeof *wires);
    struct rec_signal_row *sigs = calloc(r->n ? r->n : 1, sizeof *sigs);
    if (!mods || !wires || !sigs) {
        free(mods);
        free(wires);
        free(sigs);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < nm; i++) {
        hermes_module_info_t mi;
        hermes_config_module(hc, i, &mi);
        hermes__strlcpy(mods[i].name, mi.name, sizeof mods[i].name);
        hermes__strlcpy(mods[i].type, hermes_module_type_name(mi.type), sizeof mods[i].type);
        mods[i].config_hash = hermes__file_hash(mi.config_path);
    }
    for (uint32_t k = 0; k < hermes_config_schedule_count(hc); k++) {
        uint32_t mi = 0;
        if (hermes_config_schedule_at(hc, k, &mi) == 0 && mi < nm)
            mods[mi].schedule = k;
    }
    for (uint32_t i = 0; i < nw; i++) {
        hermes_wire_info_t wi;
        hermes_config_wire(hc, i, &wi);
        hermes__strlcpy(wires[i].src, wi.src, sizeof wires[i].src);
        hermes__strlcpy(wires[i].dst, wi.dst, sizeof wires[i].dst);
        wires[i].gain = wi.gain;
        wires[i].offset = wi.offset;
    }
    for (uint32_t k = 0; k < r->n; k++) {
        hermes_signal_info_t si;
        hermes_backplane_info(r->bp, idx[k], &si);
        hermes__strlcpy(sigs[k].name, si.name, sizeof sigs[k].name);
        hermes__strlcpy(sigs[k].type, hermes_type_name(si.type), sizeof sigs[k].type);
        hermes__strlcpy(sigs[k].unit, si.unit, sizeof sigs[k].unit);
        sigs[k].writable = si.writable;
        sigs[k].initial = si.initial;
    }
    uint32_t ncs = 0;
    for (uint32_t i = 0; i < nm; i++) {
        hermes_module_info_t mi;
        hermes_config_module(hc, i, &mi);
        ncs += mi.signal_count;
    }
    struct rec_signal_row *csigs = calloc(ncs ? ncs : 1, sizeof *csigs);
    if (!csigs) {
        free(mods);
        free(wires);
        free(sigs);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0, k = 0; i < nm; i++) {
        hermes_module_info_t mi;
        hermes_config_module(hc, i, &mi);
        for (uint32_t j = 0; j < mi.signal_count; j++, k++) {
            hermes_signal_spec_t sp;
            hermes_config_signal(hc, i, j, &sp);
            snprintf(csigs[k].name, sizeof csigs[k].name, "%s.%s", sp.module, sp.name);
            hermes__strlcpy(csigs[k].type, hermes_type_name(sp.type ? sp.type : HERMES_TYPE_F64),
                            sizeof csigs[k].type);
            hermes__strlcpy(csigs[k].unit, sp.unit ? sp.unit : "", sizeof csigs[k].unit);
            csigs[k].writable = sp.writable;
            csigs[k].initial = sp.initial;
        }
    }
    hid_t tm = hermes__rec_module_type(), tw = hermes__rec_wire_type(), ts = hermes__rec_signal_type();
    rc = write_table(r->file, REC_MODULES, tm, mods, nm) | write_table(r->file, REC_WIRES, tw, wires, nw) |
         write_table(r->file, REC_SIGNALS, ts, sigs, r->n) | write_table(r->file, REC_CONFIG_SIGNALS, ts, csigs, ncs);
    free(csigs);
    H5Tclose(tm);
    H5Tclose(tw);
    H5Tclose(ts);
    free(mods);
    free(wires);
    if (rc) {
        free(sigs);
        return create_fail(r, HERMES_ESYS, "cannot write the signal tables");
    }

    /* The storage: [rows, n] f64 in chunks of whole rows (chunk_frames rows,
     * about 1 MiB): a block of frames in the ring is then one contiguous piece
     * of memory per chunk, which HDF5 writes without gathering it. */
    hsize_t cs = r->n ? r->n : 1;
    hsize_t cf = 131072 / cs;
    hsize_t p2 = 16;
    while (p2 * 2 <= cf && p2 < 4096)
        p2 *= 2;
    r->chunk_frames = p2;
    hsize_t dims[2] = {0, r->n}, maxd[2] = {H5S_UNLIMITED, r->n}, chunk[2] = {p2, cs};
    hid_t sp = H5Screate_simple(2, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    /* No chunk cache and no fill values: every write goes straight from the
     * ring to its place in the file (rows past the extent are never read). */
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, 0, 0, 1.0);
    r->d_data = H5Dcreate2(r->file, REC_DATA, H5T_IEEE_F64LE, sp, H5P_DEFAULT, dcpl, dapl);
    H5Pclose(dapl);
    H5Pclose(dcpl);
    hsize_t sc = p2 < 1024 ? 1024 : p2;
    r->d_frame = make_series(r->file, REC_FRAME, H5T_STD_U64LE, sc);
    r->d_time = make_series(r->file, REC_TIME, H5T_IEEE_F64LE, sc);
    r->d_tick = make_series(r->file, REC_TICK, H5T_STD_U64LE, sc);
    r->t_event = hermes__rec_event_type();
    r->t_journal = hermes__rec_journal_type();
    r->d_events = make_series(r->file, REC_EVENTS, r->t_event, 64);
    r->d_journal = make_series(r->file, REC_JOURNAL, r->t_journal, 64);
    if (r->d_data < 0 || r->d_frame < 0 || r->d_time < 0 || r->d_tick < 0 || r->d_events < 0 || r->d_journal < 0) {
        H5Sclose(sp);
        free(sigs);
        return create_fail(r, HERMES_ESYS, "cannot create the datasets");
    }
    attr_str(r->d_time, "unit", "s");
    attr_str(r->d_data, "description", "column k holds signal k of the 'signals' table; read signals by name");

    /* One virtual dataset per signal: /module/local_name -> data[:, k]. */
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hsize_t vd = 0, vm = H5S_UNLIMITED;
    hid_t vs = H5Screate_simple(1, &vd, &vm);
    hsize_t st = 0, one = 1, unl = H5S_UNLIMITED;
    H5Sselect_hyperslab(vs, H5S_SELECT_SET, &st, &one, &unl, &one);
    rc = 0;
    for (uint32_t k = 0; k < r->n && rc == 0; k++) {
        hermes_signal_info_t si;
        hermes_backplane_info(r->bp, idx[k], &si);
        hid_t ss = H5Scopy(sp);
        hsize_t s2[2] = {0, k}, str2[2] = {1, 1}, c2[2] = {H5S_UNLIMITED, 1}, b2[2] = {1, 1};
        H5Sselect_hyperslab(ss, H5S_SELECT_SET, s2, str2, c2, b2);
        hid_t vp = H5Pcreate(H5P_DATASET_CREATE);
        char path[HERMES_MAX_NAME + 4];
        snprintf(path, sizeof path, "%s/%s", si.module, si.local_name);
        hid_t v = -1;
        if (H5Pset_virtual(vp, vs, ".", "/" REC_DATA, ss) >= 0)
            v = H5Dcreate2(r->file, path, H5T_IEEE_F64LE, vs, lcpl, vp, H5P_DEFAULT);
        if (v < 0)
            rc = -1;
        else {
            uint64_t col = k;
            rc = attr_str(v, "type", sigs[k].type) | attr_str(v, "unit", sigs[k].unit) |
                 attr_u64(v, "writable", sigs[k].writable) | attr_f64(v, "initial", sigs[k].initial) |
                 attr_u64(v, "column", col);
            H5Dclose(v);
        }
        H5Pclose(vp);
        H5Sclose(ss);
    }
    H5Sclose(vs);
    H5Pclose(lcpl);
    H5Sclose(sp);
    free(sigs);
    if (rc)
        return create_fail(r, HERMES_ESYS, "cannot create the signal datasets");
    if (H5Fstart_swmr_write(r->file) < 0)
        return create_fail(r, HERMES_ESYS, "cannot start SWMR writing");
    return 0;
}

static void close_h5(hermes_recorder_t *r)
{
    hid_t *ids[] = {&r->d_data, &r->d_frame, &r->d_time, &r->d_tick, &r->d_events, &r->d_journal};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (*ids[i] > 0) {
            H5Dclose(*ids[i]);
            *ids[i] = -1;
        }
    if (r->t_event > 0)
        H5Tclose(r->t_event);
    if (r->t_journal > 0)
        H5Tclose(r->t_journal);
    r->t_event = r->t_journal = -1;
    if (r->file > 0) {
        /* After a write error the close may fail too; the id is released anyway. */
        H5Fclose(r->file);
        r->file = -1;
    }
}

HERMES_API bool hermes_recording_supported(void) { return true; }

HERMES_API int hermes_recorder_create(hermes_recorder_t **out, hermes_scheduler_t *s,
                                      const hermes_recorder_config_t *cfg)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_recorder_create: out is NULL");
    *out = NULL;
    if (!s || !cfg || !cfg->path || !cfg->path[0])
        return hermes__fail(HERMES_EINVAL, "hermes_recorder_create: NULL scheduler, config or path");
    if (cfg->size == 0)
        return hermes__fail(HERMES_EINVAL, "hermes_recorder_create: config not initialised "
                                           "(call hermes_recorder_config_init)");
    if (cfg->flush_interval < 0 || cfg->flush_interval > 1.0 || !isfinite(cfg->flush_interval))
        return hermes__fail(HERMES_EINVAL, "recorder flush_interval must be in (0, 1] seconds, got %g",
                            cfg->flush_interval);
    if (cfg->rate_hz < 0 || !isfinite(cfg->rate_hz))
        return hermes__fail(HERMES_EINVAL, "recorder rate_hz must be positive, got %g", cfg->rate_hz);
    hermes__h5_quiet();

    hermes_recorder_t *r = calloc(1, sizeof *r);
    if (!r)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    r->s = s;
    r->bp = hermes_scheduler_backplane(s);
    r->path = hermes__strdup(cfg->path);
    r->file = r->d_data = r->d_frame = r->d_time = r->d_tick = r->d_events = r->d_journal = -1;
    r->t_event = r->t_journal = -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->qmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv_data, &ca);
    pthread_cond_init(&r->cv_space, &ca);
    pthread_condattr_destroy(&ca);
    r->flush_ns = (cfg->flush_interval > 0 ? cfg->flush_interval : HERMES_RECORDER_DEFAULT_FLUSH) * 1e9;
    hermes_execution_t ex;
    hermes_config_execution(hermes_scheduler_config(s), &ex);
    r->every = cfg->every > 1 ? cfg->every : 1;
    if (cfg->rate_hz > 0) {
        double e = round(ex.rate_hz / cfg->rate_hz);
        r->every = e < 1 ? 1 : e > 1e9 ? 1000000000u : (uint32_t)e;
    }
    int rc;
    if (!r->path) {
        rc = hermes__fail(HERMES_ENOMEM, "out of memory");
        goto fail;
    }
    /* Which signals: the encoder's pattern expansion (same rules as subscribe). */
    static const char *const all[] = {"*"};
    hermes_encoder_t *enc = NULL;
    rc = hermes_encoder_create(&enc, r->bp, cfg->signal_count ? cfg->signals : all,
                               cfg->signal_count ? cfg->signal_count : 1);
    if (rc) {
        char m[512];
        hermes__strlcpy(m, hermes_last_error(), sizeof m);
        rc = hermes__fail(rc, "recording signals: %s", m);
        goto fail;
    }
    r->n = hermes_encoder_count(enc);
    const uint32_t *idx = hermes_encoder_indices(enc);
    for (uint32_t k = 0; k < r->n; k++) {
        hermes_signal_info_t si;
        hermes_backplane_info(r->bp, idx[k], &si);
        for (int j = 0; reserved[j]; j++)
            if (!strcmp(si.module, reserved[j])) {
                hermes_encoder_destroy(enc);
                rc = hermes__fail(HERMES_EINVAL, "cannot record module '%s': its name is taken by the "
                                                 "recording's '/%s' dataset; rename the module", si.module,
                                  reserved[j]);
                goto fail;
            }
    }
    rc = hermes_snapshot_plan_create(&r->plan, r->bp, idx, r->n);
    if (rc == 0)
        rc = build_file(r, cfg, idx);
    hermes_encoder_destroy(enc);
    if (rc)
        goto fail;

    uint64_t cap = cfg->ring_frames ? cfg->ring_frames : RING_BYTES / ((uint64_t)(HDR_WORDS + r->n) * 8u);
    if (!cfg->ring_frames) {
        if (cap < 2 * r->chunk_frames)
            cap = 2 * r->chunk_frames;
        cap = cap < 64 ? 64 : cap > 65536 ? 65536 : cap;
    }
    r->cap = cap;
    r->wake_fill = r->chunk_frames < cap / 4 ? r->chunk_frames : cap / 4;
    if (r->wake_fill < 1)
        r->wake_fill = 1;
    r->hdr = malloc(cap * HDR_WORDS * sizeof *r->hdr);
    r->vals = malloc(cap * (r->n ? r->n : 1) * sizeof *r->vals);
    if (!r->hdr || !r->vals) {
        rc = hermes__fail(HERMES_ENOMEM, "recording: cannot allocate a ring of %llu frames",
                          (unsigned long long)cap);
        goto fail;
    }
    if ((rc = hermes_scheduler_set_frame_hook(s, frame_hook, r)) != 0 ||
        (rc = hermes_scheduler_set_command_hook(s, command_hook, r)) != 0 ||
        (rc = hermes_scheduler_set_event_hook(s, event_hook, r)) != 0)
        goto fail;
    if (pthread_create(&r->writer, NULL, writer_main, r) != 0) {
        rc = hermes__fail(HERMES_ESYS, "recording: cannot create the writer thread");
        goto fail;
    }
    r->writer_started = true;
    /* Already staged: the current frame is the run's frame 0. */
    hermes_state_t st = hermes_scheduler_state(s);
    if (st == HERMES_STATE_PAUSED)
        frame_hook(r, hermes_scheduler_frame(s), 0, HERMES_FRAME_STAGED);
    hermes__log(HERMES_LOG_INFO, "recorder", "event=recording file=%s signals=%u every=%u ring_frames=%llu",
                r->path, r->n, r->every, (unsigned long long)r->cap);
    *out = r;
    return 0;
fail:
    {
        hermes__error_saved_t e;
        hermes__error_save(&e);
        hermes_scheduler_set_frame_hook(s, NULL, NULL);
        hermes_scheduler_set_command_hook(s, NULL, NULL);
        hermes_scheduler_set_event_hook(s, NULL, NULL);
        r->closed = true;
        close_h5(r);
        hermes_recorder_destroy(r);
        return hermes__error_restore(rc, &e);
    }
}

/* Reopen without SWMR to add the end metadata (SWMR writers cannot add attributes). */
static int write_end(hermes_recorder_t *r, const char *reason)
{
    hermes_timing_t t;
    memset(&t, 0, sizeof t);
    hermes_scheduler_timing(r->s, &t);
    hid_t f = H5Fopen(r->path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return create_fail(r, HERMES_ESYS, "cannot reopen to write the end metadata");
    char end[64];
    utc_now(end, sizeof end);
    int rc = attr_str(f, "end_reason", reason) | attr_str(f, "end_time_utc", end) |
             attr_u64(f, "overruns", t.overruns) | attr_u64(f, "frames", r->rows) |
             attr_u64(f, "ticks", r->last_tick) | attr_u64(f, "ring_stalls", atomic_load(&r->st_stalls));
    if (H5Fclose(f) < 0)
        rc = -1;
    return rc ? create_fail(r, HERMES_ESYS, "cannot write the end metadata") : 0;
}

HERMES_API int hermes_recorder_close(hermes_recorder_t *r, const char *end_reason)
{
    if (!r)
        return hermes__fail(HERMES_EINVAL, "recorder is NULL");
    if (r->closed)
        return atomic_load(&r->failed) ? hermes__fail(atomic_load(&r->failed), "%s", r->errmsg) : 0;
    r->closed = true;
    hermes__h5_quiet();
    hermes_scheduler_set_frame_hook(r->s, NULL, NULL);
    hermes_scheduler_set_command_hook(r->s, NULL, NULL);
    hermes_scheduler_set_event_hook(r->s, NULL, NULL);
    if (r->writer_started) {
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->stopping, 1);
        pthread_cond_broadcast(&r->cv_data);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->writer, NULL);
        r->writer_started = false;
    }
    int failed = atomic_load(&r->failed);
    uint64_t b0 = hermes__now_ns();
    if (!failed && H5Fflush(r->file, H5F_SCOPE_LOCAL) < 0)
        writer_fail(r, "cannot flush", errno);
    atomic_fetch_add(&r->st_busy_ns, hermes__now_ns() - b0);
    failed = atomic_load(&r->failed);
    close_h5(r);
    if (failed)
        return hermes__fail(failed, "%s", r->errmsg);
    int rc = write_end(r, end_reason ? end_reason : "closed");
    if (rc == 0)
        hermes__log(HERMES_LOG_INFO, "recorder", "event=recording_closed file=%s frames=%llu stalls=%llu", r->path,
                    (unsigned long long)r->rows, (unsigned long long)atomic_load(&r->st_stalls));
    return rc;
}

HERMES_API void hermes_recorder_destroy(hermes_recorder_t *r)
{
    if (!r)
        return;
    if (!r->closed)
        (void)hermes_recorder_close(r, NULL);
    hermes_snapshot_plan_destroy(r->plan);
    free(r->hdr);
    free(r->vals);
    free(r->q);
    free(r->path);
    pthread_cond_destroy(&r->cv_data);
    pthread_cond_destroy(&r->cv_space);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->qmu);
    free(r);
}

HERMES_API int hermes_recorder_status(const hermes_recorder_t *r)
{
    return r ? atomic_load(&((hermes_recorder_t *)r)->failed) : HERMES_EINVAL;
}

HERMES_API const char *hermes_recorder_errmsg(const hermes_recorder_t *r)
{
    return r && atomic_load(&((hermes_recorder_t *)r)->failed) ? r->errmsg : "";
}

HERMES_API int hermes_recorder_stats(const hermes_recorder_t *r, hermes_recorder_stats_t *out)
{
    if (!r || !out)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    hermes_recorder_t *m = (hermes_recorder_t *)r;
    out->rows = atomic_load(&m->st_rows);
    out->bytes = out->rows * r->n * 8u;
    out->stalls = atomic_load(&m->st_stalls);
    out->flushes = atomic_load(&m->st_flushes);
    out->writer_seconds = (double)atomic_load(&m->st_busy_ns) * 1e-9;
    out->signals = r->n;
    out->every = r->every;
    return 0;
}

HERMES_API const char *hermes_recorder_path(const hermes_recorder_t *r) { return r ? r->path : ""; }
