/* Foxglove protocol message builders (lib/server/foxglove/msg.c) and the
 * payload number formatter (lib/server/foxglove/number.c), without sockets:
 * a real shared-memory backplane, texts parsed back with jansson. */
#include "test_util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "server/foxglove/foxglove.h"
#include "server/internal.h"

struct fixture {
    hermes_backplane_t  *bp;
    char                 name[96];
    hermes_signal_info_t info[16];
    uint32_t             n;
};

/* The signal list as the server's catalog gives it: info[k] is index k. */
static void load_info(hermes_backplane_t *bp, hermes_signal_info_t *info, uint32_t *n)
{
    *n = hermes_backplane_count(bp);
    for (uint32_t k = 0; k < *n; k++)
        assert_hermes_ok(hermes_backplane_info(bp, k, &info[k]));
}

/* vehicle: nested names, a leaf that is also a prefix ("gear" and "gear.ratio"),
 * every type; ctrl: writable signals; hermes: a health signal. */
static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    hermes_signal_spec_t specs[] = {
        {"vehicle", "position.altitude", HERMES_TYPE_F64, "m", false, 1500.25},
        {"vehicle", "position.downrange", HERMES_TYPE_F64, "m", false, 0.1},
        {"vehicle", "speed", HERMES_TYPE_F64, "m/s", false, -3.5},
        {"vehicle", "gear", HERMES_TYPE_I32, "", false, 4},
        {"vehicle", "gear.ratio", HERMES_TYPE_F32, "", false, 0.5},
        {"vehicle", "armed", HERMES_TYPE_BOOL, "", false, 1},
        {"vehicle", "position.frame.x", HERMES_TYPE_F64, "m", false, 2},
        {"ctrl", "throttle", HERMES_TYPE_F64, "1", true, 0.75},
        {"ctrl", "mode", HERMES_TYPE_I64, "", true, 2},
        {"ctrl", "enabled", HERMES_TYPE_BOOL, "", true, 0},
        {"hermes", "rtf", HERMES_TYPE_F64, "", false, 1},
    };
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.run_name = test_run_name(f.name, sizeof f.name, "fg");
    bc.signals = specs;
    bc.signal_count = sizeof specs / sizeof specs[0];
    if (hermes_backplane_create(&f.bp, &bc) != 0)
        return -1;
    f.n = hermes_backplane_count(f.bp);
    for (uint32_t k = 0; k < f.n; k++)
        if (hermes_backplane_info(f.bp, k, &f.info[k]) != 0)
            return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    hermes_backplane_destroy(f->bp);
    return shm_exists(f->name) ? -1 : 0;
}

static json_t *parse(const char *text, size_t len)
{
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!j)
        fail_msg("not JSON (%s): %.*s", err.text, (int)(len > 300 ? 300 : len), text);
    return j;
}

static const char *js(json_t *j, const char *key) { return json_string_value(json_object_get(j, key)); }

/* ---- numbers ---------------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void check_number(double v)
{
    char buf[HERMES_FG_DOUBLE_MAX + 1];
    size_t n = hermes__fg_format_double(v, buf);
    assert_true(n > 0 && n <= HERMES_FG_DOUBLE_MAX);
    buf[n] = '\0';
    /* valid JSON number that reads back as the same bits */
    json_error_t err;
    json_t *j = json_loadb(buf, n, JSON_DECODE_ANY, &err);
    if (!j || !json_is_number(j))
        fail_msg("%.17g printed as '%s', not a JSON number", v, buf);
    json_decref(j);
    double r = strtod(buf, NULL);
    if (memcmp(&r, &v, sizeof v) != 0)
        fail_msg("%.17g printed as '%s' reads back as %.17g", v, buf, r);
}

static void test_foxglove_number_round_trips(void **state)
{
    (void)state;
    static const double special[] = {0.0, -0.0, 0.1, 0.2, 0.3, 1.0 / 3, 1e-7, 1e-6, 123456.789, 1e21, 1e22, 1e23,
                                     5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 9007199254740993.0,
                                     -1.5, 4.35, 100, 1e300, -2.5e-300, 0.000123, 4294967296.5};
    for (size_t i = 0; i < sizeof special / sizeof *special; i++)
        check_number(special[i]);
    for (int i = 0; i < 200000; i++) {
        uint64_t u = next_rand();
        double d;
        memcpy(&d, &u, sizeof d);
        if (i % 2)
            d = (double)(next_rand() % 10000000) / (double)(1 + next_rand() % 10000);
        if (isfinite(d))
            check_number(d);
    }
    char buf[HERMES_FG_DOUBLE_MAX + 1];
    buf[hermes__fg_format_double(NAN, buf)] = '\0';
    assert_string_equal(buf, "null");
    buf[hermes__fg_format_double(-INFINITY, buf)] = '\0';
    assert_string_equal(buf, "null");
    buf[hermes__fg_format_double(42, buf)] = '\0';
    assert_string_equal(buf, "42");
    buf[hermes__fg_format_double(-7, buf)] = '\0';
    assert_string_equal(buf, "-7");
    buf[hermes__fg_format_double(0.1, buf)] = '\0';
    assert_string_equal(buf, "0.1");
    buf[hermes__fg_format_double(1.5e-9, buf)] = '\0';
    assert_string_equal(buf, "1.5e-9");
    buf[hermes__fg_format_double(-0.0, buf)] = '\0';
    assert_string_equal(buf, "-0");
}

/* ---- catalog ------------------------------------------------------------------ */

/* Collect the leaf titles of a JSON Schema object into @p titles (an object
 * title -> count). */
static void collect_titles(json_t *schema, json_t *titles)
{
    assert_string_equal(js(schema, "type"), "object");
    json_t *props = json_object_get(schema, "properties");
    assert_true(json_is_object(props));
    const char *key;
    json_t *sub;
    json_object_foreach(props, key, sub) {
        const char *type = js(sub, "type");
        assert_non_null(type);
        if (!strcmp(type, "object")) {
            collect_titles(sub, titles);
        } else {
            assert_true(!strcmp(type, "number") || !strcmp(type, "integer") || !strcmp(type, "boolean") ||
                        !strcmp(type, "string"));
            const char *t = js(sub, "title");
            assert_non_null(t);
            json_int_t n = json_integer_value(json_object_get(titles, t));
            json_object_set_new(titles, t, json_integer(n + 1));
        }
    }
}

/* The value at dotted @p path of @p msg. */
static json_t *at_path(json_t *msg, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = msg;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, tok);
    return cur;
}

static void test_foxglove_catalog_channels(void **state)
{
    struct fixture *f = *state;
    hermes__fg_catalog_t *cat = NULL;
    assert_hermes_ok(hermes__fg_catalog_create(&cat, f->info, f->n));
    assert_int_equal(hermes__fg_channel_count(cat), 3);
    assert_string_equal(hermes__fg_channel_topic(cat, 1), "/vehicle");
    assert_string_equal(hermes__fg_channel_topic(cat, 2), "/ctrl");
    assert_string_equal(hermes__fg_channel_topic(cat, 3), "/hermes");
    assert_null(hermes__fg_channel_topic(cat, 0));
    assert_null(hermes__fg_channel_topic(cat, 4));

    size_t len = 0;
    char *adv = hermes__fg_advertise(cat, &len);
    assert_non_null(adv);
    json_t *j = parse(adv, len);
    free(adv);
    assert_string_equal(js(j, "op"), "advertise");
    json_t *chs = json_object_get(j, "channels");
    assert_int_equal(json_array_size(chs), 3);
    json_t *titles = json_object();
    for (size_t i = 0; i < 3; i++) {
        json_t *c = json_array_get(chs, i);
        assert_int_equal(json_integer_value(json_object_get(c, "id")), (json_int_t)i + 1);
        assert_string_equal(js(c, "encoding"), "json");
        assert_string_equal(js(c, "schemaEncoding"), "jsonschema");
        assert_non_null(js(c, "schemaName"));
        const char *schema = js(c, "schema");
        assert_non_null(schema);
        json_t *s = parse(schema, strlen(schema));
        collect_titles(s, titles);
        json_decref(s);
    }
    /* every signal exactly once, plus the three extras of the hermes channel */
    uint32_t total = hermes_backplane_count(f->bp);
    for (uint32_t k = 0; k < total; k++) {
        hermes_signal_info_t in;
        assert_hermes_ok(hermes_backplane_info(f->bp, k, &in));
        if (json_integer_value(json_object_get(titles, in.name)) != 1)
            fail_msg("signal %s appears %lld times", in.name, (long long)json_integer_value(json_object_get(titles, in.name)));
    }
    assert_int_equal(json_object_size(titles), total + 3);
    assert_int_equal(json_integer_value(json_object_get(titles, "hermes.state")), 1);
    json_decref(titles);

    /* nesting: a Plot path /vehicle.position.altitude */
    json_t *vs = parse(js(json_array_get(chs, 0), "schema"), strlen(js(json_array_get(chs, 0), "schema")));
    json_t *alt = json_object_get(json_object_get(json_object_get(json_object_get(vs, "properties"), "position"),
                                                  "properties"), "altitude");
    assert_string_equal(js(alt, "type"), "number");
    assert_string_equal(js(alt, "title"), "vehicle.position.altitude");
    assert_contains(js(alt, "description"), "unit m");
    json_decref(vs);
    json_decref(j);

    uint32_t ch = 0;
    assert_string_equal(hermes__fg_signal_path(cat, 0, &ch), "position.altitude");
    assert_int_equal(ch, 1);
    assert_string_equal(hermes__fg_signal_path(cat, 3, &ch), "gear._value");  /* "gear" is also a prefix */
    assert_string_equal(hermes__fg_signal_path(cat, 4, &ch), "gear.ratio");
    assert_string_equal(hermes__fg_signal_path(cat, 6, &ch), "position.frame.x");
    assert_string_equal(hermes__fg_signal_path(cat, 10, &ch), "rtf");
    assert_int_equal(ch, 3);
    assert_null(hermes__fg_signal_path(cat, 99, &ch));
    hermes__fg_catalog_destroy(cat);
}

static void test_foxglove_payload_values(void **state)
{
    struct fixture *f = *state;
    hermes__fg_catalog_t *cat = NULL;
    assert_hermes_ok(hermes__fg_catalog_create(&cat, f->info, f->n));
    uint32_t total = hermes_backplane_count(f->bp);
    double values[16];
    for (uint32_t k = 0; k < total; k++) {
        hermes_signal_info_t in;
        assert_hermes_ok(hermes_backplane_info(f->bp, k, &in));
        values[k] = in.initial;
    }
    values[1] = NAN;  /* vehicle.position.downrange: not representable */
    values[2] = 0.1 + 0.2;
    hermes__fg_tick_t tick = {values, 1234, 12340000000ull, "paused"};
    for (uint32_t id = 1; id <= hermes__fg_channel_count(cat); id++) {
        size_t bound = hermes__fg_channel_bound(cat, id);
        char *buf = malloc(bound);
        size_t n = hermes__fg_encode(cat, id, &tick, buf);
        assert_true(n > 0 && n <= bound);
        json_t *msg = parse(buf, n);
        free(buf);
        for (uint32_t k = 0; k < total; k++) {
            uint32_t ch = 0;
            const char *path = hermes__fg_signal_path(cat, k, &ch);
            if (ch != id)
                continue;
            json_t *v = at_path(msg, path);
            hermes_signal_info_t in;
            assert_hermes_ok(hermes_backplane_info(f->bp, k, &in));
            if (isnan(values[k])) {
                assert_true(json_is_null(v));
            } else if (in.type == HERMES_TYPE_BOOL) {
                assert_true(json_is_boolean(v));
                assert_int_equal(json_is_true(v), values[k] != 0);
            } else if (in.type == HERMES_TYPE_I32 || in.type == HERMES_TYPE_I64) {
                assert_true(json_is_integer(v));
                assert_int_equal(json_integer_value(v), (json_int_t)values[k]);
            } else {
                if (!json_is_number(v) || json_number_value(v) != values[k])
                    fail_msg("%s: %.17g expected", in.name, values[k]);
            }
        }
        if (id == 3) {
            assert_string_equal(js(msg, "state"), "paused");
            assert_int_equal(json_integer_value(json_object_get(msg, "frame")), 1234);
            assert_true(json_number_value(json_object_get(msg, "time")) == 12.34);
        }
        json_decref(msg);
    }
    assert_int_equal(hermes__fg_encode(cat, 9, &tick, NULL), 0);
    hermes__fg_catalog_destroy(cat);
}

/* A backplane without the health module still gets a /hermes channel. */
static void test_foxglove_catalog_without_health(void **state)
{
    (void)state;
    char name[96];
    hermes_signal_spec_t specs[] = {{"m", "a.b", HERMES_TYPE_F64, "", false, 1}, {"m", "a", HERMES_TYPE_F64, "", false, 2},
                                    {"m", "a._value", HERMES_TYPE_F64, "", false, 3}};
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.run_name = test_run_name(name, sizeof name, "fg2");
    bc.signals = specs;
    bc.signal_count = 3;
    hermes_backplane_t *bp = NULL;
    assert_hermes_ok(hermes_backplane_create(&bp, &bc));
    hermes_signal_info_t info[3];
    uint32_t n = 0;
    load_info(bp, info, &n);
    hermes__fg_catalog_t *cat = NULL;
    assert_hermes_ok(hermes__fg_catalog_create(&cat, info, n));
    assert_int_equal(hermes__fg_channel_count(cat), 2);
    assert_string_equal(hermes__fg_channel_topic(cat, 2), "/hermes");
    /* "a" after "a.b" lands inside the object; "a._value" then needs another key */
    const char *p0 = hermes__fg_signal_path(cat, 0, NULL), *p1 = hermes__fg_signal_path(cat, 1, NULL),
               *p2 = hermes__fg_signal_path(cat, 2, NULL);
    assert_string_equal(p0, "a.b");
    assert_string_equal(p1, "a._value");
    assert_string_equal(p2, "a._value_2");
    double values[3] = {1, 2, 3};
    hermes__fg_tick_t tick = {values, 0, 0, NULL};
    char buf[512];
    assert_true(hermes__fg_channel_bound(cat, 1) <= sizeof buf);
    size_t len = hermes__fg_encode(cat, 1, &tick, buf);
    buf[len] = '\0';
    assert_string_equal(buf, "{\"a\":{\"b\":1,\"_value\":2,\"_value_2\":3}}");
    len = hermes__fg_encode(cat, 2, &tick, buf);
    buf[len] = '\0';
    assert_string_equal(buf, "{\"state\":\"unknown\",\"frame\":0,\"time\":0}");
    hermes__fg_catalog_destroy(cat);
    hermes_backplane_destroy(bp);
}

/* ---- binary layouts --------------------------------------------------------------- */

static void test_foxglove_binary_layouts(void **state)
{
    (void)state;
    unsigned char h[HERMES_FG_MESSAGE_HEADER];
    hermes__fg_put_message_header(h, 0x04030201u, 0x0c0b0a0908070605ull);
    const unsigned char want[] = {1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    assert_memory_equal(h, want, sizeof want);
    unsigned char t[HERMES_FG_TIME_SIZE];
    hermes__fg_put_time(t, 0x0807060504030201ull);
    const unsigned char want_t[] = {2, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(t, want_t, sizeof want_t);

    unsigned char req[64] = {2, 3, 0, 0, 0, 0x2a, 0, 0, 0, 4, 0, 0, 0, 'j', 's', 'o', 'n', '{', '}'};
    hermes__fg_call_t call;
    assert_hermes_ok(hermes__fg_parse_call(req, 19, &call));
    assert_int_equal(call.service, 3);
    assert_int_equal(call.call, 42);
    assert_int_equal(call.encoding_len, 4);
    assert_memory_equal(call.encoding, "json", 4);
    assert_int_equal(call.data_len, 2);
    assert_memory_equal(call.data, "{}", 2);
    assert_hermes_rc(hermes__fg_parse_call(req, 12, &call), HERMES_EINVAL);
    assert_hermes_rc(hermes__fg_parse_call(req, 16, &call), HERMES_EINVAL);  /* encoding runs past the end */
    assert_hermes_rc(hermes__fg_parse_call(req, 0, &call), HERMES_EINVAL);
    req[0] = 1;
    assert_hermes_rc(hermes__fg_parse_call(req, 19, &call), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "0x01");

    unsigned char resp[64];
    assert_int_equal(hermes__fg_call_response_size(3), 20);
    hermes__fg_put_call_response(resp, 4, 7, "{\"a\"", 3);
    const unsigned char want_r[] = {3, 4, 0, 0, 0, 7, 0, 0, 0, 4, 0, 0, 0, 'j', 's', 'o', 'n', '{', '"', 'a'};
    assert_memory_equal(resp, want_r, sizeof want_r);
}

/* ---- JSON texts ------------------------------------------------------------------ */

static void test_foxglove_texts(void **state)
{
    struct fixture *f = *state;
    size_t len = 0;
    char *s = hermes__fg_server_info("hermes 0.1.0", "run-1.0", "run-1", NULL, &len);
    json_t *j = parse(s, len);
    free(s);
    assert_string_equal(js(j, "op"), "serverInfo");
    assert_string_equal(js(j, "name"), "hermes 0.1.0");
    assert_string_equal(js(j, "sessionId"), "run-1.0");
    json_t *caps = json_object_get(j, "capabilities");
    char capstr[128] = "";
    for (size_t i = 0; i < json_array_size(caps); i++) {
        strcat(capstr, json_string_value(json_array_get(caps, i)));
        strcat(capstr, " ");
    }
    assert_string_equal(capstr, "time parameters services ");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "supportedEncodings"), 0)), "json");
    assert_string_equal(js(json_object_get(j, "metadata"), "run_id"), "run-1");
    json_decref(j);

    s = hermes__fg_advertise_services(&len);
    j = parse(s, len);
    free(s);
    assert_string_equal(js(j, "op"), "advertiseServices");
    json_t *svcs = json_object_get(j, "services");
    assert_int_equal(json_array_size(svcs), HERMES_FG_SVC_COUNT);
    static const char *const names[] = {"/hermes/pause", "/hermes/resume", "/hermes/step", "/hermes/reset",
                                        "/hermes/checkpoint"};
    for (size_t i = 0; i < json_array_size(svcs); i++) {
        json_t *o = json_array_get(svcs, i);
        assert_int_equal(json_integer_value(json_object_get(o, "id")), (json_int_t)i + 1);
        assert_string_equal(js(o, "name"), names[i]);
        json_t *rq = json_object_get(o, "request"), *rs = json_object_get(o, "response");
        assert_string_equal(js(rq, "encoding"), "json");
        assert_string_equal(js(rs, "schemaEncoding"), "jsonschema");
        json_t *sch = parse(js(rq, "schema"), strlen(js(rq, "schema")));
        assert_string_equal(js(sch, "type"), "object");
        json_decref(sch);
        assert_string_equal(js(o, "requestSchema"), js(rq, "schema"));
    }
    json_decref(j);

    s = hermes__fg_status(HERMES_FG_ERROR, "bad \"thing\"\n", "hermes.error", &len);
    j = parse(s, len);
    free(s);
    assert_string_equal(js(j, "op"), "status");
    assert_int_equal(json_integer_value(json_object_get(j, "level")), 2);
    assert_string_equal(js(j, "message"), "bad \"thing\"\n");
    assert_string_equal(js(j, "id"), "hermes.error");
    json_decref(j);
    s = hermes__fg_status(HERMES_FG_INFO, "\xff\xfe broken", NULL, &len);  /* not UTF-8: still valid JSON */
    j = parse(s, len);
    free(s);
    assert_null(json_object_get(j, "id"));
    json_decref(j);

    s = hermes__fg_call_failure(3, 9, "step needs a paused run", &len);
    j = parse(s, len);
    free(s);
    assert_string_equal(js(j, "op"), "serviceCallFailure");
    assert_int_equal(json_integer_value(json_object_get(j, "serviceId")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "callId")), 9);
    json_decref(j);

    /* parameters: typed values, id echoed */
    double values[16];
    for (uint32_t k = 0; k < f->n; k++)
        values[k] = f->info[k].initial;
    const uint32_t writable[] = {7, 8, 9};
    s = hermes__fg_parameter_values(f->info, f->n, values, writable, 3, "q\"1", &len);
    j = parse(s, len);
    free(s);
    assert_string_equal(js(j, "op"), "parameterValues");
    assert_string_equal(js(j, "id"), "q\"1");
    json_t *ps = json_object_get(j, "parameters");
    assert_int_equal(json_array_size(ps), 3);
    assert_string_equal(js(json_array_get(ps, 0), "name"), "ctrl.throttle");
    assert_true(json_number_value(json_object_get(json_array_get(ps, 0), "value")) == 0.75);
    assert_string_equal(js(json_array_get(ps, 0), "type"), "float64");
    assert_true(json_is_integer(json_object_get(json_array_get(ps, 1), "value")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ps, 1), "value")), 2);
    assert_null(json_object_get(json_array_get(ps, 1), "type"));
    assert_true(json_is_false(json_object_get(json_array_get(ps, 2), "value")));
    json_decref(j);
    const uint32_t pick[] = {8, 7, 99};  /* in the order given; out of range skipped */
    values[7] = NAN;                     /* no JSON form: value left out */
    s = hermes__fg_parameter_values(f->info, f->n, values, pick, 3, NULL, &len);
    j = parse(s, len);
    free(s);
    assert_null(json_object_get(j, "id"));
    ps = json_object_get(j, "parameters");
    assert_int_equal(json_array_size(ps), 2);
    assert_string_equal(js(json_array_get(ps, 0), "name"), "ctrl.mode");
    assert_string_equal(js(json_array_get(ps, 1), "name"), "ctrl.throttle");
    assert_null(json_object_get(json_array_get(ps, 1), "value"));
    json_decref(j);
}

/* ---- the protocol's ops, socket-free (a detached server, one message per fresh session) ---- */

struct proto_rig {
    hermes_config_t    *cfg;
    hermes_scheduler_t *sched;
    hermes_server_t    *srv;
    char                run[96];
};

static void proto_up(struct proto_rig *r)
{
    memset(r, 0, sizeof *r);
    assert_hermes_ok(hermes_config_create(&r->cfg));
    assert_hermes_ok(hermes_config_add_module(r->cfg, "ctrl", HERMES_MODULE_INJECTION, NULL));
    assert_hermes_ok(hermes_config_add_signal(r->cfg, "ctrl", "throttle", HERMES_TYPE_F64, "", true, 0.5));
    assert_hermes_ok(hermes_config_add_signal(r->cfg, "ctrl", "gear", HERMES_TYPE_I32, "", true, 1));
    assert_hermes_ok(hermes_config_add_module(r->cfg, "plant", HERMES_MODULE_INJECTION, NULL));
    assert_hermes_ok(hermes_config_add_signal(r->cfg, "plant", "position.x", HERMES_TYPE_F64, "m", false, 1));
    assert_hermes_ok(hermes_config_add_signal(r->cfg, "plant", "velocity", HERMES_TYPE_F64, "m/s", true, 0));
    assert_hermes_ok(hermes_config_add_wire(r->cfg, "ctrl.throttle", "plant.velocity", 2.0, 1.0));
    hermes_execution_t ex = {HERMES_MODE_AFAP, 100.0, 0, false, 1.0};
    assert_hermes_ok(hermes_config_set_execution(r->cfg, &ex));
    hermes_scheduler_options_t so;
    hermes_scheduler_options_init(&so);
    so.run_name = test_run_name(r->run, sizeof r->run, "fgp");
    so.start_paused = true;
    assert_hermes_ok(hermes_scheduler_create(&r->sched, r->cfg, &so));
    assert_hermes_ok(hermes_scheduler_stage(r->sched));
    hermes_server_control_t ctl;
    assert_hermes_ok(hermes_server_control_from_scheduler(r->sched, &ctl));
    ctl.attach = NULL;  /* no run() thread here: events are not needed */
    ctl.detach = NULL;
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.max_json_depth = 8;
    sc.sim_config = r->cfg;
    assert_hermes_ok(hermes__server_create_detached(&r->srv, hermes_scheduler_backplane(r->sched), &sc, &ctl));
}

static void proto_down(struct proto_rig *r)
{
    hermes_server_destroy(r->srv);
    hermes_scheduler_destroy(r->sched);
    hermes_config_destroy(r->cfg);
    assert_false(shm_exists(r->run));
}

struct got {
    json_t *text;  /* array of the text replies */
    json_t *bin;   /* array of {service, call, body} of the binary replies */
};

static void got_text(void *ctx, const char *text, size_t len)
{
    struct got *g = ctx;
    json_array_append_new(g->text, parse(text, len));
}

static void got_bin(void *ctx, const char *data, size_t len)
{
    struct got *g = ctx;
    const unsigned char *p = (const unsigned char *)data;
    assert_true(len >= 17);
    assert_int_equal(p[0], HERMES_FG_OP_SERVICE_CALL_RESPONSE);
    assert_memory_equal(p + 9, "\4\0\0\0json", 8);
    json_t *o = json_object();
    json_object_set_new(o, "service", json_integer(p[1]));
    json_object_set_new(o, "call", json_integer(p[5]));
    json_object_set_new(o, "body", parse(data + 17, len - 17));
    json_array_append_new(g->bin, o);
}

/* Send one message from a fresh session; replies in g (caller frees). */
static void send_msg(struct proto_rig *r, const void *msg, size_t len, bool binary, bool observer, struct got *g)
{
    g->text = json_array();
    g->bin = json_array();
    int n = hermes__server_fuzz_message(r->srv, observer ? "foxglove.sdk.v1" : "foxglove.websocket.v1", msg, len, binary,
                                        observer, got_text, got_bin, g);
    if (n < 0)
        fail_msg("fuzz_message: %s", hermes_last_error());
    assert_int_equal((size_t)n, json_array_size(g->text) + json_array_size(g->bin));
}

static void send_text(struct proto_rig *r, const char *msg, bool observer, struct got *g)
{
    send_msg(r, msg, strlen(msg), false, observer, g);
}

static void got_free(struct got *g)
{
    json_decref(g->text);
    json_decref(g->bin);
}

/* The status texts of level @p level, joined with '|'. */
static const char *statuses(struct got *g, int level)
{
    static char buf[2048];
    buf[0] = '\0';
    size_t i;
    json_t *m;
    json_array_foreach(g->text, i, m) {
        if (strcmp(js(m, "op"), "status") == 0 && json_integer_value(json_object_get(m, "level")) == level) {
            strncat(buf, js(m, "message"), sizeof buf - strlen(buf) - 2);
            strcat(buf, "|");
        }
    }
    return buf;
}

static json_t *first_op(struct got *g, const char *op)
{
    size_t i;
    json_t *m;
    json_array_foreach(g->text, i, m) if (strcmp(js(m, "op"), op) == 0) return m;
    return NULL;
}

static void test_foxglove_ops_refusals(void **state)
{
    (void)state;
    struct proto_rig r;
    proto_up(&r);
    struct got g;
    /* each subscription stands alone */
    send_text(&r, "{\"op\":\"subscribe\",\"subscriptions\":[{\"id\":1,\"channelId\":1},{\"id\":1,\"channelId\":2},"
                  "{\"id\":2,\"channelId\":1},{\"id\":3,\"channelId\":99},\"x\",{\"id\":4,\"channelId\":3}]}", false, &g);
    assert_string_equal(statuses(&g, 2),
                        "subscribe: subscription id 1 is already in use|"
                        "subscribe: channel 1 is already subscribed (subscription 1)|"
                        "subscribe: no channel 99 (channels are 1..3)|"
                        "subscriptions[4] must be {\"id\": u32, \"channelId\": u32}|");
    got_free(&g);
    send_text(&r, "{\"op\":\"subscribe\"}", false, &g);
    assert_contains(statuses(&g, 2), "subscribe needs \"subscriptions\"");
    got_free(&g);
    send_text(&r, "{\"op\":\"unsubscribe\",\"subscriptionIds\":[5]}", false, &g);
    assert_string_equal(statuses(&g, 1), "unsubscribe: no subscription 5|");
    got_free(&g);
    /* messages that are not ops */
    static const struct {
        const char *msg, *want;
    } bad[] = {
        {"not json", "invalid JSON at line 1"},
        {"[1]", "must be a JSON object with an \"op\", got an array"},
        {"{\"subscriptions\":[]}", "missing \"op\""},
        {"{\"op\":\"fly\"}", "unknown op 'fly'"},
        {"{\"op\":\"advertise\",\"channels\":[]}", "'advertise' is not supported by this server"},
        {"{\"op\":\"subscribeParameterUpdates\",\"parameterNames\":[]}", "'subscribeParameterUpdates' is not supported"},
        {"{\"op\":\"subscribe\",\"subscriptions\":[[[[[[[[[1]]]]]]]]]}", "JSON nested deeper than 8 levels"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        send_text(&r, bad[i].msg, false, &g);
        assert_int_equal(json_array_size(g.text), 1);
        assert_contains(statuses(&g, 2), bad[i].want);
        got_free(&g);
    }
    /* client publishing (binary opcode 0x01) is not offered */
    const unsigned char pub[] = {1, 1, 0, 0, 0, 'x'};
    send_msg(&r, pub, sizeof pub, true, false, &g);
    assert_contains(statuses(&g, 2), "binary opcode 0x01 is not supported");
    got_free(&g);
    proto_down(&r);
}

static void test_foxglove_ops_parameters(void **state)
{
    (void)state;
    struct proto_rig r;
    proto_up(&r);
    struct got g;
    /* the parameters: writable and not driven by a wire */
    send_text(&r, "{\"op\":\"getParameters\",\"parameterNames\":[],\"id\":\"a\"}", false, &g);
    json_t *pv = first_op(&g, "parameterValues");
    assert_non_null(pv);
    assert_string_equal(js(pv, "id"), "a");
    json_t *ps = json_object_get(pv, "parameters");
    assert_int_equal(json_array_size(ps), 2);
    assert_string_equal(js(json_array_get(ps, 0), "name"), "ctrl.throttle");
    assert_string_equal(js(json_array_get(ps, 1), "name"), "ctrl.gear");
    /* read from the run, not from a tick (none ran) */
    assert_true(json_number_value(json_object_get(json_array_get(ps, 0), "value")) == 0.5);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ps, 1), "value")), 1);
    got_free(&g);
    send_text(&r, "{\"op\":\"getParameters\",\"parameterNames\":[\"plant.position.x\",\"nope\",\"ctrl.gear\",7]}", false, &g);
    assert_string_equal(statuses(&g, 2), "parameter 'plant.position.x': read-only|parameter 'nope': unknown signal|"
                                         "getParameters: parameterNames[3] must be a string, got an integer|");
    ps = json_object_get(first_op(&g, "parameterValues"), "parameters");
    assert_int_equal(json_array_size(ps), 1);
    assert_null(json_object_get(first_op(&g, "parameterValues"), "id"));
    got_free(&g);

    /* set: refusals name the parameter, the rest is applied */
    send_text(&r, "{\"op\":\"setParameters\",\"id\":\"s\",\"parameters\":[{\"name\":\"ctrl.throttle\",\"value\":0.25},"
                  "{\"name\":\"ctrl.gear\",\"value\":1.5},{\"name\":\"plant.velocity\",\"value\":3},"
                  "{\"name\":\"plant.position.x\",\"value\":3},{\"name\":\"ctrl.gear\"},{\"name\":\"ctrl.gear\",\"value\":4}]}",
              false, &g);
    assert_string_equal(statuses(&g, 2),
                        "parameter 'ctrl.gear': value 1.5 does not fit i32 signal 'ctrl.gear'|"
                        "parameter 'plant.velocity': driven by ctrl.throttle; set that instead|"
                        "parameter 'plant.position.x': read-only|"
                        "parameter 'ctrl.gear': the value must be a finite number, got none (parameters cannot be unset)|");
    pv = first_op(&g, "parameterValues");
    assert_string_equal(js(pv, "id"), "s");
    ps = json_object_get(pv, "parameters");
    assert_int_equal(json_array_size(ps), 2);
    assert_true(json_number_value(json_object_get(json_array_get(ps, 0), "value")) == 0.25);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ps, 1), "value")), 4);
    got_free(&g);
    hermes_backplane_t *bp = hermes_scheduler_backplane(r.sched);
    hermes_signal_t sig;
    double v = 0;
    assert_hermes_ok(hermes_backplane_find(bp, "ctrl.throttle", &sig));
    assert_hermes_ok(hermes_backplane_read(bp, sig, &v));
    assert_true(v == 0.25);

    /* an observer sets nothing */
    send_text(&r, "{\"op\":\"setParameters\",\"id\":\"o\",\"parameters\":[{\"name\":\"ctrl.throttle\",\"value\":0.75}]}",
              true, &g);
    assert_contains(statuses(&g, 2), "observer (read-only): setParameters needs the server's auth token");
    assert_int_equal(json_array_size(json_object_get(first_op(&g, "parameterValues"), "parameters")), 0);
    got_free(&g);
    assert_hermes_ok(hermes_backplane_read(bp, sig, &v));
    assert_true(v == 0.25);
    proto_down(&r);
}

static void call(struct proto_rig *r, uint32_t service, uint32_t id, const char *enc, const char *body, bool observer,
                 struct got *g)
{
    unsigned char msg[256];
    size_t el = strlen(enc), bl = strlen(body);
    msg[0] = HERMES_FG_OP_SERVICE_CALL_REQUEST;
    for (int i = 0; i < 4; i++) {
        msg[1 + i] = (unsigned char)(service >> (8 * i));
        msg[5 + i] = (unsigned char)(id >> (8 * i));
        msg[9 + i] = (unsigned char)(el >> (8 * i));
    }
    memcpy(msg + 13, enc, el);
    memcpy(msg + 13 + el, body, bl);
    send_msg(r, msg, 13 + el + bl, true, observer, g);
}

static void test_foxglove_ops_services(void **state)
{
    (void)state;
    struct proto_rig r;
    proto_up(&r);
    struct got g;
    call(&r, HERMES_FG_SVC_STEP, 11, "json", "{\"count\":3}", false, &g);
    assert_int_equal(json_array_size(g.bin), 1);
    json_t *b = json_array_get(g.bin, 0);
    assert_int_equal(json_integer_value(json_object_get(b, "service")), HERMES_FG_SVC_STEP);
    assert_int_equal(json_integer_value(json_object_get(b, "call")), 11);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "body"), "frame")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "body"), "count")), 3);
    assert_string_equal(js(json_object_get(b, "body"), "state"), "paused");
    got_free(&g);
    call(&r, HERMES_FG_SVC_RESET, 12, "json", "", false, &g);  /* an empty body is {} */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(g.bin, 0), "body"), "frame")), 0);
    got_free(&g);
    static const struct {
        uint32_t    service;
        const char *enc, *body;
        bool        observer;
        const char *want;
    } bad[] = {
        {9, "json", "{}", false, "no service 9 (services are 1..5)"},
        {HERMES_FG_SVC_PAUSE, "cdr", "{}", false, "the request encoding must be \"json\""},
        {HERMES_FG_SVC_PAUSE, "json", "{}", true, "this connection is an observer (read-only)"},
        {HERMES_FG_SVC_STEP, "json", "{\"count\":0}", false, "count must be an integer >= 1"},
        {HERMES_FG_SVC_STEP, "json", "{\"count\":\"x\"}", false, "count must be an integer >= 1, got a string"},
        {HERMES_FG_SVC_STEP, "json", "[1]", false, "the request must be a JSON object, got an array"},
        {HERMES_FG_SVC_STEP, "json", "{", false, "invalid JSON request"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        call(&r, bad[i].service, (uint32_t)(20 + i), bad[i].enc, bad[i].body, bad[i].observer, &g);
        assert_int_equal(json_array_size(g.bin), 0);
        json_t *f = first_op(&g, "serviceCallFailure");
        if (!f)
            fail_msg("case %zu: no serviceCallFailure", i);
        assert_int_equal(json_integer_value(json_object_get(f, "serviceId")), bad[i].service);
        assert_int_equal(json_integer_value(json_object_get(f, "callId")), (json_int_t)(20 + i));
        assert_contains(js(f, "message"), bad[i].want);
        got_free(&g);
    }
    /* the simulation refuses: resume, then step while running */
    call(&r, HERMES_FG_SVC_RESUME, 30, "json", "{}", false, &g);
    assert_string_equal(js(json_object_get(json_array_get(g.bin, 0), "body"), "state"), "running");
    got_free(&g);
    call(&r, HERMES_FG_SVC_STEP, 31, "json", "{}", false, &g);
    assert_contains(js(first_op(&g, "serviceCallFailure"), "message"), "step failed:");
    got_free(&g);
    /* a request shorter than its header */
    const unsigned char shortmsg[] = {HERMES_FG_OP_SERVICE_CALL_REQUEST, 1, 0};
    send_msg(&r, shortmsg, sizeof shortmsg, true, false, &g);
    assert_contains(statuses(&g, 2), "shorter than its 13-byte header");
    got_free(&g);
    proto_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_foxglove_number_round_trips),
        cmocka_unit_test(test_foxglove_catalog_channels),
        cmocka_unit_test(test_foxglove_payload_values),
        cmocka_unit_test(test_foxglove_catalog_without_health),
        cmocka_unit_test(test_foxglove_binary_layouts),
        cmocka_unit_test(test_foxglove_texts),
        cmocka_unit_test(test_foxglove_ops_refusals),
        cmocka_unit_test(test_foxglove_ops_parameters),
        cmocka_unit_test(test_foxglove_ops_services),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
