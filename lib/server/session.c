/* Client sessions: the lws callback and one connection's life (reassembly,
 * bounded reply queues, the latest-frame policy for telemetry, the command
 * rate limit, commands held behind a control call, polite close), shared by
 * every protocol. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/priv.h"

#define TX_MAX_MSGS    256u
#define TX_MAX_BYTES   (1u << 20)
#define BACKLOG_MAX    64u
#define BACKLOG_BYTES  (256u << 10)
#define DROP_LOG_US    (5 * 1000 * 1000)
#define ABUSE_US       (3 * 1000 * 1000)  /* refusals this long without a pause: disconnect */
#define ABUSE_PAUSE_US (1000 * 1000)      /* a pause this long ends an abuse episode */
#define CLOSE_GRACE_US (1000 * 1000)      /* stop: how long clients get to take their close frame */

#define CLIENT_SIZE ((sizeof(struct client) + 15u) & ~(size_t)15u)

size_t hermes__session_size(const struct hermes__protocol *p) { return CLIENT_SIZE + p->session_size; }

/* ---- the session API of server/proto.h ------------------------------------ */

hermes_server_t *hermes__client_server(const struct client *c) { return c->srv; }
void *hermes__client_state(struct client *c) { return (char *)c + CLIENT_SIZE; }
uint64_t hermes__client_id(const struct client *c) { return c->id; }
bool hermes__client_is_controller(const struct client *c) { return c->role == HERMES__ROLE_CONTROLLER; }
const char *hermes__client_role_name(const struct client *c)
{
    return c->role == HERMES__ROLE_CONTROLLER ? "controller" : "observer";
}

void hermes__client_counts(const struct client *c, uint64_t *sent, uint64_t *dropped)
{
    *sent = c->sent;
    *dropped = c->dropped;
}

static void kill_client(struct client *c, const char *why)
{
    hermes__log(HERMES_LOG_WARN, "server", "event=client_dropped id=%llu addr=%s reason=%s",
                (unsigned long long)c->id, c->addr, why);
    c->closing = c->killed = true;
    c->pending = false;
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void queue(struct client *c, const void *data, size_t len, bool binary)
{
    if (c->killed)
        return;
    if (!data) {
        kill_client(c, "out_of_memory");
        return;
    }
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
    m->binary = binary;
    memcpy(m->buf + LWS_PRE, data, len);
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

void hermes__client_send_text(struct client *c, const char *text, size_t len) { queue(c, text, len, false); }

void hermes__client_send_binary(struct client *c, const void *data, size_t len) { queue(c, data, len, true); }

void hermes__client_offer(struct client *c, const struct hermes__frame *f)
{
    if (!f) {
        c->frame = NULL;
        c->pending = false;
        return;
    }
    if (!f->valid || c->closing)
        return;
    if (c->pending)
        hermes__client_count_drop(c);
    c->frame = f;
    c->pending = true;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

void hermes__client_count_drop(struct client *c)
{
    hermes_server_t *s = c->srv;
    c->dropped++;
    atomic_fetch_add_explicit(&s->st_dropped, 1, memory_order_relaxed);
    lws_usec_t now = lws_now_usecs();
    if (now >= c->drop_log_at) {
        hermes__log(HERMES_LOG_WARN, "server", "event=frames_dropped id=%llu addr=%s dropped=%llu new=%llu sent=%llu",
                    (unsigned long long)c->id, c->addr, (unsigned long long)c->dropped,
                    (unsigned long long)(c->dropped - c->dropped_logged), (unsigned long long)c->sent);
        c->dropped_logged = c->dropped;
        c->drop_log_at = now + DROP_LOG_US;
    }
}

void hermes__client_want_write(struct client *c)
{
    if (c->wsi && !c->closing)
        lws_callback_on_writable(c->wsi);
}

void hermes__client_submit(struct client *c, struct hermes__job *j)
{
    j->client_id = c->id;
    c->busy = true;
    hermes__server_submit(c->srv, j);
}

bool hermes__json_too_deep(const char *text, size_t len, uint32_t max)
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
        } else if ((ch == '[' || ch == '{') && ++depth > max) {
            return true;
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return false;
}

const char *hermes__json_kind(const json_t *v)
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

void hermes__server_broadcast(hermes_server_t *s, const struct hermes__protocol *p, const char *text, size_t len)
{
    for (struct client *c = s->clients; c; c = c->next)
        if (c->inited && c->proto == p)
            hermes__client_send_text(c, text, len);
}

struct client *hermes__session_find(hermes_server_t *s, uint64_t id)
{
    for (struct client *c = s->clients; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

/* ---- commands: rate limit and order ---------------------------------------- */

static void refuse_msg(struct client *c, const char *fmt, ...) HERMES_PRINTF(2, 3);
static void refuse_msg(struct client *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->proto->error(c, msg);
}

static void rate_error(struct client *c)
{
    refuse_msg(c, "rate limit: more than %u commands per second; this one was ignored", c->srv->info.cps);
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

/* Token bucket of cps per second, burst cps. A refusal is answered with an
 * error; refusals that keep coming for ABUSE_US with no ABUSE_PAUSE_US break
 * close the connection (1008). Returns whether the message may run. */
static bool rate_take(struct client *c)
{
    uint32_t cps = c->srv->info.cps;
    lws_usec_t now = lws_now_usecs();
    if (now > c->refill_at) {
        c->tokens += (double)(now - c->refill_at) * cps / 1e6;
        if (c->tokens > cps)
            c->tokens = cps;
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
                    (unsigned long long)c->id, c->addr, cps);
        close_client(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "command rate limit exceeded");
    }
    return false;
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

/* Queue behind the control call in flight: a message (@p refused: over the
 * rate limit) or, with @p error, an error text to send in its turn. */
static void backlog_push(struct client *c, const char *text, size_t len, bool binary, bool refused, bool error)
{
    if (c->bl_count >= BACKLOG_MAX || c->bl_bytes + len > BACKLOG_BYTES) {
        refuse_msg(c, "too many commands waiting for the simulation (limit %u); this one was ignored", BACKLOG_MAX);
        return;
    }
    struct backlog *b = malloc(sizeof *b + len + 1);
    if (!b) {
        refuse_msg(c, "out of memory");
        return;
    }
    b->next = NULL;
    b->len = len;
    b->binary = binary;
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
void hermes__session_message(struct client *c, const char *text, size_t len, bool binary)
{
    if (c->closing)
        return;
    bool ok = rate_take(c);
    if (!c->busy) {
        if (ok)
            c->proto->message(c, text, len, binary);
        else
            rate_error(c);
        return;
    }
    backlog_push(c, text, ok ? len : 0, binary, !ok, false);
}

/* An error about a message that is not a command keeps its place too. */
static void reply_error_in_turn(struct client *c, const char *msg)
{
    if (c->busy)
        backlog_push(c, msg, strlen(msg), false, false, true);
    else
        c->proto->error(c, msg);
}

static void run_backlog(struct client *c)
{
    while (!c->busy && c->bl_head) {
        struct backlog *b = c->bl_head;
        c->bl_head = b->next;
        if (!c->bl_head)
            c->bl_tail = NULL;
        c->bl_count--;
        c->bl_bytes -= b->len;
        if (b->refused)
            rate_error(c);
        else if (b->error)
            c->proto->error(c, b->text);
        else
            c->proto->message(c, b->text, b->len, b->binary);
        free(b);
    }
}

void hermes__session_job_done(struct client *c, struct hermes__job *j)
{
    c->busy = false;
    c->proto->done(c, j);
    run_backlog(c);
}

/* A finished control job back to its client, if it is still connected. */
void hermes__session_deliver(hermes_server_t *s, struct hermes__job *j)
{
    struct client *c = hermes__session_find(s, j->client_id);
    if (c && c->inited)
        hermes__session_job_done(c, j);
}

/* ---- life of a connection -------------------------------------------------- */

void hermes__session_init(hermes_server_t *s, struct client *c, struct lws *wsi, const struct hermes__protocol *p,
                          uint8_t role)
{
    memset(c, 0, sizeof *c);
    c->wsi = wsi;
    c->srv = s;
    c->proto = p;
    c->id = ++s->next_id;
    c->inited = true;
    /* ROLE_NONE (no FILTER seen) fails safe: read-only. */
    c->role = role == HERMES__ROLE_CONTROLLER ? HERMES__ROLE_CONTROLLER : HERMES__ROLE_OBSERVER;
    c->tokens = s->info.cps;
    c->refill_at = lws_now_usecs();
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    s->nclients++;
}

static void on_established(hermes_server_t *s, struct client *c, struct lws *wsi, const struct hermes__protocol *p)
{
    hermes__session_init(s, c, wsi, p, c->role);
    hermes__peer_addr(wsi, c->addr, sizeof c->addr);
    atomic_store_explicit(&s->st_clients, s->nclients, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->st_conn, 1, memory_order_relaxed);
    hermes__log(HERMES_LOG_INFO, "server", "event=client_connected id=%llu addr=%s role=%s protocol=%s clients=%u",
                (unsigned long long)c->id, c->addr, hermes__client_role_name(c), p->names[0], s->nclients);
    p->open(c);
    if (s->nclients == 1)
        hermes__telemetry_want(s, true);
}

void hermes__session_closed(struct client *c)
{
    if (!c->inited)
        return;
    hermes_server_t *s = c->srv;
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
    if (s->nclients == 0)
        hermes__telemetry_want(s, false);
    while (c->tx_head) {
        struct txmsg *m = c->tx_head;
        c->tx_head = m->next;
        free(m);
    }
    backlog_free(c);
    free(c->rx);
    c->frame = NULL;
    c->pending = false;
    c->proto->close(c);
    c->inited = false;
    if (s->closing_all && s->nclients == 0)
        s->svc_exit = true;
}

static void on_receive(hermes_server_t *s, struct client *c, struct lws *wsi, const void *in, size_t len)
{
    uint32_t max = s->info.max_message;
    if (lws_is_first_fragment(wsi) && c->rx_total == 0) {
        c->rx_len = 0;
        c->rx_discard = false;
        c->rx_binary = lws_frame_is_binary(wsi) != 0;
    }
    c->rx_total += len;
    bool refuse_binary = c->rx_binary && !c->proto->binary_in;
    if (!c->rx_discard) {
        if (refuse_binary || c->rx_total > max) {
            c->rx_discard = true;  /* refuse without buffering the rest */
            free(c->rx);
            c->rx = NULL;
            c->rx_cap = c->rx_len = 0;
        } else {
            if (c->rx_len + len > c->rx_cap) {
                size_t cap = c->rx_cap ? c->rx_cap : 1024;
                while (cap < c->rx_len + len)
                    cap *= 2;
                if (cap > max)
                    cap = max;
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
    if ((refuse_binary || c->rx_discard) && !c->closing && !rate_take(c)) {
        rate_error(c);
    } else if (c->closing) {
        /* closing (rate abuse or server stop): ignore */
    } else if (refuse_binary) {
        char msg[160];
        snprintf(msg, sizeof msg, "binary messages are not accepted (got %zu bytes); send commands as JSON text", total);
        reply_error_in_turn(c, msg);
    } else if (c->rx_discard) {
        hermes__log(HERMES_LOG_WARN, "server", "event=message_too_large id=%llu bytes=%zu limit=%u",
                    (unsigned long long)c->id, total, max);
        char msg[160];
        snprintf(msg, sizeof msg, "message of %zu bytes exceeds the %u-byte limit; it was ignored", total, max);
        reply_error_in_turn(c, msg);
    } else {
        hermes__session_message(c, (const char *)c->rx, c->rx_len, c->rx_binary);
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
        int n = lws_write(wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        c->tx_head = m->next;
        if (!c->tx_head)
            c->tx_tail = NULL;
        c->tx_count--;
        c->tx_bytes -= m->len;
        free(m);
        if (n < 0)
            return -1;
        if (c->tx_head || c->pending || c->closing || c->proto->next_frame)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->closing) {
        const char *why = c->close_code ? c->close_why : "server stopping";
        lws_close_reason(wsi, c->close_code ? (enum lws_close_status)c->close_code : LWS_CLOSE_STATUS_GOINGAWAY,
                         (unsigned char *)(uintptr_t)why, strlen(why));
        return -1;
    }
    const struct hermes__frame *f = NULL;
    if (c->pending && c->frame && c->frame->valid) {
        c->pending = false;
        f = c->frame;
    } else if (c->proto->next_frame) {
        f = c->proto->next_frame(c);
    }
    if (f && f->valid) {
        if (lws_write(wsi, f->buf, f->len, LWS_WRITE_BINARY) < 0)
            return -1;
        c->sent++;
        atomic_fetch_add_explicit(&s->st_sent, 1, memory_order_relaxed);
        if (c->proto->next_frame)  /* it may hold more */
            lws_callback_on_writable(wsi);
    }
    return 0;
}

static void grace_cb(lws_sorted_usec_list_t *sul)
{
    hermes_server_t *s = lws_container_of(sul, hermes_server_t, grace_sul);
    if (s->nclients == 0 || lws_now_usecs() >= s->close_deadline)
        s->svc_exit = true;
    else
        lws_sul_schedule(s->ctx, 0, &s->grace_sul, grace_cb, 20 * 1000);
}

void hermes__session_close_all(hermes_server_t *s)
{
    if (s->closing_all)
        return;
    s->closing_all = true;
    hermes__telemetry_want(s, false);
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

int hermes__session_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    hermes_server_t *s = ctx ? lws_context_user(ctx) : NULL;
    struct client *c = user;
    if (!s)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return hermes__access_confirm_upgrade(s, wsi);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        uint8_t role = HERMES__ROLE_NONE;
        if (hermes__access_filter(s, wsi, &role))
            return 1;
        if (c)
            c->role = role;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        const struct lws_protocols *lp = lws_get_protocol(wsi);
        if (s->closing_all || !c || !lp || !lp->user)
            return -1;
        on_established(s, c, wsi, lp->user);
        return 0;
    }
    case LWS_CALLBACK_CLOSED:
        if (c)
            hermes__session_closed(c);
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
    case LWS_CALLBACK_HTTP:
        if (!c)
            return -1;
        return hermes__http_request(s, c, wsi, in);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!c)
            return -1;
        return hermes__http_writeable(s, c, wsi);
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        hermes__telemetry_tick(s);
        hermes__server_process_events(s);
        hermes__server_process_done(s, hermes__session_deliver);
        if (atomic_load(&s->stop_req))
            hermes__session_close_all(s);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
