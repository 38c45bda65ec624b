/* The launch vehicle as an in-process module (shared object). */
#include <hermes/inproc.h>
#include <stdlib.h>
#include <string.h>

#include "vehicle_model.h"

struct vehicle {
    struct vehicle_params p;
    struct vehicle_state  s;
    /* outputs */
    double *downrange, *altitude, *vx, *vh, *speed, *mass, *q, *accel, *thrust;
    /* inputs */
    const double *thrust_cmd, *pitch_cmd;
};

static void write_outputs(struct vehicle *v)
{
    *v->downrange = v->s.x;
    *v->altitude = v->s.h;
    *v->vx = v->s.vx;
    *v->vh = v->s.vh;
    *v->speed = v->s.speed;
    *v->mass = v->s.mass;
    *v->q = v->s.q;
    *v->accel = v->s.accel;
    *v->thrust = v->s.thrust;
}

static int init(void **state, const hermes_inproc_env_t *env)
{
    struct vehicle *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(env->errbuf, env->errbuf_size, "out of memory");
        return -1;
    }
    vehicle_default_params(&v->p);
    if (env->config_path && vehicle_load_params(&v->p, env->config_path, env->errbuf, env->errbuf_size) != 0) {
        free(v);
        return -1;
    }
    struct { double **slot; const char *name; } out[] = {
        {&v->downrange, "position.downrange"}, {&v->altitude, "position.altitude"},
        {&v->vx, "velocity.x"}, {&v->vh, "velocity.h"}, {&v->speed, "speed"}, {&v->mass, "mass"},
        {&v->q, "dynamic_pressure"}, {&v->accel, "accel"}, {&v->thrust, "thrust"},
        {(double **)&v->thrust_cmd, "thrust_cmd"}, {(double **)&v->pitch_cmd, "pitch_cmd"},
    };
    for (size_t i = 0; i < sizeof out / sizeof *out; i++) {
        *out[i].slot = hermes_inproc_slot(env, out[i].name);
        if (!*out[i].slot) {
            snprintf(env->errbuf, env->errbuf_size, "signal '%s' is not declared in the config", out[i].name);
            free(v);
            return -1;
        }
    }
    *state = v;
    return 0;
}

static int stage(void *state)
{
    struct vehicle *v = state;
    vehicle_init(&v->s, &v->p);
    if (*v->mass > v->p.dry_mass)   /* the signal's initial value, when set, is the lift-off mass */
        v->s.mass = *v->mass;
    write_outputs(v);
    return 0;
}

static int step(void *state, uint64_t frame, double dt)
{
    struct vehicle *v = state;
    (void)frame;
    vehicle_step(&v->s, &v->p, *v->thrust_cmd, *v->pitch_cmd, dt);
    write_outputs(v);
    return 0;
}

static int reset(void *state)
{
    (void)state;  /* stage() re-initialises after every reset */
    return 0;
}

static void terminate(void *state) { free(state); }

/* Checkpoints (docs/checkpoints.md): the integrator's state is all it needs. */
static size_t state_size(void *state)
{
    (void)state;
    return sizeof(struct vehicle_state);
}

static int state_save(void *state, void *buf, size_t size)
{
    struct vehicle *v = state;
    memcpy(buf, &v->s, size);
    return 0;
}

static int state_load(void *state, const void *buf, size_t size)
{
    struct vehicle *v = state;
    if (size != sizeof v->s)
        return -1;
    memcpy(&v->s, buf, size);
    return 0;
}

static const hermes_inproc_module_t table = {
    HERMES_INPROC_ABI_VERSION, 0, init, stage, step, reset, terminate, state_size, state_save, state_load,
};

HERMES_INPROC_EXPORT(table)
