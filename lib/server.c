/* WebSocket server. Threads and who owns what:
 *  - service thread: every lws call, all client state, streams, the telemetry
 *    tick (absolute-deadline lws_sul timer) and encoding (a seqlock snapshot
 *    that never blocks the simulation).
 *  - control thread: calls the host's control table (pause/resume/reset/step/
 *    set may block until a frame boundary) so telemetry never stalls; results
 *    come back through `done` and a lws_cancel_service() wakeup.
 *  - any thread (the scheduler listener): hermes_server_post_event() copies
 *    into a fixed ring under `mu_ev` (no I/O under it, no allocation) and wakes
 *    the service thread. `ctx_alive`, read under the same mutex, keeps wakeups
 *    away from a destroyed context.
 * Telemetry fan-out: clients with identical subscriptions share one stream,
 * encoded once per tick into a buffer with LWS_PRE headroom; each client keeps
 * only a "pending" flag, so a slow client holds at most one unsent frame and
 * a stale one is dropped and counted when the next is due.
 * Access control (docs/protocol.md, "Access control and limits"): the Origin
 * and token checks and the client limit run at LWS_CALLBACK_HTTP_CONFIRM_UPGRADE,
 * where a refusal can still be an HTTP status (403, 401, 503); they run again
 * at FILTER_PROTOCOL_CONNECTION, which records the client's role in its
 * session memory (the same memory ESTABLISHED then gets). Per-message limits
 * (rate, JSON depth, pattern count) are applied on the service thread as each
 * complete message arrives. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "hermes/encoder.h"
#include "hermes/server.h"
#include "hermes/version.h"
#include "access.h"
#include "server_internal.h"
#include "util.h"

#define TX_MAX_MSGS      256u
#define TX_MAX_BYTES     (1u << 20)
#define BACKLOG_MAX      64u
#define BACKLOG_BYTES    (256u << 10)
#define EV_RING          64u
#define CLOSE_GRACE_US   (1000 * 1000)
#define DROP_LOG_US      (5 * 1000 * 1000)
#define ABUSE_US         (3 * 1000 * 1000)  /* refusals this long without a pause: disconnect */
#define ABUSE_PAUSE_US   (1000 * 1000)      /* a pause this long ends an abuse episode */

enum role { ROLE_NONE = 0, ROLE_OBSERVER = 1, ROLE_CONTROLLER = 2 };

struct txmsg {
    struct txmsg *next;
    size_t        len;
    unsigned char buf[];  /* LWS_PRE + len */
};

struct stream {
    struct stream    *next;
    unsigned          refs;
    hermes_encoder_t *enc;
    unsigned char    *buf;   /* LWS_PRE + frame */
    size_t            len;
    uint64_t          tick;  /* tick it was last encoded for */
    bool              valid;
};

struct backlog {
    struct backlog *next;
    size_t          len;
    bool            refused;  /* over the rate limit: answered with an error in turn */
    bool            error;    /* text is an error to send in turn (binary or oversized message) */
    char            text[];
};

struct client {
    struct client *prev, *next;
    struct lws    *wsi;
    uint64_t       id;
    char           addr[80];
    bool           inited, closing, killed;
    uint8_t        role;         /* set at FILTER_PROTOCOL_CONNECTION, kept by ESTABLISHED */
    uint16_t       close_code;   /* when closing: 0 means 1001 "server stopping" */
    const char    *close_why;
    /* rate limit: token bucket, plus the current run of refusals */
    double         tokens;
    lws_usec_t     refill_at, abuse_since, last_refusal;
    /* receive */
    unsigned char *rx;
    size_t         rx_len, rx_cap, rx_total;
    bool           rx_discard, rx_binary;
    /* text out */
    struct txmsg  *tx_head, *tx_tail;
    size_t         tx_count, tx_bytes;
    /* telemetry */
    struct stream *stream;
    double         rate_hz, acc;
    bool           pending;
    uint64_t       sent, dropped, dropped_logged;
    lws_usec_t     drop_log_at;
    /* commands waiting behind a control call */
    bool            busy;
    struct backlog *bl_head, *bl_tail;
    size_t          bl_count, bl_bytes;
};

enum job_kind { JOB_PAUSE, JOB_RESUME, JOB_RESET, JOB_STEP, JOB_SET };

struct job {
    struct job     *next;
    enum job_kind   kind;
    uint64_t        client_id;
    json_t         *id;      /* client's correlation id; touched on the service thread only */
    uint64_t        count;
    hermes_signal_t sig;
    double          value;
    char            signal[HERMES_MAX_NAME + 1];
    int             rc;
    uint64_t        target;
    hermes_state_t  state;
    char            msg[512];
};

struct ev {
    hermes_event_t event;
    uint64_t       frame;
    char           detail[256];
};

struct hermes_server {
    hermes_backplane_t     *bp;
    hermes_server_control_t ctl;
    bool                    has_ctl, attached;
    char                    bind_addr[128];
    uint16_t                port;
    uint32_t                max_clients, max_message;
    uint32_t                cps, max_patterns, max_depth;
    char                    token[HERMES_SERVER_TOKEN_MAX + 1];
    size_t                  token_len;
    bool                    has_token, observers, any_origin, detached;
    char                  **origins;
    uint32_t                norigins;
    double                  telemetry_hz;
    const hermes_config_t  *sim_config;
    char                    run_id[72];
    char                    errmsg[512];

    struct lws_context  *ctx;
    struct lws_vhost    *vh;
    struct lws_protocols protos[2];
    pthread_t            svc_thr, ctl_thr;
    bool                 started, stopped, ctl_started;
    _Atomic int          stop_req;

    /* service thread only */
    struct client         *clients;
    uint32_t               nclients;
    uint64_t               next_id;
    struct stream         *streams;
    lws_sorted_usec_list_t tick_sul, grace_sul;
    lws_usec_t             next_tick, period;
    uint64_t               tick;
    bool                   closing_all, svc_exit;
    lws_usec_t             close_deadline;
    json_t                *schema;

    /* events: any thread -> service thread */
    pthread_mutex_t mu_ev;
    bool            ctx_alive, ev_closed;
    struct ev       ring[EV_RING];
    unsigned        ev_head, ev_len;
    uint64_t        ev_lost;

    /* control jobs: service thread <-> control thread */
    pthread_mutex_t mu_job;
    pthread_cond_t  cv_job;
    struct job     *jq_head, *jq_tail, *done_head, *done_tail;
    bool            ctl_quit;

    _Atomic uint64_t st_conn, st_sent, st_dropped, st_ticks;
    _Atomic uint32_t st_clients;
};

/* ---- small helpers --------------------------------------------------------- */

static int sfail(hermes_server_t *s, int code, const char *fmt, ...) HERMES_PRINTF(3, 4);
static int sfail(hermes_server_t *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hermes__failv(code, fmt, ap);
    va_end(ap);
    if (s)
        hermes__strlcpy(s->errmsg, hermes_last_error(), sizeof s->errmsg);
    return code;
}

static void wake(hermes_server_t *s)
{
    pthread_mutex_lock(&s->mu_ev);
    if (s->ctx_alive)
        lws_cancel_service(s->ctx);
    pthread_mutex_unlock(&s->mu_ev);
}

static void lws_log_emit(int level, const char *line)
{
    char buf[512];
    hermes__strlcpy(buf, line, sizeof buf);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    hermes__log(level == LLL_ERR ? HERMES_LOG_WARN : HERMES_LOG_DEBUG, "lws", "msg=\"%s\"", buf);
}

static const char *state_name(hermes_server_t *s)
{
    if (s->has_ctl && s->ctl.state)
        return hermes_state_name(s->ctl.state(s->ctl.ctx));
    return "unknown";
}

/* ---- text output ----------------------------------------------------------- */

static void kill_client(struct client *c, const char *why)
{
    hermes__log(HERMES_LOG_WARN, "server", "event=client_dropped id=%llu addr=%s reason=%s",
                (unsigned long long)c->id, c->addr, why);
    c->closing = c->killed = true;
    c->pending = false;
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Queue @p len bytes of JSON text for @p c. */
static void queue_text(struct client *c, const char *text, size_t len)
{
    if (c->killed)
        return;
    if (c->tx_count && (c->tx_count >= TX_MAX_MSGS || c->tx_bytes + len > TX_MAX_BYTES)) {
        kill_client(c, "reply_queue_overflow");
        return;
    }
    struct txmsg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m) {
        kill_client(c, "out_of_memory");
        return;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, text, len);
    if (c->tx_tail)
        c->tx_tail->next = m;
    else
        c->tx_head = m;
    c->tx_tail = m;
    c->tx_count++;
    c->tx_bytes += len;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

/* Dump @p j (reference stolen) into a malloc'd string. */
static char *dump(json_t *j, size_t *len)
{
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
    if (!text) {
        kill_client(c, "out_of_memory");
        return;
    }
    queue_text(c, text, len);
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
                (unsigned long long)c->id, action ? action : "-", msg);
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

/* ---- streams --------------------------------------------------------------- */

static void stream_release(hermes_server_t *s, struct stream *st)
{
    if (!st || --st->refs)
        return;
    for (struct stream **pp = &s->streams; *pp; pp = &(*pp)->next)
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    hermes_encoder_destroy(st->enc);
    free(st->buf);
    free(st);
}

/* Take ownership of @p enc: share an existing stream with the same indices. */
static struct stream *stream_get(hermes_server_t *s, hermes_encoder_t *enc)
{
    uint32_t n = hermes_encoder_count(enc);
    const uint32_t *idx = hermes_encoder_indices(enc);
    for (struct stream *st = s->streams; st; st = st->next)
        if (hermes_encoder_count(st->enc) == n &&
            (n == 0 || memcmp(hermes_encoder_indices(st->enc), idx, n * sizeof *idx) == 0)) {
            hermes_encoder_destroy(enc);
            st->refs++;
            return st;
        }
    struct stream *st = calloc(1, sizeof *st);
    size_t len = hermes_encoder_frame_size(enc);
    unsigned char *buf = malloc(LWS_PRE + len);
    if (!st || !buf) {
        free(st);
        free(buf);
        hermes_encoder_destroy(enc);
        return NULL;
    }
    st->enc = enc;
    st->buf = buf;
    st->len = len;
    st->refs = 1;
    st->tick = UINT64_MAX;
    st->next = s->streams;
    s->streams = st;
    return st;
}

/* ---- events ---------------------------------------------------------------- */

static void broadcast_text(hermes_server_t *s, json_t *j)
{
    size_t len = 0;
    char *text = dump(j, &len);
    if (!text)
        return;
    for (struct client *c = s->clients; c; c = c->next)
        if (c->inited)
            queue_text(c, text, len);
    free(text);
}

static void process_events(hermes_server_t *s)
{
    struct ev local[EV_RING];
    unsigned n = 0;
    uint64_t lost;
    pthread_mutex_lock(&s->mu_ev);
    while (s->ev_len) {
        local[n++] = s->ring[s->ev_head];
        s->ev_head = (s->ev_head + 1) % EV_RING;
        s->ev_len--;
    }
    lost = s->ev_lost;
    s->ev_lost = 0;
    pthread_mutex_unlock(&s->mu_ev);
    if (lost)
        hermes__log(HERMES_LOG_WARN, "server", "event=events_lost count=%llu", (unsigned long long)lost);
    for (unsigned i = 0; i < n; i++) {
        json_t *j = json_object();
        json_object_set_new(j, "type", json_string("event"));
        json_object_set_new(j, "event", json_string(hermes_event_name(local[i].event)));
        json_object_set_new(j, "frame", json_integer((json_int_t)local[i].frame));
        if (local[i].detail[0]) {
            json_t *m = json_string(local[i].detail);
            json_object_set_new(j, "message", m ? m : json_string("(not valid UTF-8)"));
        }
        hermes__log(HERMES_LOG_INFO, "server", "event=broadcast state_event=%s frame=%llu clients=%u",
                    hermes_event_name(local[i].event), (unsigned long long)local[i].frame, s->nclients);
        broadcast_text(s, j);
    }
}

HERMES_API int hermes_server_post_event(hermes_server_t *s, hermes_event_t event, uint64_t frame, const char *detail)
{
    if (!s || event == HERMES_EVENT_NONE)
        return hermes__fail(HERMES_EINVAL, "hermes_server_post_event: bad argument");
    pthread_mutex_lock(&s->mu_ev);
    if (s->ev_closed) {
        pthread_mutex_unlock(&s->mu_ev);
        return hermes__fail(HERMES_ESTATE, "the server is stopped");
    }
    if (s->ev_len == EV_RING) {  /* keep the newest: drop the oldest */
        s->ev_head = (s->ev_head + 1) % EV_RING;
        s->ev_len--;
        s->ev_lost++;
    }
    struct ev *e = &s->ring[(s->ev_head + s->ev_len) % EV_RING];
    e->event = event;
    e->frame = frame;
    e->detail[0] = '\0';
    if (detail)
        hermes__strlcpy(e->detail, detail, sizeof e->detail);
    s->ev_len++;
    if (s->ctx_alive)
        lws_cancel_service(s->ctx);
    pthread_mutex_unlock(&s->mu_ev);
    return 0;
}

/* ---- control thread -------------------------------------------------------- */

/* Call the control table for @p j (control thread; the calling thread of a
 * detached server) and queue the result for the service thread. */
static void run_job(hermes_server_t *s, struct job *j)
{
    hermes__clear_error();
    const hermes_server_control_t *c = &s->ctl;
    int rc = HERMES_EINVAL;
    switch (j->kind) {
    case JOB_PAUSE: rc = c->pause ? c->pause(c->ctx) : HERMES_ESTATE; break;
    case JOB_RESUME: rc = c->resume ? c->resume(c->ctx) : HERMES_ESTATE; break;
    case JOB_RESET: rc = c->reset ? c->reset(c->ctx) : HERMES_ESTATE; break;
    case JOB_STEP: rc = c->step ? c->step(c->ctx, j->count, &j->target) : HERMES_ESTATE; break;
    case JOB_SET: rc = c->set ? c->set(c->ctx, j->sig, j->value) : HERMES_ESTATE; break;
    }
    j->rc = rc;
    if (rc) {
        const char *m = hermes_last_error();
        snprintf(j->msg, sizeof j->msg, "%s", m[0] ? m : hermes_strerror(rc));
    }
    j->state = c->state ? c->state(c->ctx) : HERMES_STATE_IDLE;
    j->next = NULL;
    pthread_mutex_lock(&s->mu_job);
    if (s->done_tail)
        s->done_tail->next = j;
    else
        s->done_head = j;
    s->done_tail = j;
    pthread_mutex_unlock(&s->mu_job);
}

static void *ctl_main(void *arg)
{
    hermes_server_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu_job);
        while (!s->ctl_quit && !s->jq_head)
            pthread_cond_wait(&s->cv_job, &s->mu_job);
        struct job *j = s->jq_head;
        if (!j) {
            pthread_mutex_unlock(&s->mu_job);
            break;
        }
        s->jq_head = j->next;
        if (!s->jq_head)
            s->jq_tail = NULL;
        pthread_mutex_unlock(&s->mu_job);
        run_job(s, j);
        wake(s);
    }
    return NULL;
}

static const char *const job_action[] = {"pause", "resume", "reset", "step", "set"};

static void submit(hermes_server_t *s, struct client *c, struct job *j)
{
    j->client_id = c->id;
    c->busy = true;
    pthread_mutex_lock(&s->mu_job);
    if (s->jq_tail)
        s->jq_tail->next = j;
    else
        s->jq_head = j;
    s->jq_tail = j;
    pthread_cond_signal(&s->cv_job);
    pthread_mutex_unlock(&s->mu_job);
}

/* ---- commands -------------------------------------------------------------- */

static struct job *new_job(enum job_kind kind, json_t *id)
{
    struct job *j = calloc(1, sizeof *j);
    if (j) {
        j->kind = kind;
        j->id = id ? json_incref(id) : NULL;
    }
    return j;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

static void describe(const json_t *v, char *buf, size_t cap)
{
    if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, cap, "%.17g", json_real_value(v));
    else
        snprintf(buf, cap, "%s", json_kind(v));
}

static void do_subscribe(hermes_server_t *s, struct client *c, json_t *params, json_t *id)
{
    json_t *sigs = json_object_get(params, "signals");
    if (!sigs) {
        send_error(c, "subscribe", id, "subscribe needs params.signals, a list of patterns ('*', 'module.*', 'module.signal')");
        return;
    }
    if (!json_is_array(sigs)) {
        send_error(c, "subscribe", id, "params.signals must be a list of strings, got %s", json_kind(sigs));
        return;
    }
    double rate = s->telemetry_hz;
    json_t *r = json_object_get(params, "rate_hz");
    if (r && !json_is_null(r)) {
        char d[64];
        describe(r, d, sizeof d);
        if (!json_is_number(r) || !(json_number_value(r) > 0) || json_number_value(r) > s->telemetry_hz * (1 + 1e-9)) {
            send_error(c, "subscribe", id, "params.rate_hz must be a number in (0, %g] (the server's telemetry rate), got %s",
                       s->telemetry_hz, d);
            return;
        }
        rate = json_number_value(r);
    }
    size_t n = json_array_size(sigs);
    if (n > s->max_patterns) {
        send_error(c, "subscribe", id,
                   "params.signals has %zu patterns, more than this server's limit of %u "
                   "(use 'module.*' or '*' to cover many signals)", n, s->max_patterns);
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
            send_error(c, "subscribe", id, "params.signals[%zu] must be a string, got %s", i, json_kind(p));
            free(pats);
            return;
        }
        pats[i] = json_string_value(p);
    }
    hermes_encoder_t *enc = NULL;
    int rc = hermes_encoder_create(&enc, s->bp, pats, n);
    free(pats);
    if (rc) {
        send_error(c, "subscribe", id, "%s", hermes_last_error());
        return;
    }
    json_t *names = json_array();
    for (uint32_t i = 0; i < hermes_encoder_count(enc); i++)
        json_array_append_new(names, json_string(hermes_encoder_signal_name(enc, i)));
    uint32_t count = hermes_encoder_count(enc);
    struct stream *st = stream_get(s, enc);
    if (!st) {
        json_decref(names);
        send_error(c, "subscribe", id, "out of memory");
        return;
    }
    stream_release(s, c->stream);
    c->stream = st;
    c->rate_hz = rate;
    c->acc = s->telemetry_hz;  /* first frame on the next tick */
    c->pending = false;
    json_t *j = ack("subscribe", id);
    json_object_set_new(j, "count", json_integer(count));
    json_object_set_new(j, "signals", names);
    json_object_set_new(j, "rate_hz", json_real(rate));
    json_object_set_new(j, "frame_bytes", json_integer((json_int_t)st->len));
    hermes__log(HERMES_LOG_INFO, "server", "event=subscribe id=%llu count=%u rate_hz=%g", (unsigned long long)c->id,
                count, rate);
    send_json(c, j);
}

static void do_unsubscribe(hermes_server_t *s, struct client *c, json_t *id)
{
    stream_release(s, c->stream);
    c->stream = NULL;
    c->pending = false;
    send_json(c, ack("unsubscribe", id));
}

static void do_stats(hermes_server_t *s, struct client *c, json_t *id)
{
    json_t *j = ack("stats", id);
    json_object_set_new(j, "sent", json_integer((json_int_t)c->sent));
    json_object_set_new(j, "dropped", json_integer((json_int_t)c->dropped));
    json_object_set_new(j, "subscribed", json_integer(c->stream ? hermes_encoder_count(c->stream->enc) : 0));
    json_object_set_new(j, "rate_hz", json_real(c->stream ? c->rate_hz : 0.0));
    json_object_set_new(j, "telemetry_hz", json_real(s->telemetry_hz));
    json_object_set_new(j, "clients", json_integer(s->nclients));
    send_json(c, j);
}

static void do_step(hermes_server_t *s, struct client *c, json_t *params, json_t *id)
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
    struct job *j = new_job(JOB_STEP, id);
    if (!j) {
        send_error(c, "step", id, "out of memory");
        return;
    }
    j->count = count;
    submit(s, c, j);
}

static void do_set(hermes_server_t *s, struct client *c, json_t *params, json_t *id)
{
    json_t *sv = json_object_get(params, "signal");
    json_t *vv = json_object_get(params, "value");
    if (!sv) {
        send_error(c, "set", id, "set needs params.signal (a qualified name such as \"module.signal\")");
        return;
    }
    if (!json_is_string(sv)) {
        send_error(c, "set", id, "params.signal must be a string, got %s", json_kind(sv));
        return;
    }
    const char *name = json_string_value(sv);
    if (!vv) {
        send_error(c, "set", id, "set needs params.value (a finite number)");
        return;
    }
    hermes_signal_t sig;
    hermes_signal_info_t info;
    if (hermes_backplane_find(s->bp, name, &sig) != 0 || hermes_backplane_info(s->bp, sig.index, &info) != 0) {
        send_error(c, "set", id, "unknown signal '%s'", name);
        return;
    }
    if (!info.writable) {
        send_error(c, "set", id, "signal '%s' is read-only", name);
        return;
    }
    double value;
    if (json_is_boolean(vv) && info.type == HERMES_TYPE_BOOL) {
        value = json_is_true(vv) ? 1.0 : 0.0;
    } else if (json_is_number(vv)) {
        value = json_number_value(vv);
    } else {
        send_error(c, "set", id, "params.value must be a finite number, got %s", json_kind(vv));
        return;
    }
    if (!isfinite(value)) {
        send_error(c, "set", id, "params.value must be a finite number");
        return;
    }
    if (hermes_type_check(info.type, value) != 0) {
        send_error(c, "set", id, "value %.17g does not fit %s signal '%s'", value, hermes_type_name(info.type), name);
        return;
    }
    struct job *j = new_job(JOB_SET, id);
    if (!j) {
        send_error(c, "set", id, "out of memory");
        return;
    }
    j->sig = sig;
    j->value = value;
    hermes__strlcpy(j->signal, info.name, sizeof j->signal);
    submit(s, c, j);
}

/* Whether @p text nests '[' / '{' deeper than @p max (outside strings). Run
 * before parsing so a deep message costs one linear scan, not a deep tree. */
static bool too_deep(const char *text, size_t len, uint32_t max)
{
    uint32_t depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (ch == '\\')
                esc = true;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max)
                return true;
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return false;
}

/* Parse and act on one complete text message. */
static void handle_text(hermes_server_t *s, struct client *c, const char *text, size_t len)
{
    if (too_deep(text, len, s->max_depth)) {
        send_error(c, NULL, NULL, "JSON nested deeper than %u levels; this message was ignored", s->max_depth);
        return;
    }
    json_error_t err;
    json_t *cmd = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!cmd) {
        send_error(c, NULL, NULL, "invalid JSON at line %d column %d: %s", err.line, err.column, err.text);
        return;
    }
    if (!json_is_object(cmd)) {
        send_error(c, NULL, NULL, "a command must be a JSON object like {\"action\": \"pause\"}, got %s", json_kind(cmd));
        json_decref(cmd);
        return;
    }
    json_t *id = json_object_get(cmd, "id");
    json_t *av = json_object_get(cmd, "action");
    json_t *params = json_object_get(cmd, "params");
    const char *action = NULL;
    if (!av) {
        send_error(c, NULL, id, "missing \"action\" (one of pause, resume, reset, step, set, subscribe, unsubscribe, stats)");
        goto out;
    }
    if (!json_is_string(av)) {
        send_error(c, NULL, id, "\"action\" must be a string, got %s", json_kind(av));
        goto out;
    }
    action = json_string_value(av);
    if (params && !json_is_object(params) && !json_is_null(params)) {
        send_error(c, action, id, "\"params\" must be an object, got %s", json_kind(params));
        goto out;
    }
    if (!json_is_object(params))
        params = NULL;  /* json_object_get(NULL, ...) is NULL-safe */

    if (strcmp(action, "subscribe") == 0) {
        do_subscribe(s, c, params, id);
    } else if (strcmp(action, "unsubscribe") == 0) {
        do_unsubscribe(s, c, id);
    } else if (strcmp(action, "stats") == 0) {
        do_stats(s, c, id);
    } else if (!strcmp(action, "pause") || !strcmp(action, "resume") || !strcmp(action, "reset") ||
               !strcmp(action, "step") || !strcmp(action, "set")) {
        if (!s->has_ctl) {
            send_error(c, action, id, "this server is read-only: it accepts no '%s' commands", action);
        } else if (c->role != ROLE_CONTROLLER) {
            send_error(c, action, id,
                       "this connection is an observer (read-only): '%s' needs the server's auth token", action);
        } else if (!strcmp(action, "step")) {
            do_step(s, c, params, id);
        } else if (!strcmp(action, "set")) {
            do_set(s, c, params, id);
        } else {
            struct job *j = new_job(!strcmp(action, "pause") ? JOB_PAUSE : !strcmp(action, "resume") ? JOB_RESUME : JOB_RESET, id);
            if (j)
                submit(s, c, j);
            else
                send_error(c, action, id, "out of memory");
        }
    } else {
        send_error(c, NULL, id, "unknown action '%.64s' (expected pause, resume, reset, step, set, subscribe, unsubscribe or stats)",
                   action);
    }
out:
    json_decref(cmd);
}

static void backlog_free(struct client *c)
{
    while (c->bl_head) {
        struct backlog *b = c->bl_head;
        c->bl_head = b->next;
        free(b);
    }
    c->bl_tail = NULL;
    c->bl_count = c->bl_bytes = 0;
}

static void rate_error(hermes_server_t *s, struct client *c)
{
    send_error(c, NULL, NULL, "rate limit: more than %u commands per second; this one was ignored", s->cps);
}

/* Close @p c politely once its queued replies are out (WRITEABLE sends the
 * close frame with @p code and @p why). */
static void close_client(struct client *c, uint16_t code, const char *why)
{
    if (c->closing)
        return;
    c->closing = true;
    c->close_code = code;
    c->close_why = why;
    c->pending = false;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

/* Token bucket of s->cps per second, burst s->cps. A refusal is answered with
 * an error; refusals that keep coming for ABUSE_US with no ABUSE_PAUSE_US
 * break close the connection (1008). Returns whether the message may run. */
static bool rate_take(hermes_server_t *s, struct client *c)
{
    lws_usec_t now = lws_now_usecs();
    if (now > c->refill_at) {
        c->tokens += (double)(now - c->refill_at) * s->cps / 1e6;
        if (c->tokens > s->cps)
            c->tokens = s->cps;
        c->refill_at = now;
    }
    if (c->tokens >= 1.0) {
        c->tokens -= 1.0;
        return true;
    }
    if (!c->abuse_since || now - c->last_refusal >= ABUSE_PAUSE_US)
        c->abuse_since = now;
    c->last_refusal = now;
    if (now - c->abuse_since >= ABUSE_US && !c->closing) {
        hermes__log(HERMES_LOG_WARN, "server", "event=client_dropped id=%llu addr=%s reason=rate_limit limit=%u",
                    (unsigned long long)c->id, c->addr, s->cps);
        close_client(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "command rate limit exceeded");
    }
    return false;
}

/* A complete message: handle now, or keep it behind a control call in flight
 * so replies keep the order of the commands. Over the rate limit, the error
 * takes the message's place in that order. */
/* Queue behind the control call in flight: a command (@p refused: over the
 * rate limit) or, with @p error, an error text to send in its turn. */
static void backlog_push(struct client *c, const char *text, size_t len, bool refused, bool error)
{
    if (c->bl_count >= BACKLOG_MAX || c->bl_bytes + len > BACKLOG_BYTES) {
        send_error(c, NULL, NULL, "too many commands waiting for the simulation (limit %u); this one was ignored",
                   BACKLOG_MAX);
        return;
    }
    struct backlog *b = malloc(sizeof *b + len + 1);
    if (!b) {
        send_error(c, NULL, NULL, "out of memory");
        return;
    }
    b->next = NULL;
    b->len = len;
    b->refused = refused;
    b->error = error;
    if (len)
        memcpy(b->text, text, len);
    b->text[len] = '\0';
    if (c->bl_tail)
        c->bl_tail->next = b;
    else
        c->bl_head = b;
    c->bl_tail = b;
    c->bl_count++;
    c->bl_bytes += len;
}

/* A complete message: handle now, or keep it behind a control call in flight
 * so replies keep the order of the commands. Over the rate limit, the error
 * takes the message's place in that order. */
static void on_message(hermes_server_t *s, struct client *c, const char *text, size_t len)
{
    if (c->closing)
        return;
    bool ok = rate_take(s, c);
    if (!c->busy) {
        if (ok)
            handle_text(s, c, text, len);
        else
            rate_error(s, c);
        return;
    }
    backlog_push(c, text, ok ? len : 0, !ok, false);
}

/* An error about a message that is not a command keeps its place too. */
static void reply_error_in_turn(struct client *c, const char *msg)
{
    if (c->busy)
        backlog_push(c, msg, strlen(msg), false, true);
    else
        send_error(c, NULL, NULL, "%s", msg);
}

static void run_backlog(hermes_server_t *s, struct client *c)
{
    while (!c->busy && c->bl_head) {
        struct backlog *b = c->bl_head;
        c->bl_head = b->next;
        if (!c->bl_head)
            c->bl_tail = NULL;
        c->bl_count--;
        c->bl_bytes -= b->len;
        if (b->refused)
            rate_error(s, c);
        else if (b->error)
            send_error(c, NULL, NULL, "%s", b->text);
        else
            handle_text(s, c, b->text, b->len);
        free(b);
    }
}

static struct client *find_client(hermes_server_t *s, uint64_t id)
{
    for (struct client *c = s->clients; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static void process_done(hermes_server_t *s)
{
    pthread_mutex_lock(&s->mu_job);
    struct job *list = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->mu_job);
    while (list) {
        struct job *j = list;
        list = j->next;
        struct client *c = find_client(s, j->client_id);
        if (c && c->inited) {
            const char *action = job_action[j->kind];
            c->busy = false;
            if (j->rc) {
                send_error(c, action, j->id, "%s failed: %s (%s)", action, j->msg, hermes_err_name(j->rc));
            } else {
                json_t *a = ack(action, j->id);
                switch (j->kind) {
                case JOB_STEP:
                    json_object_set_new(a, "count", json_integer((json_int_t)j->count));
                    json_object_set_new(a, "frame", json_integer((json_int_t)j->target));
                    break;
                case JOB_SET:
                    json_object_set_new(a, "signal", json_string(j->signal));
                    json_object_set_new(a, "value", json_real(j->value));
                    break;
                case JOB_RESET:
                    json_object_set_new(a, "frame", json_integer((json_int_t)hermes_backplane_frame(s->bp)));
                    break;
                case JOB_PAUSE:
                case JOB_RESUME:
                    break;
                }
                if (s->ctl.state)
                    json_object_set_new(a, "state", json_string(hermes_state_name(j->state)));
                hermes__log(HERMES_LOG_INFO, "server", "event=command id=%llu action=%s", (unsigned long long)c->id,
                            action);
                send_json(c, a);
            }
            run_backlog(s, c);
        }
        json_decref(j->id);
        free(j);
    }
}

/* ---- telemetry tick ---------------------------------------------------------- */

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    hermes_server_t *s = lws_container_of(sul, hermes_server_t, tick_sul);
    s->tick++;
    atomic_fetch_add_explicit(&s->st_ticks, 1, memory_order_relaxed);
    lws_usec_t now = lws_now_usecs();
    for (struct client *c = s->clients; c; c = c->next) {
        struct stream *st = c->stream;
        if (!c->inited || c->closing || !st)
            continue;
        if (c->rate_hz < s->telemetry_hz) {
            c->acc += c->rate_hz;
            if (c->acc < s->telemetry_hz - 1e-9)
                continue;
            c->acc -= s->telemetry_hz;
            if (c->acc < 0)
                c->acc = 0;
        }
        if (st->tick != s->tick) {
            st->tick = s->tick;
            st->valid = hermes_encoder_encode(st->enc, st->buf + LWS_PRE, st->len, NULL, NULL) == 0;
        }
        if (!st->valid)
            continue;
        if (c->pending) {
            c->dropped++;
            atomic_fetch_add_explicit(&s->st_dropped, 1, memory_order_relaxed);
            if (now >= c->drop_log_at) {
                hermes__log(HERMES_LOG_WARN, "server", "event=frames_dropped id=%llu addr=%s dropped=%llu new=%llu sent=%llu",
                            (unsigned long long)c->id, c->addr, (unsigned long long)c->dropped,
                            (unsigned long long)(c->dropped - c->dropped_logged), (unsigned long long)c->sent);
                c->dropped_logged = c->dropped;
                c->drop_log_at = now + DROP_LOG_US;
            }
        }
        c->pending = true;
        lws_callback_on_writable(c->wsi);
    }
    s->next_tick += s->period;
    now = lws_now_usecs();
    if (s->next_tick < now)
        s->next_tick = now;
    lws_sul_schedule(s->ctx, 0, &s->tick_sul, tick_cb, s->next_tick - now);
}

/* ---- shutdown -------------------------------------------------------------- */

static void grace_cb(lws_sorted_usec_list_t *sul)
{
    hermes_server_t *s = lws_container_of(sul, hermes_server_t, grace_sul);
    if (s->nclients == 0 || lws_now_usecs() >= s->close_deadline)
        s->svc_exit = true;
    else
        lws_sul_schedule(s->ctx, 0, &s->grace_sul, grace_cb, 20 * 1000);
}

static void begin_close_all(hermes_server_t *s)
{
    if (s->closing_all)
        return;
    s->closing_all = true;
    lws_sul_cancel(&s->tick_sul);
    s->close_deadline = lws_now_usecs() + CLOSE_GRACE_US;
    for (struct client *c = s->clients; c; c = c->next) {
        c->closing = true;
        lws_callback_on_writable(c->wsi);
    }
    if (s->nclients == 0)
        s->svc_exit = true;
    else
        lws_sul_schedule(s->ctx, 0, &s->grace_sul, grace_cb, 20 * 1000);
}

/* ---- the lws callback -------------------------------------------------------- */

static void peer_addr(struct lws *wsi, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = lws_get_socket_fd(wsi);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        }
    }
    snprintf(buf, cap, "%s:%u", host, port);
}

static const char *role_name(uint8_t role) { return role == ROLE_CONTROLLER ? "controller" : "observer"; }

static void client_init(hermes_server_t *s, struct client *c, struct lws *wsi, uint8_t role)
{
    memset(c, 0, sizeof *c);
    c->wsi = wsi;
    c->id = ++s->next_id;
    c->inited = true;
    /* ROLE_NONE (no FILTER seen) fails safe: read-only. */
    c->role = role == ROLE_CONTROLLER ? ROLE_CONTROLLER : ROLE_OBSERVER;
    c->tokens = s->cps;
    c->refill_at = lws_now_usecs();
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    s->nclients++;
}

static void on_established(hermes_server_t *s, struct client *c, struct lws *wsi)
{
    client_init(s, c, wsi, c->role);
    peer_addr(wsi, c->addr, sizeof c->addr);
    atomic_store_explicit(&s->st_clients, s->nclients, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->st_conn, 1, memory_order_relaxed);
    hermes__log(HERMES_LOG_INFO, "server", "event=client_connected id=%llu addr=%s role=%s clients=%u",
                (unsigned long long)c->id, c->addr, role_name(c->role), s->nclients);
    json_object_set_new(s->schema, "client_id", json_integer((json_int_t)c->id));
    json_object_set_new(s->schema, "role", json_string(role_name(c->role)));
    json_object_set_new(s->schema, "state", json_string(state_name(s)));
    json_object_set_new(s->schema, "frame", json_integer((json_int_t)hermes_backplane_frame(s->bp)));
    send_json(c, json_incref(s->schema));
}

static void on_closed(hermes_server_t *s, struct client *c)
{
    if (!c->inited)
        return;
    hermes__log(HERMES_LOG_INFO, "server", "event=client_disconnected id=%llu addr=%s sent=%llu dropped=%llu clients=%u",
                (unsigned long long)c->id, c->addr, (unsigned long long)c->sent, (unsigned long long)c->dropped,
                s->nclients - 1);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nclients--;
    atomic_store_explicit(&s->st_clients, s->nclients, memory_order_relaxed);
    while (c->tx_head) {
        struct txmsg *m = c->tx_head;
        c->tx_head = m->next;
        free(m);
    }
    backlog_free(c);
    free(c->rx);
    stream_release(s, c->stream);
    c->inited = false;
    if (s->closing_all && s->nclients == 0)
        s->svc_exit = true;
}

static void on_receive(hermes_server_t *s, struct client *c, struct lws *wsi, const void *in, size_t len)
{
    if (lws_is_first_fragment(wsi) && c->rx_total == 0) {
        c->rx_len = 0;
        c->rx_discard = false;
        c->rx_binary = lws_frame_is_binary(wsi) != 0;
    }
    c->rx_total += len;
    if (!c->rx_discard) {
        if (c->rx_binary || c->rx_total > s->max_message) {
            c->rx_discard = true;  /* refuse without buffering the rest */
            free(c->rx);
            c->rx = NULL;
            c->rx_cap = c->rx_len = 0;
        } else {
            if (c->rx_len + len > c->rx_cap) {
                size_t cap = c->rx_cap ? c->rx_cap : 1024;
                while (cap < c->rx_len + len)
                    cap *= 2;
                if (cap > s->max_message)
                    cap = s->max_message;
                unsigned char *p = realloc(c->rx, cap);
                if (!p) {
                    kill_client(c, "out_of_memory");
                    return;
                }
                c->rx = p;
                c->rx_cap = cap;
            }
            memcpy(c->rx + c->rx_len, in, len);
            c->rx_len += len;
        }
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return;
    size_t total = c->rx_total;
    c->rx_total = 0;
    if ((c->rx_binary || c->rx_discard) && !c->closing && !rate_take(s, c)) {
        rate_error(s, c);
    } else if (c->closing) {
        /* closing (rate abuse or server stop): ignore */
    } else if (c->rx_binary) {
        char msg[160];
        snprintf(msg, sizeof msg, "binary messages are not accepted (got %zu bytes); send commands as JSON text", total);
        reply_error_in_turn(c, msg);
    } else if (c->rx_discard) {
        hermes__log(HERMES_LOG_WARN, "server", "event=message_too_large id=%llu bytes=%zu limit=%u",
                    (unsigned long long)c->id, total, s->max_message);
        char msg[160];
        snprintf(msg, sizeof msg, "message of %zu bytes exceeds the %u-byte limit; it was ignored", total,
                 s->max_message);
        reply_error_in_turn(c, msg);
    } else {
        on_message(s, c, (const char *)c->rx, c->rx_len);
    }
    c->rx_len = 0;
    c->rx_discard = false;
    if (c->rx_cap > 16384) {  /* do not keep big buffers around */
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
}

static int on_writeable(hermes_server_t *s, struct client *c, struct lws *wsi)
{
    if (c->killed)
        return -1;
    if (c->tx_head) {
        struct txmsg *m = c->tx_head;
        int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        c->tx_head = m->next;
        if (!c->tx_head)
            c->tx_tail = NULL;
        c->tx_count--;
        c->tx_bytes -= m->len;
        free(m);
        if (n < 0)
            return -1;
        if (c->tx_head || c->pending || c->closing)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->closing) {
        const char *why = c->close_code ? c->close_why : "server stopping";
        lws_close_reason(wsi, c->close_code ? (enum lws_close_status)c->close_code : LWS_CLOSE_STATUS_GOINGAWAY,
                         (unsigned char *)(uintptr_t)why, strlen(why));
        return -1;
    }
    if (c->pending && c->stream && c->stream->valid) {
        c->pending = false;
        if (lws_write(wsi, c->stream->buf + LWS_PRE, c->stream->len, LWS_WRITE_BINARY) < 0)
            return -1;
        c->sent++;
        atomic_fetch_add_explicit(&s->st_sent, 1, memory_order_relaxed);
    }
    return 0;
}

/* ---- access control ---------------------------------------------------------- */

/* Compare over the whole fixed-size buffer, whatever the lengths, with no
 * early exit: the time does not depend on where the first difference is. */
static bool token_matches(const hermes_server_t *s, const char *p, size_t plen)
{
    unsigned char a[HERMES_SERVER_TOKEN_MAX], b[HERMES_SERVER_TOKEN_MAX];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memcpy(a, s->token, s->token_len);
    memcpy(b, p, plen < sizeof b ? plen : sizeof b);
    volatile unsigned char d = (unsigned char)(plen != s->token_len);
    for (size_t i = 0; i < sizeof a; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    explicit_bzero(a, sizeof a);
    explicit_bzero(b, sizeof b);
    return d == 0;
}

/* Host name part of a Host header value ("h", "h:p", "[v6]:p"), unbracketed. */
static void host_name(const char *host, char *out, size_t cap)
{
    const char *b = host, *e;
    if (*b == '[') {
        b++;
        e = strchr(b, ']');
        if (!e)
            e = b + strlen(b);
    } else {
        e = strrchr(b, ':');
        if (!e || strchr(b, ':') != e)  /* no port, or a bare IPv6 literal */
            e = b + strlen(b);
    }
    size_t n = (size_t)(e - b) < cap - 1 ? (size_t)(e - b) : cap - 1;
    memcpy(out, b, n);
    out[n] = '\0';
}

/* Is @p name this server's own address for this connection: the local
 * address the client reached (or "localhost" when that is loopback)? A DNS
 * name other than localhost is not: an attacker's name can be rebound to us. */
static bool own_host(struct lws *wsi, const char *name)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = lws_get_socket_fd(wsi);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return false;
    char local[INET6_ADDRSTRLEN] = "";
    bool loop = false;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, local, sizeof local);
        loop = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], local, sizeof local);
            loop = a->sin6_addr.s6_addr[12] == 127;
        } else {
            inet_ntop(AF_INET6, &a->sin6_addr, local, sizeof local);
            loop = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
        }
    }
    if (local[0] && strcasecmp(name, local) == 0)
        return true;
    return loop && strcasecmp(name, "localhost") == 0;
}

/* A browser page's Origin is acceptable when it is listed (or "*" is), or
 * when it is the server's own origin: its host:port is the request's Host
 * header and that names this server by address (or localhost). */
static bool origin_allowed(const hermes_server_t *s, struct lws *wsi, const char *origin)
{
    if (s->any_origin)
        return true;
    for (uint32_t i = 0; i < s->norigins; i++)
        if (strcasecmp(origin, s->origins[i]) == 0)
            return true;
    const char *sep = strstr(origin, "://");
    char host[256], name[256];
    if (!sep || lws_hdr_total_length(wsi, WSI_TOKEN_HOST) >= (int)sizeof host ||
        lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
        return false;
    if (strcasecmp(sep + 3, host) != 0)
        return false;
    host_name(host, name, sizeof name);
    return own_host(wsi, name);
}

enum verdict { V_CONTROLLER, V_OBSERVER, V_BAD_ORIGIN, V_UNAUTHORIZED };

/* Decide from the handshake headers. Never logs or copies the token beyond
 * the stack buffers, which are wiped. */
static enum verdict check_access(const hermes_server_t *s, struct lws *wsi)
{
    char buf[HERMES_SERVER_TOKEN_MAX + 64];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (n > 0) {
        if (n >= (int)sizeof buf || lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_ORIGIN) < 0 ||
            !origin_allowed(s, wsi, buf))
            return V_BAD_ORIGIN;
    }
    if (!s->has_token)
        return V_CONTROLLER;
    const char *tok = NULL;
    size_t tlen = 0;
    bool bad = false;
    /* Authorization: Bearer T (a header with another scheme is not ours). */
    n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 0) {
        if (n >= (int)sizeof buf || lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION) < 0) {
            bad = true;  /* far too long to be the token */
        } else if (strncasecmp(buf, "Bearer ", 7) == 0) {
            const char *p = buf + 7;
            while (*p == ' ' || *p == '\t')
                p++;
            size_t l = strlen(p);
            while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
                l--;
            tok = p;
            tlen = l;
        }
    }
    /* ?token=T, already URL-decoded by lws (an argument too long for the
     * buffer is not found: no escalation, just no token). */
    char qbuf[HERMES_SERVER_TOKEN_MAX + 64];
    qbuf[0] = '\0';
    if (!tok && !bad) {
        const char *q = lws_get_urlarg_by_name(wsi, "token=", qbuf, sizeof qbuf);
        if (q) {
            tok = q;
            tlen = strlen(q);
        }
    }
    enum verdict v;
    if (bad)
        v = V_UNAUTHORIZED;
    else if (tok)
        v = token_matches(s, tok, tlen) ? V_CONTROLLER : V_UNAUTHORIZED;
    else
        v = s->observers ? V_OBSERVER : V_UNAUTHORIZED;
    explicit_bzero(buf, sizeof buf);
    explicit_bzero(qbuf, sizeof qbuf);
    return v;
}

/* HTTP refusal at the upgrade: status and a plain reason in the body. */
static int refuse(struct lws *wsi, unsigned code, const char *reason, const char *why)
{
    char addr[80];
    peer_addr(wsi, addr, sizeof addr);
    hermes__log(HERMES_LOG_WARN, "server", "event=client_refused reason=%s addr=%s status=%u", reason, addr, code);
    if (lws_return_http_status(wsi, code, why))
        return -1;
    return 1;
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: >0 refused with an HTTP status, 0 go on. */
static int confirm_upgrade(hermes_server_t *s, struct lws *wsi)
{
    if (s->closing_all)
        return refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "stopping", "server stopping");
    switch (check_access(s, wsi)) {
    case V_BAD_ORIGIN:
        return refuse(wsi, HTTP_STATUS_FORBIDDEN, "origin",
                      "origin not allowed (add it to server.allowed_origins)");
    case V_UNAUTHORIZED:
        return refuse(wsi, HTTP_STATUS_UNAUTHORIZED, "unauthorized",
                      "missing or wrong token (Authorization: Bearer TOKEN, or ?token=TOKEN)");
    case V_OBSERVER:
    case V_CONTROLLER:
        break;
    }
    if (s->nclients >= s->max_clients) {
        char why[96];
        snprintf(why, sizeof why, "too many clients: this server accepts at most %u", s->max_clients);
        return refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "max_clients", why);
    }
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    hermes_server_t *s = ctx ? lws_context_user(ctx) : NULL;
    struct client *c = user;
    if (!s)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(s, wsi);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* Checked again (an upgrade path that skipped CONFIRM_UPGRADE would
         * still be refused, as a plain hang-up) and the role recorded. */
        if (s->closing_all)
            return 1;
        enum verdict v = check_access(s, wsi);
        if (v == V_BAD_ORIGIN || v == V_UNAUTHORIZED) {
            hermes__log(HERMES_LOG_WARN, "server", "event=client_refused reason=%s",
                        v == V_BAD_ORIGIN ? "origin" : "unauthorized");
            return 1;
        }
        if (s->nclients >= s->max_clients) {
            hermes__log(HERMES_LOG_WARN, "server", "event=client_refused reason=max_clients limit=%u", s->max_clients);
            return 1;
        }
        if (c)
            c->role = v == V_CONTROLLER ? ROLE_CONTROLLER : ROLE_OBSERVER;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        if (s->closing_all)
            return -1;
        on_established(s, c, wsi);
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (c)
            on_closed(s, c);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!c || !c->inited)
            return 0;
        on_receive(s, c, wsi, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c || !c->inited)
            return 0;
        return on_writeable(s, c, wsi);
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        process_events(s);
        process_done(s);
        if (atomic_load(&s->stop_req))
            begin_close_all(s);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void *svc_main(void *arg)
{
    hermes_server_t *s = arg;
    s->next_tick = lws_now_usecs() + s->period;
    lws_sul_schedule(s->ctx, 0, &s->tick_sul, tick_cb, s->period);
    while (!s->svc_exit)
        if (lws_service(s->ctx, 0) < 0)
            break;
    lws_sul_cancel(&s->tick_sul);
    lws_sul_cancel(&s->grace_sul);
    return NULL;
}

/* ---- schema -------------------------------------------------------------- */

static json_t *build_schema(hermes_server_t *s)
{
    json_t *root = json_object();
    json_t *mods = json_object();
    json_t *wiring = json_array();
    if (!root || !mods || !wiring) {
        json_decref(root);
        json_decref(mods);
        json_decref(wiring);
        return NULL;
    }
    json_object_set_new(root, "type", json_string("schema"));
    json_object_set_new(root, "protocol", json_integer(HERMES_PROTOCOL_VERSION));
    json_object_set_new(root, "server", json_string("hermes " HERMES_VERSION_STRING));
    json_object_set_new(root, "run_id", json_string(s->run_id));
    uint32_t nm = hermes_backplane_module_count(s->bp);
    json_t **lists = calloc(nm ? nm : 1, sizeof *lists);
    if (!lists) {
        json_decref(root);
        json_decref(mods);
        json_decref(wiring);
        return NULL;
    }
    for (uint32_t i = 0; i < nm; i++) {
        json_t *m = json_object();
        lists[i] = json_array();
        json_object_set_new(m, "signals", lists[i]);
        json_object_set_new(mods, hermes_backplane_module_name(s->bp, i), m);
    }
    uint32_t n = hermes_backplane_count(s->bp);
    for (uint32_t k = 0; k < n; k++) {
        hermes_signal_info_t in;
        if (hermes_backplane_info(s->bp, k, &in) != 0)
            continue;
        json_t *list = in.module_index < nm ? lists[in.module_index] : NULL;
        if (!list) {  /* a module without a control block: add it by name */
            json_t *m = json_object_get(mods, in.module);
            if (!m) {
                m = json_object();
                json_object_set_new(m, "signals", json_array());
                json_object_set_new(mods, in.module, m);
            }
            list = json_object_get(m, "signals");
        }
        json_t *sig = json_object();
        json_object_set_new(sig, "name", json_string(in.local_name));
        json_object_set_new(sig, "type", json_string(hermes_type_name(in.type)));
        json_object_set_new(sig, "unit", json_string(in.unit));
        json_object_set_new(sig, "writable", json_boolean(in.writable));
        json_array_append_new(list, sig);
    }
    free(lists);
    json_object_set_new(root, "modules", mods);
    if (s->sim_config) {
        uint32_t nw = hermes_config_wire_count(s->sim_config);
        for (uint32_t i = 0; i < nw; i++) {
            hermes_wire_info_t w;
            if (hermes_config_wire(s->sim_config, i, &w) != 0)
                continue;
            json_t *o = json_object();
            json_object_set_new(o, "src", json_string(w.src));
            json_object_set_new(o, "dst", json_string(w.dst));
            json_object_set_new(o, "gain", isfinite(w.gain) ? json_real(w.gain) : json_null());
            json_object_set_new(o, "offset", isfinite(w.offset) ? json_real(w.offset) : json_null());
            json_array_append_new(wiring, o);
        }
        hermes_execution_t ex;
        if (hermes_config_execution(s->sim_config, &ex) == 0) {
            json_object_set_new(root, "rate_hz", json_real(ex.rate_hz));
            json_object_set_new(root, "mode", json_string(hermes_mode_name(ex.mode)));
            json_object_set_new(root, "end_time", ex.has_end_time ? json_real(ex.end_time) : json_null());
        }
    }
    json_object_set_new(root, "wiring", wiring);
    json_object_set_new(root, "telemetry_hz", json_real(s->telemetry_hz));
    json_object_set_new(root, "signal_count", json_integer(n));
    json_object_set_new(root, "max_message", json_integer(s->max_message));
    json_object_set_new(root, "byte_order", json_string("little"));
    return root;
}

/* ---- create / start / stop ---------------------------------------------------- */

static bool is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return strcmp(addr, "lo") == 0;
}

/* lws reports bind failures only in its log: probe the address ourselves. */
static int bind_error(hermes_server_t *s)
{
    struct in_addr a4;
    struct in6_addr a6;
    int fam = inet_pton(AF_INET, s->bind_addr, &a4) == 1 ? AF_INET : inet_pton(AF_INET6, s->bind_addr, &a6) == 1 ? AF_INET6 : 0;
    int e = 0;
    if (fam) {
        int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            int rc;
            if (fam == AF_INET) {
                struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(s->port), .sin_addr = a4};
                rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
            } else {
                struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(s->port), .sin6_addr = a6};
                rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
            }
            e = rc ? errno : 0;
            close(fd);
        }
    }
    if (e == EADDRINUSE)
        return sfail(s, HERMES_EADDRINUSE, "cannot listen on %s:%u: address already in use", s->bind_addr, s->port);
    return sfail(s, HERMES_ENET, "cannot listen on %s:%u: %s", s->bind_addr, s->port,
                 e ? strerror(e) : fam ? "bind failed" : "no such address or interface");
}

static int create(hermes_server_t **out, hermes_backplane_t *bp, const hermes_server_config_t *cfg,
                  const hermes_server_control_t *control, bool detached)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_server_create: out is NULL");
    *out = NULL;
    if (!bp || !cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_server_create: NULL argument");
    if (cfg->size == 0)
        return hermes__fail(HERMES_EINVAL, "server config not initialised (call hermes_server_config_init)");
    if (control && control->size == 0)
        return hermes__fail(HERMES_EINVAL, "control table not initialised (call hermes_server_control_init)");
    hermes_server_config_t c;
    hermes_server_config_init(&c);
    memcpy(&c, cfg, cfg->size < sizeof c ? cfg->size : sizeof c);
    struct hermes__access acc = {
        .telemetry_hz = c.telemetry_hz,
        .auth_token = c.auth_token && c.auth_token[0] ? c.auth_token : NULL,  /* "": none (server.h) */
        .allowed_origins = c.allowed_origins,
        .allowed_origin_count = c.allowed_origin_count,
        .limit = {[HERMES__LIMIT_MAX_CLIENTS] = c.max_clients,
                  [HERMES__LIMIT_MAX_MESSAGE] = c.max_message,
                  [HERMES__LIMIT_COMMANDS_PER_SECOND] = c.commands_per_second,
                  [HERMES__LIMIT_MAX_PATTERNS] = c.max_patterns,
                  [HERMES__LIMIT_MAX_JSON_DEPTH] = c.max_json_depth},
    };
    char afield[64], amsg[192];
    if (hermes__access_check(&acc, afield, sizeof afield, amsg, sizeof amsg) != 0)
        return hermes__fail(HERMES_EINVAL, "server %s: %s", afield, amsg);
    double hz = c.telemetry_hz == 0 ? HERMES_DEFAULT_TELEMETRY_HZ : c.telemetry_hz;
    bool has_token = c.auth_token && c.auth_token[0];

    hermes_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    s->bp = bp;
    s->detached = detached;
    pthread_mutex_init(&s->mu_ev, NULL);
    pthread_mutex_init(&s->mu_job, NULL);
    pthread_cond_init(&s->cv_job, NULL);
    if (control) {
        memcpy(&s->ctl, control, control->size < sizeof s->ctl ? control->size : sizeof s->ctl);
        s->ctl.size = (uint32_t)sizeof s->ctl;
        s->has_ctl = true;
    }
    const char *addr = c.bind_addr && c.bind_addr[0] ? c.bind_addr : HERMES_DEFAULT_HOST;
    if (strcmp(addr, "localhost") == 0)
        addr = "127.0.0.1";  /* lws 4.1.6 does not resolve it */
    if (hermes__strlcpy(s->bind_addr, addr, sizeof s->bind_addr) != 0) {
        hermes_server_destroy(s);
        return hermes__fail(HERMES_EINVAL, "bind address too long");
    }
    s->port = c.port;
    s->max_clients = c.max_clients ? c.max_clients : HERMES_SERVER_DEFAULT_MAX_CLIENTS;
    s->max_message = c.max_message ? c.max_message : HERMES_SERVER_DEFAULT_MAX_MESSAGE;
    s->cps = c.commands_per_second ? c.commands_per_second : HERMES_SERVER_DEFAULT_COMMANDS_PER_SECOND;
    s->max_patterns = c.max_patterns ? c.max_patterns : HERMES_SERVER_DEFAULT_MAX_PATTERNS;
    s->max_depth = c.max_json_depth ? c.max_json_depth : HERMES_SERVER_DEFAULT_MAX_JSON_DEPTH;
    if (has_token) {
        s->token_len = strlen(c.auth_token);
        memcpy(s->token, c.auth_token, s->token_len + 1);
        s->has_token = true;
    }
    s->observers = c.observers;
    if (c.allowed_origin_count) {
        s->origins = calloc(c.allowed_origin_count, sizeof *s->origins);
        if (!s->origins) {
            hermes_server_destroy(s);
            return hermes__fail(HERMES_ENOMEM, "out of memory");
        }
        for (uint32_t i = 0; i < c.allowed_origin_count; i++) {
            const char *o = c.allowed_origins[i];
            size_t n = strlen(o);
            if (n > 1 && o[n - 1] == '/')
                n--;  /* browsers send origins without the slash */
            if (!(s->origins[i] = strndup(o, n))) {
                hermes_server_destroy(s);
                return hermes__fail(HERMES_ENOMEM, "out of memory");
            }
            s->norigins = i + 1;
            if (strcmp(o, "*") == 0)
                s->any_origin = true;
        }
    }
    s->telemetry_hz = hz;
    s->period = (lws_usec_t)llround(1e6 / hz);
    s->sim_config = c.sim_config;
    hermes__strlcpy(s->run_id, hermes_backplane_name(bp), sizeof s->run_id);

    int rc = 0;
    s->schema = build_schema(s);
    if (!s->schema) {
        rc = sfail(s, HERMES_ENOMEM, "out of memory building the schema");
        goto fail;
    }
    if (s->observers && !s->has_token)
        hermes__log(HERMES_LOG_WARN, "server", "event=config_warning note=\"observers has no effect without auth_token: every client has full control\"");
    if (detached) {
        if (s->has_ctl && s->ctl.attach && (rc = s->ctl.attach(s->ctl.ctx, s)) != 0) {
            sfail(s, rc, "control attach failed: %s", hermes_last_error());
            goto fail;
        }
        s->attached = true;
        *out = s;
        return 0;
    }

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    /* One send() per telemetry frame: size tx packets to the largest frame
     * (every signal subscribed), within reason. */
    size_t biggest = HERMES_TELEMETRY_FRAME_SIZE(hermes_backplane_count(bp));
    size_t txp = biggest < 65536 ? 65536 : biggest > (4u << 20) ? (4u << 20) : biggest;
    s->protos[0] = (struct lws_protocols){HERMES_WS_PROTOCOL, callback, sizeof(struct client), 4096, 0, NULL, txp};
    s->protos[1] = (struct lws_protocols){NULL, NULL, 0, 0, 0, NULL, 0};

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    struct in6_addr a6;
    bool v6 = inet_pton(AF_INET6, s->bind_addr, &a6) == 1;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | (v6 ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = s;
    info.protocols = s->protos;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        rc = sfail(s, HERMES_ENOMEM, "libwebsockets context creation failed");
        goto fail;
    }
    info.port = s->port;
    info.iface = s->bind_addr;
    info.vhost_name = "hermes";
    s->vh = lws_create_vhost(s->ctx, &info);
    /* An address or interface that is not up yet still yields a vhost (lws
     * retries later) but no listening socket: treat it as a failure. */
    int lport = s->vh ? lws_get_vhost_listen_port(s->vh) : -1;
    if (!s->vh || lport <= 0) {
        rc = bind_error(s);
        goto fail;
    }
    s->port = (uint16_t)lport;
    s->ctx_alive = true;
    if (!is_loopback(s->bind_addr) && !s->has_token)
        hermes__log(HERMES_LOG_WARN, "server",
                    "event=bind_warning addr=%s port=%u note=\"non-loopback address without auth_token: anyone who can reach it can control the run\"",
                    s->bind_addr, s->port);
    if (s->has_ctl && s->ctl.attach && (rc = s->ctl.attach(s->ctl.ctx, s)) != 0) {
        sfail(s, rc, "control attach failed: %s", hermes_last_error());
        goto fail;
    }
    s->attached = true;
    hermes__log(HERMES_LOG_INFO, "server", "event=listening addr=%s port=%u telemetry_hz=%g run=%s auth=%s observers=%s",
                s->bind_addr, s->port, s->telemetry_hz, s->run_id, s->has_token ? "token" : "none",
                s->has_token && s->observers ? "yes" : "no");
    *out = s;
    return 0;
fail:
    {
        char msg[512];
        hermes__strlcpy(msg, hermes_last_error(), sizeof msg);
        hermes_server_destroy(s);
        return hermes__fail(rc, "%s", msg);
    }
}

HERMES_API int hermes_server_create(hermes_server_t **out, hermes_backplane_t *bp, const hermes_server_config_t *cfg,
                                    const hermes_server_control_t *control)
{
    return create(out, bp, cfg, control, false);
}

int hermes__server_create_detached(hermes_server_t **out, hermes_backplane_t *bp, const hermes_server_config_t *cfg,
                                   const hermes_server_control_t *control)
{
    return create(out, bp, cfg, control, true);
}

HERMES_API int hermes_server_start(hermes_server_t *s)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "server is NULL");
    if (s->detached)
        return sfail(s, HERMES_ESTATE, "a detached server cannot be started");
    if (s->started || s->stopped)
        return sfail(s, HERMES_ESTATE, "the server was already started");
    int e = pthread_create(&s->ctl_thr, NULL, ctl_main, s);
    if (e)
        return sfail(s, HERMES_ESYS, "cannot create the control thread: %s", strerror(e));
    s->ctl_started = true;
    e = pthread_create(&s->svc_thr, NULL, svc_main, s);
    if (e)
        return sfail(s, HERMES_ESYS, "cannot create the service thread: %s", strerror(e));
    s->started = true;
    return 0;
}

HERMES_API int hermes_server_stop(hermes_server_t *s)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "server is NULL");
    pthread_t self = pthread_self();
    if ((s->started && pthread_equal(self, s->svc_thr)) || (s->ctl_started && pthread_equal(self, s->ctl_thr)))
        return sfail(s, HERMES_ESTATE, "hermes_server_stop called from a server thread");
    if (s->stopped)
        return 0;
    s->stopped = true;
    if (s->started) {
        atomic_store(&s->stop_req, 1);
        wake(s);
        pthread_join(s->svc_thr, NULL);
    }
    pthread_mutex_lock(&s->mu_ev);
    s->ctx_alive = false;
    pthread_mutex_unlock(&s->mu_ev);
    if (s->ctl_started) {
        pthread_mutex_lock(&s->mu_job);
        s->ctl_quit = true;
        /* Jobs not started yet are abandoned: their clients are closing. */
        while (s->jq_head) {
            struct job *j = s->jq_head;
            s->jq_head = j->next;
            json_decref(j->id);
            free(j);
        }
        s->jq_tail = NULL;
        pthread_cond_broadcast(&s->cv_job);
        pthread_mutex_unlock(&s->mu_job);
        pthread_join(s->ctl_thr, NULL);
    }
    if (s->attached && s->ctl.detach)
        s->ctl.detach(s->ctl.ctx, s);
    s->attached = false;
    pthread_mutex_lock(&s->mu_ev);
    s->ev_closed = true;
    pthread_mutex_unlock(&s->mu_ev);
    if (s->ctx) {
        lws_context_destroy(s->ctx);  /* CLOSED for every remaining client, on this thread */
        s->ctx = NULL;
    }
    while (s->done_head) {
        struct job *j = s->done_head;
        s->done_head = j->next;
        json_decref(j->id);
        free(j);
    }
    s->done_tail = NULL;
    if (s->started)
        hermes__log(HERMES_LOG_INFO, "server", "event=stopped port=%u connections=%llu frames_sent=%llu frames_dropped=%llu",
                s->port, (unsigned long long)atomic_load(&s->st_conn), (unsigned long long)atomic_load(&s->st_sent),
                (unsigned long long)atomic_load(&s->st_dropped));
    return 0;
}

HERMES_API void hermes_server_destroy(hermes_server_t *s)
{
    if (!s)
        return;
    if (hermes_server_stop(s) != 0)
        return;  /* called from a server thread: refusing beats a self-join */
    while (s->streams) {  /* normally released by CLOSED */
        struct stream *st = s->streams;
        s->streams = st->next;
        hermes_encoder_destroy(st->enc);
        free(st->buf);
        free(st);
    }
    json_decref(s->schema);
    for (uint32_t i = 0; i < s->norigins; i++)
        free(s->origins[i]);
    free(s->origins);
    explicit_bzero(s->token, sizeof s->token);
    pthread_cond_destroy(&s->cv_job);
    pthread_mutex_destroy(&s->mu_job);
    pthread_mutex_destroy(&s->mu_ev);
    free(s);
}

HERMES_API uint16_t hermes_server_port(const hermes_server_t *s) { return s ? s->port : 0; }

HERMES_API const char *hermes_server_run_id(const hermes_server_t *s) { return s ? s->run_id : ""; }

HERMES_API const char *hermes_server_errmsg(const hermes_server_t *s) { return s ? s->errmsg : ""; }

HERMES_API int hermes_server_stats(const hermes_server_t *s, hermes_server_stats_t *out)
{
    if (!s || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_server_stats: NULL argument");
    hermes_server_t *m = (hermes_server_t *)s;
    out->clients = atomic_load_explicit(&m->st_clients, memory_order_relaxed);
    out->connections = atomic_load_explicit(&m->st_conn, memory_order_relaxed);
    out->frames_sent = atomic_load_explicit(&m->st_sent, memory_order_relaxed);
    out->frames_dropped = atomic_load_explicit(&m->st_dropped, memory_order_relaxed);
    out->ticks = atomic_load_explicit(&m->st_ticks, memory_order_relaxed);
    return 0;
}

/* ---- scheduler adapter ------------------------------------------------------ */

/* The scheduler listener may still fire after the server is gone (if detach
 * could not remove it because run() was active), so it points at a relay that
 * is never freed; detach clears the relay's server under `relay_mu`. Relays
 * are reused per scheduler. */
struct relay {
    struct relay       *next;
    hermes_scheduler_t *sched;
    hermes_server_t    *srv;
};
static pthread_mutex_t relay_mu = PTHREAD_MUTEX_INITIALIZER;
static struct relay   *relays;

static void relay_listener(void *ctx, hermes_event_t ev, uint64_t frame, const char *detail)
{
    struct relay *r = ctx;
    pthread_mutex_lock(&relay_mu);
    if (r->srv)
        hermes_server_post_event(r->srv, ev, frame, detail);
    pthread_mutex_unlock(&relay_mu);
}

static int sc_pause(void *c) { return hermes_scheduler_pause(c); }
static int sc_resume(void *c) { return hermes_scheduler_resume(c); }
static int sc_reset(void *c) { return hermes_scheduler_reset(c); }
static int sc_step(void *c, uint64_t n, uint64_t *t) { return hermes_scheduler_step(c, n, t); }
static int sc_set(void *c, hermes_signal_t sig, double v) { return hermes_scheduler_set(c, sig, v); }
static hermes_state_t sc_state(void *c) { return hermes_scheduler_state(c); }

static int sc_attach(void *c, hermes_server_t *srv)
{
    pthread_mutex_lock(&relay_mu);
    struct relay *r = relays;
    while (r && r->sched != c)
        r = r->next;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) {
            pthread_mutex_unlock(&relay_mu);
            return hermes__fail(HERMES_ENOMEM, "out of memory");
        }
        r->sched = c;
        r->next = relays;
        relays = r;
    }
    r->srv = srv;
    pthread_mutex_unlock(&relay_mu);
    int rc = hermes_scheduler_set_listener(c, relay_listener, r);
    if (rc) {
        pthread_mutex_lock(&relay_mu);
        r->srv = NULL;
        pthread_mutex_unlock(&relay_mu);
    }
    return rc;
}

static void sc_detach(void *c, hermes_server_t *srv)
{
    pthread_mutex_lock(&relay_mu);
    for (struct relay *r = relays; r; r = r->next)
        if (r->sched == c && r->srv == srv)
            r->srv = NULL;
    pthread_mutex_unlock(&relay_mu);
    /* Fails while run() is active; the relay above already went quiet. */
    (void)hermes_scheduler_set_listener(c, NULL, NULL);
}

HERMES_API int hermes_server_control_from_scheduler(hermes_scheduler_t *s, hermes_server_control_t *out)
{
    if (!s || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_server_control_from_scheduler: NULL argument");
    hermes_server_control_init(out);
    out->ctx = s;
    out->pause = sc_pause;
    out->resume = sc_resume;
    out->reset = sc_reset;
    out->step = sc_step;
    out->set = sc_set;
    out->state = sc_state;
    out->attach = sc_attach;
    out->detach = sc_detach;
    return 0;
}

/* ---- socket-free command entry (fuzzing) ------------------------------------ */

int hermes__server_fuzz_command(hermes_server_t *s, const void *data, size_t len, bool observer, hermes__reply_fn fn,
                                void *ctx)
{
    if (!s || !s->detached || (!data && len) || len > s->max_message)
        return hermes__fail(HERMES_EINVAL, "hermes__server_fuzz_command: bad argument");
    struct client *c = calloc(1, sizeof *c);
    if (!c)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    client_init(s, c, NULL, observer ? ROLE_OBSERVER : ROLE_CONTROLLER);
    snprintf(c->addr, sizeof c->addr, "fuzz");
    on_message(s, c, len ? data : "", len);
    /* The control thread's part, inline; process_done also runs the backlog. */
    for (;;) {
        pthread_mutex_lock(&s->mu_job);
        struct job *j = s->jq_head;
        if (j) {
            s->jq_head = j->next;
            if (!s->jq_head)
                s->jq_tail = NULL;
        }
        pthread_mutex_unlock(&s->mu_job);
        if (!j)
            break;
        run_job(s, j);
        process_done(s);
    }
    process_events(s);
    int n = 0;
    for (struct txmsg *m = c->tx_head; m; m = m->next, n++)
        if (fn)
            fn(ctx, (const char *)m->buf + LWS_PRE, m->len);
    on_closed(s, c);
    free(c);
    return n;
}
