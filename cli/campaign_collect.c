/* hermes campaign collect and status: DIR/results.csv and results.h5 from the run summaries, failed and missing runs, progress. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "campaign_dir.h"

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
    char *out = fs_path_join(dir, "results.h5");
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
                                : fs_path_join(campaign_stat_name(c->out[i - c->ndisp].stat), c->out[i - c->ndisp].signal);
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

/* collect: results.csv built in memory, the same values as columns, counts. */
struct collect {
    const char  *dir;
    struct plan  p;
    FILE        *f;          /* results.csv, into buf */
    char        *buf;
    size_t       len;
    struct table t;
    uint64_t    *bad;        /* failed and missing runs (NULL when out of memory: not listed) */
    uint64_t     nbad, n_ok, n_failed, n_missing;
};

static void collect_header(FILE *f, const struct campaign *c)
{
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
}

/* The row of a run without a summary: its index and planned seed, the rest empty (NaN in the table). */
static void collect_missing(struct collect *k, uint64_t r)
{
    const struct campaign *c = &k->p.c;
    struct table *t = &k->t;
    t->seed[r] = hermes_campaign_run_seed(k->p.seed, r);
    t->frames[r] = t->sim_time[r] = t->wall_time[r] = NAN;
    for (uint32_t i = 0; i < c->ndisp + c->nout; i++)
        t->values[(size_t)i * k->p.runs + r] = NAN;
    fprintf(k->f, "%" PRIu64 ",%" PRIu64 ",missing,,,,", r, t->seed[r]);
    for (uint32_t i = 0; i < c->ndisp + c->nout; i++)
        fputc(',', k->f);
    fputs(",\n", k->f);
}

/* The row of a run with a summary (ok or failed). */
static void collect_summary(struct collect *k, uint64_t r, const json_t *sum, enum run_state st)
{
    const struct campaign *c = &k->p.c;
    struct table *t = &k->t;
    FILE *f = k->f;
    const char *reason = json_string_value(json_object_get(sum, "end_reason"));
    const char *seed_s = json_string_value(json_object_get(sum, "seed"));
    fprintf(f, "%" PRIu64 ",%s,%s,%s,", r, seed_s, st == RS_OK ? "ok" : "failed", reason ? reason : "");
    print_number(f, json_object_get(sum, "frames"));
    fputc(',', f);
    print_number(f, json_object_get(sum, "sim_time"));
    fputc(',', f);
    print_number(f, json_object_get(sum, "wall_time"));
    t->seed[r] = seed_s ? strtoull(seed_s, NULL, 10) : 0;
    t->frames[r] = number_of(json_object_get(sum, "frames"));
    t->sim_time[r] = number_of(json_object_get(sum, "sim_time"));
    t->wall_time[r] = number_of(json_object_get(sum, "wall_time"));
    t->reason[r] = strdup(reason ? reason : "");
    const json_t *disp = json_object_get(sum, "dispersions");
    for (uint32_t i = 0; i < c->ndisp; i++) {
        fputc(',', f);
        const json_t *v = json_object_get(disp, c->disp[i].signal);
        print_number(f, v);
        t->values[(size_t)i * k->p.runs + r] = number_of(v);
    }
    const json_t *outs = json_object_get(sum, "outputs");
    for (uint32_t i = 0; i < c->nout; i++) {
        fputc(',', f);
        const json_t *v =
            json_object_get(json_object_get(outs, campaign_stat_name(c->out[i].stat)), c->out[i].signal);
        print_number(f, v);
        t->values[(size_t)(c->ndisp + i) * k->p.runs + r] = number_of(v);
    }
    fputc(',', f);
    const char *e = json_string_value(json_object_get(sum, "error"));
    t->error[r] = strdup(e ? e : "");
    csv_field(f, e ? e : "");
    fputc('\n', f);
    if (st == RS_FAILED)
        fprintf(stderr, "run %" PRIu64 ": failed: %s\n", r, e ? e : "(no message)");
}

/* One row per run, in index order, counted. */
static void collect_rows(struct collect *k)
{
    for (uint64_t r = 0; r < k->p.runs; r++) {
        json_t *sum = summary_load(k->dir, r);
        enum run_state st = summary_state(sum);
        k->t.index[r] = r;
        k->t.status[r] = st == RS_OK ? "ok" : st == RS_FAILED ? "failed" : "missing";
        if (st == RS_OK)
            k->n_ok++;
        else if (st == RS_FAILED)
            k->n_failed++;
        else
            k->n_missing++;
        if (st != RS_OK && k->bad)
            k->bad[k->nbad++] = r;
        if (st == RS_MISSING)
            collect_missing(k, r);
        else
            collect_summary(k, r, sum, st);
        json_decref(sum);
    }
}

/* The first 50 missing runs, on stderr. */
static void report_missing(const struct collect *k)
{
    fprintf(stderr, "missing runs (no summary):");
    for (uint64_t i = 0, shown = 0; i < k->nbad && shown < 50; i++) {
        json_t *sum = summary_load(k->dir, k->bad[i]);
        if (summary_state(sum) == RS_MISSING) {
            fprintf(stderr, " %" PRIu64, k->bad[i]);
            shown++;
        }
        json_decref(sum);
    }
    fprintf(stderr, "%s\n", k->n_missing > 50 ? " ..." : "");
}

/* How to rerun the failed and missing runs, with GNU parallel or Slurm. */
static void print_rerun(const struct collect *k)
{
    char adir[PATH_MAX];
    if (!realpath(k->dir, adir))
        snprintf(adir, sizeof adir, "%s", k->dir);
    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = '\0';
    printf("rerun the %" PRIu64 " failed or missing runs with:\n  parallel --will-cite %s campaign run %s ::: ",
           k->nbad, sl > 0 ? self : "hermes", adir);
    for (uint64_t i = 0; i < k->nbad; i++)
        printf("%s%" PRIu64, i ? " " : "", k->bad[i]);
    printf("\nor on Slurm:\n  sbatch --array=");
    for (uint64_t i = 0; i < k->nbad; i++)
        printf("%s%" PRIu64, i ? "," : "", k->bad[i]);
    printf(" %s/campaign.sbatch\n", adir);
}

/* results.csv and results.h5 from the summaries: 0 or C_IO (printed). */
static int collect_write(struct collect *k)
{
    if (!(k->f = open_memstream(&k->buf, &k->len)))
        return C_IO;
    collect_header(k->f, &k->p.c);
    if (table_alloc(&k->t, k->p.runs, k->p.c.ndisp + k->p.c.nout) != 0) {
        fprintf(stderr, "hermes: out of memory\n");
        fclose(k->f);
        return C_IO;
    }
    k->bad = calloc(k->p.runs, sizeof *k->bad);
    collect_rows(k);
    fclose(k->f);
    char *out = fs_path_join(k->dir, "results.csv");
    int rc = C_OK;
    if (!out || fs_write_atomic(out, k->buf, k->len, 0644) != 0) {
        fprintf(stderr, "hermes: %s: cannot write: %s\n", out ? out : k->dir, strerror(errno));
        rc = C_IO;
    } else {
        printf("%s: %" PRIu64 " runs: %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64 " missing\n", out, k->p.runs,
               k->n_ok, k->n_failed, k->n_missing);
        rc = write_results_h5(k->dir, &k->p, &k->t);
    }
    free(out);
    table_free(&k->t, k->p.runs);
    return rc;
}

int cmd_campaign_collect(int argc, char **argv)
{
    int status;
    struct collect k;
    memset(&k, 0, sizeof k);
    if (!(k.dir = campaign_dir_arg("collect", argc, argv, &status)))
        return status;
    int rc = plan_load(&k.p, k.dir);
    if (rc)
        return rc;
    rc = collect_write(&k);
    if (rc == C_OK) {
        if (k.n_missing)
            report_missing(&k);
        if (k.nbad)
            print_rerun(&k);
        rc = k.n_failed || k.n_missing ? C_FAILED : C_OK;
    }
    free(k.buf);
    free(k.bad);
    plan_free(&k.p);
    return rc;
}

int cmd_campaign_status(int argc, char **argv)
{
    int status;
    const char *dir = campaign_dir_arg("status", argc, argv, &status);
    if (!dir)
        return status;
    struct plan p;
    int rc = plan_load(&p, dir);
    if (rc)
        return rc;
    uint64_t n_ok = 0, n_failed = 0, n_running = 0;
    for (uint64_t r = 0; r < p.runs; r++) {
        json_t *sum = summary_load(dir, r);
        enum run_state st = summary_state(sum);
        n_ok += st == RS_OK;
        n_failed += st == RS_FAILED;
        json_decref(sum);
    }
    char *runs_dir = fs_path_join(dir, "runs");
    DIR *d = runs_dir ? opendir(runs_dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        unsigned long long idx;
        long pid;
        if (sscanf(e->d_name, ".tmp-%llu-%ld", &idx, &pid) == 2 && fs_pid_alive(pid))
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
