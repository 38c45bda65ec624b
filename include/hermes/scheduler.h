/** @file scheduler.h  Lockstep scheduler: stages and steps modules over a backplane.
 *
 * One frame: every schedule entry in order steps and completes before the
 * next starts; an entry is one module, or a group whose members step
 * concurrently (hermes_config_set_schedule_groups(); inproc members share
 * min(inproc members, CPUs) threads: the scheduler thread and worker threads
 * created with the scheduler); then every
 * wire applies dst = src * gain + offset in config order; then frame and
 * time advance and the frame is published to snapshot readers. Time is
 * frame * 1e9 / rate_hz nanoseconds (computed, never accumulated).
 * Publication: every frame in realtime and single-frame mode and whenever a
 * frame or boundary hook is set; an afap run without hooks publishes at most
 * once per millisecond of wall time while running (readers sample at 1 kHz
 * at most), and always the current frame before any event is delivered and
 * whenever the run pauses, steps, stops, ends or fails. Such a run reads
 * the clock only every 1 to 64 frames (adapted so that reads come 0.125 to
 * 0.5 ms apart), so a reader sees a frame at most about 1.5 ms of wall time
 * old, or, just after frames turn slow, at most 64 frames old; never a stale
 * one once the run waits. Modules and wires always see every frame (the live slots).
 *
 * Realtime pacing sleeps until each frame's deadline on CLOCK_MONOTONIC
 * (absolute, with the thread's timer slack lowered to 1 ns while run() is
 * active), optionally busy-waiting its last execution.spin_us. Every frame
 * records its lateness (start - deadline): hermes.lateness (this frame),
 * hermes.lateness_max (maximum over about the last second) and
 * hermes_scheduler_lateness() (distribution).
 *
 * States: after create the scheduler is IDLE; stage() makes it PAUSED at
 * frame 0. run() blocks the calling thread (the "scheduler thread") until
 * end_time, stop() or an error; it starts RUNNING in afap/realtime (PAUSED if
 * options.start_paused, always PAUSED in single_frame). reset() re-stages
 * every module, restores initial values, returns to frame 0 and leaves the
 * run PAUSED until resume().
 *
 * Threading: pause, resume, reset, step, stop, set and state are safe from
 * any thread. While a thread is inside run() they are queued and take effect
 * at the next frame boundary, never mid-frame (while paused, at once). With
 * no thread inside run(), step() and reset() execute in the calling thread.
 * The listener runs on the thread that applied the change (normally the
 * scheduler thread) with no scheduler lock held; it must not block and must
 * not destroy the scheduler. From the scheduler thread itself or a group
 * worker (a module callback or the listener) only stop() is accepted; the
 * other control calls return HERMES_ESTATE instead of deadlocking.
 * create/stage/destroy: one thread, not from the listener. */
#ifndef HERMES_SCHEDULER_H
#define HERMES_SCHEDULER_H

#include <stdbool.h>
#include "common.h"
#include "error.h"
#include "backplane.h"
#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hermes_scheduler hermes_scheduler_t;

/** Run states: name, value, hermes_state_name() text.
 *  IDLE: created, not staged; STOPPED: end_time reached, stop(), or a
 *  module ended the run (an FMU asked to terminate: hermes_scheduler_stop_reason());
 *  ERROR: a module failed, see hermes_scheduler_error(). */
#define HERMES_STATE_TABLE(X)      \
    X(IDLE,    0, "idle")          \
    X(PAUSED,  1, "paused")        \
    X(RUNNING, 2, "running")       \
    X(STOPPED, 3, "stopped")       \
    X(ERROR,   4, "error")

/** State-change notifications (the server's "event" messages): name, value,
 *  hermes_event_name() text. */
#define HERMES_EVENT_TABLE(X)      \
    X(NONE,    0, "none")          \
    X(RUNNING, 1, "running")       \
    X(PAUSED,  2, "paused")        \
    X(RESET,   3, "reset")         \
    X(STOPPED, 4, "stopped")       \
    X(ERROR,   5, "error")

#define HERMES_X_STATE_(name, value, text) HERMES_STATE_##name = (value),
typedef enum hermes_state {
    HERMES_STATE_TABLE(HERMES_X_STATE_)
} hermes_state_t;
#undef HERMES_X_STATE_

#define HERMES_X_EVENT_(name, value, text) HERMES_EVENT_##name = (value),
typedef enum hermes_event {
    HERMES_EVENT_TABLE(HERMES_X_EVENT_)
} hermes_event_t;
#undef HERMES_X_EVENT_

/** @p detail: error text for HERMES_EVENT_ERROR; for HERMES_EVENT_STOPPED,
 *  the reason when a module ended the run (hermes_scheduler_stop_reason());
 *  else NULL. Borrowed for the call. */
typedef void (*hermes_listener_fn)(void *ctx, hermes_event_t event, uint64_t frame, const char *detail);

typedef struct hermes_scheduler_options {
    uint32_t    size;          /**< stamped by hermes_scheduler_options_init() */
    const char *run_name;      /**< backplane run name; NULL: generated */
    bool        start_paused;  /**< run() begins PAUSED in afap/realtime too */
} hermes_scheduler_options_t;

static inline void hermes_scheduler_options_init(hermes_scheduler_options_t *o)
{
    const hermes_scheduler_options_t zero = {0, NULL, false};
    *o = zero;
    o->size = (uint32_t)sizeof *o;
}

/** Timing health, also published as read-only signals of module "hermes"
 *  (besides lateness_max, step_time.<module> and group_time.<n>: docs/cli.md). */
typedef struct hermes_timing {
    uint64_t frames;          /**< published frame number these values belong to (frames since stage or reset) */
    double   frame_time;      /**< wall seconds of the last (sampled) frame */
    double   lateness;        /**< realtime: seconds the last frame started after its deadline (0 in other modes) */
    uint64_t overruns;        /**< realtime: frames that finished after their deadline */
    double   rtf;             /**< real-time factor: sim seconds per wall second while running */
    double   wall_time;       /**< wall seconds spent running */
} hermes_timing_t;

/** Distribution of realtime lateness: for every frame of a realtime run,
 *  the time its start came after its deadline. Percentiles come from a
 *  histogram with bins 1/32 of an octave wide (about 3 %); max is exact. */
typedef struct hermes_lateness {
    uint64_t frames;  /**< realtime frames measured since create (0: the others are 0) */
    double   median;  /**< seconds */
    double   p99;     /**< seconds */
    double   p999;    /**< seconds */
    double   max;     /**< seconds */
} hermes_lateness_t;

/**
 * Create a scheduler for a validated config: creates the backplane (config
 * signals plus the "hermes" health signals), loads inproc libraries and
 * calls every module's init. The config must outlive the scheduler.
 * @return 0, HERMES_EINVAL, HERMES_ECONFIG, HERMES_EABI (inproc ABI
 *         mismatch), HERMES_EMODULE (init failed, library missing),
 *         HERMES_EEXIST, HERMES_ENOMEM, HERMES_ESYS.
 */
HERMES_API int hermes_scheduler_create(hermes_scheduler_t **out, const hermes_config_t *cfg,
                                       const hermes_scheduler_options_t *opt);

/** Terminate modules, destroy the backplane, free everything. NULL is fine.
 *  Context: not while another thread is inside run() (stop() and join first). */
HERMES_API void hermes_scheduler_destroy(hermes_scheduler_t *s);

/** Backplane of the run (borrowed; lives as long as the scheduler). */
HERMES_API hermes_backplane_t *hermes_scheduler_backplane(hermes_scheduler_t *s);
/** Config the scheduler was made from (borrowed). */
HERMES_API const hermes_config_t *hermes_scheduler_config(const hermes_scheduler_t *s);

/** Register the state listener (one; NULL removes). Call before run().
 *  @return 0, HERMES_EINVAL or HERMES_ESTATE (run() is active). */
HERMES_API int hermes_scheduler_set_listener(hermes_scheduler_t *s, hermes_listener_fn fn, void *ctx);

/** Stage every module, apply wires once, publish frame 0. IDLE -> PAUSED.
 *  @return 0, HERMES_ESTATE, HERMES_EMODULE. */
HERMES_API int hermes_scheduler_stage(hermes_scheduler_t *s);

/**
 * Run until end_time, stop() or an error. Blocks the calling thread.
 * @return 0 when stopped or end_time reached, HERMES_EMODULE (or another
 *         code) after an error (message in hermes_scheduler_error() and
 *         hermes_last_error()), HERMES_ESTATE when not staged, already
 *         running, stopped or failed, HERMES_EINVAL for NULL.
 */
HERMES_API int hermes_scheduler_run(hermes_scheduler_t *s);

/** Request pause/resume. Idempotent (no event when already in that state);
 *  pause while paused cancels steps still pending from step().
 *  Every control call (pause, resume, reset, step, stop) made while run() is
 *  active returns once the loop has applied it, and can also return
 *  HERMES_EAGAIN (request queue full: retry) or HERMES_ESTATE (the run ended
 *  first); made while no run() is active after a process module died, it
 *  returns HERMES_EMODULE and the scheduler enters ERROR.
 *  @return 0, HERMES_EINVAL (NULL) or HERMES_ESTATE (not staged, stopped,
 *          error, end_time reached, resume in single_frame mode, or called
 *          from the scheduler thread or a group worker). Context: any thread. */
HERMES_API int hermes_scheduler_pause(hermes_scheduler_t *s);
HERMES_API int hermes_scheduler_resume(hermes_scheduler_t *s);
/** Request a reset (see file comment). @return 0, HERMES_EINVAL, HERMES_ESTATE
 *  (not staged, idle or failed), HERMES_EMODULE (a module's reset or stage
 *  failed: state ERROR), HERMES_EAGAIN. Context: any thread. */
HERMES_API int hermes_scheduler_reset(hermes_scheduler_t *s);
/**
 * Advance @p count >= 1 frames while paused. With run() active elsewhere
 * this returns once the loop has accepted the request, before the frames
 * run; @p target_frame (optional) receives the frame number the run will
 * show when the steps are done. Without run() the frames run in the calling
 * thread before returning.
 * @return 0, HERMES_EINVAL (count 0, NULL), HERMES_ESTATE (not paused),
 *         HERMES_EMODULE (a frame failed), HERMES_EAGAIN.
 * Context: any thread.
 */
HERMES_API int hermes_scheduler_step(hermes_scheduler_t *s, uint64_t count, uint64_t *target_frame);
/** Ask run() to return; state STOPPED. Idempotent; before stage() it only
 *  sets STOPPED. From the scheduler thread (a module callback or the
 *  listener) it is applied after the current frame.
 *  @return 0, HERMES_EINVAL, HERMES_EAGAIN, HERMES_EMODULE (see pause()).
 *  Context: any thread (not a signal handler). */
HERMES_API int hermes_scheduler_stop(hermes_scheduler_t *s);

/**
 * Write a writable signal from outside its module; applied at the next frame
 * boundary (at once while paused, and then republished so readers see it).
 * A signal that a wire drives cannot be set (the wire would overwrite it on
 * the next frame): HERMES_EREADONLY, with a message naming the wire's source
 * ("guidance.throttle_in is driven by commands.throttle; set that instead").
 * A signal that takes only an initial value (a `fixed` FMU parameter, read
 * by the FMU only in its initialisation) cannot be set either: give it with
 * hermes_config_set_initial() before the scheduler is created.
 * @return 0, HERMES_EINVAL (NULL), HERMES_ENOENT (invalid id),
 *         HERMES_EREADONLY (not writable, initial value only, or driven by a
 *         wire), HERMES_ETYPE,
 *         HERMES_EAGAIN (request queue full while run() is active: retry).
 * Context: any thread.
 */
HERMES_API int hermes_scheduler_set(hermes_scheduler_t *s, hermes_signal_t sig, double value);

/** Current state. Context: any thread. */
HERMES_API hermes_state_t hermes_scheduler_state(const hermes_scheduler_t *s);
/** Frame number of the last published frame (the backplane's): the frame
 *  completed, or during an afap run without hooks a little behind it (at
 *  most about 1.5 ms of wall time or 64 frames: see the file comment). */
HERMES_API uint64_t hermes_scheduler_frame(const hermes_scheduler_t *s);
/** Copy of the timing health, read from the last published frame.
 *  @return 0, HERMES_EINVAL (NULL) or HERMES_EAGAIN (see hermes_backplane_snapshot()).
 *  Context: any thread. */
HERMES_API int hermes_scheduler_timing(const hermes_scheduler_t *s, hermes_timing_t *out);
/** Lateness distribution of the realtime frames run so far (for a run
 *  summary). @return 0, HERMES_EINVAL (NULL) or HERMES_ESTATE (run() is
 *  active on another thread: call it after run() returns).
 *  Context: any thread; while run() is active, only the scheduler thread
 *  (the listener). @since 0.2 */
HERMES_API int hermes_scheduler_lateness(const hermes_scheduler_t *s, hermes_lateness_t *out);
/** Error message of the failed run, or "" (borrowed; valid until destroy). */
HERMES_API const char *hermes_scheduler_error(const hermes_scheduler_t *s);
/** Why a module ended the run normally (STOPPED, run() returned 0), such as
 *  "module 'ball': the FMU asked to terminate at t=9 (fmi2DoStep returned
 *  fmi2Discard)"; NULL when end_time, stop() or nothing ended it. The frame
 *  in which the module asked is complete (its outputs are published and
 *  recorded); a reset clears it. Borrowed, valid until the next reset or
 *  destroy. Context: after run() returned, or the scheduler thread (the
 *  listener of that STOPPED event, whose detail is this text). @since 0.5 */
HERMES_API const char *hermes_scheduler_stop_reason(const hermes_scheduler_t *s);

/* ---- hooks: recording, command journal, exact reruns (recorder.h, replay.h) ---- */

/** Why a frame was published. */
typedef enum hermes_frame_kind {
    HERMES_FRAME_COMPUTED = 0,  /**< a frame was computed (running or a step) */
    HERMES_FRAME_STAGED   = 1   /**< frame 0 published by stage() or by a reset */
} hermes_frame_kind_t;

/**
 * Frame hook: called on the thread executing frames (normally the scheduler
 * thread) right after each frame is published, including frame 0 at stage()
 * and after every reset. @p tick counts the frames computed since stage() and
 * is not reset by reset() (so it orders a whole run). The published values are
 * the live slots (hermes_backplane_slot()) and stay unchanged during the call.
 * Return 0, or a negative HERMES_E* code to fail the run: the message the hook
 * left in hermes_last_error() becomes hermes_scheduler_error(). It must not
 * call the control functions; it may block (the run waits: realtime frames
 * then count as overruns).
 */
typedef int (*hermes_frame_hook_fn)(void *ctx, uint64_t frame, uint64_t tick, hermes_frame_kind_t kind);

/** A command applied to the run from outside (see hermes_command_hook_fn). */
typedef enum hermes_command_kind {
    HERMES_COMMAND_NONE   = 0,
    HERMES_COMMAND_SET    = 1,  /**< signal, value */
    HERMES_COMMAND_PAUSE  = 2,
    HERMES_COMMAND_RESUME = 3,
    HERMES_COMMAND_STEP   = 4,  /**< count */
    HERMES_COMMAND_RESET  = 5,
    HERMES_COMMAND_STOP   = 6
} hermes_command_kind_t;

typedef struct hermes_run_command {
    hermes_command_kind_t kind;
    hermes_signal_t       signal;  /**< SET */
    double                value;   /**< SET */
    uint64_t              count;   /**< STEP, >= 1 */
} hermes_run_command_t;

/**
 * Command hook: called once for every set, pause, resume, step, reset and
 * stop that was applied successfully (requests refused with an error are not
 * reported; a stop requested by a module on the scheduler thread is not
 * either), with the frame boundary where it took effect: @p frame is the frame
 * the run showed and @p tick the frames computed since stage(). Runs on the
 * thread that applied the command (the scheduler thread inside run(), else the
 * caller of the control function), possibly with the scheduler's lock held:
 * it must not block and must not call the scheduler.
 */
typedef void (*hermes_command_hook_fn)(void *ctx, const hermes_run_command_t *cmd, uint64_t frame, uint64_t tick);

/**
 * Boundary hook: called on the scheduler thread inside run() at every frame
 * boundary (and at every wake-up while paused), before queued requests are
 * applied. It may call hermes_scheduler_apply() to apply commands at exactly
 * this boundary. Return 0, or a negative HERMES_E* code to fail the run
 * (message from hermes_last_error()).
 */
typedef int (*hermes_boundary_hook_fn)(void *ctx, hermes_scheduler_t *s, uint64_t frame, uint64_t tick);

/** Install (or with NULL remove) the frame hook; one slot.
 *  @return 0, HERMES_EINVAL, HERMES_ESTATE (run() active). Context: not while run() is active. */
HERMES_API int hermes_scheduler_set_frame_hook(hermes_scheduler_t *s, hermes_frame_hook_fn fn, void *ctx);
/** Install (or remove) the command hook; one slot. Same rules. */
HERMES_API int hermes_scheduler_set_command_hook(hermes_scheduler_t *s, hermes_command_hook_fn fn, void *ctx);
/** Install (or remove) a second state listener, called after the one of
 *  hermes_scheduler_set_listener() with the same arguments; one slot. Same rules. */
HERMES_API int hermes_scheduler_set_event_hook(hermes_scheduler_t *s, hermes_listener_fn fn, void *ctx);
/** Install (or remove) the boundary hook; one slot. Same rules. */
HERMES_API int hermes_scheduler_set_boundary_hook(hermes_scheduler_t *s, hermes_boundary_hook_fn fn, void *ctx);

/**
 * Apply @p cmd at once, at the current frame boundary, as if it had been
 * requested from outside (events and the command hook fire as usual). Only
 * from inside the boundary hook. A SET is checked like hermes_scheduler_set().
 * @return 0, HERMES_EINVAL, HERMES_ESTATE (not inside the boundary hook, or
 *         the command is not allowed in the current state), HERMES_ENOENT,
 *         HERMES_EREADONLY, HERMES_ETYPE, HERMES_EMODULE (reset failed).
 */
HERMES_API int hermes_scheduler_apply(hermes_scheduler_t *s, const hermes_run_command_t *cmd);

/**
 * Checkpoints (docs/checkpoints.md): the run's state at a frame boundary as
 * a file: frame, time, every signal's value bit for bit, module rates and
 * each module's own state (inproc ABI 3 state callbacks, process modules'
 * hermes_module_set_state(); injection modules have none beyond their
 * signals). Written to "PATH.tmp-PID", fsynced and renamed: a crash never
 * leaves a file that loads.
 */
/** 0, or HERMES_ENOTSUP naming the first module without state support. Context: any thread. */
HERMES_API int hermes_scheduler_checkpoint_check(const hermes_scheduler_t *s);
/**
 * Write a checkpoint of the current frame boundary to @p path. With run()
 * active the request is queued and taken at the next boundary (the caller
 * waits); from the boundary or frame hook it is taken at once; with no run
 * active, here. The run goes on whatever happens.
 * @return 0, HERMES_EINVAL, HERMES_ESTATE (not staged; from a module
 *         callback, the listener or a group worker), HERMES_ENOTSUP (a
 *         module without state support), HERMES_EMODULE (a module's save
 *         failed), HERMES_ESYS (cannot write: path and reason).
 */
HERMES_API int hermes_scheduler_checkpoint(hermes_scheduler_t *s, const char *path);
/**
 * Have run() write a checkpoint to @p path at the first frame boundary at or
 * after @p frame (several allowed). A failure there is logged and counted
 * (hermes_scheduler_checkpoint_failures()); the run goes on.
 * @return 0, HERMES_EINVAL, HERMES_ESTATE (run() active), HERMES_ENOTSUP
 *         (a module without state support: fails before the run starts).
 */
HERMES_API int hermes_scheduler_checkpoint_at(hermes_scheduler_t *s, uint64_t frame, const char *path);
/**
 * The folder hermes_scheduler_checkpoint_generated() writes into (NULL:
 * none, the default). Checked now: it must exist and be writable.
 * @return 0, HERMES_EINVAL, HERMES_ESTATE (run() active), HERMES_ENOENT
 *         (not a folder), HERMES_ESYS (not writable).
 */
HERMES_API int hermes_scheduler_set_checkpoint_dir(hermes_scheduler_t *s, const char *dir);
/**
 * hermes_scheduler_checkpoint() into the checkpoint folder under a generated
 * name, "checkpoint-FRAME-N.hckpt" (FRAME the boundary it was taken at, N a
 * counter of the run), copied to @p name: how a client asks for one
 * without choosing a path. @return as hermes_scheduler_checkpoint(), and
 * HERMES_ESTATE when no folder is set.
 */
HERMES_API int hermes_scheduler_checkpoint_generated(hermes_scheduler_t *s, char *name, size_t cap);
/**
 * `restore: replay` (docs/checkpoints.md): checkpoints of this run need no
 * module state; they hold the run's journal of sets and resets, and a
 * restore re-runs the run afap from frame 0 to the checkpoint's frame with
 * them applied at the same frames (bit-identical by the rerun guarantee),
 * checks every model signal against the file, and continues. For runs with
 * modules that cannot save their state. Before stage().
 * @return 0, HERMES_EINVAL, HERMES_ESTATE (staged or running).
 */
HERMES_API int hermes_scheduler_set_checkpoint_replay(hermes_scheduler_t *s, bool on);
/** Scheduled checkpoints that failed so far. */
HERMES_API uint32_t hermes_scheduler_checkpoint_failures(const hermes_scheduler_t *s);
/**
 * Continue from a checkpoint: after stage(), before run(), paused. Checks
 * the file (magic, version, size, CRC-32), that it is of this config
 * (modules, types, rates, signals, types: the first difference is named),
 * loads each module's state, then the signals, frame, time and rates.
 * Values set afterwards (hermes_backplane_write(), `--set`) override the
 * checkpoint's: that is how a campaign branches from it.
 * @return 0, HERMES_EINVAL, HERMES_ESTATE, HERMES_ENOENT (no file),
 *         HERMES_EFORMAT (not a checkpoint, truncated, corrupted),
 *         HERMES_EABI (newer format), HERMES_ECONFIG (another config),
 *         HERMES_ERANGE (after end_time), HERMES_ENOTSUP, HERMES_EMODULE (a
 *         module's load failed, named: the modules before it are loaded,
 *         the signals are not; reset or destroy the scheduler).
 *         On a file or config error nothing changes.
 */
HERMES_API int hermes_scheduler_restore(hermes_scheduler_t *s, const char *path);

/** Text of HERMES_STATE_TABLE ("idle", "paused", ...), "unknown" otherwise; never NULL. */
HERMES_API const char *hermes_state_name(hermes_state_t state);
/** Text of HERMES_EVENT_TABLE ("running", "paused", "reset", "stopped", "error"), "none" otherwise. */
HERMES_API const char *hermes_event_name(hermes_event_t event);

#ifdef __cplusplus
}
#endif
#endif
