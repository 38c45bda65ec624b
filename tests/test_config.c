/* Configuration loading, building and validation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hermes/config.h"
#include "hermes/inproc.h"
#include "config/internal.h"
#include "common/util.h"

#ifndef HERMES_TEST_SRCDIR
#error "HERMES_TEST_SRCDIR must be defined (the tests/ source directory)"
#endif

#define DATA_DIR HERMES_TEST_SRCDIR "/data/config"

#define assert_hermes_ok(expr)                                                           \
    do {                                                                                 \
        int rc_ = (expr);                                                                \
        if (rc_ != 0)                                                                    \
            fail_msg("%s -> %s: %s", #expr, hermes_err_name(rc_), hermes_last_error());  \
    } while (0)

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) <= 1e-12)

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
}

static char *real_data(const char *name)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s/%s", DATA_DIR, name);
    char *r = realpath(buf, NULL);
    assert_non_null(r);
    return r;
}

static hermes_config_t *parse_ok(const char *yaml)
{
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    int rc = hermes_config_parse(&cfg, yaml, strlen(yaml), "t.yaml", DATA_DIR, &err);
    if (rc != 0)
        fail_msg("parse failed: %s -> %s", hermes_err_name(rc), err.message);
    assert_non_null(cfg);
    assert_int_equal(err.code, 0);
    return cfg;
}

/* ------------------------------------------------------------------------ */
/* Rejected configurations: one cmocka test per case                        */

struct bad_case {
    const char *name;    /* cmocka test name */
    const char *yaml;
    const char *field;   /* expected hermes_error_t.field (exact) */
    const char *needle;  /* must appear in the message */
    int         line;    /* expected line, 0: not checked */
};

/* Prefixes: one injection module `m` (lines 1-3), plus signals. */
#define M "modules:\n  m:\n    type: injection\n"
#define MS M "    signals:\n      - {name: x, writable: true}\n      - {name: y}\n"
#define M2 "modules:\n  a: {type: injection}\n  b: {type: injection}\n"

static const struct bad_case bad_cases[] = {
    /* YAML shape */
    {"test_config_rejects_syntax_error", "modules:\n  m: {type: injection\nexecution: {}\n", "", "YAML syntax error", 3},
    {"test_config_rejects_bad_indentation", M "   colour: 1\n", "", "YAML syntax error", 4},
    {"test_config_rejects_empty_text", "", "", "empty", 0},
    {"test_config_rejects_whitespace_only", "\n   \n", "", "empty", 0},
    {"test_config_rejects_comment_only", "# nothing\n# here\n", "", "empty", 0},
    {"test_config_rejects_empty_document", "---\n", "", "empty", 0},
    {"test_config_rejects_top_level_list", "- a\n- b\n", "", "top level must be a mapping", 1},
    {"test_config_rejects_top_level_scalar", "hello\n", "", "top level must be a mapping", 1},
    {"test_config_rejects_two_documents", M "---\n" M, "", "only one YAML document", 4},
    {"test_config_rejects_missing_modules", "execution: {rate_hz: 10}\n", "modules", "missing", 0},
    {"test_config_rejects_empty_modules", "modules: {}\n", "modules", "at least one module", 1},
    {"test_config_rejects_modules_list", "modules:\n  - m\n", "modules", "must be a mapping", 2},
    {"test_config_rejects_module_not_mapping", "modules:\n  m: injection\n", "modules.m", "module 'm' must be a mapping", 2},
    {"test_config_rejects_duplicate_module", "modules:\n  m: {type: injection}\n  m: {type: injection}\n", "modules.m",
     "duplicate module name 'm' (first defined on line 2)", 3},
    {"test_config_rejects_duplicate_key", M "    type: process\n", "modules.m.type", "duplicate key 'type'", 4},
    {"test_config_rejects_duplicate_key_in_signal", M "    signals:\n      - {name: x}\n      - {name: y, unit: m, unit: s}\n",
     "modules.m.signals[1].unit", "duplicate key 'unit' (first on line 6)", 6},
    {"test_config_rejects_non_scalar_key_in_signal", M "    signals:\n      - {name: x, [a]: b}\n", "modules.m.signals[0]",
     "keys must be plain scalars", 5},
    {"test_config_rejects_non_scalar_key", "modules:\n  ? [a]\n  : {type: injection}\n", "modules",
     "keys must be plain scalars", 2},
    /* unknown keys */
    {"test_config_rejects_unknown_top_key", M "colour: red\n", "colour", "unknown key 'colour'", 4},
    {"test_config_rejects_unknown_module_key", M "    colour: red\n", "modules.m.colour", "unknown key 'colour'", 4},
    {"test_config_rejects_unknown_signal_key", M "    signals:\n      - {name: x, colour: red}\n",
     "modules.m.signals[0].colour", "unknown key 'colour'", 5},
    {"test_config_rejects_unknown_wire_key", MS "wiring:\n  - {src: m.y, dst: m.x, colour: red}\n",
     "wiring[0].colour", "unknown key 'colour'", 8},
    {"test_config_rejects_unknown_execution_key", M "execution:\n  speed: 3\n", "execution.speed",
     "unknown key 'speed'", 5},
    {"test_config_rejects_unknown_server_key", M "server:\n  tls: true\n", "server.tls", "unknown key 'tls'", 5},
    /* wrong types and enum values */
    {"test_config_rejects_bad_module_type", "modules:\n  m:\n    type: foo\n", "modules.m.type",
     "invalid value 'foo' (expected process, inproc, injection or fmu)", 3},
    {"test_config_rejects_bad_mode_word", M "execution:\n  mode: fast\n", "execution.mode", "invalid value 'fast'", 5},
    {"test_config_rejects_bad_mode_number", M "execution:\n  mode: 2\n", "execution.mode", "invalid value '2'", 5},
    {"test_config_rejects_bad_signal_type", M "    signals:\n      - {name: x, type: f65}\n",
     "modules.m.signals[0].type", "invalid value 'f65' (expected f64, f32, i64, i32 or bool)", 5},
    {"test_config_rejects_name_as_list", M "    signals:\n      - {name: [x]}\n", "modules.m.signals[0].name",
     "wrong type", 5},
    {"test_config_rejects_execution_scalar", M "execution: 5\n", "execution", "wrong type", 4},
    {"test_config_rejects_signals_mapping", M "    signals: {name: x}\n", "modules.m.signals", "wrong type", 4},
    {"test_config_rejects_schedule_scalar", M "execution:\n  schedule: m\n", "execution.schedule", "wrong type", 5},
    /* missing required fields */
    {"test_config_rejects_missing_module_type", "modules:\n  m:\n    signals: []\n", "modules.m.type",
     "missing required field 'type'", 2},
    {"test_config_rejects_missing_signal_name", M "    signals:\n      - {type: f64}\n", "modules.m.signals[0].name",
     "missing required field 'name'", 5},
    {"test_config_rejects_missing_wire_src", MS "wiring:\n  - {dst: m.x}\n", "wiring[0].src",
     "missing required field 'src'", 8},
    {"test_config_rejects_missing_wire_dst", MS "wiring:\n  - {src: m.y}\n", "wiring[0].dst",
     "missing required field 'dst'", 8},
    {"test_config_rejects_missing_process_executable", "modules:\n  p:\n    type: process\n", "modules.p.executable",
     "required for process module 'p'", 2},
    {"test_config_rejects_missing_inproc_library", "modules:\n  c:\n    type: inproc\n", "modules.c.library",
     "required for inproc module 'c'", 2},
    /* libcyaml leniency: strict scalars */
    {"test_config_rejects_writable_maybe", M "    signals:\n      - {name: x, writable: maybe}\n",
     "modules.m.signals[0].writable", "invalid boolean 'maybe'", 5},
    {"test_config_rejects_enabled_flase", M "server:\n  enabled: flase\n", "server.enabled", "invalid boolean 'flase'", 5},
    {"test_config_rejects_rate_trailing_garbage", M "execution:\n  rate_hz: 2.5xyz\n", "execution.rate_hz",
     "invalid number '2.5xyz'", 5},
    {"test_config_rejects_rate_comma", M "execution:\n  rate_hz: 1,5\n", "execution.rate_hz", "invalid number '1,5'", 5},
    {"test_config_rejects_rate_empty", M "execution:\n  rate_hz: \"\"\n", "execution.rate_hz", "invalid number", 5},
    {"test_config_rejects_rate_nan", M "execution:\n  rate_hz: nan\n", "execution.rate_hz", "finite", 5},
    {"test_config_rejects_rate_inf", M "execution:\n  rate_hz: inf\n", "execution.rate_hz", "finite", 5},
    {"test_config_rejects_rate_overflow", M "execution:\n  rate_hz: 1e400\n", "execution.rate_hz", "finite", 5},
    {"test_config_rejects_rate_zero", M "execution:\n  rate_hz: 0\n", "execution.rate_hz", "> 0", 5},
    {"test_config_rejects_rate_negative", M "execution:\n  rate_hz: -10\n", "execution.rate_hz", "> 0", 5},
    {"test_config_rejects_telemetry_zero", M "server:\n  telemetry_hz: 0\n", "server.telemetry_hz", "(0, 1000]", 5},
    {"test_config_rejects_telemetry_nan", M "server:\n  telemetry_hz: .nan\n", "server.telemetry_hz",
     "invalid number '.nan'", 5},
    {"test_config_rejects_telemetry_negative", M "server:\n  telemetry_hz: -1\n", "server.telemetry_hz", "(0, 1000]", 5},
    {"test_config_rejects_end_time_zero", M "execution:\n  end_time: 0\n", "execution.end_time", "> 0", 5},
    {"test_config_rejects_end_time_negative", M "execution:\n  end_time: -1\n", "execution.end_time", "> 0", 5},
    {"test_config_rejects_end_time_inf", M "execution:\n  end_time: inf\n", "execution.end_time", "finite", 5},
    {"test_config_rejects_step_timeout_zero", M "execution:\n  step_timeout: 0\n", "execution.step_timeout", "> 0", 5},
    {"test_config_rejects_step_timeout_nan", M "execution:\n  step_timeout: nan\n", "execution.step_timeout",
     "finite", 5},
    {"test_config_rejects_port_garbage", M "server:\n  port: 3abc\n", "server.port", "invalid port '3abc'", 5},
    {"test_config_rejects_port_fraction", M "server:\n  port: 3.7\n", "server.port", "invalid port '3.7'", 5},
    {"test_config_rejects_port_too_big", M "server:\n  port: 70000\n", "server.port", "invalid port '70000'", 5},
    {"test_config_rejects_port_negative", M "server:\n  port: -1\n", "server.port", "invalid port '-1'", 5},
    {"test_config_rejects_port_exponent", M "server:\n  port: 1e3\n", "server.port", "invalid port '1e3'", 5},
    {"test_config_rejects_gain_garbage", MS "wiring:\n  - {src: m.y, dst: m.x, gain: abc}\n", "wiring[0].gain",
     "invalid number 'abc'", 8},
    {"test_config_rejects_gain_nan", MS "wiring:\n  - {src: m.y, dst: m.x, gain: nan}\n", "wiring[0].gain", "finite", 8},
    {"test_config_rejects_offset_inf", MS "wiring:\n  - {src: m.y, dst: m.x, offset: -inf}\n", "wiring[0].offset",
     "finite", 8},
    /* names */
    {"test_config_rejects_reserved_module", "modules:\n  hermes: {type: injection}\n", "modules.hermes",
     "'hermes' is reserved", 2},
    {"test_config_rejects_module_with_dot", "modules:\n  a.b: {type: injection}\n", "modules.a.b",
     "invalid module name 'a.b'", 2},
    {"test_config_rejects_module_leading_digit", "modules:\n  1abc: {type: injection}\n", "modules.1abc",
     "invalid module name '1abc'", 2},
    {"test_config_rejects_module_with_space", "modules:\n  a b: {type: injection}\n", "modules.a b",
     "invalid module name 'a b'", 2},
    {"test_config_rejects_module_empty_name", "modules:\n  \"\": {type: injection}\n", "modules.",
     "must not be empty", 2},
    {"test_config_rejects_signal_with_dash", M "    signals:\n      - {name: x-y}\n", "modules.m.signals[0].name",
     "invalid signal name 'x-y'", 5},
    {"test_config_rejects_signal_leading_digit", M "    signals:\n      - {name: 1x}\n", "modules.m.signals[0].name",
     "invalid signal name '1x'", 5},
    {"test_config_rejects_signal_trailing_dot", M "    signals:\n      - {name: x.}\n", "modules.m.signals[0].name",
     "must not end with '.'", 5},
    {"test_config_rejects_duplicate_signal", MS "      - {name: x}\n", "modules.m.signals[2].name",
     "duplicate signal name 'x' in module 'm'", 7},
    {"test_config_rejects_initial_fraction_for_i32", M "    signals:\n      - {name: x, type: i32, initial: 1.5}\n",
     "modules.m.signals[0].initial", "does not fit type i32", 5},
    {"test_config_rejects_initial_two_for_bool", M "    signals:\n      - {name: x, type: bool, initial: 2}\n",
     "modules.m.signals[0].initial", "does not fit type bool", 5},
    {"test_config_rejects_initial_nan", M "    signals:\n      - {name: x, initial: nan}\n",
     "modules.m.signals[0].initial", "finite", 5},
    {"test_config_rejects_initial_nan_for_i32", M "    signals:\n      - {name: x, type: i32, initial: nan}\n",
     "modules.m.signals[0].initial", "finite", 5},
    {"test_config_rejects_initial_garbage", M "    signals:\n      - {name: x, initial: abc}\n",
     "modules.m.signals[0].initial", "invalid number 'abc'", 5},
    /* schedule */
    {"test_config_rejects_schedule_unknown_module", M "execution:\n  schedule: [m, ghost]\n", "execution.schedule[1]",
     "unknown module 'ghost'", 5},
    {"test_config_rejects_schedule_twice", M2 "execution:\n  schedule: [a, b, a]\n", "execution.schedule[2]",
     "module 'a' is scheduled twice", 5},
    {"test_config_rejects_schedule_missing_module", M2 "execution:\n  schedule: [b]\n", "execution.schedule",
     "module 'a' is missing", 5},
    {"test_config_rejects_schedule_empty", M2 "execution:\n  schedule: []\n", "execution.schedule", "every module", 5},
    /* wiring */
    {"test_config_rejects_wire_unknown_module", MS "wiring:\n  - {src: ghost.x, dst: m.x}\n", "wiring[0].src",
     "no such signal 'ghost.x' (no module 'ghost')", 8},
    {"test_config_rejects_wire_unknown_signal", MS "wiring:\n  - {src: m.y, dst: m.nope}\n", "wiring[0].dst",
     "no such signal 'm.nope'", 8},
    {"test_config_rejects_wire_unqualified", MS "wiring:\n  - {src: y, dst: m.x}\n", "wiring[0].src",
     "'y' is not a qualified signal name", 8},
    {"test_config_rejects_wire_not_writable", MS "wiring:\n  - {src: m.x, dst: m.y}\n", "wiring[0].dst",
     "'m.y' is not writable", 8},
    {"test_config_rejects_wire_two_sources",
     MS "wiring:\n  - {src: m.y, dst: m.x}\n  - {src: m.y, dst: m.x, gain: 2}\n", "wiring[1].dst",
     "'m.x' is already driven by wiring[0]", 9},
    {"test_config_rejects_self_wiring", MS "wiring:\n  - {src: m.x, dst: m.x}\n", "wiring[0].dst", "self-wiring", 8},
    /* files and type-specific fields */
    {"test_config_rejects_missing_executable", "modules:\n  p:\n    type: process\n    executable: ./nope.sh\n",
     "modules.p.executable", "not found", 4},
    {"test_config_rejects_non_executable", "modules:\n  p:\n    type: process\n    executable: not_executable.sh\n",
     "modules.p.executable", "not executable", 4},
    {"test_config_rejects_directory_executable", "modules:\n  p:\n    type: process\n    executable: .\n",
     "modules.p.executable", "not a regular file", 4},
    {"test_config_rejects_empty_executable", "modules:\n  p:\n    type: process\n    executable: \"\"\n",
     "modules.p.executable", "must not be empty", 4},
    {"test_config_rejects_missing_library", "modules:\n  c:\n    type: inproc\n    library: ./nope.so\n",
     "modules.c.library", "not found", 4},
    {"test_config_rejects_executable_on_inproc",
     "modules:\n  c:\n    type: inproc\n    library: fake_library.so\n    executable: fake_module.sh\n",
     "modules.c.executable", "only process modules take an executable", 5},
    {"test_config_rejects_args_on_inproc",
     "modules:\n  c:\n    type: inproc\n    library: fake_library.so\n    args: []\n", "modules.c.args",
     "only process modules take arguments", 5},
    {"test_config_rejects_library_on_process",
     "modules:\n  p:\n    type: process\n    executable: fake_module.sh\n    library: fake_library.so\n",
     "modules.p.library", "only inproc modules take a library", 5},
    {"test_config_rejects_executable_on_injection", M "    executable: fake_module.sh\n", "modules.m.executable",
     "only process modules take an executable", 4},
    {"test_config_rejects_library_on_injection", M "    library: fake_library.so\n", "modules.m.library",
     "only inproc modules take a library", 4},
    {"test_config_rejects_missing_module_config", M "    config: ./nope.yaml\n", "modules.m.config",
     "module config not found", 4},
    /* version */
    {"test_config_rejects_bad_version", "version: \"0.3\"\n" M, "version", "unsupported version '0.3'", 1},
    {"test_config_rejects_version_number", "version: 1\n" M, "version", "unsupported version '1'", 1},
    /* server access control and limits (line 4 is the key's line under `server:`) */
    {"test_config_rejects_short_auth_token", M "server:\n  auth_token: abc\n", "server.auth_token",
     "16 to 256 characters", 5},
    {"test_config_rejects_auth_token_bad_chars", M "server:\n  auth_token: \"0123456789abcdef 012\"\n",
     "server.auth_token", "may contain only", 5},
    {"test_config_rejects_empty_auth_token", M "server:\n  auth_token: \"\"\n", "server.auth_token", "16 to 256", 5},
    {"test_config_rejects_auth_token_list", M "server:\n  auth_token: [a]\n", "server.auth_token", "wrong type", 5},
    {"test_config_rejects_bad_viewer", M "server:\n  viewer: perhaps\n", "server.viewer", "invalid boolean 'perhaps'", 5},
    {"test_config_rejects_bad_observers", M "server:\n  observers: maybe\n", "server.observers",
     "invalid boolean 'maybe'", 5},
    {"test_config_rejects_origins_scalar", M "server:\n  allowed_origins: http://a.example\n",
     "server.allowed_origins", "wrong type", 5},
    {"test_config_rejects_bad_origin", M "server:\n  allowed_origins:\n    - https://ok.example\n    - evil.example\n",
     "server.allowed_origins[1]", "must be \"*\" or an origin", 7},
    {"test_config_rejects_origin_with_path", M "server:\n  allowed_origins: [\"https://a.example/app\"]\n",
     "server.allowed_origins[0]", "no path", 5},
    {"test_config_rejects_origin_not_string", M "server:\n  allowed_origins: [{a: b}]\n",
     "server.allowed_origins[0]", "wrong type", 5},
    {"test_config_rejects_zero_max_clients", M "server:\n  max_clients: 0\n", "server.max_clients",
     "invalid value '0' (an integer from 1 to 100000; omit the key for the default 1024)", 5},
    {"test_config_rejects_bad_max_clients", M "server:\n  max_clients: 3abc\n", "server.max_clients",
     "invalid value '3abc'", 5},
    {"test_config_rejects_negative_max_clients", M "server:\n  max_clients: -1\n", "server.max_clients",
     "invalid value '-1'", 5},
    {"test_config_rejects_small_max_message_size", M "server:\n  max_message_size: 255\n",
     "server.max_message_size", "from 256 to 67108864", 5},
    {"test_config_rejects_float_commands_per_second", M "server:\n  commands_per_second: 2.5\n",
     "server.commands_per_second", "invalid value '2.5'", 5},
    {"test_config_rejects_huge_commands_per_second", M "server:\n  commands_per_second: 99999999999\n",
     "server.commands_per_second", "from 1 to 100000", 5},
    {"test_config_rejects_zero_max_patterns", M "server:\n  max_patterns: 0\n", "server.max_patterns",
     "default 1024", 5},
    {"test_config_rejects_shallow_max_json_depth", M "server:\n  max_json_depth: 2\n", "server.max_json_depth",
     "from 3 to 1000", 5},
    {"test_config_rejects_deep_max_json_depth", M "server:\n  max_json_depth: 5000\n", "server.max_json_depth",
     "from 3 to 1000", 5},
    {"test_config_rejects_unknown_access_key", M "server:\n  auth_tokens: x\n", "server.auth_tokens",
     "unknown key 'auth_tokens'", 5},
};

static void run_bad_case(void **state)
{
    const struct bad_case *c = *state;
    hermes_config_t *cfg = (hermes_config_t *)0x1;
    hermes_error_t err;
    int rc = hermes_config_parse(&cfg, c->yaml, strlen(c->yaml), "t.yaml", DATA_DIR, &err);
    if (rc != HERMES_ECONFIG)
        fail_msg("%s: expected HERMES_ECONFIG, got %s (%s)", c->name, hermes_err_name(rc), err.message);
    assert_null(cfg);
    assert_int_equal(err.code, HERMES_ECONFIG);
    if (strcmp(err.field, c->field) != 0)
        fail_msg("%s: field \"%s\", expected \"%s\" (%s)", c->name, err.field, c->field, err.message);
    assert_contains(err.message, c->needle);
    if (c->field[0])
        assert_contains(err.message, c->field);
    assert_string_equal(err.file, "t.yaml");
    assert_true(strncmp(err.message, "t.yaml:", 7) == 0);
    if (c->line) {
        if (err.line != c->line)
            fail_msg("%s: line %d, expected %d (%s)", c->name, err.line, c->line, err.message);
        assert_true(err.column > 0);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "t.yaml:%d:%d: ", err.line, err.column);
        assert_true(strncmp(err.message, prefix, strlen(prefix)) == 0);
    }
    assert_string_equal(hermes_last_error(), err.message);
}

/* ------------------------------------------------------------------------ */
/* Limits built at run time                                                 */

static void expect_parse_error(const char *yaml, const char *field, const char *needle)
{
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    int rc = hermes_config_parse(&cfg, yaml, strlen(yaml), "t.yaml", DATA_DIR, &err);
    if (rc != HERMES_ECONFIG)
        fail_msg("expected HERMES_ECONFIG, got %s (%s)", hermes_err_name(rc), err.message);
    assert_null(cfg);
    assert_string_equal(err.field, field);
    assert_contains(err.message, needle);
}

static void test_config_rejects_long_module_name(void **state)
{
    (void)state;
    char name[HERMES_MAX_MODULE_NAME + 2];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    char yaml[512], field[128];
    snprintf(yaml, sizeof yaml, "modules:\n  %s: {type: injection}\n", name);
    snprintf(field, sizeof field, "modules.%s", name);
    expect_parse_error(yaml, field, "longer than 63");
    /* exactly the limit is fine */
    name[HERMES_MAX_MODULE_NAME] = '\0';
    snprintf(yaml, sizeof yaml, "modules:\n  %s: {type: injection}\n", name);
    hermes_config_destroy(parse_ok(yaml));
}

static void test_config_rejects_long_qualified_name(void **state)
{
    (void)state;
    /* "m." + 126 = 128 > HERMES_MAX_NAME */
    char sig[HERMES_MAX_NAME];
    memset(sig, 'x', sizeof sig - 1);
    sig[sizeof sig - 1] = '\0';
    char yaml[512];
    snprintf(yaml, sizeof yaml, M "    signals:\n      - {name: %s}\n", sig);
    expect_parse_error(yaml, "modules.m.signals[0].name", "longer than 127");
    sig[sizeof sig - 2] = '\0'; /* "m." + 125 = 127: fine */
    snprintf(yaml, sizeof yaml, M "    signals:\n      - {name: %s}\n", sig);
    hermes_config_destroy(parse_ok(yaml));
}

static void test_config_rejects_long_unit(void **state)
{
    (void)state;
    char unit[HERMES_MAX_UNIT + 2];
    memset(unit, 'u', sizeof unit - 1);
    unit[sizeof unit - 1] = '\0';
    char yaml[512];
    snprintf(yaml, sizeof yaml, M "    signals:\n      - {name: x, unit: %s}\n", unit);
    expect_parse_error(yaml, "modules.m.signals[0].unit", unit);
    unit[HERMES_MAX_UNIT] = '\0';
    snprintf(yaml, sizeof yaml, M "    signals:\n      - {name: x, unit: %s}\n", unit);
    hermes_config_destroy(parse_ok(yaml));
}

/* ------------------------------------------------------------------------ */
/* Accepted configurations                                                  */

static void test_config_full_roundtrip(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    assert_hermes_ok(hermes_config_load(&cfg, DATA_DIR "/full.yaml", &err));
    assert_int_equal(err.code, 0);

    char *full = real_data("full.yaml");
    assert_string_equal(hermes_config_path(cfg), full);
    free(full);

    assert_int_equal(hermes_config_module_count(cfg), 3);
    hermes_module_info_t mi;
    assert_hermes_ok(hermes_config_module(cfg, 0, &mi));
    assert_string_equal(mi.name, "inputs");
    assert_int_equal(mi.type, HERMES_MODULE_INJECTION);
    assert_null(mi.path);
    assert_null(mi.config_path);
    assert_int_equal(mi.arg_count, 0);
    assert_int_equal(mi.signal_count, 2);

    assert_hermes_ok(hermes_config_module(cfg, 1, &mi));
    assert_string_equal(mi.name, "vehicle");
    assert_int_equal(mi.type, HERMES_MODULE_PROCESS);
    char *exe = real_data("fake_module.sh");
    char *params = real_data("vehicle_params.yaml");
    assert_string_equal(mi.path, exe);
    assert_string_equal(mi.config_path, params);
    free(exe);
    free(params);
    assert_int_equal(mi.arg_count, 3);
    assert_string_equal(mi.args[0], "--mode");
    assert_string_equal(mi.args[1], "fast");
    assert_string_equal(mi.args[2], "3");
    assert_int_equal(mi.signal_count, 5);

    assert_hermes_ok(hermes_config_module(cfg, 2, &mi));
    assert_string_equal(mi.name, "ctl");
    assert_int_equal(mi.type, HERMES_MODULE_INPROC);
    char *lib = real_data("fake_library.so");
    assert_string_equal(mi.path, lib);
    free(lib);
    assert_null(mi.config_path);
    assert_int_equal(mi.signal_count, 1);
    assert_null(hermes__config_module_callbacks(cfg, 2));

    static const struct {
        uint32_t m, s;
        const char *module, *name, *unit;
        hermes_type_t type;
        bool writable;
        double initial;
    } want[] = {
        {0, 0, "inputs", "throttle", "1", HERMES_TYPE_F64, true, 0.25},
        {0, 1, "inputs", "gear", "", HERMES_TYPE_I32, true, 2.0},
        {1, 0, "vehicle", "position.x", "m", HERMES_TYPE_F64, false, 0.0},
        {1, 1, "vehicle", "thrust_cmd", "N", HERMES_TYPE_F64, true, 0.0},
        {1, 2, "vehicle", "flags", "", HERMES_TYPE_I64, false, -7.0},
        {1, 3, "vehicle", "ok", "", HERMES_TYPE_BOOL, false, 1.0},
        {1, 4, "vehicle", "temp", "", HERMES_TYPE_F32, false, -1.5},
        {2, 0, "ctl", "gain_cmd", "", HERMES_TYPE_F64, true, 1000.0},
    };
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        hermes_signal_spec_t sp;
        assert_hermes_ok(hermes_config_signal(cfg, want[k].m, want[k].s, &sp));
        assert_string_equal(sp.module, want[k].module);
        assert_string_equal(sp.name, want[k].name);
        assert_string_equal(sp.unit ? sp.unit : "", want[k].unit);
        assert_int_equal(sp.type, want[k].type);
        assert_int_equal(sp.writable, want[k].writable);
        assert_near(sp.initial, want[k].initial);
    }
    hermes_signal_spec_t sp;
    assert_int_equal(hermes_config_signal(cfg, 0, 2, &sp), HERMES_ENOENT);
    assert_int_equal(hermes_config_signal(cfg, 3, 0, &sp), HERMES_ENOENT);
    assert_int_equal(hermes_config_module(cfg, 3, &mi), HERMES_ENOENT);

    assert_int_equal(hermes_config_wire_count(cfg), 2);
    hermes_wire_info_t w;
    assert_hermes_ok(hermes_config_wire(cfg, 0, &w));
    assert_string_equal(w.src, "inputs.throttle");
    assert_string_equal(w.dst, "vehicle.thrust_cmd");
    assert_near(w.gain, 1000.0);
    assert_near(w.offset, 0.5);
    assert_hermes_ok(hermes_config_wire(cfg, 1, &w));
    assert_string_equal(w.src, "vehicle.position.x");
    assert_string_equal(w.dst, "ctl.gain_cmd");
    assert_near(w.gain, 1.0);
    assert_near(w.offset, 0.0);
    assert_int_equal(hermes_config_wire(cfg, 2, &w), HERMES_ENOENT);

    hermes_execution_t ex;
    assert_hermes_ok(hermes_config_execution(cfg, &ex));
    assert_int_equal(ex.mode, HERMES_MODE_REALTIME);
    assert_near(ex.rate_hz, 250.0);
    assert_true(ex.has_end_time);
    assert_near(ex.end_time, 12.5);
    assert_near(ex.step_timeout, 2.0);

    assert_int_equal(hermes_config_schedule_count(cfg), 3);
    uint32_t idx;
    assert_hermes_ok(hermes_config_schedule_at(cfg, 0, &idx));
    assert_int_equal(idx, 0);
    assert_hermes_ok(hermes_config_schedule_at(cfg, 1, &idx));
    assert_int_equal(idx, 2);
    assert_hermes_ok(hermes_config_schedule_at(cfg, 2, &idx));
    assert_int_equal(idx, 1);
    assert_int_equal(hermes_config_schedule_at(cfg, 3, &idx), HERMES_ENOENT);

    hermes_server_settings_t srv;
    assert_hermes_ok(hermes_config_server(cfg, &srv));
    assert_true(srv.enabled);
    assert_string_equal(srv.host, "0.0.0.0");
    assert_int_equal(srv.port, 0);
    assert_near(srv.telemetry_hz, 30.0);

    assert_hermes_ok(hermes_config_validate(cfg, &err));
    hermes_config_destroy(cfg);
}

/* hermes__read_file, which hermes_config_load (and every whole-file read in
 * the library) uses: contents with a NUL after them, the size limit at its
 * edge, files whose stat size is 0 (/proc), and the error codes. */
static void test_read_file_whole_and_limits(void **state)
{
    (void)state;
    char dir[] = "/tmp/hermes_readfile_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/f", dir);
    unsigned char *b = NULL;
    size_t n = 99;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(hermes__read_file(path, 10, &b, &n), 0);   /* empty */
    assert_int_equal(n, 0);
    assert_int_equal(b[0], '\0');
    free(b);
    f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 20000; i++)   /* more than one 8 KiB buffer */
        fputc('a' + i % 26, f);
    fclose(f);
    assert_int_equal(hermes__read_file(path, 20000, &b, &n), 0);   /* exactly the limit */
    assert_int_equal(n, 20000);
    assert_int_equal(b[19999], 'a' + 19999 % 26);
    assert_int_equal(b[20000], '\0');
    free(b);
    assert_int_equal(hermes__read_file(path, 19999, &b, &n), HERMES_EFORMAT);   /* one byte over */
    assert_null(b);
    assert_int_equal(n, 0);
    assert_int_equal(hermes__read_file("/proc/self/status", 1 << 20, &b, &n), 0);   /* stat size 0 */
    assert_true(n > 0 && strstr((char *)b, "Name:") != NULL);
    free(b);
    assert_int_equal(hermes__read_file(dir, 100, &b, &n), HERMES_ESYS);
    assert_null(b);
    unlink(path);
    assert_int_equal(hermes__read_file(path, 100, &b, &n), HERMES_ENOENT);
    assert_null(b);
    rmdir(dir);
}

static void test_config_defaults(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    assert_hermes_ok(hermes_config_load(&cfg, DATA_DIR "/minimal.yaml", &err));
    assert_int_equal(hermes_config_module_count(cfg), 1);
    assert_int_equal(hermes_config_wire_count(cfg), 0);
    hermes_module_info_t mi;
    assert_hermes_ok(hermes_config_module(cfg, 0, &mi));
    assert_string_equal(mi.name, "plant");
    assert_int_equal(mi.signal_count, 0);
    assert_int_equal(mi.arg_count, 0);

    hermes_execution_t ex;
    assert_hermes_ok(hermes_config_execution(cfg, &ex));
    assert_int_equal(ex.mode, HERMES_MODE_AFAP);
    assert_near(ex.rate_hz, HERMES_DEFAULT_RATE_HZ);
    assert_false(ex.has_end_time);
    assert_near(ex.step_timeout, HERMES_DEFAULT_STEP_TIMEOUT);

    hermes_server_settings_t srv;
    assert_hermes_ok(hermes_config_server(cfg, &srv));
    assert_false(srv.enabled);
    assert_string_equal(srv.host, HERMES_DEFAULT_HOST);
    assert_int_equal(srv.port, HERMES_DEFAULT_PORT);
    assert_near(srv.telemetry_hz, HERMES_DEFAULT_TELEMETRY_HZ);

    assert_int_equal(hermes_config_schedule_count(cfg), 1);
    uint32_t idx = 99;
    assert_hermes_ok(hermes_config_schedule_at(cfg, 0, &idx));
    assert_int_equal(idx, 0);
    hermes_config_destroy(cfg);

    /* signal defaults: f64, no unit, read-only, 0 */
    cfg = parse_ok(M "    signals:\n      - name: x\n");
    hermes_signal_spec_t sp;
    assert_hermes_ok(hermes_config_signal(cfg, 0, 0, &sp));
    assert_int_equal(sp.type, HERMES_TYPE_F64);
    assert_string_equal(sp.unit ? sp.unit : "", "");
    assert_false(sp.writable);
    assert_near(sp.initial, 0.0);
    assert_null(hermes_config_path(cfg));
    hermes_config_destroy(cfg);
}

static void test_config_schedule_defaults_to_file_order(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok("modules:\n  z: {type: injection}\n  a: {type: injection}\n"
                                    "  k: {type: injection}\n");
    assert_int_equal(hermes_config_schedule_count(cfg), 3);
    for (uint32_t k = 0; k < 3; k++) {
        uint32_t idx = 99;
        assert_hermes_ok(hermes_config_schedule_at(cfg, k, &idx));
        assert_int_equal(idx, k);
    }
    hermes_module_info_t mi;
    assert_hermes_ok(hermes_config_module(cfg, 0, &mi));
    assert_string_equal(mi.name, "z");
    hermes_config_destroy(cfg);
}

static void test_config_accepts_bool_spellings(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool value;
    } b[] = {{"true", true}, {"True", true}, {"YES", true}, {"on", true},
             {"false", false}, {"FALSE", false}, {"no", false}, {"Off", false}};
    for (size_t i = 0; i < sizeof b / sizeof *b; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml, M "    signals:\n      - {name: x, writable: %s}\nserver: {enabled: %s}\n",
                 b[i].text, b[i].text);
        hermes_config_t *cfg = parse_ok(yaml);
        hermes_signal_spec_t sp;
        assert_hermes_ok(hermes_config_signal(cfg, 0, 0, &sp));
        assert_int_equal(sp.writable, b[i].value);
        hermes_server_settings_t srv;
        assert_hermes_ok(hermes_config_server(cfg, &srv));
        assert_int_equal(srv.enabled, b[i].value);
        hermes_config_destroy(cfg);
    }
}

static void test_config_accepts_initial_values_fitting_type(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(M "    signals:\n"
                                      "      - {name: b1, type: bool, initial: true}\n"
                                      "      - {name: b0, type: bool, initial: 0}\n"
                                      "      - {name: i, type: i32, initial: -2147483648}\n"
                                      "      - {name: l, type: i64, initial: 1e15}\n"
                                      "      - {name: f, type: f32, initial: \"3.5\"}\n"
                                      "      - {name: d, initial: -1.25e-3}\n");
    static const double want[] = {1.0, 0.0, -2147483648.0, 1e15, 3.5, -1.25e-3};
    for (uint32_t j = 0; j < 6; j++) {
        hermes_signal_spec_t sp;
        assert_hermes_ok(hermes_config_signal(cfg, 0, j, &sp));
        assert_near(sp.initial, want[j]);
    }
    hermes_config_destroy(cfg);
}

static void test_config_accepts_wire_within_module(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(MS "wiring:\n  - {src: m.y, dst: m.x, gain: -2, offset: 1e-3}\n");
    assert_int_equal(hermes_config_wire_count(cfg), 1);
    hermes_wire_info_t w;
    assert_hermes_ok(hermes_config_wire(cfg, 0, &w));
    assert_near(w.gain, -2.0);
    assert_near(w.offset, 1e-3);
    hermes_config_destroy(cfg);
}

static void test_config_end_time_null_means_no_end(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(M "execution:\n  end_time: null\n");
    hermes_execution_t ex;
    assert_hermes_ok(hermes_config_execution(cfg, &ex));
    assert_false(ex.has_end_time);
    hermes_config_destroy(cfg);
    cfg = parse_ok(M "execution:\n  end_time: ~\n  rate_hz: 1e3\n");
    assert_hermes_ok(hermes_config_execution(cfg, &ex));
    assert_false(ex.has_end_time);
    assert_near(ex.rate_hz, 1000.0);
    hermes_config_destroy(cfg);
}

static void test_config_accepts_versions(void **state)
{
    (void)state;
    hermes_config_destroy(parse_ok("version: \"0.1\"\n" M));
    hermes_config_destroy(parse_ok("version: 0.2\n" M));
    hermes_config_destroy(parse_ok(M));
}

static void test_config_accepts_port_range(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(M "server: {port: 65535}\n");
    hermes_server_settings_t srv;
    assert_hermes_ok(hermes_config_server(cfg, &srv));
    assert_int_equal(srv.port, 65535);
    hermes_config_destroy(cfg);
}

static void test_config_resolves_paths_against_base_dir(void **state)
{
    (void)state;
    /* Relative to base_dir; ".." segments are normalised by realpath. */
    hermes_config_t *cfg = parse_ok("modules:\n  p:\n    type: process\n"
                                    "    executable: ../config/fake_module.sh\n"
                                    "    config: vehicle_params.yaml\n");
    hermes_module_info_t mi;
    assert_hermes_ok(hermes_config_module(cfg, 0, &mi));
    char *exe = real_data("fake_module.sh");
    assert_string_equal(mi.path, exe);
    assert_true(mi.path[0] == '/');
    free(exe);
    hermes_config_destroy(cfg);

    /* A missing file still resolves to a clean absolute path. */
    cfg = NULL;
    hermes_error_t err;
    const char *missing = "modules:\n  p: {type: process, executable: ./sub/../nope.sh}\n";
    assert_int_equal(hermes_config_parse(&cfg, missing, strlen(missing), "t.yaml", DATA_DIR, &err), HERMES_ECONFIG);
    char *dir = real_data(".");
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "not found: %s/nope.sh ", dir);
    free(dir);
    assert_contains(err.message, want);

    /* Absolute paths are kept (normalised). */
    char *abs = real_data("fake_library.so");
    char yaml[PATH_MAX + 128];
    snprintf(yaml, sizeof yaml, "modules:\n  c: {type: inproc, library: \"%s\"}\n", abs);
    cfg = parse_ok(yaml);
    assert_hermes_ok(hermes_config_module(cfg, 0, &mi));
    assert_string_equal(mi.path, abs);
    free(abs);
    hermes_config_destroy(cfg);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

static void test_config_load_missing_file(void **state)
{
    (void)state;
    hermes_config_t *cfg = (hermes_config_t *)0x1;
    hermes_error_t err;
    const char *path = DATA_DIR "/does_not_exist.yaml";
    assert_int_equal(hermes_config_load(&cfg, path, &err), HERMES_ENOENT);
    assert_null(cfg);
    assert_int_equal(err.code, HERMES_ENOENT);
    assert_string_equal(err.file, path);
    assert_contains(err.message, path);
    assert_contains(hermes_last_error(), "does_not_exist.yaml");
}

static void test_config_load_error_names_file_and_line(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    const char *path = DATA_DIR "/bad_executable.yaml";
    assert_int_equal(hermes_config_load(&cfg, path, &err), HERMES_ECONFIG);
    assert_null(cfg);
    assert_string_equal(err.file, path);
    assert_string_equal(err.field, "modules.vehicle.executable");
    assert_int_equal(err.line, 6);
    char prefix[PATH_MAX + 32];
    snprintf(prefix, sizeof prefix, "%s:6:%d: modules.vehicle.executable: ", path, err.column);
    assert_true(strncmp(err.message, prefix, strlen(prefix)) == 0);
    assert_contains(err.message, "no_such_module.sh");
    assert_string_equal(hermes_last_error(), err.message);
}

static void test_config_load_syntax_error_file(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    const char *path = DATA_DIR "/syntax_error.yaml";
    assert_int_equal(hermes_config_load(&cfg, path, &err), HERMES_ECONFIG);
    assert_null(cfg);
    assert_string_equal(err.file, path);
    assert_true(err.line >= 2);
    assert_true(err.column > 0);
    assert_contains(err.message, "YAML syntax error");
    assert_true(strncmp(err.message, path, strlen(path)) == 0);
}

static void test_config_load_directory_fails(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    int rc = hermes_config_load(&cfg, DATA_DIR, &err);
    assert_true(rc == HERMES_ECONFIG);
    assert_null(cfg);
    assert_contains(err.message, DATA_DIR);
}

static void test_config_error_struct_optional(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    const char *yaml = M "execution: {rate_hz: 0}\n";
    assert_int_equal(hermes_config_parse(&cfg, yaml, strlen(yaml), NULL, NULL, NULL), HERMES_ECONFIG);
    assert_null(cfg);
    /* in-memory text without a name: "<config>" in the message */
    assert_contains(hermes_last_error(), "<config>:4:");
    assert_contains(hermes_last_error(), "execution.rate_hz");
    hermes_error_t err;
    assert_int_equal(hermes_config_parse(&cfg, yaml, strlen(yaml), NULL, NULL, &err), HERMES_ECONFIG);
    assert_string_equal(err.file, "");
    assert_int_equal(err.line, 4);
}

static void test_config_null_arguments(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    assert_int_equal(hermes_config_parse(NULL, "a", 1, NULL, NULL, NULL), HERMES_EINVAL);
    assert_int_equal(hermes_config_parse(&cfg, NULL, 0, NULL, NULL, NULL), HERMES_EINVAL);
    assert_int_equal(hermes_config_load(&cfg, NULL, NULL), HERMES_EINVAL);
    assert_int_equal(hermes_config_load(NULL, "x", NULL), HERMES_EINVAL);
    assert_int_equal(hermes_config_create(NULL), HERMES_EINVAL);
    assert_int_equal(hermes_config_validate(NULL, NULL), HERMES_EINVAL);
    assert_int_equal(hermes_config_module_count(NULL), 0);
    assert_int_equal(hermes_config_wire_count(NULL), 0);
    assert_int_equal(hermes_config_schedule_count(NULL), 0);
    assert_null(hermes_config_path(NULL));
    assert_null(hermes__config_module_callbacks(NULL, 0));
    hermes_config_destroy(NULL);
    hermes_execution_t ex;
    assert_int_equal(hermes_config_execution(NULL, &ex), HERMES_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Programmatic API                                                         */

static int cb_init(void **st, const hermes_inproc_env_t *env)
{
    (void)env;
    *st = NULL;
    return 0;
}
static int cb_stage(void *st) { (void)st; return 0; }
static int cb_step(void *st, uint64_t frame, double dt) { (void)st; (void)frame; (void)dt; return 0; }
static int cb_reset(void *st) { (void)st; return 0; }
static const hermes_inproc_module_t cb_table = {HERMES_INPROC_ABI_VERSION, 0, cb_init, cb_stage, cb_step, cb_reset,
                                                NULL, NULL, NULL, NULL};

static hermes_config_t *build_valid(void)
{
    hermes_config_t *cfg = NULL;
    assert_hermes_ok(hermes_config_create(&cfg));
    char *exe = real_data("fake_module.sh");
    assert_hermes_ok(hermes_config_add_module(cfg, "inputs", HERMES_MODULE_INJECTION, NULL));
    assert_hermes_ok(hermes_config_add_module(cfg, "vehicle", HERMES_MODULE_PROCESS, exe));
    assert_hermes_ok(hermes_config_add_module(cfg, "ctl", HERMES_MODULE_INPROC, NULL));
    free(exe);
    assert_hermes_ok(hermes_config_set_module_callbacks(cfg, "ctl", &cb_table));
    assert_hermes_ok(hermes_config_add_signal(cfg, "inputs", "throttle", HERMES_TYPE_F64, "1", true, 0.5));
    assert_hermes_ok(hermes_config_add_signal(cfg, "vehicle", "thrust_cmd", HERMES_TYPE_NONE, NULL, true, 0.0));
    assert_hermes_ok(hermes_config_add_signal(cfg, "vehicle", "position.x", HERMES_TYPE_F64, "m", false, 0.0));
    assert_hermes_ok(hermes_config_add_signal(cfg, "ctl", "mode", HERMES_TYPE_I32, "", true, 3));
    assert_hermes_ok(hermes_config_add_wire(cfg, "inputs.throttle", "vehicle.thrust_cmd", 1000.0, 0.0));
    return cfg;
}

static void test_config_api_builds_valid_config(void **state)
{
    (void)state;
    hermes_config_t *cfg = build_valid();
    const char *args[] = {"-v", "--rate=10"};
    assert_hermes_ok(hermes_config_set_module_args(cfg, "vehicle", args, 2));
    char *params = real_data("vehicle_params.yaml");
    assert_hermes_ok(hermes_config_set_module_config(cfg, "vehicle", params));
    hermes_execution_t ex = {HERMES_MODE_SINGLE_FRAME, 50.0, 3.0, true, 1.5};
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    const char *order[] = {"ctl", "inputs", "vehicle"};
    assert_hermes_ok(hermes_config_set_schedule(cfg, order, 3));
    hermes_server_settings_t srv = {.enabled = true, .host = NULL, .port = 9000, .telemetry_hz = 10.0};
    assert_hermes_ok(hermes_config_set_server(cfg, &srv));
    hermes_error_t err;
    assert_hermes_ok(hermes_config_validate(cfg, &err));
    assert_int_equal(err.code, 0);

    hermes_module_info_t mi;
    assert_hermes_ok(hermes_config_module(cfg, 1, &mi));
    assert_string_equal(mi.name, "vehicle");
    assert_int_equal(mi.arg_count, 2);
    assert_string_equal(mi.args[1], "--rate=10");
    assert_string_equal(mi.config_path, params);
    free(params);
    assert_int_equal(mi.signal_count, 2);
    assert_hermes_ok(hermes_config_module(cfg, 2, &mi));
    assert_null(mi.path);
    assert_ptr_equal(hermes__config_module_callbacks(cfg, 2), &cb_table);
    assert_null(hermes__config_module_callbacks(cfg, 1));
    assert_null(hermes__config_module_callbacks(cfg, 7));

    hermes_signal_spec_t sp;
    assert_hermes_ok(hermes_config_signal(cfg, 1, 0, &sp));
    assert_int_equal(sp.type, HERMES_TYPE_F64); /* NONE means f64 */
    assert_string_equal(sp.unit ? sp.unit : "", "");
    assert_hermes_ok(hermes_config_signal(cfg, 2, 0, &sp));
    assert_int_equal(sp.type, HERMES_TYPE_I32);
    assert_near(sp.initial, 3.0);

    hermes_execution_t got;
    assert_hermes_ok(hermes_config_execution(cfg, &got));
    assert_int_equal(got.mode, HERMES_MODE_SINGLE_FRAME);
    assert_near(got.rate_hz, 50.0);
    assert_true(got.has_end_time);
    assert_near(got.end_time, 3.0);
    assert_near(got.step_timeout, 1.5);
    uint32_t idx;
    assert_hermes_ok(hermes_config_schedule_at(cfg, 0, &idx));
    assert_int_equal(idx, 2);
    hermes_server_settings_t s2;
    assert_hermes_ok(hermes_config_server(cfg, &s2));
    assert_true(s2.enabled);
    assert_string_equal(s2.host, HERMES_DEFAULT_HOST);
    assert_int_equal(s2.port, 9000);

    /* clearing the schedule returns to file order */
    assert_hermes_ok(hermes_config_set_schedule(cfg, NULL, 0));
    assert_hermes_ok(hermes_config_schedule_at(cfg, 0, &idx));
    assert_int_equal(idx, 0);
    hermes_config_destroy(cfg);
}

static void test_config_api_rejects_bad_arguments(void **state)
{
    (void)state;
    hermes_config_t *cfg = build_valid();
    assert_int_equal(hermes_config_add_module(cfg, "inputs", HERMES_MODULE_INJECTION, NULL), HERMES_EEXIST);
    assert_contains(hermes_last_error(), "inputs");
    assert_int_equal(hermes_config_add_module(cfg, "hermes", HERMES_MODULE_INJECTION, NULL), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "reserved");
    assert_int_equal(hermes_config_add_module(cfg, "a.b", HERMES_MODULE_INJECTION, NULL), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "a.b");
    assert_int_equal(hermes_config_add_module(cfg, "x", HERMES_MODULE_NONE, NULL), HERMES_EINVAL);
    assert_int_equal(hermes_config_add_module(cfg, "x", HERMES_MODULE_INJECTION, "/bin/sh"), HERMES_EINVAL);
    assert_int_equal(hermes_config_add_module(cfg, "x", HERMES_MODULE_PROCESS, ""), HERMES_EINVAL);
    assert_int_equal(hermes_config_add_module(cfg, NULL, HERMES_MODULE_INJECTION, NULL), HERMES_EINVAL);

    assert_int_equal(hermes_config_add_signal(cfg, "ghost", "x", HERMES_TYPE_F64, NULL, false, 0), HERMES_ENOENT);
    assert_contains(hermes_last_error(), "ghost");
    assert_int_equal(hermes_config_add_signal(cfg, "inputs", "throttle", HERMES_TYPE_F64, NULL, false, 0),
                     HERMES_EEXIST);
    assert_contains(hermes_last_error(), "throttle");
    assert_int_equal(hermes_config_add_signal(cfg, "inputs", "x-y", HERMES_TYPE_F64, NULL, false, 0), HERMES_EINVAL);
    assert_int_equal(hermes_config_add_signal(cfg, "inputs", "x", (hermes_type_t)42, NULL, false, 0), HERMES_EINVAL);
    assert_int_equal(hermes_config_add_signal(cfg, "inputs", "x", HERMES_TYPE_BOOL, NULL, false, 2), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "bool");
    assert_int_equal(hermes_config_add_signal(cfg, "inputs", "x", HERMES_TYPE_F64, NULL, false, NAN), HERMES_EINVAL);
    assert_int_equal(hermes_config_add_signal(cfg, "inputs", "x", HERMES_TYPE_F64,
                                              "0123456789012345678901234567890123456789", false, 0),
                     HERMES_EINVAL);
    assert_int_equal(hermes_config_add_wire(cfg, "inputs.throttle", "vehicle.thrust_cmd", INFINITY, 0),
                     HERMES_EINVAL);
    assert_int_equal(hermes_config_add_wire(cfg, NULL, "vehicle.thrust_cmd", 1, 0), HERMES_EINVAL);

    hermes_execution_t ex = {HERMES_MODE_AFAP, 0.0, 0.0, false, 1.0};
    assert_int_equal(hermes_config_set_execution(cfg, &ex), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "execution.rate_hz");
    ex.rate_hz = 10.0;
    ex.has_end_time = true;
    ex.end_time = -1.0;
    assert_int_equal(hermes_config_set_execution(cfg, &ex), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "execution.end_time");
    ex.end_time = 1.0;
    ex.step_timeout = NAN;
    assert_int_equal(hermes_config_set_execution(cfg, &ex), HERMES_EINVAL);
    ex.step_timeout = 1.0;
    ex.mode = (hermes_mode_t)9;
    assert_int_equal(hermes_config_set_execution(cfg, &ex), HERMES_EINVAL);

    hermes_server_settings_t srv = {.enabled = true, .host = "", .port = 1, .telemetry_hz = 10.0};
    assert_int_equal(hermes_config_set_server(cfg, &srv), HERMES_EINVAL);
    srv.host = "localhost";
    srv.telemetry_hz = 0;
    assert_int_equal(hermes_config_set_server(cfg, &srv), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "server.telemetry_hz");

    assert_int_equal(hermes_config_set_module_callbacks(cfg, "vehicle", &cb_table), HERMES_EINVAL);
    assert_int_equal(hermes_config_set_module_callbacks(cfg, "ghost", &cb_table), HERMES_ENOENT);
    hermes_inproc_module_t bad_abi = cb_table;
    bad_abi.abi_version = HERMES_INPROC_ABI_VERSION + 1;
    assert_int_equal(hermes_config_set_module_callbacks(cfg, "ctl", &bad_abi), HERMES_EABI);
    const char *args[] = {"x"};
    assert_int_equal(hermes_config_set_module_args(cfg, "inputs", args, 1), HERMES_EINVAL);
    assert_int_equal(hermes_config_set_module_args(cfg, "ghost", args, 1), HERMES_ENOENT);
    assert_int_equal(hermes_config_set_module_config(cfg, "ghost", "x"), HERMES_ENOENT);
    assert_int_equal(hermes_config_set_module_config(cfg, "inputs", ""), HERMES_EINVAL);
    const char *sched[] = {"inputs", NULL};
    assert_int_equal(hermes_config_set_schedule(cfg, sched, 2), HERMES_EINVAL);

    /* none of the failures changed the config */
    hermes_error_t err;
    assert_hermes_ok(hermes_config_validate(cfg, &err));
    assert_int_equal(hermes_config_module_count(cfg), 3);
    hermes_config_destroy(cfg);
}

static void expect_validate_error(hermes_config_t *cfg, const char *field, const char *needle)
{
    hermes_error_t err;
    assert_int_equal(hermes_config_validate(cfg, &err), HERMES_ECONFIG);
    assert_int_equal(err.code, HERMES_ECONFIG);
    assert_string_equal(err.field, field);
    assert_contains(err.message, needle);
    assert_int_equal(err.line, 0);
    assert_string_equal(err.file, "");
    assert_string_equal(hermes_last_error(), err.message);
    hermes_config_destroy(cfg);
}

static void test_config_api_validate_cross_field_rules(void **state)
{
    (void)state;
    hermes_config_t *cfg = NULL;
    assert_hermes_ok(hermes_config_create(&cfg));
    expect_validate_error(cfg, "modules", "at least one module");

    cfg = build_valid();
    assert_hermes_ok(hermes_config_add_wire(cfg, "inputs.throttle", "vehicle.ghost", 1, 0));
    expect_validate_error(cfg, "wiring[1].dst", "vehicle.ghost");

    cfg = build_valid();
    assert_hermes_ok(hermes_config_add_wire(cfg, "ctl.mode", "vehicle.position.x", 1, 0));
    expect_validate_error(cfg, "wiring[1].dst", "not writable");

    cfg = build_valid();
    assert_hermes_ok(hermes_config_add_wire(cfg, "ctl.mode", "vehicle.thrust_cmd", 1, 0));
    expect_validate_error(cfg, "wiring[1].dst", "already driven");

    cfg = build_valid();
    assert_hermes_ok(hermes_config_add_wire(cfg, "ctl.mode", "ctl.mode", 1, 0));
    expect_validate_error(cfg, "wiring[1].dst", "self-wiring");

    cfg = build_valid();
    const char *partial[] = {"vehicle", "inputs"};
    assert_hermes_ok(hermes_config_set_schedule(cfg, partial, 2));
    expect_validate_error(cfg, "execution.schedule", "'ctl'");

    cfg = build_valid();
    const char *ghost[] = {"vehicle", "inputs", "ctl", "ghost"};
    assert_hermes_ok(hermes_config_set_schedule(cfg, ghost, 4));
    expect_validate_error(cfg, "execution.schedule[3]", "ghost");

    /* inproc with neither library nor callbacks */
    cfg = build_valid();
    assert_hermes_ok(hermes_config_set_module_callbacks(cfg, "ctl", NULL));
    expect_validate_error(cfg, "modules.ctl.library", "required");

    /* paths are checked at validate time */
    cfg = build_valid();
    assert_hermes_ok(hermes_config_add_module(cfg, "p", HERMES_MODULE_PROCESS, DATA_DIR "/not_executable.sh"));
    expect_validate_error(cfg, "modules.p.executable", "not executable");

    cfg = build_valid();
    assert_hermes_ok(hermes_config_add_module(cfg, "lib", HERMES_MODULE_INPROC, DATA_DIR "/nope.so"));
    expect_validate_error(cfg, "modules.lib.library", "not found");

    cfg = build_valid();
    assert_hermes_ok(hermes_config_add_module(cfg, "p", HERMES_MODULE_PROCESS, NULL));
    expect_validate_error(cfg, "modules.p.executable", "required");

    cfg = build_valid();
    assert_hermes_ok(hermes_config_set_module_config(cfg, "inputs", DATA_DIR "/nope.yaml"));
    expect_validate_error(cfg, "modules.inputs.config", "not found");
}

static void test_config_names(void **state)
{
    (void)state;
    assert_string_equal(hermes_mode_name(HERMES_MODE_AFAP), "afap");
    assert_string_equal(hermes_mode_name(HERMES_MODE_REALTIME), "realtime");
    assert_string_equal(hermes_mode_name(HERMES_MODE_SINGLE_FRAME), "single_frame");
    assert_string_equal(hermes_mode_name((hermes_mode_t)77), "unknown");
    assert_string_equal(hermes_module_type_name(HERMES_MODULE_PROCESS), "process");
    assert_string_equal(hermes_module_type_name(HERMES_MODULE_INPROC), "inproc");
    assert_string_equal(hermes_module_type_name(HERMES_MODULE_INJECTION), "injection");
    assert_string_equal(hermes_module_type_name(HERMES_MODULE_NONE), "none");
    assert_string_equal(hermes_module_type_name((hermes_module_type_t)77), "unknown");
}

static void test_config_server_access_keys(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(M "server:\n"
                                      "  enabled: true\n"
                                      "  auth_token: 0123456789abcdef-._~XYZ\n"
                                      "  observers: yes\n"
                                      "  viewer: false\n"
                                      "  allowed_origins: [\"http://localhost:3000\", \"https://dash.example.org/\", \"*\"]\n"
                                      "  max_clients: 8\n"
                                      "  max_message_size: 4096\n"
                                      "  commands_per_second: 20\n"
                                      "  max_patterns: 64\n"
                                      "  max_json_depth: 3\n");
    hermes_server_settings_t srv;
    assert_hermes_ok(hermes_config_server(cfg, &srv));
    assert_string_equal(srv.auth_token, "0123456789abcdef-._~XYZ");
    assert_true(srv.observers);
    assert_true(srv.viewer_disabled);
    assert_int_equal(srv.allowed_origin_count, 3);
    assert_string_equal(srv.allowed_origins[0], "http://localhost:3000");
    assert_string_equal(srv.allowed_origins[1], "https://dash.example.org/");
    assert_string_equal(srv.allowed_origins[2], "*");
    assert_int_equal(srv.max_clients, 8);
    assert_int_equal(srv.max_message_size, 4096);
    assert_int_equal(srv.commands_per_second, 20);
    assert_int_equal(srv.max_patterns, 64);
    assert_int_equal(srv.max_json_depth, 3);
    /* round trip through the API keeps every key */
    hermes_config_t *c2 = NULL;
    assert_hermes_ok(hermes_config_create(&c2));
    assert_hermes_ok(hermes_config_set_server(c2, &srv));
    hermes_server_settings_t s2;
    assert_hermes_ok(hermes_config_server(c2, &s2));
    assert_string_equal(s2.auth_token, srv.auth_token);
    assert_int_equal(s2.allowed_origin_count, 3);
    assert_string_equal(s2.allowed_origins[1], "https://dash.example.org/");
    assert_int_equal(s2.max_json_depth, 3);
    assert_true(s2.observers);
    assert_true(s2.viewer_disabled);
    /* bad values through the API: EINVAL naming the key, never the token */
    hermes_server_settings_t bad = srv;
    bad.auth_token = "0123456789abcdef!";
    assert_int_equal(hermes_config_set_server(c2, &bad), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "server.auth_token");
    assert_null(strstr(hermes_last_error(), "0123456789abcdef!"));
    bad = srv;
    bad.max_json_depth = 2;
    assert_int_equal(hermes_config_set_server(c2, &bad), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "server.max_json_depth");
    bad = srv;
    bad.allowed_origin_count = 4;
    bad.allowed_origins = (const char *const[]){"http://a", "http://b", "ftp://c", "https://d/x"};
    assert_int_equal(hermes_config_set_server(c2, &bad), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "server.allowed_origins[3]");
    /* the failed calls changed nothing */
    assert_hermes_ok(hermes_config_server(c2, &s2));
    assert_int_equal(s2.max_json_depth, 3);
    hermes_config_destroy(c2);
    hermes_config_destroy(cfg);

    /* absent keys: zero (the server's documented defaults); `auth_token: null` is no token */
    cfg = parse_ok(M "server:\n  auth_token: null\n  allowed_origins: []\n");
    assert_hermes_ok(hermes_config_server(cfg, &srv));
    assert_null(srv.auth_token);
    assert_false(srv.observers);
    assert_int_equal(srv.allowed_origin_count, 0);
    assert_int_equal(srv.max_clients, 0);
    assert_int_equal(srv.max_message_size, 0);
    assert_int_equal(srv.commands_per_second, 0);
    assert_int_equal(srv.max_patterns, 0);
    assert_int_equal(srv.max_json_depth, 0);
    hermes_config_destroy(cfg);
}

static void test_config_loaded_config_can_be_extended(void **state)
{
    (void)state;
    /* A host loads YAML, then attaches callbacks to an inproc module. */
    hermes_config_t *cfg = parse_ok(MS);
    assert_hermes_ok(hermes_config_add_module(cfg, "ctl", HERMES_MODULE_INPROC, NULL));
    hermes_error_t err;
    assert_int_equal(hermes_config_validate(cfg, &err), HERMES_ECONFIG);
    assert_string_equal(err.field, "modules.ctl.library");
    assert_hermes_ok(hermes_config_set_module_callbacks(cfg, "ctl", &cb_table));
    assert_hermes_ok(hermes_config_validate(cfg, &err));
    hermes_config_destroy(cfg);
}

/* ------------------------------------------------------------------------ */
/* libcyaml's log text: one test per form config/cyaml_log.c knows (the     */
/* texts are what libcyaml 1.3.1 prints)                                    */

static void parse_log(const char *log, struct hermes__cyaml_report *r)
{
    memset(r, 0x5a, sizeof *r);  /* every field must be written */
    hermes__cyaml_log_parse(log, r);
}

static void test_config_cyaml_log_unexpected_key(void **state)
{
    (void)state;
    struct hermes__cyaml_report r;
    parse_log("Load: Unexpected key: colour\n"
              "Load: Backtrace:\n"
              "  in mapping (line: 3, column: 12)\n"
              "  in sequence entry '2' (line: 3, column: 5)\n"
              "  in mapping field 'signals' (line: 2, column: 3)\n", &r);
    assert_int_equal(r.kind, HERMES__CYAML_UNEXPECTED_KEY);
    assert_string_equal(r.arg, "colour");
    assert_string_equal(r.path, "signals[1]");
    assert_int_equal(r.line, 3);
    assert_int_equal(r.col, 12);
    assert_string_equal(r.text, "Unexpected key: colour");
    /* at the top level: no field frame, empty path */
    parse_log("Load: Unexpected key: foo\nLoad: Backtrace:\n  in mapping (line: 1, column: 1)\n", &r);
    assert_int_equal(r.kind, HERMES__CYAML_UNEXPECTED_KEY);
    assert_string_equal(r.arg, "foo");
    assert_string_equal(r.path, "");
    assert_int_equal(r.line, 1);
}

static void test_config_cyaml_log_missing_field(void **state)
{
    (void)state;
    struct hermes__cyaml_report r;
    /* the innermost frame names the last sibling parsed ('unit'): not in the path */
    parse_log("Load: Missing required mapping field: name\n"
              "Load: Backtrace:\n"
              "  in mapping field 'unit' (line: 3, column: 12)\n"
              "  in sequence entry '2' (line: 3, column: 5)\n"
              "  in mapping field 'signals' (line: 2, column: 3)\n", &r);
    assert_int_equal(r.kind, HERMES__CYAML_MISSING_FIELD);
    assert_string_equal(r.arg, "name");
    assert_string_equal(r.path, "signals[1]");
    assert_int_equal(r.line, 3);
}

static void test_config_cyaml_log_wrong_type(void **state)
{
    (void)state;
    struct hermes__cyaml_report r;
    parse_log("Load: Expecting STRING, got event: SEQUENCE_START\n"
              "Load: Backtrace:\n"
              "  in mapping field 'name' (line: 2, column: 12)\n"
              "  in sequence entry '1' (line: 2, column: 5)\n"
              "  in mapping field 'signals' (line: 2, column: 3)\n", &r);
    assert_int_equal(r.kind, HERMES__CYAML_WRONG_TYPE);
    assert_string_equal(r.arg, "expected a string, got a sequence");
    assert_string_equal(r.path, "signals[0].name");
    assert_int_equal(r.line, 2);
    assert_int_equal(r.col, 12);
    /* a sequence entry as the innermost frame */
    parse_log("Load: Expecting STRING, got event: MAPPING_START\n"
              "Load: Backtrace:\n"
              "  in sequence entry '2' (line: 1, column: 11)\n"
              "  in mapping field 'list' (line: 1, column: 7)\n", &r);
    assert_int_equal(r.kind, HERMES__CYAML_WRONG_TYPE);
    assert_string_equal(r.arg, "expected a string, got a mapping");
    assert_string_equal(r.path, "list[1]");
    assert_int_equal(r.col, 11);
}

static void test_config_cyaml_log_other(void **state)
{
    (void)state;
    struct hermes__cyaml_report r;
    parse_log("Load: No anchor found for alias: 'x'\n"
              "Load: Backtrace:\n"
              "  in mapping field 'version' (line: 1, column: 1)\n", &r);
    assert_int_equal(r.kind, HERMES__CYAML_OTHER);
    assert_string_equal(r.text, "No anchor found for alias: 'x'");
    assert_string_equal(r.path, "version");
    assert_int_equal(r.line, 1);
    /* text it does not know at all, and nothing */
    parse_log("something else entirely\n", &r);
    assert_int_equal(r.kind, HERMES__CYAML_OTHER);
    assert_string_equal(r.text, "");
    assert_string_equal(r.path, "");
    assert_int_equal(r.line, 0);
    parse_log("", &r);
    assert_int_equal(r.kind, HERMES__CYAML_OTHER);
    parse_log(NULL, &r);
    assert_int_equal(r.kind, HERMES__CYAML_OTHER);
}

/* ------------------------------------------------------------------------ */
/* Validated once                                                           */

static void test_config_validate_runs_once(void **state)
{
    (void)state;
    /* A process module whose executable we can make invalid behind the
     * config's back: a remembered validation does not notice, a new one does. */
    char exe[] = "/tmp/hermes-test-exe-XXXXXX";
    int fd = mkstemp(exe);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(chmod(exe, 0700), 0);
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "modules:\n  p: {type: process, executable: \"%s\"}\n"
             "  m:\n    type: injection\n    signals:\n      - {name: x, writable: true}\n      - {name: y}\n", exe);
    hermes_config_t *cfg = parse_ok(yaml);  /* loading validated it */
    assert_int_equal(chmod(exe, 0600), 0);
    hermes_error_t err;
    assert_hermes_ok(hermes_config_validate(cfg, &err));  /* remembered: no second check */
    /* section setters check their own section fully and keep it validated */
    hermes_execution_t ex;
    assert_hermes_ok(hermes_config_execution(cfg, &ex));
    ex.rate_hz = 50.0;
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    hermes_server_settings_t srv;
    assert_hermes_ok(hermes_config_server(cfg, &srv));
    srv.enabled = true;
    assert_hermes_ok(hermes_config_set_server(cfg, &srv));
    assert_hermes_ok(hermes_config_validate(cfg, &err));
    /* any other change forgets it: validate checks everything again */
    assert_hermes_ok(hermes_config_add_wire(cfg, "m.y", "m.x", 1.0, 0.0));
    assert_int_equal(hermes_config_validate(cfg, &err), HERMES_ECONFIG);
    assert_string_equal(err.field, "modules.p.executable");
    assert_contains(err.message, "not executable");
    assert_int_equal(chmod(exe, 0700), 0);
    assert_hermes_ok(hermes_config_validate(cfg, &err));
    /* a failed validation is not remembered either way */
    assert_hermes_ok(hermes_config_add_signal(cfg, "m", "z", HERMES_TYPE_F64, NULL, false, 0.0));
    assert_hermes_ok(hermes_config_add_wire(cfg, "m.z", "m.y", 1.0, 0.0));
    assert_int_equal(hermes_config_validate(cfg, &err), HERMES_ECONFIG);
    assert_int_equal(hermes_config_validate(cfg, &err), HERMES_ECONFIG);
    assert_contains(err.message, "not writable");
    hermes_config_destroy(cfg);
    unlink(exe);
}

/* A mapping of many keys indexes them for the duplicate check: the 20th
 * module repeating the 4th is still found, with the first line. */
static void test_config_rejects_duplicate_among_many_modules(void **state)
{
    (void)state;
    char yaml[2048] = "modules:\n";
    for (int i = 0; i < 20; i++)
        snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "  a%d: {type: injection}\n", i);
    strcat(yaml, "  a3: {type: injection}\n");
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    assert_int_equal(hermes_config_parse(&cfg, yaml, strlen(yaml), "t.yaml", DATA_DIR, &err), HERMES_ECONFIG);
    assert_null(cfg);
    assert_string_equal(err.field, "modules.a3");
    assert_contains(err.message, "duplicate module name 'a3' (first defined on line 5)");
    assert_int_equal(err.line, 22);
    /* and 20 distinct ones load */
    yaml[strlen(yaml) - strlen("  a3: {type: injection}\n")] = '\0';
    cfg = parse_ok(yaml);
    assert_int_equal(hermes_config_module_count(cfg), 20);
    hermes_config_destroy(cfg);
}

/* An entry added in code to a loaded config has no line of its own: its
 * error points at the section's key in the file. */
static void test_config_code_added_entries_point_at_their_section(void **state)
{
    (void)state;
    hermes_config_t *cfg = parse_ok(MS "      - {name: z, writable: true}\nwiring:\n  - {src: m.y, dst: m.x}\n");
    assert_hermes_ok(hermes_config_add_wire(cfg, "m.y", "m.z", 1.0, 0.0));
    assert_hermes_ok(hermes_config_add_wire(cfg, "m.x", "m.z", 1.0, 0.0));
    hermes_error_t err;
    assert_int_equal(hermes_config_validate(cfg, &err), HERMES_ECONFIG);
    assert_string_equal(err.field, "wiring[2].dst");
    assert_contains(err.message, "already driven by wiring[1]");
    assert_int_equal(err.line, 8);  /* `wiring:` */
    assert_int_equal(err.column, 1);
    hermes_config_destroy(cfg);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_config_full_roundtrip),
        cmocka_unit_test(test_read_file_whole_and_limits),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_schedule_defaults_to_file_order),
        cmocka_unit_test(test_config_accepts_bool_spellings),
        cmocka_unit_test(test_config_accepts_initial_values_fitting_type),
        cmocka_unit_test(test_config_accepts_wire_within_module),
        cmocka_unit_test(test_config_end_time_null_means_no_end),
        cmocka_unit_test(test_config_accepts_versions),
        cmocka_unit_test(test_config_accepts_port_range),
        cmocka_unit_test(test_config_resolves_paths_against_base_dir),
        cmocka_unit_test(test_config_rejects_long_module_name),
        cmocka_unit_test(test_config_rejects_long_qualified_name),
        cmocka_unit_test(test_config_rejects_long_unit),
        cmocka_unit_test(test_config_load_missing_file),
        cmocka_unit_test(test_config_load_error_names_file_and_line),
        cmocka_unit_test(test_config_load_syntax_error_file),
        cmocka_unit_test(test_config_load_directory_fails),
        cmocka_unit_test(test_config_error_struct_optional),
        cmocka_unit_test(test_config_null_arguments),
        cmocka_unit_test(test_config_api_builds_valid_config),
        cmocka_unit_test(test_config_api_rejects_bad_arguments),
        cmocka_unit_test(test_config_api_validate_cross_field_rules),
        cmocka_unit_test(test_config_names),
        cmocka_unit_test(test_config_loaded_config_can_be_extended),
        cmocka_unit_test(test_config_server_access_keys),
        cmocka_unit_test(test_config_cyaml_log_unexpected_key),
        cmocka_unit_test(test_config_cyaml_log_missing_field),
        cmocka_unit_test(test_config_cyaml_log_wrong_type),
        cmocka_unit_test(test_config_cyaml_log_other),
        cmocka_unit_test(test_config_validate_runs_once),
        cmocka_unit_test(test_config_rejects_duplicate_among_many_modules),
        cmocka_unit_test(test_config_code_added_entries_point_at_their_section),
    };
    enum { NFIXED = sizeof fixed / sizeof *fixed, NBAD = sizeof bad_cases / sizeof *bad_cases };
    static struct CMUnitTest tests[NFIXED + NBAD];
    memcpy(tests, fixed, sizeof fixed);
    for (size_t i = 0; i < NBAD; i++) {
        struct CMUnitTest t = cmocka_unit_test_prestate(run_bad_case, (void *)&bad_cases[i]);
        t.name = bad_cases[i].name;
        tests[NFIXED + i] = t;
    }
    return _cmocka_run_group_tests("test_config", tests, NFIXED + NBAD, NULL, NULL);
}
