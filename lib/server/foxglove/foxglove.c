/* The Foxglove WebSocket protocol (subprotocols foxglove.sdk.v1 and
 * foxglove.websocket.v1) as one entry of the server's protocol table
 * (docs/foxglove.md): greeting, client ops, parameters, services, events as
 * status messages, and per-subscription telemetry.
 * Telemetry: once per tick, one stream of every signal (shared through the
 * server's telemetry streams, so one consistent snapshot) gives the frame,
 * time and values; each subscribed channel's JSON payload is encoded once
 * into a buffer that already holds the 13-byte MessageData header, and each
 * subscriber's 4-byte subscription id is patched in just before its write
 * (libwebsockets copies whatever it cannot send at once). Each subscription
 * keeps only its latest message: an unsent one is replaced and counted as
 * dropped, like the hermes protocol's frames. Service thread only. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "hermes/encoder.h"
#include "hermes/version.h"
#include "server/foxglove/foxglove.h"
#include "server/proto.h"
#include "common/util.h"

/* ---- state ------------------------------------------------------------------ */

struct fgchan {
    unsigned char *buf;    /* LWS_PRE + header + payload bound */
    size_t         len;    /* header + payload of the current tick */
    uint64_t       tick;   /* tick encoded for (UINT64_MAX: never) */
};

struct fgserver {
    hermes__fg_catalog_t         *cat;
    const struct hermes__catalog *scat;
    uint32_t                      nch;
    struct fgchan                *ch;        /* [nch], index id - 1 */
    uint32_t                     *params;    /* writable signals no wire drives */
    uint32_t                      nparams;
    double                       *pvalues;   /* [scat->n]: parameter values, by signal index */
    void                         *preader;   /* the source's reader of the parameters */
    unsigned char                *pbuf;      /* its frame */
    char                         *advertise, *services;
    size_t                        advertise_len, services_len;
    char                         *rates;     /* serverInfo's module_rates (NULL: the source has none) */
    /* the tick's snapshot */
    struct hermes__stream        *all;       /* every signal; open while a session needs it */
    uint32_t                      users;     /* sessions holding `all` */
    double                       *values;    /* [scat->n] */
    bool                          valid;
    uint64_t                      tick, frame, time_ns;
    const char                   *state;
    unsigned char                 time_buf[LWS_PRE + HERMES_FG_TIME_SIZE];
    struct hermes__frame          time_frame;
    /* sessionId: run id plus the number of resets */
    uint64_t                      resets;
    char                          session_id[112];
};

struct fgsub {
    uint32_t id, channel;
    bool     pending;
};

/* A setParameters request in flight: its SET jobs run one after another. */
struct fgset {
    char     *id;                /* the request's id (owned) or NULL */
    uint32_t *idx;               /* parameters still to set, then those set */
    double   *val;
    uint32_t  n, next, ok;
};

/* The greeting goes out one part per empty reply queue, so the channel
 * schemas (large for a large run) are never queued behind another reply and
 * the reply-queue limit of the shared layer cannot refuse them. */
enum greet { GREET_NONE, GREET_INFO_SENT, GREET_ADVERTISED, GREET_DONE };

struct fgsess {
    uint8_t              greet;
    bool                 holds_all;
    struct fgsub        *subs;
    uint32_t             nsubs, cap, rr;
    bool                 time_pending;
    struct hermes__frame out;
    struct fgset         set;
};

static struct fgserver *fgs_of(hermes_server_t *s)
{
    return hermes__server_proto_data(s, &hermes__protocol_foxglove);
}

/* ---- output ------------------------------------------------------------------ */

/* Send and free @p text; its length is in *len once the builder has run
 * (a pointer, because argument evaluation order is unspecified). */
static void send_owned(struct client *c, char *text, const size_t *len)
{
    if (text)
        hermes__client_send_text(c, text, *len);
    free(text);
}

static void status(struct client *c, int level, const char *fmt, ...) HERMES_PRINTF(3, 4);
static void status(struct client *c, int level, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (level == HERMES_FG_ERROR)
        hermes__log(HERMES_LOG_INFO, "server", "event=command_error id=%llu protocol=foxglove error=\"%s\"",
                    (unsigned long long)hermes__client_id(c), msg);
    size_t len = 0;
    send_owned(c, hermes__fg_status(level, msg, NULL, &len), &len);
}

static void call_failure(struct client *c, uint32_t service, uint32_t call, const char *fmt, ...) HERMES_PRINTF(4, 5);
static void call_failure(struct client *c, uint32_t service, uint32_t call, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hermes__log(HERMES_LOG_INFO, "server", "event=command_error id=%llu protocol=foxglove service=%u error=\"%s\"",
                (unsigned long long)hermes__client_id(c), service, msg);
    size_t len = 0;
    send_owned(c, hermes__fg_call_failure(service, call, msg, &len), &len);
}

/* ---- the tick's snapshot --------------------------------------------------------- */

/* Open the all-signals stream for @p c (once per session). */
static bool hold_all(struct client *c, struct fgserver *g, struct fgsess *f)
{
    if (f->holds_all)
        return true;
    if (!g->all) {
        uint32_t n = g->scat->n;
        uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
        if (!idx)
            return false;
        for (uint32_t k = 0; k < n; k++)
            idx[k] = k;
        g->all = hermes__stream_get(hermes__client_server(c), idx, n);
        free(idx);
        if (!g->all)
            return false;
    }
    g->users++;
    f->holds_all = true;
    return true;
}

static void release_all(struct client *c, struct fgserver *g, struct fgsess *f)
{
    if (!f->holds_all)
        return;
    f->holds_all = false;
    if (--g->users == 0) {
        hermes__stream_release(hermes__client_server(c), g->all);
        g->all = NULL;
    }
}

/* Read tick @p tick's snapshot (once per tick for every session). */
static void refresh(hermes_server_t *s, struct fgserver *g, uint64_t tick)
{
    if (g->tick == tick || !g->all)
        return;
    g->tick = tick;
    g->valid = false;
    const struct hermes__frame *f = hermes__stream_frame(s, g->all, tick);
    hermes_telemetry_header_t h;
    if (!f || !f->valid || hermes_telemetry_decode_header(f->buf, f->len, &h) != 0 || h.count != g->scat->n)
        return;
    g->frame = h.frame;
    double t = h.time;
    g->time_ns = t > 0 && t < 1.8e10 ? (uint64_t)llround(t * 1e9) : 0;
    for (uint32_t k = 0; k < g->scat->n; k++)
        g->values[k] = hermes_telemetry_value(f->buf, k);
    g->state = hermes__server_state_name(s);
    hermes__fg_put_time(g->time_buf + LWS_PRE, g->time_ns);
    g->valid = true;
}

/* Channel @p id's message of the current tick (encoded on first use). */
static struct fgchan *channel_msg(struct fgserver *g, uint32_t id)
{
    struct fgchan *ch = &g->ch[id - 1];
    if (ch->tick != g->tick) {
        hermes__fg_tick_t t = {g->values, g->frame, g->time_ns, g->state};
        unsigned char *h = ch->buf + LWS_PRE;
        hermes__fg_put_message_header(h, 0, g->time_ns);
        ch->len = HERMES_FG_MESSAGE_HEADER + hermes__fg_encode(g->cat, id, &t, (char *)h + HERMES_FG_MESSAGE_HEADER);
        ch->tick = g->tick;
    }
    return ch;
}

static void on_tick(struct client *c, uint64_t tick)
{
    hermes_server_t *s = hermes__client_server(c);
    struct fgserver *g = fgs_of(s);
    struct fgsess *f = hermes__client_state(c);
    if (!f->holds_all)
        return;
    refresh(s, g, tick);
    if (!g->valid)
        return;
    for (uint32_t i = 0; i < f->nsubs; i++) {
        channel_msg(g, f->subs[i].channel);
        if (f->subs[i].pending)
            hermes__client_count_drop(c);  /* the unsent one is replaced by this tick's */
        f->subs[i].pending = true;
    }
    f->time_pending = true;
    hermes__client_want_write(c);
}

/* Next message for the session layer to write: subscriptions in turn, then
 * time. (Service responses are queued replies: hermes__client_send_binary.) */
static void greet_next(struct client *c, struct fgserver *g, struct fgsess *f)
{
    hermes_server_t *s = hermes__client_server(c);
    if (f->greet == GREET_INFO_SENT) {
        hermes__client_send_text(c, g->advertise, g->advertise_len);
        f->greet = GREET_ADVERTISED;
    } else {
        hermes__client_send_text(c, g->services, g->services_len);
        status(c, HERMES_FG_INFO, "hermes run %s: %s, %s connection", hermes__server_info(s)->run_id,
               hermes__server_state_name(s), hermes__client_role_name(c));
        f->greet = GREET_DONE;
    }
}

static const struct hermes__frame *next_frame(struct client *c)
{
    struct fgserver *g = fgs_of(hermes__client_server(c));
    struct fgsess *f = hermes__client_state(c);
    if (f->greet == GREET_INFO_SENT || f->greet == GREET_ADVERTISED) {
        greet_next(c, g, f);  /* called with the reply queue empty */
        return NULL;
    }
    for (uint32_t k = 0; k < f->nsubs; k++) {
        uint32_t i = (f->rr + k) % f->nsubs;
        struct fgsub *sub = &f->subs[i];
        if (!sub->pending)
            continue;
        sub->pending = false;
        f->rr = i + 1;
        struct fgchan *ch = &g->ch[sub->channel - 1];
        unsigned char *h = ch->buf + LWS_PRE;
        h[1] = (unsigned char)sub->id;
        h[2] = (unsigned char)(sub->id >> 8);
        h[3] = (unsigned char)(sub->id >> 16);
        h[4] = (unsigned char)(sub->id >> 24);
        f->out = (struct hermes__frame){h, ch->len, true};
        return &f->out;
    }
    if (f->time_pending) {
        f->time_pending = false;
        return g->valid ? &g->time_frame : NULL;
    }
    return NULL;
}

/* ---- client ops -------------------------------------------------------------------- */

static bool get_u32(json_t *v, uint32_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (json_int_t)UINT32_MAX)
        return false;
    *out = (uint32_t)json_integer_value(v);
    return true;
}

static void op_subscribe(struct client *c, json_t *msg)
{
    hermes_server_t *s = hermes__client_server(c);
    struct fgserver *g = fgs_of(s);
    struct fgsess *f = hermes__client_state(c);
    json_t *list = json_object_get(msg, "subscriptions");
    if (!json_is_array(list)) {
        status(c, HERMES_FG_ERROR, "subscribe needs \"subscriptions\", a list of {\"id\", \"channelId\"}, got %s",
               list ? hermes__json_kind(list) : "nothing");
        return;
    }
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) {
        uint32_t id, ch;
        if (!json_is_object(it) || !get_u32(json_object_get(it, "id"), &id) ||
            !get_u32(json_object_get(it, "channelId"), &ch)) {
            status(c, HERMES_FG_ERROR, "subscriptions[%zu] must be {\"id\": u32, \"channelId\": u32}", i);
            continue;
        }
        if (ch < 1 || ch > g->nch) {
            status(c, HERMES_FG_ERROR, "subscribe: no channel %u (channels are 1..%u)", ch, g->nch);
            continue;
        }
        bool dup = false;
        for (uint32_t k = 0; k < f->nsubs && !dup; k++) {
            if (f->subs[k].id == id) {
                status(c, HERMES_FG_ERROR, "subscribe: subscription id %u is already in use", id);
                dup = true;
            } else if (f->subs[k].channel == ch) {
                status(c, HERMES_FG_ERROR, "subscribe: channel %u is already subscribed (subscription %u)", ch,
                       f->subs[k].id);
                dup = true;
            }
        }
        if (dup)
            continue;
        if (!hold_all(c, g, f)) {
            status(c, HERMES_FG_ERROR, "subscribe: cannot read the signals: %s", hermes_last_error());
            return;
        }
        if (f->nsubs == f->cap) {
            uint32_t cap = f->cap ? 2 * f->cap : 4;
            struct fgsub *p = realloc(f->subs, cap * sizeof *p);
            if (!p) {
                status(c, HERMES_FG_ERROR, "subscribe: out of memory");
                return;
            }
            f->subs = p;
            f->cap = cap;
        }
        f->subs[f->nsubs++] = (struct fgsub){id, ch, false};
        hermes__log(HERMES_LOG_INFO, "server", "event=subscribe id=%llu protocol=foxglove subscription=%u topic=%s",
                    (unsigned long long)hermes__client_id(c), id, hermes__fg_channel_topic(g->cat, ch));
    }
}

static void op_unsubscribe(struct client *c, json_t *msg)
{
    struct fgsess *f = hermes__client_state(c);
    json_t *list = json_object_get(msg, "subscriptionIds");
    if (!json_is_array(list)) {
        status(c, HERMES_FG_ERROR, "unsubscribe needs \"subscriptionIds\", a list of numbers, got %s",
               list ? hermes__json_kind(list) : "nothing");
        return;
    }
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) {
        uint32_t id;
        if (!get_u32(it, &id)) {
            status(c, HERMES_FG_ERROR, "subscriptionIds[%zu] must be a u32, got %s", i, hermes__json_kind(it));
            continue;
        }
        uint32_t k = 0;
        while (k < f->nsubs && f->subs[k].id != id)
            k++;
        if (k == f->nsubs) {
            status(c, HERMES_FG_WARNING, "unsubscribe: no subscription %u", id);
            continue;
        }
        f->subs[k] = f->subs[--f->nsubs];  /* its pending message goes with it */
        f->rr = 0;
    }
}

/* The parameter index of qualified @p name, or -1 with a status naming why. */
static int64_t find_param(struct client *c, const char *name, bool report)
{
    struct fgserver *g = fgs_of(hermes__client_server(c));
    int64_t k = hermes__catalog_find(g->scat, name);
    const char *why = NULL;
    char buf[HERMES_MAX_NAME * 2 + 64];
    if (k < 0) {
        why = "unknown signal";
    } else if (!g->scat->info[k].writable) {
        why = "read-only";
    } else if (g->scat->driven_by[k]) {
        snprintf(buf, sizeof buf, "driven by %s; set that instead", g->scat->driven_by[k]);
        why = buf;
    }
    if (why) {
        if (report)
            status(c, HERMES_FG_ERROR, "parameter '%.128s': %s", name, why);
        return -1;
    }
    return k;
}

static void param_reply(struct client *c, const uint32_t *idx, size_t n, const char *id)
{
    struct fgserver *g = fgs_of(hermes__client_server(c));
    size_t len = 0;
    send_owned(c, hermes__fg_parameter_values(g->scat->info, g->scat->n, g->pvalues, idx, n, id, &len), &len);
}

/* Read the parameters' current values from the source into pvalues (a
 * reader of their own: the tick's snapshot stays as it is). */
static void read_params(hermes_server_t *s, struct fgserver *g)
{
    const hermes_server_source_t *src = hermes__server_info(s)->source;
    size_t size = HERMES_TELEMETRY_FRAME_SIZE(g->nparams);
    if (!g->nparams)
        return;
    if (!g->preader) {
        g->pbuf = malloc(size);
        if (!g->pbuf || src->stream_open(src->ctx, g->params, g->nparams, &g->preader) != 0) {
            free(g->pbuf);
            g->pbuf = NULL;
            g->preader = NULL;
            return;
        }
    }
    if (src->stream_encode(src->ctx, g->preader, g->pbuf, size) != 0)
        return;  /* the previous values stand */
    for (uint32_t i = 0; i < g->nparams; i++)
        g->pvalues[g->params[i]] = hermes_telemetry_value(g->pbuf, i);
}

static void op_get_parameters(struct client *c, json_t *msg)
{
    struct fgserver *g = fgs_of(hermes__client_server(c));
    json_t *names = json_object_get(msg, "parameterNames");
    json_t *idv = json_object_get(msg, "id");
    const char *id = json_string_value(idv);
    if (names && !json_is_array(names)) {
        status(c, HERMES_FG_ERROR, "getParameters: \"parameterNames\" must be a list of strings, got %s",
               hermes__json_kind(names));
        return;
    }
    read_params(hermes__client_server(c), g);
    if (json_array_size(names) == 0) {  /* none given: every parameter */
        param_reply(c, g->params, g->nparams, id);
        return;
    }
    size_t n = json_array_size(names);
    uint32_t *idx = malloc(n * sizeof *idx);
    if (!idx) {
        status(c, HERMES_FG_ERROR, "getParameters: out of memory");
        return;
    }
    size_t m = 0, i;
    json_t *it;
    json_array_foreach(names, i, it) {
        if (!json_is_string(it)) {
            status(c, HERMES_FG_ERROR, "getParameters: parameterNames[%zu] must be a string, got %s", i,
                   hermes__json_kind(it));
            continue;
        }
        int64_t k = find_param(c, json_string_value(it), true);
        if (k >= 0)
            idx[m++] = (uint32_t)k;
    }
    param_reply(c, idx, m, id);
    free(idx);
}

static void set_free(struct fgset *set)
{
    free(set->id);
    free(set->idx);
    free(set->val);
    memset(set, 0, sizeof *set);
}

/* Submit the next SET job of the request in flight, or answer it when done. */
static void set_next(struct client *c, struct fgsess *f)
{
    struct fgserver *g = fgs_of(hermes__client_server(c));
    struct fgset *set = &f->set;
    if (set->next < set->n) {
        uint32_t k = set->idx[set->next];
        struct hermes__job *j = hermes__job_new(HERMES__JOB_SET, NULL);
        if (!j) {
            status(c, HERMES_FG_ERROR, "setParameters: out of memory");
            set->n = set->next;
        } else {
            j->sig = g->scat->info[k].id;
            j->value = set->val[set->next];
            hermes__strlcpy(j->signal, g->scat->info[k].name, sizeof j->signal);
            hermes__client_submit(c, j);
            return;
        }
    }
    param_reply(c, set->idx, set->ok, set->id);  /* the ones set, in request order */
    set_free(set);
}

static void op_set_parameters(struct client *c, json_t *msg)
{
    const struct hermes__server_info *in = hermes__server_info(hermes__client_server(c));
    struct fgserver *g = fgs_of(hermes__client_server(c));
    struct fgsess *f = hermes__client_state(c);
    json_t *list = json_object_get(msg, "parameters");
    const char *id = json_string_value(json_object_get(msg, "id"));
    if (!json_is_array(list)) {
        status(c, HERMES_FG_ERROR, "setParameters needs \"parameters\", a list of {\"name\", \"value\"}, got %s",
               list ? hermes__json_kind(list) : "nothing");
        return;
    }
    if (!in->has_control) {
        status(c, HERMES_FG_ERROR, "this server is read-only: it accepts no setParameters");
        param_reply(c, NULL, 0, id);
        return;
    }
    if (!hermes__client_is_controller(c)) {
        status(c, HERMES_FG_ERROR, "this connection is an observer (read-only): setParameters needs the server's auth token");
        param_reply(c, NULL, 0, id);
        return;
    }
    size_t n = json_array_size(list);
    struct fgset *set = &f->set;
    set_free(set);
    set->idx = malloc((n ? n : 1) * sizeof *set->idx);
    set->val = malloc((n ? n : 1) * sizeof *set->val);
    set->id = id ? hermes__strdup(id) : NULL;
    if (!set->idx || !set->val || (id && !set->id)) {
        set_free(set);
        status(c, HERMES_FG_ERROR, "setParameters: out of memory");
        return;
    }
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) {
        const char *name = json_string_value(json_object_get(it, "name"));
        json_t *vv = json_object_get(it, "value");
        if (!json_is_object(it) || !name) {
            status(c, HERMES_FG_ERROR, "setParameters: parameters[%zu] must be {\"name\": string, \"value\": number}", i);
            continue;
        }
        int64_t k = find_param(c, name, true);
        if (k < 0)
            continue;
        const hermes_signal_info_t *info = &g->scat->info[k];
        double value;
        if (json_is_boolean(vv) && info->type == HERMES_TYPE_BOOL) {
            value = json_is_true(vv) ? 1.0 : 0.0;
        } else if (json_is_number(vv)) {
            value = json_number_value(vv);
        } else {
            status(c, HERMES_FG_ERROR, "parameter '%s': the value must be a finite number, got %s", name,
                   vv ? hermes__json_kind(vv) : "none (parameters cannot be unset)");
            continue;
        }
        if (!isfinite(value) || hermes_type_check(info->type, value) != 0) {
            status(c, HERMES_FG_ERROR, "parameter '%s': value %.17g does not fit %s signal '%s'", name, value,
                   hermes_type_name(info->type), name);
            continue;
        }
        set->idx[set->n] = (uint32_t)k;
        set->val[set->n++] = value;
    }
    set_next(c, f);
}

/* ---- services ------------------------------------------------------------------- */

static void on_call(struct client *c, const unsigned char *data, size_t len)
{
    const struct hermes__server_info *in = hermes__server_info(hermes__client_server(c));
    hermes__fg_call_t call;
    if (hermes__fg_parse_call(data, len, &call) != 0) {
        status(c, HERMES_FG_ERROR, "%s", hermes_last_error());
        return;
    }
    if (call.service < 1 || call.service > HERMES_FG_SVC_COUNT) {
        call_failure(c, call.service, call.call, "no service %u (services are 1..%u)", call.service,
                     (unsigned)HERMES_FG_SVC_COUNT);
        return;
    }
    if (call.encoding_len != 4 || memcmp(call.encoding, "json", 4) != 0) {
        call_failure(c, call.service, call.call, "the request encoding must be \"json\"");
        return;
    }
    if (!in->has_control) {
        call_failure(c, call.service, call.call, "this server is read-only: it accepts no service calls");
        return;
    }
    if (!hermes__client_is_controller(c)) {
        call_failure(c, call.service, call.call,
                     "this connection is an observer (read-only): services need the server's auth token");
        return;
    }
    uint64_t count = 1;
    if (call.data_len) {
        if (call.data_len > in->max_message) {
            call_failure(c, call.service, call.call, "request too large");
            return;
        }
        json_error_t err;
        json_t *req = json_loadb((const char *)call.data, call.data_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
        if (!req) {
            call_failure(c, call.service, call.call, "invalid JSON request at line %d column %d: %s", err.line,
                         err.column, err.text);
            return;
        }
        bool ok = json_is_object(req);
        json_t *cv = json_object_get(req, "count");
        if (!ok) {
            call_failure(c, call.service, call.call, "the request must be a JSON object, got %s",
                         hermes__json_kind(req));
        } else if (call.service == HERMES_FG_SVC_STEP && cv && !json_is_null(cv)) {
            if (!json_is_integer(cv) || json_integer_value(cv) < 1) {
                call_failure(c, call.service, call.call, "count must be an integer >= 1, got %s",
                             json_is_number(cv) ? "a number below 1 or not whole" : hermes__json_kind(cv));
                ok = false;
            } else {
                count = (uint64_t)json_integer_value(cv);
            }
        }
        json_decref(req);
        if (!ok)
            return;
    }
    static const enum hermes__job_kind job_of[HERMES_FG_SVC_COUNT + 1] = {
        HERMES__JOB_PAUSE, HERMES__JOB_PAUSE, HERMES__JOB_RESUME, HERMES__JOB_STEP, HERMES__JOB_RESET,
        HERMES__JOB_CHECKPOINT};
    json_t *id = json_pack("{s:I,s:I}", "service", (json_int_t)call.service, "call", (json_int_t)call.call);
    struct hermes__job *j = id ? hermes__job_new(job_of[call.service], id) : NULL;
    json_decref(id);
    if (!j) {
        call_failure(c, call.service, call.call, "out of memory");
        return;
    }
    j->count = count;
    hermes__client_submit(c, j);
}

static const char *const svc_name[HERMES_FG_SVC_COUNT + 1] = {"", "pause", "resume", "step", "reset", "checkpoint"};

static void on_done(struct client *c, struct hermes__job *j)
{
    struct fgserver *g = fgs_of(hermes__client_server(c));
    struct fgsess *f = hermes__client_state(c);
    if (j->kind == HERMES__JOB_SET) {
        struct fgset *set = &f->set;
        if (set->next >= set->n)
            return;  /* not ours (cannot happen) */
        uint32_t k = set->idx[set->next];
        if (j->rc) {
            status(c, HERMES_FG_ERROR, "parameter '%s': set failed: %s (%s)", j->signal, j->msg, hermes_err_name(j->rc));
        } else {
            g->pvalues[k] = j->value;  /* applied at the frame boundary: report it as set */
            set->idx[set->ok] = k;
            set->val[set->ok++] = j->value;
        }
        set->next++;
        set_next(c, f);
        return;
    }
    uint32_t service = (uint32_t)json_integer_value(json_object_get(j->id, "service"));
    uint32_t call = (uint32_t)json_integer_value(json_object_get(j->id, "call"));
    if (service < 1 || service > HERMES_FG_SVC_COUNT)
        return;
    if (j->rc) {
        call_failure(c, service, call, "%s failed: %s (%s)", svc_name[service], j->msg, hermes_err_name(j->rc));
        return;
    }
    const struct hermes__server_info *in = hermes__server_info(hermes__client_server(c));
    uint64_t frame = j->kind == HERMES__JOB_STEP ? j->target : in->source->frame(in->source->ctx);
    char payload[160 + sizeof j->signal];
    int n;
    if (j->kind == HERMES__JOB_CHECKPOINT)
        n = snprintf(payload, sizeof payload, "{\"state\":\"%s\",\"frame\":%llu,\"file\":\"%s\"}",
                     hermes_state_name(j->state), (unsigned long long)frame, j->signal);
    else if (j->kind == HERMES__JOB_STEP)
        n = snprintf(payload, sizeof payload, "{\"state\":\"%s\",\"frame\":%llu,\"count\":%llu}",
                     hermes_state_name(j->state), (unsigned long long)frame, (unsigned long long)j->count);
    else
        n = snprintf(payload, sizeof payload, "{\"state\":\"%s\",\"frame\":%llu}", hermes_state_name(j->state),
                     (unsigned long long)frame);
    unsigned char buf[sizeof payload + 17];
    hermes__fg_put_call_response(buf, service, call, payload, (size_t)n);
    hermes__log(HERMES_LOG_INFO, "server", "event=command id=%llu protocol=foxglove action=%s",
                (unsigned long long)hermes__client_id(c), svc_name[service]);
    hermes__client_send_binary(c, buf, hermes__fg_call_response_size((size_t)n));
}

/* ---- messages --------------------------------------------------------------------- */

static void on_message(struct client *c, const char *data, size_t len, bool binary)
{
    const struct hermes__server_info *in = hermes__server_info(hermes__client_server(c));
    if (binary) {
        on_call(c, (const unsigned char *)data, len);
        return;
    }
    if (hermes__json_too_deep(data, len, in->max_depth)) {
        status(c, HERMES_FG_ERROR, "JSON nested deeper than %u levels; this message was ignored", in->max_depth);
        return;
    }
    json_error_t err;
    json_t *msg = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!msg) {
        status(c, HERMES_FG_ERROR, "invalid JSON at line %d column %d: %s", err.line, err.column, err.text);
        return;
    }
    const char *op = json_string_value(json_object_get(msg, "op"));
    if (!json_is_object(msg)) {
        status(c, HERMES_FG_ERROR, "a message must be a JSON object with an \"op\", got %s", hermes__json_kind(msg));
    } else if (!op) {
        status(c, HERMES_FG_ERROR, "missing \"op\" (a string)");
    } else if (!strcmp(op, "subscribe")) {
        op_subscribe(c, msg);
    } else if (!strcmp(op, "unsubscribe")) {
        op_unsubscribe(c, msg);
    } else if (!strcmp(op, "getParameters")) {
        op_get_parameters(c, msg);
    } else if (!strcmp(op, "setParameters")) {
        op_set_parameters(c, msg);
    } else if (!strcmp(op, "subscribeParameterUpdates") || !strcmp(op, "unsubscribeParameterUpdates") ||
               !strcmp(op, "advertise") || !strcmp(op, "unadvertise") || !strcmp(op, "subscribeConnectionGraph") ||
               !strcmp(op, "unsubscribeConnectionGraph") || !strcmp(op, "fetchAsset")) {
        status(c, HERMES_FG_ERROR, "'%s' is not supported by this server (capabilities: time, parameters, services)",
               op);
    } else {
        status(c, HERMES_FG_ERROR, "unknown op '%.64s'", op);
    }
    json_decref(msg);
}

/* ---- events ------------------------------------------------------------------------ */

static void set_session_id(hermes_server_t *s, struct fgserver *g)
{
    const char *run = hermes__server_info(s)->run_id;
    snprintf(g->session_id, sizeof g->session_id, "%s.%llu", run ? run : "", (unsigned long long)g->resets);
}

static void on_event(hermes_server_t *s, const struct hermes__protocol *p, const struct hermes__event *ev)
{
    struct fgserver *g = hermes__server_proto_data(s, p);
    size_t len = 0;
    char *text;
    if (ev->event == HERMES_EVENT_RESET) {
        /* a new session: clients clear what they plotted of the old one */
        g->resets++;
        set_session_id(s, g);
        text = hermes__fg_server_info("hermes " HERMES_VERSION_STRING, g->session_id, hermes__server_info(s)->run_id,
                                      g->rates, &len);
        if (text)
            hermes__server_broadcast(s, p, text, len);
        free(text);
    }
    char msg[400];
    const char *name = hermes_event_name(ev->event);
    if (ev->detail[0])
        snprintf(msg, sizeof msg, "%s at frame %llu: %s", name, (unsigned long long)ev->frame, ev->detail);
    else
        snprintf(msg, sizeof msg, "%s at frame %llu", name, (unsigned long long)ev->frame);
    text = hermes__fg_status(ev->event == HERMES_EVENT_ERROR ? HERMES_FG_ERROR : HERMES_FG_INFO, msg,
                             "hermes.state", &len);
    if (text)
        hermes__server_broadcast(s, p, text, len);
    free(text);
}

/* ---- life ------------------------------------------------------------------------- */

static void fg_free(struct fgserver *g)
{
    if (!g)
        return;
    hermes__fg_catalog_destroy(g->cat);
    if (g->ch)
        for (uint32_t i = 0; i < g->nch; i++)
            free(g->ch[i].buf);
    free(g->ch);
    free(g->params);
    free(g->pvalues);
    free(g->pbuf);
    free(g->advertise);
    free(g->services);
    free(g->rates);
    free(g->values);
    free(g);
}

/* serverInfo's module_rates from the source's module_rate(), or NULL. */
static char *module_rates(const struct hermes__server_info *in)
{
    const struct hermes__catalog *cat = in->catalog;
    if (!in->source->module_rate || cat->nmodules == 0)
        return NULL;
    hermes_module_rate_t *r = calloc(cat->nmodules, sizeof *r);
    if (!r)
        return NULL;
    for (uint32_t i = 0; i < cat->nmodules; i++)
        if (in->source->module_rate(in->source->ctx, cat->modules[i], &r[i]) != 0)
            r[i].divisor = 0;
    char *text = hermes__fg_module_rates(r, (const char *const *)cat->modules, cat->nmodules);
    free(r);
    return text;
}

static int on_init(hermes_server_t *s, void **data)
{
    const struct hermes__server_info *in = hermes__server_info(s);
    const struct hermes__catalog *cat = in->catalog;
    struct fgserver *g = calloc(1, sizeof *g);
    if (!g)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    g->scat = cat;
    int rc = hermes__fg_catalog_create(&g->cat, cat->info, cat->n);
    if (rc) {
        fg_free(g);
        return rc;
    }
    g->nch = hermes__fg_channel_count(g->cat);
    g->ch = calloc(g->nch, sizeof *g->ch);
    g->params = malloc((cat->n ? cat->n : 1) * sizeof *g->params);
    g->values = calloc(cat->n ? cat->n : 1, sizeof *g->values);
    g->pvalues = malloc((cat->n ? cat->n : 1) * sizeof *g->pvalues);
    g->advertise = hermes__fg_advertise(g->cat, &g->advertise_len);
    g->services = hermes__fg_advertise_services(&g->services_len);
    g->rates = module_rates(in);
    bool ok = g->ch && g->params && g->values && g->pvalues && g->advertise && g->services;
    for (uint32_t i = 0; ok && i < g->nch; i++) {
        g->ch[i].tick = UINT64_MAX;
        g->ch[i].buf = malloc(LWS_PRE + HERMES_FG_MESSAGE_HEADER + hermes__fg_channel_bound(g->cat, i + 1));
        ok = g->ch[i].buf != NULL;
    }
    if (!ok) {
        fg_free(g);
        return hermes__fail(HERMES_ENOMEM, "out of memory building the Foxglove protocol");
    }
    for (uint32_t k = 0; k < cat->n; k++) {
        g->pvalues[k] = NAN;  /* unknown until read */
        if (cat->info[k].writable && !cat->driven_by[k])
            g->params[g->nparams++] = k;
    }
    g->tick = UINT64_MAX;
    g->time_frame = (struct hermes__frame){g->time_buf + LWS_PRE, HERMES_FG_TIME_SIZE, true};
    set_session_id(s, g);
    *data = g;
    return 0;
}

static void on_fini(hermes_server_t *s, void *data)
{
    struct fgserver *g = data;
    /* g->all: released by the last session's close, or freed with every
     * stream by the server before fini (not touched here). */
    if (g && g->preader) {
        const hermes_server_source_t *src = hermes__server_info(s)->source;
        src->stream_close(src->ctx, g->preader);
    }
    fg_free(g);
}

static void on_open(struct client *c)
{
    hermes_server_t *s = hermes__client_server(c);
    struct fgserver *g = fgs_of(s);
    struct fgsess *f = hermes__client_state(c);
    size_t len = 0;
    send_owned(c, hermes__fg_server_info("hermes " HERMES_VERSION_STRING, g->session_id,
                                         hermes__server_info(s)->run_id, g->rates, &len), &len);
    f->greet = GREET_INFO_SENT;  /* advertise, services, status: next_frame() */
    /* time messages from the start, subscribed or not */
    if (!hold_all(c, g, f))
        status(c, HERMES_FG_ERROR, "cannot read the signals: %s", hermes_last_error());
}

static void on_close(struct client *c)
{
    struct fgserver *g = fgs_of(hermes__client_server(c));
    struct fgsess *f = hermes__client_state(c);
    release_all(c, g, f);
    free(f->subs);
    f->subs = NULL;
    f->nsubs = f->cap = 0;
    set_free(&f->set);
}

static void on_error(struct client *c, const char *msg) { status(c, HERMES_FG_ERROR, "%s", msg); }

static const char *const names[] = {HERMES_FG_PROTOCOL_SDK, HERMES_FG_PROTOCOL_WS, NULL};

const struct hermes__protocol hermes__protocol_foxglove = {
    .names = names,
    .binary_in = true,
    .session_size = sizeof(struct fgsess),
    .init = on_init,
    .fini = on_fini,
    .open = on_open,
    .message = on_message,
    .close = on_close,
    .tick = on_tick,
    .next_frame = next_frame,
    .event = on_event,
    .done = on_done,
    .error = on_error,
};
