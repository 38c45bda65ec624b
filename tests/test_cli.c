/* The hermes executable, run as a user would: exit codes and messages. */
#include "test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef HERMES_CLI
#error "HERMES_CLI must be the path of the hermes executable"
#endif
#define DEMO HERMES_TEST_BUILDDIR "/../examples/launch/launch.yaml"

static char tmpdir[128];
static char out_path[256], err_path[256];
static char out_text[65536], err_text[65536];

static void slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Start hermes with argv; optionally send @p sig after @p delay seconds.
 * Waits at most 60 s, then kills. Returns the exit status (128+N if killed). */
static int hermes_run(const char *const *args, int sig, double delay)
{
    const char *argv[32] = {HERMES_CLI};
    int n = 1;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0)
            _exit(120);
        dup2(o, 1);
        dup2(e, 2);
        execv(HERMES_CLI, (char *const *)argv);
        _exit(127);
    }
    double start = test_now();
    bool sent = false;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        double el = test_now() - start;
        if (sig && !sent && el >= delay) {
            kill(pid, sig);
            sent = true;
        }
        if (el > 60) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("hermes did not finish within 60 s");
        }
        usleep(2000);
    }
    slurp(out_path, out_text, sizeof out_text);
    slurp(err_path, err_text, sizeof err_text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[8][256];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hermes-cli-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_cli_version_and_usage(void **state)
{
    (void)state;
    assert_int_equal(hermes_run((const char *[]){"version", NULL}, 0, 0), 0);
    assert_contains(out_text, "hermes " HERMES_VERSION_STRING);
    assert_int_equal(hermes_run((const char *[]){NULL}, 0, 0), 2);
    assert_contains(err_text, "usage: hermes");
    assert_int_equal(hermes_run((const char *[]){"launch", NULL}, 0, 0), 2);
    assert_contains(err_text, "unknown command 'launch'");
    assert_int_equal(hermes_run((const char *[]){"--help", NULL}, 0, 0), 0);
    assert_contains(out_text, "validate CONFIG");
    const char *cmds[] = {"run", "validate", "signals", "clean"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(hermes_run((const char *[]){cmds[i], "--help", NULL}, 0, 0), 0);
        assert_contains(out_text, "usage: hermes ");
        assert_contains(out_text, cmds[i]);
    }
    assert_int_equal(hermes_run((const char *[]){"run", DEMO, "--port", "http", NULL}, 0, 0), 2);
    assert_contains(err_text, "--port");
    assert_int_equal(hermes_run((const char *[]){"run", DEMO, "--mode", "fast", NULL}, 0, 0), 2);
    assert_contains(err_text, "--mode");
    assert_int_equal(hermes_run((const char *[]){"run", NULL}, 0, 0), 2);
    assert_int_equal(hermes_run((const char *[]){"run", DEMO, "--log-format", "xml", NULL}, 0, 0), 2);
}

static void test_cli_validate(void **state)
{
    (void)state;
    assert_int_equal(hermes_run((const char *[]){"validate", DEMO, NULL}, 0, 0), 0);
    assert_contains(out_text, "ok:");
    assert_contains(out_text, "3 modules");
    const char *bad = write_file("bad.yaml",
                                 "modules:\n"
                                 "  m:\n"
                                 "    type: injection\n"
                                 "execution:\n"
                                 "  rate_hz: 2.5xyz\n");
    assert_int_equal(hermes_run((const char *[]){"validate", bad, NULL}, 0, 0), 3);
    assert_contains(err_text, "bad.yaml:5");
    assert_contains(err_text, "rate_hz");
    assert_int_equal(hermes_run((const char *[]){"validate", "/nonexistent/x.yaml", NULL}, 0, 0), 3);
    assert_contains(err_text, "/nonexistent/x.yaml");
}

static void test_cli_signals(void **state)
{
    (void)state;
    assert_int_equal(hermes_run((const char *[]){"signals", DEMO, NULL}, 0, 0), 0);
    assert_contains(out_text, "SIGNAL");
    assert_contains(out_text, "vehicle.position.altitude");
    assert_contains(out_text, "guidance.phase");
    assert_contains(strstr(out_text, "guidance.phase"), "20 Hz N=5 offset=0");   /* the demo's guidance rate */
    assert_contains(strstr(out_text, "vehicle.mass"), "100 Hz");
    const char *line = strstr(out_text, "commands.throttle");
    assert_non_null(line);
    assert_true(strncmp(line + strcspn(line, "\n") - 3, "yes", 3) == 0);
    line = strstr(out_text, "vehicle.mass");
    assert_non_null(line);
    assert_true(strncmp(line + strcspn(line, "\n") - 2, "no", 2) == 0);
    assert_contains(line, "kg");
}

static void test_cli_run_afap_finishes(void **state)
{
    (void)state;
    char name[96];
    test_run_name(name, sizeof name, "cli");
    assert_int_equal(hermes_run((const char *[]){"run", DEMO, "--mode", "afap", "--no-server", "--end-time", "10",
                                                 "--run-name", name, NULL}, 0, 0), 0);
    assert_contains(err_text, "event=start");
    assert_contains(err_text, "event=summary status=finished frames=1000 sim_time=10.000000");
    assert_contains(err_text, "overruns=0");
    assert_false(shm_exists(name));
}

static void test_cli_run_json_logs(void **state)
{
    (void)state;
    assert_int_equal(hermes_run((const char *[]){"run", DEMO, "--mode", "afap", "--no-server", "--end-time", "1",
                                                 "--log-format", "json", NULL}, 0, 0), 0);
    int lines = 0;
    for (char *l = err_text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
        if (*l == '\n')
            continue;
        assert_true(strncmp(l, "{\"ts\":\"", 7) == 0);
        char *end = strchr(l, '\n');
        assert_non_null(end);
        assert_true(end[-1] == '}');
        lines++;
    }
    assert_true(lines >= 3);
    assert_contains(err_text, "\"event\":\"summary\"");
    assert_contains(err_text, "\"frames\":100,");
}

static void interrupted(int sig, int want_status, const char *signame)
{
    char name[96];
    test_run_name(name, sizeof name, "sig");
    int st = hermes_run((const char *[]){"run", DEMO, "--mode", "realtime", "--no-server", "--run-name", name, NULL},
                        sig, 0.7);
    assert_int_equal(st, want_status);
    assert_contains(err_text, signame);
    assert_contains(err_text, "event=summary status=interrupted");
    assert_false(shm_exists(name));
}

static void test_cli_sigint_stops_cleanly(void **state)
{
    (void)state;
    interrupted(SIGINT, 130, "signal=SIGINT");
}

static void test_cli_sigterm_stops_cleanly(void **state)
{
    (void)state;
    interrupted(SIGTERM, 143, "signal=SIGTERM");
}

static void test_cli_module_failures(void **state)
{
    (void)state;
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "modules:\n  ext:\n    type: inproc\n    library: %s/libtest_stepfail.so\n"
             "execution:\n  mode: afap\n  rate_hz: 50\n  end_time: 5\n", HERMES_TEST_BUILDDIR);
    const char *stepfail = write_file("stepfail.yaml", yaml);
    assert_int_equal(hermes_run((const char *[]){"run", stepfail, NULL}, 0, 0), 1);
    assert_contains(err_text, "event=run_failed");
    assert_contains(err_text, "module 'ext' step failed at frame 10: actuator saturated");

    snprintf(yaml, sizeof yaml,
             "modules:\n  ext:\n    type: inproc\n    library: %s/libtest_initfail.so\n", HERMES_TEST_BUILDDIR);
    const char *initfail = write_file("initfail.yaml", yaml);
    assert_int_equal(hermes_run((const char *[]){"run", initfail, NULL}, 0, 0), 4);
    assert_contains(err_text, "event=start_failed");
    assert_contains(err_text, "calibration table missing");

    const char *badcfg = write_file("badcfg.yaml", "modules:\n  hermes:\n    type: injection\n");
    assert_int_equal(hermes_run((const char *[]){"run", badcfg, NULL}, 0, 0), 3);
    assert_contains(err_text, "event=config_invalid");
    assert_contains(err_text, "hermes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_version_and_usage),
        cmocka_unit_test(test_cli_validate),
        cmocka_unit_test(test_cli_signals),
        cmocka_unit_test(test_cli_run_afap_finishes),
        cmocka_unit_test(test_cli_run_json_logs),
        cmocka_unit_test(test_cli_sigint_stops_cleanly),
        cmocka_unit_test(test_cli_sigterm_stops_cleanly),
        cmocka_unit_test(test_cli_module_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
