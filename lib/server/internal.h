/* Private server entry points for the rest of the library: a socket-free way
 * to drive the command handler (the libFuzzer harness tests/fuzz/fuzz_command.c)
 * and a slot the control adapter keeps its state in. Never installed. */
#ifndef HERMES_LIB_SERVER_INTERNAL_H
#define HERMES_LIB_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hermes/server.h"

/* hermes_server_create() (src NULL) and hermes_server_create_source() (bp
 * NULL) in one; @p detached: no socket, no thread (the test entry points
 * below, built only into the hermes_testing library). */
int hermes__server_create(hermes_server_t **out, const hermes_server_source_t *src, hermes_backplane_t *bp,
                          const hermes_server_config_t *cfg, const hermes_server_control_t *control, bool detached);

/* ---- test-only entry points: lib/server/fuzz.c, in the static hermes_testing
 * library that tests and fuzzers link; never in libhermes.so. ---- */

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

/* The same for any protocol of the table, by subprotocol name (@p protocol,
 * e.g. "foxglove.websocket.v1"), with a text or @p binary message; binary
 * replies (hermes__client_send_binary) go to @p bin_fn, text ones to @p fn,
 * in the order the client would receive them.
 * @return the number of replies, or HERMES_EINVAL (also: unknown protocol). */
int hermes__server_fuzz_message(hermes_server_t *srv, const char *protocol, const void *data, size_t len, bool binary,
                                bool observer, hermes__reply_fn fn, hermes__reply_fn bin_fn, void *ctx);

/* One pointer kept for the control table's adapter (sched_adapter.c):
 * set from attach (creating thread), read and cleared from detach. */
void  hermes__server_set_control_data(hermes_server_t *srv, void *data);
void *hermes__server_control_data(const hermes_server_t *srv);

#endif
