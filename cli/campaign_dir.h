/* hermes campaign: what the campaign commands share: exit statuses, file helpers, the planned directory, run summaries. */
#ifndef HERMES_CLI_CAMPAIGN_DIR_H
#define HERMES_CLI_CAMPAIGN_DIR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "campaign.h"

/* Exit statuses of `hermes campaign` (docs/cli.md). */
enum { C_OK = 0, C_FAILED = 1, C_USAGE = 2, C_INVALID = 3, C_IO = 4 };

/* The copy of the campaign's `restore:` checkpoint in DIR. */
#define CAMPAIGN_RESTORE_FILE "restore.hckpt"

/* Version of DIR/plan.json. */
#define PLAN_FORMAT 1

/* `hermes campaign --help`. */
extern const char usage_campaign[];

/* ---- file helpers (campaign_dir.c) ---- */

/* "A/B", owned; NULL when out of memory. */
char *fs_path_join(const char *a, const char *b);
/* The whole file, NUL-terminated, owned (length in @p len if not NULL); NULL on failure (errno). */
char *fs_read_file(const char *path, size_t *len);
/* Write @p data to @p path through a temporary file and rename: readers never see half a file. 0 or -1 (errno). */
int fs_write_atomic(const char *path, const char *data, size_t len, mode_t mode);
int fs_copy_file(const char *from, const char *to);
/* Remove a file or a directory tree. 0 or -1. */
int fs_rm_tree(const char *path);
/* mkdir 0755; an existing directory is fine. 0 or -1. */
int fs_make_dir(const char *path);
/* Directory part of @p path ("." without a slash), owned. */
char *fs_dirname(const char *path);
/* A process with this id exists (perhaps another user's). */
bool fs_pid_alive(long pid);
/* Write @p s as one CSV field, quoted when needed (line breaks become spaces). */
void csv_field(FILE *f, const char *s);

/* ---- the planned campaign directory ---- */

struct plan {
    char    *dir;        /* as given (borrowed) */
    char    *base;       /* absolute path of the original base config */
    char    *base_dir;   /* its directory: relative module paths resolve there */
    uint64_t runs;
    uint64_t seed;
    struct campaign c;   /* from DIR/campaign.yaml */
};

/* Read DIR/plan.json and DIR/campaign.yaml: 0, or C_IO / C_INVALID with a message in @p err. */
int plan_open(struct plan *p, const char *dir, char *err, size_t errcap);
/* plan_open() with its error printed: 0, or the exit status (@p p freed). */
int plan_load(struct plan *p, const char *dir);
void plan_free(struct plan *p);
/* Load the base config as planned: DIR/base.yaml with relative paths resolved
 * against the original's directory. 0, or C_IO / C_INVALID with a message. */
int plan_config(const struct plan *p, hermes_config_t **cfg, char *err, size_t errcap);

/* ---- run summaries (DIR/runs/INDEX/summary.json) ---- */

enum run_state { RS_MISSING = 0, RS_OK = 1, RS_FAILED = 2 };

/* The summary of run @p index (owned, json_decref), or NULL when there is none. */
json_t *summary_load(const char *dir, uint64_t index);
/* RS_MISSING for NULL or a summary without status. */
enum run_state summary_state(const json_t *sum);

/* ---- the commands ---- */

int cmd_campaign_plan(int argc, char **argv, const char *argv0);   /* campaign_plan.c */
int cmd_campaign_run(int argc, char **argv);                       /* campaign_run.c */
int cmd_campaign_collect(int argc, char **argv);                   /* campaign_collect.c */
int cmd_campaign_status(int argc, char **argv);                    /* campaign_collect.c */

/* The DIR of `hermes campaign NAME DIR` (collect, status), or NULL with the
 * exit status in @p status (0 after --help, C_USAGE after a usage error). */
const char *campaign_dir_arg(const char *name, int argc, char **argv, int *status);

/* Write run-local.sh and campaign.sbatch into the absolute directory @p adir,
 * calling @p hermes. 0, or C_IO with a message (campaign_scripts.c). */
int campaign_write_scripts(const char *adir, const struct campaign *c, const char *hermes, char *err, size_t errcap);

#endif
