/* The scheduler's frame loop (hermes_scheduler_run): realtime pacing, boundary hook, waiting for requests while paused. */
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

/* Realtime: wait until the deadline of the next frame, waking early for
 * requests (sleeping, then busy-waiting the last spin_ns). Returns true when
 * the frame is due, after recording its lateness (start - deadline). */
static bool pace(hermes_scheduler_t *s)
{
    uint64_t now = hermes__now_ns();
    if (s->epoch_ns == 0) {
        s->epoch_ns = now;
        s->epoch_frame = s->frame;
    }
    uint64_t due = s->epoch_ns + (uint64_t)llround((double)(s->frame - s->epoch_frame) * s->ns_per_frame);
    if (now < due) {
        uint64_t wake = due - now > s->spin_ns ? due - s->spin_ns : now;
        if (now < wake) {
            struct timespec ts = {(time_t)(wake / 1000000000u), (long)(wake % 1000000000u)};
            pthread_mutex_lock(&s->mu);
            while (!s->qlen && hermes__now_ns() < wake)
                if (pthread_cond_timedwait(&s->cv_req, &s->mu, &ts) == ETIMEDOUT)
                    break;
            pthread_mutex_unlock(&s->mu);
        }
        while ((now = hermes__now_ns()) < due) {
            if (!s->spin_ns || atomic_load_explicit(&s->pending, memory_order_relaxed))
                return false;  /* woken by a request */
            hermes__cpu_relax();
        }
    }
    hermes__sched_note_lateness(s, now - due);
    /* More than a period behind (the overrun was counted when that frame
     * finished): restart the epoch instead of running a catch-up burst. */
    if (now - due > (uint64_t)s->ns_per_frame) {
        s->epoch_ns = now;
        s->epoch_frame = s->frame;
    }
    return true;
}

static void wait_request(hermes_scheduler_t *s)
{
    pthread_mutex_lock(&s->mu);
    while (!s->qlen)
        pthread_cond_wait(&s->cv_req, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

HERMES_API int hermes_scheduler_run(hermes_scheduler_t *s)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "scheduler is NULL");
    pthread_mutex_lock(&s->mu);
    hermes_state_t st0 = hermes__sched_get_state(s);
    if (!s->staged || s->in_run || st0 == HERMES_STATE_ERROR || st0 == HERMES_STATE_STOPPED) {
        pthread_mutex_unlock(&s->mu);
        return hermes__fail(HERMES_ESTATE, "run() needs a staged scheduler that is not running, stopped or failed "
                                           "(state %s)", hermes_state_name(st0));
    }
    s->in_run = true;
    s->run_thread = pthread_self();
    if (s->async_msg[0])
        hermes__sched_take_async_failure(s);
    pthread_mutex_unlock(&s->mu);
    /* Timed waits of this thread wake as close to their deadline as the
     * kernel can (the default slack is 50 us); restored on return. */
    int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    if (s->mode == HERMES_MODE_REALTIME)
        prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    if (s->mode != HERMES_MODE_SINGLE_FRAME && !s->start_paused && st0 == HERMES_STATE_PAUSED &&
        s->frame < s->end_frame) {
        s->epoch_ns = 0;
        s->win_wall = 0;
        hermes__sched_set_state(s, HERMES_STATE_RUNNING);
        hermes__sched_emit(s, HERMES_EVENT_RUNNING, NULL);
    }

    int rc = 0;
    for (;;) {
        if (s->boundary_hook && (rc = hermes__sched_call_boundary_hook(s)) != 0)
            break;
        if (s->ckpt_next < s->nckpt_at && s->frame >= s->ckpt_at[s->ckpt_next].frame)
            hermes__sched_checkpoints_due(s);
        if (atomic_load_explicit(&s->pending, memory_order_relaxed))
            hermes__sched_drain(s);
        if (s->async_failed) {
            rc = HERMES_EMODULE;
            break;
        }
        hermes_state_t st = hermes__sched_get_state(s);
        if (st != HERMES_STATE_RUNNING)
            publish_flush(s);  /* paused or stepping: readers see this frame */
        if (st == HERMES_STATE_STOPPED || st == HERMES_STATE_ERROR)
            break;
        if (s->frame >= s->end_frame && (st == HERMES_STATE_RUNNING || s->steps_pending)) {
            s->steps_pending = 0;
            hermes__sched_set_state(s, HERMES_STATE_STOPPED);
            hermes__sched_emit(s, HERMES_EVENT_STOPPED, NULL);
            break;
        }
        if (st == HERMES_STATE_RUNNING) {
            if (s->mode == HERMES_MODE_REALTIME) {
                if (!pace(s))
                    continue;
                uint64_t due_next = s->epoch_ns +
                    (uint64_t)llround((double)(s->frame + 1 - s->epoch_frame) * s->ns_per_frame);
                if ((rc = hermes__sched_do_frame(s)) != 0)
                    break;
                if (hermes__now_ns() > due_next)
                    s->overruns++;
            } else {
                s->pub_lazy = !s->frame_hook && !s->boundary_hook;
                rc = hermes__sched_do_frame(s);
                s->pub_lazy = false;
                if (rc)
                    break;
            }
        } else if (s->steps_pending) {
            if ((rc = hermes__sched_do_frame(s)) != 0)
                break;
            s->steps_pending--;
        } else {
            wait_request(s);
        }
    }
    publish_flush(s);  /* the last frame, whatever ended the loop */
    if (rc)
        hermes__sched_fail_run(s, rc);

    /* Fail whatever is still queued, then let waiters go. */
    pthread_mutex_lock(&s->mu);
    s->in_run = false;
    while (s->qlen) {
        struct req q = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % QUEUE_CAP;
        s->qlen--;
        if (q.ctl) {
            q.ctl->result = HERMES_ESTATE;
            snprintf(q.ctl->msg, sizeof q.ctl->msg, "the run has ended");
            q.ctl->done = true;
        }
    }
    atomic_store_explicit(&s->pending, 0, memory_order_relaxed);
    pthread_cond_broadcast(&s->cv_done);
    pthread_mutex_unlock(&s->mu);
    if (s->mode == HERMES_MODE_REALTIME && slack > 0)
        prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0, 0, 0);
    if (rc)
        return hermes__fail(rc, "%s", s->error);
    return 0;
}
