/* Helpers shared by the scheduler benchmarks (bench_scheduler, bench_groups, bench_record). */
#ifndef HERMES_BENCH_UTIL_H
#define HERMES_BENCH_UTIL_H

#include <hermes/hermes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(x)                                                                             \
    do {                                                                                     \
        int rc_ = (x);                                                                       \
        if (rc_) {                                                                           \
            fprintf(stderr, "%s: %s: %s\n", #x, hermes_err_name(rc_), hermes_last_error()); \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Create, stage and run @p cfg; the wall seconds of run() and the frames
 * it reached (@p frames, optional). Destroys @p cfg. */
static inline double run_wall(hermes_config_t *cfg, uint64_t *frames)
{
    hermes_scheduler_t *s;
    CHECK(hermes_scheduler_create(&s, cfg, NULL));
    CHECK(hermes_scheduler_stage(s));
    double t0 = now();
    CHECK(hermes_scheduler_run(s));
    double wall = now() - t0;
    if (frames)
        *frames = hermes_scheduler_frame(s);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
    return wall;
}

/* Run @p cfg as fast as possible for @p frames frames (at a nominal 1 kHz)
 * and return the wall nanoseconds per frame; destroys @p cfg. */
static inline double afap_ns_per_frame(hermes_config_t *cfg, uint64_t frames)
{
    hermes_execution_t ex = {HERMES_MODE_AFAP, 1000.0, (double)frames / 1000.0, true, HERMES_DEFAULT_STEP_TIMEOUT};
    CHECK(hermes_config_set_execution(cfg, &ex));
    return run_wall(cfg, NULL) / (double)frames * 1e9;
}

#endif
