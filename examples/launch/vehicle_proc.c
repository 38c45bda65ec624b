/* The launch vehicle as a process module: a separate executable stepped in
 * lockstep through the backplane. Same dynamics as vehicle_inproc.c
 * (vehicle_model.h), so both produce bit-identical trajectories.
 * Hermes starts it with HERMES_BACKPLANE / HERMES_MODULE set and the module's
 * `config:` file in HERMES_MODULE_CONFIG. */
#include <hermes/hermes.h>
#include <stdio.h>
#include <string.h>

#include "vehicle_model.h"

static size_t state_size(void *ctx)
{
    (void)ctx;
    return sizeof(struct vehicle_state);
}

static int state_save(void *ctx, void *buf, size_t size)
{
    memcpy(buf, ctx, size);
    return 0;
}

static int state_load(void *ctx, const void *buf, size_t size)
{
    if (size != sizeof(struct vehicle_state))
        return -1;
    memcpy(ctx, buf, size);
    return 0;
}

int main(void)
{
    hermes_module_t *m;
    if (hermes_module_open(&m) != 0) {
        fprintf(stderr, "vehicle_proc: %s\n", hermes_last_error());
        return 1;
    }
    struct vehicle_params p;
    struct vehicle_state s;
    char err[256];
    vehicle_default_params(&p);
    const char *conf = hermes_module_config_path(m);
    if (conf && vehicle_load_params(&p, conf, err, sizeof err) != 0) {
        hermes_module_done(m, 1, err);   /* refuse start-up: Hermes reports err */
        hermes_module_close(m);
        return 1;
    }

    /* Look signals up once; then read and write shared memory directly. */
    static const char *const names[] = {"position.downrange", "position.altitude", "velocity.x", "velocity.h",
                                        "speed", "mass", "dynamic_pressure", "accel", "thrust",
                                        "thrust_cmd", "pitch_cmd"};
    enum { DOWNRANGE, ALTITUDE, VX, VH, SPEED, MASS, Q, ACCEL, THRUST, THRUST_CMD, PITCH_CMD, NSIG };
    double *sig[NSIG];
    for (int i = 0; i < NSIG; i++)
        if (!(sig[i] = hermes_module_slot(m, names[i]))) {
            snprintf(err, sizeof err, "signal '%s' is not declared in the config", names[i]);
            hermes_module_done(m, 1, err);
            hermes_module_close(m);
            return 1;
        }

    /* Checkpoints (docs/checkpoints.md): declared before the first wait. */
    hermes_module_state_t ops = {state_size, state_save, state_load, &s};
    if (hermes_module_set_state(m, &ops) != 0) {
        hermes_module_done(m, 1, hermes_last_error());
        hermes_module_close(m);
        return 1;
    }

    uint64_t frame;
    double dt;
    int cmd;
    while ((cmd = hermes_module_wait(m, &frame, &dt)) > 0 && cmd != HERMES_CMD_TERMINATE) {
        if (cmd == HERMES_CMD_STAGE) {
            vehicle_init(&s, &p);
            if (*sig[MASS] > p.dry_mass)   /* the signal's initial value, when set, is the lift-off mass */
                s.mass = *sig[MASS];
        } else if (cmd == HERMES_CMD_STEP) {
            vehicle_step(&s, &p, *sig[THRUST_CMD], *sig[PITCH_CMD], dt);
        } else {
            continue;  /* reset: a stage follows */
        }
        *sig[DOWNRANGE] = s.x;
        *sig[ALTITUDE] = s.h;
        *sig[VX] = s.vx;
        *sig[VH] = s.vh;
        *sig[SPEED] = s.speed;
        *sig[MASS] = s.mass;
        *sig[Q] = s.q;
        *sig[ACCEL] = s.accel;
        *sig[THRUST] = s.thrust;
    }
    hermes_module_close(m);   /* answers terminate */
    return cmd < 0 ? 1 : 0;
}
