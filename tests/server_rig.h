/* An in-process test rig: a scheduler (staged, paused) running on its own
 * thread over a config the test built, served by a real WebSocket server on
 * 127.0.0.1 with an ephemeral port. */
#ifndef HERMES_TEST_SERVER_RIG_H
#define HERMES_TEST_SERVER_RIG_H

#include <pthread.h>
#include <stdbool.h>

#include "test_util.h"

struct rig {
    hermes_config_t    *cfg;
    hermes_scheduler_t *sched;
    hermes_server_t    *srv;
    pthread_t           thr;
    bool                thr_started;
    int                 port;
    char                name[96];
};

static void *rig_run_main(void *arg)
{
    struct rig *r = arg;
    hermes_scheduler_run(r->sched);
    return NULL;
}

/* Serve r->cfg (the rig takes ownership): scheduler started paused under a
 * run name beginning with @p what, server with @p sc (sim_config is filled in)
 * and the scheduler's control table unless @p readonly. */
static void rig_serve(struct rig *r, const char *what, hermes_server_config_t *sc, bool readonly)
{
    hermes_scheduler_options_t so;
    hermes_scheduler_options_init(&so);
    so.run_name = test_run_name(r->name, sizeof r->name, what);
    so.start_paused = true;
    assert_hermes_ok(hermes_scheduler_create(&r->sched, r->cfg, &so));
    assert_hermes_ok(hermes_scheduler_stage(r->sched));
    sc->sim_config = r->cfg;
    hermes_server_control_t ctl;
    assert_hermes_ok(hermes_server_control_from_scheduler(r->sched, &ctl));
    assert_hermes_ok(hermes_server_create(&r->srv, hermes_scheduler_backplane(r->sched), sc, readonly ? NULL : &ctl));
    r->port = hermes_server_port(r->srv);
    assert_true(r->port > 0);
    assert_hermes_ok(hermes_server_start(r->srv));
    assert_int_equal(pthread_create(&r->thr, NULL, rig_run_main, r), 0);
    r->thr_started = true;
}

static void rig_down(struct rig *r)
{
    if (r->thr_started) {
        hermes_scheduler_stop(r->sched);
        pthread_join(r->thr, NULL);
    }
    hermes_server_destroy(r->srv);
    hermes_scheduler_destroy(r->sched);
    hermes_config_destroy(r->cfg);
    assert_false(shm_exists(r->name));
}

#endif
