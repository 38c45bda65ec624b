/* End to end: `hermes run` as a user starts it, a libwebsockets client over
 * 127.0.0.1 (port 0, read back from the log line event=listening). */
#include "test_util.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "ws_client.h"

#include "hermes_child.h"

/* Start `hermes run <args>` with stdout+stderr in a log file; returns the
 * server port parsed from the log, or -1 (after up to 10 s). */
static int start_hermes(const char *const *args, bool expect_server)
{
    static int n;
    snprintf(logpath, sizeof logpath, "%s/ws_cli_%ld_%d.log", HERMES_TEST_BUILDDIR, (long)getpid(), n++);
    spawn_hermes(args);
    return expect_server ? wait_listening_port(10) : 0;
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
    return 0;
}

static const char *srcfile(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/data/server/%s", HERMES_TEST_SRCDIR, name);
    return buf[k];
}

static uint64_t frame_of(struct wsc_conn *c)
{
    hermes_telemetry_header_t h;
    if (!c->last_bin || hermes_telemetry_decode_header(c->last_bin, c->last_bin_len, &h) != 0)
        return UINT64_MAX;
    return h.frame;
}

static double value_of(struct wsc_conn *c, uint32_t i)
{
    hermes_telemetry_header_t h;
    if (!c->last_bin || hermes_telemetry_decode_header(c->last_bin, c->last_bin_len, &h) != 0 || i >= h.count)
        return NAN;
    return hermes_telemetry_value(c->last_bin, i);
}

static bool until_value(struct wsc *w, struct wsc_conn *c, uint32_t i, double v, double s)
{
    double end = wsc_now() + s;
    while (wsc_now() < end && value_of(c, i) != v)
        wsc_service(w);
    return value_of(c, i) == v;
}

static bool until_frame(struct wsc *w, struct wsc_conn *c, uint64_t f, double s)
{
    double end = wsc_now() + s;
    while (wsc_now() < end && (frame_of(c) == UINT64_MAX || frame_of(c) < f))
        wsc_service(w);
    return frame_of(c) != UINT64_MAX && frame_of(c) >= f;
}

#define ACK(j, act)                                                                              \
    do {                                                                                         \
        json_t *j_ = (j);                                                                        \
        if (!j_ || strcmp(js(j_, "type"), "ack") || strcmp(js(j_, "action"), act))               \
            fail_msg("expected ack of %s, got %s", act, j_ ? json_dumps(j_, 0) : "nothing");     \
    } while (0)

static void test_ws_cli_full_session(void **state)
{
    (void)state;
    const char *args[] = {srcfile("run.yaml"), "--port", "0", "--paused", NULL};
    int port = start_hermes(args, true);
    assert_true(port > 0);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn c, watcher;
    assert_int_equal(wsc_connect(&w, &c, port, "hermes"), 0);
    assert_int_equal(wsc_connect(&w, &watcher, port, "hermes"), 0);

    /* schema as Daedalus parses it */
    json_t *schema = wsc_next(&w, &c, 3);
    assert_non_null(schema);
    assert_string_equal(js(schema, "type"), "schema");
    json_t *psig = json_object_get(json_object_get(json_object_get(schema, "modules"), "plant"), "signals");
    assert_int_equal(json_array_size(psig), 2);
    assert_string_equal(js(json_array_get(psig, 1), "name"), "position.x");
    assert_string_equal(js(json_array_get(psig, 1), "unit"), "m");
    assert_true(json_is_false(json_object_get(json_array_get(psig, 1), "writable")));
    assert_string_equal(js(json_array_get(json_object_get(schema, "wiring"), 0), "dst"), "plant.velocity");
    assert_string_equal(js(schema, "state"), "paused");
    assert_string_equal(js(schema, "mode"), "realtime");
    json_decref(schema);
    json_decref(wsc_wait(&w, &watcher, "schema", NULL, 3));

    /* subscribe */
    json_t *j = wsc_cmd(&w, &c, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"ctrl.*\",\"plant.*\"]}}", 3);
    ACK(j, "subscribe");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 4);
    json_decref(j);

    /* resume: ack, running event to everybody, frames advance at ~60 Hz */
    j = wsc_cmd(&w, &c, "{\"action\":\"resume\"}", 3);
    ACK(j, "resume");
    json_decref(j);
    json_t *ev = wsc_wait(&w, &watcher, "event", "running", 3);
    assert_non_null(ev);
    json_decref(ev);
    assert_true(until_frame(&w, &c, 10, 3));
    unsigned long n0 = c.nbin;
    double t0 = wsc_now();
    wsc_pump(&w, 2.0);
    double rate = (double)(c.nbin - n0) / (wsc_now() - t0);
    print_message("hermes run telemetry: %.2f Hz\n", rate);
    assert_true(rate > 50 && rate < 70);
    assert_int_equal(c.nbin_bad, 0);
    hermes_telemetry_header_t h;
    assert_hermes_ok(hermes_telemetry_decode_header(c.last_bin, c.last_bin_len, &h));
    assert_int_equal(h.magic, HERMES_TELEMETRY_MAGIC);
    assert_int_equal(h.count, 4);
    assert_true(fabs(h.time - (double)h.frame / 100.0) < 1e-9);
    assert_true(value_of(&c, 1) == 1.0);  /* ctrl.gear */
    assert_true(value_of(&c, 3) == 4.5);  /* plant.position.x */

    /* set, and the wired value follows */
    j = wsc_cmd(&w, &c, "{\"action\":\"set\",\"params\":{\"signal\":\"ctrl.throttle\",\"value\":2.5}}", 3);
    ACK(j, "set");
    json_decref(j);
    assert_true(until_value(&w, &c, 0, 2.5, 2));
    assert_true(until_value(&w, &c, 2, 6.0, 2));  /* 2 * 2.5 + 1 */

    /* pause: the frame stops advancing */
    j = wsc_cmd(&w, &c, "{\"action\":\"pause\"}", 3);
    ACK(j, "pause");
    json_decref(j);
    ev = wsc_wait(&w, &watcher, "event", "paused", 3);
    assert_non_null(ev);
    json_decref(ev);
    wsc_pump(&w, 0.1);
    uint64_t f0 = frame_of(&c);
    unsigned long p0 = c.nbin;
    wsc_pump(&w, 0.5);
    assert_int_equal(frame_of(&c), f0);
    assert_true(c.nbin - p0 >= 15);

    /* step 5 */
    j = wsc_cmd(&w, &c, "{\"action\":\"step\",\"params\":{\"count\":5}}", 3);
    ACK(j, "step");
    assert_int_equal(json_integer_value(json_object_get(j, "frame")), (json_int_t)f0 + 5);
    json_decref(j);
    assert_true(until_frame(&w, &c, f0 + 5, 2));
    wsc_pump(&w, 0.2);
    assert_int_equal(frame_of(&c), f0 + 5);

    /* reset */
    j = wsc_cmd(&w, &c, "{\"action\":\"reset\"}", 3);
    ACK(j, "reset");
    json_decref(j);
    ev = wsc_wait(&w, &watcher, "event", "reset", 3);
    assert_non_null(ev);
    json_decref(ev);
    assert_true(until_frame(&w, &c, 0, 1));
    wsc_pump(&w, 0.1);
    assert_int_equal(frame_of(&c), 0);
    assert_true(value_of(&c, 0) == 0.0);

    /* an error keeps the connection */
    j = wsc_cmd(&w, &c, "{\"action\":\"set\",\"params\":{\"signal\":\"plant.position.x\",\"value\":1}}", 3);
    assert_non_null(j);
    assert_string_equal(js(j, "type"), "error");
    json_decref(j);

    /* disconnect; the server keeps serving the other client */
    wsc_close(&w, &c, 2);
    assert_int_equal(c.state, 2);
    json_int_t clients = -1;
    for (double until = wsc_now() + 3; clients != 1 && wsc_now() < until;) {
        j = wsc_cmd(&w, &watcher, "{\"action\":\"stats\"}", 3);
        ACK(j, "stats");
        clients = json_integer_value(json_object_get(j, "clients"));
        json_decref(j);
    }
    assert_int_equal(clients, 1);

    /* Ctrl+C: stopped event, 1001 close, prompt exit with 130 */
    kill(child, SIGINT);
    double end = wsc_now() + 5;
    while (watcher.state == 1 && wsc_now() < end)
        wsc_service(&w);
    int status = wait_hermes(5);
    ev = wsc_wait(&w, &watcher, "event", "stopped", 0.5);
    int code = watcher.close_code;
    wsc_conn_free(&c);
    wsc_conn_free(&watcher);
    wsc_destroy(&w);
    assert_non_null(ev);
    json_decref(ev);
    assert_int_equal(code, 1001);
    assert_int_equal(status, 130);
    assert_true(log_contains("event=client_connected"));
    assert_true(log_contains("event=client_disconnected"));
}

/* The protocol's checkpoint command: written at a frame boundary into the
 * run's --checkpoint-dir under a generated name returned in the ack (the
 * client chooses no path), refused without a folder; the file restores. */
static void test_ws_cli_checkpoint_command(void **state)
{
    (void)state;
    char dir[] = "/tmp/hermes-ws-ckpt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *args[] = {TEST_DEMO_DIR "/launch.yaml", "--port", "0", "--paused", "--checkpoint-dir", dir, NULL};
    int port = start_hermes(args, true);
    assert_true(port > 0);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn c;
    assert_int_equal(wsc_connect(&w, &c, port, "hermes"), 0);
    json_decref(wsc_wait(&w, &c, "schema", NULL, 3));
    json_decref(wsc_cmd(&w, &c, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"*\"]}}", 3));
    json_t *j = wsc_cmd(&w, &c, "{\"action\":\"step\",\"params\":{\"count\":50}}", 5);
    ACK(j, "step");
    json_decref(j);
    assert_true(until_frame(&w, &c, 50, 10));  /* the steps are done: the run waits at frame 50 */
    j = wsc_cmd(&w, &c, "{\"action\":\"checkpoint\",\"params\":{\"file\":\"/etc/passwd\"}}", 5);
    ACK(j, "checkpoint");
    char file[600];
    snprintf(file, sizeof file, "%s/%s", dir, js(j, "file"));
    assert_string_equal(js(j, "file"), "checkpoint-50-1.hckpt");  /* generated: params are ignored */
    json_decref(j);
    wsc_conn_free(&c);
    wsc_destroy(&w);
    kill(child, SIGTERM);
    assert_int_equal(wait_hermes(30), 143);
    assert_int_equal(access(file, R_OK), 0);

    /* The file continues the run at frame 50. */
    const char *restore[] = {TEST_DEMO_DIR "/launch.yaml", "--no-server", "--mode", "afap", "--end-time", "1",
                             "--restore", file, NULL};
    start_hermes(restore, false);
    assert_int_equal(wait_hermes(60), 0);
    assert_true(file_contains(logpath, "event=restored"));
    assert_true(file_contains(logpath, "frame=50"));
    unlink(file);
    rmdir(dir);

    /* No folder: refused with the reason. */
    const char *nodir[] = {TEST_DEMO_DIR "/launch.yaml", "--port", "0", "--paused", NULL};
    port = start_hermes(nodir, true);
    assert_true(port > 0);
    assert_int_equal(wsc_init(&w), 0);
    assert_int_equal(wsc_connect(&w, &c, port, "hermes"), 0);
    json_decref(wsc_wait(&w, &c, "schema", NULL, 3));
    j = wsc_cmd(&w, &c, "{\"action\":\"checkpoint\"}", 5);
    assert_non_null(j);
    assert_string_equal(js(j, "type"), "error");
    assert_non_null(strstr(js(j, "message"), "no checkpoint folder"));
    json_decref(j);
    wsc_conn_free(&c);
    wsc_destroy(&w);
}

static void test_ws_cli_end_time_closes_clients(void **state)
{
    (void)state;
    const char *args[] = {srcfile("short.yaml"), "--port", "0", NULL};
    int port = start_hermes(args, true);
    assert_true(port > 0);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn c;
    assert_int_equal(wsc_connect(&w, &c, port, "hermes"), 0);
    json_decref(wsc_cmd(&w, &c, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"*\"]}}", 3));
    double end = wsc_now() + 5;
    while (c.state == 1 && wsc_now() < end)
        wsc_service(&w);
    json_t *ev = wsc_wait(&w, &c, "event", "stopped", 0.5);
    int code = c.close_code, st = c.state;
    unsigned long frames = c.nbin;
    wsc_conn_free(&c);
    wsc_destroy(&w);
    int status = wait_hermes(5);
    assert_non_null(ev);
    assert_int_equal(json_integer_value(json_object_get(ev, "frame")), 100);
    json_decref(ev);
    assert_int_equal(st, 2);
    assert_int_equal(code, 1001);
    assert_true(frames > 20);
    assert_int_equal(status, 0);
}

static void test_ws_cli_no_server_and_host_warning(void **state)
{
    (void)state;
    const char *a1[] = {srcfile("run.yaml"), "--no-server", "--end-time", "0.2", NULL};
    start_hermes(a1, false);
    int status = wait_hermes(5);
    assert_int_equal(status, 0);
    assert_false(log_contains("component=server"));
    teardown(NULL);

    const char *a2[] = {srcfile("run.yaml"), "--host", "0.0.0.0", "--port", "0", "--end-time", "0.2", NULL};
    int port = start_hermes(a2, true);
    status = wait_hermes(5);
    assert_true(port > 0);
    assert_int_equal(status, 0);
    assert_true(log_contains("event=bind_warning addr=0.0.0.0"));
    teardown(NULL);

    /* port taken: the CLI refuses to start (exit 4) and says why */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 1), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%u", ntohs(sa.sin_port));
    const char *a3[] = {srcfile("run.yaml"), "--port", portstr, NULL};
    start_hermes(a3, false);
    status = wait_hermes(5);
    close(fd);
    assert_int_equal(status, 4);
    assert_true(log_contains("address already in use"));
}

/* examples/python_client/client.py (Debian python3-websockets, so
 * /usr/bin/python3) against a real `hermes run`: what it prints. */
static void test_ws_cli_python_example_client(void **state)
{
    (void)state;
    const char *args[] = {srcfile("run.yaml"), "--port", "0", "--paused", NULL};
    int port = start_hermes(args, true);
    assert_true(port > 0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "timeout 30 /usr/bin/python3 %s/../examples/python_client/client.py ws://127.0.0.1:%d/ "
             "--signals 'ctrl.*' plant.velocity --set ctrl.throttle=2 --resume --duration 1.5 --print-every 0.2 2>&1",
             HERMES_TEST_SRCDIR, port);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    static char out[16384];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    if (st != 0)
        fail_msg("client.py exited with status %d:\n%s", st, out);
    const char *want[] = {
        ": state paused, frame 0, sim 100.0 Hz, telemetry 60.0 Hz, role controller\n",
        "\n  ctrl: throttle[1]*, gear[]*\n",
        "\n  plant: velocity[m/s]*, position.x[m]\n",
        "\nsubscribed to 3 signals\n",
        "\nset ctrl.throttle = 2\n",
        "\nevent: running at frame 0\n",
        "ctrl.throttle=2, ctrl.gear=1, plant.velocity=5\n",
        " frames in ",
        "; server sent ",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(out, want[i]))
            fail_msg("client.py output lacks \"%s\":\n%s", want[i], out);
    assert_true(strncmp(out, "run hermes-", 11) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ws_cli_full_session, teardown),
        cmocka_unit_test_teardown(test_ws_cli_end_time_closes_clients, teardown),
        cmocka_unit_test_teardown(test_ws_cli_checkpoint_command, teardown),
        cmocka_unit_test_teardown(test_ws_cli_no_server_and_host_warning, teardown),
        cmocka_unit_test_teardown(test_ws_cli_python_example_client, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
