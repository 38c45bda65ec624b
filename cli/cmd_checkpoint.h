/* The CLI's checkpoint options of `hermes run`: --checkpoint, --checkpoint-at, --restore (docs/checkpoints.md). */
#ifndef HERMES_CLI_CMD_CHECKPOINT_H
#define HERMES_CLI_CMD_CHECKPOINT_H

#include <hermes/hermes.h>
#include "cmd_record.h"

struct cli_ckpt {
    const char *file;     /* --checkpoint FILE (or FOLDER with several times) */
    const char *at;       /* --checkpoint-at T1,T2,... (sim seconds) */
    const char *restore;  /* --restore FILE */
    const char *dir;      /* --checkpoint-dir DIR: where the protocol's checkpoint command writes */
};

/* One --set MODULE.SIGNAL=VALUE of `hermes run`, parsed once (main.c):
 * applied to the config's initial values and, with --restore, again over
 * the restored state. */
struct cli_set {
    const char *arg;                      /* as given, for messages */
    char        name[HERMES_MAX_NAME + 2];
    double      value;                    /* true/false are 1/0 */
};

/* Usage lines for `hermes run --help`. */
extern const char cli_ckpt_usage[];

/* Handle one option (name without "--"): 0 or 2 (message printed). */
int cli_ckpt_option(struct cli_ckpt *c, const char *name, const char *arg);
/* After stage, before the recording (when restoring), the server and the run:
 * restore the checkpoint and apply @p sets
 * over it, schedule the checkpoints (the options, each over @p cfg's
 * execution.checkpoint field), set the checkpoint folder. @p rerun: --rerun
 * was given (refused with --restore). 0 or an exit status (logged). */
int cli_ckpt_attach(const struct cli_ckpt *c, hermes_scheduler_t *s, const hermes_config_t *cfg,
                    const hermes_execution_t *ex, const struct cli_set *sets, int nsets, bool rerun,
                    cli_log_fn log);

#endif
