/* `hermes run --checkpoint FILE --checkpoint-at T[,T..]` and `--restore FILE` (docs/checkpoints.md). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd_checkpoint.h"

const char cli_ckpt_usage[] =
    "  --checkpoint FILE      write a checkpoint (docs/checkpoints.md) at each --checkpoint-at\n"
    "                         time; with several times FILE is a folder and each file is\n"
    "                         FILE/checkpoint-FRAME.hckpt\n"
    "  --checkpoint-at LIST   comma-separated sim times in seconds: the first frame at or after each\n"
    "  --restore FILE         start from a checkpoint of this config; --set values apply after it\n"
    "  --checkpoint-dir DIR   where clients' checkpoint commands write (generated names)\n";

int cli_ckpt_option(struct cli_ckpt *c, const char *name, const char *arg)
{
    if (!strcmp(name, "checkpoint"))
        c->file = arg;
    else if (!strcmp(name, "checkpoint-at"))
        c->at = arg;
    else if (!strcmp(name, "restore"))
        c->restore = arg;
    else if (!strcmp(name, "checkpoint-dir"))
        c->dir = arg;
    else
        return 2;
    return 0;
}

/* The --set values again, over the restored state. */
static int apply_sets(hermes_scheduler_t *s, const struct cli_set *sets, int nsets, cli_log_fn log)
{
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    for (int i = 0; i < nsets; i++) {
        hermes_signal_t sig;
        if (hermes_backplane_find(bp, sets[i].name, &sig) != 0 || hermes_backplane_write(bp, sig, sets[i].value) != 0) {
            log(HERMES_LOG_ERROR, "event=restore_failed error=\"--set %s: %s\"", sets[i].arg, hermes_last_error());
            return 2;
        }
    }
    if (nsets)  /* readers (the recording's first row, clients) see the values at once */
        hermes_backplane_publish(bp, hermes_backplane_frame(bp), hermes_backplane_time_ns(bp));
    return 0;
}

/* --checkpoint-at's list into @p at (at most @p cap): the count, or -1 (logged). */
static int parse_times(const char *list, double *at, int cap, cli_log_fn log)
{
    int n = 0;
    for (const char *p = list;; n++) {
        char *end;
        errno = 0;
        double t = n < cap ? strtod(p, &end) : -1;
        if (n >= cap || errno || end == p || (*end && *end != ',') || !isfinite(t) || t < 0) {
            log(HERMES_LOG_ERROR, "event=checkpoint_invalid error=\"--checkpoint-at needs sim times >= 0 in seconds "
                "got '%s'\"", list);
            return -1;
        }
        at[n] = t;
        if (!*end)
            return n + 1;
        p = end + 1;
    }
}

static int schedule(const char *file, const double *at, int n, hermes_scheduler_t *s, double rate_hz, cli_log_fn log)
{
    struct stat st;
    bool folder = n > 1 || (stat(file, &st) == 0 && S_ISDIR(st.st_mode));
    if (folder && (stat(file, &st) != 0 || !S_ISDIR(st.st_mode))) {
        log(HERMES_LOG_ERROR, "event=checkpoint_invalid error=\"with several checkpoint times, the checkpoint file %s "
            "must be an existing folder\"", file);
        return 2;
    }
    for (int i = 0; i < n; i++) {
        uint64_t frame = (uint64_t)ceil(at[i] * rate_hz - 1e-9);
        char path[PATH_MAX];
        if (folder)
            snprintf(path, sizeof path, "%s/checkpoint-%llu.hckpt", file, (unsigned long long)frame);
        else
            snprintf(path, sizeof path, "%s", file);
        if (hermes_scheduler_checkpoint_at(s, frame, path) != 0) {
            log(HERMES_LOG_ERROR, "event=checkpoint_invalid error=\"%s\"", hermes_last_error());
            return 4;
        }
    }
    return 0;
}

/* --checkpoint and --checkpoint-at, each over execution.checkpoint's field. */
static int schedule_all(const struct cli_ckpt *c, hermes_scheduler_t *s, const hermes_config_t *cfg,
                        const hermes_execution_t *ex, cli_log_fn log)
{
    hermes_checkpoint_settings_t ck;
    if (hermes_config_checkpoint(cfg, &ck) != 0)
        ck = (hermes_checkpoint_settings_t){NULL, NULL, 0};
    const char *file = c->file ? c->file : ck.file;
    int n = (int)ck.at_count, cap = 1;
    for (const char *p = c->at; p && *p; p++)
        cap += *p == ',';
    double *cli_at = c->at ? calloc((size_t)cap, sizeof *cli_at) : NULL;
    if (c->at && (!cli_at || (n = parse_times(c->at, cli_at, cap, log)) < 0)) {
        free(cli_at);
        return 2;
    }
    int rc = 0;
    if ((file != NULL) != (n > 0)) {
        log(HERMES_LOG_ERROR, "event=checkpoint_invalid error=\"--checkpoint and --checkpoint-at go together "
            "(either may come from execution.checkpoint in the config)\"");
        rc = 2;
    } else if (file) {
        rc = schedule(file, c->at ? cli_at : ck.at, n, s, ex->rate_hz, log);
    }
    free(cli_at);
    return rc;
}

int cli_ckpt_attach(const struct cli_ckpt *c, hermes_scheduler_t *s, const hermes_config_t *cfg,
                    const hermes_execution_t *ex, const struct cli_set *sets, int nsets, bool rerun,
                    cli_log_fn log)
{
    if (c->restore && rerun) {
        log(HERMES_LOG_ERROR, "event=restore_failed error=\"--restore cannot be combined with --rerun: a rerun "
            "replays its recording from frame 0\"");
        return 2;
    }
    if (c->restore) {
        int e = hermes_scheduler_restore(s, c->restore);
        if (e != 0) {
            log(HERMES_LOG_ERROR, "event=restore_failed path=\"%s\" error=\"%s\"", c->restore, hermes_last_error());
            return e == HERMES_ECONFIG ? 3 : 4;
        }
        int rc = apply_sets(s, sets, nsets, log);
        if (rc)
            return rc;
        log(HERMES_LOG_INFO, "event=restored path=\"%s\" frame=%llu sets=%d", c->restore,
            (unsigned long long)hermes_scheduler_frame(s), nsets);
    }
    if (c->dir && (hermes_scheduler_checkpoint_check(s) != 0 || hermes_scheduler_set_checkpoint_dir(s, c->dir) != 0)) {
        log(HERMES_LOG_ERROR, "event=checkpoint_invalid error=\"--checkpoint-dir: %s\"", hermes_last_error());
        return 4;
    }
    return schedule_all(c, s, cfg, ex, log);
}
