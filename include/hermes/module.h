/** @file module.h  Module-side API of process modules.
 *
 * A process module is any executable that Hermes starts for a module of type
 * `process`. Hermes passes, in the environment:
 *  - `HERMES_BACKPLANE`     run name of the shared-memory backplane
 *  - `HERMES_MODULE`        the module's name in the config
 *  - `HERMES_MODULE_CONFIG` resolved path of the module's `config:` file (only when set)
 *  - `HERMES_PARENT_PID`    pid of the orchestrator
 *  - `HERMES_SEED`          the run's seed, decimal 0 .. 2^64-1 (only when the run has one:
 *                           `hermes run --seed N`, a campaign run, hermes_config_set_seed());
 *                           read it with hermes_module_seed()
 *  - `HERMES_BASE_RATE_HZ`  the run's base rate (execution.rate_hz, %.17g): frame f starts
 *                           at sim time f / base rate, also for a module with its own slower
 *                           rate_hz (whose dt is its own period)
 * and the module's `args` as argv[1..]. The program opens its handle, looks
 * up its signals once, then loops: wait for a command, do the work, answer.
 * @code
 * hermes_module_t *m;
 * if (hermes_module_open(&m) != 0) { fprintf(stderr, "%s\n", hermes_last_error()); return 1; }
 * double *x = hermes_module_slot(m, "x");          // zero copy into shared memory
 * uint64_t frame; double dt; int cmd;
 * while ((cmd = hermes_module_wait(m, &frame, &dt)) > 0 && cmd != HERMES_CMD_TERMINATE)
 *     if (cmd == HERMES_CMD_STEP) *x += dt;           // answered "done" by the next wait
 * hermes_module_close(m);                             // answers terminate
 * @endcode
 * Each command is answered exactly once: explicitly with hermes_module_done()
 * (mandatory to report an error), or implicitly with success by the next
 * hermes_module_wait() or by hermes_module_close(). Signals must only be
 * touched between receiving a command and answering it.
 *
 * Threading: a handle belongs to one thread at a time; the calls are not
 * reentrant. The module process needs no threads of its own.
 * Ownership: strings returned are borrowed from the handle and live until
 * hermes_module_close(); slot pointers too. */
#ifndef HERMES_MODULE_H
#define HERMES_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"
#include "error.h"
#include "backplane.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Version of the orchestrator/module handshake; both sides must agree. */
#define HERMES_MODULE_PROTOCOL 1u

/** Environment variable names (see the file comment). */
#define HERMES_ENV_BACKPLANE     "HERMES_BACKPLANE"
#define HERMES_ENV_MODULE        "HERMES_MODULE"
#define HERMES_ENV_MODULE_CONFIG "HERMES_MODULE_CONFIG"
#define HERMES_ENV_PARENT_PID    "HERMES_PARENT_PID"
#define HERMES_ENV_SEED          "HERMES_SEED"
#define HERMES_ENV_BASE_RATE     "HERMES_BASE_RATE_HZ"

typedef struct hermes_module hermes_module_t;

/** Commands a module receives. Values cross processes: fixed numbers. */
typedef enum hermes_command {
    HERMES_CMD_NONE      = 0,
    HERMES_CMD_STAGE     = 1,  /**< before frame 0 and after every reset: signals hold their initial
                                    values, wired inputs their sources' initial values */
    HERMES_CMD_STEP      = 2,  /**< compute frame @p frame of @p dt seconds (a module with its own
                                    rate_hz gets it only on its frames, dt = its period: docs/modules.md) */
    HERMES_CMD_RESET     = 3,  /**< return to initial conditions (a stage follows) */
    HERMES_CMD_TERMINATE = 4   /**< answer, then exit */
} hermes_command_t;

/**
 * Open the handle from the environment Hermes set up: attach to the
 * backplane, find the module's control block and check the protocol version.
 * The start-up handshake completes at the first hermes_module_wait(), so
 * Hermes counts the module's own setup (signal look-ups, loading files)
 * as part of its start-up.
 * @param[out] out  new handle, or NULL on failure  @nonnull
 * @return 0, HERMES_EINVAL (variables missing: not started by Hermes),
 *         HERMES_ENOENT (no such backplane or module), HERMES_ESTATE (the
 *         module is not waiting for its start-up handshake: already attached,
 *         or not started by Hermes), HERMES_EABI (layout or protocol version
 *         mismatch; Hermes is told), HERMES_ENOMEM, HERMES_ESYS.
 *         The message is in hermes_last_error().
 */
HERMES_API int hermes_module_open(hermes_module_t **out);

/**
 * Same as hermes_module_open() with explicit names instead of the environment.
 * @return as hermes_module_open(); HERMES_EINVAL for NULL names.
 */
HERMES_API int hermes_module_attach(hermes_module_t **out, const char *run_name, const char *module_name);

/** Answer a pending command with success (unless already answered), detach.
 *  NULL is fine. */
HERMES_API void hermes_module_close(hermes_module_t *m);

/** Module name (borrowed). */
HERMES_API const char *hermes_module_name(const hermes_module_t *m);

/** Path of the module's config file (HERMES_MODULE_CONFIG), or NULL (borrowed). */
HERMES_API const char *hermes_module_config_path(const hermes_module_t *m);

/**
 * Seed of the run (HERMES_SEED, read at hermes_module_open()), for modules
 * with noise models: the same seed gives the same run.
 * @param[out] out  the seed  @nonnull
 * @return 0, HERMES_ENOENT (the run has no seed, or the handle came from
 *         hermes_module_attach()), HERMES_EINVAL (NULL argument).
 * @since 0.2 (campaigns)
 */
HERMES_API int hermes_module_seed(const hermes_module_t *m, uint64_t *out);

/** The attached backplane, for hermes_backplane_find()/read()/info() (borrowed). */
HERMES_API hermes_backplane_t *hermes_module_backplane(hermes_module_t *m);

/**
 * Direct pointer to the live value of a signal (zero copy), valid until
 * close. @p name is first tried as a local name of this module
 * ("position.x" means "<module>.position.x"), then as a qualified name.
 * Writes through the pointer skip type checks: keep integer and bool
 * signals integral. @return the pointer, or NULL when there is no such signal.
 */
HERMES_API double *hermes_module_slot(hermes_module_t *m, const char *name);

/** State callbacks for checkpoints (docs/checkpoints.md). */
typedef struct hermes_module_state {
    /** Bytes save() will write now. */
    size_t (*size)(void *ctx);
    /** Write exactly @p size bytes: what the module needs to continue bit for bit. 0 or non-zero (failure). */
    int    (*save)(void *ctx, void *buf, size_t size);
    /** Restore what save() wrote (maybe in another run, after stage). 0 or non-zero (refused). */
    int    (*load)(void *ctx, const void *buf, size_t size);
    void   *ctx;
} hermes_module_state_t;

/**
 * Declare that this module can save and load its state, so runs with it can
 * take checkpoints and restore them. Call it before the first
 * hermes_module_wait() (Hermes learns it at the start-up handshake; a module
 * that never calls it makes `--checkpoint` fail naming it). The callbacks
 * run inside hermes_module_wait(), at a frame boundary; the table is copied.
 * @return 0, HERMES_EINVAL (NULL handle, table or callback), HERMES_ESTATE
 *         (after the first wait).
 */
HERMES_API int hermes_module_set_state(hermes_module_t *m, const hermes_module_state_t *ops);

/**
 * Answer the previous command with success if it is still unanswered, then
 * block until the next command. Spins briefly before blocking when Hermes
 * allows it (spare cores); otherwise sleeps in the kernel.
 * @param[out] frame  frame number (STEP: the frame being computed, 0 first) @nonnull
 * @param[out] dt     step in seconds @nonnull
 * @return a hermes_command_t (> 0), or HERMES_ESTOPPED when the orchestrator
 *         is gone, HERMES_EINVAL for NULL arguments.
 */
HERMES_API int hermes_module_wait(hermes_module_t *m, uint64_t *frame, double *dt);

/**
 * Answer the current command. @p status 0 is success; anything else fails the
 * run with @p msg (copied, truncated to 255 bytes; NULL: none) naming this
 * module. May also be called before the first wait to refuse start-up (then
 * exit). @return 0, HERMES_EINVAL or HERMES_ESTATE (nothing to answer).
 */
HERMES_API int hermes_module_done(hermes_module_t *m, int status, const char *msg);

/**
 * Answer the current STEP with success and ask Hermes to end the run
 * normally once this frame is complete: its outputs are wired, published and
 * recorded, then the run stops (state STOPPED, `hermes run` exits 0) with
 * "module 'NAME': @p msg" as the reason (hermes_scheduler_stop_reason(), the
 * server's `stopped` event message). Use it when the model reaches its own
 * end (an FMU asking to terminate, a vehicle that landed). The module then
 * keeps answering commands, TERMINATE next unless a client resets the run.
 * @p msg is copied, truncated to 255 bytes (NULL: none).
 * @return 0, HERMES_EINVAL (NULL), HERMES_ESTATE (nothing to answer, or the
 *         command is not a STEP). @since 0.5
 */
HERMES_API int hermes_module_finish(hermes_module_t *m, const char *msg);

#ifdef __cplusplus
}
#endif
#endif
