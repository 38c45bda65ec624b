/* The seam between the scheduler and the module drivers: the scheduler's
 * view of a module, whatever its type. Each driver (inproc.c, process.c)
 * fills the function pointers; a NULL step means "no dynamics". Drivers
 * know nothing of the scheduler: they report asynchronous failures through
 * the `fail` callback it gives them. Private. */
#ifndef HERMES_LIB_MODULE_INTERNAL_H
#define HERMES_LIB_MODULE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hermes/backplane.h"
#include "hermes/config.h"

#define HERMES_MODULE_ERRBUF 512

enum { HERMES__STATE_UNSUPPORTED = 0, HERMES__STATE_NONE = 1, HERMES__STATE_OPS = 2 };

struct hermes__module {
    const char          *name;          /* borrowed from the config */
    hermes_module_type_t type;
    uint32_t             config_index;
    uint32_t             first_signal;  /* backplane index of its first signal */
    uint32_t             signal_count;
    double              *step_time;     /* live slot of hermes.step_time.<name> */

    /* Hot path: called straight from the frame loop. */
    int  (*step)(void *state, uint64_t frame, double dt);
    void *state;
    /* Optional split step for concurrent groups: step_begin starts the step
     * and returns at once, step_end waits for its result (busy-waiting
     * first only when @p spin: the owner knows whether a core is free);
     * both return as step does. NULL: the owner steps the module on a
     * thread of its own. */
    int  (*step_begin)(void *state, uint64_t frame, double dt);
    int  (*step_end)(void *state, bool spin);

    int  (*stage)(struct hermes__module *m);
    int  (*reset)(struct hermes__module *m);
    void (*terminate)(struct hermes__module *m);  /* frees what the type allocated */
    void *impl;                                   /* type-specific data */

    /* Checkpoints (lib/scheduler/checkpoint.c): the module's own state
     * beyond its signals. state_kind HERMES__STATE_UNSUPPORTED (0, the
     * default) makes a checkpoint fail naming the module; NONE: nothing
     * beyond its signals (injection); OPS: save returns a malloc'd blob in
     * *buf / *len, load restores one (both at a frame boundary, on the
     * thread executing frames; -1 with errbuf set on failure). */
    int   state_kind;
    int  (*state_save)(struct hermes__module *m, void **buf, size_t *len);
    int  (*state_load)(struct hermes__module *m, const void *buf, size_t len);

    /* Set by the owner before open. Fails the run from any thread (e.g. a
     * supervisor noticing a dead child while no command is in flight): the
     * owner stops at its next wake-up or frame boundary with @p msg as the
     * error, even while paused. Thread-safe; the first message wins. It
     * may block briefly on the owner's lock, so a driver never waits for a
     * thread that is inside it; it never touches the module's errbuf. */
    void (*fail)(void *fail_ctx, const char *msg);
    void *fail_ctx;
    /* Set by the owner before open. Ends the run normally once the current
     * frame is complete (wires, publication, recording: this step's outputs
     * are kept), with "module 'NAME': @p msg" as the reason (an FMU asked to
     * terminate; NULL or "": a default text). The step that calls it returns
     * 0. Called on the thread stepping the module (also a group worker);
     * lock-free; the first call wins. Same context as `fail`. */
    void (*finish)(void *fail_ctx, const struct hermes__module *m, const char *msg);
    char errbuf[HERMES_MODULE_ERRBUF];

    /* Set by the owner (scheduler/rates.h): steps on frames f with
     * (f - rate_offset) % rate_div == 0, told dt = rate_dt; rate_next is the
     * next such frame, rate_due says whether it steps in the current frame. */
    uint64_t rate_next;
    uint32_t rate_div, rate_offset;
    double   rate_dt;
    bool     rate_due;
};

/* Constructors: fill @p m (name, indices already set) or return an error code
 * with hermes__fail(). */
int hermes__inproc_open(struct hermes__module *m, const hermes_config_t *cfg, hermes_backplane_t *bp);
int hermes__fmu_module_open(struct hermes__module *m, const hermes_config_t *cfg, hermes_backplane_t *bp);
int hermes__process_open(struct hermes__module *m, const hermes_config_t *cfg, hermes_backplane_t *bp);
/* A process module running @p exec's path and args (not necessarily the
 * config's: an isolated FMU runs hermes-fmu-host). @p on_close (may be NULL)
 * runs once when the module is closed, after its child is gone, also when
 * this call fails. */
int hermes__process_open_exec(struct hermes__module *m, const hermes_config_t *cfg, hermes_backplane_t *bp,
                              const hermes_module_info_t *exec, void (*on_close)(void *ctx), void *close_ctx);
#endif
