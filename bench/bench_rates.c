/* Multi-rate modules (issue 19), figures printed, never asserted:
 *   1. a 10 kHz AFAP loop with 100 inproc modules at 100 Hz (offsets 0..99,
 *      so one is due per frame) vs the same loop without them, and vs the
 *      100 modules at the base rate: the per-frame cost of a module that is
 *      not due (target <= 5 ns), after the one step that is due is taken out;
 *   2. 4 process modules at the base rate vs at base/10: frames/s (target
 *      >= 5x).
 * Every figure is the best of 3 runs; the references are measured in the
 * same run. Usage: bench_rates NOOP_MODULE_EXE (tests/modules/proc_module.c). */
#include <hermes/hermes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#ifndef BENCH_BUILD
#define BENCH_BUILD "unknown"
#endif

#define NMOD 100
#define BASE_HZ 10000.0

static int mod_init(void **state, const hermes_inproc_env_t *env)
{
    *state = env->slots[0];
    return 0;
}

static int mod_step(void *state, uint64_t frame, double dt)
{
    double *x = state;
    *x += dt * (double)(frame & 1u);
    return 0;
}

static const hermes_inproc_module_t table = {HERMES_INPROC_ABI_VERSION, 0, mod_init, NULL, mod_step, NULL, NULL, NULL, NULL, NULL};

/* A base-rate injection module, plus @p n inproc modules at @p hz (0: base) with offsets 0, 1, ... */
static hermes_config_t *inproc_cfg(uint32_t n, double hz, uint64_t frames)
{
    hermes_config_t *cfg;
    CHECK(hermes_config_create(&cfg));
    hermes_execution_t ex = {HERMES_MODE_AFAP, BASE_HZ, (double)frames / BASE_HZ, true, 5.0};
    CHECK(hermes_config_set_execution(cfg, &ex));
    CHECK(hermes_config_add_module(cfg, "env", HERMES_MODULE_INJECTION, NULL));
    CHECK(hermes_config_add_signal(cfg, "env", "g", HERMES_TYPE_F64, NULL, true, 9.81));
    uint32_t div = hz > 0 ? (uint32_t)(BASE_HZ / hz) : 1;
    for (uint32_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%u", i);
        CHECK(hermes_config_add_module(cfg, name, HERMES_MODULE_INPROC, NULL));
        CHECK(hermes_config_set_module_callbacks(cfg, name, &table));
        CHECK(hermes_config_add_signal(cfg, name, "x", HERMES_TYPE_F64, NULL, false, 0.0));
        CHECK(hermes_config_set_module_rate(cfg, name, hz, i % div));
    }
    return cfg;
}

static double best_ns_per_frame(uint32_t n, double hz, uint64_t frames)
{
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double ns = run_wall(inproc_cfg(n, hz, frames), NULL) / (double)frames * 1e9;
        if (ns < best)
            best = ns;
    }
    return best;
}

static double best_proc_fps(const char *exe, double hz, uint64_t frames)
{
    double best = 0;
    for (int r = 0; r < 3; r++) {
        hermes_config_t *cfg;
        CHECK(hermes_config_create(&cfg));
        hermes_execution_t ex = {HERMES_MODE_AFAP, 1000.0, (double)frames / 1000.0, true, 5.0};
        CHECK(hermes_config_set_execution(cfg, &ex));
        for (int i = 0; i < 4; i++) {
            char name[16];
            snprintf(name, sizeof name, "p%d", i);
            CHECK(hermes_config_add_module(cfg, name, HERMES_MODULE_PROCESS, exe));
            const char *args[] = {"noop"};
            CHECK(hermes_config_set_module_args(cfg, name, args, 1));
            CHECK(hermes_config_add_signal(cfg, name, "pid", HERMES_TYPE_F64, NULL, false, 0.0));
            CHECK(hermes_config_set_module_rate(cfg, name, hz, 0));
        }
        double fps = (double)frames / run_wall(cfg, NULL);
        if (fps > best)
            best = fps;
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_rates NOOP_MODULE_EXE\n");
        return 2;
    }
    printf("bench_rates (build: %s; best of 3 runs each)\n", BENCH_BUILD);
    const uint64_t frames = 200000;
    double none = best_ns_per_frame(0, 0.0, frames);
    double slow = best_ns_per_frame(NMOD, 100.0, frames);
    double fast = best_ns_per_frame(NMOD, 0.0, frames);
    double step = (fast - none) / NMOD;                   /* one due module's step */
    double idle = (slow - none - step) / (NMOD - 1);      /* one module not due */
    printf("1. 10 kHz AFAP, %u inproc modules:\n", NMOD);
    printf("   reference, no modules:              %8.1f ns/frame\n", none);
    printf("   reference, all %u at 10 kHz:        %8.1f ns/frame (%.1f ns per step)\n", NMOD, fast, step);
    printf("   all %u at 100 Hz (1 due per frame): %8.1f ns/frame\n", NMOD, slow);
    printf("   => cost of a module not due:        %8.2f ns per module per frame (target <= 5)\n", idle);
    const uint64_t pframes = 20000;
    double at_base = best_proc_fps(argv[1], 0.0, pframes);
    double at_tenth = best_proc_fps(argv[1], 100.0, pframes);
    printf("2. 1 kHz AFAP, 4 no-op process modules:\n");
    printf("   reference, at the base rate:        %10.0f frames/s\n", at_base);
    printf("   at base/10:                         %10.0f frames/s\n", at_tenth);
    printf("   => speed-up:                        %10.2fx (target >= 5x)\n", at_tenth / at_base);
    return 0;
}
