/* The server's shared state below the lifecycle: failures into errmsg, the
 * event ring (any thread -> service thread, handed to each protocol's event
 * hook), the control job queue (service thread <-> control thread; finished
 * jobs handed back through the caller's deliver function) and the accessors
 * the protocols and sessions use. Calls no protocol or session file. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"
#include "server/priv.h"

int hermes__server_fail(hermes_server_t *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hermes__failv(code, fmt, ap);
    va_end(ap);
    if (s) {
        pthread_mutex_lock(&s->mu_err);
        hermes__strlcpy(s->errmsg, hermes_last_error(), sizeof s->errmsg);
        pthread_mutex_unlock(&s->mu_err);
    }
    return code;
}

void hermes__server_wake(hermes_server_t *s)
{
    pthread_mutex_lock(&s->mu_ev);
    if (s->ctx_alive)
        lws_cancel_service(s->ctx);
    pthread_mutex_unlock(&s->mu_ev);
}

const struct hermes__server_info *hermes__server_info(const hermes_server_t *s) { return &s->info; }

uint32_t hermes__server_clients(const hermes_server_t *s) { return s->nclients; }

void *hermes__server_proto_data(const hermes_server_t *s, const struct hermes__protocol *p)
{
    for (size_t i = 0; i < HERMES__MAX_LWS_PROTOCOLS && s->proto_of[i]; i++)
        if (s->proto_of[i] == p)
            return s->proto_data[i];
    return NULL;
}

void hermes__server_set_control_data(hermes_server_t *s, void *data) { s->ctl_data = data; }
void *hermes__server_control_data(const hermes_server_t *s) { return s->ctl_data; }

const char *hermes__server_state_name(const hermes_server_t *s)
{
    if (s->has_ctl && s->ctl.state)
        return hermes_state_name(s->ctl.state(s->ctl.ctx));
    return "unknown";
}

/* ---- events ---------------------------------------------------------------- */

void hermes__server_process_events(hermes_server_t *s)
{
    struct hermes__event local[HERMES__EV_RING];
    unsigned n = 0;
    uint64_t lost;
    pthread_mutex_lock(&s->mu_ev);
    while (s->ev_len) {
        local[n++] = s->ring[s->ev_head];
        s->ev_head = (s->ev_head + 1) % HERMES__EV_RING;
        s->ev_len--;
    }
    lost = s->ev_lost;
    s->ev_lost = 0;
    pthread_mutex_unlock(&s->mu_ev);
    if (lost)
        hermes__log(HERMES_LOG_WARN, "server", "event=events_lost count=%llu", (unsigned long long)lost);
    for (unsigned i = 0; i < n; i++) {
        hermes__log(HERMES_LOG_INFO, "server", "event=broadcast state_event=%s frame=%llu clients=%u",
                    hermes_event_name(local[i].event), (unsigned long long)local[i].frame, s->nclients);
        for (size_t k = 0; k < HERMES__MAX_LWS_PROTOCOLS && s->proto_of[k]; k++)
            if (s->proto_of[k]->event)
                s->proto_of[k]->event(s, s->proto_of[k], &local[i]);
    }
}

HERMES_API int hermes_server_post_event(hermes_server_t *s, hermes_event_t event, uint64_t frame, const char *detail)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "hermes_server_post_event: server is NULL");
    if (event == HERMES_EVENT_NONE)
        return hermes__server_fail(s, HERMES_EINVAL, "hermes_server_post_event: HERMES_EVENT_NONE is not an event");
    pthread_mutex_lock(&s->mu_ev);
    if (s->ev_closed) {
        pthread_mutex_unlock(&s->mu_ev);
        return hermes__server_fail(s, HERMES_ESTATE, "the server is stopped");
    }
    if (s->ev_len == HERMES__EV_RING) {  /* keep the newest: drop the oldest */
        s->ev_head = (s->ev_head + 1) % HERMES__EV_RING;
        s->ev_len--;
        s->ev_lost++;
    }
    struct hermes__event *e = &s->ring[(s->ev_head + s->ev_len) % HERMES__EV_RING];
    e->event = event;
    e->frame = frame;
    e->detail[0] = '\0';
    if (detail)
        hermes__strlcpy(e->detail, detail, sizeof e->detail);
    s->ev_len++;
    if (s->ctx_alive)
        lws_cancel_service(s->ctx);
    pthread_mutex_unlock(&s->mu_ev);
    return 0;
}

/* ---- control jobs ------------------------------------------------------------ */

struct hermes__job *hermes__job_new(enum hermes__job_kind kind, json_t *id)
{
    struct hermes__job *j = calloc(1, sizeof *j);
    if (j) {
        j->kind = kind;
        j->id = id ? json_incref(id) : NULL;
    }
    return j;
}

static void job_free(struct hermes__job *j)
{
    json_decref(j->id);
    free(j);
}

/* Free a whole job list and leave it empty. */
void hermes__job_list_free(struct hermes__job **head, struct hermes__job **tail)
{
    while (*head) {
        struct hermes__job *j = *head;
        *head = j->next;
        job_free(j);
    }
    *tail = NULL;
}

static void job_push(struct hermes__job **head, struct hermes__job **tail, struct hermes__job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

void hermes__server_submit(hermes_server_t *s, struct hermes__job *j)
{
    pthread_mutex_lock(&s->mu_job);
    job_push(&s->jq_head, &s->jq_tail, j);
    pthread_cond_signal(&s->cv_job);
    pthread_mutex_unlock(&s->mu_job);
}

struct hermes__job *hermes__server_next_job(hermes_server_t *s, bool wait)
{
    pthread_mutex_lock(&s->mu_job);
    while (wait && !s->ctl_quit && !s->jq_head)
        pthread_cond_wait(&s->cv_job, &s->mu_job);
    struct hermes__job *j = s->jq_head;
    if (j) {
        s->jq_head = j->next;
        if (!s->jq_head)
            s->jq_tail = NULL;
    }
    pthread_mutex_unlock(&s->mu_job);
    return j;
}

/* Call the control table for @p j (control thread; the calling thread of a
 * detached server) and queue the result for the service thread. */
void hermes__server_run_job(hermes_server_t *s, struct hermes__job *j)
{
    hermes__clear_error();
    const hermes_server_control_t *c = &s->ctl;
    int rc = HERMES_EINVAL;
    switch (j->kind) {
    case HERMES__JOB_PAUSE: rc = c->pause ? c->pause(c->ctx) : HERMES_ESTATE; break;
    case HERMES__JOB_RESUME: rc = c->resume ? c->resume(c->ctx) : HERMES_ESTATE; break;
    case HERMES__JOB_RESET: rc = c->reset ? c->reset(c->ctx) : HERMES_ESTATE; break;
    case HERMES__JOB_STEP: rc = c->step ? c->step(c->ctx, j->count, &j->target) : HERMES_ESTATE; break;
    case HERMES__JOB_SET: rc = c->set ? c->set(c->ctx, j->sig, j->value) : HERMES_ESTATE; break;
    case HERMES__JOB_SEEK: rc = c->seek ? c->seek(c->ctx, j->count) : HERMES_ESTATE; break;
    case HERMES__JOB_CHECKPOINT:
        rc = c->checkpoint ? c->checkpoint(c->ctx, j->signal, sizeof j->signal)
                           : hermes__fail(HERMES_ESTATE, "this run does not take checkpoints");
        break;
    }
    j->rc = rc;
    if (rc) {
        const char *m = hermes_last_error();
        snprintf(j->msg, sizeof j->msg, "%s", m[0] ? m : hermes_strerror(rc));
    }
    j->state = c->state ? c->state(c->ctx) : HERMES_STATE_IDLE;
    pthread_mutex_lock(&s->mu_job);
    job_push(&s->done_head, &s->done_tail, j);
    pthread_mutex_unlock(&s->mu_job);
}

void hermes__server_process_done(hermes_server_t *s, void (*deliver)(hermes_server_t *s, struct hermes__job *j))
{
    pthread_mutex_lock(&s->mu_job);
    struct hermes__job *list = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->mu_job);
    while (list) {
        struct hermes__job *j = list;
        list = j->next;
        deliver(s, j);
        job_free(j);
    }
}
