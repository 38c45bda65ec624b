/* Replay: a recording played back as a telemetry source and control table for the WebSocket server.
 *
 * Playback clock: every row has a playback time pt (the recorded simulation
 * time, made monotonic across resets). While running, the row shown at wall
 * time w is the last one with pt <= base_pt + (w - base_wall) * speed; paused,
 * it is `cur`. All state is under `mu`; only the server's service thread reads
 * the file (stream_encode), the control thread and the playback thread work
 * on memory. Events are posted with `mu` released. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hermes/config.h"
#include "hermes/encoder.h"
#include "hermes/replay.h"
#include "encoder/frame.h"
#include "recording/layout.h"
#include "common/util.h"

struct replay_stream {
    uint32_t n;
    uint32_t idx[];
};

struct hermes_replay {
    hermes_recording_t *rec;
    double              speed, dt;
    bool                loop, start_paused;
    uint64_t            rows;
    uint64_t           *frames;
    double             *times, *pt;
    char              **modules;   /* per signal: module part (owned) */
    const char        **locals;    /* per signal: local part (into the name) */
    uint32_t           *mod_index;
    struct rec_wire_row *wires;
    uint64_t            nwires;
    struct rec_rate_row *rates;     /* module_rates table; NULL in older files */
    uint64_t            nrates;
    hermes_execution_t  ex;
    char                run_id[128];

    pthread_mutex_t  mu;
    pthread_cond_t   cv;
    pthread_t        thread;
    bool             started, quit;
    hermes_state_t   state;
    uint64_t         cur;
    double           base_pt;
    uint64_t         base_wall;
    hermes_server_t *srv;
    uint64_t         cached_row;
    bool             cached;
    double          *vals;
};

/* ---- clock (mu held) ------------------------------------------------------------- */

static uint64_t row_at(const hermes_replay_t *rp, double t)
{
    /* last row with pt <= t */
    uint64_t lo = 0, hi = rp->rows;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (rp->pt[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static double period(const hermes_replay_t *rp) { return rp->pt[rp->rows - 1] + rp->dt; }

static double play_time(const hermes_replay_t *rp)
{
    double t = rp->base_pt + (double)(hermes__now_ns() - rp->base_wall) * 1e-9 * rp->speed;
    if (rp->loop)
        t = fmod(t, period(rp));
    return t;
}

static uint64_t row_now(hermes_replay_t *rp)
{
    if (rp->state == HERMES_STATE_RUNNING)
        return row_at(rp, play_time(rp));
    return rp->cur;
}

static void start_clock(hermes_replay_t *rp)
{
    rp->base_pt = rp->pt[rp->cur];
    rp->base_wall = hermes__now_ns();
}

static void post(hermes_replay_t *rp, hermes_event_t ev, uint64_t frame)
{
    pthread_mutex_lock(&rp->mu);
    hermes_server_t *srv = rp->srv;
    pthread_mutex_unlock(&rp->mu);
    if (srv)
        hermes_server_post_event(srv, ev, frame, NULL);
}

/* ---- playback thread: notices the end of the recording ---------------------------- */

static void *play_main(void *arg)
{
    hermes_replay_t *rp = arg;
    pthread_mutex_lock(&rp->mu);
    while (!rp->quit) {
        double wait = 1.0;
        if (rp->state == HERMES_STATE_RUNNING && !rp->loop) {
            double left = (period(rp) - play_time(rp)) / rp->speed;
            if (left <= 0) {
                rp->cur = rp->rows - 1;
                rp->state = HERMES_STATE_STOPPED;
                uint64_t f = rp->frames[rp->cur];
                pthread_mutex_unlock(&rp->mu);
                post(rp, HERMES_EVENT_STOPPED, f);
                hermes__log(HERMES_LOG_INFO, "replay", "event=end_of_recording frame=%llu", (unsigned long long)f);
                pthread_mutex_lock(&rp->mu);
                continue;
            }
            wait = left < 1.0 ? left : 1.0;
        }
        uint64_t due = hermes__now_ns() + (uint64_t)(wait * 1e9);
        struct timespec ts = {(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
        pthread_cond_timedwait(&rp->cv, &rp->mu, &ts);
    }
    pthread_mutex_unlock(&rp->mu);
    return NULL;
}

/* ---- source ---------------------------------------------------------------------- */

static uint32_t src_count(void *ctx) { return ((hermes_replay_t *)ctx)->rec->n; }

static int src_info(void *ctx, uint32_t i, hermes_signal_info_t *out)
{
    hermes_replay_t *rp = ctx;
    if (i >= rp->rec->n)
        return hermes__fail(HERMES_ENOENT, "signal %u out of range", i);
    const hermes_recording_signal_t *v = &rp->rec->views[i];
    memset(out, 0, sizeof *out);
    out->id = (hermes_signal_t){i, 0};
    out->name = v->name;
    out->module = rp->modules[i];
    out->local_name = rp->locals[i];
    out->unit = v->unit;
    out->type = v->type;
    out->writable = v->writable;
    out->initial = v->initial;
    out->module_index = rp->mod_index[i];
    return 0;
}

static int src_open(void *ctx, const uint32_t *indices, uint32_t n, void **stream)
{
    hermes_replay_t *rp = ctx;
    struct replay_stream *st = malloc(sizeof *st + (size_t)n * sizeof st->idx[0] + 1);
    if (!st)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    st->n = n;
    for (uint32_t k = 0; k < n; k++) {
        if (indices[k] >= rp->rec->n) {
            free(st);
            return hermes__fail(HERMES_EINVAL, "signal index %u out of range", indices[k]);
        }
        st->idx[k] = indices[k];
    }
    *stream = st;
    return 0;
}

static int src_encode(void *ctx, void *stream, void *buf, size_t cap)
{
    hermes_replay_t *rp = ctx;
    struct replay_stream *st = stream;
    if (cap < HERMES_TELEMETRY_FRAME_SIZE(st->n))
        return hermes__fail(HERMES_EINVAL, "buffer too small");
    pthread_mutex_lock(&rp->mu);
    uint64_t row = row_now(rp);
    if (!rp->cached || rp->cached_row != row) {
        if (hermes_recording_read(rp->rec, row, 1, rp->vals, NULL, NULL) != 0) {
            pthread_mutex_unlock(&rp->mu);
            return HERMES_ESYS;
        }
        rp->cached = true;
        rp->cached_row = row;
    }
    unsigned char *p = buf;
    hermes__telemetry_put_header(p, rp->frames[row], rp->times[row], st->n);
    for (uint32_t k = 0; k < st->n; k++)
        hermes__put_lef64(p + HERMES_TELEMETRY_HEADER_SIZE + 8u * k, rp->vals[st->idx[k]]);
    pthread_mutex_unlock(&rp->mu);
    return 0;
}

static void src_close(void *ctx, void *stream)
{
    (void)ctx;
    free(stream);
}

static uint64_t src_frame(void *ctx)
{
    hermes_replay_t *rp = ctx;
    pthread_mutex_lock(&rp->mu);
    uint64_t f = rp->frames[row_now(rp)];
    pthread_mutex_unlock(&rp->mu);
    return f;
}

static uint32_t src_wire_count(void *ctx) { return (uint32_t)((hermes_replay_t *)ctx)->nwires; }

static int src_wire(void *ctx, uint32_t i, hermes_wire_info_t *out)
{
    hermes_replay_t *rp = ctx;
    if (i >= rp->nwires)
        return hermes__fail(HERMES_ENOENT, "wire %u out of range", i);
    *out = (hermes_wire_info_t){rp->wires[i].src, rp->wires[i].dst, rp->wires[i].gain, rp->wires[i].offset};
    return 0;
}

static int src_execution(void *ctx, hermes_execution_t *out)
{
    *out = ((hermes_replay_t *)ctx)->ex;
    return 0;
}

/* ---- control --------------------------------------------------------------------- */

static void wake(hermes_replay_t *rp) { pthread_cond_broadcast(&rp->cv); }

/* End of a control call that holds `mu`: wake the player, unlock and, when
 * @p was_changed, post @p ev at the frame now shown. Returns 0. */
static int changed(hermes_replay_t *rp, bool was_changed, hermes_event_t ev)
{
    uint64_t f = rp->frames[rp->cur];
    wake(rp);
    pthread_mutex_unlock(&rp->mu);
    if (was_changed)
        post(rp, ev, f);
    return 0;
}

static int ctl_pause(void *ctx)
{
    hermes_replay_t *rp = ctx;
    pthread_mutex_lock(&rp->mu);
    bool was = rp->state == HERMES_STATE_RUNNING;
    if (was) {
        rp->cur = row_now(rp);
        rp->state = HERMES_STATE_PAUSED;
    }
    return changed(rp, was, HERMES_EVENT_PAUSED);
}

static int ctl_resume(void *ctx)
{
    hermes_replay_t *rp = ctx;
    pthread_mutex_lock(&rp->mu);
    bool was = rp->state != HERMES_STATE_RUNNING;
    if (was) {
        if (rp->state == HERMES_STATE_STOPPED || (rp->cur == rp->rows - 1 && !rp->loop))
            rp->cur = 0;  /* at the end: play again from the start */
        rp->state = HERMES_STATE_RUNNING;
        start_clock(rp);
    }
    return changed(rp, was, HERMES_EVENT_RUNNING);
}

static int ctl_reset(void *ctx)
{
    hermes_replay_t *rp = ctx;
    pthread_mutex_lock(&rp->mu);
    rp->cur = 0;
    rp->state = HERMES_STATE_PAUSED;
    return changed(rp, true, HERMES_EVENT_RESET);
}

static int ctl_step(void *ctx, uint64_t count, uint64_t *target)
{
    hermes_replay_t *rp = ctx;
    pthread_mutex_lock(&rp->mu);
    if (rp->state == HERMES_STATE_RUNNING) {
        pthread_mutex_unlock(&rp->mu);
        return hermes__fail(HERMES_ESTATE, "step needs a paused replay (state is running)");
    }
    rp->state = HERMES_STATE_PAUSED;
    uint64_t last = rp->rows - 1;
    rp->cur = count > last - rp->cur ? last : rp->cur + count;
    if (target)
        *target = rp->frames[rp->cur];
    pthread_mutex_unlock(&rp->mu);
    return 0;
}

static int ctl_set(void *ctx, hermes_signal_t sig, double value)
{
    (void)ctx;
    (void)sig;
    (void)value;
    return hermes__fail(HERMES_EREADONLY, "a recording played back is read-only: 'set' is refused (to change a "
                                          "run, rerun it: hermes run CONFIG --rerun FILE.h5)");
}

static hermes_state_t ctl_state(void *ctx)
{
    hermes_replay_t *rp = ctx;
    pthread_mutex_lock(&rp->mu);
    hermes_state_t st = rp->state;
    pthread_mutex_unlock(&rp->mu);
    return st;
}

static int ctl_attach(void *ctx, hermes_server_t *srv)
{
    hermes_replay_t *rp = ctx;
    pthread_mutex_lock(&rp->mu);
    rp->srv = srv;
    pthread_mutex_unlock(&rp->mu);
    return 0;
}

static void ctl_detach(void *ctx, hermes_server_t *srv)
{
    hermes_replay_t *rp = ctx;
    (void)srv;
    pthread_mutex_lock(&rp->mu);
    rp->srv = NULL;
    pthread_mutex_unlock(&rp->mu);
}

static int ctl_seek(void *ctx, uint64_t frame)
{
    hermes_replay_t *rp = ctx;
    /* The first row showing this frame; for a decimated recording the last
     * recorded frame before it (in the same stretch between resets). */
    uint64_t row = UINT64_MAX;
    for (uint64_t k = 0; k < rp->rows; k++) {
        if (rp->frames[k] == frame) {
            row = k;
            break;
        }
        if (rp->frames[k] > frame && k > 0 && rp->frames[k - 1] < frame) {
            row = k - 1;
            break;
        }
    }
    if (row == UINT64_MAX)
        return hermes__fail(HERMES_ERANGE, "frame %llu is not in the recording (frames %llu..%llu)",
                            (unsigned long long)frame, (unsigned long long)rp->frames[0],
                            (unsigned long long)rp->frames[rp->rows - 1]);
    pthread_mutex_lock(&rp->mu);
    rp->cur = row;
    if (rp->state == HERMES_STATE_RUNNING)
        start_clock(rp);
    else
        rp->state = HERMES_STATE_PAUSED;
    wake(rp);
    pthread_mutex_unlock(&rp->mu);
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------------- */

HERMES_API int hermes_replay_create(hermes_replay_t **out, hermes_recording_t *rec,
                                    const hermes_replay_config_t *cfg)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_replay_create: out is NULL");
    *out = NULL;
    if (!rec || !cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_replay_create: NULL recording or config");
    if (cfg->size == 0)
        return hermes__fail(HERMES_EINVAL, "hermes_replay_create: config not initialised "
                                           "(call hermes_replay_config_init)");
    if (cfg->speed < 0 || !isfinite(cfg->speed))
        return hermes__fail(HERMES_EINVAL, "replay speed must be a positive number, got %g", cfg->speed);
    if (rec->rows == 0)
        return hermes__fail(HERMES_EINVAL, "recording '%s' holds no frames", rec->path);
    hermes__h5_quiet();
    hermes_replay_t *rp = calloc(1, sizeof *rp);
    if (!rp)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    rp->rec = rec;
    rp->speed = cfg->speed > 0 ? cfg->speed : 1.0;
    rp->loop = cfg->loop;
    rp->start_paused = cfg->start_paused;
    rp->rows = rec->rows;
    rp->state = HERMES_STATE_PAUSED;
    pthread_mutex_init(&rp->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rp->cv, &ca);
    pthread_condattr_destroy(&ca);
    uint32_t n = rec->n;
    rp->frames = malloc(rp->rows * sizeof *rp->frames);
    rp->times = malloc(rp->rows * sizeof *rp->times);
    rp->pt = malloc(rp->rows * sizeof *rp->pt);
    rp->vals = calloc(n ? n : 1, sizeof *rp->vals);
    rp->modules = calloc(n ? n : 1, sizeof *rp->modules);
    rp->locals = calloc(n ? n : 1, sizeof *rp->locals);
    rp->mod_index = calloc(n ? n : 1, sizeof *rp->mod_index);
    int rc = 0;
    if (!rp->frames || !rp->times || !rp->pt || !rp->vals || !rp->modules || !rp->locals || !rp->mod_index) {
        rc = hermes__fail(HERMES_ENOMEM, "out of memory");
        goto fail;
    }
    /* frame and time of every row (no signal value: the values are read one
     * row at a time when a frame is served) */
    rc = hermes_recording_read(rec, 0, rp->rows, NULL, rp->frames, rp->times);
    if (rc)
        goto fail;
    double rate = rec->rate_hz > 0 ? rec->rate_hz : 1.0;
    rp->dt = 1.0 / rate;
    rp->pt[0] = 0;
    for (uint64_t k = 1; k < rp->rows; k++) {
        double d = rp->times[k] - rp->times[k - 1];
        rp->pt[k] = rp->pt[k - 1] + (d > 0 ? d : rp->dt);  /* a reset: one frame period */
    }
    uint32_t nmods = 0;
    uint32_t *mod_first = malloc((n ? n : 1) * sizeof *mod_first);
    if (!mod_first) {
        rc = hermes__fail(HERMES_ENOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t k = 0; k < n; k++) {
        const char *name = rec->views[k].name;
        const char *dot = strchr(name, '.');
        size_t ml = dot ? (size_t)(dot - name) : strlen(name);
        rp->modules[k] = malloc(ml + 1);
        if (!rp->modules[k]) {
            free(mod_first);
            rc = hermes__fail(HERMES_ENOMEM, "out of memory");
            goto fail;
        }
        memcpy(rp->modules[k], name, ml);
        rp->modules[k][ml] = '\0';
        rp->locals[k] = dot ? dot + 1 : "";
        /* the module's index: the previous signal's (signals of a module are
         * usually together), else a search among the modules seen so far
         * (mod_first[i]: the first signal of module i), never among signals */
        uint32_t mi = nmods;
        if (k > 0 && !strcmp(rp->modules[k - 1], rp->modules[k]))
            mi = rp->mod_index[k - 1];
        else
            for (uint32_t i = 0; i < nmods; i++)
                if (!strcmp(rp->modules[mod_first[i]], rp->modules[k])) {
                    mi = i;
                    break;
                }
        if (mi == nmods)
            mod_first[nmods++] = k;
        rp->mod_index[k] = mi;
    }
    free(mod_first);
    /* An MCAP file (rec->mem) has no wire or module rate tables. */
    hid_t tw = hermes__rec_wire_type();
    if (rec->mem ||
        hermes__rec_read_table(rec->file, REC_WIRES, tw, sizeof *rp->wires, (void **)&rp->wires, &rp->nwires) != 0)
        rp->nwires = 0;
    H5Tclose(tw);
    for (uint64_t i = 0; i < rp->nwires; i++)
        rp->wires[i].src[REC_NAME_LEN - 1] = rp->wires[i].dst[REC_NAME_LEN - 1] = '\0';
    hid_t tr = hermes__rec_rate_type();
    if (rec->mem) {
        if (hermes__mcap_rates(rec, &rp->rates, &rp->nrates) != 0)
            rp->nrates = 0;
    } else if (H5Lexists(rec->file, REC_MODULE_RATES, H5P_DEFAULT) <= 0 ||
        hermes__rec_read_table(rec->file, REC_MODULE_RATES, tr, sizeof *rp->rates, (void **)&rp->rates,
                               &rp->nrates) != 0)
        rp->nrates = 0;
    H5Tclose(tr);
    for (uint64_t i = 0; i < rp->nrates; i++)
        rp->rates[i].name[REC_MODNAME_LEN - 1] = '\0';
    rp->ex.rate_hz = rate;
    const char *mode = hermes_recording_attr(rec, "mode");
    rp->ex.mode = HERMES_MODE_AFAP;  /* also for a missing or unknown word */
#define X_MODE(name, value, word)          \
    if (mode && !strcmp(mode, word))       \
        rp->ex.mode = HERMES_MODE_##name;
    HERMES_MODE_TABLE(X_MODE)
#undef X_MODE
    double end = NAN;
    hermes_recording_attr_number(rec, "end_time", &end);
    rp->ex.has_end_time = !isnan(end);
    rp->ex.end_time = rp->ex.has_end_time ? end : 0;
    rp->ex.step_timeout = 1.0;
    const char *run = hermes_recording_attr(rec, "run_id");
    hermes__strlcpy(rp->run_id, run ? run : "", sizeof rp->run_id);
    *out = rp;
    return 0;
fail:
    {
        hermes__error_saved_t e;
        hermes__error_save(&e);
        hermes_replay_destroy(rp);
        return hermes__error_restore(rc, &e);
    }
}

static int src_module_rate(void *ctx, const char *module, hermes_module_rate_t *out)
{
    const hermes_replay_t *rp = ctx;
    for (uint64_t i = 0; i < rp->nrates; i++)
        if (!strcmp(rp->rates[i].name, module) && rp->rates[i].divisor) {
            out->rate_hz = rp->rates[i].rate_hz;
            out->divisor = rp->rates[i].divisor;
            out->offset = rp->rates[i].offset;
            out->dt = rp->ex.rate_hz > 0 ? (double)rp->rates[i].divisor / rp->ex.rate_hz : 0.0;
            return 0;
        }
    return HERMES_ENOENT;
}

HERMES_API int hermes_replay_source(hermes_replay_t *rp, hermes_server_source_t *out)
{
    if (!rp || !out)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    hermes_server_source_init(out);
    out->ctx = rp;
    out->run_id = rp->run_id;
    out->signal_count = src_count;
    out->signal_info = src_info;
    out->stream_open = src_open;
    out->stream_encode = src_encode;
    out->stream_close = src_close;
    out->frame = src_frame;
    out->wire_count = src_wire_count;
    out->wire = src_wire;
    out->execution = src_execution;
    out->module_rate = src_module_rate;
    return 0;
}

HERMES_API int hermes_replay_control(hermes_replay_t *rp, hermes_server_control_t *out)
{
    if (!rp || !out)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    hermes_server_control_init(out);
    out->ctx = rp;
    out->pause = ctl_pause;
    out->resume = ctl_resume;
    out->reset = ctl_reset;
    out->step = ctl_step;
    out->set = ctl_set;
    out->state = ctl_state;
    out->attach = ctl_attach;
    out->detach = ctl_detach;
    out->seek = ctl_seek;
    return 0;
}

HERMES_API int hermes_replay_start(hermes_replay_t *rp)
{
    if (!rp)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    pthread_mutex_lock(&rp->mu);
    if (rp->started) {
        pthread_mutex_unlock(&rp->mu);
        return hermes__fail(HERMES_ESTATE, "replay already started");
    }
    rp->cur = 0;
    rp->state = rp->start_paused ? HERMES_STATE_PAUSED : HERMES_STATE_RUNNING;
    start_clock(rp);
    if (pthread_create(&rp->thread, NULL, play_main, rp) != 0) {
        pthread_mutex_unlock(&rp->mu);
        return hermes__fail(HERMES_ESYS, "cannot create the playback thread");
    }
    rp->started = true;
    bool running = rp->state == HERMES_STATE_RUNNING;
    pthread_mutex_unlock(&rp->mu);
    if (running)
        post(rp, HERMES_EVENT_RUNNING, rp->frames[0]);
    return 0;
}

HERMES_API uint64_t hermes_replay_row(hermes_replay_t *rp, uint64_t *frame)
{
    if (!rp)
        return 0;
    pthread_mutex_lock(&rp->mu);
    uint64_t row = row_now(rp);
    if (frame)
        *frame = rp->frames[row];
    pthread_mutex_unlock(&rp->mu);
    return row;
}

HERMES_API void hermes_replay_destroy(hermes_replay_t *rp)
{
    if (!rp)
        return;
    if (rp->started) {
        pthread_mutex_lock(&rp->mu);
        rp->quit = true;
        wake(rp);
        pthread_mutex_unlock(&rp->mu);
        pthread_join(rp->thread, NULL);
    }
    hermes__free_strv(rp->modules, rp->rec->n);
    free(rp->locals);
    free(rp->mod_index);
    free(rp->frames);
    free(rp->times);
    free(rp->pt);
    free(rp->vals);
    free(rp->wires);
    free(rp->rates);
    pthread_cond_destroy(&rp->cv);
    pthread_mutex_destroy(&rp->mu);
    free(rp);
}
