/* Private server entry points: the access-control syntax checks shared with
 * the config loader, and a socket-free way to drive the command handler (the
 * libFuzzer harness tests/fuzz/fuzz_command.c). Never installed. */
#ifndef HERMES_LIB_SERVER_INTERNAL_H
#define HERMES_LIB_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hermes/server.h"

/* Accepted ranges of the non-zero limits (0 always means the default). */
#define HERMES__MAX_CLIENTS_MAX      100000u
#define HERMES__MAX_MESSAGE_MIN      256u
#define HERMES__MAX_MESSAGE_MAX      (64u << 20)
#define HERMES__CPS_MAX              100000u
#define HERMES__MAX_PATTERNS_MAX     1000000u
#define HERMES__JSON_DEPTH_MIN       3u     /* {"params":{"signals":[...]}} */
#define HERMES__JSON_DEPTH_MAX       1000u

/* NULL when @p token is an acceptable auth token, else why not (the message
 * never quotes the token). */
const char *hermes__token_problem(const char *token);
/* NULL when @p origin is "*" or scheme://host[:port] (optionally one trailing '/'). */
const char *hermes__origin_problem(const char *origin);

/* Create a server without any socket or thread: no lws context, control jobs
 * run in the calling thread from hermes__server_fuzz_command(). Same
 * arguments and checks as hermes_server_create(); destroy it with
 * hermes_server_destroy(). hermes_server_start() on it gives HERMES_ESTATE. */
int hermes__server_create_detached(hermes_server_t **out, hermes_backplane_t *bp, const hermes_server_config_t *cfg,
                                   const hermes_server_control_t *control);

typedef void (*hermes__reply_fn)(void *ctx, const char *text, size_t len);

/* Feed @p len bytes as one complete text message from a fresh client
 * (controller, or observer when @p observer), run the control jobs it
 * queues to completion, then hand every reply the client would receive (acks,
 * errors; not the schema) to @p fn in order. The client is gone afterwards.
 * @return the number of replies, or HERMES_EINVAL (not a detached server,
 * len above max_message), HERMES_ENOMEM. */
int hermes__server_fuzz_command(hermes_server_t *srv, const void *data, size_t len, bool observer,
                                hermes__reply_fn fn, void *ctx);

#endif
