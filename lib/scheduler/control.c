/* Scheduler requests: the control FIFO drained at frame boundaries, pause/resume/reset/step/stop/set/apply, modules' async failures. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backplane/layout.h"
#include "config/internal.h"
#include "hermes/scheduler.h"
#include "scheduler/drivers/driver.h"
#include "scheduler/drivers/process_wake.h"
#include "scheduler/group.h"
#include "scheduler/rates.h"
#include "common/util.h"
#include "scheduler/internal.h"

/* Apply one control request on the frame-executing thread. Returns the event
 * to hermes__sched_emit (or NONE). Called without `mu`. */
static hermes_event_t apply_ctl(hermes_scheduler_t *s, struct ctl_req *r)
{
    hermes_state_t st = hermes__sched_get_state(s);
    r->result = 0;
    switch (r->type) {
    case REQ_PAUSE:
        if (st == HERMES_STATE_RUNNING) {
            hermes__sched_set_state(s, HERMES_STATE_PAUSED);
            return HERMES_EVENT_PAUSED;
        }
        if (st != HERMES_STATE_PAUSED)
            goto bad_state;
        s->steps_pending = 0;   /* pause also cancels the rest of a long step request */
        return HERMES_EVENT_NONE;
    case REQ_RESUME:
        if (s->mode == HERMES_MODE_SINGLE_FRAME) {
            r->result = HERMES_ESTATE;
            snprintf(r->msg, sizeof r->msg, "resume is not available in single_frame mode; use step");
            return HERMES_EVENT_NONE;
        }
        if (st == HERMES_STATE_PAUSED) {
            if (s->frame >= s->end_frame) {
                r->result = HERMES_ESTATE;
                snprintf(r->msg, sizeof r->msg, "end_time reached; reset first");
                return HERMES_EVENT_NONE;
            }
            s->steps_pending = 0;
            s->epoch_ns = 0;   /* realtime: restart pacing from now */
            s->win_wall = 0;
            hermes__sched_set_state(s, HERMES_STATE_RUNNING);
            return HERMES_EVENT_RUNNING;
        }
        if (st != HERMES_STATE_RUNNING)
            goto bad_state;
        return HERMES_EVENT_NONE;
    case REQ_STEP:
        if (st != HERMES_STATE_PAUSED) {
            r->result = HERMES_ESTATE;
            snprintf(r->msg, sizeof r->msg, "step needs a paused run (state is %s)", hermes_state_name(st));
            return HERMES_EVENT_NONE;
        }
        s->steps_pending += r->count;
        r->target = s->frame + s->steps_pending;
        if (s->end_frame != UINT64_MAX && r->target > s->end_frame)
            r->target = s->end_frame;
        return HERMES_EVENT_NONE;
    case REQ_RESET:
        if (st == HERMES_STATE_ERROR || st == HERMES_STATE_IDLE)
            goto bad_state;
        if (hermes__sched_reset_all(s) != 0) {
            r->result = HERMES_EMODULE;
            hermes__strlcpy(r->msg, s->error, sizeof r->msg);
            hermes__sched_set_state(s, HERMES_STATE_ERROR);
            return HERMES_EVENT_ERROR;
        }
        hermes__sched_set_state(s, HERMES_STATE_PAUSED);
        atomic_store_explicit(&s->stop_req, 0, memory_order_relaxed);
        s->stop_taken = false;
        s->stop_msg[0] = '\0';
        atomic_store_explicit(&s->stop_claim, 0, memory_order_release);
        return HERMES_EVENT_RESET;
    case REQ_STOP:
        if (st == HERMES_STATE_STOPPED || st == HERMES_STATE_ERROR)
            return HERMES_EVENT_NONE;
        hermes__sched_set_state(s, HERMES_STATE_STOPPED);
        return HERMES_EVENT_STOPPED;
    case REQ_CHECKPOINT:
        r->result = hermes__sched_checkpoint_write(s, r->path, r->msg, sizeof r->msg);
        return HERMES_EVENT_NONE;
    case REQ_SET:
    case REQ_FAIL:
        break;
    }
    return HERMES_EVENT_NONE;
bad_state:
    r->result = HERMES_ESTATE;
    snprintf(r->msg, sizeof r->msg, "not allowed while %s", hermes_state_name(st));
    return HERMES_EVENT_NONE;
}

/* A fail callback's message becomes the run's error; mu held, on the
 * thread executing frames (the only writer of s->error). */
void hermes__sched_take_async_failure(hermes_scheduler_t *s)
{
    if (!s->async_failed)
        hermes__strlcpy(s->error, s->async_msg, sizeof s->error);
    s->async_failed = true;
}

/* The one way into the FIFO; mu held. Wakes the loop. */
static int push(hermes_scheduler_t *s, struct req q)
{
    if (s->qlen == QUEUE_CAP)
        return hermes__fail(HERMES_EAGAIN, "scheduler request queue is full (%u pending)", QUEUE_CAP);
    s->queue[(s->qhead + s->qlen) % QUEUE_CAP] = q;
    s->qlen++;
    atomic_store_explicit(&s->pending, 1, memory_order_relaxed);
    pthread_cond_signal(&s->cv_req);
    return 0;
}

/* Drain the FIFO (scheduler thread); values set while not running are
 * republished at once so readers see them. */
void hermes__sched_drain(hermes_scheduler_t *s)
{
    bool changed = false;
    pthread_mutex_lock(&s->mu);
    while (s->qlen) {
        struct req q = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % QUEUE_CAP;
        s->qlen--;
        if (q.type == REQ_SET) {
            s->live[q.index] = q.value;
            changed = true;
            hermes__sched_call_cmd_hook(s, HERMES_COMMAND_SET, q.index, q.value, 0, s->frame);
            continue;
        }
        if (q.type == REQ_FAIL)
            continue;  /* only wakes the loop: async_msg is taken below */
        pthread_mutex_unlock(&s->mu);
        uint64_t f0 = s->frame;
        hermes_event_t ev = apply_ctl(s, q.ctl);
        if (q.ctl->result == 0)
            hermes__sched_journal_ctl(s, q.ctl, f0);
        if (ev != HERMES_EVENT_NONE)
            hermes__sched_emit(s, ev, ev == HERMES_EVENT_ERROR ? s->error : NULL);
        if (q.type == REQ_RESET)
            changed = false;  /* reset published its own frame */
        pthread_mutex_lock(&s->mu);
        q.ctl->done = true;
        pthread_cond_broadcast(&s->cv_done);
    }
    if (s->async_msg[0])
        hermes__sched_take_async_failure(s);
    bool stop_self = s->stop_self;
    s->stop_self = false;
    atomic_store_explicit(&s->pending, 0, memory_order_relaxed);
    pthread_mutex_unlock(&s->mu);
    if (!hermes__sched_take_stop(s) && stop_self && hermes__sched_get_state(s) != HERMES_STATE_STOPPED &&
        hermes__sched_get_state(s) != HERMES_STATE_ERROR) {
        hermes__sched_set_state(s, HERMES_STATE_STOPPED);
        hermes__sched_emit(s, HERMES_EVENT_STOPPED, NULL);
    }
    /* Between frames (paused, or at a boundary): make set values visible now. */
    if (changed && hermes__sched_get_state(s) != HERMES_STATE_RUNNING)
        publish(s);
}

static int post_ctl(hermes_scheduler_t *s, struct ctl_req *r)
{
    /* mu held, in_run true */
    int rc = push(s, (struct req){r->type, r, 0, 0.0});
    if (rc)
        return rc;
    while (!r->done && s->in_run)
        pthread_cond_wait(&s->cv_done, &s->mu);
    if (!r->done)
        return hermes__fail(HERMES_ESTATE, "the run ended before the request was applied");
    if (r->result)
        return hermes__fail(r->result, "%s", r->msg);
    return 0;
}

/* Frames executed synchronously in the caller's thread (no run() active). */
static int run_steps_sync(hermes_scheduler_t *s)
{
    while (s->steps_pending) {
        if (s->frame >= s->end_frame) {
            s->steps_pending = 0;
            hermes__sched_set_state(s, HERMES_STATE_STOPPED);
            hermes__sched_emit(s, HERMES_EVENT_STOPPED, NULL);
            break;
        }
        int rc = hermes__sched_do_frame(s);
        s->steps_pending--;
        if (rc)
            return rc;
        if (hermes__sched_take_stop(s)) {
            s->steps_pending = 0;
            break;
        }
    }
    return 0;
}

static int control(hermes_scheduler_t *s, enum req_type type, uint64_t count, uint64_t *target)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "scheduler is NULL");
    struct ctl_req r = {type, count, 0, 0, false, {0}, NULL};
    pthread_mutex_lock(&s->mu);
    if (!s->staged && type != REQ_STOP) {
        pthread_mutex_unlock(&s->mu);
        return hermes__fail(HERMES_ESTATE, "the scheduler is not staged");
    }
    int rc;
    if (s->in_run && (pthread_equal(pthread_self(), s->run_thread) || hermes__group_thread_owner() == s)) {
        /* From a module callback (also on a group worker) or the listener:
         * waiting would deadlock.
         * Only stop is accepted, applied after the current frame. */
        if (type == REQ_STOP) {
            s->stop_self = true;
            atomic_store_explicit(&s->pending, 1, memory_order_relaxed);
            rc = 0;
        } else {
            rc = hermes__fail(HERMES_ESTATE, "control calls other than stop cannot be made from the scheduler "
                                             "thread or a group worker (module callback or listener)");
        }
        pthread_mutex_unlock(&s->mu);
    } else if (s->in_run) {
        rc = post_ctl(s, &r);
        pthread_mutex_unlock(&s->mu);
    } else if (s->async_msg[0] && hermes__sched_get_state(s) != HERMES_STATE_ERROR) {
        hermes__sched_take_async_failure(s);
        pthread_mutex_unlock(&s->mu);
        return hermes__sched_fail_run(s, HERMES_EMODULE);
    } else {
        /* No scheduler thread: apply here, still one at a time. */
        uint64_t f0 = s->frame;
        hermes__sched_mu_held_here = s;
        hermes_event_t ev = apply_ctl(s, &r);
        rc = r.result;
        if (rc == 0)
            hermes__sched_journal_ctl(s, &r, f0);
        int frc = 0;
        if (rc == 0 && type == REQ_STEP)
            frc = run_steps_sync(s);
        hermes__sched_mu_held_here = NULL;
        pthread_mutex_unlock(&s->mu);
        if (ev != HERMES_EVENT_NONE)
            hermes__sched_emit(s, ev, ev == HERMES_EVENT_ERROR ? s->error : NULL);
        if (rc)
            return hermes__fail(rc, "%s", r.msg);
        if (frc)
            return hermes__sched_fail_run(s, frc);
    }
    if (rc == 0 && target)
        *target = r.target;
    return rc;
}

/* A checkpoint now: at the next frame boundary of an active run (the
 * caller waits), or here when none is active. @p path NULL: a generated
 * name in the checkpoint folder, returned in r.msg. */
static int checkpoint_req(hermes_scheduler_t *s, const char *path, char *name, size_t cap)
{
    struct ctl_req r = {REQ_CHECKPOINT, 0, 0, 0, false, {0}, path};
    pthread_mutex_lock(&s->mu);
    int rc;
    if (!s->staged)
        rc = hermes__fail(HERMES_ESTATE, "a checkpoint needs a staged scheduler");
    else if (s->in_run && pthread_equal(pthread_self(), s->run_thread) && (s->in_boundary || s->in_frame_hook)) {
        pthread_mutex_unlock(&s->mu);  /* the boundary or frame hook: at this boundary */
        rc = hermes__sched_checkpoint_write(s, path, r.msg, sizeof r.msg);
        if (rc == 0 && name)
            hermes__strlcpy(name, r.msg, cap);
        return rc ? hermes__fail(rc, "%s", r.msg) : 0;
    } else if (s->in_run && (pthread_equal(pthread_self(), s->run_thread) || hermes__group_thread_owner() == s))
        rc = hermes__fail(HERMES_ESTATE, "a checkpoint can be taken from the boundary or frame hook, or from "
                                         "another thread, but not from a module callback or the listener");
    else if (s->in_run)
        rc = post_ctl(s, &r);
    else if ((rc = hermes__sched_checkpoint_write(s, path, r.msg, sizeof r.msg)) != 0)
        rc = hermes__fail(rc, "%s", r.msg);
    pthread_mutex_unlock(&s->mu);
    if (rc == 0 && name)
        hermes__strlcpy(name, r.msg, cap);
    return rc;
}

HERMES_API int hermes_scheduler_checkpoint(hermes_scheduler_t *s, const char *path)
{
    if (!s || !path || !*path)
        return hermes__fail(HERMES_EINVAL, "hermes_scheduler_checkpoint: NULL scheduler or empty path");
    return checkpoint_req(s, path, NULL, 0);
}

HERMES_API int hermes_scheduler_checkpoint_generated(hermes_scheduler_t *s, char *name, size_t cap)
{
    if (!s || !name || cap == 0)
        return hermes__fail(HERMES_EINVAL, "hermes_scheduler_checkpoint_generated: NULL argument");
    name[0] = '\0';
    return checkpoint_req(s, NULL, name, cap);
}

HERMES_API int hermes_scheduler_pause(hermes_scheduler_t *s) { return control(s, REQ_PAUSE, 0, NULL); }

HERMES_API int hermes_scheduler_resume(hermes_scheduler_t *s) { return control(s, REQ_RESUME, 0, NULL); }

HERMES_API int hermes_scheduler_reset(hermes_scheduler_t *s) { return control(s, REQ_RESET, 0, NULL); }

HERMES_API int hermes_scheduler_step(hermes_scheduler_t *s, uint64_t count, uint64_t *target_frame)
{
    if (count == 0)
        return hermes__fail(HERMES_EINVAL, "step count must be at least 1");
    return control(s, REQ_STEP, count, target_frame);
}

HERMES_API int hermes_scheduler_stop(hermes_scheduler_t *s)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "scheduler is NULL");
    pthread_mutex_lock(&s->mu);
    bool staged = s->staged;
    pthread_mutex_unlock(&s->mu);
    if (!staged) {
        hermes__sched_set_state(s, HERMES_STATE_STOPPED);
        return 0;
    }
    return control(s, REQ_STOP, 0, NULL);
}

/* Whether @p value may be set into @p sig from outside: 0, or the code of
 * hermes__fail() (unknown id, not writable, only an initial value such as a
 * fixed FMU parameter, driven by a wire, wrong type). */
static int set_check(const hermes_scheduler_t *s, hermes_signal_t sig, double value)
{
    if (sig.tag != s->bp->tag || sig.index >= s->bp->count)
        return hermes__fail(HERMES_ENOENT, "invalid signal id (index %u)", sig.index);
    const struct hermes_shm_signal *d = &s->bp->dir[sig.index];
    if (!d->writable)
        return hermes__fail(HERMES_EREADONLY, "signal '%s' is not writable", d->name);
    if (s->initial_only && s->initial_only[sig.index])
        return hermes__fail(HERMES_EREADONLY, "signal '%s' is %s: it cannot be set while running, only given "
                            "before the run (initial: or --set %s=VALUE)", d->name, s->initial_only[sig.index], d->name);
    for (uint32_t i = 0; i < s->nwires; i++)  /* a wire would overwrite it on the next frame */
        if (s->wires[i].dst == sig.index)
            return hermes__fail(HERMES_EREADONLY, "%s is driven by %s; set that instead", d->name,
                                s->bp->dir[s->wires[i].src].name);
    if (hermes_type_check((hermes_type_t)d->type, value) != 0)
        return hermes__fail(HERMES_ETYPE, "cannot set %s signal '%s' to %.17g", hermes_type_name((hermes_type_t)d->type),
                            d->name, value);
    return 0;
}

HERMES_API int hermes_scheduler_set(hermes_scheduler_t *s, hermes_signal_t sig, double value)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "scheduler is NULL");
    int bad = set_check(s, sig, value);
    if (bad)
        return bad;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->in_run) {
        rc = push(s, (struct req){REQ_SET, NULL, sig.index, value});
    } else {
        s->live[sig.index] = value;
        hermes__sched_call_cmd_hook(s, HERMES_COMMAND_SET, sig.index, value, 0, s->frame);
        if (s->staged)
            publish(s);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The modules' `fail` callback (scheduler/drivers/driver.h): any thread. The message
 * waits in async_msg; while run() is active a request wakes the loop, which
 * takes it at its next hermes__sched_drain; otherwise the next control call or run()
 * reports it. */
void hermes__sched_post_failure(void *ctx, const char *msg)
{
    hermes_scheduler_t *s = ctx;
    bool held = hermes__sched_mu_held_here == s;
    if (!held)
        pthread_mutex_lock(&s->mu);
    if (!s->async_msg[0]) {
        hermes__strlcpy(s->async_msg, msg, sizeof s->async_msg);
        if (s->in_run)
            (void)push(s, (struct req){REQ_FAIL, NULL, 0, 0.0});  /* full: the loop drains soon anyway */
    }
    if (!held)
        pthread_mutex_unlock(&s->mu);
}

void hermes__sched_post_stop(void *ctx, const struct hermes__module *m, const char *msg)
{
    hermes_scheduler_t *s = ctx;
    int free_slot = 0;
    if (!atomic_compare_exchange_strong(&s->stop_claim, &free_slot, 1))
        return;  /* another module asked first: its message wins */
    snprintf(s->stop_msg, sizeof s->stop_msg, "module '%s': %s", m->name,
             msg && *msg ? msg : "asked to end the run");
    atomic_store_explicit(&s->stop_req, 1, memory_order_release);
    atomic_store_explicit(&s->pending, 1, memory_order_relaxed);
}

bool hermes__sched_take_stop(hermes_scheduler_t *s)
{
    if (!atomic_exchange_explicit(&s->stop_req, 0, memory_order_acquire))
        return false;
    hermes_state_t st = hermes__sched_get_state(s);
    if (st == HERMES_STATE_STOPPED || st == HERMES_STATE_ERROR)
        return false;
    s->steps_pending = 0;
    s->stop_taken = true;
    hermes__sched_set_state(s, HERMES_STATE_STOPPED);
    hermes__sched_emit(s, HERMES_EVENT_STOPPED, s->stop_msg);
    return true;
}

HERMES_API int hermes_scheduler_apply(hermes_scheduler_t *s, const hermes_run_command_t *cmd)
{
    if (!s || !cmd)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    if (!s->in_boundary || !pthread_equal(pthread_self(), s->run_thread))
        return hermes__fail(HERMES_ESTATE, "hermes_scheduler_apply: only from inside the boundary hook");
    if (cmd->kind == HERMES_COMMAND_SET) {
        hermes_signal_t sig = cmd->signal;
        int bad = set_check(s, sig, cmd->value);
        if (bad)
            return bad;
        s->live[sig.index] = cmd->value;
        hermes__sched_call_cmd_hook(s, HERMES_COMMAND_SET, sig.index, cmd->value, 0, s->frame);
        if (hermes__sched_get_state(s) != HERMES_STATE_RUNNING)
            publish(s);
        return 0;
    }
    static const enum req_type types[] = {
        [HERMES_COMMAND_PAUSE] = REQ_PAUSE, [HERMES_COMMAND_RESUME] = REQ_RESUME, [HERMES_COMMAND_STEP] = REQ_STEP,
        [HERMES_COMMAND_RESET] = REQ_RESET, [HERMES_COMMAND_STOP] = REQ_STOP,
    };
    if (cmd->kind < HERMES_COMMAND_PAUSE || cmd->kind > HERMES_COMMAND_STOP ||
        (cmd->kind == HERMES_COMMAND_STEP && cmd->count == 0))
        return hermes__fail(HERMES_EINVAL, "hermes_scheduler_apply: bad command kind %d or step count",
                            (int)cmd->kind);
    struct ctl_req r = {types[cmd->kind], cmd->count, 0, 0, false, {0}, NULL};
    uint64_t f0 = s->frame;
    hermes_event_t ev = apply_ctl(s, &r);
    if (r.result == 0)
        hermes__sched_journal_ctl(s, &r, f0);
    if (ev != HERMES_EVENT_NONE)
        hermes__sched_emit(s, ev, ev == HERMES_EVENT_ERROR ? s->error : NULL);
    return r.result ? hermes__fail(r.result, "%s", r.msg) : 0;
}
