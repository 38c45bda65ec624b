/* Load generator module for bench/load: an in-process module whose step
 * writes every signal as a function of the frame number, so a client can
 * check that each telemetry frame is whole. Published frame F (after the step
 * computing frame F-1, or after stage for F = 0) holds, for the signal at
 * declaration index i:  value = F * 1000 + i.  Any mix of two frames, a
 * shifted slot or a stale value breaks the equation. */
#include <hermes/inproc.h>
#include <stdio.h>
#include <stdlib.h>

#define LOADGEN_STRIDE 1000.0

struct loadgen {
    uint32_t n;
    double *const *slots;
};

static void fill(struct loadgen *g, uint64_t published_frame)
{
    const double base = (double)published_frame * LOADGEN_STRIDE;
    for (uint32_t i = 0; i < g->n; i++)
        *g->slots[i] = base + (double)i;
}

static int init(void **state, const hermes_inproc_env_t *env)
{
    if (env->signal_count > (uint32_t)LOADGEN_STRIDE) {
        snprintf(env->errbuf, env->errbuf_size, "at most %u signals, got %u", (unsigned)LOADGEN_STRIDE,
                 env->signal_count);
        return -1;
    }
    struct loadgen *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(env->errbuf, env->errbuf_size, "out of memory");
        return -1;
    }
    g->n = env->signal_count;
    g->slots = env->slots;
    *state = g;
    return 0;
}

static int stage(void *state)
{
    fill(state, 0);
    return 0;
}

static int step(void *state, uint64_t frame, double dt)
{
    (void)dt;
    fill(state, frame + 1);
    return 0;
}

static int reset(void *state)
{
    (void)state;
    return 0;
}

static void terminate(void *state)
{
    free(state);
}

static const hermes_inproc_module_t loadgen = {
    .abi_version = HERMES_INPROC_ABI_VERSION,
    .init = init,
    .stage = stage,
    .step = step,
    .reset = reset,
    .terminate = terminate,
};

HERMES_INPROC_EXPORT(loadgen)
