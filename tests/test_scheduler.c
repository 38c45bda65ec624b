#include "test_util.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#ifndef HERMES_TEST_BUILDDIR
#error "HERMES_TEST_BUILDDIR must be defined"
#endif

/* ---- recording modules (host callback tables) --------------------------- */

#define LOG_CAP 4096
static struct {
    int  module[LOG_CAP];
    uint64_t frame[LOG_CAP];
    double seen_in[LOG_CAP];
    int  n;
    int  stages, resets, terminates;
    int  fail_module;        /* module id that fails ... */
    uint64_t fail_frame;     /* ... at this frame */
} rec;

struct mod {
    int id;
    double *out;
    const double *in;
};

static int rec_init(void **state, const hermes_inproc_env_t *env)
{
    struct mod *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    m->id = env->module_name[0] - 'a';   /* modules are named a, b, c */
    m->out = hermes_inproc_slot(env, "out");
    m->in = hermes_inproc_slot(env, "in");
    *state = m;
    return 0;
}

static int rec_stage(void *state)
{
    (void)state;
    rec.stages++;
    return 0;
}

static char *errbuf_of_b;

static int rec_step(void *state, uint64_t frame, double dt)
{
    struct mod *m = state;
    (void)dt;
    if (rec.n < LOG_CAP) {
        rec.module[rec.n] = m->id;
        rec.frame[rec.n] = frame;
        rec.seen_in[rec.n] = m->in ? *m->in : NAN;
        rec.n++;
    }
    if (m->id == rec.fail_module && frame == rec.fail_frame) {
        if (errbuf_of_b)
            snprintf(errbuf_of_b, 64, "boom: sensor offline");
        return -1;
    }
    if (m->id == 0)
        *m->out = (double)frame + 1;          /* a.out = frames done */
    else if (m->out && m->in)
        *m->out = *m->in;                     /* b, c copy their input */
    return 0;
}

static int rec_reset(void *state)
{
    (void)state;
    rec.resets++;
    return 0;
}

static void rec_terminate(void *state)
{
    rec.terminates++;
    free(state);
}

static int recb_init(void **state, const hermes_inproc_env_t *env)
{
    errbuf_of_b = env->errbuf;
    return rec_init(state, env);
}

static const hermes_inproc_module_t rec_table = {HERMES_INPROC_ABI_VERSION, 0, rec_init, rec_stage, rec_step,
                                                 rec_reset, rec_terminate, NULL, NULL, NULL};
static const hermes_inproc_module_t recb_table = {HERMES_INPROC_ABI_VERSION, 0, recb_init, rec_stage, rec_step,
                                                  rec_reset, rec_terminate, NULL, NULL, NULL};

/* a -> b -> c with wires a.out -> b.in (x2 + 1) and b.out -> c.in, plus an
 * injection module with one writable and one read-only signal. */
static hermes_config_t *chain_config(hermes_mode_t mode, double rate, double end_time)
{
    memset(&rec, 0, sizeof rec);
    rec.fail_module = -1;
    hermes_config_t *cfg = NULL;
    assert_hermes_ok(hermes_config_create(&cfg));
    assert_hermes_ok(hermes_config_add_module(cfg, "inj", HERMES_MODULE_INJECTION, NULL));
    assert_hermes_ok(hermes_config_add_signal(cfg, "inj", "knob", HERMES_TYPE_F64, "", true, 0.5));
    assert_hermes_ok(hermes_config_add_signal(cfg, "inj", "count", HERMES_TYPE_I32, "", true, 1));
    assert_hermes_ok(hermes_config_add_signal(cfg, "inj", "fixed", HERMES_TYPE_F64, "", false, 9));
    const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        assert_hermes_ok(hermes_config_add_module(cfg, names[i], HERMES_MODULE_INPROC, NULL));
        assert_hermes_ok(hermes_config_set_module_callbacks(cfg, names[i], i == 1 ? &recb_table : &rec_table));
        assert_hermes_ok(hermes_config_add_signal(cfg, names[i], "out", HERMES_TYPE_F64, "", false, 0));
        if (i > 0)
            assert_hermes_ok(hermes_config_add_signal(cfg, names[i], "in", HERMES_TYPE_F64, "", true, 0));
    }
    assert_hermes_ok(hermes_config_add_wire(cfg, "a.out", "b.in", 2.0, 1.0));
    assert_hermes_ok(hermes_config_add_wire(cfg, "b.out", "c.in", 1.0, 0.0));
    hermes_execution_t ex = {mode, rate, end_time, end_time > 0, HERMES_DEFAULT_STEP_TIMEOUT};
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    return cfg;
}

static hermes_scheduler_t *make_sched(hermes_config_t *cfg, char *name, size_t cap)
{
    hermes_scheduler_t *s = test_scheduler_create(cfg, name, cap, "sched");
    assert_true(shm_exists(name));
    return s;
}

static double value(hermes_scheduler_t *s, const char *qn) { return test_published(s, qn); }

static hermes_signal_t sig_of(hermes_scheduler_t *s, const char *qn)
{
    hermes_signal_t sig;
    assert_hermes_ok(hermes_backplane_find(hermes_scheduler_backplane(s), qn, &sig));
    return sig;
}

/* ---- listener ------------------------------------------------------------------ */

#define EV_CAP 64
static struct {
    pthread_mutex_t mu;
    hermes_event_t ev[EV_CAP];
    uint64_t frame[EV_CAP];
    char detail[256];
    int n;
} evs = {PTHREAD_MUTEX_INITIALIZER, {0}, {0}, {0}, 0};

static void listener(void *ctx, hermes_event_t ev, uint64_t frame, const char *detail)
{
    (void)ctx;
    pthread_mutex_lock(&evs.mu);
    if (evs.n < EV_CAP) {
        evs.ev[evs.n] = ev;
        evs.frame[evs.n] = frame;
        evs.n++;
    }
    if (detail)
        snprintf(evs.detail, sizeof evs.detail, "%s", detail);
    pthread_mutex_unlock(&evs.mu);
}

static void clear_events(void)
{
    pthread_mutex_lock(&evs.mu);
    evs.n = 0;
    evs.detail[0] = '\0';
    pthread_mutex_unlock(&evs.mu);
}

static int count_events(hermes_event_t ev)
{
    pthread_mutex_lock(&evs.mu);
    int n = 0;
    for (int i = 0; i < evs.n; i++)
        n += evs.ev[i] == ev;
    pthread_mutex_unlock(&evs.mu);
    return n;
}

static void finish(hermes_scheduler_t *s, hermes_config_t *cfg, const char *name)
{
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
    assert_false(shm_exists(name));
}

/* ---- tests ------------------------------------------------------------------- */

static void test_scheduler_frame_order_and_wires(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg = chain_config(HERMES_MODE_SINGLE_FRAME, 100, 0);
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_IDLE);
    assert_hermes_rc(hermes_scheduler_step(s, 1, NULL), HERMES_ESTATE);   /* not staged */
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_int_equal(rec.stages, 3);
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_PAUSED);
    /* Wires applied once at stage: b.in = 0 * 2 + 1. */
    assert_true(value(s, "b.in") == 1.0);
    assert_true(value(s, "c.in") == 0.0);

    uint64_t target = 0;
    assert_hermes_ok(hermes_scheduler_step(s, 1, &target));
    assert_int_equal(target, 1);
    /* Frame 0: a, b, c in schedule order, each seeing the previous frame's wires. */
    assert_int_equal(rec.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rec.module[i], i);
        assert_int_equal(rec.frame[i], 0);
    }
    assert_true(rec.seen_in[1] == 1.0);   /* b saw the stage wire */
    assert_true(rec.seen_in[2] == 0.0);   /* c saw b.out of stage */
    assert_true(value(s, "a.out") == 1.0);
    assert_true(value(s, "b.out") == 1.0);
    assert_true(value(s, "b.in") == 3.0);  /* wires run after every module: 1 * 2 + 1 */
    assert_true(value(s, "c.in") == 1.0);
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    assert_int_equal(hermes_backplane_frame(bp), 1);
    assert_int_equal(hermes_backplane_time_ns(bp), 10000000u);

    assert_hermes_ok(hermes_scheduler_step(s, 4, &target));
    assert_int_equal(target, 5);
    assert_int_equal(hermes_scheduler_frame(s), 5);
    assert_int_equal(rec.n, 15);
    assert_int_equal(rec.frame[14], 4);
    assert_true(value(s, "b.in") == 11.0);   /* a.out = 5 -> 5 * 2 + 1 */
    assert_hermes_rc(hermes_scheduler_step(s, 0, NULL), HERMES_EINVAL);
    finish(s, cfg, name);
    assert_int_equal(rec.terminates, 3);
}

static void test_scheduler_time_is_multiplied_not_accumulated(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg = chain_config(HERMES_MODE_SINGLE_FRAME, 3.0, 0);
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    assert_hermes_ok(hermes_scheduler_stage(s));
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    assert_hermes_ok(hermes_scheduler_step(s, 3, NULL));
    assert_int_equal(hermes_backplane_time_ns(bp), 1000000000u);
    assert_hermes_ok(hermes_scheduler_step(s, 2997, NULL));
    assert_int_equal(hermes_backplane_time_ns(bp), 1000000000000u);
    finish(s, cfg, name);
}

static void test_scheduler_set_rules(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg = chain_config(HERMES_MODE_SINGLE_FRAME, 100, 0);
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_rc(hermes_scheduler_set(s, sig_of(s, "inj.fixed"), 1.0), HERMES_EREADONLY);
    assert_contains(hermes_last_error(), "inj.fixed");
    assert_hermes_rc(hermes_scheduler_set(s, sig_of(s, "a.out"), 1.0), HERMES_EREADONLY);
    assert_hermes_rc(hermes_scheduler_set(s, sig_of(s, "hermes.rtf"), 1.0), HERMES_EREADONLY);
    assert_hermes_rc(hermes_scheduler_set(s, sig_of(s, "inj.count"), 1.5), HERMES_ETYPE);
    assert_hermes_rc(hermes_scheduler_set(s, sig_of(s, "inj.count"), NAN), HERMES_ETYPE);
    hermes_signal_t bogus = {999, 1};
    assert_hermes_rc(hermes_scheduler_set(s, bogus, 1.0), HERMES_ENOENT);
    /* While paused a set is between frames: readers see it at once. */
    assert_hermes_ok(hermes_scheduler_set(s, sig_of(s, "inj.knob"), 4.25));
    assert_true(value(s, "inj.knob") == 4.25);
    assert_hermes_ok(hermes_scheduler_set(s, sig_of(s, "inj.count"), 7));
    assert_true(value(s, "inj.count") == 7);
    finish(s, cfg, name);
}

static void test_scheduler_reset_restores_initial_and_pauses(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg = chain_config(HERMES_MODE_SINGLE_FRAME, 100, 0);
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    clear_events();
    assert_hermes_ok(hermes_scheduler_set_listener(s, listener, NULL));
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_ok(hermes_scheduler_step(s, 10, NULL));
    assert_hermes_ok(hermes_scheduler_set(s, sig_of(s, "inj.knob"), 2.0));
    assert_true(value(s, "a.out") == 10.0);
    assert_hermes_ok(hermes_scheduler_reset(s));
    assert_int_equal(rec.resets, 3);
    assert_int_equal(rec.stages, 6);
    assert_int_equal(hermes_scheduler_frame(s), 0);
    assert_int_equal(hermes_backplane_time_ns(hermes_scheduler_backplane(s)), 0);
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_PAUSED);
    assert_true(value(s, "inj.knob") == 0.5);
    assert_true(value(s, "a.out") == 0.0);
    assert_true(value(s, "b.in") == 1.0);   /* wires re-applied at the re-stage */
    assert_int_equal(count_events(HERMES_EVENT_RESET), 1);
    assert_hermes_ok(hermes_scheduler_step(s, 2, NULL));
    assert_true(value(s, "a.out") == 2.0);
    finish(s, cfg, name);
}

struct runner {
    hermes_scheduler_t *s;
    int rc;
    atomic_bool finished;
};

static void *run_thread(void *arg)
{
    struct runner *r = arg;
    r->rc = hermes_scheduler_run(r->s);
    atomic_store(&r->finished, true);
    return NULL;
}

static bool wait_until(bool (*cond)(void *), void *arg, double seconds)
{
    double end = test_now() + seconds;
    while (test_now() < end) {
        if (cond(arg))
            return true;
        usleep(1000);
    }
    return cond(arg);
}

static uint64_t want_frame;
static bool frame_reached(void *arg) { return hermes_scheduler_frame(arg) >= want_frame; }
static bool run_finished(void *arg) { return atomic_load(&((struct runner *)arg)->finished); }

static void test_scheduler_controls_from_another_thread(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg = chain_config(HERMES_MODE_AFAP, 1000, 0);
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    clear_events();
    assert_hermes_ok(hermes_scheduler_set_listener(s, listener, NULL));
    assert_hermes_ok(hermes_scheduler_stage(s));
    struct runner r = {s, -99, false};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_thread, &r), 0);
    want_frame = 200;
    bool ok_running = wait_until(frame_reached, s, 5.0);
    int rc_pause = hermes_scheduler_pause(s);
    hermes_state_t st_paused = hermes_scheduler_state(s);
    uint64_t f1 = hermes_scheduler_frame(s);
    usleep(30000);
    uint64_t f2 = hermes_scheduler_frame(s);
    int rc_pause2 = hermes_scheduler_pause(s);            /* already paused: no new event */
    int rc_set = hermes_scheduler_set(s, sig_of(s, "inj.knob"), 3.5);
    usleep(5000);
    double knob = value(s, "inj.knob");                   /* applied while paused, visible at once */
    uint64_t target = 0;
    int rc_step = hermes_scheduler_step(s, 5, &target);
    want_frame = f2 + 5;
    bool ok_stepped = wait_until(frame_reached, s, 5.0);
    usleep(10000);
    uint64_t f3 = hermes_scheduler_frame(s);
    int rc_resume = hermes_scheduler_resume(s);
    hermes_state_t st_running = hermes_scheduler_state(s);
    want_frame = f3 + 100;
    bool ok_resumed = wait_until(frame_reached, s, 5.0);
    int rc_step_running = hermes_scheduler_step(s, 1, NULL);  /* step needs a paused run */
    int rc_stop = hermes_scheduler_stop(s);
    bool ok_finished = wait_until(run_finished, &r, 5.0);
    if (!ok_finished) {
        hermes_scheduler_stop(s);
    }
    pthread_join(th, NULL);

    assert_true(ok_running);
    assert_hermes_ok(rc_pause);
    assert_int_equal(st_paused, HERMES_STATE_PAUSED);
    assert_int_equal(f1, f2);
    assert_hermes_ok(rc_pause2);
    assert_hermes_ok(rc_set);
    assert_true(knob == 3.5);
    assert_hermes_ok(rc_step);
    assert_int_equal(target, f2 + 5);
    assert_true(ok_stepped);
    assert_int_equal(f3, f2 + 5);
    assert_hermes_ok(rc_resume);
    assert_int_equal(st_running, HERMES_STATE_RUNNING);
    assert_true(ok_resumed);
    assert_hermes_rc(rc_step_running, HERMES_ESTATE);
    assert_hermes_ok(rc_stop);
    assert_true(ok_finished);
    assert_hermes_ok(r.rc);
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_STOPPED);
    assert_int_equal(count_events(HERMES_EVENT_RUNNING), 2);
    assert_int_equal(count_events(HERMES_EVENT_PAUSED), 1);
    assert_int_equal(count_events(HERMES_EVENT_STOPPED), 1);
    /* Frames stay contiguous: every module saw every frame in order. */
    for (int i = 3; i < rec.n && i < LOG_CAP; i++)
        assert_int_equal(rec.frame[i], rec.frame[i - 3] + 1);
    assert_hermes_rc(hermes_scheduler_run(s), HERMES_ESTATE);   /* stopped for good */
    finish(s, cfg, name);
}

/* Every published value equals its live slot and the publication's frame is
 * the scheduler's frame. */
static void assert_publication_current(hermes_scheduler_t *s, uint64_t frame)
{
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    assert_int_equal(hermes_scheduler_frame(s), frame);
    assert_int_equal(hermes_backplane_frame(bp), frame);
    for (uint32_t i = 0; i < hermes_backplane_count(bp); i++) {
        hermes_signal_info_t info;
        assert_hermes_ok(hermes_backplane_info(bp, i, &info));
        hermes_signal_t sig = info.id;
        double pub = NAN;
        assert_hermes_ok(hermes_backplane_read(bp, sig, &pub));
        assert_memory_equal(&pub, hermes_backplane_slot(bp, sig), sizeof pub);
    }
}

/* An afap run without hooks publishes at most once a millisecond while
 * running, but never leaves readers behind when it stops or pauses. */
static void test_scheduler_afap_publication_current_when_stopped(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg = chain_config(HERMES_MODE_AFAP, 1000, 0);  /* no end: stopped below */
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    assert_hermes_ok(hermes_scheduler_stage(s));
    double *frames_done = hermes_backplane_slot(hermes_scheduler_backplane(s), sig_of(s, "a.out"));
    struct runner r = {s, -99, false};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_thread, &r), 0);
    want_frame = 300;
    bool ok_running = wait_until(frame_reached, s, 5.0);
    int rc_pause = hermes_scheduler_pause(s);
    uint64_t paused_at = (uint64_t)*frames_done;  /* a.out counts the frames done (rec_step) */
    assert_true(ok_running);
    assert_hermes_ok(rc_pause);
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_PAUSED);
    assert_publication_current(s, paused_at);
    uint64_t target = 0;
    assert_hermes_ok(hermes_scheduler_step(s, 3, &target));
    want_frame = target;
    assert_true(wait_until(frame_reached, s, 5.0));
    usleep(5000);
    assert_publication_current(s, target);
    assert_hermes_ok(hermes_scheduler_resume(s));
    want_frame = target + 5000;
    bool ok_resumed = wait_until(frame_reached, s, 5.0);
    int rc_stop = hermes_scheduler_stop(s);
    bool ok_finished = wait_until(run_finished, &r, 5.0);
    pthread_join(th, NULL);
    assert_true(ok_resumed);
    assert_hermes_ok(rc_stop);
    assert_true(ok_finished);
    assert_hermes_ok(r.rc);
    assert_publication_current(s, (uint64_t)*frames_done);
    finish(s, cfg, name);
}

static void test_scheduler_end_time_stops(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg = chain_config(HERMES_MODE_AFAP, 100, 1.0);
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    clear_events();
    assert_hermes_ok(hermes_scheduler_set_listener(s, listener, NULL));
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_ok(hermes_scheduler_run(s));
    assert_int_equal(hermes_scheduler_frame(s), 100);
    assert_int_equal(hermes_backplane_time_ns(hermes_scheduler_backplane(s)), 1000000000u);
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_STOPPED);
    assert_int_equal(count_events(HERMES_EVENT_STOPPED), 1);
    finish(s, cfg, name);
}

static void test_scheduler_realtime_is_paced(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg = chain_config(HERMES_MODE_REALTIME, 200, 0.25);
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    assert_hermes_ok(hermes_scheduler_stage(s));
    double t0 = test_now();
    assert_hermes_ok(hermes_scheduler_run(s));
    double wall = test_now() - t0;
    assert_int_equal(hermes_scheduler_frame(s), 50);
    /* 50 frames at 200 Hz: the last deadline is 245 ms after the first. */
    assert_true(wall >= 0.24);
    assert_true(wall < 10.0);
    hermes_timing_t t;
    assert_hermes_ok(hermes_scheduler_timing(s, &t));
    assert_true(t.rtf > 0);   /* pacing bounds rtf from above; load may lower it */
    assert_true(value(s, "hermes.frame_time") > 0);
    finish(s, cfg, name);
}

static void test_scheduler_single_frame_only_steps(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg = chain_config(HERMES_MODE_SINGLE_FRAME, 100, 0);
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    assert_hermes_ok(hermes_scheduler_stage(s));
    struct runner r = {s, -99, false};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_thread, &r), 0);
    usleep(20000);
    uint64_t f0 = hermes_scheduler_frame(s);
    int rc_resume = hermes_scheduler_resume(s);
    uint64_t target = 0;
    int rc_step = hermes_scheduler_step(s, 3, &target);
    want_frame = 3;
    bool stepped = wait_until(frame_reached, s, 5.0);
    hermes_scheduler_stop(s);
    bool done = wait_until(run_finished, &r, 5.0);
    pthread_join(th, NULL);
    assert_int_equal(f0, 0);
    assert_hermes_rc(rc_resume, HERMES_ESTATE);
    assert_hermes_ok(rc_step);
    assert_int_equal(target, 3);
    assert_true(stepped);
    assert_true(done);
    assert_int_equal(hermes_scheduler_frame(s), 3);
    finish(s, cfg, name);
}

static void test_scheduler_module_failure_stops_run(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg = chain_config(HERMES_MODE_AFAP, 100, 0);
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    rec.fail_module = 1;
    rec.fail_frame = 5;
    clear_events();
    assert_hermes_ok(hermes_scheduler_set_listener(s, listener, NULL));
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_rc(hermes_scheduler_run(s), HERMES_EMODULE);
    assert_contains(hermes_last_error(), "module 'b'");
    assert_contains(hermes_scheduler_error(s), "frame 5");
    assert_contains(hermes_scheduler_error(s), "boom: sensor offline");
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_ERROR);
    assert_int_equal(count_events(HERMES_EVENT_ERROR), 1);
    assert_contains(evs.detail, "module 'b'");
    /* c never ran frame 5. */
    assert_int_equal(rec.module[rec.n - 1], 1);
    assert_int_equal(hermes_scheduler_frame(s), 5);
    assert_hermes_rc(hermes_scheduler_resume(s), HERMES_ESTATE);
    finish(s, cfg, name);
}

static void test_scheduler_health_signals(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg = chain_config(HERMES_MODE_AFAP, 1000, 2.0);
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_ok(hermes_scheduler_run(s));
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    const char *names[] = {"hermes.frame_time", "hermes.rtf", "hermes.overruns", "hermes.lateness",
                           "hermes.wall_time", "hermes.step_time.a", "hermes.step_time.b", "hermes.step_time.c",
                           "hermes.step_time.inj"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        hermes_signal_t sig;
        assert_hermes_ok(hermes_backplane_find(bp, names[i], &sig));
        hermes_signal_info_t info;
        assert_hermes_ok(hermes_backplane_info(bp, sig.index, &info));
        assert_false(info.writable);
    }
    assert_true(value(s, "hermes.rtf") > 1.0);   /* afap runs faster than real time */
    assert_true(value(s, "hermes.frame_time") > 0);
    assert_true(value(s, "hermes.step_time.a") > 0);
    finish(s, cfg, name);
}

static void test_scheduler_rejects_invalid_config(void **state)
{
    (void)state;
    hermes_config_t *cfg = chain_config(HERMES_MODE_AFAP, 100, 0);
    assert_hermes_ok(hermes_config_add_wire(cfg, "a.out", "inj.fixed", 1, 0));  /* not writable */
    hermes_scheduler_t *s = NULL;
    assert_hermes_rc(hermes_scheduler_create(&s, cfg, NULL), HERMES_ECONFIG);
    assert_null(s);
    assert_contains(hermes_last_error(), "inj.fixed");
    hermes_config_destroy(cfg);
}

static void test_scheduler_inproc_library_checks(void **state)
{
    (void)state;
    struct { const char *lib; int rc; const char *msg; } cases[] = {
        {HERMES_TEST_BUILDDIR "/libtest_badabi.so", HERMES_EABI, "ABI version 999"},
        {HERMES_TEST_BUILDDIR "/libtest_noentry.so", HERMES_EMODULE, "hermes_inproc_entry"},
        {HERMES_TEST_BUILDDIR "/libtest_initfail.so", HERMES_EMODULE, "calibration table missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        hermes_config_t *cfg = NULL;
        assert_hermes_ok(hermes_config_create(&cfg));
        assert_hermes_ok(hermes_config_add_module(cfg, "ext", HERMES_MODULE_INPROC, cases[i].lib));
        hermes_scheduler_t *s = NULL;
        char name[96];
        hermes_scheduler_options_t opt;
        hermes_scheduler_options_init(&opt);
        opt.run_name = test_run_name(name, sizeof name, "lib");
        assert_hermes_rc(hermes_scheduler_create(&s, cfg, &opt), cases[i].rc);
        assert_contains(hermes_last_error(), cases[i].msg);
        assert_contains(hermes_last_error(), "module 'ext'");
        assert_null(s);
        assert_false(shm_exists(name));
        hermes_config_destroy(cfg);
    }
}

static struct {
    hermes_scheduler_t *s;
    int pause_rc, stop_rc;
} reentrant;

static void reentrant_listener(void *ctx, hermes_event_t ev, uint64_t frame, const char *detail)
{
    (void)ctx;
    (void)frame;
    (void)detail;
    if (ev == HERMES_EVENT_RUNNING) {
        reentrant.pause_rc = hermes_scheduler_pause(reentrant.s);   /* would wait for itself */
        reentrant.stop_rc = hermes_scheduler_stop(reentrant.s);
    }
}

static void test_scheduler_listener_cannot_deadlock(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg = chain_config(HERMES_MODE_AFAP, 100, 0);   /* no end time */
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    reentrant.s = s;
    reentrant.pause_rc = reentrant.stop_rc = 1;
    assert_hermes_ok(hermes_scheduler_set_listener(s, reentrant_listener, NULL));
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_ok(hermes_scheduler_run(s));   /* returns: the listener's stop applied */
    assert_int_equal(reentrant.pause_rc, HERMES_ESTATE);
    assert_int_equal(reentrant.stop_rc, 0);
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_STOPPED);
    assert_true(hermes_scheduler_frame(s) <= 1);
    finish(s, cfg, name);
}

/* ---- realtime lateness ------------------------------------------------------- */

/* One inproc module that records, at each step, the wall clock and the
 * hermes.lateness of the frame being computed; optionally sleeps. */
#define LAT_CAP 512
static struct {
    const double *lateness;    /* live slot of hermes.lateness */
    double  t[LAT_CAP], lat[LAT_CAP];
    int     n;
    uint64_t sleep_below;      /* frames < this sleep sleep_us */
    unsigned sleep_us;
} lrec;

static int lat_init(void **state, const hermes_inproc_env_t *env)
{
    (void)env;
    *state = NULL;
    return 0;
}

static int lat_step(void *state, uint64_t frame, double dt)
{
    (void)state;
    (void)dt;
    if (lrec.n < LAT_CAP) {
        lrec.t[lrec.n] = test_now();
        lrec.lat[lrec.n] = *lrec.lateness;
        lrec.n++;
    }
    if (frame < lrec.sleep_below)
        usleep(lrec.sleep_us);
    return 0;
}

static const hermes_inproc_module_t lat_table = {HERMES_INPROC_ABI_VERSION, 0, lat_init, NULL, lat_step, NULL,
                                                 NULL, NULL, NULL, NULL};

static hermes_scheduler_t *lat_sched(hermes_config_t **cfgp, char *name, size_t cap, double rate, double end,
                                     uint32_t spin_us)
{
    memset(&lrec, 0, sizeof lrec);
    hermes_config_t *cfg = NULL;
    assert_hermes_ok(hermes_config_create(&cfg));
    assert_hermes_ok(hermes_config_add_module(cfg, "probe", HERMES_MODULE_INPROC, NULL));
    assert_hermes_ok(hermes_config_set_module_callbacks(cfg, "probe", &lat_table));
    hermes_execution_t ex = {HERMES_MODE_REALTIME, rate, end, true, HERMES_DEFAULT_STEP_TIMEOUT};
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    assert_hermes_ok(hermes_config_set_spin_us(cfg, spin_us));
    hermes_scheduler_t *s = make_sched(cfg, name, cap);
    lrec.lateness = hermes_backplane_slot(hermes_scheduler_backplane(s), sig_of(s, "hermes.lateness"));
    *cfgp = cfg;
    return s;
}

static void test_scheduler_lateness_reports_late_frames(void **state)
{
    (void)state;
    char name[96];
    hermes_config_t *cfg;
    hermes_scheduler_t *s = lat_sched(&cfg, name, sizeof name, 100.0, 0.3, 0);
    lrec.sleep_below = 10;
    lrec.sleep_us = 15000;     /* 15 ms steps in a 10 ms period */
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_ok(hermes_scheduler_run(s));
    assert_int_equal(lrec.n, 30);
    hermes_timing_t t;
    assert_hermes_ok(hermes_scheduler_timing(s, &t));
    assert_true(t.overruns >= 9);     /* frames 0..9 each outlast their period */
    double worst = 0;
    for (int i = 1; i <= 10; i++)
        worst = lrec.lat[i] > worst ? lrec.lat[i] : worst;
    assert_true(worst >= 0.004);      /* each slow frame starts >= 5 ms late */
    assert_true(value(s, "hermes.lateness_max") >= 0.004);  /* within the last second */
    hermes_lateness_t l;
    assert_hermes_ok(hermes_scheduler_lateness(s, &l));
    assert_int_equal(l.frames, 30);
    assert_true(l.max >= worst && l.max < 1.0);
    assert_true(l.p99 >= 0.004);
    assert_true(l.median > 0 && l.median <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max);
    finish(s, cfg, name);
}

/* An on-time run: every frame but the first (which defines the epoch)
 * starts after a timed wait or late, so its lateness is > 0; and lateness
 * must match the wake-ups: step time - lateness of consecutive frames is
 * one period apart (the deadline grid; a frame more than a period late
 * restarts it, hence "most"). */
static void check_on_time(uint32_t spin_us)
{
    char name[96];
    hermes_config_t *cfg;
    const double rate = 200.0, period = 1.0 / rate;
    hermes_scheduler_t *s = lat_sched(&cfg, name, sizeof name, rate, 0.5, spin_us);
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_ok(hermes_scheduler_run(s));
    assert_int_equal(lrec.n, 100);
    assert_true(lrec.lat[0] == 0.0);
    int on_grid = 0;
    for (int i = 1; i < lrec.n; i++) {
        /* A spin ends within a clock read of the deadline: 0 ns is possible there. */
        if (!((spin_us ? lrec.lat[i] >= 0.0 : lrec.lat[i] > 0.0) && lrec.lat[i] < 1.0))
            fail_msg("frame %d: lateness %.9f s", i, lrec.lat[i]);
        double d = (lrec.t[i] - lrec.lat[i]) - (lrec.t[i - 1] - lrec.lat[i - 1]) - period;
        on_grid += fabs(d) < 0.5e-3;
    }
    if (on_grid < 80)
        fail_msg("only %d of 99 frames start one period after the previous deadline + lateness (+-0.5 ms)",
                 on_grid);
    hermes_lateness_t l;
    assert_hermes_ok(hermes_scheduler_lateness(s, &l));
    assert_int_equal(l.frames, 100);
    assert_true((spin_us || l.median > 0) && l.median <= l.max);
    finish(s, cfg, name);
}

static void test_scheduler_lateness_on_time_is_measured(void **state)
{
    (void)state;
    check_on_time(0);
    check_on_time(300);   /* the spin before the deadline measures the same way */
}

/* ---- the demo: two afap runs give bit-identical traces -------------------- */

static uint64_t demo_trace(double *final_altitude)
{
    hermes_config_t *cfg = test_load_demo(HERMES_MODE_AFAP);
    char name[96];
    hermes_scheduler_t *s = make_sched(cfg, name, sizeof name);
    assert_hermes_ok(hermes_scheduler_stage(s));
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    /* Every signal except the wall-clock health of module "hermes". */
    uint32_t n = 0, idx[256];
    for (uint32_t i = 0; i < hermes_backplane_count(bp) && n < 256; i++) {
        hermes_signal_info_t info;
        assert_hermes_ok(hermes_backplane_info(bp, i, &info));
        if (strcmp(info.module, "hermes") != 0)
            idx[n++] = i;
    }
    double vals[256];
    uint64_t h = 1469598103934665603ull;
    for (int f = 0; f < 12000; f++) {   /* 120 s of flight at 100 Hz */
        assert_hermes_ok(hermes_scheduler_step(s, 1, NULL));
        uint64_t frame, t;
        assert_hermes_ok(hermes_backplane_snapshot(bp, idx, n, vals, &frame, &t));
        const unsigned char *p = (const unsigned char *)vals;
        for (size_t k = 0; k < n * sizeof(double); k++)
            h = (h ^ p[k]) * 1099511628211ull;
        h = (h ^ frame ^ (t << 1)) * 1099511628211ull;
    }
    *final_altitude = value(s, "vehicle.position.altitude");
    finish(s, cfg, name);
    return h;
}

static void test_scheduler_demo_is_deterministic(void **state)
{
    (void)state;
    double alt1 = 0, alt2 = 0;
    uint64_t h1 = demo_trace(&alt1);
    uint64_t h2 = demo_trace(&alt2);
    assert_true(h1 == h2);
    assert_true(alt1 == alt2);
    assert_true(alt1 > 10000.0);   /* the vehicle actually flew */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scheduler_frame_order_and_wires),
        cmocka_unit_test(test_scheduler_time_is_multiplied_not_accumulated),
        cmocka_unit_test(test_scheduler_set_rules),
        cmocka_unit_test(test_scheduler_reset_restores_initial_and_pauses),
        cmocka_unit_test(test_scheduler_controls_from_another_thread),
        cmocka_unit_test(test_scheduler_end_time_stops),
        cmocka_unit_test(test_scheduler_afap_publication_current_when_stopped),
        cmocka_unit_test(test_scheduler_realtime_is_paced),
        cmocka_unit_test(test_scheduler_single_frame_only_steps),
        cmocka_unit_test(test_scheduler_module_failure_stops_run),
        cmocka_unit_test(test_scheduler_health_signals),
        cmocka_unit_test(test_scheduler_rejects_invalid_config),
        cmocka_unit_test(test_scheduler_inproc_library_checks),
        cmocka_unit_test(test_scheduler_listener_cannot_deadlock),
        cmocka_unit_test(test_scheduler_demo_is_deterministic),
        cmocka_unit_test(test_scheduler_lateness_reports_late_frames),
        cmocka_unit_test(test_scheduler_lateness_on_time_is_measured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
