/* Scheduler create/destroy (backplane with the health signals, wires, modules, groups), staging, getters and the hook setters. */
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

/* Specs of the "hermes" signals: the fixed ones, step_time.<module> and
 * group_time.<n>. Names are allocated into @p names (nmods + ngroups). */
static int add_health_specs(hermes_scheduler_t *s, hermes_signal_spec_t *specs, uint32_t *n, char **names)
{
#define X(id, name, unit, type) {name, unit, HERMES_TYPE_##type},
    static const struct { const char *name, *unit; hermes_type_t type; } fixed[H_FIXED_COUNT] = {HEALTH_TABLE(X)};
#undef X
    for (uint32_t i = 0; i < H_FIXED_COUNT; i++)
        specs[(*n)++] = (hermes_signal_spec_t){HERMES_HEALTH_MODULE, fixed[i].name, fixed[i].type, fixed[i].unit,
                                               false, 0.0};
    for (uint32_t i = 0; i < s->nmods + s->ngroups; i++) {
        char buf[HERMES_MAX_NAME + 1];
        if (i < s->nmods)
            snprintf(buf, sizeof buf, "step_time.%s", s->mods[i].name);
        else
            snprintf(buf, sizeof buf, "group_time.%u", i - s->nmods);
        if (!(names[i] = hermes__strdup(buf)))
            return hermes__fail(HERMES_ENOMEM, "out of memory");
        specs[(*n)++] = (hermes_signal_spec_t){HERMES_HEALTH_MODULE, names[i], HERMES_TYPE_F64, "s", false, 0.0};
    }
    return 0;
}

static int build_backplane(hermes_scheduler_t *s, const hermes_scheduler_options_t *opt)
{
    uint32_t total = 0;
    for (uint32_t i = 0; i < s->nmods; i++)
        total += s->mods[i].signal_count;
    uint32_t nh = s->nmods + s->ngroups;
    uint32_t cap = total + H_FIXED_COUNT + nh;
    hermes_signal_spec_t *specs = calloc(cap, sizeof *specs);
    const char **modnames = calloc(s->nmods + 1, sizeof *modnames);
    char **hnames = calloc(nh + 1, sizeof *hnames);
    int rc = 0;
    if (!specs || !modnames || !hnames) {
        rc = hermes__fail(HERMES_ENOMEM, "out of memory");
        goto out;
    }
    s->initial_only = calloc(cap, sizeof *s->initial_only);
    if (!s->initial_only) {
        rc = hermes__fail(HERMES_ENOMEM, "out of memory");
        goto out;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->nmods; i++) {
        modnames[i] = s->mods[i].name;
        s->mods[i].first_signal = n;
        for (uint32_t j = 0; j < s->mods[i].signal_count; j++) {
            s->initial_only[n] = hermes__config_signal_initial_only(s->cfg, i, j);
            if ((rc = hermes_config_signal(s->cfg, i, j, &specs[n++])) != 0)
                goto out;
        }
    }
    modnames[s->nmods] = HERMES_HEALTH_MODULE;
    uint32_t first_health = n;
    if ((rc = add_health_specs(s, specs, &n, hnames)) != 0)
        goto out;

    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.run_name = opt ? opt->run_name : NULL;
    bc.signals = specs;
    bc.signal_count = n;
    bc.modules = modnames;
    bc.module_count = s->nmods + 1;
    if ((rc = hermes_backplane_create(&s->bp, &bc)) != 0)
        goto out;
    s->live = s->bp->live;
    for (uint32_t i = 0; i < H_FIXED_COUNT; i++)
        s->health[i] = &s->live[first_health + i];
    for (uint32_t i = 0; i < s->nmods; i++)
        s->mods[i].step_time = &s->live[first_health + H_FIXED_COUNT + i];
    for (uint32_t i = 0, g = 0; i < s->nsteps; i++)
        if (s->steps[i].count > 1)
            s->steps[i].time = &s->live[first_health + H_FIXED_COUNT + s->nmods + g++];
out:
    hermes__free_strv(hnames, nh);
    free(modnames);
    free(specs);
    return rc;
}

static int build_wires(hermes_scheduler_t *s)
{
    s->nwires = hermes_config_wire_count(s->cfg);
    s->wires = calloc(s->nwires ? s->nwires : 1, sizeof *s->wires);
    if (!s->wires)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < s->nwires; i++) {
        hermes_wire_info_t wi;
        hermes_signal_t a, b;
        int rc = hermes_config_wire(s->cfg, i, &wi);
        if (rc || (rc = hermes_backplane_find(s->bp, wi.src, &a)) || (rc = hermes_backplane_find(s->bp, wi.dst, &b)))
            return hermes__fail(HERMES_ECONFIG, "wire %u: %s", i, hermes_last_error());
        s->wires[i] = (struct wire){a.index, b.index, wi.gain, wi.offset,
                                    (hermes_type_t)s->bp->dir[b.index].type};
    }
    return 0;
}

static int open_modules(hermes_scheduler_t *s)
{
    for (uint32_t i = 0; i < s->nmods; i++) {
        struct hermes__module *m = &s->mods[i];
        int rc = 0;
        switch (m->type) {
        case HERMES_MODULE_INJECTION:
            break;  /* no dynamics: reset restores initial values, done by the scheduler */
        case HERMES_MODULE_INPROC:
            rc = hermes__inproc_open(m, s->cfg, s->bp);
            break;
        case HERMES_MODULE_PROCESS:
            rc = hermes__process_open(m, s->cfg, s->bp);
            break;
        case HERMES_MODULE_FMU:
            rc = hermes__fmu_module_open(m, s->cfg, s->bp);
            break;
        default:
            rc = hermes__fail(HERMES_ECONFIG, "module '%s' has no type", m->name);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Concurrent groups, after the modules are open (their type decides who
 * needs a worker thread). */
static int build_groups(hermes_scheduler_t *s)
{
    for (uint32_t i = 0; i < s->nsteps; i++) {
        struct step *st = &s->steps[i];
        if (st->count < 2)
            continue;
        int rc = hermes__group_create(&st->group, &s->sched[st->first], st->count, s->bp, s);
        if (rc)
            return rc;
    }
    return 0;
}

HERMES_API int hermes_scheduler_create(hermes_scheduler_t **out, const hermes_config_t *cfg,
                                       const hermes_scheduler_options_t *opt)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_scheduler_create: out is NULL");
    *out = NULL;
    if (!cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_scheduler_create: config is NULL");
    if (opt && opt->size == 0)
        return hermes__fail(HERMES_EINVAL, "hermes_scheduler_create: options not initialised "
                                           "(call hermes_scheduler_options_init)");
    hermes_error_t verr;
    if (hermes_config_validate(cfg, &verr) != 0)
        return hermes__fail(HERMES_ECONFIG, "%s", verr.message);

    hermes_scheduler_t *s = calloc(1, sizeof *s);
    if (!s)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    s->cfg = cfg;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv_req, &ca);
    pthread_cond_init(&s->cv_done, &ca);
    pthread_condattr_destroy(&ca);

    hermes_execution_t ex;
    hermes_config_execution(cfg, &ex);
    s->mode = ex.mode;
    s->rate_hz = ex.rate_hz;
    s->dt = 1.0 / ex.rate_hz;
    s->ns_per_frame = 1e9 / ex.rate_hz;
    s->end_frame = ex.has_end_time ? (uint64_t)ceil(ex.end_time * ex.rate_hz - 1e-9) : UINT64_MAX;
    s->start_paused = opt ? opt->start_paused : false;
    /* afap frames may take nanoseconds: time one frame in 64 to keep the clock
     * reads off the floor; paced modes time every frame. */
    s->sample_mask = ex.mode == HERMES_MODE_AFAP ? 63u : 0u;
    s->check_groups = hermes_config_check_groups(cfg);
    s->ckpt_replay = hermes_config_restore_replay(cfg);
    /* Spinning before a deadline needs a core besides the one it would take. */
    s->spin_ns = hermes__cpu_count() >= 2 ? (uint64_t)hermes_config_spin_us(cfg) * 1000u : 0;
    s->lat_win_frames = ex.rate_hz / LAT_WINDOWS >= 1.0 ? (uint32_t)(ex.rate_hz / LAT_WINDOWS) : 1u;

    int rc;
    s->nmods = hermes_config_module_count(cfg);
    s->mods = calloc(s->nmods ? s->nmods : 1, sizeof *s->mods);
    s->nsched = hermes_config_schedule_count(cfg);
    s->sched = calloc(s->nsched ? s->nsched : 1, sizeof *s->sched);
    s->steps = calloc(s->nsched ? s->nsched : 1, sizeof *s->steps);
    s->lat_hist = calloc(LAT_BINS, sizeof *s->lat_hist);
    if (!s->mods || !s->sched || !s->steps || !s->lat_hist) {
        rc = hermes__fail(HERMES_ENOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < s->nmods; i++) {
        hermes_module_info_t mi;
        hermes_config_module(cfg, i, &mi);
        s->mods[i].name = mi.name;
        s->mods[i].type = mi.type;
        s->mods[i].config_index = i;
        s->mods[i].fail = hermes__sched_post_failure;
        s->mods[i].fail_ctx = s;
        s->mods[i].finish = hermes__sched_post_stop;
        s->mods[i].signal_count = mi.signal_count;
    }
    for (uint32_t k = 0, prev = 0; k < s->nsched; k++) {
        uint32_t mi = 0, g = 0;
        hermes_config_schedule_at(cfg, k, &mi);
        hermes_config_schedule_group(cfg, k, &g);
        s->sched[k] = &s->mods[mi];
        if (k == 0 || g != prev)
            s->steps[s->nsteps++] = (struct step){s->sched[k], NULL, NULL, k, 0};
        struct step *st = &s->steps[s->nsteps - 1];
        if (++st->count == 2) {
            st->m = NULL;
            s->ngroups++;
        }
        prev = g;
    }
    /* Segments of runs whose owner died (SIGKILL, power loss) are removed
     * here, so they never pile up in /dev/shm. */
    (void)hermes_backplane_sweep(true, NULL, NULL);
    if ((rc = build_backplane(s, opt)) != 0 || (rc = build_wires(s)) != 0 || (rc = open_modules(s)) != 0 ||
        (rc = hermes__rates_init(s->mods, s->nmods, cfg)) != 0 || (rc = build_groups(s)) != 0)
        goto fail;
    hermes__sched_set_state(s, HERMES_STATE_IDLE);
    hermes__log(HERMES_LOG_INFO, "scheduler", "event=created run=%s modules=%u signals=%u mode=%s rate_hz=%g",
                hermes_backplane_name(s->bp), s->nmods, hermes_backplane_count(s->bp), hermes_mode_name(s->mode),
                s->rate_hz);
    *out = s;
    return 0;
fail:
    {
        hermes__error_saved_t e;
        hermes__error_save(&e);
        hermes_scheduler_destroy(s);
        return hermes__error_restore(rc, &e);
    }
}

HERMES_API void hermes_scheduler_destroy(hermes_scheduler_t *s)
{
    if (!s)
        return;
    if (s->steps)
        for (uint32_t i = 0; i < s->nsteps; i++)
            hermes__group_destroy(s->steps[i].group);
    /* Terminate in reverse schedule order so consumers go before producers. */
    if (s->sched)
        for (uint32_t k = s->nsched; k-- > 0;)
            if (s->sched[k]->terminate)
                s->sched[k]->terminate(s->sched[k]);
    free(s->sched);
    free(s->steps);
    free(s->lat_hist);
    free(s->mods);
    free(s->wires);
    hermes__sched_checkpoints_free(s);
    free(s->initial_only);
    hermes_backplane_destroy(s->bp);
    pthread_cond_destroy(&s->cv_req);
    pthread_cond_destroy(&s->cv_done);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

HERMES_API hermes_backplane_t *hermes_scheduler_backplane(hermes_scheduler_t *s) { return s ? s->bp : NULL; }

HERMES_API const hermes_config_t *hermes_scheduler_config(const hermes_scheduler_t *s) { return s ? s->cfg : NULL; }

HERMES_API int hermes_scheduler_set_listener(hermes_scheduler_t *s, hermes_listener_fn fn, void *ctx)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "scheduler is NULL");
    pthread_mutex_lock(&s->mu);
    int busy = s->in_run;
    if (!busy) {
        s->listener = fn;
        s->listener_ctx = ctx;
    }
    pthread_mutex_unlock(&s->mu);
    return busy ? hermes__fail(HERMES_ESTATE, "cannot change the listener while run() is active") : 0;
}

HERMES_API int hermes_scheduler_stage(hermes_scheduler_t *s)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "scheduler is NULL");
    pthread_mutex_lock(&s->mu);
    if (s->staged || s->in_run) {
        pthread_mutex_unlock(&s->mu);
        return hermes__fail(HERMES_ESTATE, "already staged");
    }
    s->frame = 0;
    hermes__sched_mu_held_here = s;
    int rc = hermes__sched_stage_all(s);
    hermes__sched_mu_held_here = NULL;
    if (rc == 0) {
        s->staged = true;
        hermes__sched_set_state(s, HERMES_STATE_PAUSED);
    }
    pthread_mutex_unlock(&s->mu);
    return rc ? hermes__sched_fail_run(s, rc) : 0;
}

HERMES_API hermes_state_t hermes_scheduler_state(const hermes_scheduler_t *s)
{
    return s ? hermes__sched_get_state(s) : HERMES_STATE_IDLE;
}

HERMES_API uint64_t hermes_scheduler_frame(const hermes_scheduler_t *s)
{
    return s ? atomic_load_explicit(&((hermes_scheduler_t *)s)->pub_frame, memory_order_acquire) : 0;
}

HERMES_API const char *hermes_scheduler_error(const hermes_scheduler_t *s) { return s ? s->error : ""; }

HERMES_API const char *hermes_scheduler_stop_reason(const hermes_scheduler_t *s)
{
    return s && s->stop_taken ? s->stop_msg : NULL;
}

/* Hooks change only while no thread is inside run(); returns with `mu` held on success. */
static int lock_idle(hermes_scheduler_t *s)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "scheduler is NULL");
    pthread_mutex_lock(&s->mu);
    if (s->in_run) {
        pthread_mutex_unlock(&s->mu);
        return hermes__fail(HERMES_ESTATE, "cannot change a hook while run() is active");
    }
    return 0;
}

HERMES_API int hermes_scheduler_set_frame_hook(hermes_scheduler_t *s, hermes_frame_hook_fn fn, void *ctx)
{
    int rc = lock_idle(s);
    if (rc == 0) {
        s->frame_hook = fn;
        s->frame_ctx = ctx;
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}

HERMES_API int hermes_scheduler_set_command_hook(hermes_scheduler_t *s, hermes_command_hook_fn fn, void *ctx)
{
    int rc = lock_idle(s);
    if (rc == 0) {
        s->cmd_hook = fn;
        s->cmd_ctx = ctx;
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}

HERMES_API int hermes_scheduler_set_event_hook(hermes_scheduler_t *s, hermes_listener_fn fn, void *ctx)
{
    int rc = lock_idle(s);
    if (rc == 0) {
        s->event_hook = fn;
        s->event_ctx = ctx;
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}

HERMES_API int hermes_scheduler_set_boundary_hook(hermes_scheduler_t *s, hermes_boundary_hook_fn fn, void *ctx)
{
    int rc = lock_idle(s);
    if (rc == 0) {
        s->boundary_hook = fn;
        s->boundary_ctx = ctx;
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}
