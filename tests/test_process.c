/* Process modules: round trips, ordering, crash/hang/start-failure
 * containment, orchestrator death, stale segments, the Python ctypes module.
 * Test modules: tests/modules/proc_module.c (argv picks the behaviour),
 * tests/modules/proc_badproto.c, tests/python/echo_module.py.
 * argv[1] "python" runs only the Python test (its own meson test, so
 * sanitizer builds can preload the runtime for the interpreter); any other
 * argv[1] is a cmocka test filter. */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#if !defined(PROC_MODULE) || !defined(PROC_BADPROTO) || !defined(HERMES_PYTHON) || !defined(PY_MODULE)
#error "PROC_MODULE, PROC_BADPROTO, HERMES_PYTHON and PY_MODULE must be defined by meson"
#endif

/* ---- helpers ---------------------------------------------------------------- */

static hermes_config_t *new_cfg(double step_timeout)
{
    hermes_config_t *cfg = NULL;
    assert_hermes_ok(hermes_config_create(&cfg));
    hermes_execution_t ex = {HERMES_MODE_AFAP, 100.0, 0.0, false, step_timeout};
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    return cfg;
}

static void sig(hermes_config_t *cfg, const char *mod, const char *name, bool writable, double initial)
{
    assert_hermes_ok(hermes_config_add_signal(cfg, mod, name, HERMES_TYPE_F64, NULL, writable, initial));
}

/* Process module @p name running PROC_MODULE with args; declares 'pid'. */
static void add_proc(hermes_config_t *cfg, const char *name, const char *exe, int argc, const char *const *argv)
{
    assert_hermes_ok(hermes_config_add_module(cfg, name, HERMES_MODULE_PROCESS, exe));
    if (argc)
        assert_hermes_ok(hermes_config_set_module_args(cfg, name, argv, (uint32_t)argc));
    sig(cfg, name, "pid", false, 0.0);
}

static void add_echo_signals(hermes_config_t *cfg, const char *name)
{
    sig(cfg, name, "in", true, 0.0);
    static const char *const outs[] = {"out", "stages", "resets", "steps", "last_frame", "last_dt"};
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++)
        sig(cfg, name, outs[i], false, -1.0);
}

static double get(hermes_scheduler_t *s, const char *qname)
{
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    hermes_signal_t id;
    if (hermes_backplane_find(bp, qname, &id) != 0)
        fail_msg("no signal %s", qname);
    double v = NAN;
    assert_hermes_ok(hermes_backplane_read(bp, id, &v));
    return v;
}

static hermes_scheduler_t *create(hermes_config_t *cfg, char *run, size_t cap, const char *what)
{
    return test_scheduler_create(cfg, run, cap, what);
}

/* One process module @p name (proc_module with @p args) in a config with
 * step_timeout @p step_timeout, staged; its config in *cfg, its pid in *pid. */
static hermes_scheduler_t *staged_one(hermes_config_t **cfg, char *run, size_t cap, double step_timeout,
                                      const char *name, int argc, const char *const *args, const char *what,
                                      pid_t *pid)
{
    char q[96];
    *cfg = new_cfg(step_timeout);
    add_proc(*cfg, name, PROC_MODULE, argc, args);
    hermes_scheduler_t *s = create(*cfg, run, cap, what);
    assert_hermes_ok(hermes_scheduler_stage(s));
    snprintf(q, sizeof q, "%s.pid", name);
    *pid = (pid_t)get(s, q);
    return s;
}

static bool pid_gone(pid_t pid)
{
    return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

/* Destroy within a time bound and check the children and the segment are gone. */
static void destroy_checked(hermes_scheduler_t *s, hermes_config_t *cfg, const char *run, const pid_t *pids,
                            int npids, double max_s)
{
    double t0 = test_now();
    hermes_scheduler_destroy(s);
    double took = test_now() - t0;
    hermes_config_destroy(cfg);
    if (took > max_s)
        fail_msg("destroy took %.2f s (max %.2f)", took, max_s);
    for (int i = 0; i < npids; i++)
        if (!pid_gone(pids[i]))
            fail_msg("module process %d still exists after destroy", (int)pids[i]);
    if (shm_exists(run))
        fail_msg("/dev/shm/%s left behind", run);
}

static void tmp_path(char *buf, size_t cap, const char *what)
{
    snprintf(buf, cap, "/tmp/hermes-proctest-%ld-%s", (long)getpid(), what);
}

static bool file_says(const char *path, const char *text)
{
    char buf[128] = {0};
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

struct runner {
    pthread_t          th;
    hermes_scheduler_t *s;
    _Atomic int        rc;
    _Atomic int        done;
    double             ended;
};

static void *run_thread(void *arg)
{
    struct runner *r = arg;
    int rc = hermes_scheduler_run(r->s);
    r->ended = test_now();
    atomic_store(&r->rc, rc);
    atomic_store(&r->done, 1);
    return NULL;
}

/* Poll @p qname until it equals @p want or @p max_s passes. */
static bool wait_value(hermes_scheduler_t *s, const char *qname, double want, double max_s)
{
    double end = test_now() + max_s;
    while (test_now() < end) {
        if (get(s, qname) == want)
            return true;
        usleep(1000);
    }
    return false;
}

/* ---- round trips ------------------------------------------------------------- */

static void test_process_round_trip(void **state)
{
    (void)state;
    char marker[256], run[64];
    tmp_path(marker, sizeof marker, "rt-marker");
    unlink(marker);
    hermes_config_t *cfg = new_cfg(5.0);
    const char *args[] = {"echo", "-1", "--marker", marker};
    add_proc(cfg, "e", PROC_MODULE, 4, args);
    add_echo_signals(cfg, "e");
    hermes_scheduler_t *s = create(cfg, run, sizeof run, "rt");
    pid_t pid;

    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_true(get(s, "e.stages") == 1.0);
    assert_true(get(s, "e.steps") == 0.0);
    pid = (pid_t)get(s, "e.pid");
    assert_true(pid > 0 && pid != getpid());

    hermes_signal_t in;
    assert_hermes_ok(hermes_backplane_find(hermes_scheduler_backplane(s), "e.in", &in));
    assert_hermes_ok(hermes_scheduler_set(s, in, 3.0));
    assert_hermes_ok(hermes_scheduler_step(s, 1, NULL));
    assert_true(get(s, "e.out") == 6.0);          /* 3 * 2 + frame 0 */
    assert_true(get(s, "e.last_frame") == 0.0);
    assert_true(get(s, "e.last_dt") == 0.01);
    assert_hermes_ok(hermes_scheduler_step(s, 4, NULL));
    assert_true(get(s, "e.out") == 10.0);         /* 3 * 2 + frame 4 */
    assert_true(get(s, "e.steps") == 5.0);
    assert_int_equal(hermes_scheduler_frame(s), 5);

    assert_hermes_ok(hermes_scheduler_reset(s));
    assert_int_equal(hermes_scheduler_frame(s), 0);
    assert_true(get(s, "e.resets") == 1.0);
    assert_true(get(s, "e.stages") == 2.0);
    assert_true(get(s, "e.in") == 0.0);           /* initial value restored */
    assert_hermes_ok(hermes_scheduler_step(s, 1, NULL));
    assert_true(get(s, "e.out") == 0.0);
    assert_true(get(s, "e.steps") == 6.0);

    destroy_checked(s, cfg, run, &pid, 1, 2.0);
    assert_true(file_says(marker, "terminated"));  /* it got the terminate command */
    unlink(marker);
}

/* A run with end_time through run(): many frames, no spurious failures. */
static void test_process_run_to_end(void **state)
{
    (void)state;
    char run[64];
    hermes_config_t *cfg = new_cfg(5.0);
    hermes_execution_t ex = {HERMES_MODE_AFAP, 1000.0, 2.0, true, 5.0};
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    const char *args[] = {"echo"};
    add_proc(cfg, "e", PROC_MODULE, 1, args);
    add_echo_signals(cfg, "e");
    hermes_scheduler_t *s = create(cfg, run, sizeof run, "end");
    assert_hermes_ok(hermes_scheduler_stage(s));
    pid_t pid = (pid_t)get(s, "e.pid");
    assert_hermes_ok(hermes_scheduler_run(s));
    assert_int_equal(hermes_scheduler_frame(s), 2000);
    assert_true(get(s, "e.steps") == 2000.0);
    assert_true(get(s, "e.last_frame") == 1999.0);
    destroy_checked(s, cfg, run, &pid, 1, 2.0);
}

/* ---- ordering ------------------------------------------------------------------ */

static double *inproc_counter, *inproc_pos;
static int ord_init(void **st, const hermes_inproc_env_t *env)
{
    (void)st;
    inproc_pos = hermes_inproc_slot(env, "pos");
    return inproc_pos ? 0 : -1;
}
static int ord_stage(void *st) { (void)st; return 0; }
static int ord_step(void *st, uint64_t f, double dt)
{
    (void)st, (void)f, (void)dt;
    *inproc_pos = *inproc_counter;
    *inproc_counter += 1.0;
    return 0;
}
static const hermes_inproc_module_t ord_table = {HERMES_INPROC_ABI_VERSION, 0, ord_init, ord_stage, ord_step, NULL, NULL, NULL, NULL, NULL};

static void test_process_ordering(void **state)
{
    (void)state;
    char run[64];
    hermes_config_t *cfg = new_cfg(5.0);
    assert_hermes_ok(hermes_config_add_module(cfg, "order", HERMES_MODULE_INJECTION, NULL));
    sig(cfg, "order", "counter", true, 0.0);
    const char *args[] = {"order"};
    static const char *const names[] = {"p1", "p2", "p3"};
    for (int i = 0; i < 3; i++) {
        add_proc(cfg, names[i], PROC_MODULE, 1, args);
        sig(cfg, names[i], "pos", false, -1.0);
    }
    assert_hermes_ok(hermes_config_add_module(cfg, "mid", HERMES_MODULE_INPROC, NULL));
    assert_hermes_ok(hermes_config_set_module_callbacks(cfg, "mid", &ord_table));
    sig(cfg, "mid", "pos", false, -1.0);
    /* Not file order: the schedule decides. */
    const char *const sched[] = {"order", "p3", "mid", "p1", "p2"};
    assert_hermes_ok(hermes_config_set_schedule(cfg, sched, 5));
    hermes_scheduler_t *s = create(cfg, run, sizeof run, "order");
    hermes_signal_t cid;
    assert_hermes_ok(hermes_backplane_find(hermes_scheduler_backplane(s), "order.counter", &cid));
    inproc_counter = hermes_backplane_slot(hermes_scheduler_backplane(s), cid);
    assert_hermes_ok(hermes_scheduler_stage(s));
    pid_t pids[3];
    for (int i = 0; i < 3; i++) {
        char q[32];
        snprintf(q, sizeof q, "%s.pid", names[i]);
        pids[i] = (pid_t)get(s, q);
    }
    for (int f = 0; f < 200; f++) {
        assert_hermes_ok(hermes_scheduler_step(s, 1, NULL));
        double base = 4.0 * f;
        if (get(s, "p3.pos") != base || get(s, "mid.pos") != base + 1 || get(s, "p1.pos") != base + 2 ||
            get(s, "p2.pos") != base + 3)
            fail_msg("frame %d: p3=%g mid=%g p1=%g p2=%g, expected %g..%g", f, get(s, "p3.pos"),
                     get(s, "mid.pos"), get(s, "p1.pos"), get(s, "p2.pos"), base, base + 3);
    }
    destroy_checked(s, cfg, run, pids, 3, 2.0);
}

/* ---- crashes ------------------------------------------------------------------------ */

static void crash_case(const char *mode, const char *expect_signal)
{
    char run[64], marker[256];
    tmp_path(marker, sizeof marker, "crash-marker");
    unlink(marker);
    hermes_config_t *cfg = new_cfg(30.0);  /* detection must not wait for this */
    const char *eargs[] = {"echo", "-1", "--marker", marker};
    add_proc(cfg, "survivor", PROC_MODULE, 4, eargs);
    add_echo_signals(cfg, "survivor");
    const char *cargs[] = {mode, "3"};
    add_proc(cfg, "crasher", PROC_MODULE, 2, cargs);
    hermes_scheduler_t *s = create(cfg, run, sizeof run, "crash");
    assert_hermes_ok(hermes_scheduler_stage(s));
    pid_t pids[2] = {(pid_t)get(s, "survivor.pid"), (pid_t)get(s, "crasher.pid")};
    double t0 = test_now();
    assert_hermes_rc(hermes_scheduler_step(s, 10, NULL), HERMES_EMODULE);
    double took = test_now() - t0;
    if (took > 2.0)
        fail_msg("crash detected after %.2f s", took);
    const char *err = hermes_scheduler_error(s);
    char pidtxt[32];
    snprintf(pidtxt, sizeof pidtxt, "pid %d", (int)pids[1]);
    assert_contains(err, "module 'crasher'");
    assert_contains(err, "frame 3");
    assert_contains(err, pidtxt);
    assert_contains(err, expect_signal);
    assert_contains(hermes_last_error(), "crasher");
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_ERROR);
    destroy_checked(s, cfg, run, pids, 2, 3.0);
    assert_true(file_says(marker, "terminated"));  /* the other module was shut down in order */
    unlink(marker);
}

static void test_process_crash_sigkill_mid_step(void **state)
{
    (void)state;
    crash_case("crash", "killed by signal 9 (SIGKILL)");
}

static void test_process_crash_segv_mid_step(void **state)
{
    (void)state;
    crash_case("segv", "killed by signal 11 (SIGSEGV)");
}

/* An outside SIGKILL while the scheduler thread is blocked waiting for the step. */
static void test_process_external_kill_during_run(void **state)
{
    (void)state;
    char run[64];
    hermes_config_t *cfg = new_cfg(30.0);
    const char *args[] = {"busy", "50"};
    add_proc(cfg, "victim", PROC_MODULE, 2, args);
    sig(cfg, "victim", "busy", false, 0.0);
    hermes_scheduler_t *s = create(cfg, run, sizeof run, "kill");
    assert_hermes_ok(hermes_scheduler_stage(s));
    pid_t pid = (pid_t)get(s, "victim.pid");
    struct runner r = {.s = s};
    assert_int_equal(pthread_create(&r.th, NULL, run_thread, &r), 0);
    bool busy = wait_value(s, "victim.busy", 1.0, 10.0);
    /* live value written by the child mid-step: read without snapshot */
    double t_kill = test_now();
    kill(pid, SIGKILL);
    pthread_join(r.th, NULL);
    assert_true(busy);
    assert_int_equal(atomic_load(&r.rc), HERMES_EMODULE);
    double lag = r.ended - t_kill;
    if (lag > 1.0)
        fail_msg("run() returned %.3f s after the kill", lag);
    assert_contains(hermes_scheduler_error(s), "module 'victim' step failed at frame 50");
    assert_contains(hermes_scheduler_error(s), "killed by signal 9");
    destroy_checked(s, cfg, run, &pid, 1, 2.0);
}

/* Death while paused (no command in flight) still stops run() at once. */
static void test_process_death_while_paused(void **state)
{
    (void)state;
    char run[64];
    hermes_config_t *cfg = new_cfg(30.0);
    const char *args[] = {"noop"};
    add_proc(cfg, "idle", PROC_MODULE, 1, args);
    hermes_scheduler_options_t opt;
    hermes_scheduler_options_init(&opt);
    opt.run_name = test_run_name(run, sizeof run, "paused");
    opt.start_paused = true;
    hermes_scheduler_t *s = NULL;
    assert_hermes_ok(hermes_scheduler_create(&s, cfg, &opt));
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_ok(hermes_scheduler_step(s, 3, NULL));
    pid_t pid = (pid_t)get(s, "idle.pid");
    struct runner r = {.s = s};
    assert_int_equal(pthread_create(&r.th, NULL, run_thread, &r), 0);
    usleep(100000);
    assert_int_equal(atomic_load(&r.done), 0);
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_PAUSED);
    double t_kill = test_now();
    kill(pid, SIGKILL);
    pthread_join(r.th, NULL);
    assert_int_equal(atomic_load(&r.rc), HERMES_EMODULE);
    if (r.ended - t_kill > 1.0)
        fail_msg("paused run noticed the death after %.3f s", r.ended - t_kill);
    char pidtxt[32];
    snprintf(pidtxt, sizeof pidtxt, "pid %d", (int)pid);
    assert_contains(hermes_scheduler_error(s), "module 'idle'");
    assert_contains(hermes_scheduler_error(s), pidtxt);
    assert_contains(hermes_scheduler_error(s), "killed by signal 9 (SIGKILL)");
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_ERROR);
    destroy_checked(s, cfg, run, &pid, 1, 2.0);
}

/* Exit right after answering a step: caught before the next frame runs. */
static void test_process_exit_between_frames(void **state)
{
    (void)state;
    char run[64];
    hermes_config_t *cfg;
    pid_t pid;
    const char *args[] = {"exit", "2"};
    hermes_scheduler_t *s = staged_one(&cfg, run, sizeof run, 30.0, "quitter", 2, args, "exit", &pid);
    assert_hermes_ok(hermes_scheduler_step(s, 3, NULL));  /* frames 0..2 answered */
    usleep(200000);                                        /* it exits meanwhile */
    double t0 = test_now();
    assert_hermes_rc(hermes_scheduler_step(s, 1, NULL), HERMES_EMODULE);
    assert_true(test_now() - t0 < 1.0);
    assert_contains(hermes_scheduler_error(s), "module 'quitter'");
    assert_contains(hermes_scheduler_error(s), "exited with status 0");
    assert_int_equal(hermes_scheduler_frame(s), 3);
    destroy_checked(s, cfg, run, &pid, 1, 2.0);
}

static void test_process_step_error_message(void **state)
{
    (void)state;
    char run[64];
    hermes_config_t *cfg;
    pid_t pid;
    const char *args[] = {"fail", "1"};
    hermes_scheduler_t *s = staged_one(&cfg, run, sizeof run, 5.0, "f", 2, args, "fail", &pid);
    assert_hermes_rc(hermes_scheduler_step(s, 5, NULL), HERMES_EMODULE);
    assert_contains(hermes_scheduler_error(s), "module 'f' step failed at frame 1: boom at frame 1");
    destroy_checked(s, cfg, run, &pid, 1, 2.0);  /* still answers terminate */
}

/* A module's hermes_module_finish ends the run normally after its frame:
 * step() returns 0, the run is STOPPED at that frame + 1 with the module's
 * reason, and the module still answers terminate. Outside a step (at the
 * stage) the call is refused (proc_module checks it). */
static void test_process_finish_ends_run(void **state)
{
    (void)state;
    char run[64];
    hermes_config_t *cfg;
    pid_t pid;
    const char *args[] = {"finish", "2"};
    hermes_scheduler_t *s = staged_one(&cfg, run, sizeof run, 5.0, "f", 2, args, "finish", &pid);
    assert_hermes_ok(hermes_scheduler_step(s, 10, NULL));
    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_STOPPED);
    assert_int_equal(hermes_scheduler_frame(s), 3);
    const char *why = hermes_scheduler_stop_reason(s);
    assert_non_null(why);
    assert_string_equal(why, "module 'f': landed at frame 2");
    assert_string_equal(hermes_scheduler_error(s), "");
    destroy_checked(s, cfg, run, &pid, 1, 2.0);  /* still answers terminate */
}

/* ---- hang ------------------------------------------------------------------------------ */

static void test_process_hang_timeout(void **state)
{
    (void)state;
    char run[64];
    hermes_config_t *cfg;
    pid_t pid;
    const char *args[] = {"hang", "2", "--ignore-term"};
    hermes_scheduler_t *s = staged_one(&cfg, run, sizeof run, 0.3, "sloth", 3, args, "hang", &pid);
    double t0 = test_now();
    assert_hermes_rc(hermes_scheduler_step(s, 10, NULL), HERMES_EMODULE);
    double took = test_now() - t0;
    if (took < 0.29 || took > 2.0)
        fail_msg("hang detected after %.3f s with a 0.3 s timeout", took);
    const char *err = hermes_scheduler_error(s);
    assert_contains(err, "module 'sloth' step failed at frame 2");
    assert_contains(err, "did not answer step within 0.3 s");
    char pidtxt[32];
    snprintf(pidtxt, sizeof pidtxt, "pid %d", (int)pid);
    assert_contains(err, pidtxt);
    assert_false(pid_gone(pid));
    /* SIGTERM is ignored: grace (0.3 s) then SIGKILL. */
    destroy_checked(s, cfg, run, &pid, 1, 3.0);
}

/* ---- start failures -------------------------------------------------------------------- */

static void start_fails(const char *exe, int argc, const char *const *argv, double timeout, int code,
                        const char *expect1, const char *expect2)
{
    char run[64];
    hermes_config_t *cfg = new_cfg(timeout);
    add_proc(cfg, "starter", exe, argc, argv);
    hermes_scheduler_options_t opt;
    hermes_scheduler_options_init(&opt);
    opt.run_name = test_run_name(run, sizeof run, "start");
    hermes_scheduler_t *s = NULL;
    double t0 = test_now();
    int rc = hermes_scheduler_create(&s, cfg, &opt);
    double took = test_now() - t0;
    if (rc != code)
        fail_msg("create -> %s (%s), expected %s", hermes_err_name(rc), hermes_last_error(), hermes_err_name(code));
    assert_null(s);
    assert_contains(hermes_last_error(), expect1);
    if (expect2)
        assert_contains(hermes_last_error(), expect2);
    if (took > timeout + 3.0)
        fail_msg("create took %.2f s", took);
    hermes_config_destroy(cfg);
    if (shm_exists(run))
        fail_msg("/dev/shm/%s left behind", run);
}

static void test_process_start_exits_early(void **state)
{
    (void)state;
    const char *a[] = {"early-exit"};
    start_fails(PROC_MODULE, 1, a, 5.0, HERMES_EMODULE, "module 'starter' (pid ",
                "exited with status 3 before its start-up handshake");
}

static void test_process_start_refused(void **state)
{
    (void)state;
    const char *a[] = {"refuse"};
    start_fails(PROC_MODULE, 1, a, 5.0, HERMES_EMODULE, "module 'starter'", "refused to start: missing calibration table");
}

static void test_process_start_wrong_protocol(void **state)
{
    (void)state;
    start_fails(PROC_BADPROTO, 0, NULL, 5.0, HERMES_EABI, "module 'starter'", "speaks process protocol 999");
}

static void test_process_start_handshake_timeout(void **state)
{
    (void)state;
    const char *a[] = {"slow-hello", "30"};
    start_fails(PROC_MODULE, 2, a, 0.3, HERMES_EMODULE, "module 'starter'",
                "did not complete its start-up handshake within 0.3 s");
}

static void test_process_start_exec_format(void **state)
{
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "not-a-program");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not a program\n", f);
    fclose(f);
    chmod(path, 0755);
    start_fails(path, 0, NULL, 5.0, HERMES_EMODULE, "module 'starter': cannot execute", "Exec format error");
    /* Interpreter missing: execve's ENOENT, reported as such. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("#!/nonexistent/interpreter\n", f);
    fclose(f);
    start_fails(path, 0, NULL, 5.0, HERMES_EMODULE, "cannot execute", "No such file or directory");
    /* Missing and non-executable files are refused by validation, before any fork. */
    chmod(path, 0644);
    start_fails(path, 0, NULL, 5.0, HERMES_ECONFIG, "not executable", path);
    unlink(path);
    start_fails(path, 0, NULL, 5.0, HERMES_ECONFIG, "not found", path);
}

/* ---- orchestrator death and stale segments -------------------------------------------------- */

static void test_process_orchestrator_sigkill(void **state)
{
    (void)state;
    /* Orphans are reparented to us (PID 1 here does not reap), so we can
     * see them die and collect them. */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    char run[64];
    test_run_name(run, sizeof run, "orphan");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t orch = fork();
    assert_true(orch >= 0);
    if (orch == 0) {
        close(fds[0]);
        hermes_config_t *cfg = new_cfg(5.0);
        const char *a[] = {"noop"};
        add_proc(cfg, "m1", PROC_MODULE, 1, a);
        add_proc(cfg, "m2", PROC_MODULE, 1, a);
        hermes_scheduler_options_t opt;
        hermes_scheduler_options_init(&opt);
        opt.run_name = run;
        hermes_scheduler_t *s = NULL;
        if (hermes_scheduler_create(&s, cfg, &opt) != 0 || hermes_scheduler_stage(s) != 0)
            _exit(1);
        pid_t pids[2] = {(pid_t)get(s, "m1.pid"), (pid_t)get(s, "m2.pid")};
        if (write(fds[1], pids, sizeof pids) != (ssize_t)sizeof pids)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    pid_t pids[2] = {0, 0};
    ssize_t n = read(fds[0], pids, sizeof pids);
    close(fds[0]);
    assert_int_equal(n, (ssize_t)sizeof pids);
    assert_true(shm_exists(run));
    kill(orch, SIGKILL);
    assert_int_equal(waitpid(orch, NULL, 0), orch);
    double t0 = test_now();
    int reaped = 0, killed = 0;
    while (reaped < 2 && test_now() - t0 < 1.0) {
        for (int i = 0; i < 2; i++) {
            int st;
            if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
                reaped++;
                killed += WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
                pids[i] = 0;
            }
        }
        usleep(1000);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    for (int i = 0; i < 2; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
    if (reaped != 2)
        fail_msg("%d of 2 module processes still alive 1 s after the orchestrator's SIGKILL", 2 - reaped);
    assert_int_equal(killed, 2);  /* PR_SET_PDEATHSIG, not an orderly exit */

    /* The segment outlived its owner; the sweep finds it and removes it. */
    assert_true(shm_exists(run));
    assert_true(hermes_backplane_sweep(false, NULL, NULL) >= 1);
    assert_true(shm_exists(run));  /* dry run */
    assert_true(hermes_backplane_sweep(true, NULL, NULL) >= 1);
    assert_false(shm_exists(run));
}

struct sweep_seen {
    const char *want;
    int seen, removed;
    int owner;
};

static void sweep_cb(void *ctx, const char *name, int owner_pid, bool removed)
{
    struct sweep_seen *w = ctx;
    if (strcmp(name, w->want) == 0) {
        w->seen++;
        w->removed += removed;
        w->owner = owner_pid;
    }
}

static void test_process_sweep_only_stale(void **state)
{
    (void)state;
    char live[64], stale[64];
    test_run_name(live, sizeof live, "sweep-live");
    test_run_name(stale, sizeof stale, "sweep-stale");
    hermes_signal_spec_t spec = {"m", "x", HERMES_TYPE_F64, NULL, false, 0.0};
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.signals = &spec;
    bc.signal_count = 1;
    bc.run_name = live;
    hermes_backplane_t *bp = NULL;
    assert_hermes_ok(hermes_backplane_create(&bp, &bc));
    /* A dead owner: a child creates a segment and exits without unlinking. */
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        hermes_backplane_t *b2 = NULL;
        bc.run_name = stale;
        _exit(hermes_backplane_create(&b2, &bc) == 0 ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(c, &st, 0), c);
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(shm_exists(stale));

    struct sweep_seen w = {stale, 0, 0, 0};
    assert_true(hermes_backplane_sweep(false, sweep_cb, &w) >= 1);
    assert_int_equal(w.seen, 1);
    assert_int_equal(w.removed, 0);
    assert_int_equal(w.owner, (int)c);
    struct sweep_seen wl = {live, 0, 0, 0};
    assert_true(hermes_backplane_sweep(true, sweep_cb, &wl) >= 1);
    assert_int_equal(wl.seen, 0);           /* our own live segment is not stale */
    assert_false(shm_exists(stale));
    assert_true(shm_exists(live));
    hermes_backplane_destroy(bp);
    assert_false(shm_exists(live));
}

/* ---- Python ---------------------------------------------------------------------------------- */

static void test_process_python_ctypes(void **state)
{
    (void)state;
    if (!getenv("HERMES_LIB"))
        fail_msg("HERMES_LIB (path of libhermes.so for the ctypes module) is not set");
    char run[64];
    hermes_config_t *cfg = new_cfg(20.0);  /* interpreter start-up counts towards the handshake */
    const char *args[] = {PY_MODULE};
    add_proc(cfg, "py", HERMES_PYTHON, 1, args);
    add_echo_signals(cfg, "py");
    hermes_scheduler_t *s = create(cfg, run, sizeof run, "python");
    assert_hermes_ok(hermes_scheduler_stage(s));
    pid_t pid = (pid_t)get(s, "py.pid");
    assert_true(pid > 0);
    assert_true(get(s, "py.stages") == 1.0);
    hermes_signal_t in;
    assert_hermes_ok(hermes_backplane_find(hermes_scheduler_backplane(s), "py.in", &in));
    assert_hermes_ok(hermes_scheduler_set(s, in, 1.5));
    assert_hermes_ok(hermes_scheduler_step(s, 100, NULL));
    assert_true(get(s, "py.out") == 1.5 * 2 + 99);
    assert_true(get(s, "py.steps") == 100.0);
    assert_true(get(s, "py.last_dt") == 0.01);
    assert_hermes_ok(hermes_scheduler_reset(s));
    assert_true(get(s, "py.resets") == 1.0);
    assert_true(get(s, "py.stages") == 2.0);
    destroy_checked(s, cfg, run, &pid, 1, 3.0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_round_trip),
        cmocka_unit_test(test_process_run_to_end),
        cmocka_unit_test(test_process_ordering),
        cmocka_unit_test(test_process_crash_sigkill_mid_step),
        cmocka_unit_test(test_process_crash_segv_mid_step),
        cmocka_unit_test(test_process_external_kill_during_run),
        cmocka_unit_test(test_process_death_while_paused),
        cmocka_unit_test(test_process_exit_between_frames),
        cmocka_unit_test(test_process_step_error_message),
        cmocka_unit_test(test_process_finish_ends_run),
        cmocka_unit_test(test_process_hang_timeout),
        cmocka_unit_test(test_process_start_exits_early),
        cmocka_unit_test(test_process_start_refused),
        cmocka_unit_test(test_process_start_wrong_protocol),
        cmocka_unit_test(test_process_start_handshake_timeout),
        cmocka_unit_test(test_process_start_exec_format),
        cmocka_unit_test(test_process_orchestrator_sigkill),
        cmocka_unit_test(test_process_sweep_only_stale),
    };
    const struct CMUnitTest python[] = {
        cmocka_unit_test(test_process_python_ctypes),
    };
    if (argc > 1 && strcmp(argv[1], "python") == 0)
        return cmocka_run_group_tests(python, NULL, NULL);
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
