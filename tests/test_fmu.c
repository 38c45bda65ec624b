/* FMU modules (issue 20): the test FMU tests/fmu/decay.c against its
 * analytic solution with an input wired from another module, and each
 * broken FMU refused with a message that names the problem. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hermes/hermes.h"

/* How the host's death reads: a sanitizer catches the SIGSEGV and exits. */
#if defined(__SANITIZE_ADDRESS__)
#define CRASH_TEXT "during step"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRASH_TEXT "during step"
#endif
#endif
#ifndef CRASH_TEXT
#define CRASH_TEXT "was killed by signal 11 (SIGSEGV) during step"
#endif

static char yaml[2048];

#define SINGLE_FRAME "{mode: single_frame, rate_hz: 10}"

static const char *cfg_text_exec(const char *exec, const char *variant, const char *extra)
{
    snprintf(yaml, sizeof yaml,
             "execution: %s\n"
             "modules:\n"
             "  src:\n"
             "    type: injection\n"
             "    signals:\n"
             "      - {name: uu, type: f64, writable: true, initial: 0.5}\n"
             "  decay:\n"
             "    type: fmu\n"
             "    fmu: decay_%s.fmu\n%s"
             "wiring:\n"
             "  - {src: src.uu, dst: decay.u}\n",
             exec, variant, extra ? extra : "");
    return yaml;
}

static int load_exec(hermes_config_t **cfg, const char *exec, const char *variant, const char *extra,
                     hermes_error_t *err)
{
    const char *t = cfg_text_exec(exec, variant, extra);
    int rc = hermes_config_parse(cfg, t, strlen(t), "fmu.yaml", HERMES_TEST_BUILDDIR, err);
    if (rc == 0)
        rc = hermes_config_validate(*cfg, err);
    return rc;
}

static int load(hermes_config_t **cfg, const char *variant, const char *extra, hermes_error_t *err)
{
    return load_exec(cfg, SINGLE_FRAME, variant, extra, err);
}

/* A staged scheduler of the config text @p t (its config in *cfg). */
static hermes_scheduler_t *staged(const char *t, hermes_config_t **cfg)
{
    hermes_error_t err;
    if (hermes_config_parse(cfg, t, strlen(t), "fmu.yaml", HERMES_TEST_BUILDDIR, &err) != 0 ||
        hermes_config_validate(*cfg, &err) != 0)
        fail_msg("config line %d: %s", err.line, err.message);
    hermes_scheduler_t *s = NULL;
    assert_int_equal(hermes_scheduler_create(&s, *cfg, NULL), 0);
    assert_int_equal(hermes_scheduler_stage(s), 0);
    return s;
}

static double value(hermes_scheduler_t *s, const char *name)
{
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    hermes_signal_t id;
    assert_int_equal(hermes_backplane_find(bp, name, &id), 0);
    double v = NAN;
    assert_int_equal(hermes_backplane_read(bp, id, &v), 0);
    return v;
}

/* Unpacked folders in /tmp of this process (hermes-fmu-<pid>-XXXXXX). */
static int count_unpacked(void)
{
    DIR *d = opendir("/tmp");
    int n = 0;
    struct dirent *e;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "hermes-fmu-%ld-", (long)getpid());
    while (d && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

static int fmu_lines;  /* FMU logger lines naming the module */
static int illegal_lines, terminated_lines;  /* decay.c's fmi2Terminate: refused, done */

static void on_log(void *ctx, hermes_log_level_t level, const char *component, const char *msg)
{
    (void)ctx;
    (void)level;
    if (strcmp(component, "fmu") == 0 && strstr(msg, "module 'decay'") && strstr(msg, "instantiated with k=1"))
        fmu_lines++;
    if (strcmp(component, "fmu") == 0 && strstr(msg, "illegal call sequence"))
        illegal_lines++;
    if (strcmp(component, "fmu") == 0 && strstr(msg, "]: terminated"))
        terminated_lines++;
}

static double analytic(double x0, double k, double u, double t) { return u / k + (x0 - u / k) * exp(-k * t); }

static hermes_signal_info_t info(hermes_scheduler_t *s, const char *name)
{
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    hermes_signal_t id;
    hermes_signal_info_t si;
    memset(&si, 0, sizeof si);
    if (hermes_backplane_find(bp, name, &id) != 0 || hermes_backplane_info(bp, id.index, &si) != 0)
        fail_msg("no signal %s", name);
    return si;
}

static bool has_signal(hermes_scheduler_t *s, const char *name)
{
    hermes_signal_t id;
    return hermes_backplane_find(hermes_scheduler_backplane(s), name, &id) == 0;
}

static void set_value(hermes_scheduler_t *s, const char *name, double v)
{
    hermes_signal_t id;
    assert_int_equal(hermes_backplane_find(hermes_scheduler_backplane(s), name, &id), 0);
    assert_int_equal(hermes_scheduler_set(s, id, v), 0);
}


static void test_fmu_decay_matches_analytic(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    int before = count_unpacked();
    assert_int_equal(load(&cfg, "good", NULL, &err), 0);
    hermes_log_set(on_log, NULL, HERMES_LOG_INFO);
    hermes_scheduler_t *s = NULL;
    assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
    assert_int_equal(count_unpacked(), before + 1);
    hermes_log_set(NULL, NULL, HERMES_LOG_INFO);
    assert_int_equal(fmu_lines, 1);  /* the FMU's logger, in the host's log with the module's name */
    assert_string_equal(info(s, "decay.x").unit, "m");  /* from the declared type Length */
    assert_int_equal(hermes_scheduler_stage(s), 0);
    assert_int_equal(hermes_scheduler_step(s, 25, NULL), 0);
    double x = value(s, "decay.x");
    assert_true(fabs(x - analytic(2.0, 1.0, 0.5, 2.5)) < 1e-12);
    assert_true(value(s, "decay.n") == 25.0);
    assert_true(value(s, "decay.below") == (x < 1.0 ? 1.0 : 0.0));
    assert_true(value(s, "decay.below") == 1.0);
    /* Tunable parameter written between steps, then reset to the starts. */
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    hermes_signal_t k;
    assert_int_equal(hermes_backplane_find(bp, "decay.k", &k), 0);
    *hermes_backplane_slot(bp, k) = 2.0;
    assert_int_equal(hermes_scheduler_step(s, 5, NULL), 0);
    assert_true(fabs(value(s, "decay.x") - analytic(x, 2.0, 0.5, 0.5)) < 1e-12);
    assert_int_equal(hermes_scheduler_reset(s), 0);
    assert_int_equal(hermes_scheduler_step(s, 10, NULL), 0);
    assert_true(fabs(value(s, "decay.x") - analytic(2.0, 1.0, 0.5, 1.0)) < 1e-12);
    assert_true(value(s, "decay.n") == 10.0);
    hermes_scheduler_destroy(s);
    assert_int_equal(count_unpacked(), before);
    hermes_config_destroy(cfg);
}

/* A slower FMU module (2 Hz in a 10 Hz run) steps every 5th frame with
 * h = 0.5 s at communication points 0, 0.5, 1.0, ... (the FMU refuses any
 * other), and matches the solution at the time of its steps. */
static void test_fmu_own_rate(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    assert_int_equal(load(&cfg, "good", "    rate_hz: 2\n", &err), 0);
    hermes_scheduler_t *s = NULL;
    assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
    assert_int_equal(hermes_scheduler_stage(s), 0);
    assert_int_equal(hermes_scheduler_step(s, 25, NULL), 0);  /* frames 0, 5, 10, 15, 20 */
    assert_true(value(s, "decay.n") == 5.0);
    assert_true(fabs(value(s, "decay.x") - analytic(2.0, 1.0, 0.5, 2.5)) < 1e-12);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

static void test_fmu_initial_overrides_start(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    assert_int_equal(load(&cfg, "good", NULL, &err), 0);
    assert_int_equal(hermes_config_set_initial(cfg, "decay.x0", 3.0), 0);
    assert_int_equal(hermes_config_set_initial(cfg, "decay.k", 0.5), 0);
    hermes_scheduler_t *s = NULL;
    assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
    assert_int_equal(hermes_scheduler_stage(s), 0);
    assert_int_equal(hermes_scheduler_step(s, 20, NULL), 0);
    assert_true(fabs(value(s, "decay.x") - analytic(3.0, 0.5, 0.5, 2.0)) < 1e-12);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

static void test_fmu_step_error_fails_module(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    assert_int_equal(load(&cfg, "good", NULL, &err), 0);
    assert_int_equal(hermes_config_set_initial(cfg, "decay.fail_at", 3), 0);
    hermes_scheduler_t *s = NULL;
    assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
    assert_int_equal(hermes_scheduler_stage(s), 0);
    assert_int_equal(hermes_scheduler_step(s, 10, NULL), HERMES_EMODULE);
    const char *msg = hermes_last_error();
    assert_non_null(strstr(msg, "decay"));
    assert_non_null(strstr(msg, "fmi2Error"));
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

/* A fixed parameter takes only an initial value: hermes_scheduler_set()
 * refuses it (the FMU would never read it again), and so does a wire into it. */
static void test_fmu_fixed_parameter_initial_only(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    assert_int_equal(load(&cfg, "good", NULL, &err), 0);
    hermes_scheduler_t *s = NULL;
    assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
    hermes_signal_t x0, k;
    assert_int_equal(hermes_backplane_find(hermes_scheduler_backplane(s), "decay.x0", &x0), 0);
    assert_int_equal(hermes_backplane_find(hermes_scheduler_backplane(s), "decay.k", &k), 0);
    assert_int_equal(hermes_scheduler_set(s, x0, 4.0), HERMES_EREADONLY);
    assert_non_null(strstr(hermes_last_error(), "signal 'decay.x0' is a fixed FMU parameter"));
    assert_int_equal(hermes_scheduler_set(s, k, 4.0), 0);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);

    const char *t = "execution: {mode: single_frame, rate_hz: 10}\n"
                    "modules:\n"
                    "  src: {type: injection, signals: [{name: v, type: f64, writable: true}]}\n"
                    "  decay: {type: fmu, fmu: decay_good.fmu}\n"
                    "wiring:\n"
                    "  - {src: src.v, dst: decay.x0}\n";
    memset(&err, 0, sizeof err);
    int rc = hermes_config_parse(&cfg, t, strlen(t), "fmu.yaml", HERMES_TEST_BUILDDIR, &err);
    if (rc == 0)
        rc = hermes_config_validate(cfg, &err);
    assert_int_equal(rc, HERMES_ECONFIG);
    assert_non_null(strstr(err.message, "'decay.x0' is a fixed FMU parameter"));
    assert_int_equal(err.line, 6);
    hermes_config_destroy(cfg);
}

/* The FMI 3.0 test FMU: signals of every mapped type with their units
 * (also from a declared type), the skipped variables absent, outputs read
 * after initialisation, results equal to the analytic solution, a tunable
 * parameter and a UInt8 input written between steps, reset. */
static void test_fmu3_decay_matches_analytic(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    int before = count_unpacked();
    assert_int_equal(load(&cfg, "good3", NULL, &err), 0);
    hermes_log_set(on_log, NULL, HERMES_LOG_INFO);
    fmu_lines = 0;
    hermes_scheduler_t *s = NULL;
    assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
    hermes_log_set(NULL, NULL, HERMES_LOG_INFO);
    assert_int_equal(fmu_lines, 1);
    assert_int_equal(count_unpacked(), before + 1);
    assert_string_equal(info(s, "decay.x").unit, "m");
    assert_int_equal(info(s, "decay.x").type, HERMES_TYPE_F64);
    assert_false(info(s, "decay.x").writable);
    assert_string_equal(info(s, "decay.k").unit, "1/s");
    assert_true(info(s, "decay.k").writable);
    assert_int_equal(info(s, "decay.n").type, HERMES_TYPE_I32);
    assert_int_equal(info(s, "decay.below").type, HERMES_TYPE_BOOL);
    assert_int_equal(info(s, "decay.sel").type, HERMES_TYPE_I32);
    assert_true(info(s, "decay.sel").writable);
    assert_int_equal(info(s, "decay.y").type, HERMES_TYPE_F32);
    assert_int_equal(info(s, "decay.mode").type, HERMES_TYPE_I64);  /* an Enumeration without start: not written */
    assert_false(has_signal(s, "decay.time"));
    assert_false(has_signal(s, "decay.label"));
    assert_false(has_signal(s, "decay.blob"));
    assert_false(has_signal(s, "decay.vec"));
    assert_int_equal(hermes_scheduler_stage(s), 0);
    assert_true(value(s, "decay.x") == 2.0);  /* read after initialisation, at the stage */
    assert_true(value(s, "decay.y") == 2.0);
    assert_int_equal(hermes_scheduler_step(s, 25, NULL), 0);
    double x = value(s, "decay.x");
    assert_true(fabs(x - analytic(2.0, 1.0, 0.5, 2.5)) < 1e-12);
    assert_true(value(s, "decay.n") == 25.0);
    assert_true(value(s, "decay.below") == 1.0);
    assert_true(value(s, "decay.y") == (double)(float)x);
    set_value(s, "decay.k", 2.0);
    set_value(s, "decay.sel", 3);
    set_value(s, "decay.mode", 2);  /* through fmi3SetInt64 */
    assert_int_equal(hermes_scheduler_step(s, 5, NULL), 0);
    double x2 = value(s, "decay.x");
    assert_true(fabs(x2 - analytic(x, 2.0, 0.5, 0.5)) < 1e-12);
    assert_true(value(s, "decay.y") == (double)(float)(3 * x2));
    assert_int_equal(hermes_scheduler_reset(s), 0);
    assert_int_equal(hermes_scheduler_step(s, 10, NULL), 0);
    assert_true(fabs(value(s, "decay.x") - analytic(2.0, 1.0, 0.5, 1.0)) < 1e-12);
    assert_true(value(s, "decay.n") == 10.0);
    hermes_scheduler_destroy(s);
    assert_int_equal(count_unpacked(), before);
    hermes_config_destroy(cfg);
}

/* Initial values (the config's --set) reach an FMI 3.0 FMU, and a set of
 * its fixed parameter is refused. */
static void test_fmu3_initial_overrides_start(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    assert_int_equal(load(&cfg, "good3", NULL, &err), 0);
    assert_int_equal(hermes_config_set_initial(cfg, "decay.x0", 3.0), 0);
    assert_int_equal(hermes_config_set_initial(cfg, "decay.k", 0.5), 0);
    assert_int_equal(hermes_config_set_initial(cfg, "decay.sel", 2), 0);
    /* Outputs take no initial value: the FMU computes them in its initialisation. */
    assert_int_equal(hermes_config_set_initial(cfg, "decay.x", 5.0), HERMES_EREADONLY);
    assert_non_null(strstr(hermes_last_error(), "decay.x is an FMU output"));
    uint32_t mi = 0, xi = 0, ki = 0;
    for (uint32_t j = 0; j < hermes_config_module_count(cfg); j++) {
        hermes_module_info_t m;
        if (hermes_config_module(cfg, j, &m) == 0 && strcmp(m.name, "decay") == 0)
            mi = j;
    }
    hermes_module_info_t m;
    assert_int_equal(hermes_config_module(cfg, mi, &m), 0);
    for (uint32_t j = 0; j < m.signal_count; j++) {
        hermes_signal_spec_t sp;
        assert_int_equal(hermes_config_signal(cfg, mi, j, &sp), 0);
        xi = strcmp(sp.name, "x") == 0 ? j : xi;
        ki = strcmp(sp.name, "k") == 0 ? j : ki;
    }
    assert_string_equal(hermes_fmu_signal_computed(cfg, mi, xi), "an FMU output");
    assert_null(hermes_fmu_signal_computed(cfg, mi, ki));
    hermes_scheduler_t *s = NULL;
    assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
    hermes_signal_t x0;
    assert_int_equal(hermes_backplane_find(hermes_scheduler_backplane(s), "decay.x0", &x0), 0);
    assert_int_equal(hermes_scheduler_set(s, x0, 1.0), HERMES_EREADONLY);
    assert_int_equal(hermes_scheduler_stage(s), 0);
    assert_int_equal(hermes_scheduler_step(s, 20, NULL), 0);
    double x = value(s, "decay.x");
    assert_true(fabs(x - analytic(3.0, 0.5, 0.5, 2.0)) < 1e-12);
    assert_true(value(s, "decay.y") == (double)(float)(2 * x));
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

/* fmi3Error and an early return needing event mode from fmi3DoStep each
 * fail the module at that step with a message that says which; an event the
 * FMU handled inside a completed step does not (terminateSimulation: the
 * next test). */
static void test_fmu3_step_outcomes_end_the_run(void **state)
{
    (void)state;
    static const struct { const char *param, *text; } cases[] = {
        {"decay.fail_at", "fmi3DoStep at t=0.3 returned fmi3Error"},
        {"decay.event_at", "stopped at t=0.29999999999999999: the FMU needs event handling"},
        {"decay.note_at", NULL},  /* an event handled inside the step: the run goes on */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hermes_config_t *cfg = NULL;
        hermes_error_t err;
        assert_int_equal(load(&cfg, "good3", NULL, &err), 0);
        assert_int_equal(hermes_config_set_initial(cfg, cases[i].param, 3), 0);
        hermes_scheduler_t *s = NULL;
        assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
        assert_int_equal(hermes_scheduler_stage(s), 0);
        int rc = hermes_scheduler_step(s, 10, NULL);
        const char *msg = hermes_last_error();
        if (!cases[i].text) {
            assert_int_equal(rc, 0);
            assert_true(value(s, "decay.n") == 10.0);
        } else if (rc != HERMES_EMODULE || !strstr(msg, "decay") || !strstr(msg, cases[i].text)) {
            fail_msg("%s: rc %d, message '%s'", cases[i].param, rc, msg);
        } else {
            assert_true(value(s, "decay.n") <= 4.0);
        }
        hermes_scheduler_destroy(s);
        hermes_config_destroy(cfg);
    }
}

/* An FMU that asks to terminate (FMI 2: fmi2Discard with fmi2Terminated,
 * as the Reference FMUs' Stair; FMI 3: terminateSimulation) ends the run
 * normally once that frame is complete, in-process and isolated, through
 * step() and run(): state STOPPED, run()/step() return 0, the step's outputs
 * are kept, the reason names the module and the FMU's call; a reset clears
 * it and the FMU runs again. */
static void test_fmu_terminate_ends_run_normally(void **state)
{
    (void)state;
    static const char *const variants[] = {"good", "good3"};
    static const char *const isolate[] = {NULL, "    isolate: true\n"};
    static const char *const call[] = {"fmi2DoStep at t=0.3 returned fmi2Discard with fmi2Terminated",
                                       "fmi3DoStep at t=0.3 set terminateSimulation"};
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < 2; i++)
            for (int use_run = 0; use_run < 2; use_run++) {
                hermes_config_t *cfg = NULL;
                hermes_error_t err;
                const char *exec = use_run ? "{mode: afap, rate_hz: 10, end_time: 5}" : SINGLE_FRAME;
                assert_int_equal(load_exec(&cfg, exec, variants[v], isolate[i], &err), 0);
                assert_int_equal(hermes_config_set_initial(cfg, "decay.terminate_at", 3), 0);
                hermes_scheduler_t *s = NULL;
                assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
                assert_int_equal(hermes_scheduler_stage(s), 0);
                assert_null(hermes_scheduler_stop_reason(s));
                for (int round = 0; round < 2; round++) {  /* again after a reset */
                    int rc = use_run ? hermes_scheduler_run(s) : hermes_scheduler_step(s, 10, NULL);
                    const char *why = hermes_scheduler_stop_reason(s);
                    if (rc != 0 || !why || !strstr(why, "module 'decay': the FMU asked to terminate") ||
                        !strstr(why, call[v]))
                        fail_msg("%s%s %s: rc %d (%s), reason '%s'", variants[v], i ? " isolated" : "",
                                 use_run ? "run" : "step", rc, hermes_last_error(), why ? why : "(none)");
                    assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_STOPPED);
                    assert_int_equal(hermes_scheduler_frame(s), 4);   /* frames 0 .. 3, the last one kept */
                    assert_true(value(s, "decay.n") == 4.0);
                    assert_true(fabs(value(s, "decay.x") - analytic(2.0, 1.0, 0.5, 0.4)) < 1e-12);
                    if (!use_run)
                        assert_int_equal(hermes_scheduler_step(s, 1, NULL), HERMES_ESTATE);
                    assert_int_equal(hermes_scheduler_reset(s), 0);
                    assert_null(hermes_scheduler_stop_reason(s));
                    assert_true(value(s, "decay.n") == 0.0);
                }
                hermes_scheduler_destroy(s);
                hermes_config_destroy(cfg);
            }
}

/* Closing an FMU calls fmi2Terminate only where the standard allows it, once
 * initialised and not failed: after a failed initialisation, after a step's
 * fmi2Error and when it was never staged the instance is only freed (decay.c
 * logs "illegal call sequence" otherwise); after a normal run it is
 * terminated, once. */
static void test_fmu_terminate_only_when_allowed(void **state)
{
    (void)state;
    hermes_log_set(on_log, NULL, HERMES_LOG_INFO);
    illegal_lines = terminated_lines = 0;
    enum { BAD_INIT, STEP_ERROR, NEVER_STAGED, NORMAL };
    for (int c = BAD_INIT; c <= NORMAL; c++) {
        hermes_config_t *cfg = NULL;
        hermes_error_t err;
        assert_int_equal(load(&cfg, "good", NULL, &err), 0);
        if (c == BAD_INIT)
            assert_int_equal(hermes_config_set_initial(cfg, "decay.x0", -1.0), 0);
        if (c == STEP_ERROR)
            assert_int_equal(hermes_config_set_initial(cfg, "decay.fail_at", 2), 0);
        hermes_scheduler_t *s = NULL;
        assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
        if (c == BAD_INIT) {
            assert_int_equal(hermes_scheduler_stage(s), HERMES_EMODULE);
            assert_non_null(strstr(hermes_last_error(), "fmi2ExitInitializationMode returned fmi2Error"));
        } else if (c != NEVER_STAGED) {
            assert_int_equal(hermes_scheduler_stage(s), 0);
            assert_int_equal(hermes_scheduler_step(s, 5, NULL), c == STEP_ERROR ? HERMES_EMODULE : 0);
        }
        hermes_scheduler_destroy(s);
        hermes_config_destroy(cfg);
    }
    hermes_log_set(NULL, NULL, HERMES_LOG_INFO);
    assert_int_equal(illegal_lines, 0);
    assert_int_equal(terminated_lines, 1);
}

/* FMI 2: an fmi2Discard that does not ask to terminate (the FMU stopped
 * half-way) fails the module with the status and the last successful time. */
static void test_fmu2_discard_fails_the_module(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        hermes_config_t *cfg = NULL;
        hermes_error_t err;
        assert_int_equal(load(&cfg, "good", i ? "    isolate: true\n" : NULL, &err), 0);
        assert_int_equal(hermes_config_set_initial(cfg, "decay.discard_at", 2), 0);
        hermes_scheduler_t *s = NULL;
        assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
        assert_int_equal(hermes_scheduler_stage(s), 0);
        int rc = hermes_scheduler_step(s, 10, NULL);
        const char *msg = hermes_last_error();
        if (rc != HERMES_EMODULE || !strstr(msg, "module 'decay'") ||
            !strstr(msg, "fmi2DoStep at t=0.2 (step 0.1) returned fmi2Discard, last successful time 0.25") ||
            !strstr(msg, "did not ask to terminate"))
            fail_msg("%s: rc %d, message '%s'", i ? "isolated" : "in-process", rc, msg);
        assert_null(hermes_scheduler_stop_reason(s));
        assert_int_equal(hermes_scheduler_state(s), HERMES_STATE_ERROR);
        hermes_scheduler_destroy(s);
        hermes_config_destroy(cfg);
    }
}

/* The FMU is initialised with its wired inputs, not their starts: decay3's
 * y = sel * x is computed in fmi3ExitInitializationMode, with sel wired from
 * an injection module at 3 (its start is 1), in-process and isolated, at
 * start-up and after a reset. */
static void test_fmu_initialised_with_wired_inputs(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        char t[512];
        snprintf(t, sizeof t,
                 "execution: {mode: single_frame, rate_hz: 10}\n"
                 "modules:\n"
                 "  src: {type: injection, signals: [{name: ss, type: i32, writable: true, initial: 3}]}\n"
                 "  decay: {type: fmu, fmu: decay_good3.fmu, isolate: %s}\n"
                 "wiring:\n"
                 "  - {src: src.ss, dst: decay.sel}\n", i ? "true" : "false");
        hermes_config_t *cfg = NULL;
        hermes_scheduler_t *s = staged(t, &cfg);
        if (value(s, "decay.y") != 6.0)
            fail_msg("%s: y after initialisation is %g, expected 3 * 2 (sel wired to 3)", i ? "isolated" : "in-process",
                     value(s, "decay.y"));
        assert_int_equal(hermes_scheduler_step(s, 3, NULL), 0);
        assert_int_equal(hermes_scheduler_reset(s), 0);
        assert_true(value(s, "decay.y") == 6.0);
        assert_true(value(s, "decay.x") == 2.0);
        hermes_scheduler_destroy(s);
        hermes_config_destroy(cfg);
    }
}

/* isolate: true. The FMU runs in hermes-fmu-host (a process module) and
 * gives the same results as in-process: the analytic solution, a tunable
 * parameter between steps, reset; the unpack folder goes with the scheduler. */
static void test_fmu_isolated_matches_analytic(void **state)
{
    (void)state;
    static const char *const variants[] = {"good3", "good"};
    for (size_t v = 0; v < 2; v++) {
        hermes_config_t *cfg = NULL;
        hermes_error_t err;
        int before = count_unpacked();
        assert_int_equal(load(&cfg, variants[v], "    isolate: true\n", &err), 0);
        hermes_scheduler_t *s = NULL;
        assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
        assert_int_equal(count_unpacked(), before + 1);
        assert_int_equal(hermes_scheduler_stage(s), 0);
        assert_true(value(s, "decay.x") == 2.0);  /* the FMU's output after initialisation */
        assert_int_equal(hermes_scheduler_step(s, 25, NULL), 0);
        double x = value(s, "decay.x");
        assert_true(fabs(x - analytic(2.0, 1.0, 0.5, 2.5)) < 1e-12);
        assert_true(value(s, "decay.n") == 25.0);
        set_value(s, "decay.k", 2.0);
        assert_int_equal(hermes_scheduler_step(s, 5, NULL), 0);
        assert_true(fabs(value(s, "decay.x") - analytic(x, 2.0, 0.5, 0.5)) < 1e-12);
        assert_int_equal(hermes_scheduler_reset(s), 0);
        assert_true(value(s, "decay.x") == 2.0);
        assert_int_equal(hermes_scheduler_step(s, 10, NULL), 0);
        assert_true(fabs(value(s, "decay.x") - analytic(2.0, 1.0, 0.5, 1.0)) < 1e-12);
        hermes_scheduler_destroy(s);
        assert_int_equal(count_unpacked(), before);
        hermes_config_destroy(cfg);
    }
}

/* FNV-1a of every model signal (hermes.* timing signals excepted). */
static uint64_t model_hash(hermes_scheduler_t *s)
{
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < hermes_backplane_count(bp); i++) {
        hermes_signal_info_t si;
        assert_int_equal(hermes_backplane_info(bp, i, &si), 0);
        if (!strcmp(si.module, "hermes"))
            continue;
        const unsigned char *b = (const unsigned char *)hermes_backplane_slot(bp, si.id);
        for (int k = 0; k < 8; k++)
            h = (h ^ b[k]) * 0x100000001b3ull;
    }
    return h;
}

#define CK_END 40u
#define CK_AT 20u

/* Frames from the scheduler's current one to CK_END, one at a time, with the
 * input changed at frame 10 and the tunable k at frame 25: the hash after each. */
static void ck_steps(hermes_scheduler_t *s, uint64_t *hash, uint64_t until)
{
    for (uint64_t f = hermes_scheduler_frame(s); f < until; f++) {
        if (f == 10)
            set_value(s, "src.uu", 0.8);
        if (f == 25)
            set_value(s, "decay.k", 1.5);
        if (hermes_scheduler_step(s, 1, NULL) != 0)
            fail_msg("frame %llu: %s", (unsigned long long)f, hermes_scheduler_error(s));
        hash[hermes_scheduler_frame(s)] = model_hash(s);
    }
}

/* An FMU that declares the FMU state capability (FMI 2 and 3, in process and
 * isolated): a run continued from a checkpoint of frame 20 is bit-identical
 * to the straight run; one that does not declare it cannot checkpoint. */
static void test_fmu_checkpoint_continues_bit_identical(void **state)
{
    (void)state;
    static const char *const variants[] = {"state", "state3"};
    char path[256];
    snprintf(path, sizeof path, "/tmp/hermes-fmu-ckpt-%ld.hckpt", (long)getpid());
    for (int iso = 0; iso < 2; iso++) {
        for (size_t v = 0; v < 2; v++) {
            hermes_config_t *cfg = NULL;
            hermes_error_t err;
            assert_int_equal(load(&cfg, variants[v], iso ? "    isolate: true\n" : NULL, &err), 0);
            static uint64_t a[CK_END + 1], c[CK_END + 1];
            hermes_scheduler_t *s = NULL;
            assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
            assert_int_equal(hermes_scheduler_stage(s), 0);
            ck_steps(s, a, CK_END);
            hermes_scheduler_destroy(s);
            /* B: to frame 20, checkpoint, stop. */
            assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
            assert_int_equal(hermes_scheduler_stage(s), 0);
            assert_int_equal(hermes_scheduler_checkpoint_check(s), 0);
            ck_steps(s, c, CK_AT);
            if (hermes_scheduler_checkpoint(s, path) != 0)
                fail_msg("%s%s: checkpoint: %s", variants[v], iso ? " isolated" : "", hermes_last_error());
            hermes_scheduler_destroy(s);
            /* C: a new run restored from it, on to the end. */
            memset(c, 0, sizeof c);
            assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
            assert_int_equal(hermes_scheduler_stage(s), 0);
            if (hermes_scheduler_restore(s, path) != 0)
                fail_msg("%s%s: restore: %s", variants[v], iso ? " isolated" : "", hermes_last_error());
            assert_int_equal(hermes_scheduler_frame(s), CK_AT);
            ck_steps(s, c, CK_END);
            for (uint32_t f = CK_AT + 1; f <= CK_END; f++)
                if (c[f] != a[f])
                    fail_msg("%s%s: frame %u differs after the restore", variants[v], iso ? " isolated" : "", f);
            assert_true(value(s, "decay.n") == (double)CK_END);   /* the FMU's own counter came back too */
            hermes_scheduler_destroy(s);
            hermes_config_destroy(cfg);
        }
        /* Without the capability: refused before any run, naming the module. */
        hermes_config_t *cfg = NULL;
        hermes_error_t err;
        assert_int_equal(load(&cfg, "good", iso ? "    isolate: true\n" : NULL, &err), 0);
        hermes_scheduler_t *s = NULL;
        assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
        assert_int_equal(hermes_scheduler_stage(s), 0);
        assert_int_equal(hermes_scheduler_checkpoint_check(s), HERMES_ENOTSUP);
        if (!strstr(hermes_last_error(), "module 'decay' (fmu): the FMU does not declare the FMU state capability"))
            fail_msg("message: %s", hermes_last_error());
        assert_int_equal(hermes_scheduler_checkpoint_at(s, 5, path), HERMES_ENOTSUP);
        hermes_scheduler_destroy(s);
        hermes_config_destroy(cfg);
    }
    unlink(path);
}

/* A segfault in doStep of an isolated FMU is contained: this process goes
 * on, the step fails naming the module and the signal, nothing is left. */
static void test_fmu_isolated_crash_contained(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    int before = count_unpacked();
    assert_int_equal(load(&cfg, "good3", "    isolate: true\n", &err), 0);
    assert_int_equal(hermes_config_set_initial(cfg, "decay.crash_at", 3), 0);
    hermes_scheduler_t *s = NULL;
    assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
    assert_int_equal(hermes_scheduler_stage(s), 0);
    assert_int_equal(hermes_scheduler_step(s, 10, NULL), HERMES_EMODULE);
    const char *msg = hermes_last_error();
    if (!strstr(msg, "module 'decay' step failed at frame 3") || !strstr(msg, CRASH_TEXT))
        fail_msg("message: %s", msg);
    assert_true(value(s, "decay.n") == 3.0);
    hermes_scheduler_destroy(s);
    assert_int_equal(count_unpacked(), before);
    hermes_config_destroy(cfg);
}

/* An isolated FMU whose instantiate fails refuses to start with the FMU's
 * error; an oversize archive (a zip bomb) is refused before anything is
 * unpacked. Nothing is left behind either way. */
static void test_fmu_isolated_start_failures(void **state)
{
    (void)state;
    int before = count_unpacked();
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    setenv("DECAY_FMU_NO_INSTANCE", "1", 1);
    assert_int_equal(load(&cfg, "good3", "    isolate: true\n", &err), 0);
    hermes_scheduler_t *s = NULL;
    assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), HERMES_EMODULE);
    const char *msg = hermes_last_error();
    if (!strstr(msg, "decay") || !strstr(msg, "refused to start") || !strstr(msg, "fmi3InstantiateCoSimulation failed"))
        fail_msg("message: %s", msg);
    unsetenv("DECAY_FMU_NO_INSTANCE");
    assert_int_equal(count_unpacked(), before);
    hermes_config_destroy(cfg);

    const char *t = "execution: {mode: single_frame, rate_hz: 10}\n"
                    "modules:\n"
                    "  big: {type: fmu, fmu: decay_huge3.fmu, isolate: true}\n";
    assert_int_equal(hermes_config_parse(&cfg, t, strlen(t), "fmu.yaml", HERMES_TEST_BUILDDIR, &err), 0);
    assert_int_equal(hermes_config_validate(cfg, &err), 0);
    assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), HERMES_ECONFIG);
    msg = hermes_last_error();
    if (!strstr(msg, "module 'big'") || !strstr(msg, "unpacked size exceeds the limit of 512 MiB"))
        fail_msg("message: %s", msg);
    assert_int_equal(count_unpacked(), before);
    hermes_config_destroy(cfg);
}

/* Every FMI 3 type through its own fmi3Get/Set call (tests/fmu/feed3.c feeds
 * each input to an output of the same type), with each type's extreme values:
 * the Hermes signal types, and the values back unchanged. The 64-bit
 * extremes travel as their nearest doubles (INT64_MAX as 2^63, UINT64_MAX as
 * 2^64: the starts in the file) and reach the FMU saturated, not wrapped.
 * A value outside an input's FMI type range fails the step naming it. */
static void test_fmu3_every_type_round_trips(void **state)
{
    (void)state;
    static const struct { const char *name; hermes_type_t type; double value; } k[] = {
        {"Float32", HERMES_TYPE_F32, 1.5},           {"Float64", HERMES_TYPE_F64, -2.25e300},
        {"Int8", HERMES_TYPE_I32, -128},             {"UInt8", HERMES_TYPE_I32, 255},
        {"Int16", HERMES_TYPE_I32, -32768},          {"UInt16", HERMES_TYPE_I32, 65535},
        {"Int32", HERMES_TYPE_I32, -2147483648.0},   {"UInt32", HERMES_TYPE_I64, 4294967295.0},
        {"Int64", HERMES_TYPE_I64, 0x1p63},         {"UInt64", HERMES_TYPE_F64, 0x1p64},
        {"Boolean", HERMES_TYPE_BOOL, 1},            {"Enumeration", HERMES_TYPE_I64, 2},
    };
    const char *t = "execution: {mode: single_frame, rate_hz: 10}\n"
                    "modules:\n"
                    "  f: {type: fmu, fmu: decay_feed3.fmu}\n";
    hermes_config_t *cfg = NULL;
    hermes_scheduler_t *s = staged(t, &cfg);
    assert_true(value(s, "f.Int64_input") == 0x1p63);   /* start 9223372036854775807 */
    assert_true(value(s, "f.UInt64_input") == 0x1p64);  /* start 18446744073709551615 */
    char in[64], out[64];
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        snprintf(in, sizeof in, "f.%s_input", k[i].name);
        snprintf(out, sizeof out, "f.%s_output", k[i].name);
        assert_int_equal(info(s, in).type, k[i].type);
        assert_int_equal(info(s, out).type, k[i].type);
        set_value(s, in, k[i].value);
    }
    assert_true(value(s, "f.Enumeration_output") == 1.0);  /* its start, through fmi3GetInt64 */
    assert_int_equal(hermes_scheduler_step(s, 1, NULL), 0);
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        snprintf(out, sizeof out, "f.%s_output", k[i].name);
        if (value(s, out) != k[i].value)
            fail_msg("%s: %.17g, expected %.17g", out, value(s, out), k[i].value);
    }
    set_value(s, "f.Int64_input", -0x1p63);
    assert_int_equal(hermes_scheduler_step(s, 1, NULL), 0);
    assert_true(value(s, "f.Int64_output") == -0x1p63);
    hermes_scheduler_destroy(s);
    static const struct { const char *name; double value; const char *text; } bad[] = {
        {"f.UInt8_input", 256, "input 256 of 'UInt8_input' at t=0 (UInt8) is outside 0 .. 255"},
        {"f.UInt32_input", -1, "input -1 of 'UInt32_input' at t=0 (UInt32) is outside 0 .. 2^32-1"},
        {"f.UInt64_input", 1.5, "input 1.5 of 'UInt64_input' at t=0 (UInt64) is not an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
        assert_int_equal(hermes_scheduler_stage(s), 0);
        set_value(s, bad[i].name, bad[i].value);
        int rc = hermes_scheduler_step(s, 1, NULL);
        if (rc != HERMES_EMODULE || !strstr(hermes_last_error(), bad[i].text))
            fail_msg("%s = %g: rc %d, message '%s'", bad[i].name, bad[i].value, rc, hermes_last_error());
        hermes_scheduler_destroy(s);
    }
    /* A start the FMU refuses (feed3 takes only the enumeration's items 1 and
     * 2) fails the stage naming the variable. */
    assert_int_equal(hermes_config_set_initial(cfg, "f.Enumeration_input", 3), 0);
    assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), 0);
    assert_int_equal(hermes_scheduler_stage(s), HERMES_EMODULE);
    if (!strstr(hermes_last_error(), "setting 'Enumeration_input' to 3 before initialisation returned fmi3Error"))
        fail_msg("message: %s", hermes_last_error());
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

struct bad { const char *variant, *extra, *text; };

static void test_fmu_bad_input_refused(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        {"missing", NULL, "decay_missing.fmu"},
        {"v4", NULL, "fmiVersion '4.0' is not 2.0 or 3.x"},
        {"v1", NULL, "is not 2.0 or 3.x"},
        {"me", NULL, "model-exchange-only"},
        {"badxml", NULL, "modelDescription.xml:"},
        {"nomd", NULL, "no modelDescription.xml"},
        {"dup", NULL, "both map to the signal name 'x_'"},
        {"good", "    locals: maybe\n", "expected true or false"},
        {"good", "    signals:\n      - {name: y, type: f64}\n", "signals come from its FMU"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hermes_config_t *cfg = NULL;
        hermes_error_t err;
        memset(&err, 0, sizeof err);
        int rc = load(&cfg, cases[i].variant, cases[i].extra, &err);
        if (rc == 0 || !strstr(err.message, cases[i].text))
            fail_msg("case %s: rc %d, message '%s'", cases[i].variant, rc, err.message);
        assert_true(err.line > 0);
        hermes_config_destroy(cfg);
    }
}

static void test_fmu_bad_archive_at_start(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        {"nobin", NULL, "no binary for this platform (binaries/linux64/decay.so); it has: win64"},
        {"slip", NULL, "escapes the unpack folder"},
        {"nobin3", NULL, "no binary for this platform (binaries/x86_64-linux/decay3.so); it has: "},
        {"nobin3", NULL, "x86_64-windows"},
        {"nobin3", NULL, "aarch64-linux"},
        {"nofunc3", NULL, "does not export the required function fmi3Reset()"},
    };
    int before = count_unpacked();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hermes_config_t *cfg = NULL;
        hermes_error_t err;
        assert_int_equal(load(&cfg, cases[i].variant, NULL, &err), 0);
        hermes_scheduler_t *s = NULL;
        int rc = hermes_scheduler_create(&s, cfg, NULL);
        if (rc == 0 || !strstr(hermes_last_error(), cases[i].text))
            fail_msg("case %s: rc %d, message '%s'", cases[i].variant, rc, hermes_last_error());
        assert_int_equal(count_unpacked(), before);
        hermes_config_destroy(cfg);
    }
    setenv("DECAY_FMU_NO_INSTANCE", "1", 1);
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    assert_int_equal(load(&cfg, "good", NULL, &err), 0);
    hermes_scheduler_t *s = NULL;
    assert_int_equal(hermes_scheduler_create(&s, cfg, NULL), HERMES_EMODULE);
    assert_non_null(strstr(hermes_last_error(), "fmi2Instantiate failed"));
    assert_int_equal(count_unpacked(), before);
    unsetenv("DECAY_FMU_NO_INSTANCE");
    hermes_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmu_decay_matches_analytic),
        cmocka_unit_test(test_fmu_own_rate),
        cmocka_unit_test(test_fmu_initial_overrides_start),
        cmocka_unit_test(test_fmu_step_error_fails_module),
        cmocka_unit_test(test_fmu_fixed_parameter_initial_only),
        cmocka_unit_test(test_fmu3_decay_matches_analytic),
        cmocka_unit_test(test_fmu3_initial_overrides_start),
        cmocka_unit_test(test_fmu3_step_outcomes_end_the_run),
        cmocka_unit_test(test_fmu_terminate_ends_run_normally),
        cmocka_unit_test(test_fmu_initialised_with_wired_inputs),
        cmocka_unit_test(test_fmu2_discard_fails_the_module),
        cmocka_unit_test(test_fmu_terminate_only_when_allowed),
        cmocka_unit_test(test_fmu3_every_type_round_trips),
        cmocka_unit_test(test_fmu_isolated_matches_analytic),
        cmocka_unit_test(test_fmu_isolated_crash_contained),
        cmocka_unit_test(test_fmu_checkpoint_continues_bit_identical),
        cmocka_unit_test(test_fmu_isolated_start_failures),
        cmocka_unit_test(test_fmu_bad_input_refused),
        cmocka_unit_test(test_fmu_bad_archive_at_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
