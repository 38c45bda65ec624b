/* Test-only entry points (lib/server/internal.h), built into the static
 * hermes_testing library, not libhermes.so: a detached server (no socket, no
 * thread) and one message from a fresh session through the session layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"
#include "server/priv.h"

int hermes__server_create_detached(hermes_server_t **out, hermes_backplane_t *bp, const hermes_server_config_t *cfg,
                                   const hermes_server_control_t *control)
{
    return hermes__server_create(out, NULL, bp, cfg, control, true);
}

int hermes__server_fuzz_command(hermes_server_t *s, const void *data, size_t len, bool observer, hermes__reply_fn fn,
                                void *ctx)
{
    return hermes__server_fuzz_message(s, HERMES_WS_PROTOCOL, data, len, false, observer, fn, NULL, ctx);
}

int hermes__server_fuzz_message(hermes_server_t *s, const char *protocol, const void *data, size_t len, bool binary,
                                bool observer, hermes__reply_fn fn, hermes__reply_fn bin_fn, void *ctx)
{
    if (!s || !s->detached || !protocol || (!data && len) || len > s->info.max_message)
        return hermes__fail(HERMES_EINVAL, "hermes__server_fuzz_message: bad argument");
    const struct hermes__protocol *p = NULL;
    for (size_t i = 0; !p && i < hermes__protocol_count; i++)
        for (const char *const *n = hermes__protocols[i]->names; *n; n++)
            if (strcmp(*n, protocol) == 0)
                p = hermes__protocols[i];
    if (!p)
        return hermes__fail(HERMES_EINVAL, "hermes__server_fuzz_message: no protocol '%s'", protocol);
    struct client *c = calloc(1, hermes__session_size(p));
    if (!c)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    hermes__session_init(s, c, NULL, p, observer ? HERMES__ROLE_OBSERVER : HERMES__ROLE_CONTROLLER);
    snprintf(c->addr, sizeof c->addr, "fuzz");
    hermes__session_message(c, len ? data : "", len, binary);
    /* The control thread's part, inline; process_done also runs the backlog. */
    for (struct hermes__job *j; (j = hermes__server_next_job(s, false)) != NULL;) {
        hermes__server_run_job(s, j);
        hermes__server_process_done(s, hermes__session_deliver);
    }
    hermes__server_process_events(s);
    int n = 0;
    for (struct txmsg *m = c->tx_head; m; m = m->next, n++) {
        hermes__reply_fn to = m->binary ? bin_fn : fn;
        if (to)
            to(ctx, (const char *)m->buf + LWS_PRE, m->len);
    }
    hermes__session_closed(c);
    free(c);
    return n;
}
