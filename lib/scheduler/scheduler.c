/* Lockstep scheduler. Threading model:
 *  - run() owns the frame loop on the calling thread (the scheduler thread).
 *  - Other threads post requests into one FIFO under `mu`; the loop drains it
 *    at frame boundaries only. Control requests (pause, resume, reset, step,
 *    stop) live on the caller's stack and the caller waits until the loop has
 *    applied them, so acks are truthful; sets are stored by value and are
 *    fire-and-forget. A single relaxed atomic flag keeps the no-request path
 *    of the frame loop free of locks.
 *  - Realtime pacing waits on the request condition variable with an
 *    absolute CLOCK_MONOTONIC deadline, so a request never waits for a sleep
 *    (then optionally busy-waits the last spin_us), and records every
 *    frame's lateness.
 *  - A schedule group is stepped by lib/scheduler/group.c (its worker threads
 *    call only module step functions; their control calls are refused like
 *    the scheduler thread's own).
 *  - With no thread in run(), control calls execute in the caller's thread
 *    under `mu`. */
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
#include "common/util.h"

enum req_type { REQ_SET, REQ_PAUSE, REQ_RESUME, REQ_RESET, REQ_STEP, REQ_STOP, REQ_FAIL };

struct ctl_req {
    enum req_type type;
    uint64_t      count;
    uint64_t      target;
    int           result;
    bool          done;
    char          msg[256];
};

struct req {
    enum req_type   type;
    struct ctl_req *ctl;    /* control requests */
    uint32_t        index;  /* set */
    double          value;  /* set */
};

#define QUEUE_CAP 4096u

struct wire {
    uint32_t      src, dst;
    double        gain, offset;
    hermes_type_t dst_type;  /* HERMES_TYPE_F64: no check needed */
};

/* Fixed health signals of module "hermes": name, unit, type. */
#define HEALTH_TABLE(X)                             \
    X(H_FRAME_TIME,   "frame_time",   "s", F64)     \
    X(H_RTF,          "rtf",          "",  F64)     \
    X(H_OVERRUNS,     "overruns",     "",  I64)     \
    X(H_LATENESS,     "lateness",     "s", F64)     \
    X(H_WALL_TIME,    "wall_time",    "s", F64)     \
    X(H_LATENESS_MAX, "lateness_max", "s", F64)

#define X(id, name, unit, type) id,
enum { HEALTH_TABLE(X) H_FIXED_COUNT };
#undef X

/* One schedule entry: a module alone, or a group stepped concurrently. */
struct step {
    struct hermes__module *m;            /* a module alone (NULL for a group) */
    struct hermes__group  *group;        /* count >= 2 */
    double                *time;         /* live slot of hermes.group_time.<n>, groups only */
    uint32_t               first, count; /* range of s->sched */
};

/* Realtime lateness: the last value, a windowed maximum over LAT_WINDOWS
 * sub-windows of a tenth of a second, and a log-linear histogram (LAT_SUB
 * bins per octave, exact below 2 * LAT_SUB ns) for percentiles. */
#define LAT_WINDOWS 10u
#define LAT_SUB_BITS 5u
#define LAT_SUB (1u << LAT_SUB_BITS)
#define LAT_BINS (2u * LAT_SUB + (64u - LAT_SUB_BITS - 1u) * LAT_SUB)

struct hermes_scheduler {
    const hermes_config_t *cfg;
    hermes_backplane_t    *bp;
    double                *live;

    struct hermes__module *mods;      /* config order */
    uint32_t               nmods;
    struct hermes__module **sched;    /* schedule order */
    uint32_t               nsched;
    struct step           *steps;     /* schedule entries: single modules and groups */
    uint32_t               nsteps, ngroups;
    bool                   check_groups;
    struct wire           *wires;
    uint32_t               nwires;

    hermes_mode_t mode;
    double        rate_hz, dt, ns_per_frame;
    uint64_t      end_frame;          /* UINT64_MAX: none */
    bool          start_paused;
    uint64_t      sample_mask;        /* timing sampled when (frame & mask) == 0 */

    /* Frame state: written by the thread executing frames only. */
    uint64_t frame;
    uint64_t steps_pending;
    double  *health[H_FIXED_COUNT];
    uint64_t overruns;
    uint64_t spin_ns;                 /* realtime: busy-wait this long before a deadline */
    uint64_t lat_win[LAT_WINDOWS];    /* max lateness (ns) of each recent sub-window */
    uint64_t lat_cur;                 /* max of the current sub-window */
    uint32_t lat_frames, lat_win_frames, lat_wi;
    uint64_t lat_count, lat_max;
    uint64_t *lat_hist;               /* LAT_BINS counters */
    uint64_t win_frame, win_wall;     /* rtf window start */
    uint64_t run_wall_ns;             /* wall time spent running */
    uint64_t epoch_ns;  uint64_t epoch_frame;  /* realtime pacing */

    _Atomic int      state;
    _Atomic uint64_t pub_frame;
    _Atomic int      pending;         /* queue non-empty */

    pthread_mutex_t mu;
    pthread_cond_t  cv_req;           /* loop waits for requests (CLOCK_MONOTONIC) */
    pthread_cond_t  cv_done;          /* callers wait for their request */
    struct req      queue[QUEUE_CAP];
    uint32_t        qhead, qlen;
    bool            in_run;
    pthread_t       run_thread;       /* valid while in_run */
    bool            stop_self;        /* stop() called on the scheduler thread itself */
    bool            staged;
    bool            async_failed;     /* async_msg taken: copied to error (frame thread only) */
    char            async_msg[768];   /* its message, under mu (error belongs to the frame thread) */

    hermes_listener_fn listener;
    void              *listener_ctx;
    char               error[768];

    /* Hooks (recorder, rerun): set while run() is not active. */
    uint64_t                ticks;        /* frames computed since stage */
    hermes_frame_hook_fn    frame_hook;
    void                   *frame_ctx;
    hermes_command_hook_fn  cmd_hook;
    void                   *cmd_ctx;
    hermes_listener_fn      event_hook;
    void                   *event_ctx;
    hermes_boundary_hook_fn boundary_hook;
    void                   *boundary_ctx;
    bool                    in_boundary;  /* scheduler thread inside the boundary hook */
};

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

static void post_failure(void *ctx, const char *msg);

/* Set while this thread runs modules with `mu` held (stage, and step or
 * reset without run()): a fail callback on this thread (a process module
 * that died right after answering) must not lock `mu` again. */
static _Thread_local const hermes_scheduler_t *mu_held_here;

static inline uint64_t time_of(const hermes_scheduler_t *s, uint64_t frame)
{
    return (uint64_t)llround((double)frame * s->ns_per_frame);
}

static void emit(hermes_scheduler_t *s, hermes_event_t ev, const char *detail)
{
    hermes__log(ev == HERMES_EVENT_ERROR ? HERMES_LOG_ERROR : HERMES_LOG_INFO, "scheduler",
                "event=%s frame=%llu%s%s", hermes_event_name(ev), (unsigned long long)s->frame,
                detail ? " error=" : "", detail ? detail : "");
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
    int rc = s->frame_hook(s->frame_ctx, s->frame, s->ticks, kind);
    if (rc) {
        hermes__strlcpy(s->error, hermes_last_error(), sizeof s->error);
        return rc < 0 ? rc : HERMES_EINVAL;
    }
    return 0;
}

/* @p frame: the frame the run showed when the command took effect (before a reset). */
static void call_cmd_hook(hermes_scheduler_t *s, hermes_command_kind_t kind, uint32_t index, double value,
                          uint64_t count, uint64_t frame)
{
    if (!s->cmd_hook)
        return;
    hermes_run_command_t c = {kind, {index, s->bp->tag}, value, count};
    s->cmd_hook(s->cmd_ctx, &c, frame, s->ticks);
}

static void journal_ctl(hermes_scheduler_t *s, const struct ctl_req *r, uint64_t frame)
{
    static const hermes_command_kind_t kinds[] = {
        [REQ_PAUSE] = HERMES_COMMAND_PAUSE, [REQ_RESUME] = HERMES_COMMAND_RESUME, [REQ_RESET] = HERMES_COMMAND_RESET,
        [REQ_STEP] = HERMES_COMMAND_STEP,   [REQ_STOP] = HERMES_COMMAND_STOP,
    };
    if (r->type != REQ_SET && r->type != REQ_FAIL)
        call_cmd_hook(s, kinds[r->type], 0, 0.0, r->type == REQ_STEP ? r->count : 0, frame);
}

static void set_state(hermes_scheduler_t *s, hermes_state_t st)
{
    atomic_store_explicit(&s->state, (int)st, memory_order_release);
}

static hermes_state_t get_state(const hermes_scheduler_t *s)
{
    return (hermes_state_t)atomic_load_explicit(&((hermes_scheduler_t *)s)->state, memory_order_acquire);
}

static void publish(hermes_scheduler_t *s)
{
    hermes_backplane_publish(s->bp, s->frame, time_of(s, s->frame));
    atomic_store_explicit(&s->pub_frame, s->frame, memory_order_release);
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

static void update_health(hermes_scheduler_t *s, uint64_t t0, uint64_t t1)
{
    *s->health[H_FRAME_TIME] = (double)(t1 - t0) * 1e-9;
    uint64_t dw = t1 - s->win_wall;
    if (s->win_wall && dw > 0 && s->frame > s->win_frame) {
        s->run_wall_ns += dw;
        *s->health[H_RTF] = (double)(s->frame - s->win_frame) * s->dt / ((double)dw * 1e-9);
    }
    s->win_wall = t1;
    s->win_frame = s->frame;
    *s->health[H_OVERRUNS] = (double)s->overruns;
    *s->health[H_WALL_TIME] = (double)s->run_wall_ns * 1e-9;
}

static unsigned lat_bin(uint64_t ns)
{
    if (ns < 2u * LAT_SUB)
        return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns);  /* >= LAT_SUB_BITS + 1 */
    unsigned sub = (unsigned)(ns >> (e - LAT_SUB_BITS)) & (LAT_SUB - 1u);
    return 2u * LAT_SUB + (e - LAT_SUB_BITS - 1u) * LAT_SUB + sub;
}

/* Middle of bin @p b in ns. */
static double lat_bin_value(unsigned b)
{
    if (b < 2u * LAT_SUB)
        return (double)b;
    unsigned e = (b - 2u * LAT_SUB) / LAT_SUB + LAT_SUB_BITS + 1u, sub = (b - 2u * LAT_SUB) % LAT_SUB;
    double width = ldexp(1.0, (int)(e - LAT_SUB_BITS));
    return (double)(LAT_SUB + sub) * width + width / 2;
}

/* Realtime: record the lateness of the frame about to start and publish it
 * in hermes.lateness and hermes.lateness_max (this frame's values). */
static void note_lateness(hermes_scheduler_t *s, uint64_t ns)
{
    s->lat_hist[lat_bin(ns)]++;
    s->lat_count++;
    if (ns > s->lat_max)
        s->lat_max = ns;
    if (ns > s->lat_cur)
        s->lat_cur = ns;
    uint64_t wmax = s->lat_cur;
    for (uint32_t i = 0; i < LAT_WINDOWS; i++)
        if (s->lat_win[i] > wmax)
            wmax = s->lat_win[i];
    if (++s->lat_frames >= s->lat_win_frames) {
        s->lat_win[s->lat_wi] = s->lat_cur;
        s->lat_wi = (s->lat_wi + 1) % LAT_WINDOWS;
        s->lat_cur = 0;
        s->lat_frames = 0;
    }
    *s->health[H_LATENESS] = (double)ns * 1e-9;
    *s->health[H_LATENESS_MAX] = (double)wmax * 1e-9;
}

/* One frame: modules in schedule order, wires, advance, publish. */
static int do_frame(hermes_scheduler_t *s)
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
            if (!m->step)
                continue;
            uint64_t ts = sample ? hermes__now_ns() : 0;
            if (m->step(m->state, f, dt) != 0)
                return module_failed(s, m, "step");
            if (sample)
                *m->step_time = (double)(hermes__now_ns() - ts) * 1e-9;
            continue;
        }
        uint64_t ts = sample ? hermes__now_ns() : 0;
        int who = s->check_groups ? hermes__group_check_step(st->group, f, dt, sample)
                                  : hermes__group_step(st->group, f, dt, sample);
        if (who >= 0)
            return module_failed(s, s->sched[st->first + (uint32_t)who], "step");
        if (sample)
            *st->time = (double)(hermes__now_ns() - ts) * 1e-9;
    }
    int rc = apply_wires(s);
    if (rc)
        return rc;
    s->frame = f + 1;
    s->ticks++;
    if (sample)
        update_health(s, t0, hermes__now_ns());
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

static int stage_all(hermes_scheduler_t *s)
{
    int rc = call_modules(s, false);
    if (rc == 0)
        rc = apply_wires(s);
    if (rc)
        return rc;
    publish(s);
    return call_frame_hook(s, HERMES_FRAME_STAGED);
}

static int reset_all(hermes_scheduler_t *s)
{
    int rc = call_modules(s, true);
    if (rc)
        return rc;
    s->frame = 0;
    s->steps_pending = 0;
    restore_initials(s);
    return stage_all(s);
}

static int fail_run(hermes_scheduler_t *s, int rc)
{
    set_state(s, HERMES_STATE_ERROR);
    hermes__fail(rc, "%s", s->error);
    emit(s, HERMES_EVENT_ERROR, s->error);
    return rc;
}

/* ---- creation ---------------------------------------------------------- */

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
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->nmods; i++) {
        modnames[i] = s->mods[i].name;
        s->mods[i].first_signal = n;
        for (uint32_t j = 0; j < s->mods[i].signal_count; j++)
            if ((rc = hermes_config_signal(s->cfg, i, j, &specs[n++])) != 0)
                goto out;
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
        s->mods[i].fail = post_failure;
        s->mods[i].fail_ctx = s;
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
        (rc = build_groups(s)) != 0)
        goto fail;
    set_state(s, HERMES_STATE_IDLE);
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
    mu_held_here = s;
    int rc = stage_all(s);
    mu_held_here = NULL;
    if (rc == 0) {
        s->staged = true;
        set_state(s, HERMES_STATE_PAUSED);
    }
    pthread_mutex_unlock(&s->mu);
    return rc ? fail_run(s, rc) : 0;
}

/* ---- requests ------------------------------------------------------------ */

/* Apply one control request on the frame-executing thread. Returns the event
 * to emit (or NONE). Called without `mu`. */
static hermes_event_t apply_ctl(hermes_scheduler_t *s, struct ctl_req *r)
{
    hermes_state_t st = get_state(s);
    r->result = 0;
    switch (r->type) {
    case REQ_PAUSE:
        if (st == HERMES_STATE_RUNNING) {
            set_state(s, HERMES_STATE_PAUSED);
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
            set_state(s, HERMES_STATE_RUNNING);
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
        if (reset_all(s) != 0) {
            r->result = HERMES_EMODULE;
            hermes__strlcpy(r->msg, s->error, sizeof r->msg);
            set_state(s, HERMES_STATE_ERROR);
            return HERMES_EVENT_ERROR;
        }
        set_state(s, HERMES_STATE_PAUSED);
        return HERMES_EVENT_RESET;
    case REQ_STOP:
        if (st == HERMES_STATE_STOPPED || st == HERMES_STATE_ERROR)
            return HERMES_EVENT_NONE;
        set_state(s, HERMES_STATE_STOPPED);
        return HERMES_EVENT_STOPPED;
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
static void take_async_failure(hermes_scheduler_t *s)
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
static void drain(hermes_scheduler_t *s)
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
            call_cmd_hook(s, HERMES_COMMAND_SET, q.index, q.value, 0, s->frame);
            continue;
        }
        if (q.type == REQ_FAIL)
            continue;  /* only wakes the loop: async_msg is taken below */
        pthread_mutex_unlock(&s->mu);
        uint64_t f0 = s->frame;
        hermes_event_t ev = apply_ctl(s, q.ctl);
        if (q.ctl->result == 0)
            journal_ctl(s, q.ctl, f0);
        if (ev != HERMES_EVENT_NONE)
            emit(s, ev, ev == HERMES_EVENT_ERROR ? s->error : NULL);
        if (q.type == REQ_RESET)
            changed = false;  /* reset published its own frame */
        pthread_mutex_lock(&s->mu);
        q.ctl->done = true;
        pthread_cond_broadcast(&s->cv_done);
    }
    if (s->async_msg[0])
        take_async_failure(s);
    bool stop_self = s->stop_self;
    s->stop_self = false;
    atomic_store_explicit(&s->pending, 0, memory_order_relaxed);
    pthread_mutex_unlock(&s->mu);
    if (stop_self && get_state(s) != HERMES_STATE_STOPPED && get_state(s) != HERMES_STATE_ERROR) {
        set_state(s, HERMES_STATE_STOPPED);
        emit(s, HERMES_EVENT_STOPPED, NULL);
    }
    /* Between frames (paused, or at a boundary): make set values visible now. */
    if (changed && get_state(s) != HERMES_STATE_RUNNING)
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
            set_state(s, HERMES_STATE_STOPPED);
            emit(s, HERMES_EVENT_STOPPED, NULL);
            break;
        }
        int rc = do_frame(s);
        s->steps_pending--;
        if (rc)
            return rc;
    }
    return 0;
}

static int control(hermes_scheduler_t *s, enum req_type type, uint64_t count, uint64_t *target)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "scheduler is NULL");
    struct ctl_req r = {type, count, 0, 0, false, {0}};
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
    } else if (s->async_msg[0] && get_state(s) != HERMES_STATE_ERROR) {
        take_async_failure(s);
        pthread_mutex_unlock(&s->mu);
        return fail_run(s, HERMES_EMODULE);
    } else {
        /* No scheduler thread: apply here, still one at a time. */
        uint64_t f0 = s->frame;
        mu_held_here = s;
        hermes_event_t ev = apply_ctl(s, &r);
        rc = r.result;
        if (rc == 0)
            journal_ctl(s, &r, f0);
        int frc = 0;
        if (rc == 0 && type == REQ_STEP)
            frc = run_steps_sync(s);
        mu_held_here = NULL;
        pthread_mutex_unlock(&s->mu);
        if (ev != HERMES_EVENT_NONE)
            emit(s, ev, ev == HERMES_EVENT_ERROR ? s->error : NULL);
        if (rc)
            return hermes__fail(rc, "%s", r.msg);
        if (frc)
            return fail_run(s, frc);
    }
    if (rc == 0 && target)
        *target = r.target;
    return rc;
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
        set_state(s, HERMES_STATE_STOPPED);
        return 0;
    }
    return control(s, REQ_STOP, 0, NULL);
}

/* Whether @p value may be set into @p sig from outside: 0, or the code of
 * hermes__fail() (unknown id, not writable, driven by a wire, wrong type). */
static int set_check(const hermes_scheduler_t *s, hermes_signal_t sig, double value)
{
    if (sig.tag != s->bp->tag || sig.index >= s->bp->count)
        return hermes__fail(HERMES_ENOENT, "invalid signal id (index %u)", sig.index);
    const struct hermes_shm_signal *d = &s->bp->dir[sig.index];
    if (!d->writable)
        return hermes__fail(HERMES_EREADONLY, "signal '%s' is not writable", d->name);
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
        call_cmd_hook(s, HERMES_COMMAND_SET, sig.index, value, 0, s->frame);
        if (s->staged)
            publish(s);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The modules' `fail` callback (module_internal.h): any thread. The message
 * waits in async_msg; while run() is active a request wakes the loop, which
 * takes it at its next drain; otherwise the next control call or run()
 * reports it. */
static void post_failure(void *ctx, const char *msg)
{
    hermes_scheduler_t *s = ctx;
    bool held = mu_held_here == s;
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

/* ---- the loop -------------------------------------------------------------- */

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
    note_lateness(s, now - due);
    /* More than a period behind (the overrun was counted when that frame
     * finished): restart the epoch instead of running a catch-up burst. */
    if (now - due > (uint64_t)s->ns_per_frame) {
        s->epoch_ns = now;
        s->epoch_frame = s->frame;
    }
    return true;
}

static int call_boundary_hook(hermes_scheduler_t *s)
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
    hermes_state_t st0 = get_state(s);
    if (!s->staged || s->in_run || st0 == HERMES_STATE_ERROR || st0 == HERMES_STATE_STOPPED) {
        pthread_mutex_unlock(&s->mu);
        return hermes__fail(HERMES_ESTATE, "run() needs a staged scheduler that is not running, stopped or failed "
                                           "(state %s)", hermes_state_name(st0));
    }
    s->in_run = true;
    s->run_thread = pthread_self();
    if (s->async_msg[0])
        take_async_failure(s);
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
        set_state(s, HERMES_STATE_RUNNING);
        emit(s, HERMES_EVENT_RUNNING, NULL);
    }

    int rc = 0;
    for (;;) {
        if (s->boundary_hook && (rc = call_boundary_hook(s)) != 0)
            break;
        if (atomic_load_explicit(&s->pending, memory_order_relaxed))
            drain(s);
        if (s->async_failed) {
            rc = HERMES_EMODULE;
            break;
        }
        hermes_state_t st = get_state(s);
        if (st == HERMES_STATE_STOPPED || st == HERMES_STATE_ERROR)
            break;
        if (s->frame >= s->end_frame && (st == HERMES_STATE_RUNNING || s->steps_pending)) {
            s->steps_pending = 0;
            set_state(s, HERMES_STATE_STOPPED);
            emit(s, HERMES_EVENT_STOPPED, NULL);
            break;
        }
        if (st == HERMES_STATE_RUNNING) {
            if (s->mode == HERMES_MODE_REALTIME) {
                if (!pace(s))
                    continue;
                uint64_t due_next = s->epoch_ns +
                    (uint64_t)llround((double)(s->frame + 1 - s->epoch_frame) * s->ns_per_frame);
                if ((rc = do_frame(s)) != 0)
                    break;
                if (hermes__now_ns() > due_next)
                    s->overruns++;
            } else if ((rc = do_frame(s)) != 0) {
                break;
            }
        } else if (s->steps_pending) {
            if ((rc = do_frame(s)) != 0)
                break;
            s->steps_pending--;
        } else {
            wait_request(s);
        }
    }
    if (rc)
        fail_run(s, rc);

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

HERMES_API hermes_state_t hermes_scheduler_state(const hermes_scheduler_t *s)
{
    return s ? get_state(s) : HERMES_STATE_IDLE;
}

HERMES_API uint64_t hermes_scheduler_frame(const hermes_scheduler_t *s)
{
    return s ? atomic_load_explicit(&((hermes_scheduler_t *)s)->pub_frame, memory_order_acquire) : 0;
}

HERMES_API int hermes_scheduler_timing(const hermes_scheduler_t *s, hermes_timing_t *out)
{
    if (!s || !out)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    /* Health values are published signals: read them consistently. */
    uint32_t idx[H_FIXED_COUNT];
    double v[H_FIXED_COUNT];
    for (uint32_t i = 0; i < H_FIXED_COUNT; i++)
        idx[i] = (uint32_t)(s->health[i] - s->live);
    uint64_t frame = 0;
    int rc = hermes_backplane_snapshot(s->bp, idx, H_FIXED_COUNT, v, &frame, NULL);
    if (rc)
        return rc;
    *out = (hermes_timing_t){frame, v[H_FRAME_TIME], v[H_LATENESS], (uint64_t)v[H_OVERRUNS], v[H_RTF], v[H_WALL_TIME]};
    return 0;
}

HERMES_API const char *hermes_scheduler_error(const hermes_scheduler_t *s) { return s ? s->error : ""; }

/* ---- hooks (recorder.h, replay.h) ----------------------------------------------- */

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
        call_cmd_hook(s, HERMES_COMMAND_SET, sig.index, cmd->value, 0, s->frame);
        if (get_state(s) != HERMES_STATE_RUNNING)
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
    struct ctl_req r = {types[cmd->kind], cmd->count, 0, 0, false, {0}};
    uint64_t f0 = s->frame;
    hermes_event_t ev = apply_ctl(s, &r);
    if (r.result == 0)
        journal_ctl(s, &r, f0);
    if (ev != HERMES_EVENT_NONE)
        emit(s, ev, ev == HERMES_EVENT_ERROR ? s->error : NULL);
    return r.result ? hermes__fail(r.result, "%s", r.msg) : 0;
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
/* Value of quantile @p q from the histogram (the bin's middle, capped by the exact max). */
static double lat_quantile(const hermes_scheduler_t *s, double q)
{
    uint64_t rank = (uint64_t)ceil(q * (double)s->lat_count), seen = 0;
    if (rank == 0)
        rank = 1;
    for (unsigned b = 0; b < LAT_BINS; b++) {
        seen += s->lat_hist[b];
        if (seen >= rank) {
            double v = lat_bin_value(b);
            return (v < (double)s->lat_max ? v : (double)s->lat_max) * 1e-9;
        }
    }
    return (double)s->lat_max * 1e-9;
}

HERMES_API int hermes_scheduler_lateness(const hermes_scheduler_t *s, hermes_lateness_t *out)
{
    if (!s || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_scheduler_lateness: NULL argument");
    hermes_scheduler_t *w = (hermes_scheduler_t *)s;
    pthread_mutex_lock(&w->mu);
    bool busy = s->in_run && !pthread_equal(pthread_self(), s->run_thread);
    pthread_mutex_unlock(&w->mu);
    if (busy)
        return hermes__fail(HERMES_ESTATE, "hermes_scheduler_lateness: run() is active on another thread");
    *out = (hermes_lateness_t){s->lat_count, 0.0, 0.0, 0.0, 0.0};
    if (s->lat_count) {
        out->median = lat_quantile(s, 0.5);
        out->p99 = lat_quantile(s, 0.99);
        out->p999 = lat_quantile(s, 0.999);
        out->max = (double)s->lat_max * 1e-9;
    }
    return 0;
}
