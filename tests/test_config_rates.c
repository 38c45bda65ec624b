/* Module rates in the config (issue 19): YAML rate_hz/offset, the divisor
 * rule and its messages with positions, the C setters with the same checks. */
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

#define HEAD "execution: {mode: afap, rate_hz: 1000.0}\n" \
             "modules:\n"                                 \
             "  fast:\n"                                  \
             "    type: injection\n"                      \
             "  slow:\n"                                  \
             "    type: injection\n"

static void test_rates_default_and_set(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(HEAD "    rate_hz: 10\n    offset: 3\n");
    hermes_module_rate_t r;
    assert_hermes_ok(hermes_config_module_rate(cfg, 0, &r));
    assert_true(r.rate_hz == 1000.0);
    assert_int_equal(r.divisor, 1);
    assert_int_equal(r.offset, 0);
    assert_true(r.dt == 1.0 / 1000.0);
    assert_hermes_ok(hermes_config_module_rate(cfg, 1, &r));
    assert_true(r.rate_hz == 10.0);
    assert_int_equal(r.divisor, 100);
    assert_int_equal(r.offset, 3);
    assert_true(r.dt == 100.0 / 1000.0);
    assert_int_equal(hermes_config_module_rate(cfg, 2, &r), HERMES_ENOENT);
    hermes_config_destroy(cfg);
    /* a rate equal to the base, and a rate that is base/3 in decimal */
    cfg = parse_ok(HEAD "    rate_hz: 1000\n");
    assert_hermes_ok(hermes_config_module_rate(cfg, 1, &r));
    assert_int_equal(r.divisor, 1);
    hermes_config_destroy(cfg);
    cfg = parse_ok(HEAD "    rate_hz: 333.3333333333333\n    offset: 2\n");
    assert_hermes_ok(hermes_config_module_rate(cfg, 1, &r));
    assert_int_equal(r.divisor, 3);
    assert_int_equal(r.offset, 2);
    hermes_config_destroy(cfg);
}

static void test_rates_refused(void **state)
{
    (void)state;
    /* slow's rate_hz value is on line 7, column 14 */
    parse_fails(HEAD "    rate_hz: 300\n", 7, 14, "modules.slow.rate_hz", "does not divide the base rate");
    parse_fails(HEAD "    rate_hz: 300\n", 7, 14, "modules.slow.rate_hz", "333.333 Hz (every 3 frames) and 250 Hz");
    parse_fails(HEAD "    rate_hz: 2000\n", 7, 14, "modules.slow.rate_hz", "above the base rate");
    parse_fails(HEAD "    rate_hz: 2000\n", 7, 14, "modules.slow.rate_hz", "1000, 500, 250, 200, 125, 100");
    parse_fails(HEAD "    rate_hz: 0\n", 7, 14, "modules.slow.rate_hz", "> 0");
    parse_fails(HEAD "    rate_hz: fast\n", 7, 14, "modules.slow.rate_hz", "invalid number");
    parse_fails(HEAD "    rate_hz: 10\n    offset: 100\n", 8, 13, "modules.slow.offset", "from 0 to 99");
    parse_fails(HEAD "    rate_hz: 10\n    offset: 2.5\n", 8, 13, "modules.slow.offset", "whole number");
    parse_fails(HEAD "    rate_hz: 10\n    offset: -1\n", 8, 13, "modules.slow.offset", "whole number");
    parse_fails(HEAD "    offset: 1\n", 7, 13, "modules.slow.offset", "must be 0 for a module at the base rate");
    /* the message starts with the position */
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    const char *y = HEAD "    rate_hz: 300\n";
    assert_int_equal(hermes_config_parse(&cfg, y, strlen(y), "t.yaml", NULL, &err), HERMES_ECONFIG);
    assert_contains(hermes_last_error(), "t.yaml:7:14: modules.slow.rate_hz: 300 Hz");
}

static void test_rates_builder(void **state)
{
    (void)state;
    hermes_config_t *cfg;
    assert_hermes_ok(hermes_config_create(&cfg));
    hermes_execution_t ex;
    assert_hermes_ok(hermes_config_execution(cfg, &ex));
    ex.rate_hz = 1000.0;
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    assert_hermes_ok(hermes_config_add_module(cfg, "a", HERMES_MODULE_INJECTION, NULL));
    assert_int_equal(hermes_config_set_module_rate(cfg, "a", 300.0, 0), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "modules.a.rate_hz: 300 Hz does not divide");
    assert_contains(hermes_last_error(), "250 Hz");
    assert_int_equal(hermes_config_set_module_rate(cfg, "a", 1e4, 0), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "above the base rate");
    assert_int_equal(hermes_config_set_module_rate(cfg, "a", NAN, 0), HERMES_EINVAL);
    assert_int_equal(hermes_config_set_module_rate(cfg, "a", -5.0, 0), HERMES_EINVAL);
    assert_int_equal(hermes_config_set_module_rate(cfg, "a", 100.0, 10), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "modules.a.offset: must be a whole number of frames from 0 to 9");
    assert_int_equal(hermes_config_set_module_rate(cfg, "zz", 100.0, 0), HERMES_ENOENT);
    assert_int_equal(hermes_config_set_module_rate(NULL, "a", 100.0, 0), HERMES_EINVAL);
    assert_hermes_ok(hermes_config_set_module_rate(cfg, "a", 100.0, 9));
    hermes_error_t err;
    assert_hermes_ok(hermes_config_validate(cfg, &err));
    hermes_module_rate_t r;
    assert_hermes_ok(hermes_config_module_rate(cfg, 0, &r));
    assert_int_equal(r.divisor, 10);
    assert_int_equal(r.offset, 9);
    /* a new base rate that the module rate no longer divides: validate says so */
    ex.rate_hz = 250.0;
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    assert_int_equal(hermes_config_validate(cfg, &err), HERMES_ECONFIG);
    assert_string_equal(err.field, "modules.a.rate_hz");
    assert_contains(err.message, "100 Hz does not divide the base rate execution.rate_hz = 250 Hz");
    /* back to the base rate: 0 */
    assert_hermes_ok(hermes_config_set_module_rate(cfg, "a", 0.0, 0));
    assert_hermes_ok(hermes_config_validate(cfg, &err));
    assert_hermes_ok(hermes_config_module_rate(cfg, 0, &r));
    assert_true(r.rate_hz == 250.0);
    assert_int_equal(r.divisor, 1);
    hermes_config_destroy(cfg);
}

static void test_rates_divisor_rule(void **state)
{
    (void)state;
    assert_int_equal(hermes__rate_divisor(1000.0, 0.0), 1);
    assert_int_equal(hermes__rate_divisor(1000.0, 1000.0), 1);
    assert_int_equal(hermes__rate_divisor(1000.0, 10.0), 100);
    assert_int_equal(hermes__rate_divisor(1000.0, 1.0), 1000);
    assert_int_equal(hermes__rate_divisor(10000.0, 100.0), 100);
    assert_int_equal(hermes__rate_divisor(100.0, 20.0), 5);
    assert_int_equal(hermes__rate_divisor(1000.0, 300.0), 0);
    assert_int_equal(hermes__rate_divisor(1000.0, 1001.0), 0);
    assert_int_equal(hermes__rate_divisor(1000.0, 999.0), 0);
    assert_int_equal(hermes__rate_divisor(60.0, 7.0), 0);
    assert_int_equal(hermes__rate_divisor(60.0, 7.5), 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_default_and_set),
        cmocka_unit_test(test_rates_refused),
        cmocka_unit_test(test_rates_builder),
        cmocka_unit_test(test_rates_divisor_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
