/* The "hermes" protocol (docs/protocol.md): JSON commands, acks and errors,
 * the schema greeting, state events, and per-session telemetry subscriptions
 * over the shared streams. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hermes/encoder.h"
#include "server/proto.h"
#include "common/util.h"

struct hsess {
    struct hermes__stream *stream;
    double                 rate_hz, acc;
};

/* ---- output ---------------------------------------------------------------- */

/* Dump @p j (reference stolen) compactly; NULL on failure. */
static char *dump(json_t *j, size_t *len)
{
    *len = 0;
    if (!j)
        return NULL;
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    char *buf = n ? malloc(n) : NULL;
    if (buf && json_dumpb(j, buf, n, JSON_COMPACT) != n) {
        free(buf);
        buf = NULL;
    }
    json_decref(j);
    *len = n;
    return buf;
}

static void send_json(struct client *c, json_t *j)
{
    size_t len = 0;
    char *text = dump(j, &len);
    hermes__client_send_text(c, text, len);  /* NULL: out of memory, the client is dropped */
    free(text);
}

static void send_error(struct client *c, const char *action, json_t *id, const char *fmt, ...) HERMES_PRINTF(4, 5);
static void send_error(struct client *c, const char *action, json_t *id, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_object();
    json_object_set_new(j, "type", json_string("error"));
    if (action)
        json_object_set_new(j, "action", json_stringn(action, strnlen(action, 64)));
    json_t *m = json_string(msg);
    json_object_set_new(j, "message", m ? m : json_string("(message not valid UTF-8)"));
    if (id)
        json_object_set(j, "id", id);
    hermes__log(HERMES_LOG_INFO, "server", "event=command_error id=%llu action=%s error=\"%s\"",
                (unsigned long long)hermes__client_id(c), action ? action : "-", msg);
    send_json(c, j);
}

static json_t *ack(const char *action, json_t *id)
{
    json_t *j = json_object();
    json_object_set_new(j, "type", json_string("ack"));
    json_object_set_new(j, "action", json_string(action));
    if (id)
        json_object_set(j, "id", id);
    return j;
}

/* ---- command helpers ------------------------------------------------------------ */

static void describe(const json_t *v, char *buf, size_t cap)
{
    if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, cap, "%.17g", json_real_value(v));
    else
        snprintf(buf, cap, "%s", hermes__json_kind(v));
}

static void submit(struct client *c, const char *action, struct hermes__job *j, json_t *id)
{
    if (j)
        hermes__client_submit(c, j);
    else
        send_error(c, action, id, "out of memory");
}

/* ---- commands -------------------------------------------------------------- */

static void do_subscribe(struct client *c, json_t *params, json_t *id)
{
    hermes_server_t *s = hermes__client_server(c);
    const struct hermes__server_info *in = hermes__server_info(s);
    struct hsess *h = hermes__client_state(c);
    json_t *sigs = json_object_get(params, "signals");
    if (!sigs) {
        send_error(c, "subscribe", id, "subscribe needs params.signals, a list of patterns ('*', 'module.*', 'module.signal')");
        return;
    }
    if (!json_is_array(sigs)) {
        send_error(c, "subscribe", id, "params.signals must be a list of strings, got %s", hermes__json_kind(sigs));
        return;
    }
    double rate = in->telemetry_hz;
    json_t *r = json_object_get(params, "rate_hz");
    if (r && !json_is_null(r)) {
        char d[64];
        describe(r, d, sizeof d);
        if (!json_is_number(r) || !(json_number_value(r) > 0) || json_number_value(r) > in->telemetry_hz * (1 + 1e-9)) {
            send_error(c, "subscribe", id, "params.rate_hz must be a number in (0, %g] (the server's telemetry rate), got %s",
                       in->telemetry_hz, d);
            return;
        }
        rate = json_number_value(r);
    }
    size_t n = json_array_size(sigs);
    if (n > in->max_patterns) {
        send_error(c, "subscribe", id,
                   "params.signals has %zu patterns, more than this server's limit of %u "
                   "(use 'module.*' or '*' to cover many signals)", n, in->max_patterns);
        return;
    }
    const char **pats = calloc(n ? n : 1, sizeof *pats);
    if (!pats) {
        send_error(c, "subscribe", id, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(sigs, i);
        if (!json_is_string(p)) {
            send_error(c, "subscribe", id, "params.signals[%zu] must be a string, got %s", i, hermes__json_kind(p));
            free(pats);
            return;
        }
        pats[i] = json_string_value(p);
    }
    uint32_t *idx = NULL, count = 0;
    int rc = hermes__catalog_resolve(in->catalog, pats, n, &idx, &count);
    free(pats);
    if (rc) {
        send_error(c, "subscribe", id, "%s", hermes_last_error());
        return;
    }
    json_t *names = json_array();
    for (uint32_t i = 0; i < count; i++)
        json_array_append_new(names, json_string(in->catalog->info[idx[i]].name));
    struct hermes__stream *st = hermes__stream_get(s, idx, count);
    free(idx);
    if (!st) {
        json_decref(names);
        send_error(c, "subscribe", id, "%s", hermes_last_error());
        return;
    }
    hermes__client_offer(c, NULL);
    hermes__stream_release(s, h->stream);
    h->stream = st;
    h->rate_hz = rate;
    h->acc = in->telemetry_hz;  /* first frame on the next tick */
    json_t *j = ack("subscribe", id);
    json_object_set_new(j, "count", json_integer(count));
    json_object_set_new(j, "signals", names);
    json_object_set_new(j, "rate_hz", json_real(rate));
    json_object_set_new(j, "frame_bytes", json_integer((json_int_t)HERMES_TELEMETRY_FRAME_SIZE(count)));
    hermes__log(HERMES_LOG_INFO, "server", "event=subscribe id=%llu count=%u rate_hz=%g",
                (unsigned long long)hermes__client_id(c), count, rate);
    send_json(c, j);
}

static void do_unsubscribe(struct client *c, json_t *id)
{
    struct hsess *h = hermes__client_state(c);
    hermes__client_offer(c, NULL);
    hermes__stream_release(hermes__client_server(c), h->stream);
    h->stream = NULL;
    send_json(c, ack("unsubscribe", id));
}

static void do_stats(struct client *c, json_t *id)
{
    hermes_server_t *s = hermes__client_server(c);
    struct hsess *h = hermes__client_state(c);
    uint64_t sent, dropped;
    hermes__client_counts(c, &sent, &dropped);
    json_t *j = ack("stats", id);
    json_object_set_new(j, "sent", json_integer((json_int_t)sent));
    json_object_set_new(j, "dropped", json_integer((json_int_t)dropped));
    json_object_set_new(j, "subscribed", json_integer(hermes__stream_count(h->stream)));
    json_object_set_new(j, "rate_hz", json_real(h->stream ? h->rate_hz : 0.0));
    json_object_set_new(j, "telemetry_hz", json_real(hermes__server_info(s)->telemetry_hz));
    json_object_set_new(j, "clients", json_integer(hermes__server_clients(s)));
    send_json(c, j);
}

static void do_step(struct client *c, json_t *params, json_t *id)
{
    uint64_t count = 1;
    json_t *v = json_object_get(params, "count");
    if (v && !json_is_null(v)) {
        char d[64];
        describe(v, d, sizeof d);
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            send_error(c, "step", id, "params.count must be an integer >= 1, got %s", d);
            return;
        }
        count = (uint64_t)json_integer_value(v);
    }
    struct hermes__job *j = hermes__job_new(HERMES__JOB_STEP, id);
    if (j)
        j->count = count;
    submit(c, "step", j, id);
}

static void do_set(struct client *c, json_t *params, json_t *id)
{
    const struct hermes__catalog *cat = hermes__server_info(hermes__client_server(c))->catalog;
    json_t *sv = json_object_get(params, "signal");
    json_t *vv = json_object_get(params, "value");
    if (!sv) {
        send_error(c, "set", id, "set needs params.signal (a qualified name such as \"module.signal\")");
        return;
    }
    if (!json_is_string(sv)) {
        send_error(c, "set", id, "params.signal must be a string, got %s", hermes__json_kind(sv));
        return;
    }
    const char *name = json_string_value(sv);
    if (!vv) {
        send_error(c, "set", id, "set needs params.value (a finite number)");
        return;
    }
    int64_t k = hermes__catalog_find(cat, name);
    if (k < 0) {
        send_error(c, "set", id, "unknown signal '%s'", name);
        return;
    }
    const hermes_signal_info_t *info = &cat->info[k];
    if (!info->writable) {
        send_error(c, "set", id, "signal '%s' is read-only", name);
        return;
    }
    if (cat->driven_by[k]) {
        send_error(c, "set", id, "%s is driven by %s; set that instead", info->name, cat->driven_by[k]);
        return;
    }
    double value;
    if (json_is_boolean(vv) && info->type == HERMES_TYPE_BOOL) {
        value = json_is_true(vv) ? 1.0 : 0.0;
    } else if (json_is_number(vv)) {
        value = json_number_value(vv);
    } else {
        send_error(c, "set", id, "params.value must be a finite number, got %s", hermes__json_kind(vv));
        return;
    }
    if (!isfinite(value)) {
        send_error(c, "set", id, "params.value must be a finite number");
        return;
    }
    if (hermes_type_check(info->type, value) != 0) {
        send_error(c, "set", id, "value %.17g does not fit %s signal '%s'", value, hermes_type_name(info->type), name);
        return;
    }
    struct hermes__job *j = hermes__job_new(HERMES__JOB_SET, id);
    if (j) {
        j->sig = info->id;
        j->value = value;
        hermes__strlcpy(j->signal, info->name, sizeof j->signal);
    }
    submit(c, "set", j, id);
}

static void do_seek(struct client *c, json_t *params, json_t *id)
{
    const struct hermes__server_info *in = hermes__server_info(hermes__client_server(c));
    if (!in->control->seek) {
        send_error(c, "seek", id, "seek is not supported by this run");
        return;
    }
    json_t *fv = json_object_get(params, "frame");
    json_t *tv = json_object_get(params, "time");
    if ((fv != NULL) == (tv != NULL)) {
        send_error(c, "seek", id, "seek needs exactly one of params.frame (an integer >= 0) or params.time (seconds >= 0)");
        return;
    }
    char d[64];
    describe(fv ? fv : tv, d, sizeof d);
    uint64_t frame;
    if (fv) {
        if (!json_is_integer(fv) || json_integer_value(fv) < 0) {
            send_error(c, "seek", id, "params.frame must be an integer >= 0, got %s", d);
            return;
        }
        frame = (uint64_t)json_integer_value(fv);
    } else {
        hermes_execution_t ex;
        if (!json_is_number(tv) || !isfinite(json_number_value(tv)) || json_number_value(tv) < 0) {
            send_error(c, "seek", id, "params.time must be a number of seconds >= 0, got %s", d);
            return;
        }
        if (!in->source->execution || in->source->execution(in->source->ctx, &ex) != 0 || !(ex.rate_hz > 0)) {
            send_error(c, "seek", id, "seek by time needs the run's rate_hz, which this run does not give; use params.frame");
            return;
        }
        double f = nearbyint(json_number_value(tv) * ex.rate_hz);
        if (f >= 18446744073709551616.0) {
            send_error(c, "seek", id, "params.time %s is beyond any frame", d);
            return;
        }
        frame = (uint64_t)f;
    }
    struct hermes__job *j = hermes__job_new(HERMES__JOB_SEEK, id);
    if (j)
        j->count = frame;
    submit(c, "seek", j, id);
}

#define ACTIONS "pause, resume, reset, step, set, seek, checkpoint, subscribe, unsubscribe or stats"

/* Control commands: name, job (or -1 when the handler builds it). */
static const struct {
    const char *name;
    int         kind;
    void      (*handler)(struct client *c, json_t *params, json_t *id);
} control_actions[] = {
    {"pause", HERMES__JOB_PAUSE, NULL},
    {"resume", HERMES__JOB_RESUME, NULL},
    {"reset", HERMES__JOB_RESET, NULL},
    {"step", -1, do_step},
    {"set", -1, do_set},
    {"seek", -1, do_seek},
    {"checkpoint", HERMES__JOB_CHECKPOINT, NULL},
};

static void run_control(struct client *c, const char *action, json_t *params, json_t *id)
{
    const struct hermes__server_info *in = hermes__server_info(hermes__client_server(c));
    for (size_t i = 0; i < sizeof control_actions / sizeof control_actions[0]; i++) {
        if (strcmp(action, control_actions[i].name) != 0)
            continue;
        if (!in->has_control)
            send_error(c, action, id, "this server is read-only: it accepts no '%s' commands", action);
        else if (!hermes__client_is_controller(c))
            send_error(c, action, id,
                       "this connection is an observer (read-only): '%s' needs the server's auth token", action);
        else if (control_actions[i].handler)
            control_actions[i].handler(c, params, id);
        else
            submit(c, action, hermes__job_new((enum hermes__job_kind)control_actions[i].kind, id), id);
        return;
    }
    send_error(c, NULL, id, "unknown action '%.64s' (expected " ACTIONS ")", action);
}

static void on_message(struct client *c, const char *text, size_t len, bool binary)
{
    (void)binary;  /* refused by the session layer: binary_in is false */
    uint32_t max_depth = hermes__server_info(hermes__client_server(c))->max_depth;
    if (hermes__json_too_deep(text, len, max_depth)) {
        send_error(c, NULL, NULL, "JSON nested deeper than %u levels; this message was ignored", max_depth);
        return;
    }
    json_error_t err;
    json_t *cmd = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!cmd) {
        send_error(c, NULL, NULL, "invalid JSON at line %d column %d: %s", err.line, err.column, err.text);
        return;
    }
    if (!json_is_object(cmd)) {
        send_error(c, NULL, NULL, "a command must be a JSON object like {\"action\": \"pause\"}, got %s",
                   hermes__json_kind(cmd));
        json_decref(cmd);
        return;
    }
    json_t *id = json_object_get(cmd, "id");
    json_t *av = json_object_get(cmd, "action");
    json_t *params = json_object_get(cmd, "params");
    const char *action = NULL;
    if (!av) {
        send_error(c, NULL, id, "missing \"action\" (one of " ACTIONS ")");
        goto out;
    }
    if (!json_is_string(av)) {
        send_error(c, NULL, id, "\"action\" must be a string, got %s", hermes__json_kind(av));
        goto out;
    }
    action = json_string_value(av);
    if (params && !json_is_object(params) && !json_is_null(params)) {
        send_error(c, action, id, "\"params\" must be an object, got %s", hermes__json_kind(params));
        goto out;
    }
    if (!json_is_object(params))
        params = NULL;  /* json_object_get(NULL, ...) is NULL-safe */

    if (strcmp(action, "subscribe") == 0)
        do_subscribe(c, params, id);
    else if (strcmp(action, "unsubscribe") == 0)
        do_unsubscribe(c, id);
    else if (strcmp(action, "stats") == 0)
        do_stats(c, id);
    else
        run_control(c, action, params, id);
out:
    json_decref(cmd);
}

/* ---- results, events, telemetry ------------------------------------------------ */

static const char *const job_action[] = {"pause", "resume", "reset", "step", "set", "seek", "checkpoint"};

static void on_done(struct client *c, struct hermes__job *j)
{
    const struct hermes__server_info *in = hermes__server_info(hermes__client_server(c));
    const char *action = job_action[j->kind];
    if (j->rc) {
        send_error(c, action, j->id, "%s failed: %s (%s)", action, j->msg, hermes_err_name(j->rc));
        return;
    }
    json_t *a = ack(action, j->id);
    switch (j->kind) {
    case HERMES__JOB_STEP:
        json_object_set_new(a, "count", json_integer((json_int_t)j->count));
        json_object_set_new(a, "frame", json_integer((json_int_t)j->target));
        break;
    case HERMES__JOB_SET:
        json_object_set_new(a, "signal", json_string(j->signal));
        json_object_set_new(a, "value", json_real(j->value));
        break;
    case HERMES__JOB_RESET:
        json_object_set_new(a, "frame", json_integer((json_int_t)in->source->frame(in->source->ctx)));
        break;
    case HERMES__JOB_SEEK:
        json_object_set_new(a, "frame", json_integer((json_int_t)j->count));
        break;
    case HERMES__JOB_CHECKPOINT:
        json_object_set_new(a, "file", json_string(j->signal));  /* checkpoint-FRAME-N.hckpt */
        break;
    case HERMES__JOB_PAUSE:
    case HERMES__JOB_RESUME:
        break;
    }
    if (in->control->state)
        json_object_set_new(a, "state", json_string(hermes_state_name(j->state)));
    hermes__log(HERMES_LOG_INFO, "server", "event=command id=%llu action=%s", (unsigned long long)hermes__client_id(c),
                action);
    send_json(c, a);
}

/* The state an event leaves the run in: a reset always ends paused. */
static hermes_state_t state_after(hermes_event_t ev)
{
    switch (ev) {
    case HERMES_EVENT_RUNNING: return HERMES_STATE_RUNNING;
    case HERMES_EVENT_PAUSED:
    case HERMES_EVENT_RESET: return HERMES_STATE_PAUSED;
    case HERMES_EVENT_STOPPED: return HERMES_STATE_STOPPED;
    case HERMES_EVENT_ERROR: return HERMES_STATE_ERROR;
    case HERMES_EVENT_NONE: break;
    }
    return HERMES_STATE_IDLE;
}

static void on_event(hermes_server_t *s, const struct hermes__protocol *p, const struct hermes__event *ev)
{
    json_t *j = json_object();
    json_object_set_new(j, "type", json_string("event"));
    json_object_set_new(j, "event", json_string(hermes_event_name(ev->event)));
    json_object_set_new(j, "frame", json_integer((json_int_t)ev->frame));
    json_object_set_new(j, "state", json_string(hermes_state_name(state_after(ev->event))));
    if (ev->detail[0]) {
        json_t *m = json_string(ev->detail);
        json_object_set_new(j, "message", m ? m : json_string("(not valid UTF-8)"));
    }
    size_t len = 0;
    char *text = dump(j, &len);
    if (text)
        hermes__server_broadcast(s, p, text, len);
    free(text);
}

static void on_tick(struct client *c, uint64_t tick)
{
    struct hsess *h = hermes__client_state(c);
    if (!h->stream)
        return;
    double hz = hermes__server_info(hermes__client_server(c))->telemetry_hz;
    if (h->rate_hz < hz) {
        h->acc += h->rate_hz;
        if (h->acc < hz - 1e-9)
            return;
        h->acc -= hz;
        if (h->acc < 0)
            h->acc = 0;
    }
    hermes__client_offer(c, hermes__stream_frame(hermes__client_server(c), h->stream, tick));
}

/* ---- session life ------------------------------------------------------------ */

/* The schema without its per-client fields, dumped once at init and shared
 * by every connection: a greeting costs one copy, not a dump of the tree. */
struct hschema {
    char  *text;
    size_t len;
};

static int on_init(hermes_server_t *s, void **data)
{
    struct hschema *h = calloc(1, sizeof *h);
    if (h)
        h->text = hermes__schema_text(s, &h->len);
    if (!h || !h->text || h->len < 2) {
        if (h)
            free(h->text);
        free(h);
        return hermes__fail(HERMES_ENOMEM, "out of memory building the schema");
    }
    *data = h;
    return 0;
}

static void on_fini(hermes_server_t *s, void *data)
{
    (void)s;
    struct hschema *h = data;
    if (h)
        free(h->text);
    free(h);
}

/* The shared text with this client's fields spliced in before its last '}'. */
static void on_open(struct client *c)
{
    hermes_server_t *s = hermes__client_server(c);
    const struct hermes__server_info *in = hermes__server_info(s);
    const struct hschema *h = hermes__server_proto_data(s, &hermes__protocol_hermes);
    json_t *own = json_object();
    json_object_set_new(own, "client_id", json_integer((json_int_t)hermes__client_id(c)));
    json_object_set_new(own, "role", json_string(hermes__client_role_name(c)));
    json_object_set_new(own, "control", json_boolean(in->has_control));
    json_object_set_new(own, "seek", json_boolean(in->has_control && in->control->seek));
    json_object_set_new(own, "state", json_string(hermes__server_state_name(s)));
    json_object_set_new(own, "frame", json_integer((json_int_t)in->source->frame(in->source->ctx)));
    size_t olen = 0;
    char *o = dump(own, &olen);
    char *msg = o && olen >= 2 ? malloc(h->len + olen) : NULL;
    size_t len = 0;
    if (msg) {
        memcpy(msg, h->text, h->len - 1);
        msg[h->len - 1] = ',';
        memcpy(msg + h->len, o + 1, olen - 1);
        len = h->len + olen - 1;
    }
    hermes__client_send_text(c, msg, len);  /* NULL: out of memory, the client is dropped */
    free(msg);
    free(o);
}

static void on_close(struct client *c)
{
    struct hsess *h = hermes__client_state(c);
    hermes__stream_release(hermes__client_server(c), h->stream);
    h->stream = NULL;
}

static void on_error(struct client *c, const char *msg) { send_error(c, NULL, NULL, "%s", msg); }

static const char *const names[] = {HERMES_WS_PROTOCOL, NULL};

const struct hermes__protocol hermes__protocol_hermes = {
    .names = names,
    .binary_in = false,
    .session_size = sizeof(struct hsess),
    .init = on_init,
    .fini = on_fini,
    .open = on_open,
    .message = on_message,
    .close = on_close,
    .tick = on_tick,
    .event = on_event,
    .done = on_done,
    .error = on_error,
};
