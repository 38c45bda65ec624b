/* The config's record: section: YAML, builder, validation errors with positions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config_parse.h"
#include "hermes/config.h"
#include "config/internal.h"

#define BASE                                     \
    "modules:\n"                                 \
    "  plant:\n"                                 \
    "    type: injection\n"                      \
    "    signals:\n"                             \
    "      - {name: x, type: f64, unit: m}\n"    \
    "      - {name: n, type: i32}\n"

static void test_record_section_absent(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(BASE);
    hermes_record_settings_t r;
    assert_hermes_ok(hermes_config_record(cfg, &r));
    assert_false(r.enabled);
    assert_null(r.file);
    assert_int_equal(r.signal_count, 0);
    assert_int_equal(r.every, 0);
    assert_true(r.rate_hz == 0);
    hermes_config_destroy(cfg);
}

static void test_record_section_full(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(BASE "record:\n"
                                         "  file: out/run.h5\n"
                                         "  signals: [\"plant.x\", \"hermes.*\", \"*\"]\n"
                                         "  every: 10\n");
    hermes_record_settings_t r;
    assert_hermes_ok(hermes_config_record(cfg, &r));
    assert_true(r.enabled);
    assert_string_equal(r.file, "out/run.h5");
    assert_int_equal(r.signal_count, 3);
    assert_string_equal(r.signals[0], "plant.x");
    assert_string_equal(r.signals[1], "hermes.*");
    assert_string_equal(r.signals[2], "*");
    assert_int_equal(r.every, 10);
    hermes_config_destroy(cfg);

    cfg = parse_ok(BASE "record:\n  rate_hz: 12.5\n");
    assert_hermes_ok(hermes_config_record(cfg, &r));
    assert_true(r.enabled);
    assert_null(r.file);
    assert_true(r.rate_hz == 12.5);
    assert_int_equal(r.every, 0);
    hermes_config_destroy(cfg);

    cfg = parse_ok(BASE "record: {}\n");
    assert_hermes_ok(hermes_config_record(cfg, &r));
    assert_true(r.enabled);
    hermes_config_destroy(cfg);
}

static void test_record_section_errors(void **state)
{
    (void)state;
    parse_fails(BASE "record:\n  every: 0\n", 8, 10, "record.every", "invalid value '0'");
    parse_fails(BASE "record:\n  every: 2.5\n", 8, 10, "record.every", "invalid value '2.5'");
    parse_fails(BASE "record:\n  rate_hz: -3\n", 8, 12, "record.rate_hz", "positive number of Hz");
    parse_fails(BASE "record:\n  every: 2\n  rate_hz: 3\n", 9, 12, "record.rate_hz", "not both");
    parse_fails(BASE "record:\n  signals: [\"plant.x\", \"pl*nt\"]\n", 8, 24, "record.signals[1]",
                "unsupported pattern 'pl*nt'");
    parse_fails(BASE "record:\n  file: \"\"\n", 8, 9, "record.file", "must not be empty");
    parse_fails(BASE "record:\n  flie: x.h5\n", 8, 3, "record.flie", "unknown key 'flie'");
}

/* record.mcap (issue 23): an MCAP file beside or instead of record.file. */
static void test_record_mcap(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(BASE "record:\n  file: run.h5\n  mcap: out/run.mcap\n");
    assert_string_equal(hermes_config_record_mcap(cfg), "out/run.mcap");
    hermes_record_settings_t r;
    assert_hermes_ok(hermes_config_record(cfg, &r));
    assert_string_equal(r.file, "run.h5");
    hermes_config_destroy(cfg);
    cfg = parse_ok(BASE);
    assert_null(hermes_config_record_mcap(cfg));
    assert_hermes_ok(hermes_config_set_record_mcap(cfg, "b.mcap"));
    assert_string_equal(hermes_config_record_mcap(cfg), "b.mcap");
    assert_hermes_ok(hermes_config_record(cfg, &r));
    assert_true(r.enabled);
    assert_int_equal(hermes_config_set_record_mcap(cfg, ""), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "must not be empty");
    assert_string_equal(hermes_config_record_mcap(cfg), "b.mcap");
    assert_hermes_ok(hermes_config_set_record_mcap(cfg, NULL));
    assert_null(hermes_config_record_mcap(cfg));
    assert_int_equal(hermes_config_set_record_mcap(NULL, "x.mcap"), HERMES_EINVAL);
    hermes_config_destroy(cfg);
    parse_fails(BASE "record:\n  mcap: \"\"\n", 8, 9, "record.mcap", "must not be empty");
}

static void test_record_builder(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(BASE);
    hermes_record_settings_t r;
    memset(&r, 0, sizeof r);
    const char *pats[] = {"plant.*"};
    r.enabled = true;
    r.file = "a.h5";
    r.signals = pats;
    r.signal_count = 1;
    r.every = 4;
    assert_hermes_ok(hermes_config_set_record(cfg, &r));
    hermes_error_t err;
    assert_hermes_ok(hermes_config_validate(cfg, &err));
    hermes_record_settings_t got;
    assert_hermes_ok(hermes_config_record(cfg, &got));
    assert_string_equal(got.file, "a.h5");
    assert_string_equal(got.signals[0], "plant.*");
    assert_true(got.signals[0] != pats[0]);  /* copied */
    assert_int_equal(got.every, 4);

    r.rate_hz = 5;  /* with every: refused, section unchanged */
    assert_int_equal(hermes_config_set_record(cfg, &r), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "record.rate_hz");
    r.rate_hz = 0;
    const char *bad[] = {"a*b"};
    r.signals = bad;
    assert_int_equal(hermes_config_set_record(cfg, &r), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "record.signals[0]");
    assert_hermes_ok(hermes_config_record(cfg, &got));
    assert_string_equal(got.signals[0], "plant.*");
    assert_int_equal(hermes_config_set_record(NULL, &r), HERMES_EINVAL);
    hermes_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_section_absent),
        cmocka_unit_test(test_record_section_full),
        cmocka_unit_test(test_record_section_errors),
        cmocka_unit_test(test_record_builder),
        cmocka_unit_test(test_record_mcap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
