/* The config's execution.checkpoint section (issue 21): YAML, builder,
 * errors with their FILE:LINE:COL, and `hermes run` taking the checkpoints it
 * names, with --checkpoint / --checkpoint-at overriding each field. */
#include <stdlib.h>
#include <sys/stat.h>

#include "config_parse.h"
#include "hermes/config.h"

#ifndef HERMES_CLI
#error "HERMES_CLI must name the hermes executable"
#endif

#define BASE                                     \
    "modules:\n"                                 \
    "  plant:\n"                                 \
    "    type: injection\n"                      \
    "    signals:\n"                             \
    "      - {name: x, type: f64, initial: 2.5}\n" \
    "execution:\n"                               \
    "  mode: afap\n"                             \
    "  end_time: 5\n"

static void test_config_checkpoint_section(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(BASE);
    hermes_checkpoint_settings_t ck;
    assert_hermes_ok(hermes_config_checkpoint(cfg, &ck));
    assert_null(ck.file);
    assert_null(ck.at);
    assert_int_equal(ck.at_count, 0);
    hermes_config_destroy(cfg);

    cfg = parse_ok(BASE "  checkpoint:\n    file: out/ck\n    at: [10, 20.5, 0]\n");
    assert_hermes_ok(hermes_config_checkpoint(cfg, &ck));
    assert_string_equal(ck.file, "out/ck");
    assert_int_equal(ck.at_count, 3);
    assert_true(ck.at[0] == 10 && ck.at[1] == 20.5 && ck.at[2] == 0);
    hermes_config_destroy(cfg);

    cfg = parse_ok(BASE "  checkpoint: {file: a.hckpt, at: [7]}\n");
    assert_hermes_ok(hermes_config_checkpoint(cfg, &ck));
    assert_string_equal(ck.file, "a.hckpt");
    assert_int_equal(ck.at_count, 1);
    assert_true(ck.at[0] == 7);
    hermes_config_destroy(cfg);
}

static void test_config_checkpoint_errors(void **state)
{
    (void)state;
    parse_fails(BASE "  checkpoint:\n    file: a\n    at: [1, -2]\n", 11, 13, "execution.checkpoint.at[1]",
                "finite number of seconds >= 0");
    parse_fails(BASE "  checkpoint:\n    file: a\n    at: [1, 2x]\n", 11, 13, "execution.checkpoint.at[1]",
                "invalid number '2x'");
    parse_fails(BASE "  checkpoint:\n    file: a\n    at: [nan]\n", 11, 10, "execution.checkpoint.at[0]",
                "finite number of seconds >= 0");
    parse_fails(BASE "  checkpoint:\n    file: a\n", 10, 11, "execution.checkpoint.file", "needs 'at' too");
    parse_fails(BASE "  checkpoint:\n    at: [3]\n", 10, 9, "execution.checkpoint.at", "needs 'file' too");
    parse_fails(BASE "  checkpoint:\n    file: \"\"\n    at: [3]\n", 10, 11, "execution.checkpoint.file",
                "must not be empty");
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    const char *bad = BASE "  checkpoint:\n    file: a\n    every: 3\n";
    assert_int_equal(hermes_config_parse(&cfg, bad, strlen(bad), "t.yaml", NULL, &err), HERMES_ECONFIG);
    assert_contains(err.message, "every");
    assert_true(err.line > 0);
}

static void test_config_checkpoint_builder(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(BASE);
    const double at[] = {1, 2};
    hermes_checkpoint_settings_t ck = {"f", at, 2}, out;
    assert_hermes_ok(hermes_config_set_checkpoint(cfg, &ck));
    assert_hermes_ok(hermes_config_checkpoint(cfg, &out));
    assert_string_equal(out.file, "f");
    assert_true(out.at != at && out.at_count == 2 && out.at[1] == 2);   /* copied */
    ck = (hermes_checkpoint_settings_t){"f", NULL, 0};
    assert_hermes_rc(hermes_config_set_checkpoint(cfg, &ck), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "execution.checkpoint.file: needs 'at' too");
    const double neg[] = {-1};
    ck = (hermes_checkpoint_settings_t){"f", neg, 1};
    assert_hermes_rc(hermes_config_set_checkpoint(cfg, &ck), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "execution.checkpoint.at[0]");
    assert_hermes_rc(hermes_config_set_checkpoint(NULL, &ck), HERMES_EINVAL);
    assert_hermes_rc(hermes_config_set_checkpoint(cfg, NULL), HERMES_EINVAL);
    assert_hermes_ok(hermes_config_checkpoint(cfg, &out));   /* refusals changed nothing */
    assert_int_equal(out.at_count, 2);
    ck = (hermes_checkpoint_settings_t){NULL, NULL, 0};
    assert_hermes_ok(hermes_config_set_checkpoint(cfg, &ck));
    assert_hermes_ok(hermes_config_checkpoint(cfg, &out));
    assert_null(out.file);
    assert_int_equal(out.at_count, 0);
    hermes_config_destroy(cfg);
}

/* `hermes run DIR/c.yaml [ARGS]` bounded by timeout(1); its log in DIR/out. The exit status. */
static int run_cli(const char *dir, const char *args, char *log, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && timeout -s KILL 30 '%s' run c.yaml --no-server %s > out 2>&1", dir,
             HERMES_CLI, args);
    int st = system(cmd);
    char path[512];
    snprintf(path, sizeof path, "%s/out", dir);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(log, 1, cap - 1, f) : 0;
    log[n] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool exists(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static void test_config_checkpoint_cli_run(void **state)
{
    (void)state;
    char dir[] = "/tmp/hermes-cfgck-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512], log[16384];
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(BASE "  rate_hz: 100\n  checkpoint:\n    file: y.hckpt   # relative to the current directory\n"
               "    at: [3]\n", f);
    fclose(f);
    /* The config alone: frame 300 into y.hckpt (the run's directory). */
    if (run_cli(dir, "", log, sizeof log) != 0)
        fail_msg("hermes run failed:\n%s", log);
    assert_contains(log, "event=checkpoint frame=300 path=\"y.hckpt\"");
    assert_true(exists(dir, "y.hckpt"));
    /* --checkpoint-at replaces the times, the file stays the config's. */
    assert_int_equal(run_cli(dir, "--checkpoint-at 4", log, sizeof log), 0);
    assert_contains(log, "event=checkpoint frame=400 path=\"y.hckpt\"");
    /* --checkpoint replaces the file: with the config's one time, a plain file. */
    assert_int_equal(run_cli(dir, "--checkpoint z.hckpt", log, sizeof log), 0);
    assert_contains(log, "event=checkpoint frame=300 path=\"z.hckpt\"");
    /* Both: a folder with several times. */
    snprintf(path, sizeof path, "%s/many", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(run_cli(dir, "--checkpoint many --checkpoint-at 1,2", log, sizeof log), 0);
    assert_true(exists(dir, "many/checkpoint-100.hckpt") && exists(dir, "many/checkpoint-200.hckpt"));
    /* The config's one time with a folder that does not exist for several: refused, no run. */
    assert_int_equal(run_cli(dir, "--checkpoint-at 1,2", log, sizeof log), 2);
    assert_contains(log, "y.hckpt must be an existing folder");
    /* And it restores: the value was saved. */
    assert_int_equal(run_cli(dir, "--restore y.hckpt --checkpoint-at 4.5 --checkpoint w.hckpt", log, sizeof log), 0);
    assert_contains(log, "event=restored path=\"y.hckpt\" frame=400");
    assert_contains(log, "event=checkpoint frame=450 path=\"w.hckpt\"");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_checkpoint_section),
        cmocka_unit_test(test_config_checkpoint_errors),
        cmocka_unit_test(test_config_checkpoint_builder),
        cmocka_unit_test(test_config_checkpoint_cli_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
