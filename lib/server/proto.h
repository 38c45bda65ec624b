/* The protocol seam: what a WebSocket subprotocol (a file such as
 * server/hermes.c) implements and what the shared session layer offers it.
 * Transport, sessions, access control, limits, the command rate limit and the
 * slow-client latest-frame policy belong to the shared layer and apply to every
 * protocol; a protocol only turns messages into replies, control jobs and
 * telemetry frames. Private; never installed. */
#ifndef HERMES_LIB_SERVER_PROTO_H
#define HERMES_LIB_SERVER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hermes/server.h"
#include "server/source.h"

struct client;  /* one WebSocket session (server/session.c) */

/* A state event as posted by the host (hermes_server_post_event). */
struct hermes__event {
    hermes_event_t event;
    uint64_t       frame;
    char           detail[256];
};

/* A control call, run on the control thread; its result comes back to the
 * protocol's done() on the service thread, in the order of the session's
 * messages (the shared layer holds later messages until then). */
enum hermes__job_kind { HERMES__JOB_PAUSE, HERMES__JOB_RESUME, HERMES__JOB_RESET, HERMES__JOB_STEP, HERMES__JOB_SET,
                        HERMES__JOB_SEEK, HERMES__JOB_CHECKPOINT };
struct hermes__job {
    struct hermes__job   *next;
    enum hermes__job_kind kind;
    uint64_t              client_id;
    json_t               *id;       /* the protocol's correlation id (owned; freed with the job) */
    uint64_t              count;    /* STEP: frames; SEEK: target frame */
    hermes_signal_t       sig;      /* SET */
    double                value;    /* SET */
    char                  signal[HERMES_MAX_NAME + 1];  /* SET; CHECKPOINT: the file's name (result) */
    /* results */
    int                   rc;
    uint64_t              target;   /* STEP: frame shown when done */
    hermes_state_t        state;    /* after the call */
    char                  msg[512]; /* rc != 0: why */
};

/* One telemetry frame to offer a session: LWS_PRE bytes of headroom before
 * buf. `valid` false means "nothing to send" (the last encode failed). */
struct hermes__frame {
    unsigned char *buf;
    size_t         len;
    bool           valid;
};

/* One protocol: one table entry in server.c's hermes__protocols[]. */
struct hermes__protocol {
    const char *const *names;       /* subprotocol names (NULL-terminated); protocols[0] also serves
                                       clients that name none */
    bool   binary_in;               /* accepts binary client messages (else the shared layer refuses them) */
    size_t session_size;            /* bytes of per-session state, zeroed: hermes__client_state() */
    /* per server (optional): create/free the protocol's shared state, hermes__server_proto_data() */
    int  (*init)(hermes_server_t *s, void **data);
    void (*fini)(hermes_server_t *s, void *data);
    void (*open)(struct client *c);                                   /* greeting */
    void (*message)(struct client *c, const char *data, size_t len, bool binary);
    void (*close)(struct client *c);                                  /* free session state */
    void (*tick)(struct client *c, uint64_t tick);                    /* offer telemetry (optional) */
    void (*event)(hermes_server_t *s, const struct hermes__protocol *p, const struct hermes__event *ev);
    void (*done)(struct client *c, struct hermes__job *j);            /* a control job finished */
    void (*error)(struct client *c, const char *msg);                 /* a refusal by the shared layer */
    /* Optional, for a protocol with several binary messages per session and
     * tick (one per subscription): it keeps its own latest-message slots
     * (hermes__client_count_drop() for each one replaced unsent) and hands
     * them out here, one per write, when no text is queued and no offer is
     * pending; NULL when it has nothing. Called just before the write, so it
     * may patch per-session bytes into a shared buffer; the frame must stay
     * valid until the next call or close. */
    const struct hermes__frame *(*next_frame)(struct client *c);
};

/* Settings a protocol reads (fixed at create). */
struct hermes__server_info {
    double      telemetry_hz;
    uint32_t    max_message, max_patterns, max_depth, cps;
    bool        has_control;    /* a control table was given */
    const hermes_server_control_t *control;
    const hermes_server_source_t  *source;
    const struct hermes__catalog  *catalog;
    const char *run_id;
};
const struct hermes__server_info *hermes__server_info(const hermes_server_t *s);
void    *hermes__server_proto_data(const hermes_server_t *s, const struct hermes__protocol *p);
uint32_t hermes__server_clients(const hermes_server_t *s);
/* State name from control->state, or "unknown". */
const char *hermes__server_state_name(const hermes_server_t *s);

/* ---- the session, for its protocol (service thread) ---- */
hermes_server_t *hermes__client_server(const struct client *c);
void           *hermes__client_state(struct client *c);
uint64_t        hermes__client_id(const struct client *c);
bool            hermes__client_is_controller(const struct client *c);
const char     *hermes__client_role_name(const struct client *c);
void            hermes__client_counts(const struct client *c, uint64_t *sent, uint64_t *dropped);
/* Queue a message, in order with the session's other queued messages
 * (bounded: over the limit the client is dropped; NULL text: out of memory,
 * the client is dropped). Telemetry goes through hermes__client_offer(). */
void hermes__client_send_text(struct client *c, const char *text, size_t len);
void hermes__client_send_binary(struct client *c, const void *data, size_t len);
/* Offer @p f as the session's next frame (latest-frame policy: an unsent
 * previous frame is dropped and counted); NULL withdraws the offer, which a
 * protocol must do before freeing the frame it offered. */
void hermes__client_offer(struct client *c, const struct hermes__frame *f);
/* For protocols with next_frame: ask for a write soon; count one message
 * replaced before it could be sent (stats and the frames_dropped log line). */
void hermes__client_want_write(struct client *c);
void hermes__client_count_drop(struct client *c);
/* Run @p j on the control thread; its result goes to the protocol's done(). */
void hermes__client_submit(struct client *c, struct hermes__job *j);
/* Queue @p text (owned copy) to every session of protocol @p p. */
void hermes__server_broadcast(hermes_server_t *s, const struct hermes__protocol *p, const char *text, size_t len);
struct hermes__job *hermes__job_new(enum hermes__job_kind kind, json_t *id);
/* Whether JSON @p text nests '[' / '{' deeper than @p max (outside strings).
 * Protocols run it before parsing, so a deep message costs one linear scan,
 * not a deep tree. Pure; any thread. */
bool hermes__json_too_deep(const char *text, size_t len, uint32_t max);
/* What @p v is, for error messages: "an object", "a string", "null", ... */
const char *hermes__json_kind(const json_t *v);

/* ---- shared telemetry streams (server/telemetry.c) ---- */
/* Sessions subscribed to the same signals share one stream, encoded once per tick. */
struct hermes__stream;
/* Share or open the stream of @p n indices. NULL: out of memory or a source error (message set). */
struct hermes__stream *hermes__stream_get(hermes_server_t *s, const uint32_t *idx, uint32_t n);
void hermes__stream_release(hermes_server_t *s, struct hermes__stream *st);
/* The frame of @p tick, encoded on the first call for that tick. */
const struct hermes__frame *hermes__stream_frame(hermes_server_t *s, struct hermes__stream *st, uint64_t tick);
uint32_t hermes__stream_count(const struct hermes__stream *st);

/* The protocols. */
extern const struct hermes__protocol hermes__protocol_hermes;  /* server/hermes.c */
extern const struct hermes__protocol hermes__protocol_foxglove;  /* server/foxglove/foxglove.c */
/* The hermes protocol's schema message (server/schema.c), without the
 * per-client keys (client_id, role, state, frame). NULL: out of memory. */
char *hermes__schema_text(const hermes_server_t *s, size_t *len);  /* malloc'd, NUL-terminated */

#endif
