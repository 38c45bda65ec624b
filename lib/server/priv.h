/* The server's shared private state: the server and session structs, grouped
 * by the thread that owns each field, and the calls between the server's own
 * files (lifecycle, sessions, HTTP route, access, telemetry). Protocols do not
 * include it: they see server/proto.h. Private; never installed. */
#ifndef HERMES_LIB_SERVER_PRIV_H
#define HERMES_LIB_SERVER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "hermes/server.h"
#include "server/proto.h"
#include "server/source.h"
#include "common/util.h"

#define HERMES__EV_RING 64u
#define HERMES__MAX_LWS_PROTOCOLS 8u  /* subprotocol names over every protocol, plus the terminator */

enum hermes__role { HERMES__ROLE_NONE = 0, HERMES__ROLE_OBSERVER = 1, HERMES__ROLE_CONTROLLER = 2 };

struct txmsg {
    struct txmsg *next;
    size_t        len;
    bool          binary;
    unsigned char buf[];  /* LWS_PRE + len */
};

struct backlog {
    struct backlog *next;
    size_t          len;
    bool            refused;  /* over the rate limit: answered with an error in turn */
    bool            error;    /* text is an error to send in turn (binary or oversized message) */
    bool            binary;
    char            text[];
};

/* One connection (lws per-session memory, zeroed by lws; the protocol's own
 * state follows it, hermes__client_state()). Service thread only. */
struct client {
    struct client *prev, *next;
    struct lws    *wsi;
    hermes_server_t *srv;
    const struct hermes__protocol *proto;
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
    /* telemetry: the latest frame offered, not yet sent */
    const struct hermes__frame *frame;
    bool           pending;
    uint64_t       sent, dropped, dropped_logged;
    lws_usec_t     drop_log_at;
    /* HTTP route (connections that never upgrade): the body being sent */
    const unsigned char *http_data;
    size_t         http_len, http_off;
    /* commands waiting behind a control call */
    bool            busy;
    struct backlog *bl_head, *bl_tail;
    size_t          bl_count, bl_bytes;
};

struct hermes_server {
    /* fixed at create */
    hermes_server_source_t  src;
    struct hermes__live_source live;   /* src.ctx when created over a backplane */
    struct hermes__catalog  cat;
    hermes_server_control_t ctl;
    void                   *ctl_data;  /* the control adapter's (hermes__server_control_data) */
    bool                    has_ctl, attached, detached;
    char                    bind_addr[128];
    uint16_t                port;
    uint32_t                max_clients;
    char                    token[HERMES_SERVER_TOKEN_MAX + 1];
    size_t                  token_len;
    bool                    has_token, observers, any_origin, viewer_disabled;
    char                  **origins;
    uint32_t                norigins;
    char                    run_id[72];
    /* errmsg: written under mu_err by every failing call (post_event and
     * stats fail from any thread); hermes_server_errmsg() copies it into
     * errmsg_out under the same lock for the one thread that reads it. */
    pthread_mutex_t         mu_err;
    char                    errmsg[512];
    char                    errmsg_out[512];
    struct hermes__server_info info;
    void                   *proto_data[HERMES__MAX_LWS_PROTOCOLS];
    const struct hermes__protocol *proto_of[HERMES__MAX_LWS_PROTOCOLS];  /* the table, NULL-ended (jobs.c) */
    char                  (*etags)[24];   /* per built-in asset */

    struct lws_context  *ctx;
    struct lws_vhost    *vh;
    struct lws_protocols protos[HERMES__MAX_LWS_PROTOCOLS];
    pthread_t            svc_thr, ctl_thr;
    bool                 started, stopped, ctl_started;
    _Atomic int          stop_req;

    /* service thread only */
    struct client         *clients;
    uint32_t               nclients;
    uint64_t               next_id;
    struct hermes__stream *streams;
    lws_sorted_usec_list_t grace_sul;
    lws_usec_t             period;
    uint64_t               tick;
    bool                   closing_all, svc_exit;
    lws_usec_t             close_deadline;

    /* events: any thread -> service thread */
    pthread_mutex_t      mu_ev;
    bool                 ctx_alive, ev_closed;
    struct hermes__event ring[HERMES__EV_RING];
    unsigned             ev_head, ev_len;
    uint64_t             ev_lost;

    /* control jobs: service thread <-> control thread */
    pthread_mutex_t     mu_job;
    pthread_cond_t      cv_job;
    struct hermes__job *jq_head, *jq_tail, *done_head, *done_tail;
    bool                ctl_quit;

    /* ticker thread <-> service thread (telemetry.c) */
    pthread_t       tick_thr;
    pthread_mutex_t mu_tick;
    pthread_cond_t  cv_tick;   /* CLOCK_MONOTONIC */
    bool            tick_want, tick_quit, ticker_inited, ticker_started;
    _Atomic int     tick_due;

    _Atomic uint64_t st_conn, st_sent, st_dropped, st_ticks;
    _Atomic uint32_t st_clients;
};

/* The protocol table (server.c); [0] is the default. */
extern const struct hermes__protocol *const hermes__protocols[];
extern const size_t hermes__protocol_count;

/* jobs.c: below the lifecycle, the protocols and the sessions */
int  hermes__server_fail(hermes_server_t *s, int code, const char *fmt, ...) HERMES_PRINTF(3, 4);
void hermes__server_wake(hermes_server_t *s);
void hermes__server_process_events(hermes_server_t *s);
/* Hand each finished job to @p deliver (service thread), then free it. */
void hermes__server_process_done(hermes_server_t *s, void (*deliver)(hermes_server_t *s, struct hermes__job *j));
void hermes__job_list_free(struct hermes__job **head, struct hermes__job **tail);
/* Control jobs: queue one for the control thread; take the next (waiting
 * for one with @p wait, NULL once the server stops); run one. */
void hermes__server_submit(hermes_server_t *s, struct hermes__job *j);
struct hermes__job *hermes__server_next_job(hermes_server_t *s, bool wait);
void hermes__server_run_job(hermes_server_t *s, struct hermes__job *j);

/* server/session.c: the lws callback and one client's life */
int  hermes__session_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
size_t hermes__session_size(const struct hermes__protocol *p);
void hermes__session_init(hermes_server_t *s, struct client *c, struct lws *wsi, const struct hermes__protocol *p,
                          uint8_t role);
void hermes__session_message(struct client *c, const char *text, size_t len, bool binary);
void hermes__session_closed(struct client *c);
void hermes__session_job_done(struct client *c, struct hermes__job *j);
/* hermes__session_job_done() for the job's client, if it is still connected. */
void hermes__session_deliver(hermes_server_t *s, struct hermes__job *j);
void hermes__session_close_all(hermes_server_t *s);
struct client *hermes__session_find(hermes_server_t *s, uint64_t id);

/* server/handshake.c: the handshake */
enum hermes__verdict { HERMES__V_CONTROLLER, HERMES__V_OBSERVER, HERMES__V_BAD_ORIGIN, HERMES__V_UNAUTHORIZED };
enum hermes__verdict hermes__access_verdict(const hermes_server_t *s, struct lws *wsi);
/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: >0 refused with an HTTP status, 0 go on. */
int  hermes__access_confirm_upgrade(hermes_server_t *s, struct lws *wsi);
/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: 0 and *role, or 1 refused. */
int  hermes__access_filter(hermes_server_t *s, struct lws *wsi, uint8_t *role);
/* An HTTP refusal: status and a plain reason in the body (>0, or -1 to hang up). */
int  hermes__access_refuse(struct lws *wsi, unsigned code, const char *reason, const char *why);
/* The refusal of verdict @p v (as above), or 0 when it admits. */
int  hermes__access_refuse_verdict(struct lws *wsi, enum hermes__verdict v);
void hermes__peer_addr(struct lws *wsi, char *buf, size_t cap);

/* server/http.c: the static page route */
int  hermes__http_init(hermes_server_t *s);
int  hermes__http_request(hermes_server_t *s, struct client *c, struct lws *wsi, const char *uri);
int  hermes__http_writeable(hermes_server_t *s, struct client *c, struct lws *wsi);

/* server/telemetry.c: the tick */
/* The ticker thread (start: an errno value or 0; stop joins it; destroy
 * frees its mutex and condition). want: a client is connected or not
 * (service thread). tick: run the tick if the ticker marked one due
 * (service thread, EVENT_WAIT_CANCELLED; idempotent). */
int  hermes__ticker_start(hermes_server_t *s);
void hermes__ticker_stop(hermes_server_t *s);
void hermes__ticker_destroy(hermes_server_t *s);
void hermes__telemetry_want(hermes_server_t *s, bool want);
void hermes__telemetry_tick(hermes_server_t *s);
void hermes__telemetry_free_streams(hermes_server_t *s);

#endif
