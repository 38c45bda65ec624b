/* Shared set-up of the server fuzz harnesses (fuzz_command.c, fuzz_foxglove.c):
 * a real shared-memory backplane and a real, staged scheduler built from a
 * small programmatic config (no run() thread: control calls apply in the
 * calling thread), served by a detached server (lib/server/internal.h) whose
 * control table drives that scheduler with step counts capped at STEP_CAP.
 * The backplane's run name comes from $HERMES_FUZZ_RUN (scripts/fuzz.sh sets
 * it and removes the segment if the process dies), else hermes-fuzz-<pid>.
 * Included by exactly one harness per binary. */
#ifndef HERMES_FUZZ_SERVER_RIG_H
#define HERMES_FUZZ_SERVER_RIG_H

#include <hermes/hermes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server/internal.h"

#define MAX_MESSAGE 65536u
#define STEP_CAP    64u

static hermes_config_t    *cfg;
static hermes_scheduler_t *sched;
static hermes_server_t    *srv;

static int f_pause(void *c) { return hermes_scheduler_pause(c); }
static int f_resume(void *c) { return hermes_scheduler_resume(c); }
static int f_reset(void *c) { return hermes_scheduler_reset(c); }
static int f_step(void *c, uint64_t n, uint64_t *t) { return hermes_scheduler_step(c, n > STEP_CAP ? STEP_CAP : n, t); }
static int f_set(void *c, hermes_signal_t sig, double v) { return hermes_scheduler_set(c, sig, v); }
static hermes_state_t f_state(void *c) { return hermes_scheduler_state(c); }

static void rig_cleanup(void)
{
    hermes_server_destroy(srv);
    hermes_scheduler_destroy(sched);
    hermes_config_destroy(cfg);
    srv = NULL;
    sched = NULL;
    cfg = NULL;
}

static const char *rig_harness = "fuzz";

#define CHECK(expr)                                                                                   \
    do {                                                                                              \
        if (!(expr)) {                                                                                \
            fprintf(stderr, "%s: setup failed: %s: %s\n", rig_harness, #expr, hermes_last_error());    \
            abort();                                                                                  \
        }                                                                                             \
    } while (0)

/* Build the rig once (from LLVMFuzzerInitialize). @p harness names the
 * harness in setup errors; module "plant" gets position.x, then
 * @p second_position (e.g. "position.y", or "position" to have a name that is
 * also a prefix of another), then velocity; @p max_patterns 0 is the default. */
static void rig_up(const char *harness, const char *second_position, uint32_t max_patterns)
{
    static char run[96];
    rig_harness = harness;
    const char *env = getenv("HERMES_FUZZ_RUN");
    if (env && *env)
        snprintf(run, sizeof run, "%s", env);
    else
        snprintf(run, sizeof run, "hermes-fuzz-%ld", (long)getpid());
    CHECK(hermes_config_create(&cfg) == 0);
    CHECK(hermes_config_add_module(cfg, "ctrl", HERMES_MODULE_INJECTION, NULL) == 0);
    CHECK(hermes_config_add_signal(cfg, "ctrl", "throttle", HERMES_TYPE_F64, "", true, 0.5) == 0);
    CHECK(hermes_config_add_signal(cfg, "ctrl", "gear", HERMES_TYPE_I32, "", true, 1) == 0);
    CHECK(hermes_config_add_signal(cfg, "ctrl", "count", HERMES_TYPE_I64, "", true, 0) == 0);
    CHECK(hermes_config_add_signal(cfg, "ctrl", "gain", HERMES_TYPE_F32, "", true, 0.25) == 0);
    CHECK(hermes_config_add_signal(cfg, "ctrl", "armed", HERMES_TYPE_BOOL, "", true, 0) == 0);
    CHECK(hermes_config_add_module(cfg, "plant", HERMES_MODULE_INJECTION, NULL) == 0);
    CHECK(hermes_config_add_signal(cfg, "plant", "position.x", HERMES_TYPE_F64, "m", false, 1) == 0);
    CHECK(hermes_config_add_signal(cfg, "plant", second_position, HERMES_TYPE_F64, "m", false, 2) == 0);
    CHECK(hermes_config_add_signal(cfg, "plant", "velocity", HERMES_TYPE_F64, "m/s", true, 0) == 0);
    CHECK(hermes_config_add_wire(cfg, "ctrl.throttle", "plant.velocity", 2.0, 1.0) == 0);
    hermes_execution_t ex = {HERMES_MODE_AFAP, 100.0, 0, false, 1.0};
    CHECK(hermes_config_set_execution(cfg, &ex) == 0);
    hermes_scheduler_options_t so;
    hermes_scheduler_options_init(&so);
    so.run_name = run;
    so.start_paused = true;
    CHECK(hermes_scheduler_create(&sched, cfg, &so) == 0);
    CHECK(hermes_scheduler_stage(sched) == 0);

    hermes_server_control_t ctl;
    hermes_server_control_init(&ctl);
    ctl.ctx = sched;
    ctl.pause = f_pause;
    ctl.resume = f_resume;
    ctl.reset = f_reset;
    ctl.step = f_step;
    ctl.set = f_set;
    ctl.state = f_state;
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.max_message = MAX_MESSAGE;
    sc.max_patterns = max_patterns;
    sc.max_json_depth = 8;
    sc.sim_config = cfg;
    CHECK(hermes__server_create_detached(&srv, hermes_scheduler_backplane(sched), &sc, &ctl) == 0);
    atexit(rig_cleanup);
}

#endif
