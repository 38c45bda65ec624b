/* The socket-free command entry point for fuzzing (lib/server_internal.h):
 * one message from a fresh session through the shared session layer. */
#include <stdio.h>
#include <stdlib.h>

#include "server_internal.h"
#include "server_priv.h"

int hermes__server_fuzz_command(hermes_server_t *s, const void *data, size_t len, bool observer, hermes__reply_fn fn,
                                void *ctx)
{
    if (!s || !s->detached || (!data && len) || len > s->info.max_message)
        return hermes__fail(HERMES_EINVAL, "hermes__server_fuzz_command: bad argument");
    const struct hermes__protocol *p = hermes__protocols[0];
    struct client *c = calloc(1, hermes__session_size(p));
    if (!c)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    hermes__session_init(s, c, NULL, p, observer ? HERMES__ROLE_OBSERVER : HERMES__ROLE_CONTROLLER);
    snprintf(c->addr, sizeof c->addr, "fuzz");
    hermes__session_message(c, len ? data : "", len, false);
    /* The control thread's part, inline; process_done also runs the backlog. */
    for (struct hermes__job *j; (j = hermes__server_next_job(s, false)) != NULL;) {
        hermes__server_run_job(s, j);
        hermes__server_process_done(s);
    }
    hermes__server_process_events(s);
    int n = 0;
    for (struct txmsg *m = c->tx_head; m; m = m->next, n++)
        if (fn)
            fn(ctx, (const char *)m->buf + LWS_PRE, m->len);
    hermes__session_closed(c);
    free(c);
    return n;
}
