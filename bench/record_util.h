/* The recorder's measurement pieces shared by bench_record and bench_scale:
 * an inproc module writing all its signals every frame, a run with or
 * without recording, and the scale figure (run without/with recording,
 * writer throughput beside write() of the same bytes, file size over value
 * bytes) for one signal count. */
#ifndef HERMES_BENCH_RECORD_UTIL_H
#define HERMES_BENCH_RECORD_UTIL_H

#include <fcntl.h>
#include <hermes/hermes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"

/* One module writing every one of its signals each frame. */
struct gen {
    uint32_t n;
    double *const *slots;
};

static inline int gen_init(void **state, const hermes_inproc_env_t *env)
{
    struct gen *g = malloc(sizeof *g);
    if (!g)
        return -1;
    g->n = env->signal_count;
    g->slots = env->slots;
    *state = g;
    return 0;
}

static inline int gen_step(void *state, uint64_t frame, double dt)
{
    struct gen *g = state;
    (void)dt;
    for (uint32_t i = 0; i < g->n; i++)
        *g->slots[i] = (double)frame * 0.001 + (double)i;
    return 0;
}

static inline void gen_term(void *state) { free(state); }

static const hermes_inproc_module_t gen_table = {HERMES_INPROC_ABI_VERSION, 0, gen_init, NULL, gen_step, NULL,
                                                 gen_term, NULL, NULL, NULL};

static inline hermes_config_t *make(uint32_t nsig, hermes_mode_t mode, double rate, double end)
{
    hermes_config_t *cfg;
    CHECK(hermes_config_create(&cfg));
    CHECK(hermes_config_add_module(cfg, "gen", HERMES_MODULE_INPROC, NULL));
    CHECK(hermes_config_set_module_callbacks(cfg, "gen", &gen_table));
    for (uint32_t i = 0; i < nsig; i++) {
        char name[32];
        snprintf(name, sizeof name, "s%05u", i);
        CHECK(hermes_config_add_signal(cfg, "gen", name, HERMES_TYPE_F64, "m", false, 0));
    }
    hermes_execution_t ex;
    hermes_config_execution(cfg, &ex);
    ex.mode = mode;
    ex.rate_hz = rate;
    ex.has_end_time = true;
    ex.end_time = end;
    CHECK(hermes_config_set_execution(cfg, &ex));
    return cfg;
}

/* Run @p cfg, recording "gen.*" to @p path when not NULL. Returns wall seconds
 * from run() to the file being closed; *overruns gets the run's overruns. */
static inline double run(hermes_config_t *cfg, const char *path, uint64_t *overruns, hermes_recorder_stats_t *st)
{
    hermes_scheduler_t *s;
    CHECK(hermes_scheduler_create(&s, cfg, NULL));
    hermes_recorder_t *r = NULL;
    if (path) {
        hermes_recorder_config_t rc;
        hermes_recorder_config_init(&rc);
        const char *pat[] = {"gen.*"};
        rc.path = path;
        rc.signals = pat;
        rc.signal_count = 1;
        CHECK(hermes_recorder_create(&r, s, &rc));
    }
    CHECK(hermes_scheduler_stage(s));
    double t0 = now();
    CHECK(hermes_scheduler_run(s));
    if (r) {
        CHECK(hermes_recorder_close(r, "finished"));
        hermes_recorder_stats(r, st);
    }
    double t = now() - t0;
    hermes_timing_t tm;
    hermes_scheduler_timing(s, &tm);
    *overruns = tm.overruns;
    hermes_recorder_destroy(r);
    hermes_scheduler_destroy(s);
    return t;
}

/* Section 3: one size. Whole run from scheduler create to destroy. */
static inline double whole_run(hermes_config_t *cfg, const char *path, hermes_recorder_stats_t *st)
{
    double t0 = now();
    uint64_t ov = 0;
    run(cfg, path, &ov, st);
    return now() - t0;
}

static inline void scale(uint32_t nsig, const char *h5, const char *raw)
{
    hermes_config_t *cfg = make(nsig, HERMES_MODE_AFAP, 100, 1.0);
    hermes_recorder_stats_t st;
    memset(&st, 0, sizeof st);
    double off = whole_run(cfg, NULL, NULL);
    double on = whole_run(cfg, h5, &st);
    struct stat sb;
    double fsize = stat(h5, &sb) == 0 ? (double)sb.st_size : 0;
    unlink(h5);
    double bytes = (double)st.bytes;
    size_t chunk = 1u << 20;
    char *buf = malloc(chunk);
    CHECK(buf ? 0 : -1);
    memset(buf, 0x5a, chunk);
    int fd = open(raw, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    double w0 = now();
    for (double left = bytes; fd >= 0 && left > 0;) {
        size_t n = left < (double)chunk ? (size_t)left : chunk;
        if (write(fd, buf, n) != (ssize_t)n)
            break;
        left -= (double)n;
    }
    double w = now() - w0;
    if (fd >= 0)
        close(fd);
    unlink(raw);
    free(buf);
    hermes_config_destroy(cfg);
    printf("  %6u signals, %llu frames: run %.3f s without recording, %.3f s with (target <= 1.0 s at 10^5); "
           "writer %.0f MB/s vs write() %.0f MB/s (%.2fx); file %.1f MB for %.1f MB of values: %.2fx "
           "(target <= 1.2x); stalls %llu\n",
           nsig, (unsigned long long)st.rows, off, on, bytes / st.writer_seconds / 1e6, bytes / w / 1e6,
           (bytes / st.writer_seconds) / (bytes / w), fsize / 1e6, bytes / 1e6, bytes ? fsize / bytes : 0,
           (unsigned long long)st.stalls);
}

#endif
