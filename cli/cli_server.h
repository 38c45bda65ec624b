/* The CLI's glue between a running scheduler and the WebSocket server. */
#ifndef HERMES_CLI_SERVER_H
#define HERMES_CLI_SERVER_H

#include <stddef.h>
#include <hermes/hermes.h>

struct cli_server;

/* Start serving @p s with @p settings (host/port already overridden by the
 * command line). Logs through the library log hook. Returns 0 or a
 * HERMES_E* code with a message in @p err. */
int cli_server_start(struct cli_server **out, hermes_scheduler_t *s, const hermes_server_settings_t *settings,
                     char *err, size_t errlen);

/* Port actually bound (useful with port 0). */
int cli_server_port(const struct cli_server *srv);

/* Tell clients how the run ended (the scheduler's final event reaches them),
 * close every connection politely and free everything. NULL is fine. */
void cli_server_stop(struct cli_server *srv);

#endif
