/* The CLI's glue between a running scheduler and the WebSocket server: the
 * scheduler control adapter (which takes the scheduler's listener slot, so
 * state events reach every client) plus the server settings of the config.
 *
 * The HERMES_AUTH_TOKEN environment variable, when set and not empty,
 * replaces server.auth_token. The override lives here, in the command, not in
 * the library's config loader: a library that reads the environment behind
 * its host's back would surprise embedders, and hermes_config_load() stays a
 * pure function of the file. An empty variable is ignored (it cannot remove a
 * token the file sets). */
#include "cli_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_AUTH_TOKEN_ENV "HERMES_AUTH_TOKEN"

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
        const char *env = getenv(CLI_AUTH_TOKEN_ENV);
        sc.auth_token = env && *env ? env : settings->auth_token;
        sc.observers = settings->observers;
        sc.allowed_origins = settings->allowed_origins;
        sc.allowed_origin_count = settings->allowed_origin_count;
        sc.max_clients = settings->max_clients;
        sc.max_message = settings->max_message_size;
        sc.commands_per_second = settings->commands_per_second;
        sc.max_patterns = settings->max_patterns;
        sc.max_json_depth = settings->max_json_depth;
        sc.viewer_disabled = settings->viewer_disabled;
        rc = hermes_server_create(&cs->srv, hermes_scheduler_backplane(s), &sc, &ctl);
    }
    if (rc == 0)
        rc = hermes_server_start(cs->srv);
    if (rc != 0) {
        /* Server errors name the setting, never the token's value. */
        if (rc == HERMES_EINVAL && strncmp(hermes_last_error(), "auth_token", 10) == 0 && getenv(CLI_AUTH_TOKEN_ENV) &&
            *getenv(CLI_AUTH_TOKEN_ENV))
            snprintf(err, errlen, "%s: %s", CLI_AUTH_TOKEN_ENV, hermes_last_error());
        else
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
