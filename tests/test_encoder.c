/* Telemetry encoder: binary layout, pattern expansion, errors, every type and
 * edge value, byte-for-byte agreement with a reference encoding, consistency. */
#include "test_util.h"

#include <float.h>
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

/* Backplane of @p n signals of the types f64, f32, i64, i32, bool in turn,
 * each holding a distinct value that fits its type. */
static hermes_backplane_t *typed_backplane(char *name, size_t cap, uint32_t n)
{
    static const hermes_type_t types[] = {HERMES_TYPE_F64, HERMES_TYPE_F32, HERMES_TYPE_I64, HERMES_TYPE_I32,
                                          HERMES_TYPE_BOOL};
    hermes_signal_spec_t *specs = calloc(n, sizeof *specs);
    char (*names)[16] = calloc(n, sizeof *names);
    assert_non_null(specs);
    assert_non_null(names);
    for (uint32_t i = 0; i < n; i++) {
        hermes_type_t t = types[i % 5];
        snprintf(names[i], sizeof names[i], "s%u", i);
        double v = t == HERMES_TYPE_BOOL ? (double)(i / 5 % 2)
                   : t == HERMES_TYPE_F64 ? (double)i * 1.25 + 0.1
                   : t == HERMES_TYPE_F32 ? (double)i * 0.5
                                          : -(double)i;
        specs[i] = (hermes_signal_spec_t){i < n / 2 ? "a" : "b", names[i], t, "", false, v};
    }
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.run_name = test_run_name(name, cap, "enctyp");
    bc.signals = specs;
    bc.signal_count = n;
    hermes_backplane_t *bp = NULL;
    assert_hermes_ok(hermes_backplane_create(&bp, &bc));
    free(specs);
    free(names);
    return bp;
}

static void write_value(hermes_backplane_t *bp, uint32_t index, double v)
{
    hermes_signal_info_t in;
    assert_hermes_ok(hermes_backplane_info(bp, index, &in));
    assert_hermes_ok(hermes_backplane_write(bp, in.id, v));
}

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* Every type with its edge values (non-finite, signed zero, subnormal,
 * integer range ends, bool) comes back bit for bit. */
static void test_encoder_every_type_and_edge_value(void **state)
{
    (void)state;
    char name[96];
    hermes_backplane_t *bp = typed_backplane(name, sizeof name, 25);
    /* slot i has type (f64, f32, i64, i32, bool)[i % 5] */
    const double want[25] = {
        NAN, FLT_MAX, -9223372036854775808.0, -2147483648.0, 0,
        INFINITY, -FLT_MAX, 9223372036854775808.0 /* 2^63: INT64_MAX as a double */, 2147483647.0, 1,
        -INFINITY, FLT_MIN, 9007199254740993.0 /* 2^53 + 1 rounds to 2^53 */, -1, 0,
        -0.0, 1e-45 /* f32 subnormal range */, -9007199254740992.0, 0, 1,
        DBL_MIN / 4 /* subnormal */, -0.0, 0, -0.0, 0,
    };
    for (uint32_t i = 0; i < 25; i++)
        write_value(bp, i, want[i]);
    hermes_backplane_publish(bp, 42, 1500000000u);
    const char *p[] = {"*"};
    hermes_encoder_t *e = NULL;
    assert_hermes_ok(hermes_encoder_create(&e, bp, p, 1));
    _Alignas(8) unsigned char buf[24 + 8 * 25 + 8];
    for (size_t off = 0; off < 8; off += 3) {  /* aligned and not */
        size_t len = 0;
        uint64_t frame = 0;
        assert_hermes_ok(hermes_encoder_encode(e, buf + off, sizeof buf - off, &len, &frame));
        assert_int_equal(len, 24 + 8 * 25);
        assert_int_equal(frame, 42);
        hermes_telemetry_header_t h;
        assert_hermes_ok(hermes_telemetry_decode_header(buf + off, len, &h));
        assert_int_equal(h.frame, 42);
        assert_true(h.time == 1.5);
        assert_int_equal(h.count, 25);
        for (uint32_t i = 0; i < 25; i++) {
            double got = hermes_telemetry_value(buf + off, i);
            if (bits(got) != bits(want[i]) && !(isnan(got) && isnan(want[i])))
                fail_msg("value %u: got %.17g (0x%016llx), want %.17g", i, got, (unsigned long long)bits(got),
                         want[i]);
        }
    }
    hermes_encoder_destroy(e);
    hermes_backplane_destroy(bp);
}

/* Straightforward reference encoding: one snapshot, then every field written
 * byte by byte in little-endian order. */
static void reference_encode(const hermes_backplane_t *bp, const uint32_t *idx, uint32_t n, unsigned char *out)
{
    double *vals = malloc((n ? n : 1) * sizeof *vals);
    assert_non_null(vals);
    uint64_t frame = 0, t = 0;
    assert_hermes_ok(hermes_backplane_snapshot(bp, idx, n, vals, &frame, &t));
    uint64_t fields[3] = {HERMES_TELEMETRY_MAGIC, frame, bits((double)t * 1e-9)};
    for (int i = 0; i < 4; i++)
        out[i] = (unsigned char)(fields[0] >> (8 * i));
    for (int i = 0; i < 8; i++) {
        out[4 + i] = (unsigned char)(fields[1] >> (8 * i));
        out[12 + i] = (unsigned char)(fields[2] >> (8 * i));
    }
    for (int i = 0; i < 4; i++)
        out[20 + i] = (unsigned char)(n >> (8 * i));
    for (uint32_t k = 0; k < n; k++)
        for (int i = 0; i < 8; i++)
            out[24 + 8 * k + i] = (unsigned char)(bits(vals[k]) >> (8 * i));
    free(vals);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint32_t rnd(uint32_t bound)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % bound);
}

/* Fill idx with one of several shapes of index set; returns the count. */
static uint32_t random_indices(uint32_t *idx, uint32_t total, unsigned shape)
{
    uint32_t n = 0;
    switch (shape % 7) {
    case 0: /* one signal */
        idx[n++] = rnd(total);
        break;
    case 1: /* all signals in order */
        for (uint32_t i = 0; i < total; i++)
            idx[n++] = i;
        break;
    case 2: { /* all signals shuffled */
        for (uint32_t i = 0; i < total; i++)
            idx[n++] = i;
        for (uint32_t i = total - 1; i > 0; i--) {
            uint32_t j = rnd(i + 1), t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        break;
    }
    case 3: /* sorted subset with gaps */
        for (uint32_t i = 0; i < total; i++)
            if (rnd(3) == 0)
                idx[n++] = i;
        break;
    case 4: /* runs of 1..40 consecutive slots at random places (around the memcpy threshold) */
    case 5: {
        uint32_t want = 1 + rnd(2 * total);
        while (n < want) {
            uint32_t len = 1 + rnd(40), start = rnd(total);
            for (uint32_t k = 0; k < len && start + k < total && n < want; k++)
                idx[n++] = start + k;
        }
        break;
    }
    default: /* random picks, duplicates allowed */
        n = 1 + rnd(2 * total);
        for (uint32_t i = 0; i < n; i++)
            idx[i] = rnd(total);
        break;
    }
    return n;
}

/* The encoder's output equals the reference encoding byte for byte for many
 * random index sets, at every buffer alignment. */
static void test_encoder_matches_reference_encoding(void **state)
{
    (void)state;
    char name[96];
    enum { TOTAL = 301 };
    hermes_backplane_t *bp = typed_backplane(name, sizeof name, TOTAL);
    write_value(bp, 0, NAN);
    write_value(bp, 5, -INFINITY);
    write_value(bp, 10, -0.0);
    hermes_backplane_publish(bp, 123456789012345u, 987654321u);
    uint32_t *idx = malloc(2 * TOTAL * sizeof *idx);
    unsigned char *got = malloc(24 + 16 * TOTAL + 8), *want = malloc(24 + 16 * TOTAL);
    assert_non_null(idx);
    assert_non_null(got);
    assert_non_null(want);
    for (unsigned iter = 0; iter < 1400; iter++) {
        uint32_t n = random_indices(idx, TOTAL, iter);
        hermes_encoder_t *e = NULL;
        assert_hermes_ok(hermes_encoder_create_indices(&e, bp, idx, n));
        assert_int_equal(hermes_encoder_count(e), n);
        assert_memory_equal(hermes_encoder_indices(e), idx, n * sizeof *idx);
        size_t off = iter % 8, len = 0;
        memset(got, 0xAB, 24 + 16 * TOTAL + 8);
        assert_hermes_ok(hermes_encoder_encode(e, got + off, HERMES_TELEMETRY_FRAME_SIZE(n), &len, NULL));
        assert_int_equal(len, HERMES_TELEMETRY_FRAME_SIZE(n));
        reference_encode(bp, idx, n, want);
        if (memcmp(got + off, want, len) != 0)
            fail_msg("iteration %u (shape %u, %u values, offset %zu): encoder output differs", iter, iter % 7, n,
                     off);
        /* nothing written outside the frame */
        for (size_t k = 0; k < off; k++)
            assert_int_equal(got[k], 0xAB);
        assert_int_equal(got[off + len], 0xAB);
        hermes_encoder_destroy(e);
    }
    free(idx);
    free(got);
    free(want);
    hermes_backplane_destroy(bp);
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
    /* "*" is one run; the second encoder mixes long runs, short runs and
     * scattered slots, so both copy paths run against the writer. */
    const char *p[] = {"*"};
    hermes_encoder_t *encs[2] = {NULL, NULL};
    assert_hermes_ok(hermes_encoder_create(&encs[0], t.bp, p, 1));
    uint32_t *mix = malloc(N * sizeof *mix);
    assert_non_null(mix);
    uint32_t nmix = 0;
    for (uint32_t i = 0; i < 500; i++)           /* a long run */
        mix[nmix++] = 1000 + i;
    for (uint32_t i = 0; i < 300; i++)           /* scattered */
        mix[nmix++] = (i * 7919u) % N;
    for (uint32_t i = 0; i < 200; i += 20)       /* short runs of 5 */
        for (uint32_t k = 0; k < 5; k++)
            mix[nmix++] = i + k;
    assert_hermes_ok(hermes_encoder_create_indices(&encs[1], t.bp, mix, nmix));
    free(mix);
    size_t cap = hermes_encoder_frame_size(encs[0]);
    unsigned char *buf = aligned_alloc(64, (cap + 63) / 64 * 64);
    pthread_t th;
    pthread_create(&th, NULL, writer, &t);
    unsigned bad = 0, ok = 0, again = 0;
    uint64_t last = 0;
    bool monotonic = true;
    double t0 = test_now();
    uint64_t last_mix = 0;
    while (test_now() - t0 < 0.5) {
        unsigned which = (ok + bad + again) & 1;
        hermes_encoder_t *e = encs[which];
        size_t len = 0;
        int rc = hermes_encoder_encode(e, buf, cap, &len, NULL);
        if (rc == HERMES_EAGAIN) {
            again++;
            continue;
        }
        hermes_telemetry_header_t h;
        if (rc || hermes_telemetry_decode_header(buf, len, &h) != 0 || h.count != hermes_encoder_count(e)) {
            bad++;
            continue;
        }
        for (uint32_t i = 0; i < h.count; i++)
            if (hermes_telemetry_value(buf, i) != (double)h.frame && h.frame != 0) {
                bad++;
                break;
            }
        uint64_t *prev = which ? &last_mix : &last;
        if (h.frame < *prev)
            monotonic = false;
        *prev = h.frame;
        ok++;
    }
    atomic_store(&t.stop, 1);
    pthread_join(th, NULL);
    free(buf);
    hermes_encoder_destroy(encs[0]);
    hermes_encoder_destroy(encs[1]);
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
        cmocka_unit_test(test_encoder_every_type_and_edge_value),
        cmocka_unit_test(test_encoder_matches_reference_encoding),
        cmocka_unit_test(test_encoder_never_torn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
