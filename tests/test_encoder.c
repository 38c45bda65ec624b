/* Telemetry encoder: binary layout, pattern expansion, errors, consistency. */
#include "test_util.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct fixture {
    hermes_backplane_t *bp;
    char                name[96];
};

/* plant: position.x (m), position.y (m), velocity (m/s), mass (writable)
 * ctrl:  cmd (writable, i32), enabled (bool)
 * plantx: z          -- shares a prefix with "plant" but is another module */
static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    hermes_signal_spec_t specs[] = {
        {"plant", "position.x", HERMES_TYPE_F64, "m", false, 1.5},
        {"plant", "position.y", HERMES_TYPE_F64, "m", false, -2.0},
        {"plant", "velocity", HERMES_TYPE_F64, "m/s", false, 0.25},
        {"plant", "mass", HERMES_TYPE_F64, "kg", true, 10.0},
        {"ctrl", "cmd", HERMES_TYPE_I32, "", true, 3},
        {"ctrl", "enabled", HERMES_TYPE_BOOL, "", false, 1},
        {"plantx", "z", HERMES_TYPE_F64, "", false, 7},
    };
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.run_name = test_run_name(f.name, sizeof f.name, "enc");
    bc.signals = specs;
    bc.signal_count = sizeof specs / sizeof specs[0];
    if (hermes_backplane_create(&f.bp, &bc) != 0)
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

static hermes_encoder_t *make(struct fixture *f, const char *const *p, size_t n)
{
    hermes_encoder_t *e = NULL;
    assert_hermes_ok(hermes_encoder_create(&e, f->bp, p, n));
    return e;
}

static void assert_names(hermes_encoder_t *e, const char *const *want, uint32_t n)
{
    assert_int_equal(hermes_encoder_count(e), n);
    for (uint32_t i = 0; i < n; i++)
        assert_string_equal(hermes_encoder_signal_name(e, i), want[i]);
    assert_null(hermes_encoder_signal_name(e, n));
}

static void test_encoder_roundtrip(void **state)
{
    struct fixture *f = *state;
    const char *p[] = {"plant.velocity", "plant.position.x", "ctrl.cmd"};
    hermes_encoder_t *e = make(f, p, 3);
    hermes_signal_t v;
    assert_hermes_ok(hermes_backplane_find(f->bp, "plant.velocity", &v));
    assert_hermes_ok(hermes_backplane_write(f->bp, v, 42.125));
    hermes_backplane_publish(f->bp, 7, 70000000u);  /* 0.07 s */

    _Alignas(8) unsigned char buf[256];
    size_t len = 0;
    uint64_t frame = 0;
    assert_int_equal(hermes_encoder_frame_size(e), 24 + 8 * 3);
    assert_hermes_ok(hermes_encoder_encode(e, buf, sizeof buf, &len, &frame));
    assert_int_equal(len, 48);
    assert_int_equal(frame, 7);
    /* raw little-endian layout, byte by byte */
    assert_int_equal(buf[0], 0x54);  /* 'T' */
    assert_int_equal(buf[1], 0x52);  /* 'R' */
    assert_int_equal(buf[2], 0x45);  /* 'E' */
    assert_int_equal(buf[3], 0x48);  /* 'H' */
    uint64_t fr = 0;
    for (int i = 7; i >= 0; i--)
        fr = (fr << 8) | buf[4 + i];
    assert_int_equal(fr, 7);
    uint32_t cnt = (uint32_t)buf[20] | (uint32_t)buf[21] << 8 | (uint32_t)buf[22] << 16 | (uint32_t)buf[23] << 24;
    assert_int_equal(cnt, 3);

    hermes_telemetry_header_t h;
    assert_hermes_ok(hermes_telemetry_decode_header(buf, len, &h));
    assert_int_equal(h.magic, HERMES_TELEMETRY_MAGIC);
    assert_int_equal(h.frame, 7);
    assert_true(fabs(h.time - 0.07) < 1e-12);
    assert_int_equal(h.count, 3);
    assert_true(hermes_telemetry_value(buf, 0) == 42.125);
    assert_true(hermes_telemetry_value(buf, 1) == 1.5);
    assert_true(hermes_telemetry_value(buf, 2) == 3.0);
    hermes_encoder_destroy(e);
}

static void test_encoder_unpublished_write_not_visible(void **state)
{
    struct fixture *f = *state;
    const char *p[] = {"plant.mass"};
    hermes_encoder_t *e = make(f, p, 1);
    hermes_signal_t m;
    assert_hermes_ok(hermes_backplane_find(f->bp, "plant.mass", &m));
    hermes_backplane_publish(f->bp, 1, 0);
    assert_hermes_ok(hermes_backplane_write(f->bp, m, 99.0));  /* live only */
    _Alignas(8) unsigned char buf[64];
    assert_hermes_ok(hermes_encoder_encode(e, buf, sizeof buf, NULL, NULL));
    assert_true(hermes_telemetry_value(buf, 0) == 10.0);
    hermes_backplane_publish(f->bp, 2, 0);
    assert_hermes_ok(hermes_encoder_encode(e, buf, sizeof buf, NULL, NULL));
    assert_true(hermes_telemetry_value(buf, 0) == 99.0);
    assert_hermes_ok(hermes_backplane_write(f->bp, m, 10.0));
    hermes_backplane_publish(f->bp, 3, 0);
    hermes_encoder_destroy(e);
}

static void test_encoder_empty_list(void **state)
{
    struct fixture *f = *state;
    hermes_encoder_t *e = make(f, NULL, 0);
    assert_int_equal(hermes_encoder_count(e), 0);
    assert_int_equal(hermes_encoder_frame_size(e), 24);
    unsigned char buf[24];
    size_t len = 0;
    assert_hermes_ok(hermes_encoder_encode(e, buf, sizeof buf, &len, NULL));
    assert_int_equal(len, 24);
    hermes_telemetry_header_t h;
    assert_hermes_ok(hermes_telemetry_decode_header(buf, len, &h));
    assert_int_equal(h.count, 0);
    hermes_encoder_destroy(e);
}

static void test_encoder_star(void **state)
{
    struct fixture *f = *state;
    const char *p[] = {"*"};
    hermes_encoder_t *e = make(f, p, 1);
    const char *want[] = {"plant.position.x", "plant.position.y", "plant.velocity", "plant.mass",
                          "ctrl.cmd", "ctrl.enabled", "plantx.z"};
    assert_names(e, want, 7);
    hermes_encoder_destroy(e);
}

static void test_encoder_module_pattern(void **state)
{
    struct fixture *f = *state;
    const char *p[] = {"ctrl.*"};
    hermes_encoder_t *e = make(f, p, 1);
    const char *want[] = {"ctrl.cmd", "ctrl.enabled"};
    assert_names(e, want, 2);
    hermes_encoder_destroy(e);
    /* "plant.*" must not pick up module "plantx" */
    const char *p2[] = {"plant.*"};
    e = make(f, p2, 1);
    const char *want2[] = {"plant.position.x", "plant.position.y", "plant.velocity", "plant.mass"};
    assert_names(e, want2, 4);
    hermes_encoder_destroy(e);
    /* a dotted prefix inside a module */
    const char *p3[] = {"plant.position.*"};
    e = make(f, p3, 1);
    const char *want3[] = {"plant.position.x", "plant.position.y"};
    assert_names(e, want3, 2);
    hermes_encoder_destroy(e);
}

static void test_encoder_combined_dedup_keeps_first(void **state)
{
    struct fixture *f = *state;
    const char *p[] = {"ctrl.enabled", "plant.velocity", "ctrl.*", "*", "plant.velocity"};
    hermes_encoder_t *e = make(f, p, 5);
    const char *want[] = {"ctrl.enabled", "plant.velocity", "ctrl.cmd", "plant.position.x", "plant.position.y",
                          "plant.mass", "plantx.z"};
    assert_names(e, want, 7);
    /* values follow the same order */
    hermes_signal_t v;
    assert_hermes_ok(hermes_backplane_find(f->bp, "plant.velocity", &v));
    assert_hermes_ok(hermes_backplane_write(f->bp, v, 0.25));
    hermes_backplane_publish(f->bp, 10, 0);
    _Alignas(8) unsigned char buf[24 + 8 * 7];
    assert_hermes_ok(hermes_encoder_encode(e, buf, sizeof buf, NULL, NULL));
    const double vals[] = {1, 0.25, 3, 1.5, -2.0, 10.0, 7};
    for (uint32_t i = 0; i < 7; i++)
        assert_true(hermes_telemetry_value(buf, i) == vals[i]);
    hermes_encoder_destroy(e);
}

static void expect_error(struct fixture *f, const char *pat, int code, const char *needle)
{
    hermes_encoder_t *e = (hermes_encoder_t *)&e;  /* must become NULL */
    const char *p[] = {"plant.velocity", pat};
    assert_hermes_rc(hermes_encoder_create(&e, f->bp, p, 2), code);
    assert_null(e);
    assert_contains(hermes_last_error(), needle);
}

static void test_encoder_errors_name_the_pattern(void **state)
{
    struct fixture *f = *state;
    expect_error(f, "plant.nope", HERMES_ENOENT, "unknown signal 'plant.nope'");
    expect_error(f, "nomodule.*", HERMES_ENOENT, "pattern 'nomodule.*' matches no signal");
    expect_error(f, "plan.*", HERMES_ENOENT, "'plan.*'");
    expect_error(f, "plant", HERMES_ENOENT, "unknown signal 'plant'");
    expect_error(f, "pl*nt.x", HERMES_EINVAL, "unsupported pattern 'pl*nt.x'");
    expect_error(f, "plant*", HERMES_EINVAL, "unsupported pattern 'plant*'");
    expect_error(f, "**", HERMES_EINVAL, "unsupported pattern '**'");
    expect_error(f, ".*", HERMES_EINVAL, "unsupported pattern '.*'");
    expect_error(f, "", HERMES_EINVAL, "empty signal pattern");
}

static void test_encoder_bad_arguments(void **state)
{
    struct fixture *f = *state;
    hermes_encoder_t *e = NULL;
    assert_hermes_rc(hermes_encoder_create(NULL, f->bp, NULL, 0), HERMES_EINVAL);
    assert_hermes_rc(hermes_encoder_create(&e, NULL, NULL, 0), HERMES_EINVAL);
    assert_hermes_rc(hermes_encoder_create(&e, f->bp, NULL, 1), HERMES_EINVAL);
    const char *p[] = {NULL};
    assert_hermes_rc(hermes_encoder_create(&e, f->bp, p, 1), HERMES_EINVAL);
    uint32_t bad[] = {0, 99};
    assert_hermes_rc(hermes_encoder_create_indices(&e, f->bp, bad, 2), HERMES_EINVAL);
    assert_null(e);
    uint32_t good[] = {6, 0};
    assert_hermes_ok(hermes_encoder_create_indices(&e, f->bp, good, 2));
    assert_string_equal(hermes_encoder_signal_name(e, 0), "plantx.z");
    unsigned char small[39];
    assert_hermes_rc(hermes_encoder_encode(e, small, sizeof small, NULL, NULL), HERMES_EINVAL);
    assert_hermes_rc(hermes_encoder_encode(e, NULL, 100, NULL, NULL), HERMES_EINVAL);
    assert_hermes_rc(hermes_encoder_encode(NULL, small, sizeof small, NULL, NULL), HERMES_EINVAL);
    hermes_encoder_destroy(e);
    hermes_encoder_destroy(NULL);
}

static void test_encoder_misaligned_buffer(void **state)
{
    struct fixture *f = *state;
    const char *p[] = {"plant.position.y", "plantx.z"};
    hermes_encoder_t *e = make(f, p, 2);
    hermes_backplane_publish(f->bp, 11, 0);
    _Alignas(8) unsigned char raw[24 + 16 + 3];
    for (size_t off = 1; off < 4; off++) {
        size_t len = 0;
        assert_hermes_ok(hermes_encoder_encode(e, raw + off, sizeof raw - off, &len, NULL));
        hermes_telemetry_header_t h;
        assert_hermes_ok(hermes_telemetry_decode_header(raw + off, len, &h));
        assert_int_equal(h.frame, 11);
        assert_true(hermes_telemetry_value(raw + off, 0) == -2.0);
        assert_true(hermes_telemetry_value(raw + off, 1) == 7.0);
    }
    hermes_encoder_destroy(e);
}

static void test_encoder_decode_rejects(void **state)
{
    (void)state;
    unsigned char buf[40] = {0};
    hermes_telemetry_header_t h;
    assert_hermes_rc(hermes_telemetry_decode_header(buf, 10, &h), HERMES_EINVAL);
    assert_hermes_rc(hermes_telemetry_decode_header(buf, 24, &h), HERMES_EINVAL);  /* magic 0 */
    assert_contains(hermes_last_error(), "magic");
    buf[0] = 0x54, buf[1] = 0x52, buf[2] = 0x45, buf[3] = 0x48;
    buf[20] = 2;  /* count 2 needs 40 bytes */
    assert_hermes_rc(hermes_telemetry_decode_header(buf, 32, &h), HERMES_EINVAL);
    assert_hermes_ok(hermes_telemetry_decode_header(buf, 40, &h));
    assert_hermes_rc(hermes_telemetry_decode_header(NULL, 40, &h), HERMES_EINVAL);
}

/* A writer publishes frames in which every value equals the frame number; a
 * torn frame would show two different numbers or disagree with the header. */
struct torn {
    hermes_backplane_t *bp;
    _Atomic int         stop;
    uint64_t            published;
};

static void *writer(void *arg)
{
    struct torn *t = arg;
    uint32_t n = hermes_backplane_count(t->bp);
    uint64_t f = 100;
    while (!atomic_load(&t->stop)) {
        f++;
        for (uint32_t i = 0; i < n; i++) {
            hermes_signal_info_t in;
            hermes_backplane_info(t->bp, i, &in);
            double *slot = hermes_backplane_slot(t->bp, in.id);
            *slot = (double)f;
        }
        hermes_backplane_publish(t->bp, f, f * 1000u);
    }
    t->published = f;
    return NULL;
}

static void test_encoder_never_torn(void **state)
{
    (void)state;
    char name[96];
    enum { N = 2000 };
    hermes_signal_spec_t *specs = calloc(N, sizeof *specs);
    char (*names)[16] = calloc(N, sizeof *names);
    assert_non_null(specs);
    assert_non_null(names);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        specs[i] = (hermes_signal_spec_t){"m", names[i], HERMES_TYPE_F64, "", false, 0};
    }
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.run_name = test_run_name(name, sizeof name, "torn");
    bc.signals = specs;
    bc.signal_count = N;
    struct torn t = {NULL, 0, 0};
    assert_hermes_ok(hermes_backplane_create(&t.bp, &bc));
    const char *p[] = {"*"};
    hermes_encoder_t *e = NULL;
    assert_hermes_ok(hermes_encoder_create(&e, t.bp, p, 1));
    size_t cap = hermes_encoder_frame_size(e);
    unsigned char *buf = aligned_alloc(64, (cap + 63) / 64 * 64);
    pthread_t th;
    pthread_create(&th, NULL, writer, &t);
    unsigned bad = 0, ok = 0, again = 0;
    uint64_t last = 0;
    bool monotonic = true;
    double t0 = test_now();
    while (test_now() - t0 < 0.5) {
        int rc = hermes_encoder_encode(e, buf, cap, NULL, NULL);
        if (rc == HERMES_EAGAIN) {
            again++;
            continue;
        }
        hermes_telemetry_header_t h;
        if (rc || hermes_telemetry_decode_header(buf, cap, &h) != 0) {
            bad++;
            continue;
        }
        for (uint32_t i = 0; i < h.count; i++)
            if (hermes_telemetry_value(buf, i) != (double)h.frame && h.frame != 0) {
                bad++;
                break;
            }
        if (h.frame < last)
            monotonic = false;
        last = h.frame;
        ok++;
    }
    atomic_store(&t.stop, 1);
    pthread_join(th, NULL);
    free(buf);
    hermes_encoder_destroy(e);
    hermes_backplane_destroy(t.bp);
    free(specs);
    free(names);
    assert_int_equal(bad, 0);
    assert_true(monotonic);
    assert_true(ok > 100);
    assert_true(t.published > 1000);  /* the writer really ran concurrently */
    (void)again;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder_roundtrip),
        cmocka_unit_test(test_encoder_unpublished_write_not_visible),
        cmocka_unit_test(test_encoder_empty_list),
        cmocka_unit_test(test_encoder_star),
        cmocka_unit_test(test_encoder_module_pattern),
        cmocka_unit_test(test_encoder_combined_dedup_keeps_first),
        cmocka_unit_test(test_encoder_errors_name_the_pattern),
        cmocka_unit_test(test_encoder_bad_arguments),
        cmocka_unit_test(test_encoder_misaligned_buffer),
        cmocka_unit_test(test_encoder_decode_rejects),
        cmocka_unit_test(test_encoder_never_torn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
