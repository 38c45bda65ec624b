/** @file fmu.h  FMU modules (`type: fmu`, docs/fmu.md): housekeeping of the
 * folders their archives are unpacked into.
 * Threading: every call here may be made from any thread.
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
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

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
