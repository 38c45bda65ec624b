/** @file inproc.h  ABI of in-process modules (shared objects loaded with dlopen).
 *
 * A module library exports one function, HERMES_INPROC_ENTRY_SYMBOL, that
 * returns a static table of callbacks. Hermes accepts a table whose
 * abi_version is between HERMES_INPROC_ABI_MIN and HERMES_INPROC_ABI_VERSION
 * and refuses any other (so a module built against a newer header fails
 * cleanly on an older Hermes instead of reading fields that are not there).
 * Version 2 appended `has_seed` and `seed` to hermes_inproc_env_t; a module
 * whose table says version 1 must not read them. Version 3 appended the
 * optional state callbacks (checkpoints, docs/checkpoints.md) to the table;
 * Hermes reads them only from tables that say version 3, so version 1 and 2
 * modules still load (a checkpoint of a run with one of them fails, naming
 * it, unless the config says `restore: replay`). A C host can also hand
 * the same table directly to a config (hermes_config_set_module_callbacks()).
 *
 * Threading: callbacks run on the scheduler thread, one module at a time, in
 * schedule order, except step() of a module in a schedule group (see
 * hermes_config_set_schedule_groups()), which may run on a worker thread of
 * the scheduler, concurrently with the other members of its group, and not
 * always on the same thread (the scheduler thread steps a worker's members
 * when the worker is late): it must then touch only its own signals and
 * state, and keep no thread-local state between steps. init, stage, reset and
 * terminate always run on the thread that calls the scheduler. Callbacks
 * must not call scheduler control functions other than
 * hermes_scheduler_stop() (the others return HERMES_ESTATE).
 * Ownership: @ref hermes_inproc_env_t and everything it points to belong to
 * Hermes and stay valid from init until terminate returns. */
#ifndef HERMES_INPROC_H
#define HERMES_INPROC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HERMES_INPROC_ABI_VERSION 3u
/** Oldest table version this Hermes still loads. */
#define HERMES_INPROC_ABI_MIN 1u
#define HERMES_INPROC_ENTRY_SYMBOL "hermes_inproc_entry"

/** What a module gets at init. */
typedef struct hermes_inproc_env {
    const char         *module_name;
    const char         *config_path;  /**< resolved `config:` path, or NULL */
    uint32_t            signal_count;
    const char *const  *signal_names; /**< local names, declaration order */
    double *const      *slots;        /**< direct pointers to the live f64 slots, same order */
    char               *errbuf;       /**< write a message here when a callback fails */
    size_t              errbuf_size;
    /* ABI version 2 (read only when the module's table says abi_version >= 2): */
    uint32_t            has_seed;     /**< 1 when the run has a seed (`hermes run --seed`, a campaign run) */
    uint64_t            seed;         /**< the run's seed, for noise models; 0 when has_seed is 0 */
} hermes_inproc_env_t;

/** Callback table. Each callback returns 0 on success; anything else stops the
 *  run with an error naming the module and the text left in env->errbuf. */
typedef struct hermes_inproc_module {
    uint32_t abi_version;   /**< HERMES_INPROC_ABI_VERSION of the header the module was built with */
    uint32_t reserved;
    /** Allocate state; store it in *state. Called once. */
    int  (*init)(void **state, const hermes_inproc_env_t *env);
    /** Called before the first frame and after every reset (signals hold their initial values). */
    int  (*stage)(void *state);
    /** Advance by @p dt seconds; @p frame is the frame being computed (0 for the first). A module
     *  with its own rate (hermes_config_set_module_rate()) is called only on its frames, with
     *  dt = its divisor / execution.rate_hz; otherwise every frame with 1 / execution.rate_hz. */
    int  (*step)(void *state, uint64_t frame, double dt);
    /** Return to initial conditions (signals are restored by Hermes afterwards). */
    int  (*reset)(void *state);
    /** Free state. Called once, also after a failed run; may be NULL. */
    void (*terminate)(void *state);
    /* ABI version 3 (read only when abi_version >= 3). State for checkpoints:
     * all three or none (NULL: the module has no state support). Called at a
     * frame boundary on the thread that calls the scheduler. */
    /** Bytes state_save() will write now (at most 1 GiB). */
    size_t (*state_size)(void *state);
    /** Write exactly @p size bytes (state_size()'s answer) of the state the module needs to continue bit for bit. */
    int  (*state_save)(void *state, void *buf, size_t size);
    /** Restore what state_save() wrote (possibly in another process, after init and stage). */
    int  (*state_load)(void *state, const void *buf, size_t size);
} hermes_inproc_module_t;

/** Type of the exported entry point. */
typedef const hermes_inproc_module_t *(*hermes_inproc_entry_fn)(void);

/** Find the slot of a local signal name in @p env, or NULL (setup-time helper). */
static inline double *hermes_inproc_slot(const hermes_inproc_env_t *env, const char *local_name)
{
    for (uint32_t i = 0; i < env->signal_count; i++)
        if (strcmp(env->signal_names[i], local_name) == 0)
            return env->slots[i];
    return NULL;
}

/** Export helper for module libraries: HERMES_INPROC_EXPORT(my_table) */
#define HERMES_INPROC_EXPORT(table)                                                   \
    __attribute__((visibility("default"))) const hermes_inproc_module_t *hermes_inproc_entry(void); \
    __attribute__((visibility("default"))) const hermes_inproc_module_t *hermes_inproc_entry(void) \
    { return &(table); }

#ifdef __cplusplus
}
#endif
#endif
