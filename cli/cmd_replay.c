/* `hermes replay`: serve a recording through the WebSocket protocol. Public API only. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_record.h"

static const char usage_replay[] =
    "usage: hermes replay FILE.h5|FILE.mcap [--port N] [--host ADDR] [--speed X] [--loop]\n"
    "                     [--paused] [--telemetry-hz HZ] [--quiet]\n"
    "\n"
    "Serves a recording (HDF5, or an MCAP file Hermes wrote) through the WebSocket\n"
    "protocols (docs/protocol.md, docs/foxglove.md) and the viewer page, as\n"
    "`hermes run` serves a live run:\n"
    "viewer page, as `hermes run` serves a live run: schema from the file,\n"
    "telemetry at the recorded simulation pace times --speed (default 1), pause,\n"
    "resume, step, reset and seek ({\"action\":\"seek\",\"params\":{\"frame\":N}} or\n"
    "{\"time\":T}); set is refused (a recording is read-only). At the end it stops\n"
    "(event 'stopped'; resume plays it again) unless --loop. Port default 8765\n"
    "(0: any free port, logged as event=listening). Ctrl+C ends it.\n"
    "exit status: 0 after Ctrl+C/SIGTERM, 2 bad command line, 4 cannot read the\n"
    "recording or start the server.\n";

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_hook(void *ctx, hermes_log_level_t level, const char *component, const char *msg)
{
    (void)ctx;
    static const char *const names[] = {"none", "error", "warn", "info", "debug"};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "ts=%s level=%s component=%s %s\n", when, names[level <= HERMES_LOG_DEBUG ? level : 0], component,
            msg);
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
}

static int number(const char *opt, const char *arg, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || *end || end == arg || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "hermes replay: %s needs a number in [%g, %g], got '%s'\n", opt, lo, hi, arg);
        return -1;
    }
    *out = v;
    return 0;
}

int cmd_replay(int argc, char **argv)
{
    const char *file = NULL, *host = "127.0.0.1";
    double port = 8765, speed = 1.0, tel = 60.0;
    bool loop = false, paused = false;
    hermes_log_level_t level = HERMES_LOG_INFO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_replay, stdout);
            return 0;
        } else if (!strcmp(a, "--port") && has) {
            if (number("--port", argv[++i], 0, 65535, &port) || port != floor(port))
                return 2;
        } else if (!strcmp(a, "--host") && has) {
            host = argv[++i];
        } else if (!strcmp(a, "--speed") && has) {
            if (number("--speed", argv[++i], 1e-6, 1e6, &speed))
                return 2;
        } else if (!strcmp(a, "--telemetry-hz") && has) {
            if (number("--telemetry-hz", argv[++i], 0.001, 1000, &tel))
                return 2;
        } else if (!strcmp(a, "--loop")) {
            loop = true;
        } else if (!strcmp(a, "--paused")) {
            paused = true;
        } else if (!strcmp(a, "--quiet")) {
            level = HERMES_LOG_WARN;
        } else if (a[0] != '-' && !file) {
            file = a;
        } else {
            fprintf(stderr, "hermes replay: unexpected argument '%s'\n\n%s", a, usage_replay);
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "hermes replay: need FILE.h5 or FILE.mcap\n\n%s", usage_replay);
        return 2;
    }
    if (!hermes_recording_supported()) {
        hermes_recording_t *none = NULL;
        hermes_recording_open(&none, file);
        fprintf(stderr, "hermes replay: %s\n", hermes_last_error());
        return 2;
    }
    hermes_log_set(log_hook, NULL, level);
    /* Ctrl+C and SIGTERM end the replay; block them first so every thread
     * the library starts inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    int status = 0;
    hermes_recording_t *rec = NULL;
    hermes_replay_t *rp = NULL;
    hermes_server_t *srv = NULL;
    char err[1024] = "";
    hermes_replay_config_t rc;
    hermes_replay_config_init(&rc);
    rc.speed = speed;
    rc.loop = loop;
    rc.start_paused = paused;
    hermes_server_source_t src;
    hermes_server_control_t ctl;
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.bind_addr = host;
    sc.port = (uint16_t)port;
    sc.telemetry_hz = tel;
    const char *token = getenv("HERMES_AUTH_TOKEN");
    if (token && *token)
        sc.auth_token = token;
    if (hermes_recording_open(&rec, file) != 0 || hermes_replay_create(&rp, rec, &rc) != 0 ||
        hermes_replay_source(rp, &src) != 0 || hermes_replay_control(rp, &ctl) != 0 ||
        hermes_server_create_source(&srv, &src, &sc, &ctl) != 0 || hermes_server_start(srv) != 0 ||
        hermes_replay_start(rp) != 0) {
        snprintf(err, sizeof err, "%s", hermes_last_error());
        fprintf(stderr, "hermes replay: %s\n", err);
        status = 4;
    } else {
        char msg[512];
        snprintf(msg, sizeof msg, "event=replay file=%s frames=%llu signals=%u speed=%g loop=%s complete=%s", file,
                 (unsigned long long)hermes_recording_rows(rec), hermes_recording_signal_count(rec), speed,
                 loop ? "yes" : "no", hermes_recording_complete(rec) ? "yes" : "no");
        log_hook(NULL, HERMES_LOG_INFO, "cli", msg);
        int sig = 0;
        sigwait(&sigs, &sig);
        snprintf(msg, sizeof msg, "event=stopping signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
        log_hook(NULL, HERMES_LOG_INFO, "cli", msg);
    }
    hermes_server_destroy(srv);
    hermes_replay_destroy(rp);
    hermes_recording_close(rec);
    hermes_log_set(NULL, NULL, HERMES_LOG_NONE);
    return status;
}
