/* Scheduler internals shared by its files (scheduler.c create/destroy and
 * hooks, frame.c one frame, health.c timing health, control.c the request
 * FIFO and control calls, run.c the frame loop). Threading model:
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
#ifndef HERMES_SCHEDULER_INTERNAL_H
#define HERMES_SCHEDULER_INTERNAL_H

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "backplane/layout.h"
#include "config/internal.h"
#include "hermes/scheduler.h"
#include "scheduler/drivers/driver.h"
#include "scheduler/group.h"
#include "scheduler/rates.h"


enum req_type { REQ_SET, REQ_PAUSE, REQ_RESUME, REQ_RESET, REQ_STEP, REQ_STOP, REQ_FAIL, REQ_CHECKPOINT };

struct ctl_req {
    enum req_type type;
    uint64_t      count;
    uint64_t      target;
    int           result;
    bool          done;
    char          msg[256];
    const char   *path;       /* REQ_CHECKPOINT */
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
    const char           **initial_only;  /* [bp count] why it cannot be set while running, or NULL (config's text) */

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
    struct ckpt_at  *ckpt_at;         /* checkpoints run() takes, by frame (checkpoint.c) */
    uint32_t         nckpt_at, ckpt_next, ckpt_failed, ckpt_seq;
    char            *ckpt_dir;        /* generated names go here (protocol command) */
    bool             ckpt_replay;     /* `restore: replay`: journal sets and resets for checkpoints */
    bool             ckpt_replay_lost;
    struct hermes__ckpt_jentry *jr;   /* that journal, in order */
    uint32_t         njr, capjr;
    bool             pub_lazy;        /* run.c: this frame may skip its publication */
    bool             pub_stale;       /* the publication is older than the live frame */
    uint64_t         pub_wall_ns;     /* wall time of the last lazy publication */
    uint64_t         pub_check_ns;    /* wall time of the last clock read for it */
    uint32_t         pub_every;       /* lazy frames between clock reads (1 .. HERMES__PUB_CHECK_MAX) */
    uint32_t         pub_countdown;   /* lazy frames until the next clock read */
    _Atomic int      pending;         /* queue non-empty */

    pthread_mutex_t mu;
    pthread_cond_t  cv_req;           /* loop waits for requests (CLOCK_MONOTONIC) */
    pthread_cond_t  cv_done;          /* callers wait for their request */
    struct req      queue[QUEUE_CAP];
    uint32_t        qhead, qlen;
    bool            in_run;
    pthread_t       run_thread;       /* valid while in_run */
    bool            stop_self;        /* stop() called on the scheduler thread itself */
    /* A module's finish callback (drivers/driver.h): stop_claim is taken by
     * the first caller, which writes stop_msg and then sets stop_req; the
     * frame thread takes the stop at its next drain. Lock-free: group
     * workers call it while the frame thread may hold mu. Cleared by reset. */
    _Atomic int     stop_claim, stop_req;
    char            stop_msg[512];
    bool            stop_taken;       /* the run stopped for stop_msg (frame thread) */
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
    bool                    in_frame_hook;
};

static inline uint64_t time_of(const hermes_scheduler_t *s, uint64_t frame)
{
    return (uint64_t)llround((double)frame * s->ns_per_frame);
}

static inline void publish(hermes_scheduler_t *s)
{
    hermes_backplane_publish(s->bp, s->frame, time_of(s, s->frame));
    atomic_store_explicit(&s->pub_frame, s->frame, memory_order_release);
    s->pub_stale = false;
}

/* At most one publication per HERMES__PUB_PERIOD_NS of wall time while an
 * afap run is running without hooks (readers sample the publication at
 * 1 kHz at most: telemetry_hz <= 1000): copying every slot every frame was
 * serial work that held back parallel groups. Every frame is published
 * whenever the scheduler stops or waits (pause, step, end, failure: see
 * run.c), in realtime and single-frame mode, and with a frame or boundary
 * hook (the recorder reads each recorded frame from the publication). */
#define HERMES__PUB_PERIOD_NS 1000000u

/* Reading the clock costs ~30 ns in this VM, more than an empty frame, so a
 * lazy frame reads it only every pub_every frames: that interval doubles
 * (up to HERMES__PUB_CHECK_MAX) while reads come less than a period/8
 * apart and drops back to 1 when one comes more than a period/2 after the
 * last. A fast run reads the clock once every 64 frames; after a run slows
 * down, a publication is at most HERMES__PUB_CHECK_MAX frames late. */
#define HERMES__PUB_CHECK_MAX 64u

static inline void publish_lazy(hermes_scheduler_t *s)
{
    if (s->pub_countdown > 1) {
        s->pub_countdown--;
        s->pub_stale = true;
        return;
    }
    uint64_t now = hermes__now_ns(), gap = now - s->pub_check_ns;
    s->pub_check_ns = now;
    if (gap > HERMES__PUB_PERIOD_NS / 2)
        s->pub_every = 1;
    else if (gap < HERMES__PUB_PERIOD_NS / 8 && s->pub_every < HERMES__PUB_CHECK_MAX)
        s->pub_every = s->pub_every ? s->pub_every * 2 : 1;
    s->pub_countdown = s->pub_every;
    if (now - s->pub_wall_ns >= HERMES__PUB_PERIOD_NS) {
        s->pub_wall_ns = now;
        publish(s);
    } else {
        s->pub_stale = true;
    }
}

/* Publish the current frame if a lazy publication skipped it. */
static inline void publish_flush(hermes_scheduler_t *s)
{
    if (s->pub_stale)
        publish(s);
}


struct hermes__ckpt_jentry;  /* checkpoint/format.h */

/* A checkpoint run() takes at the first boundary at or after @p frame. */
struct ckpt_at {
    uint64_t frame;
    char    *path;
};

/* checkpoint.c: write a checkpoint of the current boundary (thread
 * executing frames, or the caller with no run active): 0 or a code, the
 * message in @p msg. Take the due scheduled checkpoints (run loop). */
int  hermes__sched_checkpoint_write(hermes_scheduler_t *s, const char *path, char *msg, size_t cap);
void hermes__sched_checkpoints_due(hermes_scheduler_t *s);
void hermes__sched_checkpoints_free(hermes_scheduler_t *s);
/* `restore: replay`: note a set or reset for the checkpoint's journal (frame.c's command hook). */
void hermes__sched_journal_note(hermes_scheduler_t *s, hermes_command_kind_t kind, uint32_t index, double value,
                                uint64_t frame);

/* Defined in frame.c (events, hooks, state, one frame, stage, reset), health.c
 * (health signals, lateness) and control.c (the FIFO, async failures). */
extern _Thread_local const hermes_scheduler_t *hermes__sched_mu_held_here;
void hermes__sched_emit(hermes_scheduler_t *s, hermes_event_t ev, const char *detail);
void hermes__sched_call_cmd_hook(hermes_scheduler_t *s, hermes_command_kind_t kind, uint32_t index, double value,
                                 uint64_t count, uint64_t frame);
void hermes__sched_journal_ctl(hermes_scheduler_t *s, const struct ctl_req *r, uint64_t frame);
void hermes__sched_set_state(hermes_scheduler_t *s, hermes_state_t st);
hermes_state_t hermes__sched_get_state(const hermes_scheduler_t *s);
int hermes__sched_do_frame(hermes_scheduler_t *s);
int hermes__sched_stage_all(hermes_scheduler_t *s);
int hermes__sched_reset_all(hermes_scheduler_t *s);
int hermes__sched_fail_run(hermes_scheduler_t *s, int rc);
int hermes__sched_call_boundary_hook(hermes_scheduler_t *s);
void hermes__sched_update_health(hermes_scheduler_t *s, uint64_t t0, uint64_t t1);
void hermes__sched_note_lateness(hermes_scheduler_t *s, uint64_t ns);
void hermes__sched_take_async_failure(hermes_scheduler_t *s);
/* The modules' finish callback (drivers/driver.h); any thread. */
void hermes__sched_post_stop(void *ctx, const struct hermes__module *m, const char *msg);
/* A module's finish request, if one is waiting: STOPPED with its reason
 * (frame thread). Whether it stopped the run. */
bool hermes__sched_take_stop(hermes_scheduler_t *s);
void hermes__sched_drain(hermes_scheduler_t *s);
void hermes__sched_post_failure(void *ctx, const char *msg);

#endif
