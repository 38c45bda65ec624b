/* FMU unpack folders on disk (sweep.c), shared with archive.c. Private. */
#ifndef HERMES_LIB_FMU_SWEEP_H
#define HERMES_LIB_FMU_SWEEP_H

/* $TMPDIR, or /tmp when unset or empty: where unpack folders go. */
const char *hermes__fmu_tmpdir(void);
/* Remove @p dir and everything in it, not following symbolic links; 0 when
 * it is gone, -1 otherwise. NULL is fine. */
int hermes__fmu_remove_tree(const char *dir);
#endif
