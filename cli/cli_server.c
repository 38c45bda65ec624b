/* The CLI's glue between a running scheduler and the WebSocket server: the
 * scheduler control adapter (which takes the scheduler's listener slot, so
 * state events reach every client) plus the server settings of the config. */
#include "cli_server.h"

#include <stdio.h>
#include <stdlib.h>

struct cli_server {
    hermes_server_t *srv;
};

int cli_server_start(struct cli_server **out, hermes_scheduler_t *s, const hermes_server_settings_t *settings,
                     char *err, size_t errlen)
{
    *out = NULL;
    struct cli_server *cs = calloc(1, sizeof *cs);
    if (!cs) {
        snprintf(err, errlen, "out of memory");
        return HERMES_ENOMEM;
    }
    hermes_server_control_t ctl;
    int rc = hermes_server_control_from_scheduler(s, &ctl);
    if (rc == 0) {
        hermes_server_config_t sc;
        hermes_server_config_init(&sc);
        sc.bind_addr = settings->host;
        sc.port = settings->port;
        sc.telemetry_hz = settings->telemetry_hz;
        sc.sim_config = hermes_scheduler_config(s);
        rc = hermes_server_create(&cs->srv, hermes_scheduler_backplane(s), &sc, &ctl);
    }
    if (rc == 0)
        rc = hermes_server_start(cs->srv);
    if (rc != 0) {
        snprintf(err, errlen, "%s", hermes_last_error());
        hermes_server_destroy(cs->srv);
        free(cs);
        return rc;
    }
    *out = cs;
    return 0;
}

int cli_server_port(const struct cli_server *cs) { return cs ? hermes_server_port(cs->srv) : 0; }

void cli_server_stop(struct cli_server *cs)
{
    if (!cs)
        return;
    /* Events already posted (stopped/error) are delivered before the 1001 close. */
    hermes_server_destroy(cs->srv);
    free(cs);
}
