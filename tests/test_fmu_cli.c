/* FMU modules end to end (issue 20): a real `hermes run` of the test FMU
 * tests/fmu/decay.c, driven over a WebSocket on 127.0.0.1 (port 0 read back
 * from the log line event=listening). */
#include "test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "ws_client.h"

#include "hermes_child.h"

static char cfgpath[256];

/* Write a config running decay_good.fmu (u wired from src.uu = 0.5) and
 * return its path. */
static const char *write_config(const char *extra_module_fields)
{
    snprintf(cfgpath, sizeof cfgpath, "%s/fmu_cli_%ld.yaml", HERMES_TEST_BUILDDIR, (long)getpid());
    FILE *f = fopen(cfgpath, "w");
    assert_non_null(f);
    fprintf(f,
            "execution: {mode: afap, rate_hz: 10}\n"
            "server: {enabled: true}\n"
            "modules:\n"
            "  src:\n"
            "    type: injection\n"
            "    signals:\n"
            "      - {name: uu, type: f64, writable: true, initial: 0.5}\n"
            "  decay:\n"
            "    type: fmu\n"
            "    fmu: %s/decay_good.fmu\n%s"
            "wiring:\n"
            "  - {src: src.uu, dst: decay.u}\n",
            HERMES_TEST_BUILDDIR, extra_module_fields ? extra_module_fields : "");
    fclose(f);
    return cfgpath;
}

static int start_hermes(const char *const *args)
{
    static int n;
    snprintf(logpath, sizeof logpath, "%s/fmu_cli_%ld_%d.log", HERMES_TEST_BUILDDIR, (long)getpid(), n++);
    spawn_hermes(args);
    return wait_listening_port(10);
}

static int teardown(void **state)
{
    (void)state;
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    if (logpath[0] && getenv("HERMES_KEEP_LOGS") == NULL)
        unlink(logpath);
    if (cfgpath[0])
        unlink(cfgpath);
    return 0;
}

static double value_of(struct wsc_conn *c, uint32_t i)
{
    hermes_telemetry_header_t h;
    if (!c->last_bin || hermes_telemetry_decode_header(c->last_bin, c->last_bin_len, &h) != 0 || i >= h.count)
        return NAN;
    return hermes_telemetry_value(c->last_bin, i);
}

static uint64_t frame_of(struct wsc_conn *c)
{
    hermes_telemetry_header_t h;
    if (!c->last_bin || hermes_telemetry_decode_header(c->last_bin, c->last_bin_len, &h) != 0)
        return UINT64_MAX;
    return h.frame;
}

static bool until_frame(struct wsc *w, struct wsc_conn *c, uint64_t f, double s)
{
    double end = wsc_now() + s;
    while (wsc_now() < end && (frame_of(c) == UINT64_MAX || frame_of(c) < f))
        wsc_service(w);
    return frame_of(c) != UINT64_MAX && frame_of(c) >= f;
}

#define EXPECT(j, type_, act)                                                                          \
    do {                                                                                               \
        json_t *j_ = (j);                                                                              \
        if (!j_ || strcmp(js(j_, "type"), type_) || strcmp(js(j_, "action"), act))                     \
            fail_msg("expected %s of %s, got %s", type_, act, j_ ? json_dumps(j_, 0) : "nothing");     \
    } while (0)

static double analytic(double x0, double k, double u, double t) { return u / k + (x0 - u / k) * exp(-k * t); }

/* A protocol `set` of the fixed parameter x0 while running is refused with an
 * error that names the signal and says why; `--set decay.x0=3` before the run
 * is applied, and a set of the tunable k is accepted and used. */
static void test_fmu_cli_set_fixed_parameter_refused(void **state)
{
    (void)state;
    const char *args[] = {write_config(NULL), "--port", "0", "--paused", "--set", "decay.x0=3", NULL};
    int port = start_hermes(args);
    assert_true(port > 0);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn c;
    assert_int_equal(wsc_connect(&w, &c, port, "hermes"), 0);
    json_decref(wsc_wait(&w, &c, "schema", NULL, 3));
    json_t *j = wsc_cmd(&w, &c, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"decay.x\",\"decay.x0\"]}}", 3);
    EXPECT(j, "ack", "subscribe");
    json_decref(j);

    j = wsc_cmd(&w, &c, "{\"action\":\"set\",\"params\":{\"signal\":\"decay.x0\",\"value\":5}}", 3);
    EXPECT(j, "error", "set");
    const char *msg = js(j, "message");
    if (!strstr(msg, "decay.x0") || !strstr(msg, "fixed FMU parameter") || !strstr(msg, "cannot be set while running"))
        fail_msg("message: %s", msg);
    json_decref(j);

    j = wsc_cmd(&w, &c, "{\"action\":\"set\",\"params\":{\"signal\":\"decay.k\",\"value\":2}}", 3);
    EXPECT(j, "ack", "set");
    json_decref(j);
    j = wsc_cmd(&w, &c, "{\"action\":\"step\",\"params\":{\"count\":10}}", 3);
    EXPECT(j, "ack", "step");
    json_decref(j);
    assert_true(until_frame(&w, &c, 10, 3));
    wsc_pump(&w, 0.2);
    /* x0 stayed 3 (the --set), k = 2 from the first step on */
    assert_true(value_of(&c, 1) == 3.0);
    double x = value_of(&c, 0);
    if (!(fabs(x - analytic(3.0, 2.0, 0.5, 1.0)) < 1e-12))
        fail_msg("x = %.17g, expected %.17g", x, analytic(3.0, 2.0, 0.5, 1.0));
    wsc_conn_free(&c);
    wsc_destroy(&w);
    kill(child, SIGINT);
    assert_int_equal(wait_hermes(5), 130);
    assert_true(log_contains("fixed FMU parameter"));
}

/* Unpack folders of @p pid under @p tmp: how many, the last one's path in @p path. */
static int folders_of(const char *tmp, pid_t pid, char *path, size_t cap)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "hermes-fmu-%ld-", (long)pid);
    DIR *d = opendir(tmp);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            n++;
            snprintf(path, cap, "%s/%s", tmp, e->d_name);
        }
    if (d)
        closedir(d);
    return n;
}

/* `hermes WHAT ARG` (ARG NULL: none) with its output in @p out; the exit status. */
static int run_cmd(const char *what, const char *arg, char *out, size_t cap)
{
    char cmd[900];
    snprintf(cmd, sizeof cmd, "'%s' %s %s 2>&1", HERMES_CLI, what, arg ? arg : "");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A run killed with SIGKILL leaves its unpack folder; `hermes clean
 * --dry-run` lists it, `hermes clean` removes it and says so, and the
 * folder of a live run is left alone. */
static void test_fmu_cli_clean_removes_stale_folders(void **state)
{
    (void)state;
    char tmp[300], out[4096], stale[600], live[600];
    snprintf(tmp, sizeof tmp, "%s/fmu_clean_%ld", HERMES_TEST_BUILDDIR, (long)getpid());
    mkdir(tmp, 0700);
    setenv("TMPDIR", tmp, 1);
    const char *args[] = {write_config(NULL), "--port", "0", "--paused", NULL};
    assert_true(start_hermes(args) > 0);  /* a live run: never touched */
    pid_t alive = child;
    assert_int_equal(folders_of(tmp, alive, live, sizeof live), 1);
    char alive_log[256];
    snprintf(alive_log, sizeof alive_log, "%s", logpath);

    assert_true(start_hermes(args) > 0);
    pid_t dead = child;
    assert_int_equal(folders_of(tmp, dead, stale, sizeof stale), 1);
    kill(child, SIGKILL);
    assert_int_equal(wait_hermes(5), 128 + SIGKILL);
    assert_int_equal(folders_of(tmp, dead, stale, sizeof stale), 1);  /* left behind */
    unlink(logpath);
    snprintf(logpath, sizeof logpath, "%s", alive_log);
    child = alive;

    assert_int_equal(run_cmd("clean", "--dry-run", out, sizeof out), 0);
    char want[800];
    snprintf(want, sizeof want, "stale FMU folder %s (owner pid %ld is gone)", stale, (long)dead);
    if (!strstr(out, want) || !strstr(out, "1 stale FMU folder found"))
        fail_msg("dry run said: %s", out);
    assert_int_equal(folders_of(tmp, dead, stale, sizeof stale), 1);

    assert_int_equal(run_cmd("clean", NULL, out, sizeof out), 0);
    snprintf(want, sizeof want, "removed FMU folder %s (owner pid %ld is gone)", stale, (long)dead);
    if (!strstr(out, want) || !strstr(out, "1 stale FMU folder removed"))
        fail_msg("clean said: %s", out);
    assert_int_equal(folders_of(tmp, dead, stale, sizeof stale), 0);
    assert_int_equal(folders_of(tmp, alive, live, sizeof live), 1);

    kill(child, SIGINT);
    assert_int_equal(wait_hermes(5), 130);
    assert_int_equal(folders_of(tmp, alive, live, sizeof live), 0);  /* removed at exit */
    unsetenv("TMPDIR");
    rmdir(tmp);
}

/* Whether the line of @p text that starts with @p start ends with @p end. */
static bool line_ends(const char *text, const char *start, const char *end)
{
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, start, strlen(start)) != 0)
            continue;
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l), el = strlen(end);
        return len >= el && strncmp(l + len - el, end, el) == 0;
    }
    return false;
}

/* `hermes validate` names each FMU variable that is not a signal, with why;
 * `hermes signals` shows fixed parameters as "initial only". */
static void test_fmu_cli_validate_lists_skipped(void **state)
{
    (void)state;
    snprintf(cfgpath, sizeof cfgpath, "%s/fmu_cli_v_%ld.yaml", HERMES_TEST_BUILDDIR, (long)getpid());
    FILE *f = fopen(cfgpath, "w");
    assert_non_null(f);
    fprintf(f, "execution: {mode: afap, rate_hz: 10}\n"
               "modules:\n"
               "  d3: {type: fmu, fmu: %s/decay_good3.fmu}\n"
               "  d2: {type: fmu, fmu: %s/decay_good.fmu}\n", HERMES_TEST_BUILDDIR, HERMES_TEST_BUILDDIR);
    fclose(f);
    char out[4096];
    assert_int_equal(run_cmd("validate", cfgpath, out, sizeof out), 0);
    static const char *const want[] = {
        "module d3: 4 FMU variables are not signals:\n",
        "  skipped d3.time: the independent variable (time)\n",
        "  skipped d3.label: a String variable\n",
        "  skipped d3.blob: a Binary variable\n",
        "  skipped d3.vec: an array\n",
        "module d2: 1 FMU variable is not a signal:\n",
        "  skipped d2.label: a String variable\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(out, want[i]))
            fail_msg("no '%s' in:\n%s", want[i], out);
    /* hermes signals: a fixed parameter is "initial only", a tunable one writable */
    assert_int_equal(run_cmd("signals", cfgpath, out, sizeof out), 0);
    if (!line_ends(out, "d3.x0 ", "initial only") || !line_ends(out, "d3.k ", "yes") ||
        !line_ends(out, "d2.x0 ", "initial only") || !line_ends(out, "d3.x ", "no"))
        fail_msg("hermes signals:\n%s", out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fmu_cli_set_fixed_parameter_refused, teardown),
        cmocka_unit_test_teardown(test_fmu_cli_clean_removes_stale_folders, teardown),
        cmocka_unit_test_teardown(test_fmu_cli_validate_lists_skipped, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
