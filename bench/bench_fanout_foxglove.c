/* Foxglove fan-out cost: N clients (default 50) subscribed to a module of
 * 1,000 signals at 60 Hz, clients in a separate cheap process
 * (bench_fanout_client: raw sockets + epoll). One server, two phases in the
 * same run: phase 1 serves N `hermes` protocol clients subscribed to the same
 * 1,000 signals (binary HERT frames), phase 2 N Foxglove clients subscribed to
 * the module's channel (JSON MessageData). Prints per-client received rates
 * (min, median) and this process's CPU % for both, the ratio, message sizes,
 * and the cost of encoding one JSON payload (our Grisu2 formatter, and
 * snprintf "%.17g" for reference) measured in the same run.
 * Target: every client >= 59.5 Hz in both phases.
 * usage: bench_fanout_foxglove CLIENT_EXE [clients] [seconds]              */
#include <hermes/hermes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fanout_util.h"
#include "server/foxglove/foxglove.h"

#ifndef HERMES_BUILD_TYPE
#define HERMES_BUILD_TYPE "unknown"
#endif

#define NSIG   1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- a 100 Hz "simulation" publishing values with full-precision fractions ---- */
struct pub {
    hermes_backplane_t *bp;
    hermes_signal_t     sig[NSIG];
    _Atomic int         stop;
};

static void *publisher(void *arg)
{
    struct pub *p = arg;
    uint64_t f = 0;
    while (!atomic_load(&p->stop)) {
        f++;
        for (uint32_t i = 0; i < NSIG; i++)
            hermes_backplane_write(p->bp, p->sig[i], 1000.0 * sin(0.01 * (double)f + (double)i));
        hermes_backplane_publish(p->bp, f, f * 10000000u);
        sleep_s(0.01);
    }
    return NULL;
}

/* ns per JSON payload of the 1,000-signal channel, and per "%.17g" pass. */
static void encode_cost(hermes_backplane_t *bp, double *ns_grisu, double *ns_printf, size_t *payload)
{
    hermes_signal_info_t *info = calloc(NSIG, sizeof *info);
    double *values = calloc(NSIG, sizeof *values);
    for (uint32_t k = 0; k < NSIG; k++) {
        hermes_backplane_info(bp, k, &info[k]);
        values[k] = 1000.0 * sin(0.37 + (double)k);
    }
    hermes__fg_catalog_t *cat = NULL;
    if (hermes__fg_catalog_create(&cat, info, NSIG) != 0) {
        *ns_grisu = *ns_printf = 0;
        free(info);
        free(values);
        return;
    }
    char *buf = malloc(hermes__fg_channel_bound(cat, 1));
    hermes__fg_tick_t tick = {values, 1, 10000000u, "running"};
    const int reps = 2000;
    double t0 = now_s();
    size_t total = 0;
    for (int r = 0; r < reps; r++) {
        values[r % NSIG] += 1e-9;
        total += hermes__fg_encode(cat, 1, &tick, buf);
    }
    double t1 = now_s();
    *ns_grisu = (t1 - t0) * 1e9 / reps;
    *payload = total / reps;
    char num[32];
    t0 = now_s();
    for (int r = 0; r < reps / 4; r++)
        for (uint32_t k = 0; k < NSIG; k++)
            total += (size_t)snprintf(num, sizeof num, "%.17g", values[k]);
    t1 = now_s();
    *ns_printf = (t1 - t0) * 1e9 / (reps / 4);
    if (total == 0)
        puts("");
    free(buf);
    hermes__fg_catalog_destroy(cat);
    free(info);
    free(values);
}

static void field(const char *line, const char *key, double *out)
{
    const char *p = strstr(line, key);
    *out = p ? atof(p + strlen(key)) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CLIENT_EXE [clients] [seconds]\n", argv[0]);
        return 2;
    }
    const char *exe = argv[1];
    int n = argc > 2 ? atoi(argv[2]) : 50;
    double secs = argc > 3 ? atof(argv[3]) : 10.0;

    hermes_signal_spec_t *specs = calloc(NSIG, sizeof *specs);
    char (*names)[24] = calloc(NSIG, sizeof *names);
    for (int i = 0; i < NSIG; i++) {
        snprintf(names[i], sizeof names[i], "group%d.s%d", i / 100, i % 100);
        specs[i] = (hermes_signal_spec_t){"m", names[i], HERMES_TYPE_F64, "", false, 0};
    }
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.signals = specs;
    bc.signal_count = NSIG;
    struct pub pub;
    memset(&pub, 0, sizeof pub);
    if (hermes_backplane_create(&pub.bp, &bc) != 0) {
        fprintf(stderr, "%s\n", hermes_last_error());
        return 1;
    }
    for (uint32_t i = 0; i < NSIG; i++) {
        hermes_signal_info_t in;
        hermes_backplane_info(pub.bp, i, &in);
        pub.sig[i] = in.id;
    }
    pthread_t pth;
    pthread_create(&pth, NULL, publisher, &pub);

    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.max_clients = (uint32_t)n + 16;
    hermes_server_t *srv = NULL;
    if (hermes_server_create(&srv, pub.bp, &sc, NULL) != 0 || hermes_server_start(srv) != 0) {
        fprintf(stderr, "server: %s\n", hermes_last_error());
        return 1;
    }
    char line1[512], line2[512];
    double cpu1 = 0, cpu2 = 0;
    hermes_server_stats_t st0, st1, st2;
    hermes_server_stats(srv, &st0);
    run_clients(exe, hermes_server_port(srv), n, secs, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"m.*\"]}}",
                "hermes", line1, sizeof line1, &cpu1);
    hermes_server_stats(srv, &st1);
    run_clients(exe, hermes_server_port(srv), n, secs, "{\"op\":\"subscribe\",\"subscriptions\":[{\"id\":7,\"channelId\":1}]}",
                "foxglove.websocket.v1 1", line2, sizeof line2, &cpu2);
    hermes_server_stats(srv, &st2);
    hermes_server_destroy(srv);
    atomic_store(&pub.stop, 1);
    pthread_join(pth, NULL);

    double ns_grisu = 0, ns_printf = 0;
    size_t payload = 0;
    encode_cost(pub.bp, &ns_grisu, &ns_printf, &payload);
    hermes_backplane_destroy(pub.bp);
    free(specs);
    free(names);

    double min1, min2, bps1, bps2;
    field(line1, "min_hz=", &min1);
    field(line2, "min_hz=", &min2);
    field(line1, "bytes_per_s=", &bps1);
    field(line2, "bytes_per_s=", &bps2);
    printf("bench_fanout_foxglove: %d clients x 1 module of %d signals at 60 Hz, %g s measured per phase, build type %s\n",
           n, NSIG, secs, HERMES_BUILD_TYPE);
    printf("  hermes protocol   : %s | server cpu %.1f%% (dropped %llu)\n", line1, cpu1,
           (unsigned long long)(st1.frames_dropped - st0.frames_dropped));
    printf("  foxglove protocol : %s | server cpu %.1f%% (dropped %llu)\n", line2, cpu2,
           (unsigned long long)(st2.frames_dropped - st1.frames_dropped));
    printf("  server: %llu ticks, %llu messages sent (hermes phase); %llu ticks, %llu messages sent, time messages "
           "included (foxglove phase)\n",
           (unsigned long long)(st1.ticks - st0.ticks), (unsigned long long)(st1.frames_sent - st0.frames_sent),
           (unsigned long long)(st2.ticks - st1.ticks), (unsigned long long)(st2.frames_sent - st1.frames_sent));
    printf("  message size: hermes %zu bytes (binary), foxglove %zu bytes (13-byte header + JSON)\n",
           (size_t)HERMES_TELEMETRY_FRAME_SIZE(NSIG), (size_t)HERMES_FG_MESSAGE_HEADER + payload);
    printf("  cpu ratio foxglove/hermes = %.2f; bytes per second ratio = %.2f\n", cpu1 > 0 ? cpu2 / cpu1 : 0.0,
           bps1 > 0 ? bps2 / bps1 : 0.0);
    printf("  JSON payload encode (once per tick, shared by all subscribers): %.1f us (%.0f ns/value); "
           "the same values with snprintf %%.17g: %.1f us\n",
           ns_grisu / 1e3, ns_grisu / NSIG, ns_printf / 1e3);
    printf("  rate target: every client >= 59.5 Hz: hermes %s (min %.2f), foxglove %s (min %.2f)\n",
           min1 >= 59.5 ? "met" : "MISSED", min1, min2 >= 59.5 ? "met" : "MISSED", min2);
    return 0;
}
