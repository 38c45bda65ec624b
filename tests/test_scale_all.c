/* 10^5 signals with everything on (issue 18), and the size limits.
 *  - scale: a real `hermes run` of one module of 100,000 f64 signals (nested
 *    names g<group>.s<k>, each with its own initial value) with the server,
 *    a Foxglove client (foxglove.websocket.v1 over a raw socket), a hermes
 *    client and --record at once: the schema, the advertise, a telemetry
 *    frame of each protocol carry the right names and values, and the
 *    recording reads back the same values.
 *  - limits: above HERMES_MAX_MODULE_SIGNALS or HERMES_MAX_NAME the run
 *    refuses with a message naming the limit, and neither the record file
 *    nor a shared-memory segment of the run exists; a schema estimated above
 *    HERMES_MAX_SCHEMA_BYTES fails validation with the server on only.
 * Not a timing test: every wait is bounded, nothing asserts a time.
 * HERMES_SCALE_DIVISOR (the sanitizer builds set 8) divides the signal count. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>

#include <hermes/hermes.h>

#include "hermes_child.h"
#include "ws_client.h"

#define PER_GROUP 1000u

static uint32_t nsig(void)
{
    const char *d = getenv("HERMES_SCALE_DIVISOR");
    unsigned long v = d ? strtoul(d, NULL, 10) : 1;
    return 100000u / (v ? (uint32_t)v : 1);
}

static double expected(uint32_t k) { return (double)(k % 977) + 0.25; }

static char dir[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/hermes_scale_all_%d", (int)getpid());
    mkdir(dir, 0755);
    snprintf(logpath, sizeof logpath, "%s/run.log", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (child > 0) {
        kill(child, SIGKILL);
        wait_hermes(5);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- raw WebSocket with a chosen subprotocol and large messages ----------- */

#define BIG (64u << 20)
static char *big;

/* Next message of opcode @p want (1 text, 2 binary) into big; its length or -1. */
static long next_msg(int fd, int want, double seconds)
{
    double end = wsc_now() + seconds;
    while (wsc_now() < end) {
        int op = 0;
        long n = raw_recv(fd, &op, big, BIG - 1, end - wsc_now());
        if (n < 0 || op == 8 || n >= (long)BIG - 1)
            return -1;
        if (op == want) {
            big[n] = '\0';
            return n;
        }
    }
    return -1;
}

static json_t *next_json(int fd, double seconds)
{
    return next_msg(fd, 1, seconds) < 0 ? NULL : json_loads(big, 0, NULL);
}

/* ---- the scale run ------------------------------------------------------------ */

static void write_scale_config(const char *path, uint32_t n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "version: \"0.2\"\nmodules:\n  m0:\n    type: injection\n    signals:\n");
    for (uint32_t k = 0; k < n; k++)
        fprintf(f, "      - {name: g%03u.s%u, type: f64, unit: m, writable: true, initial: %.17g}\n", k / PER_GROUP,
                k, expected(k));
    fprintf(f, "execution:\n  mode: realtime\n  rate_hz: 20\n  end_time: 0.5\n"
               "server:\n  enabled: true\n  port: 0\n  telemetry_hz: 20\n");
    assert_int_equal(fclose(f), 0);
}

static void check_foxglove(int fd, uint32_t n, uint32_t probe)
{
    json_t *info = next_json(fd, 30);
    assert_non_null(info);
    assert_string_equal(js(info, "op"), "serverInfo");
    json_decref(info);
    json_t *adv = next_json(fd, 60);
    assert_non_null(adv);
    assert_string_equal(js(adv, "op"), "advertise");
    json_t *chans = json_object_get(adv, "channels"), *ch;
    size_t i;
    json_int_t id = -1;
    json_t *schema = NULL;
    json_array_foreach(chans, i, ch) if (!strcmp(js(ch, "topic"), "/m0"))
    {
        id = json_integer_value(json_object_get(ch, "id"));
        schema = json_loads(js(ch, "schema"), 0, NULL);
    }
    assert_true(id > 0);
    assert_non_null(schema);
    char g[16], s[16];
    snprintf(g, sizeof g, "g%03u", probe / PER_GROUP);
    snprintf(s, sizeof s, "s%u", probe);
    json_t *groups = json_object_get(schema, "properties");
    assert_int_equal(json_object_size(groups), (n + PER_GROUP - 1) / PER_GROUP);
    json_t *leaf = json_object_get(json_object_get(json_object_get(groups, g), "properties"), s);
    assert_string_equal(js(leaf, "type"), "number");
    json_decref(schema);
    json_decref(adv);
    char sub[128];
    snprintf(sub, sizeof sub, "{\"op\":\"subscribe\",\"subscriptions\":[{\"id\":7,\"channelId\":%d}]}", (int)id);
    assert_int_equal(raw_send(fd, 1, sub, strlen(sub)), 0);
    long len = -1;
    for (int i = 0; i < 1000 && (len = next_msg(fd, 2, 60)) >= 0 && big[0] != 1; i++)
        ;  /* time messages (op 2) come too */
    assert_true(len > 13);
    assert_int_equal((unsigned char)big[0], 1);  /* messageData, subscription 7 */
    assert_int_equal((unsigned char)big[1], 7);
    json_t *payload = json_loads(big + 13, 0, NULL);
    assert_non_null(payload);
    json_t *v = json_object_get(json_object_get(payload, g), s);
    assert_true(json_is_number(v));
    assert_true(json_number_value(v) == expected(probe));
    json_decref(payload);
}

static void check_hermes(int fd, uint32_t n, uint32_t probe)
{
    json_t *schema = next_json(fd, 60);
    assert_non_null(schema);
    assert_string_equal(js(schema, "type"), "schema");
    json_t *sigs = json_object_get(json_object_get(json_object_get(schema, "modules"), "m0"), "signals");
    assert_int_equal(json_array_size(sigs), n);
    char name[48];
    snprintf(name, sizeof name, "g%03u.s%u", probe / PER_GROUP, probe);
    assert_string_equal(js(json_array_get(sigs, probe), "name"), name);
    assert_true(json_integer_value(json_object_get(schema, "client_id")) > 0);
    json_decref(schema);
    char sub[160];
    snprintf(sub, sizeof sub, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"m0.%s\"]}}", name);
    assert_int_equal(raw_send(fd, 1, sub, strlen(sub)), 0);
    long len = next_msg(fd, 2, 60);
    assert_int_equal(len, 24 + 8);
    assert_true(hermes_telemetry_value(big, 0) == expected(probe));
}

static void test_scale_all(void **state)
{
    (void)state;
    uint32_t n = nsig(), probe = n / 2 + 123;
    big = malloc(BIG);
    assert_non_null(big);
    char cfg[300], rec[300];
    snprintf(cfg, sizeof cfg, "%s/scale.yaml", dir);
    snprintf(rec, sizeof rec, "%s/scale.h5", dir);
    write_scale_config(cfg, n);
    const char *args[] = {cfg, "--port", "0", "--paused", "--record", rec, NULL};
    spawn_hermes(args);
    int port = wait_listening_port(120);
    assert_true(port > 0);
    int fg = raw_connect_protocol(port, 0, "foxglove.websocket.v1", 10);
    int hm = raw_connect_protocol(port, 0, "hermes", 10);
    assert_true(fg >= 0);
    assert_true(hm >= 0);
    check_hermes(hm, n, probe);
    check_foxglove(fg, n, probe);
    const char *resume = "{\"action\":\"resume\"}";
    assert_int_equal(raw_send(hm, 1, resume, strlen(resume)), 0);
    assert_int_equal(wait_hermes(120), 0);
    close(fg);
    close(hm);
    hermes_recording_t *r = NULL;
    assert_int_equal(hermes_recording_open(&r, rec), 0);
    assert_true(hermes_recording_complete(r));
    uint64_t rows = hermes_recording_rows(r);
    assert_true(rows >= 1);
    char qname[64];
    snprintf(qname, sizeof qname, "m0.g%03u.s%u", probe / PER_GROUP, probe);
    uint32_t col = 0;
    assert_int_equal(hermes_recording_find(r, qname, &col), 0);
    uint32_t cols = hermes_recording_signal_count(r);
    assert_true(cols >= n);
    double *row = malloc((size_t)cols * sizeof *row);
    assert_non_null(row);
    assert_int_equal(hermes_recording_read(r, rows - 1, 1, row, NULL, NULL), 0);
    assert_true(row[col] == expected(probe));
    free(row);
    hermes_recording_close(r);
    free(big);
    big = NULL;
}

/* ---- limits ----------------------------------------------------------------- */

/* Whether /dev/shm holds an entry whose name contains @p part. */
static bool shm_has(const char *part)
{
    DIR *d = opendir("/dev/shm");
    bool found = false;
    for (struct dirent *e; d && (e = readdir(d));)
        found = found || strstr(e->d_name, part) != NULL;
    if (d)
        closedir(d);
    return found;
}

/* Run @p cfg with --record and a unique run name: exit 3, @p needle in the
 * log, no record file, no shared memory of the run. */
static void refused(const char *cfg, const char *needle)
{
    char rec[300], run[64];
    snprintf(rec, sizeof rec, "%s/refused.h5", dir);
    snprintf(run, sizeof run, "scalelim%d", (int)getpid());
    const char *args[] = {cfg, "--port", "0", "--record", rec, "--run-name", run, NULL};
    spawn_hermes(args);
    int rc = wait_hermes(120);
    if (!log_contains(needle)) {
        char cmd[320];
        snprintf(cmd, sizeof cmd, "tail -5 '%s' >&2", logpath);
        if (system(cmd) != 0)
            print_message("cannot show %s\n", logpath);
    }
    assert_int_equal(rc, 3);
    assert_true(log_contains(needle));
    struct stat st;
    assert_int_not_equal(stat(rec, &st), 0);
    assert_false(shm_has(run));
}

static void test_limit_signals(void **state)
{
    (void)state;
    char cfg[300];
    snprintf(cfg, sizeof cfg, "%s/many.yaml", dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f, "version: \"0.2\"\nmodules:\n  big:\n    type: injection\n    signals:\n");
    for (uint32_t k = 0; k <= HERMES_MAX_MODULE_SIGNALS; k++)
        fprintf(f, "      - {name: s%u, type: f64}\n", k);
    fprintf(f, "execution:\n  mode: afap\n  rate_hz: 100\n  end_time: 0.1\nserver:\n  enabled: true\n  port: 0\n");
    assert_int_equal(fclose(f), 0);
    refused(cfg, "over the limit of 262144 signals per module (HERMES_MAX_MODULE_SIGNALS)");
}

static void test_limit_name(void **state)
{
    (void)state;
    char cfg[300], name[HERMES_MAX_NAME + 2];
    memset(name, 'x', HERMES_MAX_NAME - 1);  /* "m." + this: one over */
    name[HERMES_MAX_NAME - 1] = '\0';
    snprintf(cfg, sizeof cfg, "%s/long.yaml", dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f, "version: \"0.2\"\nmodules:\n  m:\n    type: injection\n    signals:\n      - {name: %s, type: f64}\n"
               "execution:\n  mode: afap\n  rate_hz: 100\n  end_time: 0.1\n",
            name);
    assert_int_equal(fclose(f), 0);
    refused(cfg, "longer than 127 characters");
}

/* 2 x 100,000 signals of 113-character names, built in memory (a file of
 * this size would only test the YAML parser); the server on or off. */
static hermes_config_t *long_names(bool server)
{
    hermes_config_t *cfg = NULL;
    assert_int_equal(hermes_config_create(&cfg), 0);
    char name[128];
    memset(name, 'n', 110);
    for (uint32_t m = 0; m < 2; m++) {
        char mod[8];
        snprintf(mod, sizeof mod, "m%u", m);
        assert_int_equal(hermes_config_add_module(cfg, mod, HERMES_MODULE_INJECTION, NULL), 0);
        for (uint32_t k = 0; k < 100000; k++) {
            snprintf(name + 110, sizeof name - 110, "%u", k);
            assert_int_equal(hermes_config_add_signal(cfg, mod, name, HERMES_TYPE_F64, NULL, false, 0), 0);
        }
    }
    hermes_server_settings_t srv;
    hermes_config_server(cfg, &srv);
    srv.enabled = server;
    assert_int_equal(hermes_config_set_server(cfg, &srv), 0);
    return cfg;
}

static void test_limit_schema(void **state)
{
    (void)state;
    hermes_error_t err;
    hermes_config_t *cfg = long_names(false);
    int rc = hermes_config_validate(cfg, &err);
    if (rc)
        print_message("%s\n", err.message);
    assert_int_equal(rc, 0);  /* no server: no schema */
    hermes_config_destroy(cfg);
    cfg = long_names(true);
    assert_int_equal(hermes_config_validate(cfg, &err), HERMES_ECONFIG);
    print_message("%s\n", err.message);
    assert_non_null(strstr(err.message, "over the limit of 64 MiB (HERMES_MAX_SCHEMA_BYTES)"));
    hermes_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_limit_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scale_all, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
