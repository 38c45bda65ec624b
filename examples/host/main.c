/* A C host that builds a simulation through the library API, no YAML, no CLI:
 * a mass on a spring with a damper, driven by a force that the host injects,
 * stepped by the host and read back through a consistent snapshot. */
#include <hermes/hermes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

struct plant {
    double *x, *v;            /* outputs */
    const double *force;      /* input, written by a wire */
    double k, c, m;
};

static int plant_init(void **state, const hermes_inproc_env_t *env)
{
    struct plant *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    p->x = hermes_inproc_slot(env, "x");
    p->v = hermes_inproc_slot(env, "v");
    p->force = hermes_inproc_slot(env, "force");
    p->k = 40.0;
    p->c = 2.0;
    p->m = 1.0;
    *state = p;
    return 0;
}

static int plant_stage(void *state)
{
    struct plant *p = state;
    *p->x = 0.1;   /* released from 10 cm */
    *p->v = 0.0;
    return 0;
}

static int plant_step(void *state, uint64_t frame, double dt)
{
    struct plant *p = state;
    (void)frame;
    double a = (*p->force - p->k * *p->x - p->c * *p->v) / p->m;
    *p->v += a * dt;
    *p->x += *p->v * dt;
    return 0;
}

static int plant_reset(void *state)
{
    (void)state;
    return 0;
}

static void plant_terminate(void *state) { free(state); }

static const hermes_inproc_module_t plant = {
    HERMES_INPROC_ABI_VERSION, 0, plant_init, plant_stage, plant_step, plant_reset, plant_terminate, NULL, NULL, NULL,
};

#define CHECK(call)                                                                        \
    do {                                                                                   \
        int rc_ = (call);                                                                  \
        if (rc_ != 0) {                                                                    \
            fprintf(stderr, "%s failed: %s: %s\n", #call, hermes_err_name(rc_), hermes_last_error()); \
            goto out;                                                                      \
        }                                                                                  \
    } while (0)

int main(int argc, char **argv)
{
    int frames = argc > 1 ? atoi(argv[1]) : 300;
    if (hermes_version() / 100 != HERMES_VERSION_NUMBER / 100) {
        fprintf(stderr, "libhermes %s does not match the headers (%s)\n", hermes_version_string(),
                HERMES_VERSION_STRING);
        return 1;
    }
    int status = 1;
    hermes_config_t *cfg = NULL;
    hermes_scheduler_t *s = NULL;
    CHECK(hermes_config_create(&cfg));
    CHECK(hermes_config_add_module(cfg, "input", HERMES_MODULE_INJECTION, NULL));
    CHECK(hermes_config_add_signal(cfg, "input", "force", HERMES_TYPE_F64, "N", true, 0.0));
    CHECK(hermes_config_add_module(cfg, "plant", HERMES_MODULE_INPROC, NULL));
    CHECK(hermes_config_set_module_callbacks(cfg, "plant", &plant));
    CHECK(hermes_config_add_signal(cfg, "plant", "x", HERMES_TYPE_F64, "m", false, 0.0));
    CHECK(hermes_config_add_signal(cfg, "plant", "v", HERMES_TYPE_F64, "m/s", false, 0.0));
    CHECK(hermes_config_add_signal(cfg, "plant", "force", HERMES_TYPE_F64, "N", true, 0.0));
    CHECK(hermes_config_add_wire(cfg, "input.force", "plant.force", 1.0, 0.0));
    hermes_execution_t ex = {HERMES_MODE_SINGLE_FRAME, 100.0, 0.0, false, HERMES_DEFAULT_STEP_TIMEOUT};
    CHECK(hermes_config_set_execution(cfg, &ex));
    hermes_error_t err;
    if (hermes_config_validate(cfg, &err) != 0) {
        fprintf(stderr, "invalid simulation: %s\n", err.message);
        goto out;
    }
    CHECK(hermes_scheduler_create(&s, cfg, NULL));
    CHECK(hermes_scheduler_stage(s));

    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    hermes_signal_t force, x, v;
    CHECK(hermes_backplane_find(bp, "input.force", &force));
    CHECK(hermes_backplane_find(bp, "plant.x", &x));
    CHECK(hermes_backplane_find(bp, "plant.v", &v));
    uint32_t idx[2] = {x.index, v.index};

    printf("%8s %8s %10s %10s\n", "frame", "time_s", "x_m", "v_m_s");
    for (int f = 0; f < frames; f++) {
        if (f == frames / 2)
            CHECK(hermes_scheduler_set(s, force, 2.0));  /* step input halfway: new rest at 5 cm */
        CHECK(hermes_scheduler_step(s, 1, NULL));
        if ((f + 1) % 50 == 0) {
            double val[2];
            uint64_t frame, t_ns;
            CHECK(hermes_backplane_snapshot(bp, idx, 2, val, &frame, &t_ns));
            printf("%8llu %8.2f %10.5f %10.5f\n", (unsigned long long)frame, (double)t_ns * 1e-9, val[0], val[1]);
        }
    }
    status = 0;
out:
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
    return status;
}
