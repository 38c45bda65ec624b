/* Helpers shared by the fan-out benchmarks (bench_fanout, bench_fanout_foxglove):
 * this process's CPU time, sleeping, and one bench_fanout_client run whose
 * CPU cost is measured on this side. */
#ifndef HERMES_BENCH_FANOUT_UTIL_H
#define HERMES_BENCH_FANOUT_UTIL_H

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Seconds the clients connect and subscribe before measuring starts. */
#define WARMUP 3.0

static inline double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static inline void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Run @p n clients of @p exe against @p port sending @p sub once connected
 * (@p extra: further client arguments, e.g. "SUBPROTOCOL FIRST_BYTE", or ""),
 * measure this process's CPU % over @p seconds after the warm-up, and leave the
 * client's one-line result in @p out. Returns 0, or -1 if it could not start. */
static inline int run_clients(const char *exe, int port, int n, double seconds, const char *sub, const char *extra,
                              char *out, size_t cap, double *cpu_pct)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %d %d %g %g '%s' %s", exe, port, n, WARMUP, seconds, sub, extra);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    sleep_s(WARMUP);
    double c0 = cpu_s();
    sleep_s(seconds);
    double c1 = cpu_s();
    *cpu_pct = 100.0 * (c1 - c0) / seconds;
    out[0] = '\0';
    if (!fgets(out, (int)cap, p))
        out[0] = '\0';
    pclose(p);
    size_t l = strlen(out);
    if (l && out[l - 1] == '\n')
        out[l - 1] = '\0';
    return 0;
}

#endif
