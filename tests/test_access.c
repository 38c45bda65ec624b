/* Access control and limits of the WebSocket server: a real server on
 * 127.0.0.1 port 0 with a real scheduler (paused, in its own thread), real
 * clients: raw sockets where the HTTP status of a refused upgrade or exact
 * handshake headers matter, the lws client otherwise. Every wait is bounded. */
#include "test_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "ws_client.h"
#include "server_rig.h"

#define TOKEN "s3cr3t-T0ken_for.tests~0123456789abcdef"
#define WRONG "s3cr3t-T0ken_for.tests~0123456789abcdeX"

/* ---- rig -------------------------------------------------------------------- */

/* @p sc: server options (size stamped by the caller); sim_config is filled in. */
static void rig_up(struct rig *r, hermes_server_config_t *sc)
{
    memset(r, 0, sizeof *r);
    assert_hermes_ok(hermes_config_create(&r->cfg));
    assert_hermes_ok(hermes_config_add_module(r->cfg, "ctrl", HERMES_MODULE_INJECTION, NULL));
    assert_hermes_ok(hermes_config_add_signal(r->cfg, "ctrl", "throttle", HERMES_TYPE_F64, "", true, 0.5));
    assert_hermes_ok(hermes_config_add_signal(r->cfg, "ctrl", "gear", HERMES_TYPE_I32, "", true, 2));
    assert_hermes_ok(hermes_config_add_signal(r->cfg, "ctrl", "temp", HERMES_TYPE_F64, "", false, 20));
    hermes_execution_t ex = {HERMES_MODE_REALTIME, 100.0, 0, false, 5.0};
    assert_hermes_ok(hermes_config_set_execution(r->cfg, &ex));
    rig_serve(r, "acl", sc, false);
}

/* ---- raw handshake ------------------------------------------------------------ */

struct hs {
    int  status;       /* HTTP status, 0 if none arrived */
    char head[2048];   /* status line and headers */
    char body[1024];   /* body of a refusal */
};

/* Upgrade request for @p path with @p host (NULL: 127.0.0.1:port) and extra
 * header lines @p extra ("Name: v\r\n"...). Returns the open socket on 101,
 * else -1 (socket closed) with the status and body in @p out. */
static int handshake(int port, const char *path, const char *host, const char *extra, struct hs *out)
{
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    char hostbuf[64];
    if (!host) {
        snprintf(hostbuf, sizeof hostbuf, "127.0.0.1:%d", port);
        host = hostbuf;
    }
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                     path, host, extra ? extra : "");
    if (raw_write_all(fd, req, (size_t)n) != 0) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    double end = wsc_now() + 5;
    while (got < sizeof out->head - 1 && wsc_now() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (read(fd, out->head + got, 1) != 1)
            break;
        got++;
        if (got >= 4 && !memcmp(out->head + got - 4, "\r\n\r\n", 4))
            break;
    }
    out->head[got] = '\0';
    if (sscanf(out->head, "HTTP/1.%*d %d", &out->status) != 1)
        out->status = 0;
    if (out->status == 101)
        return fd;
    size_t bl = 0;
    end = wsc_now() + 2;
    while (bl < sizeof out->body - 1 && wsc_now() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t k = read(fd, out->body + bl, sizeof out->body - 1 - bl);
        if (k <= 0)
            break;
        bl += (size_t)k;
    }
    out->body[bl] = '\0';
    close(fd);
    return -1;
}

/* Status of an upgrade (101 closes the socket again at once). */
static int status_of(int port, const char *path, const char *host, const char *extra, struct hs *out)
{
    int fd = handshake(port, path, host, extra, out);
    if (fd >= 0)
        close(fd);
    return out->status;
}

/* Send @p cmd on a raw socket and return the next JSON text message. */
static json_t *raw_cmd(int fd, const char *cmd)
{
    if (raw_send(fd, 1, cmd, strlen(cmd)) != 0)
        return NULL;
    return raw_next_json(fd, 3);
}

/* lws client on @p path (e.g. "/?token=..."); 0 open, -1 refused. */
static int lws_connect_path(struct wsc *w, struct wsc_conn *c, int port, const char *path)
{
    memset(c, 0, sizeof *c);
    struct lws_client_connect_info cc;
    memset(&cc, 0, sizeof cc);
    cc.context = w->ctx;
    cc.address = "127.0.0.1";
    cc.port = port;
    cc.path = path;
    cc.host = cc.origin = "127.0.0.1";
    cc.protocol = "hermes";
    cc.local_protocol_name = "hermes";
    cc.userdata = c;
    cc.pwsi = &c->wsi;
    if (!lws_client_connect_via_info(&cc))
        return -1;
    double end = wsc_now() + 5;
    while (c->state == 0 && wsc_now() < end)
        wsc_service(w);
    return c->state == 1 ? 0 : -1;
}

/* Compact text of @p j in a static buffer ("(nothing)" for NULL). */
static const char *text_of(const json_t *j)
{
    static char buf[4096];
    if (!j)
        return "(nothing)";
    size_t n = json_dumpb(j, buf, sizeof buf - 1, JSON_COMPACT);
    buf[n < sizeof buf - 1 ? n : sizeof buf - 1] = '\0';
    return buf;
}

#define assert_reply(j, type_, needle)                                                             \
    do {                                                                                           \
        const json_t *j_ = (j);                                                                    \
        if (!j_ || strcmp(js(j_, "type"), type_) || !strstr(text_of(j_), needle))                 \
            fail_msg("expected %s with '%s', got %s", type_, needle, text_of(j_));                 \
    } while (0)

/* ---- tests -------------------------------------------------------------------- */

static void test_access_token_header_and_query(void **state)
{
    (void)state;
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.auth_token = TOKEN;
    struct rig r;
    rig_up(&r, &sc);
    struct hs h;
    int st_none = status_of(r.port, "/", NULL, NULL, &h);
    char body_none[1024];
    snprintf(body_none, sizeof body_none, "%s", h.body);
    int st_hdr_wrong = status_of(r.port, "/", NULL, "Authorization: Bearer " WRONG "\r\n", &h);
    int st_hdr_prefix = status_of(r.port, "/", NULL, "Authorization: Bearer s3cr3t-T0ken_for.tests\r\n", &h);
    int st_hdr_longer = status_of(r.port, "/", NULL, "Authorization: Bearer " TOKEN "x\r\n", &h);
    int st_q_wrong = status_of(r.port, "/?token=" WRONG, NULL, NULL, &h);
    int st_q_empty = status_of(r.port, "/?token=", NULL, NULL, &h);
    /* a wrong header is not rescued by a right query */
    int st_mixed = status_of(r.port, "/?token=" TOKEN, NULL, "Authorization: Bearer " WRONG "\r\n", &h);
    /* another scheme is not ours: the query decides */
    int st_basic = status_of(r.port, "/?token=" TOKEN, NULL, "Authorization: Basic dXNlcjpwdw==\r\n", &h);
    int st_scheme_case = status_of(r.port, "/", NULL, "Authorization: bearer   " TOKEN "\r\n", &h);

    int fd_hdr = handshake(r.port, "/", NULL, "Authorization: Bearer " TOKEN "\r\n", &h);
    json_t *schema = fd_hdr >= 0 ? raw_next_json(fd_hdr, 3) : NULL;
    json_t *pause = fd_hdr >= 0 ? raw_cmd(fd_hdr, "{\"action\":\"pause\"}") : NULL;
    if (fd_hdr >= 0)
        close(fd_hdr);
    int fd_q = handshake(r.port, "/ws?x=1&token=" TOKEN "&y=2", NULL, NULL, &h);
    json_t *schema_q = fd_q >= 0 ? raw_next_json(fd_q, 3) : NULL;
    if (fd_q >= 0)
        close(fd_q);

    /* the lws client: ?token= as a browser would send it */
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn good, bad;
    int rc_good = lws_connect_path(&w, &good, r.port, "/?token=" TOKEN);
    json_t *step = rc_good == 0 ? wsc_cmd(&w, &good, "{\"action\":\"step\",\"params\":{\"count\":2}}", 3) : NULL;
    int rc_bad = lws_connect_path(&w, &bad, r.port, "/?token=" WRONG);
    wsc_close(&w, &good, 2);
    wsc_conn_free(&good);
    wsc_conn_free(&bad);
    wsc_destroy(&w);
    rig_down(&r);

    assert_int_equal(st_none, 401);
    assert_contains(body_none, "token");
    assert_int_equal(st_hdr_wrong, 401);
    assert_int_equal(st_hdr_prefix, 401);
    assert_int_equal(st_hdr_longer, 401);
    assert_int_equal(st_q_wrong, 401);
    assert_int_equal(st_q_empty, 401);
    assert_int_equal(st_mixed, 401);
    assert_int_equal(st_basic, 101);
    assert_int_equal(st_scheme_case, 101);
    assert_true(fd_hdr >= 0);
    assert_reply(schema, "schema", "\"role\":\"controller\"");
    assert_reply(pause, "ack", "pause");
    assert_true(fd_q >= 0);
    assert_reply(schema_q, "schema", "controller");
    assert_int_equal(rc_good, 0);
    assert_reply(step, "ack", "step");
    assert_int_equal(rc_bad, -1);
    json_decref(schema);
    json_decref(pause);
    json_decref(schema_q);
    json_decref(step);
}

static void test_access_observer_role(void **state)
{
    (void)state;
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.auth_token = TOKEN;
    sc.observers = true;
    struct rig r;
    rig_up(&r, &sc);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn obs, ctl, bad;
    int rc_obs = lws_connect_path(&w, &obs, r.port, "/");
    json_t *schema = wsc_wait(&w, &obs, "schema", NULL, 3);
    static const char *const control[] = {
        "{\"action\":\"pause\",\"id\":1}",
        "{\"action\":\"resume\",\"id\":2}",
        "{\"action\":\"reset\",\"id\":3}",
        "{\"action\":\"step\",\"params\":{\"count\":1},\"id\":4}",
        "{\"action\":\"set\",\"params\":{\"signal\":\"ctrl.throttle\",\"value\":0.9},\"id\":5}",
    };
    char failed[2048] = "";
    for (size_t i = 0; i < sizeof control / sizeof *control; i++) {
        json_t *j = wsc_cmd(&w, &obs, control[i], 3);
        if (!j || strcmp(js(j, "type"), "error") || !strstr(js(j, "message"), "observer") ||
            json_integer_value(json_object_get(j, "id")) != (json_int_t)(i + 1))
            snprintf(failed + strlen(failed), sizeof failed - strlen(failed), "%s -> %.300s\n", control[i], text_of(j));
        json_decref(j);
    }
    json_t *sub = wsc_cmd(&w, &obs, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"ctrl.*\"]}}", 3);
    json_t *stats = wsc_cmd(&w, &obs, "{\"action\":\"stats\"}", 3);
    double end = wsc_now() + 3;
    while (obs.nbin < 3 && wsc_now() < end)
        wsc_service(&w);
    unsigned long frames = obs.nbin, bad_frames = obs.nbin_bad;
    double throttle = obs.last_bin ? hermes_telemetry_value(obs.last_bin, 0) : -1;

    /* the token still gives control; a wrong one is still refused */
    int rc_ctl = lws_connect_path(&w, &ctl, r.port, "/?token=" TOKEN);
    json_t *ctl_schema = wsc_wait(&w, &ctl, "schema", NULL, 3);
    json_t *ctl_set = wsc_cmd(&w, &ctl, "{\"action\":\"set\",\"params\":{\"signal\":\"ctrl.throttle\",\"value\":0.75}}", 3);
    int rc_bad = lws_connect_path(&w, &bad, r.port, "/?token=" WRONG);
    /* the observer sees the controller's change in its telemetry */
    end = wsc_now() + 3;
    while (wsc_now() < end && !(obs.last_bin && hermes_telemetry_value(obs.last_bin, 0) == 0.75))
        wsc_service(&w);
    double throttle_after = obs.last_bin ? hermes_telemetry_value(obs.last_bin, 0) : -1;
    int obs_state = obs.state;
    wsc_close(&w, &obs, 2);
    wsc_close(&w, &ctl, 2);
    wsc_conn_free(&obs);
    wsc_conn_free(&ctl);
    wsc_conn_free(&bad);
    wsc_destroy(&w);
    rig_down(&r);

    assert_int_equal(rc_obs, 0);
    assert_reply(schema, "schema", "\"role\":\"observer\"");
    if (failed[0])
        fail_msg("observer control commands:\n%s", failed);
    assert_reply(sub, "ack", "ctrl.throttle");
    assert_reply(stats, "ack", "stats");
    assert_true(frames >= 3);
    assert_int_equal(bad_frames, 0);
    assert_true(throttle == 0.5);
    assert_int_equal(rc_ctl, 0);
    assert_reply(ctl_schema, "schema", "\"role\":\"controller\"");
    assert_reply(ctl_set, "ack", "set");
    assert_int_equal(rc_bad, -1);
    assert_true(throttle_after == 0.75);
    assert_int_equal(obs_state, 1);
    json_decref(schema);
    json_decref(sub);
    json_decref(stats);
    json_decref(ctl_schema);
    json_decref(ctl_set);
}

static void test_access_origin(void **state)
{
    (void)state;
    const char *origins[] = {"http://localhost:3000", "https://dash.example.org/"};
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.allowed_origins = origins;
    sc.allowed_origin_count = 2;
    struct rig r;
    rig_up(&r, &sc);
    struct hs h;
    char own[128], own_host[64], own_local[128], rebound[128], rebound_host[64], other_port[128];
    snprintf(own, sizeof own, "Origin: http://127.0.0.1:%d\r\n", r.port);
    snprintf(own_local, sizeof own_local, "Origin: http://localhost:%d\r\n", r.port);
    snprintf(own_host, sizeof own_host, "localhost:%d", r.port);
    snprintf(rebound, sizeof rebound, "Origin: http://evil.example:%d\r\n", r.port);
    snprintf(rebound_host, sizeof rebound_host, "evil.example:%d", r.port);
    snprintf(other_port, sizeof other_port, "Origin: http://127.0.0.1:%d\r\n", r.port == 1 ? 2 : r.port - 1);
    int st_evil = status_of(r.port, "/", NULL, "Origin: http://evil.example\r\n", &h);
    char body_evil[1024];
    snprintf(body_evil, sizeof body_evil, "%s", h.body);
    int st_null = status_of(r.port, "/", NULL, "Origin: null\r\n", &h);
    int st_listed = status_of(r.port, "/", NULL, "Origin: http://localhost:3000\r\n", &h);
    int st_listed_case = status_of(r.port, "/", NULL, "Origin: HTTP://LOCALHOST:3000\r\n", &h);
    int st_listed_slash = status_of(r.port, "/", NULL, "Origin: https://dash.example.org\r\n", &h);
    int st_listed_other_scheme = status_of(r.port, "/", NULL, "Origin: http://dash.example.org\r\n", &h);
    int st_own = status_of(r.port, "/", NULL, own, &h);
    int st_own_localhost = status_of(r.port, "/", own_host, own_local, &h);
    int st_other_port = status_of(r.port, "/", NULL, other_port, &h);
    int st_rebound = status_of(r.port, "/", rebound_host, rebound, &h);  /* DNS rebinding */
    int st_none = status_of(r.port, "/", NULL, NULL, &h);
    /* the lws client (Origin http://127.0.0.1, Host 127.0.0.1) */
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn a;
    int rc_lws = wsc_connect(&w, &a, r.port, "hermes");
    json_t *ack = rc_lws == 0 ? wsc_cmd(&w, &a, "{\"action\":\"stats\"}", 3) : NULL;
    wsc_close(&w, &a, 2);
    wsc_conn_free(&a);
    wsc_destroy(&w);
    rig_down(&r);

    assert_int_equal(st_evil, 403);
    assert_contains(body_evil, "allowed_origins");
    assert_int_equal(st_null, 403);
    assert_int_equal(st_listed, 101);
    assert_int_equal(st_listed_case, 101);
    assert_int_equal(st_listed_slash, 101);
    assert_int_equal(st_listed_other_scheme, 403);
    assert_int_equal(st_own, 101);
    assert_int_equal(st_own_localhost, 101);
    assert_int_equal(st_other_port, 403);
    assert_int_equal(st_rebound, 403);
    assert_int_equal(st_none, 101);
    assert_int_equal(rc_lws, 0);
    assert_reply(ack, "ack", "stats");
    json_decref(ack);
}

static void test_access_max_clients(void **state)
{
    (void)state;
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.max_clients = 2;
    struct rig r;
    rig_up(&r, &sc);
    struct hs h;
    int a = handshake(r.port, "/", NULL, NULL, &h);
    json_t *sa = a >= 0 ? raw_next_json(a, 3) : NULL;
    int b = handshake(r.port, "/", NULL, NULL, &h);
    json_t *sb = b >= 0 ? raw_next_json(b, 3) : NULL;
    int c = handshake(r.port, "/", NULL, NULL, &h);
    struct hs refused = h;
    /* the first two still work; after one leaves there is room again */
    json_t *stats = a >= 0 ? raw_cmd(a, "{\"action\":\"stats\"}") : NULL;
    if (b >= 0)
        close(b);
    int d = -1;
    double end = wsc_now() + 3;
    while (d < 0 && wsc_now() < end) {
        d = handshake(r.port, "/", NULL, NULL, &h);
        if (d < 0)
            usleep(20 * 1000);
    }
    json_t *sd = d >= 0 ? raw_next_json(d, 3) : NULL;
    if (a >= 0)
        close(a);
    if (c >= 0)
        close(c);
    if (d >= 0)
        close(d);
    rig_down(&r);

    assert_true(a >= 0 && b >= 0);
    assert_reply(sa, "schema", "schema");
    assert_reply(sb, "schema", "schema");
    assert_int_equal(c, -1);
    assert_int_equal(refused.status, 503);
    assert_contains(refused.body, "too many clients: this server accepts at most 2");
    assert_reply(stats, "ack", "\"clients\":2");
    assert_true(d >= 0);
    assert_reply(sd, "schema", "schema");
    json_decref(sa);
    json_decref(sb);
    json_decref(stats);
    json_decref(sd);
}

static void test_access_rate_limit(void **state)
{
    (void)state;
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.commands_per_second = 5;
    struct rig r;
    rig_up(&r, &sc);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn a, other;
    assert_int_equal(wsc_connect(&w, &a, r.port, "hermes"), 0);
    assert_int_equal(wsc_connect(&w, &other, r.port, "hermes"), 0);
    json_decref(wsc_wait(&w, &a, "schema", NULL, 3));
    json_decref(wsc_wait(&w, &other, "schema", NULL, 3));

    /* a burst of 12 at once: the first 5 pass, the rest get errors, in order */
    for (int i = 0; i < 12; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "{\"action\":\"stats\",\"id\":%d}", i);
        wsc_send(&a, cmd);
    }
    int acks = 0, errors = 0, first_error = -1, misordered = 0;
    for (int i = 0; i < 12; i++) {
        json_t *j = wsc_next(&w, &a, 3);
        if (!j)
            break;
        if (!strcmp(js(j, "type"), "ack")) {
            acks++;
            if (json_integer_value(json_object_get(j, "id")) != i)
                misordered++;
        } else if (!strcmp(js(j, "type"), "error") && strstr(js(j, "message"), "rate limit")) {
            if (first_error < 0)
                first_error = i;
            errors++;
        }
        json_decref(j);
    }
    /* the other client is not affected */
    json_t *other_ack = wsc_cmd(&w, &other, "{\"action\":\"stats\"}", 3);
    /* after a pause the connection is usable again */
    wsc_pump(&w, 1.2);
    json_t *later = wsc_cmd(&w, &a, "{\"action\":\"stats\"}", 3);
    int state_after_burst = a.state;

    /* sustained: 50 commands per second; closed with 1008 after about 3 s */
    double t0 = wsc_now(), next = t0;
    while (a.state == 1 && wsc_now() < t0 + 8) {
        if (wsc_now() >= next) {
            wsc_send(&a, "{\"action\":\"stats\"}");
            next += 0.02;
        }
        wsc_service(&w);
        while (a.head) {  /* drain replies as a well-behaved reader would */
            json_t *j = wsc_next(&w, &a, 0);
            json_decref(j);
        }
    }
    double took = wsc_now() - t0;
    int closed_state = a.state, code = a.close_code;
    char reason[64];
    snprintf(reason, sizeof reason, "%s", a.close_reason);
    json_t *other_after = wsc_cmd(&w, &other, "{\"action\":\"stats\"}", 3);
    wsc_close(&w, &other, 2);
    wsc_conn_free(&a);
    wsc_conn_free(&other);
    wsc_destroy(&w);
    rig_down(&r);

    assert_int_equal(acks, 5);
    assert_int_equal(errors, 7);
    assert_int_equal(first_error, 5);
    assert_int_equal(misordered, 0);
    assert_reply(other_ack, "ack", "stats");
    assert_reply(later, "ack", "stats");
    assert_int_equal(state_after_burst, 1);
    assert_int_equal(closed_state, 2);
    assert_int_equal(code, 1008);
    assert_contains(reason, "rate limit");
    assert_true(took > 2.5 && took < 7);
    assert_reply(other_after, "ack", "stats");
    json_decref(other_ack);
    json_decref(later);
    json_decref(other_after);
}

static void test_access_patterns_and_depth(void **state)
{
    (void)state;
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.max_patterns = 3;
    sc.max_json_depth = 5;
    struct rig r;
    rig_up(&r, &sc);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn a;
    assert_int_equal(wsc_connect(&w, &a, r.port, "hermes"), 0);
    json_t *four = wsc_cmd(&w, &a,
        "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"ctrl.throttle\",\"ctrl.gear\",\"ctrl.temp\",\"ctrl.*\"]}}", 3);
    json_t *three = wsc_cmd(&w, &a,
        "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"ctrl.throttle\",\"ctrl.gear\",\"ctrl.temp\"]}}", 3);
    /* depth 6 (object, id array x4, object) vs exactly 5 */
    json_t *deep = wsc_cmd(&w, &a, "{\"action\":\"stats\",\"id\":[[[[{}]]]]}", 3);
    json_t *five = wsc_cmd(&w, &a, "{\"action\":\"stats\",\"id\":[[[[1]]]]}", 3);
    /* brackets inside strings do not count */
    json_t *str = wsc_cmd(&w, &a, "{\"action\":\"stats\",\"id\":\"[[[[[[[[{{{{\\\"\"}", 3);
    /* far deeper than jansson's own limit (2048): refused by the scan */
    char *huge = malloc(30001);
    memset(huge, '[', 30000);
    huge[30000] = '\0';
    json_t *very = wsc_cmd(&w, &a, huge, 3);
    free(huge);
    json_t *after = wsc_cmd(&w, &a, "{\"action\":\"stats\"}", 3);
    wsc_close(&w, &a, 2);
    wsc_conn_free(&a);
    wsc_destroy(&w);
    rig_down(&r);

    assert_reply(four, "error", "4 patterns, more than this server's limit of 3");
    assert_reply(three, "ack", "\"count\":3");
    assert_reply(deep, "error", "nested deeper than 5 levels");
    assert_reply(five, "ack", "stats");
    assert_reply(str, "ack", "stats");
    assert_reply(very, "error", "nested deeper than 5 levels");
    assert_reply(after, "ack", "stats");
    json_decref(four);
    json_decref(three);
    json_decref(deep);
    json_decref(five);
    json_decref(str);
    json_decref(very);
    json_decref(after);
}

static hermes_backplane_t *make_backplane(const char *what)
{
    static char name[96];
    static const hermes_signal_spec_t spec = {"m", "x", HERMES_TYPE_F64, "", false, 0};
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.run_name = test_run_name(name, sizeof name, what);
    bc.signals = &spec;
    bc.signal_count = 1;
    hermes_backplane_t *bp = NULL;
    assert_hermes_ok(hermes_backplane_create(&bp, &bc));
    return bp;
}

/* ---- log capture ---------------------------------------------------------------- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[1 << 18];
static size_t log_len;

static void log_hook(void *ctx, hermes_log_level_t level, const char *component, const char *msg)
{
    (void)ctx;
    pthread_mutex_lock(&log_mu);
    int k = snprintf(log_buf + log_len, sizeof log_buf - log_len, "%d %s %s\n", (int)level, component, msg);
    if (k > 0)
        log_len = log_len + (size_t)k < sizeof log_buf ? log_len + (size_t)k : sizeof log_buf - 1;
    pthread_mutex_unlock(&log_mu);
}

static void test_access_token_never_logged(void **state)
{
    (void)state;
    log_len = 0;
    log_buf[0] = '\0';
    hermes_log_set(log_hook, NULL, HERMES_LOG_DEBUG);
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.auth_token = TOKEN;
    sc.observers = true;
    sc.bind_addr = "0.0.0.0";  /* with a token: no bind warning */
    struct rig r;
    rig_up(&r, &sc);
    struct hs h;
    int s1 = status_of(r.port, "/?token=" TOKEN, NULL, NULL, &h);
    int s2 = status_of(r.port, "/?token=" WRONG, NULL, NULL, &h);
    int s3 = status_of(r.port, "/", NULL, "Authorization: Bearer " WRONG "\r\n", &h);
    int s4 = status_of(r.port, "/", NULL, "Authorization: Bearer " TOKEN "\r\n", &h);
    int fd = handshake(r.port, "/?token=" TOKEN, NULL, NULL, &h);
    json_t *j = fd >= 0 ? raw_next_json(fd, 3) : NULL;
    json_t *e = fd >= 0 ? raw_cmd(fd, "{\"action\":\"set\",\"params\":{\"signal\":\"" TOKEN "\",\"value\":1}}") : NULL;
    if (fd >= 0)
        close(fd);
    json_decref(j);
    rig_down(&r);

    /* a bad token is refused without being quoted, by the server and the config */
    hermes_backplane_t *bp = make_backplane("acl-bp");
    hermes_server_config_init(&sc);
    sc.auth_token = TOKEN "!";
    hermes_server_t *srv = NULL;
    assert_hermes_rc(hermes_server_create(&srv, bp, &sc, NULL), HERMES_EINVAL);
    char srv_err[512];
    snprintf(srv_err, sizeof srv_err, "%s", hermes_last_error());
    hermes_backplane_destroy(bp);
    const char *yaml = "modules:\n  m: {type: injection}\nserver:\n  auth_token: \"" TOKEN " \"\n";
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    int crc = hermes_config_parse(&cfg, yaml, strlen(yaml), "t.yaml", NULL, &err);

    /* without a token, a non-loopback bind is a warning */
    hermes_server_config_init(&sc);
    sc.bind_addr = "0.0.0.0";
    struct rig r2;
    rig_up(&r2, &sc);
    rig_down(&r2);
    hermes_log_set(NULL, NULL, HERMES_LOG_ERROR);

    pthread_mutex_lock(&log_mu);
    char *copy = strdup(log_buf);
    pthread_mutex_unlock(&log_mu);
    assert_int_equal(s1, 101);
    assert_int_equal(s2, 401);
    assert_int_equal(s3, 401);
    assert_int_equal(s4, 101);
    assert_reply(e, "error", "unknown signal");
    json_decref(e);
    assert_int_equal(crc, HERMES_ECONFIG);
    assert_string_equal(err.field, "server.auth_token");
    assert_contains(err.message, "t.yaml:4:");
    /* the log captured the refusals and connections it should have */
    assert_contains(copy, "event=client_refused reason=unauthorized");
    assert_contains(copy, "role=controller");
    const char *conn = strstr(copy, "event=client_connected");
    assert_non_null(conn);
    assert_true(strncmp(strchr(conn, ' ') + 1, "id=", 3) == 0);
    assert_contains(conn, "addr=127.0.0.1:");
    assert_true(strstr(conn, "addr=127.0.0.1:") < strchr(conn, '\n'));
    assert_contains(copy, "auth=token");
    assert_contains(copy, "event=bind_warning addr=0.0.0.0");
    /* exactly one bind warning: the token-less server's */
    const char *bw = strstr(copy, "event=bind_warning");
    assert_null(strstr(bw + 1, "event=bind_warning"));
    /* ... and never the tokens, right or wrong: only the client's own
     * command text (the unknown signal it named) may echo them. */
    size_t leaks = 0;
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n"))
        if ((strstr(line, TOKEN) || strstr(line, WRONG)) && !strstr(line, "unknown signal"))
            leaks++;
    free(copy);
    assert_int_equal(leaks, 0);
    assert_null(strstr(srv_err, TOKEN));
    assert_contains(srv_err, "auth_token");
    assert_null(strstr(err.message, TOKEN));
}

static void test_access_bad_options(void **state)
{
    (void)state;
    hermes_backplane_t *bp = make_backplane("acl-opt");
    hermes_server_t *srv = NULL;
    hermes_server_config_t sc;
    const char *bad_origin[] = {"http://ok.example", "evil.example"};
    static const char *const cases[] = {"short token", "bad char", "origin", "depth", "cps", "message",
                                        "origins NULL"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        hermes_server_config_init(&sc);
        switch (i) {
        case 0: sc.auth_token = "short"; break;
        case 1: sc.auth_token = "0123456789abcdef 0123"; break;
        case 2: sc.allowed_origins = bad_origin; sc.allowed_origin_count = 2; break;
        case 3: sc.max_json_depth = 2; break;
        case 4: sc.commands_per_second = 100001; break;
        case 5: sc.max_message = 100; break;
        default: sc.allowed_origin_count = 1; break;
        }
        int rc = hermes_server_create(&srv, bp, &sc, NULL);
        if (rc != HERMES_EINVAL)
            fail_msg("%s: expected HERMES_EINVAL, got %s", cases[i], hermes_err_name(rc));
        assert_null(srv);
    }
    hermes_server_config_init(&sc);
    sc.allowed_origins = bad_origin;
    sc.allowed_origin_count = 2;
    assert_hermes_rc(hermes_server_create(&srv, bp, &sc, NULL), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "allowed_origins[1]");
    /* an empty token means none; the widest valid limits are fine */
    hermes_server_config_init(&sc);
    sc.auth_token = "";
    sc.max_json_depth = 1000;
    sc.max_patterns = 1000000;
    sc.commands_per_second = 100000;
    assert_hermes_ok(hermes_server_create(&srv, bp, &sc, NULL));
    hermes_server_destroy(srv);
    hermes_backplane_destroy(bp);
}

/* `hermes run` as a user runs it: HERMES_AUTH_TOKEN replaces server.auth_token,
 * and neither token reaches the command's log. */
static void test_access_cli_env_token_overrides_file(void **state)
{
    (void)state;
#ifdef HERMES_CLI
    char dir[] = "/tmp/hermes-acl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char yaml[300], logp[300];
    snprintf(yaml, sizeof yaml, "%s/acl.yaml", dir);
    snprintf(logp, sizeof logp, "%s/run.log", dir);
    FILE *f = fopen(yaml, "w");
    assert_non_null(f);
    fprintf(f, "modules:\n  m:\n    type: injection\n    signals: [{name: x, writable: true}]\n"
               "execution: {mode: realtime, rate_hz: 20, end_time: 60}\n"
               "server:\n  enabled: true\n  auth_token: %s\n  max_clients: 4\n", WRONG);
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logp, O_CREAT | O_TRUNC | O_WRONLY, 0600);
        if (fd < 0)
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("HERMES_AUTH_TOKEN", TOKEN, 1);
        execl(HERMES_CLI, "hermes", "run", yaml, "--port", "0", "--verbose", (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    int port = -1;
    double end = test_now() + 10;
    while (port < 0 && test_now() < end) {
        FILE *lf = fopen(logp, "r");
        char line[2048];
        while (lf && fgets(line, sizeof line, lf)) {
            const char *p = strstr(line, "event=listening");
            if (p && (p = strstr(p, " port=")))
                port = atoi(p + 6);
        }
        if (lf)
            fclose(lf);
        if (port < 0)
            usleep(20 * 1000);
    }
    struct hs h;
    int st_env = port > 0 ? status_of(port, "/?token=" TOKEN, NULL, NULL, &h) : 0;
    int st_file = port > 0 ? status_of(port, "/", NULL, "Authorization: Bearer " WRONG "\r\n", &h) : 0;
    int st_none = port > 0 ? status_of(port, "/", NULL, NULL, &h) : 0;
    kill(pid, SIGTERM);
    int st = 0;
    end = test_now() + 10;
    while (waitpid(pid, &st, WNOHANG) != pid && test_now() < end)
        usleep(10 * 1000);
    if (test_now() >= end) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    static char logtext[1 << 16];
    f = fopen(logp, "r");
    size_t n = f ? fread(logtext, 1, sizeof logtext - 1, f) : 0;
    logtext[n] = '\0';
    if (f)
        fclose(f);
    unlink(logp);
    unlink(yaml);
    rmdir(dir);
    if (port <= 0)
        fail_msg("hermes run did not listen: %s", logtext);
    assert_int_equal(st_env, 101);
    assert_int_equal(st_file, 401);
    assert_int_equal(st_none, 401);
    assert_contains(logtext, "auth=token");
    assert_contains(logtext, "reason=unauthorized");
    assert_null(strstr(logtext, TOKEN));
    assert_null(strstr(logtext, WRONG));
#else
    fail_msg("HERMES_CLI not defined");
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_token_header_and_query),
        cmocka_unit_test(test_access_observer_role),
        cmocka_unit_test(test_access_origin),
        cmocka_unit_test(test_access_max_clients),
        cmocka_unit_test(test_access_rate_limit),
        cmocka_unit_test(test_access_patterns_and_depth),
        cmocka_unit_test(test_access_token_never_logged),
        cmocka_unit_test(test_access_bad_options),
        cmocka_unit_test(test_access_cli_env_token_overrides_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
