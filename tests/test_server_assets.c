/* The HTTP route over an asset table of its own: this test defines
 * hermes__assets() (lib/server/assets.h), so the linker takes it instead of
 * lib/server/assets_fallback.c, as a viewer build does. Real server on 127.0.0.1
 * port 0 over a backplane, raw HTTP. */
#include "test_util.h"

#include "server/assets.h"
#include "ws_client.h"

#define BIG (200u * 1024u + 7u)  /* many WRITEABLE chunks, odd tail */

static unsigned char big[BIG];
static const unsigned char css[] = "body{color:#222}";
static const unsigned char page[] = "<!doctype html><title>viewer</title>";

static const struct hermes__asset table[] = {
    {"/", "text/html; charset=utf-8", page, sizeof page - 1},
    {"/app.js", "text/javascript", big, BIG},
    {"/style.css", "text/css", css, sizeof css - 1},
};

const struct hermes__asset *hermes__assets(size_t *count)
{
    *count = sizeof table / sizeof table[0];
    return table;
}

static void test_server_assets_table_served_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)('a' + (i * 7 + i / 251) % 26);
    char name[96];
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    hermes_signal_spec_t spec = {"m", "x", HERMES_TYPE_F64, "", false, 0};
    bc.run_name = test_run_name(name, sizeof name, "assets");
    bc.signals = &spec;
    bc.signal_count = 1;
    hermes_backplane_t *bp = NULL;
    assert_hermes_ok(hermes_backplane_create(&bp, &bc));
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    hermes_server_t *srv = NULL;
    assert_hermes_ok(hermes_server_create(&srv, bp, &sc, NULL));
    assert_hermes_ok(hermes_server_start(srv));
    int port = hermes_server_port(srv);
    static struct http_resp h;
    raw_http_get(port, "GET", "/app.js", NULL, &h);
    assert_int_equal(h.status, 200);
    assert_http_header(&h, "content-type: text/javascript");
    assert_int_equal(h.body_len, BIG);
    assert_memory_equal(h.body, big, BIG);
    /* a small one sent with its headers */
    raw_http_get(port, "GET", "/style.css", NULL, &h);
    assert_int_equal(h.status, 200);
    assert_http_header(&h, "content-type: text/css");
    assert_int_equal(h.body_len, sizeof css - 1);
    assert_memory_equal(h.body, css, sizeof css - 1);
    raw_http_get(port, "HEAD", "/app.js", NULL, &h);
    assert_int_equal(h.status, 200);
    char cl[64];
    snprintf(cl, sizeof cl, "content-length: %u", BIG);
    assert_http_header(&h, cl);
    raw_http_get(port, "GET", "/", NULL, &h);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.body_len, sizeof page - 1);
    raw_http_get(port, "GET", "/app.js/", NULL, &h);
    assert_int_equal(h.status, 404);
    hermes_server_destroy(srv);
    hermes_backplane_destroy(bp);
    assert_false(shm_exists(name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_assets_table_served_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
