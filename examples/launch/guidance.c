/* Open-loop ascent guidance as an in-process module: vertical rise, then a
 * linear pitch program with altitude, and a throttle bucket through max-q. */
#include <hermes/inproc.h>
#include <stdio.h>
#include <stdlib.h>

enum phase { PHASE_VERTICAL = 0, PHASE_PITCH_OVER = 1, PHASE_MAX_Q = 2 };

struct guidance {
    const double *altitude, *q, *throttle_in, *kick_altitude, *pitch_final;
    double *pitch_cmd, *throttle_cmd, *phase;
};

#define PITCH_END_ALT 60000.0   /* m: pitch program ends here */
#define Q_LIMIT       35000.0   /* Pa: throttle back above this */
#define Q_THROTTLE    0.7

static int init(void **state, const hermes_inproc_env_t *env)
{
    struct guidance *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(env->errbuf, env->errbuf_size, "out of memory");
        return -1;
    }
    struct { double **slot; const char *name; } sig[] = {
        {(double **)&g->altitude, "altitude"}, {(double **)&g->q, "dynamic_pressure"},
        {(double **)&g->throttle_in, "throttle_in"}, {(double **)&g->kick_altitude, "kick_altitude"},
        {(double **)&g->pitch_final, "pitch_final"},
        {&g->pitch_cmd, "pitch_cmd"}, {&g->throttle_cmd, "throttle_cmd"}, {&g->phase, "phase"},
    };
    for (size_t i = 0; i < sizeof sig / sizeof *sig; i++) {
        *sig[i].slot = hermes_inproc_slot(env, sig[i].name);
        if (!*sig[i].slot) {
            snprintf(env->errbuf, env->errbuf_size, "signal '%s' is not declared in the config", sig[i].name);
            free(g);
            return -1;
        }
    }
    *state = g;
    return 0;
}

static void compute(struct guidance *g)
{
    double h = *g->altitude, kick = *g->kick_altitude;
    double pitch = 90.0;
    enum phase ph = PHASE_VERTICAL;
    if (h > kick) {
        double f = (h - kick) / (PITCH_END_ALT - kick);
        if (f > 1)
            f = 1;
        pitch = 90.0 - (90.0 - *g->pitch_final) * f;
        ph = PHASE_PITCH_OVER;
    }
    double throttle = *g->throttle_in;
    if (*g->q > Q_LIMIT && throttle > Q_THROTTLE) {
        throttle = Q_THROTTLE;
        ph = PHASE_MAX_Q;
    }
    *g->pitch_cmd = pitch;
    *g->throttle_cmd = throttle < 0 ? 0 : throttle > 1 ? 1 : throttle;
    *g->phase = (double)ph;
}

static int stage(void *state)
{
    compute(state);
    return 0;
}

static int step(void *state, uint64_t frame, double dt)
{
    (void)frame;
    (void)dt;
    compute(state);
    return 0;
}

static int reset(void *state)
{
    (void)state;
    return 0;
}

static void terminate(void *state) { free(state); }

/* Checkpoints: guidance keeps nothing between steps beyond its signals
 * (the phase is one), so its state is empty. */
static size_t state_size(void *state)
{
    (void)state;
    return 0;
}

static int state_save(void *state, void *buf, size_t size)
{
    (void)state;
    (void)buf;
    (void)size;
    return 0;
}

static int state_load(void *state, const void *buf, size_t size)
{
    (void)state;
    (void)buf;
    return size == 0 ? 0 : -1;
}

static const hermes_inproc_module_t table = {
    HERMES_INPROC_ABI_VERSION, 0, init, stage, step, reset, terminate, state_size, state_save, state_load,
};

HERMES_INPROC_EXPORT(table)
