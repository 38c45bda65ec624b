/* Schedule groups: members stepping concurrently within a frame.
 * Grouped and sequential schedules give bit-identical traces (process,
 * inproc, mixed, the demo's modules); a crash inside a group names the
 * module and frame and leaves no process behind; check_groups catches a
 * member writing another member's signal; a worker thread's control calls
 * get HERMES_ESTATE; group timing is published; the config builder refuses
 * split groups. Inproc members share min(members, CPUs) threads (checked
 * with the test thread's CPU affinity cut to one CPU and left whole): each
 * lane's members step together, in member order, on the lane's worker or
 * on the scheduler thread, and a failure stops only the rest of its lane's
 * frame. Test modules: host callback tables below and
 * tests/modules/proc_module.c. */
#include "test_util.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>

#ifndef PROC_MODULE
#error "PROC_MODULE must be defined by meson"
#endif

/* ---- inproc test module: a damped oscillator that reads only its own signals ---- */

struct osc {
    double *in, *x, *v;
    double  k;
    int     idx;      /* the digit of its name: p0 -> 0 */
    char   *errbuf;
    size_t  errbuf_size;
};

/* What each oscillator's last step saw: the thread, a global ticket (order
 * of steps) and the frame. Fault injection: members in fail_mask fail at
 * fail_frame. */
#define NOSC 8
static _Atomic long step_tid[NOSC];
static _Atomic uint64_t step_ticket[NOSC], step_frame[NOSC];
static _Atomic uint64_t ticket;
static _Atomic unsigned fail_mask;
static _Atomic uint64_t fail_frame;

static double *poke_target;   /* check_groups test: 'p0' writes here when set */
static hermes_scheduler_t *ctl_sched;  /* control test: 'p2' calls pause/stop on it */
static _Atomic int ctl_pause_rc = 1, ctl_stop_rc = 1;

static int osc_init(void **state, const hermes_inproc_env_t *env)
{
    struct osc *o = calloc(1, sizeof *o);
    if (!o)
        return -1;
    o->in = hermes_inproc_slot(env, "in");
    o->x = hermes_inproc_slot(env, "x");
    o->v = hermes_inproc_slot(env, "v");
    o->idx = env->module_name[1] - '0';
    o->k = 1.0 + (double)o->idx;
    o->errbuf = env->errbuf;
    o->errbuf_size = env->errbuf_size;
    *state = o;
    return o->in && o->x && o->v ? 0 : -1;
}

static int osc_step(void *state, uint64_t frame, double dt)
{
    struct osc *o = state;
    if (o->idx >= 0 && o->idx < NOSC) {
        atomic_store(&step_tid[o->idx], (long)syscall(SYS_gettid));
        atomic_store(&step_ticket[o->idx], atomic_fetch_add(&ticket, 1) + 1);
        atomic_store(&step_frame[o->idx], frame);
    }
    if (frame == atomic_load(&fail_frame) && (atomic_load(&fail_mask) >> o->idx & 1u)) {
        snprintf(o->errbuf, o->errbuf_size, "fault injected");
        return -1;
    }
    *o->v += (*o->in - o->k * *o->x) * dt - 0.01 * *o->v;
    *o->x += *o->v * dt + 1e-3 * (double)(frame % 7);
    if (poke_target && o->k == 1.0)
        *poke_target += 1.0;
    if (ctl_sched && o->k == 3.0 && frame == 10) {
        atomic_store(&ctl_pause_rc, hermes_scheduler_pause(ctl_sched));
        atomic_store(&ctl_stop_rc, hermes_scheduler_stop(ctl_sched));
    }
    return 0;
}

static void osc_terminate(void *state) { free(state); }

static const hermes_inproc_module_t osc_table = {HERMES_INPROC_ABI_VERSION, 0, osc_init, NULL, osc_step, NULL,
                                                 osc_terminate, NULL, NULL, NULL};

/* ---- helpers ---------------------------------------------------------------------- */

static void sig(hermes_config_t *cfg, const char *mod, const char *name, bool writable, double initial)
{
    assert_hermes_ok(hermes_config_add_signal(cfg, mod, name, HERMES_TYPE_F64, NULL, writable, initial));
}

static void add_osc(hermes_config_t *cfg, const char *name, double x0)
{
    assert_hermes_ok(hermes_config_add_module(cfg, name, HERMES_MODULE_INPROC, NULL));
    assert_hermes_ok(hermes_config_set_module_callbacks(cfg, name, &osc_table));
    sig(cfg, name, "in", true, 0.0);
    sig(cfg, name, "x", false, x0);
    sig(cfg, name, "v", false, 0.0);
}

/* proc_module MODE [N]: echo computes out = in * 2 + frame. */
static void add_proc(hermes_config_t *cfg, const char *name, const char *mode, const char *n)
{
    assert_hermes_ok(hermes_config_add_module(cfg, name, HERMES_MODULE_PROCESS, PROC_MODULE));
    const char *args[] = {mode, n};
    assert_hermes_ok(hermes_config_set_module_args(cfg, name, args, n ? 2u : 1u));
    sig(cfg, name, "pid", false, 0.0);
    sig(cfg, name, "in", true, 0.0);
    static const char *const outs[] = {"out", "stages", "resets", "steps", "last_frame", "last_dt"};
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++)
        sig(cfg, name, outs[i], false, -1.0);
}

static hermes_config_t *new_cfg(hermes_mode_t mode, double rate)
{
    hermes_config_t *cfg = NULL;
    assert_hermes_ok(hermes_config_create(&cfg));
    hermes_execution_t ex = {mode, rate, 0.0, false, 5.0};
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    return cfg;
}

static hermes_scheduler_t *create(hermes_config_t *cfg, char *run, size_t cap)
{
    return test_scheduler_create(cfg, run, cap, "groups");
}

static double get(hermes_scheduler_t *s, const char *qname) { return test_published(s, qname); }

static bool pid_gone(pid_t pid) { return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH; }

/* Trace of every non-timing signal (pids excluded: they differ per run),
 * one row per frame, for @p frames frames stepped one at a time. */
struct trace {
    double  *v;
    uint32_t cols;
    uint32_t rows;
};

static struct trace record(hermes_config_t *cfg, uint32_t frames)
{
    char run[96];
    hermes_scheduler_t *s = create(cfg, run, sizeof run);
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    uint32_t n = hermes_backplane_count(bp), cols = 0;
    uint32_t *idx = calloc(n, sizeof *idx);
    assert_non_null(idx);
    for (uint32_t i = 0; i < n; i++) {
        hermes_signal_info_t si;
        assert_hermes_ok(hermes_backplane_info(bp, i, &si));
        size_t len = strlen(si.name);
        if (strcmp(si.module, HERMES_HEALTH_MODULE) != 0 && !(len > 4 && strcmp(si.name + len - 4, ".pid") == 0))
            idx[cols++] = i;
    }
    struct trace t = {calloc((size_t)frames * cols, sizeof(double)), cols, frames};
    assert_non_null(t.v);
    assert_hermes_ok(hermes_scheduler_stage(s));
    for (uint32_t f = 0; f < frames; f++) {
        assert_hermes_ok(hermes_scheduler_step(s, 1, NULL));
        assert_hermes_ok(hermes_backplane_snapshot(bp, idx, cols, t.v + (size_t)f * cols, NULL, NULL));
    }
    free(idx);
    hermes_scheduler_destroy(s);
    assert_false(shm_exists(run));
    return t;
}

static void assert_same_trace(struct trace a, struct trace b)
{
    assert_int_equal(a.cols, b.cols);
    assert_int_equal(a.rows, b.rows);
    for (uint32_t f = 0; f < a.rows; f++)
        if (memcmp(a.v + (size_t)f * a.cols, b.v + (size_t)f * b.cols, a.cols * sizeof(double)) != 0)
            fail_msg("traces differ at frame %u", f);
    /* The trace must move, or the comparison proves nothing. */
    assert_true(memcmp(a.v, a.v + (size_t)(a.rows - 1) * a.cols, a.cols * sizeof(double)) != 0);
    free(a.v);
    free(b.v);
}

/* Build the same simulation twice, sequential then grouped, and compare. */
typedef void (*build_fn)(hermes_config_t *cfg);

static void compare(build_fn build, const char *const *order, const uint32_t *groups, uint32_t n, uint32_t frames)
{
    hermes_config_t *seq = new_cfg(HERMES_MODE_SINGLE_FRAME, 100.0);
    build(seq);
    assert_hermes_ok(hermes_config_set_schedule(seq, order, n));
    hermes_config_t *grp = new_cfg(HERMES_MODE_SINGLE_FRAME, 100.0);
    build(grp);
    assert_hermes_ok(hermes_config_set_schedule_groups(grp, order, groups, n));
    struct trace a = record(seq, frames), b = record(grp, frames);
    assert_same_trace(a, b);
    hermes_config_destroy(seq);
    hermes_config_destroy(grp);
}

/* ---- determinism ------------------------------------------------------------------ */

/* Oscillators p0..p3 wired in a chain p0 -> p1 -> p2 -> p3. */
static void add_oscs(hermes_config_t *cfg)
{
    add_osc(cfg, "p0", 1.0);
    add_osc(cfg, "p1", -0.5);
    add_osc(cfg, "p2", 0.25);
    add_osc(cfg, "p3", 2.0);
    assert_hermes_ok(hermes_config_add_wire(cfg, "p0.x", "p1.in", 1.0, 0.0));
    assert_hermes_ok(hermes_config_add_wire(cfg, "p1.x", "p2.in", 0.5, 0.1));
    assert_hermes_ok(hermes_config_add_wire(cfg, "p2.x", "p3.in", 1.0, 0.0));
}

static void build_inproc(hermes_config_t *cfg)
{
    add_oscs(cfg);
    assert_hermes_ok(hermes_config_add_wire(cfg, "p3.x", "p0.in", -1.0, 0.0));
}

static void test_groups_inproc_trace_matches_sequential(void **state)
{
    (void)state;
    const char *order[] = {"p0", "p1", "p2", "p3"};
    const uint32_t all[] = {0, 0, 0, 0}, split[] = {0, 1, 1, 2};
    compare(build_inproc, order, all, 4, 500);
    compare(build_inproc, order, split, 4, 500);
}

/* Echo processes a, b, c wired in a chain a -> b -> c. */
static void add_procs(hermes_config_t *cfg)
{
    add_proc(cfg, "a", "echo", NULL);
    add_proc(cfg, "b", "echo", NULL);
    add_proc(cfg, "c", "echo", NULL);
    assert_hermes_ok(hermes_config_add_wire(cfg, "a.out", "b.in", 0.5, 0.0));
    assert_hermes_ok(hermes_config_add_wire(cfg, "b.out", "c.in", 0.25, 1.0));
}

static void build_process(hermes_config_t *cfg)
{
    add_procs(cfg);
    assert_hermes_ok(hermes_config_add_wire(cfg, "c.out", "a.in", 0.125, -1.0));
}

static void test_groups_process_trace_matches_sequential(void **state)
{
    (void)state;
    const char *order[] = {"a", "b", "c"};
    const uint32_t groups[] = {4, 4, 4};
    compare(build_process, order, groups, 3, 300);
}

/* One loop through both kinds: a -> b -> c -> p0 -> ... -> p3 -> a. */
static void build_mixed(hermes_config_t *cfg)
{
    add_procs(cfg);
    add_oscs(cfg);
    assert_hermes_ok(hermes_config_add_wire(cfg, "c.out", "p0.in", 1e-3, 0.0));
    assert_hermes_ok(hermes_config_add_wire(cfg, "p3.x", "a.in", 1.0, 0.0));
}

static void test_groups_mixed_trace_matches_sequential(void **state)
{
    (void)state;
    /* One group of two processes and three inproc modules (two workers),
     * then a process and an inproc module grouped. */
    const char *order[] = {"a", "p0", "b", "p1", "p2", "c", "p3"};
    const uint32_t groups[] = {0, 0, 0, 0, 0, 1, 1};
    compare(build_mixed, order, groups, 7, 300);
}

/* The demo (examples/launch): guidance (inproc) and vehicle (process) only
 * talk through wires, so they may step together. */
static hermes_config_t *load_demo(void) { return test_load_demo(HERMES_MODE_SINGLE_FRAME); }

/* The demo with the vehicle as its inproc library (libvehicle.so, the same
 * model), as the demo's README suggests: swap the type and executable lines. */
static hermes_config_t *load_demo_inproc(void)
{
    FILE *f = fopen(TEST_DEMO_DIR "/launch.yaml", "r");
    assert_non_null(f);
    char file[8192], text[8300];
    size_t n = fread(file, 1, sizeof file - 1, f);
    fclose(f);
    file[n] = '\0';
    const char *from = "type: process\n    executable: ./vehicle_proc";
    char *p = strstr(file, from);
    assert_non_null(p);
    snprintf(text, sizeof text, "%.*stype: inproc\n    library: ./libvehicle.so%s", (int)(p - file), file,
             p + strlen(from));
    hermes_config_t *cfg = test_load_demo_text(HERMES_MODE_SINGLE_FRAME, text);
    hermes_module_info_t mi;
    assert_hermes_ok(hermes_config_module(cfg, 2, &mi));
    assert_int_equal(mi.type, HERMES_MODULE_INPROC);
    return cfg;
}

static void demo_compare(hermes_config_t *(*load)(void))
{
    const char *order[] = {"commands", "guidance", "vehicle"};
    const uint32_t groups[] = {0, 1, 1};
    hermes_config_t *seq = load(), *grp = load();
    assert_hermes_ok(hermes_config_set_schedule_groups(grp, order, groups, 3));
    uint32_t g = 0;
    assert_hermes_ok(hermes_config_schedule_group(grp, 2, &g));
    assert_int_equal(g, 1);
    struct trace a = record(seq, 12000), b = record(grp, 12000);  /* 120 s of flight */
    assert_same_trace(a, b);
    hermes_config_destroy(seq);
    hermes_config_destroy(grp);
}

static void test_groups_demo_trace_matches_sequential(void **state)
{
    (void)state;
    demo_compare(load_demo);          /* guidance inproc, vehicle process: a mixed group */
    demo_compare(load_demo_inproc);   /* both inproc: the vehicle on a worker thread */
}


/* ---- lanes: inproc members share min(members, CPUs) threads ------------------------------ */

static cpu_set_t saved_cpus;

/* Cut the calling thread's affinity to its first @p n CPUs (0: restore).
 * Returns the CPU count it may now use. */
static int use_cpus(int n)
{
    if (n == 0) {
        assert_int_equal(sched_setaffinity(0, sizeof saved_cpus, &saved_cpus), 0);
        return CPU_COUNT(&saved_cpus);
    }
    assert_int_equal(sched_getaffinity(0, sizeof saved_cpus, &saved_cpus), 0);
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = 0, k = 0; c < CPU_SETSIZE && k < n; c++)
        if (CPU_ISSET(c, &saved_cpus)) {
            CPU_SET(c, &set);
            k++;
        }
    assert_int_equal(sched_setaffinity(0, sizeof set, &set), 0);
    return CPU_COUNT(&set);
}

/* Five oscillators p0..p4 in a loop. */
static void build_inproc5(hermes_config_t *cfg)
{
    add_oscs(cfg);
    add_osc(cfg, "p4", -1.5);
    assert_hermes_ok(hermes_config_add_wire(cfg, "p3.x", "p4.in", 1.0, 0.0));
    assert_hermes_ok(hermes_config_add_wire(cfg, "p4.x", "p0.in", -1.0, 0.0));
}

static const char *const order5[] = {"p0", "p1", "p2", "p3", "p4"};
static const uint32_t together5[] = {0, 0, 0, 0, 0};

static hermes_scheduler_t *create5(hermes_config_t **cfg, char *run, size_t cap)
{
    *cfg = new_cfg(HERMES_MODE_SINGLE_FRAME, 100.0);
    build_inproc5(*cfg);
    assert_hermes_ok(hermes_config_set_schedule_groups(*cfg, order5, together5, 5));
    hermes_scheduler_t *s = create(*cfg, run, cap);
    assert_hermes_ok(hermes_scheduler_stage(s));
    return s;
}

static void lanes_with(int want_cpus)
{
    int cpus = use_cpus(want_cpus);
    uint32_t lanes = cpus < 5 ? (uint32_t)cpus : 5;
    /* Bit-identical to the sequential schedule whatever the mapping. */
    compare(build_inproc5, order5, together5, 5, 400);
    hermes_config_t *cfg;
    char run[96];
    hermes_scheduler_t *s = create5(&cfg, run, sizeof run);
    long self = (long)syscall(SYS_gettid), worker_tid[5] = {0};
    for (uint32_t f = 1; f <= 200; f++) {
        assert_hermes_ok(hermes_scheduler_step(s, 1, NULL));
        for (uint32_t j = 0; j < 5; j++) {
            uint32_t l = j % lanes;
            long tid = atomic_load(&step_tid[j]);
            assert_int_equal(atomic_load(&step_frame[j]), f - 1);   /* frame f steps from f - 1 */
            /* A lane steps together, in member order, on one thread. */
            if (j >= lanes) {
                assert_true(tid == atomic_load(&step_tid[j - lanes]));
                assert_true(atomic_load(&step_ticket[j]) > atomic_load(&step_ticket[j - lanes]));
            }
            /* The last lane is the caller's; another runs on its own worker
             * (always the same thread: none is created per frame) unless
             * the caller claimed it first. */
            if (l == lanes - 1 || tid == self) {
                assert_true(tid == self);
                continue;
            }
            if (!worker_tid[l])
                worker_tid[l] = tid;
            if (tid != worker_tid[l])
                fail_msg("%u CPUs, frame %u: p%u stepped on thread %ld, its lane's worker is %ld", (unsigned)cpus, f,
                         j, tid, worker_tid[l]);
        }
        for (uint32_t a = 0; a < lanes; a++)
            for (uint32_t b = a + 1; b < lanes; b++)
                assert_true(!worker_tid[a] || worker_tid[a] != worker_tid[b]);
    }
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
    assert_false(shm_exists(run));
    use_cpus(0);
}

static void test_groups_inproc_lanes_follow_cpus(void **state)
{
    (void)state;
    lanes_with(1);     /* one CPU: the whole group on the scheduler thread */
    lanes_with(2);
    lanes_with(CPU_SETSIZE);   /* every CPU this machine gives */
}

/* p2 and p3 fail at frame 10. The run reports p2 (first in member order)
 * on any number of lanes; a member after a failure in its lane does not
 * step that frame, every other member does. */
static void shared_lane_failure_with(int want_cpus)
{
    int cpus = use_cpus(want_cpus);
    uint32_t lanes = cpus < 5 ? (uint32_t)cpus : 5;
    hermes_config_t *cfg;
    char run[96];
    hermes_scheduler_t *s = create5(&cfg, run, sizeof run);
    atomic_store(&fail_frame, 10);
    atomic_store(&fail_mask, 1u << 2 | 1u << 3);
    int rc = hermes_scheduler_step(s, 30, NULL);
    atomic_store(&fail_mask, 0);
    assert_int_equal(rc, HERMES_EMODULE);
    assert_contains(hermes_scheduler_error(s), "module 'p2' step failed at frame 10: fault injected");
    assert_int_equal(hermes_scheduler_frame(s), 10);
    for (uint32_t j = 0; j < 5; j++) {
        bool after_failure = false;
        for (uint32_t i = j % lanes; i < j; i += lanes)
            after_failure |= i == 2 || i == 3;
        uint64_t want = after_failure ? 9 : 10;
        if (atomic_load(&step_frame[j]) != want)
            fail_msg("%u lanes: p%u last stepped frame %llu, expected %llu", lanes, j,
                     (unsigned long long)atomic_load(&step_frame[j]), (unsigned long long)want);
    }
    double t0 = test_now();
    hermes_scheduler_destroy(s);
    assert_true(test_now() - t0 < 3.0);
    assert_false(shm_exists(run));
    hermes_config_destroy(cfg);
    use_cpus(0);
}

static void test_groups_failure_in_a_shared_lane(void **state)
{
    (void)state;
    shared_lane_failure_with(1);
    shared_lane_failure_with(2);
    shared_lane_failure_with(CPU_SETSIZE);
}

/* ---- failures ----------------------------------------------------------------------- */

static void test_groups_crash_names_module_and_leaves_no_orphan(void **state)
{
    (void)state;
    hermes_config_t *cfg = new_cfg(HERMES_MODE_SINGLE_FRAME, 100.0);
    add_proc(cfg, "a", "echo", NULL);
    add_proc(cfg, "crasher", "crash", "5");
    add_proc(cfg, "c", "echo", NULL);
    build_inproc(cfg);
    const char *order[] = {"p0", "a", "crasher", "p1", "c", "p2", "p3"};
    const uint32_t groups[] = {0, 1, 1, 1, 1, 1, 2};
    assert_hermes_ok(hermes_config_set_schedule_groups(cfg, order, groups, 7));
    char run[96];
    hermes_scheduler_t *s = create(cfg, run, sizeof run);
    assert_hermes_ok(hermes_scheduler_stage(s));
    pid_t pids[3] = {(pid_t)get(s, "a.pid"), (pid_t)get(s, "crasher.pid"), (pid_t)get(s, "c.pid")};
    assert_hermes_rc(hermes_scheduler_step(s, 20, NULL), HERMES_EMODULE);
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_ERROR);
    assert_contains(hermes_scheduler_error(s), "module 'crasher' step failed at frame 5");
    assert_contains(hermes_scheduler_error(s), "SIGKILL");
    assert_int_equal(hermes_scheduler_frame(s), 5);
    /* The other members answered frame 5 before the run failed (live value;
     * the failed frame is never published). */
    hermes_signal_t lf;
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    double last = NAN;
    assert_hermes_ok(hermes_backplane_find(bp, "c.last_frame", &lf));
    assert_hermes_ok(hermes_backplane_read(bp, lf, &last));
    assert_true(last == 5.0);
    assert_true(get(s, "c.last_frame") == 4.0);
    double t0 = test_now();
    hermes_scheduler_destroy(s);
    assert_true(test_now() - t0 < 3.0);
    for (int i = 0; i < 3; i++)
        if (!pid_gone(pids[i]))
            fail_msg("module process %d still exists after destroy", (int)pids[i]);
    assert_false(shm_exists(run));
    hermes_config_destroy(cfg);
}

static void test_groups_inproc_failure_in_worker_is_reported(void **state)
{
    (void)state;
    hermes_config_t *cfg = new_cfg(HERMES_MODE_SINGLE_FRAME, 100.0);
    build_inproc(cfg);
    assert_hermes_ok(hermes_config_add_module(cfg, "bad", HERMES_MODULE_INPROC,
                                              HERMES_TEST_BUILDDIR "/libtest_stepfail.so"));
    const char *order[] = {"p0", "p1", "bad", "p2", "p3"};
    const uint32_t groups[] = {0, 0, 0, 0, 0};
    assert_hermes_ok(hermes_config_set_schedule_groups(cfg, order, groups, 5));
    char run[96];
    hermes_scheduler_t *s = create(cfg, run, sizeof run);
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_rc(hermes_scheduler_step(s, 50, NULL), HERMES_EMODULE);
    assert_contains(hermes_scheduler_error(s), "module 'bad' step failed at frame 10: actuator saturated");
    assert_int_equal(hermes_scheduler_frame(s), 10);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

static void test_groups_check_mode_catches_a_write_to_a_member(void **state)
{
    (void)state;
    hermes_config_t *cfg = new_cfg(HERMES_MODE_SINGLE_FRAME, 100.0);
    build_inproc(cfg);
    const char *order[] = {"p0", "p1", "p2", "p3"};
    const uint32_t groups[] = {0, 0, 1, 1};
    assert_hermes_ok(hermes_config_set_schedule_groups(cfg, order, groups, 4));
    assert_hermes_ok(hermes_config_set_check_groups(cfg, true));
    assert_true(hermes_config_check_groups(cfg));
    char run[96];
    hermes_scheduler_t *s = create(cfg, run, sizeof run);
    assert_hermes_ok(hermes_scheduler_stage(s));
    /* Members that keep to their own signals pass the check... */
    assert_hermes_ok(hermes_scheduler_step(s, 20, NULL));
    /* ...p0 writing p1.v does not. */
    hermes_signal_t v1;
    assert_hermes_ok(hermes_backplane_find(hermes_scheduler_backplane(s), "p1.v", &v1));
    poke_target = hermes_backplane_slot(hermes_scheduler_backplane(s), v1);
    int rc = hermes_scheduler_step(s, 5, NULL);
    poke_target = NULL;
    assert_int_equal(rc, HERMES_EMODULE);
    assert_contains(hermes_scheduler_error(s), "module 'p0' step failed at frame 20: execution.check_groups: "
                                               "changed 'p1.v'");
    assert_contains(hermes_scheduler_error(s), "a signal of 'p1', which steps in the same group");
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

/* ---- threads, timing, config ------------------------------------------------------------ */

static void test_groups_worker_control_calls(void **state)
{
    (void)state;
    hermes_config_t *cfg = new_cfg(HERMES_MODE_AFAP, 1000.0);
    build_inproc(cfg);
    const char *order[] = {"p0", "p1", "p2", "p3"};
    const uint32_t groups[] = {0, 0, 0, 0};   /* p2 steps on a worker thread given 2 CPUs or more */
    assert_hermes_ok(hermes_config_set_schedule_groups(cfg, order, groups, 4));
    char run[96];
    hermes_scheduler_t *s = create(cfg, run, sizeof run);
    assert_hermes_ok(hermes_scheduler_stage(s));
    ctl_sched = s;
    int rc = hermes_scheduler_run(s);   /* returns: stop() from the worker is applied after frame 10 */
    ctl_sched = NULL;
    assert_hermes_ok(rc);
    assert_int_equal(atomic_load(&ctl_pause_rc), HERMES_ESTATE);
    assert_int_equal(atomic_load(&ctl_stop_rc), 0);
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_STOPPED);
    assert_int_equal(hermes_scheduler_frame(s), 11);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

static void test_groups_timing_per_group_and_member(void **state)
{
    (void)state;
    hermes_config_t *cfg = new_cfg(HERMES_MODE_SINGLE_FRAME, 100.0);
    build_mixed(cfg);
    const char *order[] = {"a", "p0", "b", "p1", "p2", "c", "p3"};
    const uint32_t groups[] = {0, 0, 1, 1, 1, 2, 3};
    assert_hermes_ok(hermes_config_set_schedule_groups(cfg, order, groups, 7));
    char run[96];
    hermes_scheduler_t *s = create(cfg, run, sizeof run);
    hermes_signal_t id;
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    assert_hermes_ok(hermes_backplane_find(bp, "hermes.group_time.0", &id));
    assert_hermes_ok(hermes_backplane_find(bp, "hermes.group_time.1", &id));
    assert_hermes_rc(hermes_backplane_find(bp, "hermes.group_time.2", &id), HERMES_ENOENT);  /* c, p3 run alone */
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_ok(hermes_scheduler_step(s, 3, NULL));
    double g0 = get(s, "hermes.group_time.0"), g1 = get(s, "hermes.group_time.1");
    assert_true(g0 > 0 && g0 < 5.0);
    assert_true(g1 > 0 && g1 < 5.0);
    /* A group takes at least as long as each of its members. */
    assert_true(g0 >= get(s, "hermes.step_time.a") && g0 >= get(s, "hermes.step_time.p0"));
    assert_true(g1 >= get(s, "hermes.step_time.p2") && get(s, "hermes.step_time.b") > 0);
    assert_true(get(s, "hermes.step_time.c") > 0);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

static void test_groups_config_builder(void **state)
{
    (void)state;
    hermes_config_t *cfg = new_cfg(HERMES_MODE_AFAP, 100.0);
    build_inproc(cfg);
    const char *order[] = {"p0", "p1", "p2", "p3"};
    const uint32_t split[] = {1, 2, 1, 3};
    assert_hermes_rc(hermes_config_set_schedule_groups(cfg, order, split, 4), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "members of a group must be adjacent");
    const uint32_t ok[] = {7, 3, 3, 9};
    assert_hermes_ok(hermes_config_set_schedule_groups(cfg, order, ok, 4));
    const uint32_t want[] = {0, 1, 1, 2};
    for (uint32_t k = 0; k < 4; k++) {
        uint32_t g = 99;
        assert_hermes_ok(hermes_config_schedule_group(cfg, k, &g));
        assert_int_equal(g, want[k]);
    }
    uint32_t g;
    assert_hermes_rc(hermes_config_schedule_group(cfg, 4, &g), HERMES_ENOENT);
    assert_hermes_rc(hermes_config_schedule_group(cfg, 0, NULL), HERMES_EINVAL);
    /* A module in two groups is scheduled twice. */
    const char *twice[] = {"p0", "p1", "p2", "p3", "p1"};
    const uint32_t tg[] = {0, 0, 1, 1, 2};
    assert_hermes_ok(hermes_config_set_schedule_groups(cfg, twice, tg, 5));
    hermes_error_t err;
    assert_hermes_rc(hermes_config_validate(cfg, &err), HERMES_ECONFIG);
    assert_contains(err.message, "scheduled twice");
    /* Plain schedules: one group per entry. */
    assert_hermes_ok(hermes_config_set_schedule(cfg, order, 4));
    assert_hermes_ok(hermes_config_schedule_group(cfg, 3, &g));
    assert_int_equal(g, 3);
    assert_hermes_rc(hermes_config_set_spin_us(cfg, HERMES_MAX_SPIN_US + 1), HERMES_EINVAL);
    assert_hermes_ok(hermes_config_set_spin_us(cfg, 50));
    assert_int_equal(hermes_config_spin_us(cfg), 50);
    hermes_config_destroy(cfg);
}

/* ---- YAML ------------------------------------------------------------------------------- */

#define MODS "modules:\n  a: {type: injection}\n  b: {type: injection}\n  c: {type: injection}\n" \
             "  d: {type: injection}\nexecution:\n"

static hermes_config_t *parse(const char *text, hermes_error_t *err, int *rc)
{
    hermes_config_t *cfg = NULL;
    *rc = hermes_config_parse(&cfg, text, strlen(text), "t.yaml", NULL, err);
    return cfg;
}

static void yaml_refused(const char *text, int line, const char *msg)
{
    hermes_error_t err;
    int rc;
    hermes_config_t *cfg = parse(text, &err, &rc);
    if (rc != HERMES_ECONFIG || cfg)
        fail_msg("accepted: %s", text);
    assert_contains(err.message, msg);
    if (err.line != line)
        fail_msg("'%s' at line %d, expected %d", err.message, err.line, line);
}

static void test_groups_yaml(void **state)
{
    (void)state;
    hermes_error_t err;
    int rc;
    hermes_config_t *cfg = parse(MODS "  schedule: [a, [b, c], d]\n  spin_us: 250\n  check_groups: yes\n", &err, &rc);
    if (rc)
        fail_msg("%s", err.message);
    const uint32_t want[] = {0, 1, 1, 2};
    for (uint32_t k = 0; k < 4; k++) {
        uint32_t g = 99, m = 99;
        assert_hermes_ok(hermes_config_schedule_group(cfg, k, &g));
        assert_hermes_ok(hermes_config_schedule_at(cfg, k, &m));
        assert_int_equal(g, want[k]);
        assert_int_equal(m, k);
    }
    assert_int_equal(hermes_config_spin_us(cfg), 250);
    assert_true(hermes_config_check_groups(cfg));
    hermes_config_destroy(cfg);
    /* Block style, a one-member group. */
    cfg = parse(MODS "  schedule:\n    - [d]\n    - - a\n      - b\n    - c\n", &err, &rc);
    if (rc)
        fail_msg("%s", err.message);
    uint32_t g;
    assert_hermes_ok(hermes_config_schedule_group(cfg, 2, &g));
    assert_int_equal(g, 1);
    assert_hermes_ok(hermes_config_schedule_group(cfg, 3, &g));
    assert_int_equal(g, 2);
    assert_int_equal(hermes_config_spin_us(cfg), 0);
    assert_false(hermes_config_check_groups(cfg));
    hermes_config_destroy(cfg);

    yaml_refused(MODS "  schedule: [[a, b],\n             [b, c], d]\n", 8,
                 "t.yaml:8:15: execution.schedule[1][0]: module 'b' is scheduled twice (also at "
                 "execution.schedule[0][1])");
    yaml_refused(MODS "  schedule: [a, b, [c, d, a]]\n", 7, "execution.schedule[2][2]: module 'a' is scheduled twice");
    yaml_refused(MODS "  schedule:\n    - a\n    - [b, [c, d]]\n", 9,
                 "t.yaml:9:11: execution.schedule[1][1]: groups cannot be nested");
    yaml_refused(MODS "  schedule: [a, [b, zz], c, d]\n", 7, "execution.schedule[1][1]: unknown module 'zz'");
    yaml_refused(MODS "  schedule: [a, [], b, c, d]\n", 7, "execution.schedule[1]: a group must list at least one module");
    yaml_refused(MODS "  schedule: [a, {b: c}, d]\n", 7, "execution.schedule[1]: must be a module name or a list");
    yaml_refused(MODS "  schedule: [a, [b, c]]\n", 7, "module 'd' is missing from the schedule");
    yaml_refused(MODS "  spin_us: 1001\n", 7, "execution.spin_us: must be an integer from 0 to 1000 microseconds "
                                             "(got '1001')");
    yaml_refused(MODS "  spin_us: -5\n", 7, "execution.spin_us: must be an integer");
    yaml_refused(MODS "  check_groups: maybe\n", 7, "execution.check_groups: invalid boolean 'maybe'");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_inproc_trace_matches_sequential),
        cmocka_unit_test(test_groups_process_trace_matches_sequential),
        cmocka_unit_test(test_groups_mixed_trace_matches_sequential),
        cmocka_unit_test(test_groups_demo_trace_matches_sequential),
        cmocka_unit_test(test_groups_inproc_lanes_follow_cpus),
        cmocka_unit_test(test_groups_failure_in_a_shared_lane),
        cmocka_unit_test(test_groups_crash_names_module_and_leaves_no_orphan),
        cmocka_unit_test(test_groups_inproc_failure_in_worker_is_reported),
        cmocka_unit_test(test_groups_check_mode_catches_a_write_to_a_member),
        cmocka_unit_test(test_groups_worker_control_calls),
        cmocka_unit_test(test_groups_timing_per_group_and_member),
        cmocka_unit_test(test_groups_config_builder),
        cmocka_unit_test(test_groups_yaml),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
