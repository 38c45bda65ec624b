/* hermes campaign run: one run of a planned campaign, stepped in this thread, into DIR/runs/INDEX/ (summary.json, log). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "campaign_dir.h"
#include "cli_server.h"

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
        if (pid == (long)getpid() || fs_pid_alive(pid))
            continue;
        char *p = fs_path_join(runs_dir, e->d_name);
        if (p)
            fs_rm_tree(p);
        free(p);
    }
    closedir(d);
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


/* One run from the command line to its stored summary. */
struct run {
    /* command line */
    bool               force, serve;
    long               port;
    const char        *dir;
    unsigned long long index;
    struct plan        p;
    /* DIR/runs, the private DIR/runs/.tmp-INDEX-PID and the final DIR/runs/INDEX */
    char              *runs_dir, *tmp, *final_dir;
    /* the run */
    double            *values;   /* one per dispersion */
    struct observed   *obs;      /* one per output */
    uint64_t           seed;
    hermes_config_t   *cfg;
    hermes_scheduler_t *s;
    hermes_recorder_t *rec;
    struct cli_server *srv;
    /* its outcome */
    const char        *status, *reason;
    char               error[1200];
    uint64_t           frames;
    double             sim_time, wall;
};

/* Options, DIR and INDEX: -1 to go on, or the exit status. */
static int run_args(struct run *r, int argc, char **argv)
{
    enum { O_FORCE = 1, O_SERVER, O_PORT };
    static const struct option opts[] = {{"force", no_argument, NULL, O_FORCE},
                                         {"server", no_argument, NULL, O_SERVER},
                                         {"port", required_argument, NULL, O_PORT},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case O_FORCE: r->force = true; break;
        case O_SERVER: r->serve = true; break;
        case O_PORT: {
            char *end;
            r->port = strtol(optarg, &end, 10);
            if (*end || end == optarg || r->port < 0 || r->port > 65535) {
                fprintf(stderr, "hermes campaign run: --port needs 0..65535, got '%s'\n", optarg);
                return C_USAGE;
            }
            r->serve = true;
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
    r->dir = argv[optind];
    const char *idx_s = argv[optind + 1];
    char *end;
    errno = 0;
    r->index = strtoull(idx_s, &end, 10);
    if (end == idx_s || *end || errno || strchr(idx_s, '-')) {
        fprintf(stderr, "hermes campaign run: INDEX must be a run number, got '%s'\n", idx_s);
        return C_USAGE;
    }
    return -1;
}

/* The plan, INDEX in range, not already done: -1 to go on, or the exit status (printed). */
static int run_open(struct run *r)
{
    int rc = plan_load(&r->p, r->dir);
    if (rc)
        return rc;
    if (r->index >= r->p.runs) {
        fprintf(stderr, "hermes campaign run: INDEX %llu is out of range: the campaign has runs 0..%" PRIu64 "\n",
                r->index, r->p.runs - 1);
        return C_USAGE;
    }
    json_t *prev = summary_load(r->dir, r->index);
    bool done = summary_state(prev) == RS_OK;
    json_decref(prev);
    if (done && !r->force) {
        printf("run %llu is already done (--force runs it again)\n", r->index);
        return C_OK;
    }
    return -1;
}

/* Everything goes to a private temporary directory, renamed into place at
 * the end: a run killed halfway leaves no half summary. Creates it, removes
 * those of dead earlier attempts, opens its log. 0 or C_IO (printed). */
static int run_make_dir(struct run *r)
{
    r->runs_dir = fs_path_join(r->dir, "runs");
    char name[96], fin[64];
    snprintf(name, sizeof name, ".tmp-%llu-%ld", r->index, (long)getpid());
    snprintf(fin, sizeof fin, "%llu", r->index);
    r->tmp = r->runs_dir ? fs_path_join(r->runs_dir, name) : NULL;
    r->final_dir = r->runs_dir ? fs_path_join(r->runs_dir, fin) : NULL;
    if (!r->tmp || !r->final_dir || fs_make_dir(r->runs_dir) != 0 || mkdir(r->tmp, 0755) != 0) {
        fprintf(stderr, "hermes: %s: cannot create the run directory: %s\n", r->tmp ? r->tmp : r->dir,
                strerror(errno));
        return C_IO;
    }
    sweep_tmp(r->runs_dir, r->index);
    char *log_path = fs_path_join(r->tmp, "log");
    run_log = log_path ? fopen(log_path, "we") : NULL;
    free(log_path);
    hermes_log_set(log_to_file, NULL, HERMES_LOG_INFO);
    return 0;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The base config with the run's values and seed, afap, the campaign's end
 * time, validated into r->cfg; execution in @p ex. 0 or -1 with r->error. */
static int run_configure(struct run *r, hermes_execution_t *ex)
{
    const struct campaign *c = &r->p.c;
    if (plan_config(&r->p, &r->cfg, r->error, sizeof r->error) != 0)
        return -1;
    if (campaign_values(c, r->cfg, r->index, r->values, &r->seed, r->error, sizeof r->error) != 0)
        return -1;
    for (uint32_t i = 0; i < c->ndisp && !c->restore; i++)   /* restored: written after the restore */
        if (hermes_config_set_initial(r->cfg, c->disp[i].signal, r->values[i]) != 0) {
            snprintf(r->error, sizeof r->error, "dispersion %s = %.17g: %s", c->disp[i].signal, r->values[i],
                     hermes_last_error());
            return -1;
        }
    hermes_config_set_seed(r->cfg, r->seed);
    hermes_config_execution(r->cfg, ex);
    ex->mode = HERMES_MODE_AFAP;
    if (c->has_end_time) {
        ex->end_time = c->end_time;
        ex->has_end_time = true;
    }
    if (!ex->has_end_time) {
        snprintf(r->error, sizeof r->error, "no end_time: neither the base config nor the campaign sets one");
        return -1;
    }
    hermes_config_set_execution(r->cfg, ex);
    hermes_error_t ve;
    if (hermes_config_validate(r->cfg, &ve) != 0) {
        snprintf(r->error, sizeof r->error, "%s", ve.message);
        return -1;
    }
    return 0;
}

/* Record the run into its directory: what the base config's record: section
 * says (its file is ignored), default all. 0 or -1 with r->error. */
static int run_record(struct run *r)
{
    hermes_record_settings_t rs;
    hermes_config_record(r->cfg, &rs);
    char *rpath = fs_path_join(r->tmp, "recording.h5");
    hermes_recorder_config_t rc;
    hermes_recorder_config_init(&rc);
    rc.path = rpath;
    rc.signals = rs.signals;
    rc.signal_count = rs.signal_count;
    rc.every = rs.every;
    rc.rate_hz = rs.rate_hz;
    int rrc = rpath ? hermes_recorder_create(&r->rec, r->s, &rc) : HERMES_ENOMEM;
    free(rpath);
    if (rrc != 0) {
        snprintf(r->error, sizeof r->error, "recording: %s", hermes_last_error());
        return -1;
    }
    return 0;
}

/* A campaign with `restore:` starts every run from DIR/restore.hckpt and then
 * writes its dispersed values, as `hermes run --restore F --set` does: the
 * run branches from the checkpoint's frame. 0 or -1 with r->error. */
static int run_restore(struct run *r)
{
    const struct campaign *c = &r->p.c;
    char *path = fs_path_join(r->dir, CAMPAIGN_RESTORE_FILE);
    int rc = path ? hermes_scheduler_restore(r->s, path) : HERMES_ENOMEM;
    if (rc != 0) {
        snprintf(r->error, sizeof r->error, "restore: %s", hermes_last_error());
        free(path);
        return -1;
    }
    hermes_backplane_t *bp = hermes_scheduler_backplane(r->s);
    for (uint32_t i = 0; i < c->ndisp; i++) {
        hermes_signal_t sig;
        if (hermes_backplane_find(bp, c->disp[i].signal, &sig) != 0 ||
            hermes_backplane_write(bp, sig, r->values[i]) != 0) {
            snprintf(r->error, sizeof r->error, "dispersion %s = %.17g after the restore: %s", c->disp[i].signal,
                     r->values[i], hermes_last_error());
            free(path);
            return -1;
        }
    }
    runlog(HERMES_LOG_INFO, "event=restored run=%llu path=\"%s\" frame=%" PRIu64 " dispersions=%u", r->index, path,
           hermes_scheduler_frame(r->s), c->ndisp);
    free(path);
    return 0;
}

/* Scheduler, output slots, recorder, stage, restore, server: 0 or -1 with r->error. */
static int run_start(struct run *r, const hermes_execution_t *ex)
{
    const struct campaign *c = &r->p.c;
    hermes_scheduler_options_t opt;
    hermes_scheduler_options_init(&opt);
    if (hermes_scheduler_create(&r->s, r->cfg, &opt) != 0) {
        snprintf(r->error, sizeof r->error, "%s", hermes_last_error());
        return -1;
    }
    hermes_backplane_t *bp = hermes_scheduler_backplane(r->s);
    runlog(HERMES_LOG_INFO, "event=start campaign=%s run=%llu seed=%" PRIu64 " backplane=%s end_time=%g", c->path,
           r->index, r->seed, hermes_backplane_name(bp), ex->end_time);
    for (uint32_t i = 0; i < c->nout; i++) {
        hermes_signal_t sig;
        if (hermes_backplane_find(bp, c->out[i].signal, &sig) != 0 ||
            !(r->obs[i].slot = hermes_backplane_slot(bp, sig))) {
            snprintf(r->error, sizeof r->error, "output signal '%s' does not exist in the run", c->out[i].signal);
            return -1;
        }
    }
    if (c->record && run_record(r) != 0)
        return -1;
    if (hermes_scheduler_stage(r->s) != 0) {
        snprintf(r->error, sizeof r->error, "%s", hermes_last_error());
        return -1;
    }
    if (c->restore && run_restore(r) != 0)
        return -1;
    if (r->serve) {
        hermes_server_settings_t ss;
        hermes_config_server(r->cfg, &ss);
        ss.port = (uint16_t)r->port;
        char e[512];
        if (cli_server_start(&r->srv, r->s, &ss, e, sizeof e) != 0) {
            snprintf(r->error, sizeof r->error, "server: %s", e);
            return -1;
        }
        fprintf(stderr, "hermes campaign run %llu: serving ws://%s:%d/\n", r->index, ss.host,
                cli_server_port(r->srv));
    }
    return 0;
}

/* Step frame by frame in this thread until the end time, an error or a stop
 * signal: min and max see every frame (frame 0, the staged state, included). */
static void run_steps(struct run *r)
{
    const struct campaign *c = &r->p.c;
    r->reason = "running";
    for (uint32_t i = 0; i < c->nout; i++)
        r->obs[i].value = *r->obs[i].slot;
    for (;;) {
        if (stop_signal) {
            snprintf(r->error, sizeof r->error, "interrupted by %s at frame %" PRIu64,
                     stop_signal == SIGINT ? "SIGINT" : "SIGTERM", hermes_scheduler_frame(r->s));
            r->reason = "interrupted";
            break;
        }
        uint64_t before = hermes_scheduler_frame(r->s);
        if (hermes_scheduler_step(r->s, 1, NULL) != 0) {
            if (hermes_scheduler_state(r->s) == HERMES_STATE_STOPPED)
                break;
            snprintf(r->error, sizeof r->error, "%s",
                     *hermes_scheduler_error(r->s) ? hermes_scheduler_error(r->s) : hermes_last_error());
            r->reason = "error";
            break;
        }
        if (hermes_scheduler_frame(r->s) == before)
            break;   /* end_time reached: the scheduler stopped */
        for (uint32_t i = 0; i < c->nout; i++) {
            double v = *r->obs[i].slot;
            if (c->out[i].stat == STAT_FINAL ||
                (c->out[i].stat == STAT_MIN ? v < r->obs[i].value : v > r->obs[i].value))
                r->obs[i].value = v;
        }
        if (hermes_scheduler_state(r->s) != HERMES_STATE_PAUSED)
            break;
    }
    r->frames = hermes_scheduler_frame(r->s);
    r->sim_time = (double)hermes_backplane_time_ns(hermes_scheduler_backplane(r->s)) * 1e-9;
    if (!strcmp(r->reason, "running")) {
        r->reason = "end_time";
        r->status = "ok";
    }
}

/* Server, recording (closed with the end reason), scheduler, config; the last log lines. */
static void run_stop(struct run *r)
{
    cli_server_stop(r->srv);
    r->srv = NULL;
    if (r->rec && hermes_recorder_close(r->rec, r->error[0] ? r->error : r->reason) != 0 && !r->error[0]) {
        snprintf(r->error, sizeof r->error, "recording: %s", hermes_last_error());
        r->status = "failed";
        r->reason = "error";
    }
    hermes_recorder_destroy(r->rec);
    hermes_scheduler_destroy(r->s);
    hermes_config_destroy(r->cfg);
    r->rec = NULL;
    r->s = NULL;
    r->cfg = NULL;
    if (r->error[0])
        runlog(HERMES_LOG_ERROR, "event=run_failed run=%llu error=\"%s\"", r->index, r->error);
    runlog(HERMES_LOG_INFO, "event=summary run=%llu status=%s end_reason=%s frames=%" PRIu64 " wall_time=%.3f",
           r->index, r->status, r->reason, r->frames, r->wall);
}

/* summary.json's text (owned), or NULL when out of memory. */
static char *run_summary(const struct run *r)
{
    const struct campaign *c = &r->p.c;
    char seed_s[32];
    snprintf(seed_s, sizeof seed_s, "%" PRIu64, r->seed);
    json_t *sum = json_pack("{s:I, s:s, s:s, s:s, s:I, s:f}", "index", (json_int_t)r->index, "seed", seed_s,
                            "status", r->status, "end_reason", r->reason, "frames", (json_int_t)r->frames,
                            "sim_time", r->sim_time);
    json_t *disp = json_object(), *outs = json_object();
    for (uint32_t i = 0; r->values && i < c->ndisp; i++)
        json_object_set_new(disp, c->disp[i].signal, json_real(r->values[i]));
    for (uint32_t i = 0; r->obs && i < c->nout && !strcmp(r->status, "ok"); i++) {
        const char *k = campaign_stat_name(c->out[i].stat);
        json_t *o = json_object_get(outs, k);
        if (!o)
            json_object_set_new(outs, k, o = json_object());
        json_object_set_new(o, c->out[i].signal, json_real(r->obs[i].value));
    }
    json_object_set_new(sum, "dispersions", disp);
    json_object_set_new(sum, "outputs", outs);
    json_object_set_new(sum, "error", r->error[0] ? json_string(r->error) : json_null());
    /* The only field that varies between reruns of the same run. */
    json_object_set_new(sum, "wall_time", json_real(round(r->wall * 1e6) / 1e6));
    char *text = json_dumps(sum, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(sum);
    return text;
}

/* Write summary.json (@p text, freed) into the temporary directory and
 * rename it into place, replacing an earlier (failed, or --force) result.
 * 0 or -1 (errno). */
static int run_store(const struct run *r, char *text)
{
    char *sum_path = fs_path_join(r->tmp, "summary.json");
    int io = text && sum_path ? fs_write_atomic(sum_path, text, strlen(text), 0644) : -1;
    free(sum_path);
    free(text);
    if (io != 0)
        return -1;
    if (access(r->final_dir, F_OK) == 0) {
        char old[96];
        snprintf(old, sizeof old, ".old-%llu-%ld", r->index, (long)getpid());
        char *oldp = fs_path_join(r->runs_dir, old);
        if (!oldp || rename(r->final_dir, oldp) != 0 || fs_rm_tree(oldp) != 0)
            io = -1;
        free(oldp);
    }
    if (io == 0 && rename(r->tmp, r->final_dir) != 0)
        io = -1;
    return io;
}

/* From the run directory to the stored summary: the exit status. */
static int run_execute(struct run *r)
{
    const struct campaign *c = &r->p.c;
    r->status = "failed";
    r->reason = "startup";
    r->values = calloc(c->ndisp + 1, sizeof *r->values);
    r->obs = calloc(c->nout + 1, sizeof *r->obs);
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    catch_stop_signals();
    hermes_execution_t ex;
    if (!r->values || !r->obs)
        snprintf(r->error, sizeof r->error, "out of memory");
    else if (run_configure(r, &ex) == 0 && run_start(r, &ex) == 0)
        run_steps(r);
    clock_gettime(CLOCK_MONOTONIC, &w1);
    r->wall = (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) * 1e-9;
    run_stop(r);
    char *text = run_summary(r);
    if (run_log) {
        fclose(run_log);
        run_log = NULL;
    }
    hermes_log_set(NULL, NULL, HERMES_LOG_NONE);
    if (run_store(r, text) != 0) {
        fprintf(stderr, "hermes: %s: cannot store the result: %s\n", r->final_dir, strerror(errno));
        fs_rm_tree(r->tmp);
        return C_IO;
    }
    if (strcmp(r->status, "ok") != 0) {
        fprintf(stderr, "hermes campaign run %llu: failed: %s\n", r->index, r->error);
        return C_FAILED;
    }
    return C_OK;
}

int cmd_campaign_run(int argc, char **argv)
{
    struct run r;
    memset(&r, 0, sizeof r);
    int rc = run_args(&r, argc, argv);
    if (rc < 0)
        rc = run_open(&r);
    if (rc < 0) {
        rc = run_make_dir(&r);
        if (rc == 0)
            rc = run_execute(&r);
    }
    free(r.values);
    free(r.obs);
    free(r.tmp);
    free(r.final_dir);
    free(r.runs_dir);
    plan_free(&r.p);   /* a zeroed plan (usage error, or freed by plan_load) is fine */
    return rc;
}
