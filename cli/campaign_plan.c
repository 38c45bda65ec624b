/* hermes campaign plan: checks a campaign against its base config and writes the campaign directory. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "campaign_dir.h"

/* Absolute path of the running hermes binary (the launch scripts call it by this path). */
static char *self_exe(const char *argv0)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = '\0';
        return strdup(buf);
    }
    if (realpath(argv0, buf))
        return strdup(buf);
    return strdup("hermes");
}

static int write_runs_csv(const char *dir, const struct campaign *c, const hermes_config_t *cfg, char *err,
                          size_t errcap)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return C_IO;
    fputs("index,seed", f);
    for (uint32_t i = 0; i < c->ndisp; i++) {
        fputc(',', f);
        csv_field(f, c->disp[i].signal);
    }
    fputc('\n', f);
    double *v = calloc(c->ndisp + 1, sizeof *v);
    int rc = v ? 0 : C_IO;
    for (uint64_t r = 0; rc == 0 && r < c->runs; r++) {
        uint64_t seed;
        if (campaign_values(c, cfg, r, v, &seed, err, errcap) != 0) {
            rc = C_INVALID;
            break;
        }
        fprintf(f, "%" PRIu64 ",%" PRIu64, r, seed);
        for (uint32_t i = 0; i < c->ndisp; i++)
            fprintf(f, ",%.17g", v[i]);
        fputc('\n', f);
    }
    free(v);
    fclose(f);
    if (rc == 0) {
        char *path = fs_path_join(dir, "runs.csv");
        if (!path || fs_write_atomic(path, buf, len, 0644) != 0) {
            snprintf(err, errcap, "%s/runs.csv: cannot write: %s", dir, strerror(errno));
            rc = C_IO;
        }
        free(path);
    }
    free(buf);
    return rc;
}

/* CAMPAIGN.yaml and DIR into @p pos: -1 to go on, or the exit status. */
static int plan_args(int argc, char **argv, bool *force, const char *pos[2])
{
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--force"))
            *force = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage_campaign, stdout);
            return 0;
        } else if (argv[i][0] == '-' || npos == 2) {
            fprintf(stderr, "hermes campaign plan: unexpected argument '%s'\n\n%s", argv[i], usage_campaign);
            return C_USAGE;
        } else
            pos[npos++] = argv[i];
    }
    if (npos != 2) {
        fprintf(stderr, "hermes campaign plan: expected CAMPAIGN.yaml and DIR\n\n%s", usage_campaign);
        return C_USAGE;
    }
    return -1;
}

/* Load the base config into @p cfg and check the campaign against it: 0 or C_INVALID (printed). */
static int plan_check(const struct campaign *c, hermes_config_t **cfg)
{
    hermes_error_t e;
    if (hermes_config_load(cfg, c->base, &e) != 0) {
        fprintf(stderr, "hermes: %s (base config of %s)\n", e.message, c->path);
        return C_INVALID;
    }
    hermes_execution_t ex;
    hermes_config_execution(*cfg, &ex);
    if (!ex.has_end_time && !c->has_end_time) {
        fprintf(stderr, "hermes: %s: the base config %s has no execution.end_time: set end_time in the campaign\n",
                c->path, c->base);
        return C_INVALID;
    }
    char err[2048];
    if (campaign_check_config(c, *cfg, err, sizeof err) != 0) {
        fprintf(stderr, "hermes: %s\n", err);
        return C_INVALID;
    }
    FILE *f = c->restore ? fopen(c->restore, "rb") : NULL;
    if (c->restore && !f) {
        fprintf(stderr, "hermes: %s:%d:%d: restore: cannot read checkpoint %s: %s\n", c->path, c->restore_line,
                c->restore_col, c->restore, strerror(errno));
        return C_INVALID;
    }
    if (f)
        fclose(f);
    return 0;
}

/* Create DIR; its absolute path into @p adir (owned). Refuses a planned DIR
 * without --force. 0 or the exit status (printed). */
static int plan_mkdir(const char *dir, bool force, char **adir)
{
    if (fs_make_dir(dir) != 0) {
        fprintf(stderr, "hermes: %s: cannot create: %s\n", dir, strerror(errno));
        return C_IO;
    }
    char abuf[PATH_MAX];
    if (!realpath(dir, abuf)) {
        fprintf(stderr, "hermes: %s: %s\n", dir, strerror(errno));
        return C_IO;
    }
    if (!(*adir = strdup(abuf)))
        return C_IO;
    char *pj = fs_path_join(*adir, "plan.json");
    bool planned = pj && access(pj, F_OK) == 0;
    free(pj);
    if (planned && !force) {
        fprintf(stderr, "hermes: %s is already planned; --force replans it (results in runs/ are kept)\n", dir);
        return C_USAGE;
    }
    return 0;
}

/* runs/, slurm/ and the copies of the campaign file, the base config and the
 * checkpoint to restore (DIR/restore.hckpt: runs on any node read it by DIR's
 * absolute path). 0 or C_IO (printed). */
static int plan_copies(const char *adir, const struct campaign *c)
{
    char *runs_dir = fs_path_join(adir, "runs"), *slurm_dir = fs_path_join(adir, "slurm");
    char *cy = fs_path_join(adir, "campaign.yaml"), *by = fs_path_join(adir, "base.yaml");
    char *ck = fs_path_join(adir, CAMPAIGN_RESTORE_FILE);
    int rc = C_OK;
    if (!runs_dir || !slurm_dir || !cy || !by || !ck || fs_make_dir(runs_dir) || fs_make_dir(slurm_dir) ||
        fs_copy_file(c->path, cy) || fs_copy_file(c->base, by) ||
        (c->restore ? fs_copy_file(c->restore, ck) : (unlink(ck) != 0 && errno != ENOENT))) {
        fprintf(stderr, "hermes: %s: cannot write the campaign directory: %s\n", adir, strerror(errno));
        rc = C_IO;
    }
    free(runs_dir);
    free(slurm_dir);
    free(cy);
    free(by);
    free(ck);
    return rc;
}

/* DIR/plan.json, written last: a directory without it is not planned. 0 or C_IO with a message. */
static int plan_write_json(const char *adir, const struct campaign *c, const char *base_dir, const char *hermes,
                           char *err, size_t errcap)
{
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    char cabs[PATH_MAX];
    json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "format", PLAN_FORMAT, "campaign",
                          realpath(c->path, cabs) ? cabs : c->path, "base", c->base, "base_dir", base_dir, "runs",
                          (json_int_t)c->runs, "seed", seed, "hermes", hermes, "version", hermes_version_string());
    if (j && c->restore)   /* informative: runs read the copy, DIR/restore.hckpt */
        json_object_set_new(j, "restore", json_string(c->restore));
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    char *pj = fs_path_join(adir, "plan.json");
    int rc = C_OK;
    if (!text || !pj || fs_write_atomic(pj, text, strlen(text), 0644) != 0) {
        snprintf(err, errcap, "%s: cannot write: %s", pj ? pj : adir, strerror(errno));
        rc = C_IO;
    }
    free(pj);
    free(text);
    json_decref(j);
    return rc;
}

/* Everything in the directory: 0 or the exit status (printed). */
static int plan_write(const char *adir, const struct campaign *c, const hermes_config_t *cfg, const char *hermes)
{
    int rc = plan_copies(adir, c);
    if (rc)
        return rc;
    char err[2048] = "out of memory";
    char *base_dir = fs_dirname(c->base);
    rc = base_dir ? write_runs_csv(adir, c, cfg, err, sizeof err) : C_IO;
    if (rc == C_OK)
        rc = campaign_write_scripts(adir, c, hermes, err, sizeof err);
    if (rc == C_OK)
        rc = plan_write_json(adir, c, base_dir, hermes, err, sizeof err);
    free(base_dir);
    if (rc)
        fprintf(stderr, "hermes: %s\n", err);
    return rc;
}

int cmd_campaign_plan(int argc, char **argv, const char *argv0)
{
    bool force = false;
    const char *pos[2] = {NULL, NULL};
    int rc = plan_args(argc, argv, &force, pos);
    if (rc >= 0)
        return rc;
    char err[2048];
    struct campaign c;
    if (campaign_load(&c, pos[0], err, sizeof err) != 0) {
        fprintf(stderr, "hermes: %s\n", err);
        campaign_free(&c);
        return C_INVALID;
    }
    hermes_config_t *cfg = NULL;
    char *hermes = NULL, *adir = NULL;
    rc = plan_check(&c, &cfg);
    if (rc == C_OK)
        rc = plan_mkdir(pos[1], force, &adir);
    if (rc == C_OK && !(hermes = self_exe(argv0)))
        rc = C_IO;
    if (rc == C_OK)
        rc = plan_write(adir, &c, cfg, hermes);
    if (rc == C_OK)
        printf("planned %" PRIu64 " runs of %s (seed %" PRIu64 ", %u dispersions) in %s\n"
               "  locally:  %s/run-local.sh [-j JOBS]\n"
               "  Slurm:    sbatch %s/campaign.sbatch\n"
               "  one run:  %s campaign run %s INDEX\n"
               "  then:     %s campaign collect %s\n",
               c.runs, c.base, c.seed, c.ndisp, adir, adir, adir, hermes, adir, hermes, adir);
    free(hermes);
    free(adir);
    hermes_config_destroy(cfg);
    campaign_free(&c);
    return rc;
}
