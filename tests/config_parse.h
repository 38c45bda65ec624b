/* Parsing config text in tests: parse_ok() returns the config or fails the
 * test with the message; parse_fails() checks a refusal's position, field
 * and message text. Paths resolve against no base folder. */
#ifndef HERMES_TEST_CONFIG_PARSE_H
#define HERMES_TEST_CONFIG_PARSE_H

#include "test_util.h"

static hermes_config_t *parse_ok(const char *yaml)
{
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    int rc = hermes_config_parse(&cfg, yaml, strlen(yaml), "t.yaml", NULL, &err);
    if (rc != 0)
        fail_msg("parse failed: %s -> %s", hermes_err_name(rc), err.message);
    return cfg;
}

static void parse_fails(const char *yaml, int line, int col, const char *field, const char *text)
{
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    assert_int_equal(hermes_config_parse(&cfg, yaml, strlen(yaml), "t.yaml", NULL, &err), HERMES_ECONFIG);
    assert_null(cfg);
    if (err.line != line || err.column != col)
        fail_msg("error at %d:%d, expected %d:%d: %s", err.line, err.column, line, col, err.message);
    assert_string_equal(err.field, field);
    assert_contains(err.message, text);
}

#endif
