/* The recorder's MCAP file (--record FILE.mcap): opened at create, written by
 * the writer thread from the same ring slots and event/journal queue as the
 * HDF5 file (recording/mcap_run.c does the MCAP side), ended at close. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hermes/version.h"
#include "recording/mcap_run.h"
#include "recording/recorder_priv.h"
#include "common/util.h"

#define CHUNK_MAX_AGE_NS 1000000000u  /* chunks close at least once a second of wall time */

int hermes__rec_mcap_open(hermes_recorder_t *r, const hermes_recorder_config_t *cfg, const uint32_t *idx)
{
    r->mcap_info = calloc(r->n ? r->n : 1, sizeof *r->mcap_info);
    if (!r->mcap_info)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    for (uint32_t k = 0; k < r->n; k++)
        hermes_backplane_info(r->bp, idx[k], &r->mcap_info[k]);
    const hermes_config_t *hc = hermes_scheduler_config(r->s);
    hermes_execution_t ex;
    hermes_config_execution(hc, &ex);
    const char *start = r->start_utc;
    char *text = cfg->config_text ? NULL : hermes__rec_read_text(hermes_config_path(hc));
    uint32_t nrates = 0;
    struct rec_rate_row *rates = hermes__rec_rate_rows(hc, &nrates);
    uint64_t seed = 0;
    bool has_seed = hermes_config_seed(hc, &seed) == 0;
    hermes__mcap_run_meta_t meta = {
        .run_id = hermes_backplane_name(r->bp), .hermes_version = HERMES_VERSION_STRING,
        .mode = hermes_mode_name(ex.mode), .start_time_utc = start, .source = "hermes recorder",
        .config_text = cfg->config_text ? cfg->config_text : text, .config_path = hermes_config_path(hc),
        .rate_hz = ex.rate_hz, .every = r->every, .has_seed = has_seed, .seed = seed, .rates = rates,
        .nrates = rates ? nrates : 0};
    int rc = hermes__mcap_run_open(&r->mcap, r->mcap_path, cfg->mcap_compression, r->mcap_info, r->n, &meta);
    free(text);
    free(rates);
    if (rc) {
        char m[512];
        hermes__strlcpy(m, hermes_last_error(), sizeof m);
        return hermes__fail(rc, "recording to '%s': %s", r->mcap_path, m);
    }
    return 0;
}

int hermes__rec_mcap_entries(hermes_recorder_t *r, const struct qentry *q, size_t n)
{
    if (!r->mcap || !n)
        return 0;
    if (r->mqlen + n > r->mqcap) {
        size_t cap = r->mqcap ? r->mqcap : 64;
        while (cap < r->mqlen + n)
            cap *= 2;
        struct qentry *m = realloc(r->mq, cap * sizeof *m);
        if (!m)
            return hermes__fail(HERMES_ENOMEM, "out of memory");
        r->mq = m;
        r->mqcap = cap;
    }
    memcpy(r->mq + r->mqlen, q, n * sizeof *q);
    r->mqlen += n;
    return 0;
}

/* The waiting entries of a tick below @p tick, in the order they came. */
static int entries_before(hermes_recorder_t *r, uint64_t tick)
{
    size_t i = 0;
    int rc = 0;
    for (; i < r->mqlen && rc == 0; i++) {
        const struct qentry *e = &r->mq[i];
        if ((e->is_event ? e->u.ev.tick : e->u.jr.tick) >= tick)
            break;
        rc = e->is_event ? hermes__mcap_run_event(r->mcap, &e->u.ev) : hermes__mcap_run_journal(r->mcap, &e->u.jr);
    }
    if (i) {
        memmove(r->mq, r->mq + i, (r->mqlen - i) * sizeof *r->mq);
        r->mqlen -= i;
    }
    return rc;
}

int hermes__rec_mcap_rows(hermes_recorder_t *r, uint64_t pos, uint64_t n)
{
    int rc = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        const uint64_t *h = r->hdr + (pos + i) * HDR_WORDS;
        rc = entries_before(r, h[0]);
        if (rc == 0)
            rc = hermes__mcap_run_frame(r->mcap, h[1], h[3], r->vals + (pos + i) * r->n);
    }
    return rc;
}

int hermes__rec_mcap_age(hermes_recorder_t *r)
{
    return r->mcap ? hermes__mcap_run_age(r->mcap, CHUNK_MAX_AGE_NS) : 0;
}

void hermes__rec_mcap_fail(hermes_recorder_t *r)
{
    char m[512];
    hermes__strlcpy(m, hermes_last_error(), sizeof m);
    pthread_mutex_lock(&r->mu);
    if (!atomic_load(&r->failed)) {
        snprintf(r->errmsg, sizeof r->errmsg,
                 "recording to '%s' failed after %llu frames: %s; the file holds the frames up to its last "
                 "complete chunk",
                 r->mcap_path, (unsigned long long)r->rows, m);
        atomic_store(&r->failed, HERMES_ESYS);
    }
    pthread_cond_broadcast(&r->cv_space);
    pthread_mutex_unlock(&r->mu);
    hermes__log(HERMES_LOG_ERROR, "recorder", "event=write_failed file=%s frames=%llu", r->mcap_path,
                (unsigned long long)r->rows);
}

int hermes__rec_mcap_close(hermes_recorder_t *r, const char *reason)
{
    if (!r->mcap)
        return 0;
    int rc = entries_before(r, UINT64_MAX);
    hermes_timing_t t;
    memset(&t, 0, sizeof t);
    hermes_scheduler_timing(r->s, &t);
    char end[64], frames[24], ticks[24], overruns[24];
    hermes__rec_utc_now(end, sizeof end);
    snprintf(frames, sizeof frames, "%llu", (unsigned long long)atomic_load(&r->st_rows));
    snprintf(ticks, sizeof ticks, "%llu", (unsigned long long)r->last_tick);
    snprintf(overruns, sizeof overruns, "%llu", (unsigned long long)t.overruns);
    const hermes__mcap_kv_t kv[] = {{"end_reason", reason}, {"end_time_utc", end}, {"frames", frames},
                                    {"ticks", ticks},       {"overruns", overruns}, {"complete", "yes"}};
    if (rc == 0)
        rc = hermes__mcap_run_close(r->mcap, kv, sizeof kv / sizeof *kv);
    else
        hermes__mcap_run_abort(r->mcap);
    r->mcap = NULL;
    if (rc) {
        char m[512];
        hermes__strlcpy(m, hermes_last_error(), sizeof m);
        return hermes__fail(rc, "recording to '%s' failed: %s", r->mcap_path, m);
    }
    return 0;
}

void hermes__rec_mcap_free(hermes_recorder_t *r)
{
    hermes__mcap_run_abort(r->mcap);
    r->mcap = NULL;
    free(r->mcap_info);
    free(r->mq);
    free(r->mcap_path);
    r->mcap_info = NULL;
    r->mq = NULL;
    r->mcap_path = NULL;
}
