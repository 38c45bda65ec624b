/* A run written as MCAP (mcap_run.h): the Foxglove catalog's channels and
 * payloads, the events and journal channels, the run's metadata records and
 * its config attachment, on top of the record writer in mcap.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recording/mcap_run.h"
#include "server/foxglove/foxglove.h"
#include "server/text.h"
#include "common/util.h"

#define TOPIC_EVENTS  "/hermes/events"
#define TOPIC_JOURNAL "/hermes/journal"

static const char schema_event[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"event\":{\"type\":\"string\",\"description\":\"running, paused, reset, stopped or error\"},"
    "\"frame\":{\"type\":\"integer\",\"description\":\"frame the run showed\"},"
    "\"tick\":{\"type\":\"integer\",\"description\":\"frames computed since stage when it happened\"},"
    "\"detail\":{\"type\":\"string\",\"description\":\"error text, or why a module ended the run, else empty\"}},"
    "\"title\":\"hermes.event\"}";
static const char schema_journal[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"action\":{\"type\":\"string\",\"description\":\"set, pause, resume, step, reset or stop\"},"
    "\"frame\":{\"type\":\"integer\",\"description\":\"frame the run showed when it was applied\"},"
    "\"tick\":{\"type\":\"integer\",\"description\":\"frames computed since stage when it was applied\"},"
    "\"signal\":{\"type\":\"string\",\"description\":\"set: qualified signal name, else empty\"},"
    "\"value\":{\"type\":[\"number\",\"null\"],\"description\":\"set: the value\"},"
    "\"count\":{\"type\":\"integer\",\"description\":\"step: frames\"}},"
    "\"title\":\"hermes.command\"}";

struct hermes__mcap_run {
    hermes__mcap_t       *m;
    hermes__fg_catalog_t *cat;
    uint32_t              nch;       /* catalog channels 1..nch; events nch + 1, journal nch + 2 */
    double                rate_hz;
    size_t                frame_bound;  /* largest frame: every channel's message, with headers */
    char                  state[16];
    struct hermes__text   t;         /* event and journal payloads */
};

uint64_t hermes__mcap_frame_ns(uint64_t frame, double rate_hz)
{
    return rate_hz > 0 ? (uint64_t)llround((double)frame * (1e9 / rate_hz)) : 0;
}

static void text_u64(struct hermes__text *b, uint64_t v)
{
    char num[24];
    hermes__text_put(b, num, hermes__fg_format_u64(v, num));
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int write_metadata(hermes__mcap_run_t *r, const hermes__mcap_run_meta_t *meta)
{
    char rate[32], every[16], seed[24], hash[24];
    snprintf(rate, sizeof rate, "%.17g", meta->rate_hz);
    snprintf(every, sizeof every, "%u", meta->every ? meta->every : 1);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)meta->seed);
    const char *text = meta->config_text ? meta->config_text : "";
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)hermes__fnv64(HERMES__FNV64_INIT, text, strlen(text)));
    const hermes__mcap_kv_t kv[] = {
        {"format", "hermes-mcap"},
        {"format_version", "1"},
        {"run_id", meta->run_id ? meta->run_id : ""},
        {"hermes_version", meta->hermes_version ? meta->hermes_version : ""},
        {"seed", meta->has_seed ? seed : ""},
        {"config_hash", meta->config_text ? hash : ""},
        {"rate_hz", rate},
        {"every", every},
        {"mode", meta->mode ? meta->mode : ""},
        {"start_time_utc", meta->start_time_utc ? meta->start_time_utc : ""},
        {"source", meta->source ? meta->source : ""},
    };
    int rc = hermes__mcap_metadata(r->m, "hermes", kv, sizeof kv / sizeof *kv);
    if (rc || !meta->nrates)
        return rc;
    hermes__mcap_kv_t *rk = calloc(meta->nrates, sizeof *rk);
    char (*val)[96] = calloc(meta->nrates, sizeof *val);
    if (!rk || !val) {
        free(rk);
        free(val);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < meta->nrates; i++) {
        const struct rec_rate_row *m = &meta->rates[i];
        char num[HERMES_FG_DOUBLE_MAX + 1];
        num[hermes__fg_format_double(m->rate_hz, num)] = '\0';
        snprintf(val[i], sizeof val[i], "{\"rate_hz\":%s,\"divisor\":%u,\"offset\":%u}", num, m->divisor, m->offset);
        rk[i].key = m->name;
        rk[i].value = val[i];
    }
    rc = hermes__mcap_metadata(r->m, "module_rates", rk, meta->nrates);
    free(rk);
    free(val);
    return rc;
}

static int write_channels(hermes__mcap_run_t *r)
{
    int rc = 0;
    for (uint32_t id = 1; id <= r->nch && !rc; id++) {
        const char *name = NULL, *schema = hermes__fg_channel_schema(r->cat, id, &name);
        rc = hermes__mcap_schema(r->m, (uint16_t)id, name, "jsonschema", schema, strlen(schema));
        if (!rc)
            rc = hermes__mcap_channel(r->m, (uint16_t)id, (uint16_t)id, hermes__fg_channel_topic(r->cat, id), "json",
                                      NULL, 0);
    }
    const struct {
        const char *topic, *name, *schema;
    } extra[] = {{TOPIC_EVENTS, "hermes.event", schema_event}, {TOPIC_JOURNAL, "hermes.command", schema_journal}};
    for (uint32_t i = 0; i < 2 && !rc; i++) {
        uint16_t id = (uint16_t)(r->nch + 1 + i);
        rc = hermes__mcap_schema(r->m, id, extra[i].name, "jsonschema", extra[i].schema, strlen(extra[i].schema));
        if (!rc)
            rc = hermes__mcap_channel(r->m, id, id, extra[i].topic, "json", NULL, 0);
    }
    return rc;
}

int hermes__mcap_run_open(hermes__mcap_run_t **out, const char *path, hermes_mcap_compression_t comp,
                          const hermes_signal_info_t *info, uint32_t n, const hermes__mcap_run_meta_t *meta)
{
    *out = NULL;
    hermes__mcap_run_t *r = calloc(1, sizeof *r);
    if (!r)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    r->rate_hz = meta->rate_hz;
    hermes__strlcpy(r->state, "paused", sizeof r->state);
    int rc = hermes__fg_catalog_create(&r->cat, info, n);
    if (rc == 0) {
        r->nch = hermes__fg_channel_count(r->cat);
        if (r->nch + 2 > UINT16_MAX)
            rc = hermes__fail(HERMES_EINVAL, "MCAP: %u modules do not fit in 16-bit channel ids", r->nch);
        for (uint32_t id = 1; id <= r->nch; id++)
            r->frame_bound += hermes__fg_channel_bound(r->cat, id) + 31;
    }
    if (rc == 0)
        rc = hermes__mcap_open(&r->m, path, comp, 0);
    if (rc == 0)
        rc = write_channels(r);
    if (rc == 0)
        rc = write_metadata(r, meta);
    if (rc == 0 && meta->config_text) {
        const char *base = meta->config_path ? strrchr(meta->config_path, '/') : NULL;
        base = base ? base + 1 : meta->config_path && meta->config_path[0] ? meta->config_path : "config.yaml";
        rc = hermes__mcap_attachment(r->m, 0, wall_ns(), base, "application/yaml", meta->config_text,
                                     strlen(meta->config_text));
    }
    if (rc) {
        hermes__error_saved_t e;
        hermes__error_save(&e);
        hermes__mcap_run_abort(r);
        return hermes__error_restore(rc, &e);
    }
    *out = r;
    return 0;
}

static int status(hermes__mcap_run_t *r)
{
    int f = hermes__mcap_status(r->m);
    return f ? hermes__fail(f, "%s", hermes__mcap_errmsg(r->m)) : 0;
}

int hermes__mcap_run_frame(hermes__mcap_run_t *r, uint64_t frame, uint64_t time_ns, const double *values)
{
    hermes__fg_tick_t tick = {values, frame, time_ns, r->state};
    /* A frame stays in one chunk (unless it is larger than a chunk): a file
     * cut after a complete chunk then holds whole frames. */
    int rc0 = hermes__mcap_chunk_room(r->m, r->frame_bound);
    if (rc0)
        return rc0;
    for (uint32_t id = 1; id <= r->nch; id++) {
        char *p = hermes__mcap_message_begin(r->m, (uint16_t)id, time_ns, time_ns,
                                             hermes__fg_channel_bound(r->cat, id));
        if (!p)
            return status(r);
        int rc = hermes__mcap_message_end(r->m, hermes__fg_encode(r->cat, id, &tick, p));
        if (rc)
            return rc;
    }
    return 0;
}

static int put_text(hermes__mcap_run_t *r, uint16_t channel, uint64_t frame)
{
    if (r->t.oom) {
        r->t.oom = false;
        r->t.len = 0;
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    uint64_t t = hermes__mcap_frame_ns(frame, r->rate_hz);
    int rc = hermes__mcap_message(r->m, channel, t, t, r->t.p, r->t.len);
    r->t.len = 0;
    return rc;
}

int hermes__mcap_run_event(hermes__mcap_run_t *r, const struct rec_event_row *e)
{
    char ev[REC_EVENT_LEN + 1], detail[REC_DETAIL_LEN + 1];
    memcpy(ev, e->event, REC_EVENT_LEN);
    ev[REC_EVENT_LEN] = '\0';
    memcpy(detail, e->detail, REC_DETAIL_LEN);
    detail[REC_DETAIL_LEN] = '\0';
    hermes__strlcpy(r->state, strcmp(ev, "reset") ? ev : "paused", sizeof r->state);
    struct hermes__text *b = &r->t;
    hermes__text_str(b, "{\"event\":");
    hermes__text_json_lossy(b, ev);
    hermes__text_str(b, ",\"frame\":");
    text_u64(b, e->frame);
    hermes__text_str(b, ",\"tick\":");
    text_u64(b, e->tick);
    hermes__text_str(b, ",\"detail\":");
    hermes__text_json_lossy(b, detail);
    hermes__text_put(b, "}", 1);
    return put_text(r, (uint16_t)(r->nch + 1), e->frame);
}

int hermes__mcap_run_journal(hermes__mcap_run_t *r, const struct rec_journal_row *j)
{
    char action[REC_ACTION_LEN + 1], sig[REC_NAME_LEN + 1], num[HERMES_FG_DOUBLE_MAX + 1];
    memcpy(action, j->action, REC_ACTION_LEN);
    action[REC_ACTION_LEN] = '\0';
    memcpy(sig, j->signal, REC_NAME_LEN);
    sig[REC_NAME_LEN] = '\0';
    struct hermes__text *b = &r->t;
    hermes__text_str(b, "{\"action\":");
    hermes__text_json_lossy(b, action);
    hermes__text_str(b, ",\"frame\":");
    text_u64(b, j->frame);
    hermes__text_str(b, ",\"tick\":");
    text_u64(b, j->tick);
    hermes__text_str(b, ",\"signal\":");
    hermes__text_json_lossy(b, sig);
    hermes__text_str(b, ",\"value\":");
    hermes__text_put(b, num, hermes__fg_format_double(j->value, num));
    hermes__text_str(b, ",\"count\":");
    text_u64(b, j->count);
    hermes__text_put(b, "}", 1);
    return put_text(r, (uint16_t)(r->nch + 2), j->frame);
}

int hermes__mcap_run_age(hermes__mcap_run_t *r, uint64_t max_age_ns)
{
    uint64_t age = hermes__mcap_chunk_age_ns(r->m);
    return age && age >= max_age_ns ? hermes__mcap_chunk_close(r->m) : status(r);
}

int hermes__mcap_run_close(hermes__mcap_run_t *r, const hermes__mcap_kv_t *end, size_t n)
{
    int rc = status(r);
    if (rc == 0 && n)
        rc = hermes__mcap_metadata(r->m, "hermes.end", end, n);
    int crc = hermes__mcap_close(r->m);
    r->m = NULL;
    if (rc == 0)
        rc = crc;
    hermes__error_saved_t e;
    hermes__error_save(&e);
    hermes__mcap_run_abort(r);
    return rc ? hermes__error_restore(rc, &e) : 0;
}

void hermes__mcap_run_abort(hermes__mcap_run_t *r)
{
    if (!r)
        return;
    hermes__mcap_abort(r->m);
    hermes__fg_catalog_destroy(r->cat);
    free(r->t.p);
    free(r);
}

hermes__mcap_t *hermes__mcap_run_writer(hermes__mcap_run_t *r) { return r ? r->m : NULL; }
