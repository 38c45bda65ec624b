/** @file fmu.h  FMU modules (`type: fmu`, docs/fmu.md): the variables of an
 * FMU that are not signals, and housekeeping of the folders archives are
 * unpacked into.
 * Threading: every call here may be made from any thread (the config calls
 * as for hermes/config.h: not while another thread changes the config).
 *
 * An .fmu archive is unpacked into `$TMPDIR/hermes-fmu-<pid>-XXXXXX` (or
 * /tmp when TMPDIR is unset), mode 0700, where <pid> is the process that
 * unpacked it; the folder is removed when that process destroys its
 * scheduler. A process that is killed leaves its folder behind: it is stale
 * once that process is gone, and hermes_fmu_sweep() (`hermes clean`) finds
 * and removes it. */
#ifndef HERMES_FMU_H
#define HERMES_FMU_H

#include <stdbool.h>
#include <stdint.h>
#include "common.h"
#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A variable of an FMU that is not a signal (a String, Binary, Clock, array,
 *  the independent variable, a structural parameter, a local without
 *  `locals: true`). Strings are borrowed from the config. */
typedef struct hermes_fmu_skipped {
    const char *name;    /**< the FMI variable name, as in modelDescription.xml */
    const char *reason;  /**< why it is not a signal, e.g. "a String variable" */
} hermes_fmu_skipped_t;

/** Number of variables of module @p module_index (an fmu module) that are
 *  not signals; 0 for other modules or an index out of range. @since 0.4 */
HERMES_API uint32_t hermes_fmu_skipped_count(const hermes_config_t *cfg, uint32_t module_index);

/**
 * Skipped variable @p i (< hermes_fmu_skipped_count()) of module @p module_index,
 * in modelDescription.xml order; the strings live as long as the config.
 * @return 0 or HERMES_EINVAL (NULL argument, index out of range)
 * @since 0.4
 */
HERMES_API int hermes_fmu_skipped(const hermes_config_t *cfg, uint32_t module_index, uint32_t i,
                                  hermes_fmu_skipped_t *out);

/**
 * Why signal @p signal_index of module @p module_index takes only an initial
 * value (`initial:`, `--set`, hermes_config_set_initial()) and cannot be set
 * while running: "a fixed FMU parameter"; NULL for every other signal and for
 * indices out of range. The text is static.
 * @since 0.4
 */
HERMES_API const char *hermes_fmu_signal_initial_only(const hermes_config_t *cfg, uint32_t module_index,
                                                      uint32_t signal_index);

/**
 * Why signal @p signal_index of module @p module_index takes no initial value
 * at all (hermes_config_set_initial() refuses it): "an FMU output" or "an FMU
 * local", whose value the FMU computes in its initialisation; NULL for every
 * other signal and for indices out of range. The text is static.
 * @since 0.5
 */
HERMES_API const char *hermes_fmu_signal_computed(const hermes_config_t *cfg, uint32_t module_index,
                                                  uint32_t signal_index);

/** Name prefix of every unpack folder ("hermes-fmu-"). */
#define HERMES_FMU_DIR_PREFIX "hermes-fmu-"

/** Called by hermes_fmu_sweep() once per stale folder. @p path is the
 *  folder's path, borrowed for the call; @p removed tells whether it was
 *  removed with all its content (false in a dry run or when that failed). */
typedef void (*hermes_fmu_sweep_fn)(void *ctx, const char *path, int owner_pid, bool removed);

/**
 * Find stale unpack folders: `hermes-fmu-<pid>-*` directories in $TMPDIR
 * (or /tmp) owned by the calling user whose <pid> no longer exists
 * (kill(pid, 0) fails with ESRCH). Folders of live processes, of other
 * users, symbolic links and names without a pid are never touched. With
 * @p remove, stale folders are deleted (not following symbolic links).
 * @param cb  optional, called for every stale folder
 * @return the number of stale folders found (>= 0), or HERMES_ESYS when the
 *         temporary folder cannot be read.
 * @since 0.4
 * Context: any thread.
 */
HERMES_API int hermes_fmu_sweep(bool remove, hermes_fmu_sweep_fn cb, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
