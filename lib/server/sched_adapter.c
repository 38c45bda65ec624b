/* The scheduler adapter: a server control table driving a hermes scheduler
 * (the only server file that knows the scheduler). */
#include <pthread.h>
#include <stdlib.h>

#include "hermes/server.h"
#include "server/internal.h"
#include "common/util.h"

/* The scheduler listener may still fire while the server stops (until the
 * listener is removed), so it points at a relay, not at the server; detach
 * silences the relay under its mutex, removes the listener and frees the
 * relay. If the listener cannot be removed because run() is still active (a
 * misuse: server.h asks to stop the server after run() returns), the silent
 * relay stays installed and is not freed. */
struct relay {
    pthread_mutex_t  mu;
    hermes_server_t *srv;
};

static void relay_listener(void *ctx, hermes_event_t ev, uint64_t frame, const char *detail)
{
    struct relay *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->srv)
        hermes_server_post_event(r->srv, ev, frame, detail);
    pthread_mutex_unlock(&r->mu);
}

static int sc_pause(void *c) { return hermes_scheduler_pause(c); }
static int sc_resume(void *c) { return hermes_scheduler_resume(c); }
static int sc_reset(void *c) { return hermes_scheduler_reset(c); }
static int sc_step(void *c, uint64_t n, uint64_t *t) { return hermes_scheduler_step(c, n, t); }
static int sc_set(void *c, hermes_signal_t sig, double v) { return hermes_scheduler_set(c, sig, v); }
static hermes_state_t sc_state(void *c) { return hermes_scheduler_state(c); }
static int sc_checkpoint(void *c, char *name, size_t cap) { return hermes_scheduler_checkpoint_generated(c, name, cap); }

static int sc_attach(void *c, hermes_server_t *srv)
{
    struct relay *r = calloc(1, sizeof *r);
    if (!r)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    pthread_mutex_init(&r->mu, NULL);
    r->srv = srv;
    int rc = hermes_scheduler_set_listener(c, relay_listener, r);
    if (rc) {
        pthread_mutex_destroy(&r->mu);
        free(r);
        return rc;
    }
    hermes__server_set_control_data(srv, r);
    return 0;
}

static void sc_detach(void *c, hermes_server_t *srv)
{
    struct relay *r = hermes__server_control_data(srv);
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->srv = NULL;
    pthread_mutex_unlock(&r->mu);
    hermes__server_set_control_data(srv, NULL);
    if (hermes_scheduler_set_listener(c, NULL, NULL) == 0) {
        pthread_mutex_destroy(&r->mu);
        free(r);
    }
}

HERMES_API int hermes_server_control_from_scheduler(hermes_scheduler_t *s, hermes_server_control_t *out)
{
    if (!s || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_server_control_from_scheduler: NULL argument");
    hermes_server_control_init(out);
    out->ctx = s;
    out->pause = sc_pause;
    out->resume = sc_resume;
    out->reset = sc_reset;
    out->step = sc_step;
    out->set = sc_set;
    out->state = sc_state;
    out->checkpoint = sc_checkpoint;
    out->attach = sc_attach;
    out->detach = sc_detach;
    return 0;
}
