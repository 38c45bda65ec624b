/* One scheduler frame: modules due in schedule order, wires, publish; stage, reset, events, state and the journal and frame hooks. */
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
#include "checkpoint/format.h"
#include "scheduler/internal.h"

HERMES_API const char *hermes_state_name(hermes_state_t st)
{
#define X(name, value, text) case HERMES_STATE_##name: return text;
    switch (st) {
    HERMES_STATE_TABLE(X)
    }
#undef X
    return "unknown";
}

HERMES_API const char *hermes_event_name(hermes_event_t ev)
{
#define X(name, value, text) case HERMES_EVENT_##name: return text;
    switch (ev) {
    HERMES_EVENT_TABLE(X)
    }
#undef X
    return "none";
}

/* Set while this thread runs modules with `mu` held (stage, and step or
 * reset without run()): a fail callback on this thread (a process module
 * that died right after answering) must not lock `mu` again. */
_Thread_local const hermes_scheduler_t *hermes__sched_mu_held_here;

void hermes__sched_emit(hermes_scheduler_t *s, hermes_event_t ev, const char *detail)
{
    publish_flush(s);  /* listeners read the frame the event is about */
    hermes__log(ev == HERMES_EVENT_ERROR ? HERMES_LOG_ERROR : HERMES_LOG_INFO, "scheduler",
                "event=%s frame=%llu%s%s", hermes_event_name(ev), (unsigned long long)s->frame,
                !detail ? "" : ev == HERMES_EVENT_ERROR ? " error=" : " reason=", detail ? detail : "");
    if (s->listener)
        s->listener(s->listener_ctx, ev, s->frame, detail);
    if (s->event_hook)
        s->event_hook(s->event_ctx, ev, s->frame, detail);
}

/* Frame hook after a publish; an error becomes the run's error. */
static int call_frame_hook(hermes_scheduler_t *s, hermes_frame_kind_t kind)
{
    if (!s->frame_hook)
        return 0;
    s->in_frame_hook = true;
    int rc = s->frame_hook(s->frame_ctx, s->frame, s->ticks, kind);
    s->in_frame_hook = false;
    if (rc) {
        hermes__strlcpy(s->error, hermes_last_error(), sizeof s->error);
        return rc < 0 ? rc : HERMES_EINVAL;
    }
    return 0;
}

/* `restore: replay`: the journal a checkpoint holds (lib/scheduler/checkpoint.c). */
void hermes__sched_journal_note(hermes_scheduler_t *s, hermes_command_kind_t kind, uint32_t index, double value,
                                uint64_t frame)
{
    if (s->njr == s->capjr) {
        uint32_t cap = s->capjr ? s->capjr * 2 : 64;
        struct hermes__ckpt_jentry *n = realloc(s->jr, cap * sizeof *n);
        if (!n) {
            s->ckpt_replay_lost = true;  /* a checkpoint then fails: its journal would be incomplete */
            return;
        }
        s->jr = n;
        s->capjr = cap;
    }
    s->jr[s->njr++] = (struct hermes__ckpt_jentry){(uint32_t)kind, index, value, frame};
}

/* @p frame: the frame the run showed when the command took effect (before a reset). */
void hermes__sched_call_cmd_hook(hermes_scheduler_t *s, hermes_command_kind_t kind, uint32_t index, double value,
                          uint64_t count, uint64_t frame)
{
    if (s->ckpt_replay && (kind == HERMES_COMMAND_SET || kind == HERMES_COMMAND_RESET))
        hermes__sched_journal_note(s, kind, index, value, frame);
    if (!s->cmd_hook)
        return;
    hermes_run_command_t c = {kind, {index, s->bp->tag}, value, count};
    s->cmd_hook(s->cmd_ctx, &c, frame, s->ticks);
}

void hermes__sched_journal_ctl(hermes_scheduler_t *s, const struct ctl_req *r, uint64_t frame)
{
    static const hermes_command_kind_t kinds[] = {
        [REQ_PAUSE] = HERMES_COMMAND_PAUSE, [REQ_RESUME] = HERMES_COMMAND_RESUME, [REQ_RESET] = HERMES_COMMAND_RESET,
        [REQ_STEP] = HERMES_COMMAND_STEP,   [REQ_STOP] = HERMES_COMMAND_STOP,
    };
    if (r->type != REQ_SET && r->type != REQ_FAIL && r->type != REQ_CHECKPOINT)
        hermes__sched_call_cmd_hook(s, kinds[r->type], 0, 0.0, r->type == REQ_STEP ? r->count : 0, frame);
}

void hermes__sched_set_state(hermes_scheduler_t *s, hermes_state_t st)
{
    atomic_store_explicit(&s->state, (int)st, memory_order_release);
}

hermes_state_t hermes__sched_get_state(const hermes_scheduler_t *s)
{
    return (hermes_state_t)atomic_load_explicit(&((hermes_scheduler_t *)s)->state, memory_order_acquire);
}

/* Apply every wire once; returns 0 or an error recorded in s->error. */
static int apply_wires(hermes_scheduler_t *s)
{
    double *live = s->live;
    for (uint32_t i = 0; i < s->nwires; i++) {
        const struct wire *w = &s->wires[i];
        double v = live[w->src] * w->gain + w->offset;
        if (w->dst_type != HERMES_TYPE_F64 && hermes_type_check(w->dst_type, v) != 0) {
            snprintf(s->error, sizeof s->error,
                     "wire %s -> %s produced %.17g at frame %llu, which does not fit %s", s->bp->dir[w->src].name,
                     s->bp->dir[w->dst].name, v, (unsigned long long)s->frame, hermes_type_name(w->dst_type));
            return HERMES_EMODULE;
        }
        live[w->dst] = v;
    }
    return 0;
}

static int module_failed(hermes_scheduler_t *s, struct hermes__module *m, const char *what)
{
    snprintf(s->error, sizeof s->error, "module '%s' %s failed at frame %llu: %s", m->name, what,
             (unsigned long long)s->frame, m->errbuf[0] ? m->errbuf : "(no message)");
    return HERMES_EMODULE;
}

/* One frame: modules in schedule order, wires, advance, publish. */
int hermes__sched_do_frame(hermes_scheduler_t *s)
{
    const uint64_t f = s->frame;
    const bool sample = (f & s->sample_mask) == 0;
    uint64_t t0 = 0;
    if (sample)
        t0 = hermes__now_ns();
    const double dt = s->dt;
    for (const struct step *st = s->steps, *end = st + s->nsteps; st < end; st++) {
        struct hermes__module *m = st->m;
        if (m) {
            if (!m->step || !hermes__rate_take(m, f))
                continue;   /* no dynamics, or not its frame: no call, no wake-up */
            const bool timed = sample || m->rate_div > 1;   /* a slower module's every step is timed */
            uint64_t ts = timed ? hermes__now_ns() : 0;
            if (m->step(m->state, f, m->rate_dt) != 0)
                return module_failed(s, m, "step");
            if (timed)
                *m->step_time = (double)(hermes__now_ns() - ts) * 1e-9;
            continue;
        }
        unsigned due = hermes__rates_take_members(&s->sched[st->first], st->count, f);
        if (!due)
            continue;   /* no member due: the group costs nothing */
        const bool timed = sample || (due & HERMES__RATES_SLOW_DUE);
        uint64_t ts = timed ? hermes__now_ns() : 0;
        int who = s->check_groups ? hermes__group_check_step(st->group, f, dt, timed)
                                  : hermes__group_step(st->group, f, dt, timed);
        if (who >= 0)
            return module_failed(s, s->sched[st->first + (uint32_t)who], "step");
        if (timed)
            *st->time = (double)(hermes__now_ns() - ts) * 1e-9;
    }
    int rc = apply_wires(s);
    if (rc)
        return rc;
    s->frame = f + 1;
    s->ticks++;
    if (sample)
        hermes__sched_update_health(s, t0, hermes__now_ns());
    if (s->pub_lazy)
        publish_lazy(s);
    else
        publish(s);
    return call_frame_hook(s, HERMES_FRAME_COMPUTED);
}

static void restore_initials(hermes_scheduler_t *s)
{
    for (uint32_t i = 0; i < s->nmods; i++)
        for (uint32_t j = 0; j < s->mods[i].signal_count; j++) {
            uint32_t k = s->mods[i].first_signal + j;
            s->live[k] = s->bp->dir[k].initial;
        }
}

/* Run every scheduled module's reset (@p reset) or stage hook, in schedule
 * order; the first failure stops it. */
static int call_modules(hermes_scheduler_t *s, bool reset)
{
    for (uint32_t i = 0; i < s->nsched; i++) {
        struct hermes__module *m = s->sched[i];
        int (*hook)(struct hermes__module *) = reset ? m->reset : m->stage;
        m->errbuf[0] = '\0';
        if (hook && hook(m) != 0)
            return module_failed(s, m, reset ? "reset" : "stage");
    }
    return 0;
}

int hermes__sched_stage_all(hermes_scheduler_t *s)
{
    hermes__rates_rewind(s->mods, s->nmods);  /* frame 0 again */
    /* Wires first, from the initial values, so a module's stage (an FMU's
     * initialisation) sees its wired inputs; again after the stages, which
     * may change their outputs. */
    int rc = apply_wires(s);
    if (rc == 0)
        rc = call_modules(s, false);
    if (rc == 0)
        rc = apply_wires(s);
    if (rc)
        return rc;
    publish(s);
    return call_frame_hook(s, HERMES_FRAME_STAGED);
}

int hermes__sched_reset_all(hermes_scheduler_t *s)
{
    int rc = call_modules(s, true);
    if (rc)
        return rc;
    s->frame = 0;
    s->steps_pending = 0;
    restore_initials(s);
    return hermes__sched_stage_all(s);
}

int hermes__sched_fail_run(hermes_scheduler_t *s, int rc)
{
    hermes__sched_set_state(s, HERMES_STATE_ERROR);
    hermes__fail(rc, "%s", s->error);
    hermes__sched_emit(s, HERMES_EVENT_ERROR, s->error);
    return rc;
}

int hermes__sched_call_boundary_hook(hermes_scheduler_t *s)
{
    s->in_boundary = true;
    int rc = s->boundary_hook(s->boundary_ctx, s, s->frame, s->ticks);
    s->in_boundary = false;
    if (rc) {
        hermes__strlcpy(s->error, hermes_last_error(), sizeof s->error);
        return rc < 0 ? rc : HERMES_EINVAL;
    }
    return 0;
}
