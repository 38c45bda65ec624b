/** @file server.h  WebSocket server streaming backplane signals to clients.
 *
 * The server publishes one run over WebSocket (protocol "hermes", also
 * selected by clients that name no subprotocol): a JSON schema on connect,
 * JSON commands and acks, state events broadcast to every client, and binary
 * telemetry frames (see encoder.h) at a fixed telemetry rate, per-client
 * subscriptions. docs/protocol.md is the complete protocol. The same port
 * serves the built-in pages over plain HTTP (GET/HEAD; see viewer_disabled)
 * and speaks the Foxglove WebSocket protocol (subprotocols
 * "foxglove.websocket.v1" and "foxglove.sdk.v1", docs/foxglove.md) under the
 * same access rules.
 *
 * What it publishes comes from a telemetry source: a backplane
 * (hermes_server_create()) or any hermes_server_source_t
 * (hermes_server_create_source(), e.g. a recording played back).
 *
 * Commands that change the run (pause, resume, reset, step, set, seek) go through a
 * control table, so any host can serve its own loop; the scheduler provides
 * one through hermes_server_control_from_scheduler(). State events come from
 * the host through hermes_server_post_event() (the scheduler adapter installs
 * the scheduler listener to do it).
 *
 * Slow clients: each client holds at most one unsent telemetry frame. When a
 * new frame is due while the previous one is still unsent, the stale one is
 * dropped and counted (the "stats" command reports it; a log line says so), so
 * a client that stops reading never delays others or grows server memory.
 * JSON replies to one client are capped (256 messages / 1 MiB unsent); a
 * client that overflows them is disconnected at once (no close frame) and
 * logged (event=client_dropped reason=reply_queue_overflow).
 *
 * Threading: the server runs its own service thread (all socket I/O, the
 * telemetry tick and encoding), one control thread that calls the control
 * table, so a control call that waits for a frame boundary never stalls
 * telemetry, and a ticker thread that only wakes the service thread at each
 * tick deadline. The tick runs only while a client is connected: with no
 * client the server's threads sleep (no periodic wakeup at all). Use a handle from one thread at a time, except
 * hermes_server_post_event(), hermes_server_stats(), hermes_server_port() and
 * hermes_server_stop(), safe from any thread.
 * hermes_server_post_event() never blocks on the network (a short mutex, no
 * I/O under it). Control callbacks run on the control thread and must not
 * call hermes_server_stop() or destroy the server.
 * Side effect: creating a server makes libwebsockets ignore SIGPIPE
 * process-wide (signal(SIGPIPE, SIG_IGN)), and sets the process-global
 * libwebsockets log level, routing its errors to the Hermes log hook. */
#ifndef HERMES_SERVER_H
#define HERMES_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "common.h"
#include "error.h"
#include "backplane.h"
#include "config.h"
#include "scheduler.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hermes_server hermes_server_t;

/** Version of the JSON protocol, sent as "protocol" in the schema. */
#define HERMES_PROTOCOL_VERSION 1
/** WebSocket subprotocol name. */
#define HERMES_WS_PROTOCOL "hermes"
/** Default largest accepted client message. */
#define HERMES_SERVER_DEFAULT_MAX_MESSAGE 65536u
/** Default connection limit. */
#define HERMES_SERVER_DEFAULT_MAX_CLIENTS 1024u
/** Default commands (client messages) per second per client; also the burst size. */
#define HERMES_SERVER_DEFAULT_COMMANDS_PER_SECOND 1000u
/** Default largest number of patterns in one subscribe. */
#define HERMES_SERVER_DEFAULT_MAX_PATTERNS 1024u
/** Default deepest JSON nesting ('[' and '{') accepted in a client message. */
#define HERMES_SERVER_DEFAULT_MAX_JSON_DEPTH 16u
/** Token length bounds; tokens use only A-Z a-z 0-9 - . _ ~ (safe in headers and URLs). */
#define HERMES_SERVER_TOKEN_MIN 16u
#define HERMES_SERVER_TOKEN_MAX 256u

/**
 * Control table: how the server acts on the run. Each callback returns 0 or a
 * negative HERMES_E* code (a message left in hermes_last_error() by the callee
 * is forwarded to the client). NULL callbacks answer the command with an error.
 * All callbacks run on the server's control thread, one at a time; they may
 * block (for example until the next frame boundary).
 */
typedef struct hermes_server_control {
    uint32_t size;  /**< stamped by hermes_server_control_init() */
    void    *ctx;   /**< first argument of every callback */
    int (*pause)(void *ctx);
    int (*resume)(void *ctx);
    int (*reset)(void *ctx);
    /** Advance @p count >= 1 frames; only while paused (HERMES_ESTATE otherwise).
     *  @p target_frame: frame number shown once the steps are done. */
    int (*step)(void *ctx, uint64_t count, uint64_t *target_frame);
    /** Write a writable signal at the next frame boundary (already checked
     *  by the server: known, writable, not a wire's destination, value fits
     *  the type). */
    int (*set)(void *ctx, hermes_signal_t sig, double value);
    /** Current state (schema, acks); NULL: "unknown" in the schema, no state in acks. */
    hermes_state_t (*state)(void *ctx);
    /** Optional: called by hermes_server_create*() (from the creating thread) so
     *  the host can route its state events to hermes_server_post_event(). */
    int (*attach)(void *ctx, hermes_server_t *srv);
    /** Optional: called once when the server stops; after it returns, the host
     *  must not call hermes_server_post_event() any more. */
    void (*detach)(void *ctx, hermes_server_t *srv);
    /* since 0.3 */
    /** Optional: show frame @p frame next (a recording played back). The
     *  protocol's {"action":"seek","params":{"time":T}} is converted to
     *  frame = round(T * rate_hz) with the rate of hermes_server_source_t
     *  execution (or the sim_config's); NULL: the command answers
     *  "seek is not supported by this run" (a live run). Return
     *  HERMES_ERANGE for a frame outside the run. */
    int (*seek)(void *ctx, uint64_t frame);
    /* since 0.4 */
    /** Optional: write a checkpoint at the next frame boundary into the
     *  host's checkpoint folder under a name the host generates (never one
     *  the client chose) and copy that name to @p name (docs/checkpoints.md);
     *  NULL: the command answers "this run does not take checkpoints". */
    int (*checkpoint)(void *ctx, char *name, size_t cap);
} hermes_server_control_t;

static inline void hermes_server_control_init(hermes_server_control_t *c)
{
    memset(c, 0, sizeof *c);
    c->size = (uint32_t)sizeof *c;
}

/** Server options. Zero or NULL means the default. Strings are copied. */
typedef struct hermes_server_config {
    uint32_t    size;              /**< stamped by hermes_server_config_init() */
    const char *bind_addr;         /**< NULL: "127.0.0.1". IPv4/IPv6 literal, "localhost" or an interface name;
                                        a non-loopback address without auth_token is logged as a warning. */
    uint16_t    port;              /**< 0: any free port; read it with hermes_server_port() */
    uint32_t    max_clients;       /**< 0: HERMES_SERVER_DEFAULT_MAX_CLIENTS; more are refused at the handshake */
    double      telemetry_hz;      /**< 0: 60; the tick rate of telemetry frames, (0, 1000] */
    uint32_t    max_message;       /**< 0: HERMES_SERVER_DEFAULT_MAX_MESSAGE bytes per client message */
    const hermes_config_t *sim_config; /**< optional: wiring, mode and rate_hz for the schema; must outlive the server */
    /* since 0.2: access control and limits (docs/protocol.md, "Access control and limits") */
    const char *auth_token;        /**< NULL or "": no authentication. Otherwise HERMES_SERVER_TOKEN_MIN..MAX
                                        characters of A-Z a-z 0-9 - . _ ~ that a client must present at the
                                        handshake ("Authorization: Bearer T" or "?token=T"), else HTTP 401.
                                        Copied; never logged. */
    bool        observers;         /**< with auth_token: clients presenting no token connect read-only
                                        (schema, subscribe, unsubscribe, stats, telemetry) */
    const char *const *allowed_origins; /**< browser origins ("https://host:port", "*" = any) allowed besides
                                        the server's own host:port; copied */
    uint32_t    allowed_origin_count;
    uint32_t    commands_per_second; /**< 0: HERMES_SERVER_DEFAULT_COMMANDS_PER_SECOND, per client */
    uint32_t    max_patterns;      /**< 0: HERMES_SERVER_DEFAULT_MAX_PATTERNS per subscribe */
    uint32_t    max_json_depth;    /**< 0: HERMES_SERVER_DEFAULT_MAX_JSON_DEPTH; at least 3 */
    /* since 0.3 */
    bool        viewer_disabled;   /**< true: serve no built-in pages; every HTTP GET answers 404
                                        (WebSocket upgrades are unaffected) */
} hermes_server_config_t;

static inline void hermes_server_config_init(hermes_server_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = (uint32_t)sizeof *cfg;
}

/** Per-server counters (see hermes_server_stats()). */
typedef struct hermes_server_stats {
    uint32_t clients;           /**< connected now */
    uint64_t connections;       /**< accepted since create */
    uint64_t frames_sent;       /**< telemetry frames written, all clients (Foxglove: every binary message) */
    uint64_t frames_dropped;    /**< stale frames replaced before they could be sent (Foxglove: per subscription) */
    uint64_t ticks;             /**< telemetry ticks (they run only while a client is connected) */
} hermes_server_stats_t;

/**
 * Telemetry source: where a server reads its signals, telemetry frames and
 * frame number. hermes_server_create() makes one over a live backplane; a
 * host that publishes something else (a recording played back, a remote
 * feed) fills this table and calls hermes_server_create_source(). Control
 * (pause, resume, step, seek, state) stays in hermes_server_control_t.
 *
 * The signal set is read once, by hermes_server_create_source(), and must not
 * change afterwards; strings it returns (names, units, module names, wire
 * ends) must stay valid as long as the server.
 * Threading: create calls the catalog callbacks (signal_count, signal_info,
 * module_*, wire*, execution) from the creating thread; after start every
 * callback runs on the server's service thread, one at a time.
 * stream_encode runs once per telemetry tick for each distinct subscription:
 * it must not block.
 * @since 0.3
 */
typedef struct hermes_server_source {
    uint32_t    size;    /**< stamped by hermes_server_source_init() */
    void       *ctx;     /**< first argument of every callback; must outlive the server */
    const char *run_id;  /**< sent in the schema; copied; NULL: "" */
    /** Number of signals (indices 0..count-1). @nonnull */
    uint32_t (*signal_count)(void *ctx);
    /** Describe signal @p index: name ("module.signal"), module, local_name,
     *  unit ("" when none), type, writable, and id (handed back to
     *  control->set). @return 0 or a negative code. @nonnull */
    int (*signal_info)(void *ctx, uint32_t index, hermes_signal_info_t *out);
    /** Optional pair: the modules in schema order, a module without signals
     *  included. NULL: the modules of the signals, in order of first appearance. */
    uint32_t (*module_count)(void *ctx);
    const char *(*module_name)(void *ctx, uint32_t i);
    /** Open a reader of @p n signals (@p indices in payload order, each
     *  < count; copied). @return 0 with *stream set, or a negative code. @nonnull */
    int (*stream_open)(void *ctx, const uint32_t *indices, uint32_t n, void **stream);
    /** Write the current frame of @p stream into @p buf as one telemetry frame
     *  of encoder.h (header + n values; @p cap is HERMES_TELEMETRY_FRAME_SIZE(n),
     *  any alignment). Values, frame number and time must belong to one frame.
     *  @return 0, or a negative code: nothing is sent this tick. @nonnull */
    int (*stream_encode)(void *ctx, void *stream, void *buf, size_t cap);
    /** Close a reader. @nonnull */
    void (*stream_close)(void *ctx, void *stream);
    /** Frame number shown now (schema "frame", reset ack). @nonnull */
    uint64_t (*frame)(void *ctx);
    /** Optional pair: the wires, for the schema's "wiring" and the rule that a
     *  wire's destination cannot be set (docs/protocol.md, "set"). */
    uint32_t (*wire_count)(void *ctx);
    int (*wire)(void *ctx, uint32_t i, hermes_wire_info_t *out);
    /** Optional: rate_hz, mode and end_time for the schema; rate_hz also turns
     *  a seek's time into a frame. @return 0 or a negative code (omitted). */
    int (*execution)(void *ctx, hermes_execution_t *out);
    /* since 0.4 */
    /** Optional: the rate of module @p module (rate_hz, divisor, offset, dt;
     *  see hermes_config_set_module_rate()) for the schema's modules and the
     *  Foxglove metadata. @return 0 or a negative code (omitted). */
    int (*module_rate)(void *ctx, const char *module, hermes_module_rate_t *out);
} hermes_server_source_t;

static inline void hermes_server_source_init(hermes_server_source_t *src)
{
    memset(src, 0, sizeof *src);
    src->size = (uint32_t)sizeof *src;
}

/**
 * Create a server publishing @p bp and bind its listening socket (so the port
 * is known at once). Does not start it. If @p control has attach, it is called
 * last; if it fails, create fails (and detach is not called).
 * @param[out] out      new server, or NULL on failure  @nonnull
 * @param[in]  bp       backplane to publish; must outlive the server  @nonnull
 * @param[in]  cfg      see hermes_server_config_init()  @nonnull
 * @param[in]  control  copied; NULL: a read-only server (subscribe and stats only)
 * @return 0, HERMES_EINVAL (bad option such as a malformed auth_token or origin, config not initialised),
 *         HERMES_EADDRINUSE (port taken), HERMES_ENET (cannot bind that address),
 *         HERMES_ENOMEM, or the code returned by control->attach.
 * @since 0.1
 * Context: any thread.
 */
HERMES_API int hermes_server_create(hermes_server_t **out, hermes_backplane_t *bp,
                                    const hermes_server_config_t *cfg,
                                    const hermes_server_control_t *control);

/**
 * Create a server publishing a custom telemetry source (see
 * hermes_server_source_t); everything else as hermes_server_create().
 * cfg->sim_config is not used: wires and execution come from the source.
 * @param[in] src  copied (the table; src->ctx must outlive the server)  @nonnull
 * @return as hermes_server_create(); also HERMES_EINVAL for a table without
 *         size or a required callback, or the code a catalog callback returned.
 * @since 0.3
 * Context: any thread.
 */
HERMES_API int hermes_server_create_source(hermes_server_t **out, const hermes_server_source_t *src,
                                           const hermes_server_config_t *cfg,
                                           const hermes_server_control_t *control);

/**
 * Start the service, control and ticker threads.
 * @return 0, HERMES_ESTATE (already started or stopped), HERMES_ESYS (thread creation failed).
 */
HERMES_API int hermes_server_start(hermes_server_t *srv);

/**
 * Stop: deliver events already posted, send every client a close frame with
 * code 1001 ("going away") and wait up to about one second for the closes,
 * join the threads and release all connections. Calls control->detach. May be
 * called twice, and on a server that was never started.
 * @return 0, HERMES_EINVAL (NULL), HERMES_ESTATE (called from a server callback).
 * Context: any thread except the server's own (control callbacks).
 */
HERMES_API int hermes_server_stop(hermes_server_t *srv);

/** Stop if needed, then free everything. NULL is fine. Context: as hermes_server_stop(). */
HERMES_API void hermes_server_destroy(hermes_server_t *srv);

/** Port actually bound (useful with port 0). */
HERMES_API uint16_t hermes_server_port(const hermes_server_t *srv);

/** Run id sent in the schema (the backplane's run name; borrowed, lives with @p srv). */
HERMES_API const char *hermes_server_run_id(const hermes_server_t *srv);

/**
 * Broadcast a state event to every client ({"type":"event","event":...}).
 * @p detail (optional) is the error text of HERMES_EVENT_ERROR. Copied.
 * @return 0, HERMES_EINVAL (NULL server, HERMES_EVENT_NONE), HERMES_ESTATE
 *         (server stopped; nothing sent). The ring holds 64 events; when the
 *         service thread falls behind, the oldest are dropped (logged).
 * Context: any thread, including the scheduler listener; never blocks on I/O.
 */
HERMES_API int hermes_server_post_event(hermes_server_t *srv, hermes_event_t event, uint64_t frame,
                                        const char *detail);

/** Snapshot of the counters. @return 0 or HERMES_EINVAL (NULL argument). Context: any thread. */
HERMES_API int hermes_server_stats(const hermes_server_t *srv, hermes_server_stats_t *out);

/** Explanation of the last failed call on @p srv: start, stop, post_event,
 *  stats (a failed create leaves no handle: see hermes_last_error()).
 *  Borrowed; valid until the next call on @p srv. Never NULL. A copy taken
 *  under the server's lock, so post_event and stats failing on other threads
 *  never tear it (it may then already name their failure). */
HERMES_API const char *hermes_server_errmsg(const hermes_server_t *srv);

/**
 * Fill @p out with a control table driving scheduler @p s: pause, resume,
 * reset, step, set and state map to the scheduler calls, and attach installs
 * the scheduler's listener (its one slot) to forward every state event to the
 * server; detach removes it. Use it before hermes_scheduler_run() starts, and
 * stop the server only after run() has returned (a server stopped while run()
 * is active cannot remove the listener: it is left installed but silent, and
 * its small relay block is not freed).
 * @return 0 or HERMES_EINVAL.
 * Context: any thread.
 */
HERMES_API int hermes_server_control_from_scheduler(hermes_scheduler_t *s, hermes_server_control_t *out);

#ifdef __cplusplus
}
#endif
#endif
