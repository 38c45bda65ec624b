/* Recorder API: create (signal choice, hooks, writer start), close, destroy, stats; the scheduler hooks that feed the ring and the event/journal queue. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recording/recorder_priv.h"
#include "common/util.h"

static int frame_hook(void *ctx, uint64_t frame, uint64_t tick, hermes_frame_kind_t kind)
{
    hermes_recorder_t *r = ctx;
    r->last_tick = tick;
    int f = atomic_load_explicit(&r->failed, memory_order_acquire);  /* errmsg is written before */
    if (f)
        return hermes__fail(f, "%s", r->errmsg);
    if (kind == HERMES_FRAME_COMPUTED && r->every > 1 && frame % r->every != 0)
        return 0;
    return hermes__rec_ring_push(r, frame, tick);
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

HERMES_API bool hermes_recording_supported(void) { return true; }

HERMES_API int hermes_recorder_create(hermes_recorder_t **out, hermes_scheduler_t *s,
                                      const hermes_recorder_config_t *cfg)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_recorder_create: out is NULL");
    *out = NULL;
    if (!s || !cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_recorder_create: NULL scheduler or config");
    if (cfg->size == 0)
        return hermes__fail(HERMES_EINVAL, "hermes_recorder_create: config not initialised "
                                           "(call hermes_recorder_config_init)");
    /* Hosts built before 0.5 pass a shorter config: no MCAP fields. */
    bool has_mcap = cfg->size >= offsetof(hermes_recorder_config_t, mcap_compression) + sizeof cfg->mcap_compression;
    const char *mcap = has_mcap && cfg->mcap_path && cfg->mcap_path[0] ? cfg->mcap_path : NULL;
    bool h5 = cfg->path && cfg->path[0];
    if (!h5 && !mcap)
        return hermes__fail(HERMES_EINVAL, "hermes_recorder_create: no file (path or mcap_path)");
    if (mcap && !hermes_mcap_compression_supported(cfg->mcap_compression))
        return hermes__fail(HERMES_ESTATE, "recording to '%s': MCAP compression %d is not built in", mcap,
                            (int)cfg->mcap_compression);
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
    const char *hold = getenv("HERMES_TEST_RECORDER_HOLD");
    r->hold = hold && hold[0] == '1';
    r->h5 = h5;
    hermes__rec_utc_now(r->start_utc, sizeof r->start_utc);
    r->path = hermes__strdup(h5 ? cfg->path : mcap);
    r->mcap_path = mcap ? hermes__strdup(mcap) : NULL;
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
    if (!r->path || (mcap && !r->mcap_path)) {
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
        const char *taken = hermes__rec_reserved(si.module);
        if (taken && r->h5) {
            hermes_encoder_destroy(enc);
            rc = hermes__fail(HERMES_EINVAL, "cannot record module '%s': its name is taken by the "
                                             "recording's '/%s' dataset; rename the module", si.module, taken);
            goto fail;
        }
    }
    rc = hermes_snapshot_plan_create(&r->plan, r->bp, idx, r->n);
    r->chunk_frames = hermes__rec_chunk_frames(r->n);
    if (rc == 0 && r->h5)
        rc = hermes__rec_file_build(r, cfg, idx);
    if (rc == 0 && r->mcap_path)
        rc = hermes__rec_mcap_open(r, cfg, idx);
    hermes_encoder_destroy(enc);
    if (rc)
        goto fail;

    if ((rc = hermes__rec_ring_alloc(r, cfg->ring_frames)) != 0)
        goto fail;
    if ((rc = hermes_scheduler_set_frame_hook(s, frame_hook, r)) != 0 ||
        (rc = hermes_scheduler_set_command_hook(s, command_hook, r)) != 0 ||
        (rc = hermes_scheduler_set_event_hook(s, event_hook, r)) != 0)
        goto fail;
    if (pthread_create(&r->writer, NULL, hermes__rec_writer_main, r) != 0) {
        rc = hermes__fail(HERMES_ESYS, "recording: cannot create the writer thread");
        goto fail;
    }
    r->writer_started = true;
    /* Already staged: the current frame is the run's frame 0. */
    hermes_state_t st = hermes_scheduler_state(s);
    if (st == HERMES_STATE_PAUSED)
        frame_hook(r, hermes_scheduler_frame(s), 0, HERMES_FRAME_STAGED);
    hermes__log(HERMES_LOG_INFO, "recorder", "event=recording file=%s%s%s signals=%u every=%u ring_frames=%llu",
                r->h5 ? r->path : "", r->mcap_path ? " mcap=" : "", r->mcap_path ? r->mcap_path : "", r->n,
                r->every, (unsigned long long)r->cap);
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
        hermes__rec_file_close(r);
        hermes_recorder_destroy(r);
        return hermes__error_restore(rc, &e);
    }
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
    if (!failed && r->h5 && H5Fflush(r->file, H5F_SCOPE_LOCAL) < 0)
        hermes__rec_writer_fail(r, "cannot flush", errno);
    atomic_fetch_add(&r->st_busy_ns, hermes__now_ns() - b0);
    failed = atomic_load(&r->failed);
    hermes__rec_file_close(r);
    if (failed) {
        hermes__rec_mcap_free(r);  /* an MCAP file then ends at its last complete chunk */
        return hermes__fail(failed, "%s", r->errmsg);
    }
    const char *reason = end_reason ? end_reason : "closed";
    int rc = hermes__rec_mcap_close(r, reason);
    if (rc == 0 && r->h5)
        rc = hermes__rec_file_end(r, reason);
    if (rc == 0)
        hermes__log(HERMES_LOG_INFO, "recorder", "event=recording_closed file=%s frames=%llu stalls=%llu", r->path,
                    (unsigned long long)atomic_load(&r->st_rows), (unsigned long long)atomic_load(&r->st_stalls));
    return rc;
}

HERMES_API void hermes_recorder_destroy(hermes_recorder_t *r)
{
    if (!r)
        return;
    if (!r->closed)
        (void)hermes_recorder_close(r, NULL);
    hermes_snapshot_plan_destroy(r->plan);
    hermes__rec_mcap_free(r);
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
