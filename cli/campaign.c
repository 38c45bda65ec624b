/* hermes campaign: plan, run, collect and status of Monte Carlo campaigns (docs/campaigns.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "campaign.h"
#include "cli_server.h"

enum { C_OK = 0, C_FAILED = 1, C_USAGE = 2, C_INVALID = 3, C_IO = 4 };

#define PLAN_FORMAT 1

static const char usage_campaign[] =
    "usage: hermes campaign <command> ...\n"
    "\n"
    "  plan CAMPAIGN.yaml DIR [--force]   write DIR: runs.csv, copies, run-local.sh, campaign.sbatch\n"
    "  run DIR INDEX [--force] [--server] [--port N]\n"
    "                                     one run (as fast as possible) into DIR/runs/INDEX/\n"
    "  collect DIR                        DIR/results.csv (and .h5), failed and missing runs, rerun command\n"
    "  status DIR                         done / failed / missing counts\n"
    "\n"
    "exit status: 0 ok, 1 a run failed (run) or some runs failed or are missing (collect),\n"
    "2 bad command line, 3 invalid campaign or base config, 4 cannot read or write DIR.\n"
    "See docs/campaigns.md for the campaign file.\n";

/* ---- small file helpers ------------------------------------------------------ */

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Write @p data to @p path through a temporary file and rename: readers
 * never see half a file, and a writer killed halfway leaves none. (No fsync:
 * the promise is about crashed runs, not crashed machines, and fsync costs
 * milliseconds per file on shared cluster file systems.) */
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int rc = off == len ? 0 : -1;
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0)
        rc = rename(tmp, path);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

static int copy_file(const char *from, const char *to)
{
    size_t len;
    char *text = read_file(from, &len);
    if (!text)
        return -1;
    int rc = write_atomic(to, text, len, 0644);
    free(text);
    return rc;
}

static int rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = path_join(path, e->d_name);
        if (!p || rm_tree(p) != 0)
            rc = -1;
        free(p);
    }
    closedir(d);
    return rmdir(path) == 0 && rc == 0 ? 0 : -1;
}

static bool pid_alive(long pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static char *dirname_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

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

/* Single-quote @p s for a POSIX shell. */
static void sh_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc('"', f);
}

/* ---- the planned campaign directory ---------------------------------------- */

struct plan {
    char    *dir;        /* as given */
    char    *base;       /* absolute path of the original base config */
    char    *base_dir;   /* its directory: relative module paths resolve there */
    uint64_t runs;
    uint64_t seed;
    struct campaign c;   /* from DIR/campaign.yaml */
};

static void plan_free(struct plan *p)
{
    free(p->base);
    free(p->base_dir);
    campaign_free(&p->c);
    memset(p, 0, sizeof *p);
}

static int plan_open(struct plan *p, const char *dir, char *err, size_t errcap)
{
    memset(p, 0, sizeof *p);
    p->dir = (char *)dir;
    char *path = path_join(dir, "plan.json");
    json_error_t je;
    json_t *j = path ? json_load_file(path, 0, &je) : NULL;
    if (!j) {
        snprintf(err, errcap, "%s: not a planned campaign directory (%s); run `hermes campaign plan` first",
                 path ? path : dir, path ? je.text : "out of memory");
        free(path);
        return C_IO;
    }
    const char *base = NULL, *base_dir = NULL, *seed = NULL;
    json_int_t fmt = 0, runs = 0;
    if (json_unpack_ex(j, &je, 0, "{s:I, s:s, s:s, s:I, s:s}", "format", &fmt, "base", &base, "base_dir", &base_dir,
                       "runs", &runs, "seed", &seed) != 0 ||
        fmt != PLAN_FORMAT || runs <= 0) {
        snprintf(err, errcap, "%s: unreadable plan (%s)", path, fmt != PLAN_FORMAT ? "unknown format" : je.text);
        json_decref(j);
        free(path);
        return C_IO;
    }
    p->base = strdup(base);
    p->base_dir = strdup(base_dir);
    p->runs = (uint64_t)runs;
    p->seed = strtoull(seed, NULL, 10);
    json_decref(j);
    free(path);
    char *cpath = path_join(dir, "campaign.yaml");
    int rc = cpath && p->base && p->base_dir ? campaign_load(&p->c, cpath, err, errcap) : -1;
    free(cpath);
    if (rc)
        return C_INVALID;
    return 0;
}

/* Load the base config as planned: the copy in DIR/base.yaml, with relative
 * paths resolved against the original's directory. */
static int plan_config(const struct plan *p, hermes_config_t **cfg, char *err, size_t errcap)
{
    char *path = path_join(p->dir, "base.yaml");
    size_t len = 0;
    char *text = path ? read_file(path, &len) : NULL;
    if (!text) {
        snprintf(err, errcap, "%s: cannot read: %s", path ? path : p->dir, strerror(errno));
        free(path);
        return C_IO;
    }
    hermes_error_t e;
    int rc = hermes_config_parse(cfg, text, len, p->base, p->base_dir, &e);
    free(text);
    free(path);
    if (rc) {
        snprintf(err, errcap, "%s", e.message);
        return C_INVALID;
    }
    return 0;
}

/* ---- plan -------------------------------------------------------------------- */

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
        char *path = path_join(dir, "runs.csv");
        if (!path || write_atomic(path, buf, len, 0644) != 0) {
            snprintf(err, errcap, "%s/runs.csv: cannot write: %s", dir, strerror(errno));
            rc = C_IO;
        }
        free(path);
    }
    free(buf);
    return rc;
}

static int write_scripts(const char *adir, const struct campaign *c, const char *hermes, char *err, size_t errcap)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return C_IO;
    fprintf(f,
            "#!/bin/sh\n"
            "# Runs every run of this campaign on this machine with GNU parallel, then prints the status.\n"
            "# usage: run-local.sh [-j JOBS] [more GNU parallel options]   (JOBS: default the number of cores)\n"
            "# Finished runs are skipped, so running it again completes a campaign that was interrupted.\n"
            "# Generated by `hermes campaign plan`; $HERMES overrides the hermes binary.\n"
            "DIR=");
    sh_quote(f, adir);
    fprintf(f, "\nHERMES=${HERMES:-");
    sh_quote(f, hermes);
    fprintf(f,
            "}\n"
            "JOBS=$(nproc 2>/dev/null || echo 1)\n"
            "if [ \"${1:-}\" = \"-j\" ] && [ $# -ge 2 ]; then JOBS=$2; shift 2; fi\n"
            "seq 0 %" PRIu64 " | parallel --will-cite --ungroup -j \"$JOBS\" --joblog \"$DIR/joblog\" \"$@\" \\\n"
            "    \"$HERMES\" campaign run \"$DIR\" {}\n"
            "rc=$?\n"
            "\"$HERMES\" campaign status \"$DIR\"\n"
            "exit $rc\n",
            c->runs - 1);
    fclose(f);
    char *path = path_join(adir, "run-local.sh");
    int rc = path && write_atomic(path, buf, len, 0755) == 0 ? 0 : C_IO;
    free(path);
    free(buf);
    if (rc) {
        snprintf(err, errcap, "%s/run-local.sh: cannot write: %s", adir, strerror(errno));
        return rc;
    }

    buf = NULL;
    len = 0;
    if (!(f = open_memstream(&buf, &len)))
        return C_IO;
    fprintf(f, "#!/bin/sh\n#SBATCH --job-name=hermes-campaign\n#SBATCH --array=0-%" PRIu64, c->runs - 1);
    if (c->slurm_limit)
        fprintf(f, "%%%u", c->slurm_limit);
    fprintf(f, "\n#SBATCH --ntasks=1\n#SBATCH --output=%s/slurm/%%A_%%a.out\n", adir);
    if (c->slurm_time)
        fprintf(f, "#SBATCH --time=%s\n", c->slurm_time);
    if (c->slurm_partition)
        fprintf(f, "#SBATCH --partition=%s\n", c->slurm_partition);
    for (uint32_t i = 0; i < c->nslurm_extra; i++)
        fprintf(f, "#SBATCH %s\n", c->slurm_extra[i]);
    fprintf(f,
            "# One task of the array is one run: index $SLURM_ARRAY_TASK_ID. Finished runs are skipped,\n"
            "# so resubmitting the array (or `sbatch --array=3,7 ...` for chosen runs) is safe.\n"
            "# Generated by `hermes campaign plan`; $HERMES overrides the hermes binary.\n"
            "DIR=");
    sh_quote(f, adir);
    fprintf(f, "\nHERMES=${HERMES:-");
    sh_quote(f, hermes);
    fprintf(f, "}\nexec \"$HERMES\" campaign run \"$DIR\" \"$SLURM_ARRAY_TASK_ID\"\n");
    fclose(f);
    path = path_join(adir, "campaign.sbatch");
    rc = path && write_atomic(path, buf, len, 0755) == 0 ? 0 : C_IO;
    free(path);
    free(buf);
    if (rc)
        snprintf(err, errcap, "%s/campaign.sbatch: cannot write: %s", adir, strerror(errno));
    return rc;
}

static int make_dir(const char *path)
{
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* plan_open() with its error printed: 0, or the exit status (@p p freed). */
static int plan_load(struct plan *p, const char *dir)
{
    char err[2048];
    int rc = plan_open(p, dir, err, sizeof err);
    if (rc) {
        fprintf(stderr, "hermes: %s\n", err);
        plan_free(p);
    }
    return rc;
}

/* The DIR of `hermes campaign NAME DIR` (collect, status), or NULL with the
 * exit status in @p status (0 after --help, C_USAGE after a usage error). */
static const char *dir_arg(const char *name, int argc, char **argv, int *status)
{
    if (argc == 2 && argv[1][0] != '-')
        return argv[1];
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(usage_campaign, stdout);
        *status = 0;
        return NULL;
    }
    fprintf(stderr, "hermes campaign %s: expected DIR\n\n%s", name, usage_campaign);
    *status = C_USAGE;
    return NULL;
}

static int cmd_plan(int argc, char **argv, const char *argv0)
{
    bool force = false;
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--force"))
            force = true;
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
    char err[2048];
    struct campaign c;
    if (campaign_load(&c, pos[0], err, sizeof err) != 0) {
        fprintf(stderr, "hermes: %s\n", err);
        campaign_free(&c);
        return C_INVALID;
    }
    hermes_config_t *cfg = NULL;
    hermes_error_t e;
    int rc = C_OK;
    char *hermes = NULL, *adir = NULL, *base_dir = NULL;
    if (hermes_config_load(&cfg, c.base, &e) != 0) {
        fprintf(stderr, "hermes: %s (base config of %s)\n", e.message, c.path);
        rc = C_INVALID;
        goto out;
    }
    hermes_execution_t ex;
    hermes_config_execution(cfg, &ex);
    if (!ex.has_end_time && !c.has_end_time) {
        fprintf(stderr, "hermes: %s: the base config %s has no execution.end_time: set end_time in the campaign\n",
                c.path, c.base);
        rc = C_INVALID;
        goto out;
    }
    if (campaign_check_config(&c, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "hermes: %s\n", err);
        rc = C_INVALID;
        goto out;
    }
    if (make_dir(pos[1]) != 0) {
        fprintf(stderr, "hermes: %s: cannot create: %s\n", pos[1], strerror(errno));
        rc = C_IO;
        goto out;
    }
    char abuf[PATH_MAX];
    if (!realpath(pos[1], abuf)) {
        fprintf(stderr, "hermes: %s: %s\n", pos[1], strerror(errno));
        rc = C_IO;
        goto out;
    }
    adir = strdup(abuf);
    char *pj = path_join(adir, "plan.json");
    bool planned = pj && access(pj, F_OK) == 0;
    if (planned && !force) {
        fprintf(stderr, "hermes: %s is already planned; --force replans it (results in runs/ are kept)\n", pos[1]);
        free(pj);
        rc = C_USAGE;
        goto out;
    }
    hermes = self_exe(argv0);
    base_dir = dirname_of(c.base);
    char *runs_dir = path_join(adir, "runs"), *slurm_dir = path_join(adir, "slurm");
    char *cy = path_join(adir, "campaign.yaml"), *by = path_join(adir, "base.yaml");
    if (!runs_dir || !slurm_dir || !cy || !by || make_dir(runs_dir) || make_dir(slurm_dir) ||
        copy_file(c.path, cy) || copy_file(c.base, by)) {
        fprintf(stderr, "hermes: %s: cannot write the campaign directory: %s\n", adir, strerror(errno));
        rc = C_IO;
    }
    free(runs_dir);
    free(slurm_dir);
    free(cy);
    free(by);
    if (rc == C_OK)
        rc = write_runs_csv(adir, &c, cfg, err, sizeof err);
    if (rc == C_OK)
        rc = write_scripts(adir, &c, hermes, err, sizeof err);
    if (rc == C_OK) {
        char seed[32];
        snprintf(seed, sizeof seed, "%" PRIu64, c.seed);
        char cabs[PATH_MAX];
        json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "format", PLAN_FORMAT, "campaign",
                              realpath(c.path, cabs) ? cabs : c.path, "base", c.base, "base_dir", base_dir, "runs",
                              (json_int_t)c.runs, "seed", seed, "hermes", hermes, "version", hermes_version_string());
        char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
        if (!text || !pj || write_atomic(pj, text, strlen(text), 0644) != 0) {
            snprintf(err, sizeof err, "%s: cannot write: %s", pj ? pj : adir, strerror(errno));
            rc = C_IO;
        }
        free(text);
        json_decref(j);
    }
    free(pj);
    if (rc) {
        fprintf(stderr, "hermes: %s\n", err);
        goto out;
    }
    printf("planned %" PRIu64 " runs of %s (seed %" PRIu64 ", %u dispersions) in %s\n"
           "  locally:  %s/run-local.sh [-j JOBS]\n"
           "  Slurm:    sbatch %s/campaign.sbatch\n"
           "  one run:  %s campaign run %s INDEX\n"
           "  then:     %s campaign collect %s\n",
           c.runs, c.base, c.seed, c.ndisp, adir, adir, adir, hermes, adir, hermes, adir);
out:
    free(hermes);
    free(adir);
    free(base_dir);
    hermes_config_destroy(cfg);
    campaign_free(&c);
    return rc;
}

/* ---- run --------------------------------------------------------------------- */

static FILE *run_log;

static void log_to_file(void *ctx, hermes_log_level_t level, const char *component, const char *msg)
{
    (void)ctx;
    if (!run_log)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char t[40];
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    static const char *const names[] = {"none", "error", "warn", "info", "debug"};
    fprintf(run_log, "ts=%s.%03ldZ level=%s component=%s %s\n", t, ts.tv_nsec / 1000000,
            (unsigned)level < 5 ? names[level] : "?", component, msg);
    fflush(run_log);
}

__attribute__((format(printf, 2, 3))) static void runlog(hermes_log_level_t level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_to_file(NULL, level, "campaign", msg);
}

/* Remove temporary directories of @p index left by runs that died. */
static void sweep_tmp(const char *runs_dir, uint64_t index)
{
    DIR *d = opendir(runs_dir);
    if (!d)
        return;
    char prefix[64];
    int pl = snprintf(prefix, sizeof prefix, ".tmp-%" PRIu64 "-", index);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, (size_t)pl) != 0)
            continue;
        long pid = strtol(e->d_name + pl, NULL, 10);
        if (pid == (long)getpid() || pid_alive(pid))
            continue;
        char *p = path_join(runs_dir, e->d_name);
        if (p)
            rm_tree(p);
        free(p);
    }
    closedir(d);
}

/* Status of a finished run: "ok", "failed", or NULL when there is no summary. */
static json_t *load_summary(const char *dir, uint64_t index)
{
    char rel[64];
    snprintf(rel, sizeof rel, "runs/%" PRIu64 "/summary.json", index);
    char *p = path_join(dir, rel);
    json_t *j = p ? json_load_file(p, 0, NULL) : NULL;
    free(p);
    return j;
}

/* SIGINT/SIGTERM (Ctrl+C, scancel, a Slurm time limit) end the run at the
 * next frame: modules terminated, shared memory removed, a failed summary
 * that collect lists for rerun. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

struct observed {
    const double *slot;
    double        value;
};

static int cmd_run_one(int argc, char **argv)
{
    enum { O_FORCE = 1, O_SERVER, O_PORT };
    static const struct option opts[] = {{"force", no_argument, NULL, O_FORCE},
                                         {"server", no_argument, NULL, O_SERVER},
                                         {"port", required_argument, NULL, O_PORT},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool force = false, serve = false;
    long port = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case O_FORCE: force = true; break;
        case O_SERVER: serve = true; break;
        case O_PORT: {
            char *end;
            port = strtol(optarg, &end, 10);
            if (*end || end == optarg || port < 0 || port > 65535) {
                fprintf(stderr, "hermes campaign run: --port needs 0..65535, got '%s'\n", optarg);
                return C_USAGE;
            }
            serve = true;
            break;
        }
        case 'h': fputs(usage_campaign, stdout); return 0;
        default: fputs(usage_campaign, stderr); return C_USAGE;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "hermes campaign run: expected DIR and INDEX\n\n%s", usage_campaign);
        return C_USAGE;
    }
    const char *dir = argv[optind], *idx_s = argv[optind + 1];
    char *end;
    errno = 0;
    unsigned long long index = strtoull(idx_s, &end, 10);
    if (end == idx_s || *end || errno || strchr(idx_s, '-')) {
        fprintf(stderr, "hermes campaign run: INDEX must be a run number, got '%s'\n", idx_s);
        return C_USAGE;
    }
    struct plan p;
    int rc = plan_load(&p, dir);
    if (rc)
        return rc;
    if (index >= p.runs) {
        fprintf(stderr, "hermes campaign run: INDEX %llu is out of range: the campaign has runs 0..%" PRIu64 "\n",
                index, p.runs - 1);
        plan_free(&p);
        return C_USAGE;
    }
    json_t *prev = load_summary(dir, index);
    const char *prev_status = prev ? json_string_value(json_object_get(prev, "status")) : NULL;
    if (prev_status && !strcmp(prev_status, "ok") && !force) {
        printf("run %llu is already done (--force runs it again)\n", index);
        json_decref(prev);
        plan_free(&p);
        return C_OK;
    }
    json_decref(prev);

    /* Everything goes to a private temporary directory, renamed into place at
     * the end: a run killed halfway leaves no half summary. */
    char *runs_dir = path_join(dir, "runs");
    char name[96], fin[64];
    snprintf(name, sizeof name, ".tmp-%llu-%ld", index, (long)getpid());
    snprintf(fin, sizeof fin, "%llu", index);
    char *tmp = runs_dir ? path_join(runs_dir, name) : NULL;
    char *final_dir = runs_dir ? path_join(runs_dir, fin) : NULL;
    if (!tmp || !final_dir || make_dir(runs_dir) != 0 || mkdir(tmp, 0755) != 0) {
        fprintf(stderr, "hermes: %s: cannot create the run directory: %s\n", tmp ? tmp : dir, strerror(errno));
        free(runs_dir);
        free(tmp);
        free(final_dir);
        plan_free(&p);
        return C_IO;
    }
    sweep_tmp(runs_dir, index);
    char *log_path = path_join(tmp, "log");
    run_log = log_path ? fopen(log_path, "we") : NULL;
    free(log_path);
    hermes_log_set(log_to_file, NULL, HERMES_LOG_INFO);

    const struct campaign *c = &p.c;
    double *values = calloc(c->ndisp + 1, sizeof *values);
    struct observed *obs = calloc(c->nout + 1, sizeof *obs);
    uint64_t seed = 0;
    hermes_config_t *cfg = NULL;
    hermes_scheduler_t *s = NULL;
    hermes_recorder_t *rec = NULL;
    struct cli_server *srv = NULL;
    const char *status = "failed", *reason = "startup";
    char error[1200] = "";
    uint64_t frames = 0;
    double sim_time = 0, wall = 0;
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (!values || !obs) {
        snprintf(error, sizeof error, "out of memory");
        goto done;
    }
    if (plan_config(&p, &cfg, error, sizeof error) != 0)
        goto done;
    if (campaign_values(c, cfg, index, values, &seed, error, sizeof error) != 0)
        goto done;
    for (uint32_t i = 0; i < c->ndisp; i++)
        if (hermes_config_set_initial(cfg, c->disp[i].signal, values[i]) != 0) {
            snprintf(error, sizeof error, "dispersion %s = %.17g: %s", c->disp[i].signal, values[i],
                     hermes_last_error());
            goto done;
        }
    hermes_config_set_seed(cfg, seed);
    hermes_execution_t ex;
    hermes_config_execution(cfg, &ex);
    ex.mode = HERMES_MODE_AFAP;
    if (c->has_end_time) {
        ex.end_time = c->end_time;
        ex.has_end_time = true;
    }
    if (!ex.has_end_time) {
        snprintf(error, sizeof error, "no end_time: neither the base config nor the campaign sets one");
        goto done;
    }
    hermes_config_set_execution(cfg, &ex);
    hermes_error_t ve;
    if (hermes_config_validate(cfg, &ve) != 0) {
        snprintf(error, sizeof error, "%s", ve.message);
        goto done;
    }
    hermes_scheduler_options_t opt;
    hermes_scheduler_options_init(&opt);
    if (hermes_scheduler_create(&s, cfg, &opt) != 0) {
        snprintf(error, sizeof error, "%s", hermes_last_error());
        goto done;
    }
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    runlog(HERMES_LOG_INFO, "event=start campaign=%s run=%llu seed=%" PRIu64 " backplane=%s end_time=%g", c->path,
           index, seed,
           hermes_backplane_name(bp), ex.end_time);
    for (uint32_t i = 0; i < c->nout; i++) {
        hermes_signal_t sig;
        if (hermes_backplane_find(bp, c->out[i].signal, &sig) != 0 ||
            !(obs[i].slot = hermes_backplane_slot(bp, sig))) {
            snprintf(error, sizeof error, "output signal '%s' does not exist in the run", c->out[i].signal);
            goto done;
        }
    }
    if (c->record) {
        /* What to record: the base config's record: section (its file is
         * ignored: each run records into its own directory); default all. */
        hermes_record_settings_t rs;
        hermes_config_record(cfg, &rs);
        char *rpath = path_join(tmp, "recording.h5");
        hermes_recorder_config_t rc;
        hermes_recorder_config_init(&rc);
        rc.path = rpath;
        rc.signals = rs.signals;
        rc.signal_count = rs.signal_count;
        rc.every = rs.every;
        rc.rate_hz = rs.rate_hz;
        int rrc = rpath ? hermes_recorder_create(&rec, s, &rc) : HERMES_ENOMEM;
        free(rpath);
        if (rrc != 0) {
            snprintf(error, sizeof error, "recording: %s", hermes_last_error());
            goto done;
        }
    }
    if (hermes_scheduler_stage(s) != 0) {
        snprintf(error, sizeof error, "%s", hermes_last_error());
        goto done;
    }
    if (serve) {
        hermes_server_settings_t ss;
        hermes_config_server(cfg, &ss);
        ss.port = (uint16_t)port;
        char e[512];
        if (cli_server_start(&srv, s, &ss, e, sizeof e) != 0) {
            snprintf(error, sizeof error, "server: %s", e);
            goto done;
        }
        fprintf(stderr, "hermes campaign run %llu: serving ws://%s:%d/\n", index, ss.host, cli_server_port(srv));
    }
    reason = "running";
    for (uint32_t i = 0; i < c->nout; i++)
        obs[i].value = *obs[i].slot;

    /* Step frame by frame in this thread: min and max see every frame
     * (frame 0, the staged state, included). */
    for (;;) {
        if (stop_signal) {
            snprintf(error, sizeof error, "interrupted by %s at frame %" PRIu64,
                     stop_signal == SIGINT ? "SIGINT" : "SIGTERM", hermes_scheduler_frame(s));
            reason = "interrupted";
            break;
        }
        uint64_t before = hermes_scheduler_frame(s);
        int src = hermes_scheduler_step(s, 1, NULL);
        if (src != 0) {
            if (hermes_scheduler_state(s) == HERMES_STATE_STOPPED)
                break;
            snprintf(error, sizeof error, "%s",
                     *hermes_scheduler_error(s) ? hermes_scheduler_error(s) : hermes_last_error());
            reason = "error";
            break;
        }
        if (hermes_scheduler_frame(s) == before)
            break;   /* end_time reached: the scheduler stopped */
        for (uint32_t i = 0; i < c->nout; i++) {
            double v = *obs[i].slot;
            if (c->out[i].stat == STAT_FINAL || (c->out[i].stat == STAT_MIN ? v < obs[i].value : v > obs[i].value))
                obs[i].value = v;
        }
        if (hermes_scheduler_state(s) != HERMES_STATE_PAUSED)
            break;
    }
    frames = hermes_scheduler_frame(s);
    sim_time = (double)hermes_backplane_time_ns(bp) * 1e-9;
    if (!strcmp(reason, "running")) {
        reason = "end_time";
        status = "ok";
    }
done:
    clock_gettime(CLOCK_MONOTONIC, &w1);
    wall = (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) * 1e-9;
    cli_server_stop(srv);
    if (rec && hermes_recorder_close(rec, error[0] ? error : reason) != 0 && !error[0]) {
        snprintf(error, sizeof error, "recording: %s", hermes_last_error());
        status = "failed";
        reason = "error";
    }
    hermes_recorder_destroy(rec);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
    if (error[0])
        runlog(HERMES_LOG_ERROR, "event=run_failed run=%llu error=\"%s\"", index, error);
    runlog(HERMES_LOG_INFO, "event=summary run=%llu status=%s end_reason=%s frames=%" PRIu64 " wall_time=%.3f", index,
           status, reason,
           frames, wall);

    char seed_s[32];
    snprintf(seed_s, sizeof seed_s, "%" PRIu64, seed);
    json_t *sum = json_pack("{s:I, s:s, s:s, s:s, s:I, s:f}", "index", (json_int_t)index, "seed", seed_s, "status",
                            status, "end_reason", reason, "frames", (json_int_t)frames, "sim_time", sim_time);
    json_t *disp = json_object(), *outs = json_object();
    for (uint32_t i = 0; values && i < c->ndisp; i++)
        json_object_set_new(disp, c->disp[i].signal, json_real(values[i]));
    for (uint32_t i = 0; obs && i < c->nout && !strcmp(status, "ok"); i++) {
        const char *k = campaign_stat_name(c->out[i].stat);
        json_t *o = json_object_get(outs, k);
        if (!o)
            json_object_set_new(outs, k, o = json_object());
        json_object_set_new(o, c->out[i].signal, json_real(obs[i].value));
    }
    json_object_set_new(sum, "dispersions", disp);
    json_object_set_new(sum, "outputs", outs);
    json_object_set_new(sum, "error", error[0] ? json_string(error) : json_null());
    /* The only field that varies between reruns of the same run. */
    json_object_set_new(sum, "wall_time", json_real(round(wall * 1e6) / 1e6));
    char *text = json_dumps(sum, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(sum);
    free(values);
    free(obs);
    if (run_log) {
        fclose(run_log);
        run_log = NULL;
    }
    hermes_log_set(NULL, NULL, HERMES_LOG_NONE);

    char *sum_path = path_join(tmp, "summary.json");
    int io = text && sum_path ? write_atomic(sum_path, text, strlen(text), 0644) : -1;
    free(sum_path);
    free(text);
    if (io == 0) {
        /* Replace an earlier (failed, or --force) result. */
        if (access(final_dir, F_OK) == 0) {
            char old[96];
            snprintf(old, sizeof old, ".old-%llu-%ld", index, (long)getpid());
            char *oldp = path_join(runs_dir, old);
            if (!oldp || rename(final_dir, oldp) != 0 || rm_tree(oldp) != 0)
                io = -1;
            free(oldp);
        }
        if (io == 0 && rename(tmp, final_dir) != 0)
            io = -1;
    }
    int ret = !strcmp(status, "ok") ? C_OK : C_FAILED;
    if (io != 0) {
        fprintf(stderr, "hermes: %s: cannot store the result: %s\n", final_dir, strerror(errno));
        rm_tree(tmp);
        ret = C_IO;
    } else if (ret != C_OK) {
        fprintf(stderr, "hermes campaign run %llu: failed: %s\n", index, error);
    }
    free(tmp);
    free(final_dir);
    free(runs_dir);
    plan_free(&p);
    return ret;
}

/* ---- collect / status ---------------------------------------------------------- */

enum run_state { RS_MISSING = 0, RS_OK = 1, RS_FAILED = 2 };

static enum run_state state_of(const json_t *sum)
{
    const char *st = sum ? json_string_value(json_object_get(sum, "status")) : NULL;
    return !st ? RS_MISSING : !strcmp(st, "ok") ? RS_OK : RS_FAILED;
}

static void print_number(FILE *f, const json_t *v)
{
    if (json_is_real(v))
        fprintf(f, "%.17g", json_real_value(v));
    else if (json_is_integer(v))
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
}

/* The value print_number() prints, as a double; NaN where it prints nothing. */
static double number_of(const json_t *v)
{
    return json_is_real(v) ? json_real_value(v) : json_is_integer(v) ? (double)json_integer_value(v) : NAN;
}

/* results.csv as columns, for results.h5: the same rows and values. */
struct table {
    uint64_t     *index, *seed;
    const char  **status;                   /* literals */
    char        **reason, **error;          /* owned */
    double       *frames, *sim_time, *wall_time;
    double       *values;                   /* (ndisp + nout) columns of runs rows */
};

static void table_free(struct table *t, uint64_t runs)
{
    for (uint64_t r = 0; r < runs; r++) {
        if (t->reason)
            free(t->reason[r]);
        if (t->error)
            free(t->error[r]);
    }
    free(t->index);
    free(t->seed);
    free(t->status);
    free(t->reason);
    free(t->error);
    free(t->frames);
    free(t->sim_time);
    free(t->wall_time);
    free(t->values);
    memset(t, 0, sizeof *t);
}

static int table_alloc(struct table *t, uint64_t runs, uint32_t nvalues)
{
    memset(t, 0, sizeof *t);
    t->index = calloc(runs, sizeof *t->index);
    t->seed = calloc(runs, sizeof *t->seed);
    t->status = calloc(runs, sizeof *t->status);
    t->reason = calloc(runs, sizeof *t->reason);
    t->error = calloc(runs, sizeof *t->error);
    t->frames = calloc(runs, sizeof *t->frames);
    t->sim_time = calloc(runs, sizeof *t->sim_time);
    t->wall_time = calloc(runs, sizeof *t->wall_time);
    t->values = calloc(runs * (nvalues ? nvalues : 1), sizeof *t->values);
    if (t->index && t->seed && t->status && t->reason && t->error && t->frames && t->sim_time && t->wall_time &&
        t->values)
        return 0;
    table_free(t, runs);
    return -1;
}

/* DIR/results.h5: the columns of results.csv, one dataset each (a CSV header
 * STAT:SIGNAL becomes STAT/SIGNAL), campaign metadata as root attributes.
 * Returns 0 or C_IO. Without HDF5 support: one line, and no stale table left
 * beside a newer results.csv. */
static int write_results_h5(const char *dir, const struct plan *p, const struct table *t)
{
    const struct campaign *c = &p->c;
    char *out = path_join(dir, "results.h5");
    if (!out)
        return C_IO;
    if (!hermes_recording_supported()) {
        bool stale = unlink(out) == 0;
        fprintf(stderr, "hermes: %s: not written: this hermes is built without HDF5 (recording) support%s\n", out,
                stale ? "; removed the older one" : "");
        free(out);
        return 0;
    }
    uint32_t nv = c->ndisp + c->nout, n = 0;
    hermes_h5table_column_t *cols = calloc(8 + nv, sizeof *cols);
    char **names = calloc(nv ? nv : 1, sizeof *names);
    int rc = C_IO;
    if (!cols || !names)
        goto done;
    cols[n++] = (hermes_h5table_column_t){.name = "index", .type = HERMES_H5TABLE_U64, .u64 = t->index};
    cols[n++] = (hermes_h5table_column_t){.name = "seed", .type = HERMES_H5TABLE_U64, .u64 = t->seed};
    cols[n++] = (hermes_h5table_column_t){.name = "status", .type = HERMES_H5TABLE_TEXT, .text = t->status};
    cols[n++] = (hermes_h5table_column_t){.name = "end_reason", .type = HERMES_H5TABLE_TEXT,
                                          .text = (const char *const *)t->reason};
    cols[n++] = (hermes_h5table_column_t){.name = "frames", .type = HERMES_H5TABLE_F64, .f64 = t->frames};
    cols[n++] = (hermes_h5table_column_t){.name = "sim_time", .type = HERMES_H5TABLE_F64, .f64 = t->sim_time};
    cols[n++] = (hermes_h5table_column_t){.name = "wall_time", .type = HERMES_H5TABLE_F64, .f64 = t->wall_time};
    for (uint32_t i = 0; i < nv; i++) {
        names[i] = i < c->ndisp ? strdup(c->disp[i].signal)
                                : path_join(campaign_stat_name(c->out[i - c->ndisp].stat), c->out[i - c->ndisp].signal);
        if (!names[i])
            goto done;
        cols[n++] = (hermes_h5table_column_t){.name = names[i], .type = HERMES_H5TABLE_F64,
                                              .f64 = t->values + (size_t)i * p->runs};
    }
    cols[n++] = (hermes_h5table_column_t){.name = "error", .type = HERMES_H5TABLE_TEXT,
                                          .text = (const char *const *)t->error};
    const hermes_h5table_attr_t attrs[] = {
        {.name = "format", .type = HERMES_H5TABLE_TEXT, .text = "hermes-campaign-results"},
        {.name = "format_version", .type = HERMES_H5TABLE_U64, .u64 = 1},
        {.name = "campaign_seed", .type = HERMES_H5TABLE_U64, .u64 = p->seed},
        {.name = "runs", .type = HERMES_H5TABLE_U64, .u64 = p->runs},
        {.name = "base", .type = HERMES_H5TABLE_TEXT, .text = p->base},
        {.name = "hermes_version", .type = HERMES_H5TABLE_TEXT, .text = hermes_version_string()},
    };
    if (hermes_h5table_write(out, cols, n, p->runs, attrs, (uint32_t)(sizeof attrs / sizeof attrs[0])) != 0) {
        fprintf(stderr, "hermes: %s\n", hermes_last_error());
        goto done;
    }
    printf("%s: %" PRIu64 " rows, %u columns\n", out, p->runs, n);
    rc = 0;
done:
    for (uint32_t i = 0; names && i < nv; i++)
        free(names[i]);
    free(names);
    free(cols);
    free(out);
    return rc;
}

static int cmd_collect(int argc, char **argv)
{
    int status;
    const char *dir = dir_arg("collect", argc, argv, &status);
    if (!dir)
        return status;
    struct plan p;
    int rc = plan_load(&p, dir);
    if (rc)
        return rc;
    const struct campaign *c = &p.c;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        plan_free(&p);
        return C_IO;
    }
    fputs("index,seed,status,end_reason,frames,sim_time,wall_time", f);
    for (uint32_t i = 0; i < c->ndisp; i++) {
        fputc(',', f);
        csv_field(f, c->disp[i].signal);
    }
    for (uint32_t i = 0; i < c->nout; i++) {
        char col[600];
        snprintf(col, sizeof col, "%s:%s", campaign_stat_name(c->out[i].stat), c->out[i].signal);
        fputc(',', f);
        csv_field(f, col);
    }
    fputs(",error\n", f);
    uint64_t n_ok = 0, n_failed = 0, n_missing = 0;
    uint64_t *bad = calloc(p.runs, sizeof *bad);
    uint64_t nbad = 0;
    struct table t;
    if (table_alloc(&t, p.runs, c->ndisp + c->nout) != 0) {
        fprintf(stderr, "hermes: out of memory\n");
        fclose(f);
        free(buf);
        free(bad);
        plan_free(&p);
        return C_IO;
    }
    for (uint64_t r = 0; r < p.runs; r++) {
        json_t *sum = load_summary(dir, r);
        enum run_state st = state_of(sum);
        t.index[r] = r;
        t.status[r] = st == RS_OK ? "ok" : st == RS_FAILED ? "failed" : "missing";
        if (st == RS_OK)
            n_ok++;
        else if (st == RS_FAILED)
            n_failed++;
        else
            n_missing++;
        if (st != RS_OK && bad)
            bad[nbad++] = r;
        if (st == RS_MISSING) {
            t.seed[r] = hermes_campaign_run_seed(p.seed, r);
            t.frames[r] = t.sim_time[r] = t.wall_time[r] = NAN;
            for (uint32_t i = 0; i < c->ndisp + c->nout; i++)
                t.values[(size_t)i * p.runs + r] = NAN;
            fprintf(f, "%" PRIu64 ",%" PRIu64 ",missing,,,,", r, t.seed[r]);
            for (uint32_t i = 0; i < c->ndisp + c->nout; i++)
                fputc(',', f);
            fputs(",\n", f);
            continue;
        }
        const char *reason = json_string_value(json_object_get(sum, "end_reason"));
        fprintf(f, "%" PRIu64 ",%s,%s,%s,", r, json_string_value(json_object_get(sum, "seed")),
                st == RS_OK ? "ok" : "failed", reason ? reason : "");
        print_number(f, json_object_get(sum, "frames"));
        fputc(',', f);
        print_number(f, json_object_get(sum, "sim_time"));
        fputc(',', f);
        print_number(f, json_object_get(sum, "wall_time"));
        const char *seed_s = json_string_value(json_object_get(sum, "seed"));
        t.seed[r] = seed_s ? strtoull(seed_s, NULL, 10) : 0;
        t.frames[r] = number_of(json_object_get(sum, "frames"));
        t.sim_time[r] = number_of(json_object_get(sum, "sim_time"));
        t.wall_time[r] = number_of(json_object_get(sum, "wall_time"));
        t.reason[r] = strdup(reason ? reason : "");
        json_t *disp = json_object_get(sum, "dispersions");
        for (uint32_t i = 0; i < c->ndisp; i++) {
            fputc(',', f);
            json_t *v = json_object_get(disp, c->disp[i].signal);
            print_number(f, v);
            t.values[(size_t)i * p.runs + r] = number_of(v);
        }
        json_t *outs = json_object_get(sum, "outputs");
        for (uint32_t i = 0; i < c->nout; i++) {
            fputc(',', f);
            json_t *v = json_object_get(json_object_get(outs, campaign_stat_name(c->out[i].stat)), c->out[i].signal);
            print_number(f, v);
            t.values[(size_t)(c->ndisp + i) * p.runs + r] = number_of(v);
        }
        fputc(',', f);
        const char *e = json_string_value(json_object_get(sum, "error"));
        t.error[r] = strdup(e ? e : "");
        csv_field(f, e ? e : "");
        fputc('\n', f);
        if (st == RS_FAILED)
            fprintf(stderr, "run %" PRIu64 ": failed: %s\n", r, e ? e : "(no message)");
        json_decref(sum);
    }
    fclose(f);
    char *out = path_join(dir, "results.csv");
    if (!out || write_atomic(out, buf, len, 0644) != 0) {
        fprintf(stderr, "hermes: %s: cannot write: %s\n", out ? out : dir, strerror(errno));
        free(out);
        free(buf);
        free(bad);
        table_free(&t, p.runs);
        plan_free(&p);
        return C_IO;
    }
    printf("%s: %" PRIu64 " runs: %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64 " missing\n", out, p.runs, n_ok,
           n_failed, n_missing);
    rc = write_results_h5(dir, &p, &t);
    table_free(&t, p.runs);
    if (rc) {
        free(out);
        free(buf);
        free(bad);
        plan_free(&p);
        return rc;
    }
    if (n_missing) {
        fprintf(stderr, "missing runs (no summary):");
        for (uint64_t k = 0, shown = 0; k < nbad && shown < 50; k++) {
            json_t *sum = load_summary(dir, bad[k]);
            if (state_of(sum) == RS_MISSING) {
                fprintf(stderr, " %" PRIu64, bad[k]);
                shown++;
            }
            json_decref(sum);
        }
        fprintf(stderr, "%s\n", n_missing > 50 ? " ..." : "");
    }
    if (nbad) {
        char adir[PATH_MAX];
        if (!realpath(dir, adir))
            snprintf(adir, sizeof adir, "%s", dir);
        char self[PATH_MAX];
        ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
        self[sl > 0 ? sl : 0] = '\0';
        printf("rerun the %" PRIu64 " failed or missing runs with:\n  parallel --will-cite %s campaign run %s ::: ",
               nbad, sl > 0 ? self : "hermes", adir);
        for (uint64_t k = 0; k < nbad; k++)
            printf("%s%" PRIu64, k ? " " : "", bad[k]);
        printf("\nor on Slurm:\n  sbatch --array=");
        for (uint64_t k = 0; k < nbad; k++)
            printf("%s%" PRIu64, k ? "," : "", bad[k]);
        printf(" %s/campaign.sbatch\n", adir);
    }
    free(out);
    free(buf);
    free(bad);
    plan_free(&p);
    return n_failed || n_missing ? C_FAILED : C_OK;
}

static int cmd_status(int argc, char **argv)
{
    int status;
    const char *dir = dir_arg("status", argc, argv, &status);
    if (!dir)
        return status;
    struct plan p;
    int rc = plan_load(&p, dir);
    if (rc)
        return rc;
    uint64_t n_ok = 0, n_failed = 0, n_running = 0;
    for (uint64_t r = 0; r < p.runs; r++) {
        json_t *sum = load_summary(dir, r);
        enum run_state st = state_of(sum);
        n_ok += st == RS_OK;
        n_failed += st == RS_FAILED;
        json_decref(sum);
    }
    char *runs_dir = path_join(dir, "runs");
    DIR *d = runs_dir ? opendir(runs_dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        unsigned long long idx;
        long pid;
        if (sscanf(e->d_name, ".tmp-%llu-%ld", &idx, &pid) == 2 && pid_alive(pid))
            n_running++;
    }
    if (d)
        closedir(d);
    free(runs_dir);
    uint64_t n_missing = p.runs - n_ok - n_failed;
    if (isatty(STDOUT_FILENO)) {
        const int width = 40;
        int done = (int)((n_ok + n_failed) * (uint64_t)width / p.runs);
        int failed = (int)(n_failed * (uint64_t)width / p.runs);
        printf("[");
        for (int k = 0; k < width; k++)
            fputs(k < done - failed ? "#" : k < done ? "!" : ".", stdout);
        printf("] %3.0f%%  ", 100.0 * (double)(n_ok + n_failed) / (double)p.runs);
    }
    printf("%" PRIu64 " runs: %" PRIu64 " done, %" PRIu64 " failed, %" PRIu64 " missing (%" PRIu64 " running)\n",
           p.runs, n_ok, n_failed, n_missing, n_running);
    plan_free(&p);
    return C_OK;
}

int cmd_campaign(int argc, char **argv, const char *argv0)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        fputs(usage_campaign, argc < 2 ? stderr : stdout);
        return argc < 2 ? C_USAGE : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "plan"))
        return cmd_plan(argc - 1, argv + 1, argv0);
    if (!strcmp(sub, "run"))
        return cmd_run_one(argc - 1, argv + 1);
    if (!strcmp(sub, "collect"))
        return cmd_collect(argc - 1, argv + 1);
    if (!strcmp(sub, "status"))
        return cmd_status(argc - 1, argv + 1);
    fprintf(stderr, "hermes campaign: unknown command '%s'\n\n%s", sub, usage_campaign);
    return C_USAGE;
}
