/* The server's seams with a real server on 127.0.0.1 port 0 and real clients:
 * a custom telemetry source in memory (hermes_server_create_source) with a
 * seekable control table, the HTTP route for built-in pages (raw HTTP), and
 * hermes_server_errmsg() after failed calls. */
#include "test_util.h"
#include <pthread.h>

#include "common/util.h"
#include "ws_client.h"

/* ---- an in-memory "recording": 3 signals, frame = position, value = f(frame) ---- */

struct rec {
    hermes_signal_info_t sig[3];
    uint32_t             nsig;
    uint64_t             frame;      /* service thread reads, control thread writes */
    pthread_mutex_t      mu;
    hermes_state_t       state;
    hermes_server_t     *srv;
    bool                 with_seek;
    int                  streams;    /* open readers */
};

static const char *const rec_modules[] = {"rec", "other", "empty"};

static uint32_t rec_count(void *ctx) { return ((struct rec *)ctx)->nsig; }

static int rec_info(void *ctx, uint32_t i, hermes_signal_info_t *out)
{
    struct rec *r = ctx;
    if (i >= r->nsig)
        return HERMES_ENOENT;
    *out = r->sig[i];
    return 0;
}

static uint32_t rec_module_count(void *ctx)
{
    (void)ctx;
    return 3;
}

static const char *rec_module_name(void *ctx, uint32_t i)
{
    (void)ctx;
    return rec_modules[i];
}

struct rec_stream {
    uint32_t n, idx[3];
};

static int rec_open(void *ctx, const uint32_t *idx, uint32_t n, void **stream)
{
    struct rec *r = ctx;
    struct rec_stream *st = calloc(1, sizeof *st);
    if (!st || n > 3) {
        free(st);
        return HERMES_ENOMEM;
    }
    st->n = n;
    memcpy(st->idx, idx, n * sizeof *idx);
    r->streams++;
    *stream = st;
    return 0;
}

static uint64_t rec_frame(void *ctx)
{
    struct rec *r = ctx;
    pthread_mutex_lock(&r->mu);
    uint64_t f = r->frame;
    pthread_mutex_unlock(&r->mu);
    return f;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_f64(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_le(p, v, 8);
}

/* value of signal k at frame f: 1000 * (k + 1) + f */
static int rec_encode(void *ctx, void *stream, void *buf, size_t cap)
{
    struct rec_stream *st = stream;
    if (cap < HERMES_TELEMETRY_FRAME_SIZE(st->n))
        return HERMES_EINVAL;
    uint64_t f = rec_frame(ctx);
    unsigned char *p = buf;
    put_le(p, HERMES_TELEMETRY_MAGIC, 4);
    put_le(p + 4, f, 8);
    put_f64(p + 12, (double)f / 50.0);
    put_le(p + 20, st->n, 4);
    for (uint32_t i = 0; i < st->n; i++)
        put_f64(p + 24 + 8 * i, 1000.0 * (st->idx[i] + 1) + (double)f);
    return 0;
}

static void rec_close(void *ctx, void *stream)
{
    ((struct rec *)ctx)->streams--;
    free(stream);
}

static uint32_t rec_wire_count(void *ctx)
{
    (void)ctx;
    return 1;
}

static int rec_wire(void *ctx, uint32_t i, hermes_wire_info_t *out)
{
    (void)ctx;
    (void)i;
    memset(out, 0, sizeof *out);
    out->src = "rec.a";
    out->dst = "rec.b";
    out->gain = 1;
    out->offset = 0;
    return 0;
}

static int rec_execution(void *ctx, hermes_execution_t *out)
{
    (void)ctx;
    memset(out, 0, sizeof *out);
    out->mode = HERMES_MODE_REALTIME;
    out->rate_hz = 50.0;
    return 0;
}

static int rec_seek(void *ctx, uint64_t frame)
{
    struct rec *r = ctx;
    if (frame > 1000)
        return hermes__fail(HERMES_ERANGE, "frame %llu is beyond the recording's last frame 1000",
                            (unsigned long long)frame);
    pthread_mutex_lock(&r->mu);
    r->frame = frame;
    pthread_mutex_unlock(&r->mu);
    hermes_server_post_event(r->srv, HERMES_EVENT_PAUSED, frame, NULL);
    return 0;
}

static hermes_state_t rec_state(void *ctx) { return ((struct rec *)ctx)->state; }
static int rec_nop(void *ctx)
{
    (void)ctx;
    return 0;
}

static void sig_init(hermes_signal_info_t *s, uint32_t k, const char *name, const char *module, const char *local,
                     const char *unit, bool writable)
{
    memset(s, 0, sizeof *s);
    s->id.index = k;
    s->name = name;
    s->module = module;
    s->local_name = local;
    s->unit = unit;
    s->type = HERMES_TYPE_F64;
    s->writable = writable;
}

/* Serve @p r over a custom source; @p nsig 0 gives a source without signals. */
static hermes_server_t *rec_serve(struct rec *r, uint32_t nsig, bool with_seek, hermes_server_config_t *sc)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->state = HERMES_STATE_PAUSED;
    r->with_seek = with_seek;
    sig_init(&r->sig[0], 0, "rec.a", "rec", "a", "m", true);
    sig_init(&r->sig[1], 1, "rec.b", "rec", "b", "", true);
    sig_init(&r->sig[2], 2, "other.c", "other", "c", "s", false);
    r->nsig = nsig;
    hermes_server_source_t src;
    hermes_server_source_init(&src);
    src.ctx = r;
    src.run_id = "recording-1";
    src.signal_count = rec_count;
    src.signal_info = rec_info;
    src.module_count = rec_module_count;
    src.module_name = rec_module_name;
    src.stream_open = rec_open;
    src.stream_encode = rec_encode;
    src.stream_close = rec_close;
    src.frame = rec_frame;
    src.wire_count = rec_wire_count;
    src.wire = rec_wire;
    src.execution = rec_execution;
    hermes_server_control_t ctl;
    hermes_server_control_init(&ctl);
    ctl.ctx = r;
    ctl.pause = rec_nop;
    ctl.resume = rec_nop;
    ctl.state = rec_state;
    if (with_seek)
        ctl.seek = rec_seek;
    hermes_server_config_t def;
    if (!sc) {
        hermes_server_config_init(&def);
        sc = &def;
    }
    sc->telemetry_hz = 100;
    hermes_server_t *srv = NULL;
    assert_hermes_ok(hermes_server_create_source(&srv, &src, sc, &ctl));
    r->srv = srv;
    assert_hermes_ok(hermes_server_start(srv));
    return srv;
}

static void rec_down(struct rec *r)
{
    hermes_server_destroy(r->srv);
    assert_int_equal(r->streams, 0);  /* every reader closed */
    pthread_mutex_destroy(&r->mu);
}

static uint64_t frame_of(const struct wsc_conn *c)
{
    hermes_telemetry_header_t h;
    if (!c->last_bin || hermes_telemetry_decode_header(c->last_bin, c->last_bin_len, &h) != 0)
        return UINT64_MAX;
    return h.frame;
}

static bool wait_frame(struct wsc *w, struct wsc_conn *c, uint64_t f, double seconds)
{
    double end = wsc_now() + seconds;
    while (wsc_now() < end) {
        if (frame_of(c) == f)
            return true;
        wsc_service(w);
    }
    return false;
}

static void expect_error(struct wsc *w, struct wsc_conn *c, const char *cmd, const char *needle)
{
    json_t *j = wsc_cmd(w, c, cmd, 3);
    if (!j)
        fail_msg("no reply to %s", cmd);
    if (strcmp(js(j, "type"), "error") != 0 || !strstr(js(j, "message"), needle))
        fail_msg("%s: expected an error containing \"%s\", got %s \"%s\"", cmd, needle, js(j, "type"), js(j, "message"));
    json_decref(j);
}

static void test_server_seams_custom_source_schema_and_telemetry(void **state)
{
    (void)state;
    struct rec r;
    rec_serve(&r, 3, true, NULL);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn a;
    assert_int_equal(wsc_connect(&w, &a, hermes_server_port(r.srv), "hermes"), 0);
    json_t *s = wsc_wait(&w, &a, "schema", NULL, 3);
    assert_non_null(s);
    assert_string_equal(js(s, "run_id"), "recording-1");
    assert_string_equal(js(s, "state"), "paused");
    assert_int_equal(json_integer_value(json_object_get(s, "signal_count")), 3);
    json_t *mods = json_object_get(s, "modules");
    assert_int_equal(json_object_size(mods), 3);  /* "empty" listed by module_name */
    assert_int_equal(json_array_size(json_object_get(json_object_get(mods, "empty"), "signals")), 0);
    json_t *ra = json_array_get(json_object_get(json_object_get(mods, "rec"), "signals"), 0);
    json_t *rb = json_array_get(json_object_get(json_object_get(mods, "rec"), "signals"), 1);
    assert_string_equal(js(ra, "unit"), "m");
    assert_null(json_object_get(rb, "unit"));  /* no unit: no key (issue 8 #4) */
    assert_true(json_number_value(json_object_get(s, "rate_hz")) == 50.0);
    assert_string_equal(js(json_array_get(json_object_get(s, "wiring"), 0), "dst"), "rec.b");
    json_decref(s);

    /* patterns resolve over the source's catalog, "prefix.*" in index order */
    json_t *j = wsc_cmd(&w, &a, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"other.c\",\"rec.*\"]}}", 3);
    assert_string_equal(js(j, "type"), "ack");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "signals"), 1)), "rec.a");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "signals"), 2)), "rec.b");
    json_decref(j);
    assert_true(wait_frame(&w, &a, 0, 3));
    assert_true(hermes_telemetry_value(a.last_bin, 0) == 3000.0);
    assert_true(hermes_telemetry_value(a.last_bin, 1) == 1000.0);

    /* set on a wire's destination is refused naming the source (issue 8 #6) */
    expect_error(&w, &a, "{\"action\":\"set\",\"params\":{\"signal\":\"rec.b\",\"value\":1}}",
                 "rec.b is driven by rec.a; set that instead");

    /* seek by frame, then by time (rate 50 Hz: 1.5 s is frame 75) */
    j = wsc_cmd(&w, &a, "{\"action\":\"seek\",\"params\":{\"frame\":40},\"id\":\"s1\"}", 3);
    assert_string_equal(js(j, "type"), "ack");
    assert_string_equal(js(j, "action"), "seek");
    assert_string_equal(js(j, "id"), "s1");
    assert_int_equal(json_integer_value(json_object_get(j, "frame")), 40);
    assert_string_equal(js(j, "state"), "paused");
    json_decref(j);
    assert_true(wait_frame(&w, &a, 40, 3));
    assert_true(hermes_telemetry_value(a.last_bin, 1) == 1040.0);
    j = wsc_cmd(&w, &a, "{\"action\":\"seek\",\"params\":{\"time\":1.5}}", 3);
    assert_string_equal(js(j, "type"), "ack");
    assert_int_equal(json_integer_value(json_object_get(j, "frame")), 75);
    json_decref(j);
    assert_true(wait_frame(&w, &a, 75, 3));
    expect_error(&w, &a, "{\"action\":\"seek\",\"params\":{\"frame\":5000}}", "beyond the recording's last frame");
    expect_error(&w, &a, "{\"action\":\"seek\",\"params\":{\"frame\":-1}}", "params.frame must be an integer >= 0");
    expect_error(&w, &a, "{\"action\":\"seek\",\"params\":{\"time\":\"x\"}}", "params.time must be a number");
    expect_error(&w, &a, "{\"action\":\"seek\",\"params\":{\"frame\":1,\"time\":1}}", "exactly one of");
    expect_error(&w, &a, "{\"action\":\"seek\"}", "exactly one of");

    wsc_finish(&w, &a);
    wsc_destroy(&w);
    rec_down(&r);
}

static void test_server_seams_seek_unsupported_and_observer(void **state)
{
    (void)state;
    struct rec r;
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.auth_token = "0123456789abcdef0123";
    sc.observers = true;
    rec_serve(&r, 3, false, &sc);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn ctl, obs;
    int port = hermes_server_port(r.srv);
    assert_int_equal(wsc_open(&w, &obs, port, "hermes"), 0);
    expect_error(&w, &obs, "{\"action\":\"seek\",\"params\":{\"frame\":1}}",
                 "this connection is an observer (read-only): 'seek' needs the server's auth token");
    wsc_finish(&w, &obs);
    wsc_destroy(&w);
    rec_down(&r);

    /* a live-style control (no seek): a clear error for a controller */
    hermes_server_config_init(&sc);
    rec_serve(&r, 3, false, &sc);
    assert_int_equal(wsc_init(&w), 0);
    assert_int_equal(wsc_open(&w, &ctl, hermes_server_port(r.srv), "hermes"), 0);
    expect_error(&w, &ctl, "{\"action\":\"seek\",\"params\":{\"frame\":1}}", "seek is not supported by this run");
    wsc_finish(&w, &ctl);
    wsc_destroy(&w);
    rec_down(&r);
}

/* Daedalus subscribes "*" and waits for the ack: with no signal at all it is
 * count 0; other patterns that match nothing stay errors. */
static void test_server_seams_star_on_empty_source(void **state)
{
    (void)state;
    struct rec r;
    rec_serve(&r, 0, false, NULL);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn a;
    assert_int_equal(wsc_open(&w, &a, hermes_server_port(r.srv), NULL), 0);
    json_t *j = wsc_cmd(&w, &a, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"*\"]}}", 3);
    assert_string_equal(js(j, "type"), "ack");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 0);
    assert_int_equal(json_array_size(json_object_get(j, "signals")), 0);
    json_decref(j);
    expect_error(&w, &a, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"rec.*\"]}}", "pattern 'rec.*' matches no signal");
    expect_error(&w, &a, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"rec.a\"]}}", "unknown signal 'rec.a'");
    wsc_finish(&w, &a);
    wsc_destroy(&w);
    rec_down(&r);
}

static void test_server_seams_bad_source(void **state)
{
    (void)state;
    hermes_server_source_t src;
    hermes_server_source_init(&src);
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    hermes_server_t *srv = (hermes_server_t *)&src;
    assert_int_equal(hermes_server_create_source(&srv, &src, &sc, NULL), HERMES_EINVAL);  /* no callbacks */
    assert_null(srv);
    assert_int_equal(hermes_server_create_source(&srv, NULL, &sc, NULL), HERMES_EINVAL);
}

/* hermes_server_errmsg() explains failed post_event and stats calls. */
static void test_server_seams_errmsg(void **state)
{
    (void)state;
    struct rec r;
    rec_serve(&r, 3, false, NULL);
    assert_int_equal(hermes_server_post_event(r.srv, HERMES_EVENT_NONE, 0, NULL), HERMES_EINVAL);
    assert_non_null(strstr(hermes_server_errmsg(r.srv), "HERMES_EVENT_NONE"));
    assert_int_equal(hermes_server_stats(r.srv, NULL), HERMES_EINVAL);
    assert_non_null(strstr(hermes_server_errmsg(r.srv), "out is NULL"));
    assert_hermes_ok(hermes_server_stop(r.srv));
    assert_int_equal(hermes_server_post_event(r.srv, HERMES_EVENT_PAUSED, 0, NULL), HERMES_ESTATE);
    assert_string_equal(hermes_server_errmsg(r.srv), "the server is stopped");
    rec_down(&r);
}

/* post_event and stats are safe from any thread, their failures included:
 * several threads fail both at once while this thread reads errmsg (under
 * TSan, an unlocked errmsg write is a reported race). */
#define ERR_THREADS 4
#define ERR_ROUNDS  2000
static void *errmsg_hammer(void *arg)
{
    hermes_server_t *srv = arg;
    for (int i = 0; i < ERR_ROUNDS; i++) {
        if (hermes_server_post_event(srv, HERMES_EVENT_NONE, 0, NULL) != HERMES_EINVAL)
            return (void *)1;
        if (hermes_server_stats(srv, NULL) != HERMES_EINVAL)
            return (void *)1;
    }
    return NULL;
}

static void test_server_seams_errmsg_threads(void **state)
{
    (void)state;
    struct rec r;
    rec_serve(&r, 3, false, NULL);
    pthread_t t[ERR_THREADS];
    for (int i = 0; i < ERR_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, errmsg_hammer, r.srv), 0);
    for (int i = 0; i < ERR_ROUNDS; i++) {
        const char *m = hermes_server_errmsg(r.srv);
        if (!strstr(m, "HERMES_EVENT_NONE") && !strstr(m, "out is NULL"))
            assert_string_equal(m, "");  /* before the first failure; never torn */
    }
    for (int i = 0; i < ERR_THREADS; i++) {
        void *ret = (void *)1;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
    const char *m = hermes_server_errmsg(r.srv);
    assert_true(strstr(m, "HERMES_EVENT_NONE") || strstr(m, "out is NULL"));
    rec_down(&r);
}

/* ---- the HTTP route ----------------------------------------------------------------- */

static void test_server_seams_http_route(void **state)
{
    (void)state;
    struct rec r;
    rec_serve(&r, 3, false, NULL);
    int port = hermes_server_port(r.srv);
    struct http_resp h;
    raw_http_get(port, "GET", "/", NULL, &h);
    assert_int_equal(h.status, 200);
    assert_http_header(&h, "content-type: text/html");
    assert_http_header(&h, "x-content-type-options: nosniff");
    assert_http_header(&h, "cache-control: no-cache");
    assert_http_header(&h, "etag: \"");
    char csp[160];
    snprintf(csp, sizeof csp, "content-security-policy: default-src 'self'; connect-src 'self' ws://127.0.0.1:%d ", port);
    assert_http_header(&h, csp);
    assert_true(h.body_len > 0);
    h.body[h.body_len < sizeof h.body ? h.body_len : sizeof h.body - 1] = '\0';
    assert_non_null(strstr(h.body, "Hermes"));
    size_t body_len = h.body_len;
    char etag[64] = "";
    sscanf(strstr(h.head, "etag: ") + 6, "%63[^\r]", etag);

    /* HEAD: same headers, no body */
    raw_http_get(port, "HEAD", "/", NULL, &h);
    assert_int_equal(h.status, 200);
    char cl[64];
    snprintf(cl, sizeof cl, "content-length: %zu", body_len);
    assert_http_header(&h, cl);
    /* the ETag a browser sends back: 304 */
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s\r\n", etag);
    raw_http_get(port, "GET", "/", inm, &h);
    assert_int_equal(h.status, 304);
    /* a query string is not part of the path */
    raw_http_get(port, "GET", "/?x=1", NULL, &h);
    assert_int_equal(h.status, 200);

    raw_http_get(port, "GET", "/nope.js", NULL, &h);
    assert_int_equal(h.status, 404);
    raw_http_get(port, "GET", "/../etc/passwd", NULL, &h);
    assert_int_equal(h.status, 404);
    char req[256];
    snprintf(req, sizeof req, "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", port);
    assert_int_equal(raw_http(port, req, false, &h), 0);
    assert_int_equal(h.status, 405);
    assert_http_header(&h, "allow: get, head");
    raw_http_get(port, "DELETE", "/", NULL, &h);
    assert_int_equal(h.status, 405);
    /* a foreign page's Origin is refused like a WebSocket upgrade */
    raw_http_get(port, "GET", "/", "Origin: https://evil.example\r\n", &h);
    assert_int_equal(h.status, 403);
    rec_down(&r);
}

static void test_server_seams_http_token_and_disabled(void **state)
{
    (void)state;
    const char *tok = "0123456789abcdef0123";
    struct rec r;
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.auth_token = tok;
    rec_serve(&r, 3, false, &sc);
    int port = hermes_server_port(r.srv);
    struct http_resp h;
    raw_http_get(port, "GET", "/", NULL, &h);
    assert_int_equal(h.status, 401);
    raw_http_get(port, "GET", "/?token=0123456789abcdef0124", NULL, &h);
    assert_int_equal(h.status, 401);
    raw_http_get(port, "GET", "/?token=0123456789abcdef0123", NULL, &h);
    assert_int_equal(h.status, 200);
    raw_http_get(port, "GET", "/", "Authorization: Bearer 0123456789abcdef0123\r\n", &h);
    assert_int_equal(h.status, 200);
    rec_down(&r);

    /* observers: the page is public, like a read-only connection */
    hermes_server_config_init(&sc);
    sc.auth_token = tok;
    sc.observers = true;
    rec_serve(&r, 3, false, &sc);
    raw_http_get(hermes_server_port(r.srv), "GET", "/", NULL, &h);
    assert_int_equal(h.status, 200);
    rec_down(&r);

    /* the page switched off: 404, and WebSocket clients still connect */
    hermes_server_config_init(&sc);
    sc.viewer_disabled = true;
    rec_serve(&r, 3, false, &sc);
    port = hermes_server_port(r.srv);
    raw_http_get(port, "GET", "/", NULL, &h);
    assert_int_equal(h.status, 404);
    raw_http_get(port, "HEAD", "/", NULL, &h);
    assert_int_equal(h.status, 404);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn a;
    assert_int_equal(wsc_open(&w, &a, port, NULL), 0);
    wsc_finish(&w, &a);
    wsc_destroy(&w);
    rec_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_seams_custom_source_schema_and_telemetry),
        cmocka_unit_test(test_server_seams_seek_unsupported_and_observer),
        cmocka_unit_test(test_server_seams_star_on_empty_source),
        cmocka_unit_test(test_server_seams_bad_source),
        cmocka_unit_test(test_server_seams_errmsg),
        cmocka_unit_test(test_server_seams_errmsg_threads),
        cmocka_unit_test(test_server_seams_http_route),
        cmocka_unit_test(test_server_seams_http_token_and_disabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
