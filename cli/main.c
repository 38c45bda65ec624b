/* hermes: the command-line host. Uses the public API only. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hermes/hermes.h>
#include "campaign.h"
#include "cli_server.h"
#include "cmd_checkpoint.h"
#include "cmd_record.h"

/* Exit statuses (documented in docs/cli.md and `hermes --help`). */
enum {
    EXIT_OK = 0,          /* finished: end_time reached, stopped by a client/host, or a module ended it */
    EXIT_RUN_ERROR = 1,   /* a module failed during the run */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_CONFIG = 3,      /* configuration invalid */
    EXIT_STARTUP = 4,     /* could not start: modules, shared memory, server */
    EXIT_SIGINT = 130,
    EXIT_SIGTERM = 143
};

static struct {
    bool json;
    hermes_log_level_t level;
    pthread_mutex_t mu;
} logcfg = {false, HERMES_LOG_INFO, PTHREAD_MUTEX_INITIALIZER};

static const char *level_name(hermes_log_level_t l)
{
    switch (l) {
    case HERMES_LOG_ERROR: return "error";
    case HERMES_LOG_WARN: return "warn";
    case HERMES_LOG_INFO: return "info";
    case HERMES_LOG_DEBUG: return "debug";
    default: return "none";
    }
}

static void timestamp(char *buf, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void json_string(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Re-emit "k=v k2="quoted value"" pairs as JSON members. */
static void kv_to_json(FILE *f, const char *msg)
{
    const char *p = msg;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        const char *sp = strchr(p, ' ');
        if (!eq || (sp && sp < eq)) {  /* free text: keep as "msg" */
            fputs(",\"msg\":", f);
            json_string(f, p, strlen(p));
            return;
        }
        fputc(',', f);
        json_string(f, p, (size_t)(eq - p));
        fputc(':', f);
        p = eq + 1;
        char val[1024];
        size_t n = 0;
        bool quoted = *p == '"';
        if (quoted) {
            p++;
            while (*p && *p != '"' && n < sizeof val - 1) {
                if (*p == '\\' && p[1])
                    p++;
                val[n++] = *p++;
            }
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ' ' && n < sizeof val - 1)
                val[n++] = *p++;
        }
        val[n] = '\0';
        /* Plain numbers stay numbers; everything else is a string. */
        char *end = NULL;
        double num = n && !quoted ? strtod(val, &end) : 0;
        if (end && !*end && isfinite(num) && strchr("-0123456789", val[0]))
            fputs(val, f);
        else
            json_string(f, val, n);
    }
}

static void log_line(hermes_log_level_t level, const char *component, const char *msg)
{
    if (level > logcfg.level)
        return;
    char ts[40];
    timestamp(ts, sizeof ts);
    pthread_mutex_lock(&logcfg.mu);
    if (logcfg.json) {
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":", ts, level_name(level));
        json_string(stderr, component, strlen(component));
        kv_to_json(stderr, msg);
        fputs("}\n", stderr);
    } else {
        fprintf(stderr, "ts=%s level=%s component=%s %s\n", ts, level_name(level), component, msg);
    }
    fflush(stderr);
    pthread_mutex_unlock(&logcfg.mu);
}

__attribute__((format(printf, 2, 3))) static void logf_(hermes_log_level_t level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_line(level, "cli", msg);
}

static void lib_log(void *ctx, hermes_log_level_t level, const char *component, const char *msg)
{
    (void)ctx;
    log_line(level, component, msg);
}

/* Quote a value for a key=value line (always quoted: values here are free text). */
static const char *q(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    buf[n++] = '"';
    for (; *s && n + 3 < cap; s++) {
        if (*s == '"' || *s == '\\')
            buf[n++] = '\\';
        buf[n++] = *s == '\n' ? ' ' : *s;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

/* ---- usage ---------------------------------------------------------------- */

static const char usage_main[] =
    "usage: hermes <command> [options]\n"
    "\n"
    "Hermes runs simulation modules in lockstep over a shared-memory backplane.\n"
    "\n"
    "commands:\n"
    "  run CONFIG        run a simulation (and its WebSocket server when enabled)\n"
    "  validate CONFIG   check a configuration and report the first error\n"
    "  signals CONFIG    list every signal: qualified name, type, unit, writable\n"
    "  clean             remove shared-memory segments left by dead runs\n"
    "  export FILE.h5    write a recording as CSV\n"
    "  replay FILE.h5    serve a recording over the WebSocket protocol\n"
    "  campaign ...      plan, run and collect Monte Carlo campaigns (hermes campaign --help)\n"
    "  version           print the version\n"
    "\n"
    "`hermes <command> --help` describes each command.\n";

static const char usage_run[] =
    "usage: hermes run CONFIG [options]\n"
    "\n"
    "options:\n"
    "  --no-server            do not start the WebSocket server even if enabled\n"
    "  --port N               server port (0: any free port)\n"
    "  --host ADDR            server bind address (default 127.0.0.1)\n"
    "  --mode MODE            override execution.mode: afap | realtime | single_frame\n"
    "  --end-time SECONDS     override execution.end_time\n"
    "  --paused               start paused (a client or host resumes)\n"
    "  --run-name NAME        shared-memory run name (default: generated)\n"
    "  --set MODULE.SIGNAL=V  override a signal's initial value (repeatable; V a number,\n"
    "                         true or false; read-only signals too: they are initial conditions)\n"
    "  --seed N               seed handed to modules (HERMES_SEED, hermes_module_seed(),\n"
    "                         hermes_inproc_env_t.seed), 0 .. 2^64-1\n"
    "  --quiet                only warnings and errors\n"
    "  --verbose              debug lines too\n"
    "  --log-format FMT       text (key=value, default) or json (one object per line)\n"
    "%s"
    "%s"
    "  -h, --help             this help\n"
    "\n"
    "Logs go to stderr. Ctrl+C (SIGINT) or SIGTERM stops the run cleanly; a second\n"
    "signal exits at once.\n"
    "\n"
    "exit status: 0 finished (end_time reached, stopped by a client, or a module\n"
    "such as an FMU asked to end the run), 1 a module failed, 2 bad command line, 3 invalid configuration (or not the config of\n"
    "the --rerun recording), 4 could not start, 5 the recording failed (write\n"
    "error, disk full), 130 interrupted by SIGINT, 143 stopped by SIGTERM.\n";

static const char usage_validate[] =
    "usage: hermes validate CONFIG\n"
    "\n"
    "Loads and checks CONFIG without running anything. Prints 'ok' and the module\n"
    "and signal counts, then each FMU variable that is not a signal with the\n"
    "reason (\"skipped decay.label: a String variable\"), or the error as\n"
    "FILE:LINE:COL: FIELD: message.\n"
    "exit status: 0 valid, 3 invalid, 2 bad command line.\n";

static const char usage_signals[] =
    "usage: hermes signals CONFIG\n"
    "\n"
    "Lists the signals CONFIG declares: qualified name, type, unit, writable\n"
    "(\"initial only\": a fixed FMU parameter, given with initial: or --set, not\n"
    "settable while running).\n"
    "The run adds read-only timing signals of module 'hermes' (frame_time, rtf,\n"
    "overruns, lateness, lateness_max, wall_time, step_time.<module>,\n"
    "group_time.<n>).\n"
    "exit status: 0, 3 invalid configuration, 2 bad command line.\n";

static const char usage_clean[] =
    "usage: hermes clean [--dry-run]\n"
    "\n"
    "Lists shared-memory segments named hermes-* in /dev/shm and FMU unpack\n"
    "folders hermes-fmu-<pid>-* in $TMPDIR (or /tmp) whose owning process is\n"
    "gone, and removes them (unless --dry-run). Live runs are never touched.\n";

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    return false;
}

/* ---- validate / signals ------------------------------------------------------ */

static int load_config(const char *path, hermes_config_t **cfg)
{
    hermes_error_t err;
    int rc = hermes_config_load(cfg, path, &err);
    if (rc) {
        fprintf(stderr, "hermes: %s\n", err.message);
        return EXIT_CONFIG;
    }
    return 0;
}

static int cmd_validate(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_validate, stdout);
        return 0;
    }
    if (argc != 2) {
        fputs(usage_validate, stderr);
        return EXIT_USAGE;
    }
    hermes_config_t *cfg;
    int rc = load_config(argv[1], &cfg);
    if (rc)
        return rc;
    uint32_t nsig = 0, n = hermes_config_module_count(cfg);
    for (uint32_t i = 0; i < n; i++) {
        hermes_module_info_t mi;
        hermes_config_module(cfg, i, &mi);
        nsig += mi.signal_count;
    }
    printf("ok: %s: %u modules, %u signals, %u wires\n", argv[1], n, nsig, hermes_config_wire_count(cfg));
    for (uint32_t i = 0; i < n; i++) {  /* FMU variables that are not signals */
        hermes_module_info_t mi;
        hermes_config_module(cfg, i, &mi);
        uint32_t ns = hermes_fmu_skipped_count(cfg, i);
        if (ns)
            printf("module %s: %u FMU variable%s:\n", mi.name, ns, ns == 1 ? " is not a signal" : "s are not signals");
        for (uint32_t k = 0; k < ns; k++) {
            hermes_fmu_skipped_t sk;
            if (hermes_fmu_skipped(cfg, i, k, &sk) == 0)
                printf("  skipped %s.%s: %s\n", mi.name, sk.name, sk.reason);
        }
    }
    hermes_config_destroy(cfg);
    return 0;
}

static int cmd_signals(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_signals, stdout);
        return 0;
    }
    if (argc != 2) {
        fputs(usage_signals, stderr);
        return EXIT_USAGE;
    }
    hermes_config_t *cfg;
    int rc = load_config(argv[1], &cfg);
    if (rc)
        return rc;
    printf("%-40s %-5s %-10s %-24s %s\n", "SIGNAL", "TYPE", "UNIT", "RATE", "WRITABLE");
    uint32_t n = hermes_config_module_count(cfg);
    for (uint32_t i = 0; i < n; i++) {
        hermes_module_info_t mi;
        hermes_config_module(cfg, i, &mi);
        hermes_module_rate_t mr;
        char rate[48] = "-";
        memset(&mr, 0, sizeof mr);
        if (hermes_config_module_rate(cfg, i, &mr) == 0 && mr.divisor == 1)
            snprintf(rate, sizeof rate, "%g Hz", mr.rate_hz);
        else if (mr.divisor > 1)   /* steps every N-th frame of the base rate */
            snprintf(rate, sizeof rate, "%g Hz N=%u offset=%u", mr.rate_hz, (unsigned)mr.divisor,
                     (unsigned)mr.offset);
        for (uint32_t j = 0; j < mi.signal_count; j++) {
            hermes_signal_spec_t sp;
            hermes_config_signal(cfg, i, j, &sp);
            char qn[HERMES_MAX_NAME + 2];
            snprintf(qn, sizeof qn, "%s.%s", sp.module, sp.name);
            const char *w = !sp.writable ? "no" : hermes_fmu_signal_initial_only(cfg, i, j) ? "initial only" : "yes";
            printf("%-40s %-5s %-10s %-24s %s\n", qn, hermes_type_name(sp.type ? sp.type : HERMES_TYPE_F64),
                   sp.unit && *sp.unit ? sp.unit : "-", rate, w);
        }
    }
    hermes_config_destroy(cfg);
    return 0;
}

/* ---- run ---------------------------------------------------------------------- */

/* Option ids of `hermes run` ('R': the recording options, 'h': help). */
enum { O_NO_SERVER = 1, O_PORT, O_HOST, O_MODE, O_END, O_PAUSED, O_RUN_NAME, O_QUIET, O_VERBOSE, O_LOGFMT,
       O_SET, O_SEED };

struct monitor {
    hermes_scheduler_t *s;
    sigset_t            sigs;
    atomic_bool         done;
    atomic_int          signal;     /* first signal received */
    bool                progress;   /* periodic progress lines (afap) */
    double              rate_hz;
};

static void *monitor_main(void *arg)
{
    struct monitor *m = arg;
    struct timespec tick = {1, 0};
    uint64_t last_frame = hermes_scheduler_frame(m->s);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!atomic_load(&m->done)) {
        int sig = sigtimedwait(&m->sigs, NULL, &tick);
        if (sig == SIGUSR1)   /* main thread: the run is over */
            break;
        if (sig > 0) {
            if (atomic_load(&m->signal)) {
                logf_(HERMES_LOG_ERROR, "event=forced_exit signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
                _exit(sig == SIGINT ? EXIT_SIGINT : EXIT_SIGTERM);
            }
            atomic_store(&m->signal, sig);
            logf_(HERMES_LOG_INFO, "event=stopping signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
            hermes_scheduler_stop(m->s);
            continue;
        }
        if (!m->progress || atomic_load(&m->done))
            continue;
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        t0 = t1;
        uint64_t frame = hermes_scheduler_frame(m->s);
        if (hermes_scheduler_state(m->s) != HERMES_STATE_RUNNING) {
            last_frame = frame;
            continue;
        }
        double fps = wall > 0 ? (double)(frame - last_frame) / wall : 0;
        last_frame = frame;
        hermes_timing_t t;
        hermes_scheduler_timing(m->s, &t);
        logf_(HERMES_LOG_INFO, "event=progress frame=%llu sim_time=%.3f frames_per_s=%.0f rtf=%.2f overruns=%llu",
              (unsigned long long)frame, (double)frame / m->rate_hz, fps, fps / m->rate_hz,
              (unsigned long long)t.overruns);
    }
    return NULL;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* The command line of `hermes run`. */
struct run_opts {
    struct cli_record  rec;
    struct cli_ckpt    ckpt;
    bool               no_server, paused, have_end, have_seed;
    long               port;          /* -1: the config's */
    const char        *host, *mode, *run_name, *path;
    double             end_time;
    struct cli_set     sets[256];     /* --set arguments, applied after loading */
    int                nsets;
    unsigned long long seed;
};

/* --set MODULE.SIGNAL=VALUE (a finite number, true or false) into @p out:
 * 0, or the exit status (message printed). */
static int parse_set(const char *arg, struct cli_set *out)
{
    const char *eq = strchr(arg, '=');
    bool ok = eq && eq > arg && (size_t)(eq - arg) < sizeof out->name;
    out->arg = arg;
    out->value = 0;
    if (ok) {
        snprintf(out->name, sizeof out->name, "%.*s", (int)(eq - arg), arg);
        if (!strcmp(eq + 1, "true") || !strcmp(eq + 1, "false"))
            out->value = !strcmp(eq + 1, "true");
        else
            ok = parse_double(eq + 1, &out->value) == 0;
    }
    if (!ok) {
        fprintf(stderr, "hermes run: --set needs MODULE.SIGNAL=VALUE (a finite number, true or false), got '%s'\n",
                arg);
        return EXIT_USAGE;
    }
    return 0;
}

/* One option of `hermes run` (@p name for the recording ones): 0, or the exit status (message printed). */
static int run_option(struct run_opts *o, int c, const char *name)
{
    char *end;
    switch (c) {
    case 'R': return cli_record_option(&o->rec, name, optarg) ? EXIT_USAGE : 0;
    case 'C': return cli_ckpt_option(&o->ckpt, name, optarg) ? EXIT_USAGE : 0;
    case O_NO_SERVER: o->no_server = true; return 0;
    case O_PORT:
        o->port = strtol(optarg, &end, 10);
        if (*end || end == optarg || o->port < 0 || o->port > 65535) {
            fprintf(stderr, "hermes run: --port needs an integer 0..65535, got '%s'\n", optarg);
            return EXIT_USAGE;
        }
        return 0;
    case O_HOST: o->host = optarg; return 0;
    case O_MODE: o->mode = optarg; return 0;
    case O_END:
        if (parse_double(optarg, &o->end_time) || o->end_time <= 0) {
            fprintf(stderr, "hermes run: --end-time needs a positive number of seconds, got '%s'\n", optarg);
            return EXIT_USAGE;
        }
        o->have_end = true;
        return 0;
    case O_PAUSED: o->paused = true; return 0;
    case O_RUN_NAME: o->run_name = optarg; return 0;
    case O_QUIET: logcfg.level = HERMES_LOG_WARN; return 0;
    case O_VERBOSE: logcfg.level = HERMES_LOG_DEBUG; return 0;
    case O_LOGFMT:
        if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
            fprintf(stderr, "hermes run: --log-format must be text or json, got '%s'\n", optarg);
            return EXIT_USAGE;
        }
        logcfg.json = !strcmp(optarg, "json");
        return 0;
    case O_SET:
        if (o->nsets == (int)(sizeof o->sets / sizeof o->sets[0])) {
            fprintf(stderr, "hermes run: at most %d --set options\n", o->nsets);
            return EXIT_USAGE;
        }
        return parse_set(optarg, &o->sets[o->nsets++]);
    case O_SEED:
        errno = 0;
        o->seed = strtoull(optarg, &end, 10);
        if (errno || end == optarg || *end || strchr(optarg, '-')) {
            fprintf(stderr, "hermes run: --seed needs an integer 0 .. 2^64-1, got '%s'\n", optarg);
            return EXIT_USAGE;
        }
        o->have_seed = true;
        return 0;
    default: fprintf(stderr, usage_run, cli_record_usage, cli_ckpt_usage); return EXIT_USAGE;
    }
}

/* Options and CONFIG: -1 to go on, or the exit status. */
static int run_args(struct run_opts *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"no-server", no_argument, NULL, O_NO_SERVER}, {"port", required_argument, NULL, O_PORT},
        {"host", required_argument, NULL, O_HOST},     {"mode", required_argument, NULL, O_MODE},
        {"end-time", required_argument, NULL, O_END},  {"paused", no_argument, NULL, O_PAUSED},
        {"run-name", required_argument, NULL, O_RUN_NAME}, {"quiet", no_argument, NULL, O_QUIET},
        {"verbose", no_argument, NULL, O_VERBOSE},     {"log-format", required_argument, NULL, O_LOGFMT},
        {"set", required_argument, NULL, O_SET},       {"seed", required_argument, NULL, O_SEED},
        {"record", required_argument, NULL, 'R'},      {"record-signals", required_argument, NULL, 'R'},
        {"record-every", required_argument, NULL, 'R'}, {"record-rate", required_argument, NULL, 'R'},
        {"rerun", required_argument, NULL, 'R'},       {"record-compression", required_argument, NULL, 'R'},
        {"checkpoint", required_argument, NULL, 'C'}, {"checkpoint-at", required_argument, NULL, 'C'},
        {"restore", required_argument, NULL, 'C'},     {"checkpoint-dir", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0},
    };
    int opt_index = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, &opt_index)) != -1) {
        if (c == 'h') {
            printf(usage_run, cli_record_usage, cli_ckpt_usage);
            return 0;
        }
        int rc = run_option(o, c, opts[opt_index].name);
        if (rc)
            return rc;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "hermes run: expected exactly one CONFIG argument\n\n");
        fprintf(stderr, usage_run, cli_record_usage, cli_ckpt_usage);
        return EXIT_USAGE;
    }
    o->path = argv[optind];
    return -1;
}

/* The --set overrides: 0 or EXIT_USAGE (printed). */
static int run_apply_sets(const struct run_opts *o, hermes_config_t *cfg)
{
    for (int i = 0; i < o->nsets; i++)
        if (hermes_config_set_initial(cfg, o->sets[i].name, o->sets[i].value) != 0) {
            fprintf(stderr, "hermes run: --set %s: %s\n", o->sets[i].arg, hermes_last_error());
            return EXIT_USAGE;
        }
    return 0;
}

/* Load CONFIG and apply the command line: --set, --seed, --mode, --end-time,
 * the recording options; execution in @p ex. 0 or the exit status (printed). */
static int run_load(struct run_opts *o, hermes_config_t **cfg, hermes_execution_t *ex)
{
    char qb[1200];
    hermes_error_t err;
    if (hermes_config_load(cfg, o->path, &err) != 0) {
        logf_(HERMES_LOG_ERROR, "event=config_invalid config=%s error=%s", o->path, q(err.message, qb, sizeof qb));
        return EXIT_CONFIG;
    }
    int rc = run_apply_sets(o, *cfg);
    if (rc)
        return rc;
    if (o->have_seed)
        hermes_config_set_seed(*cfg, (uint64_t)o->seed);
    hermes_config_execution(*cfg, ex);
    if (o->mode) {
        if (!strcmp(o->mode, "afap")) ex->mode = HERMES_MODE_AFAP;
        else if (!strcmp(o->mode, "realtime")) ex->mode = HERMES_MODE_REALTIME;
        else if (!strcmp(o->mode, "single_frame")) ex->mode = HERMES_MODE_SINGLE_FRAME;
        else {
            fprintf(stderr, "hermes run: --mode must be afap, realtime or single_frame, got '%s'\n", o->mode);
            return EXIT_USAGE;
        }
    }
    if (o->have_end) {
        ex->end_time = o->end_time;
        ex->has_end_time = true;
    }
    if ((rc = cli_record_prepare(&o->rec, *cfg, ex, &o->paused)) != 0)
        return rc;
    hermes_config_set_execution(*cfg, ex);
    return 0;
}

/* Recording or rerun attached, staged, server started: 0 or the exit status (logged). */
static int run_start(struct run_opts *o, hermes_config_t *cfg, const hermes_execution_t *ex,
                     hermes_scheduler_t *s, struct cli_server **srv)
{
    char qb[1200];
    /* A restored run records from its checkpoint's frame: the recorder is
     * attached after the restore (it records the current frame first). */
    bool restoring = o->ckpt.restore != NULL;
    int status = restoring ? 0 : cli_record_attach(&o->rec, s, o->paused);
    if (status)
        return status;
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    char seed_kv[40] = "";
    if (o->have_seed)
        snprintf(seed_kv, sizeof seed_kv, " seed=%llu", o->seed);
    logf_(HERMES_LOG_INFO, "event=start config=%s run=%s modules=%u signals=%u mode=%s rate_hz=%g end_time=%s%s%s",
          o->path, hermes_backplane_name(bp), hermes_config_module_count(cfg), hermes_backplane_count(bp),
          hermes_mode_name(ex->mode), ex->rate_hz, ex->has_end_time ? "" : "none",
          ex->has_end_time ? (snprintf(qb, sizeof qb, "%g", ex->end_time), qb) : "", seed_kv);
    if (hermes_scheduler_stage(s) != 0) {
        logf_(HERMES_LOG_ERROR, "event=stage_failed error=%s", q(hermes_last_error(), qb, sizeof qb));
        return EXIT_STARTUP;
    }
    if ((status = cli_ckpt_attach(&o->ckpt, s, cfg, ex, o->sets, o->nsets, o->rec.rerun_path != NULL, logf_)) != 0)
        return status;
    if (restoring && (status = cli_record_attach(&o->rec, s, o->paused)) != 0)
        return status;
    hermes_server_settings_t ss;
    hermes_config_server(cfg, &ss);
    if (o->host)
        ss.host = o->host;
    if (o->port >= 0)
        ss.port = (uint16_t)o->port;
    if (!ss.enabled || o->no_server)
        return EXIT_OK;
    char e[512];
    if (cli_server_start(srv, s, &ss, e, sizeof e) != 0) {
        logf_(HERMES_LOG_ERROR, "event=server_failed host=%s port=%u error=%s", ss.host, ss.port,
              q(e, qb, sizeof qb));
        return EXIT_STARTUP;
    }
    return EXIT_OK;
}

/* The end of a run: summary and lateness lines, the recording closed. The exit status. */
static int run_report(struct run_opts *o, hermes_scheduler_t *s, int rc, int sig, double wall)
{
    char qb[1200];
    hermes_timing_t t;
    hermes_scheduler_timing(s, &t);
    uint64_t frames = hermes_scheduler_frame(s);
    double sim = (double)hermes_backplane_time_ns(hermes_scheduler_backplane(s)) * 1e-9;
    int status = EXIT_OK;
    if (rc != 0) {
        logf_(HERMES_LOG_ERROR, "event=run_failed frame=%llu error=%s", (unsigned long long)frames,
              q(hermes_scheduler_error(s), qb, sizeof qb));
        status = EXIT_RUN_ERROR;
    } else if (sig) {
        status = sig == SIGINT ? EXIT_SIGINT : EXIT_SIGTERM;
    }
    const char *why = rc ? NULL : hermes_scheduler_stop_reason(s);
    char wb[700] = "";
    if (why)
        snprintf(wb, sizeof wb, " reason=%s", q(why, qb, sizeof qb));
    logf_(HERMES_LOG_INFO,
          "event=summary status=%s frames=%llu sim_time=%.6f wall_time=%.3f rtf=%.2f overruns=%llu exit=%d%s",
          rc ? "error" : sig ? "interrupted" : "finished", (unsigned long long)frames, sim, wall,
          wall > 0 ? sim / wall : 0.0, (unsigned long long)t.overruns, status, wb);
    status = cli_record_finish(&o->rec, status, rc ? hermes_scheduler_error(s) : sig ? "interrupted" : "finished");
    hermes_lateness_t lat;
    if (hermes_scheduler_lateness(s, &lat) == 0 && lat.frames)
        logf_(HERMES_LOG_INFO, "event=lateness frames=%llu median_us=%.1f p99_us=%.1f max_us=%.1f",
              (unsigned long long)lat.frames, lat.median * 1e6, lat.p99 * 1e6, lat.max * 1e6);
    return status;
}

/* Run the staged scheduler to its end with the monitor thread handling
 * signals and progress lines. The exit status. */
static int run_monitored(struct run_opts *o, hermes_scheduler_t *s, const hermes_execution_t *ex,
                         struct monitor *mon)
{
    mon->s = s;
    mon->progress = ex->mode == HERMES_MODE_AFAP && logcfg.level >= HERMES_LOG_INFO;
    mon->rate_hz = ex->rate_hz;
    pthread_t mon_thread;
    if (pthread_create(&mon_thread, NULL, monitor_main, mon) != 0) {
        logf_(HERMES_LOG_ERROR, "event=start_failed error=\"cannot create the monitor thread\"");
        return EXIT_STARTUP;
    }
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    int rc = hermes_scheduler_run(s);
    clock_gettime(CLOCK_MONOTONIC, &w1);
    atomic_store(&mon->done, true);
    pthread_kill(mon_thread, SIGUSR1);
    pthread_join(mon_thread, NULL);
    double wall = (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) * 1e-9;
    return run_report(o, s, rc, atomic_load(&mon->signal), wall);
}

static int cmd_run(int argc, char **argv)
{
    struct run_opts o = {.rec = {.log = logf_}, .port = -1};
    int status = run_args(&o, argc, argv);
    if (status >= 0)
        return status;
    hermes_log_set(lib_log, NULL, logcfg.level);
    hermes_config_t *cfg = NULL;
    hermes_execution_t ex;
    if ((status = run_load(&o, &cfg, &ex)) != 0) {
        cli_record_cleanup(&o.rec);
        hermes_config_destroy(cfg);
        return status;
    }

    /* Signals are handled by the monitor thread; block them everywhere first
     * so every thread the library starts inherits the mask. */
    struct monitor mon = {0};
    sigemptyset(&mon.sigs);
    sigaddset(&mon.sigs, SIGINT);
    sigaddset(&mon.sigs, SIGTERM);
    sigaddset(&mon.sigs, SIGUSR1);  /* wakes the monitor when the run ends */
    pthread_sigmask(SIG_BLOCK, &mon.sigs, NULL);

    struct cli_server *srv = NULL;
    hermes_scheduler_t *s = NULL;
    hermes_scheduler_options_t opt;
    hermes_scheduler_options_init(&opt);
    opt.run_name = o.run_name;
    opt.start_paused = o.paused;
    if (hermes_scheduler_create(&s, cfg, &opt) != 0) {
        char qb[1200];
        logf_(HERMES_LOG_ERROR, "event=start_failed error=%s", q(hermes_last_error(), qb, sizeof qb));
        status = EXIT_STARTUP;
    } else if ((status = run_start(&o, cfg, &ex, s, &srv)) == EXIT_OK) {
        status = run_monitored(&o, s, &ex, &mon);
    }
    cli_server_stop(srv);
    cli_record_cleanup(&o.rec);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
    return status;
}

static void print_sweep(void *ctx, const char *name, int owner_pid, bool removed)
{
    const bool *dry = ctx;
    printf("%s %s (owner pid %d is gone)\n", *dry ? "stale" : removed ? "removed" : "could not remove", name,
           owner_pid);
}

static void print_fmu_sweep(void *ctx, const char *path, int owner_pid, bool removed)
{
    const bool *dry = ctx;
    printf("%s FMU folder %s (owner pid %d is gone)\n", *dry ? "stale" : removed ? "removed" : "could not remove",
           path, owner_pid);
}

static int cmd_clean(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_clean, stdout);
        return 0;
    }
    bool dry = argc == 2 && !strcmp(argv[1], "--dry-run");
    if (argc > 2 || (argc == 2 && !dry)) {
        fputs(usage_clean, stderr);
        return EXIT_USAGE;
    }
    int n = hermes_backplane_sweep(!dry, print_sweep, &dry);
    if (n < 0) {
        fprintf(stderr, "hermes clean: %s\n", hermes_last_error());
        return EXIT_STARTUP;
    }
    int nf = hermes_fmu_sweep(!dry, print_fmu_sweep, &dry);
    if (nf < 0) {
        fprintf(stderr, "hermes clean: %s\n", hermes_last_error());
        return EXIT_STARTUP;
    }
    printf("%d stale segment%s %s\n", n, n == 1 ? "" : "s", dry ? "found" : "removed");
    printf("%d stale FMU folder%s %s\n", nf, nf == 1 ? "" : "s", dry ? "found" : "removed");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("hermes %s (library %s)\n", HERMES_VERSION_STRING, hermes_version_string());
        return 0;
    }
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "validate"))
        return cmd_validate(argc - 1, argv + 1);
    if (!strcmp(cmd, "signals"))
        return cmd_signals(argc - 1, argv + 1);
    if (!strcmp(cmd, "clean"))
        return cmd_clean(argc - 1, argv + 1);
    if (!strcmp(cmd, "export"))
        return cmd_export(argc - 1, argv + 1);
    if (!strcmp(cmd, "replay"))
        return cmd_replay(argc - 1, argv + 1);
    if (!strcmp(cmd, "campaign"))
        return cmd_campaign(argc - 1, argv + 1, argv[0]);
    fprintf(stderr, "hermes: unknown command '%s'\n\n%s", cmd, usage_main);
    return EXIT_USAGE;
}
