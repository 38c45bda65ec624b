/* Campaign draws: Philox known answers, the portable logarithm, distributions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include <hermes/hermes.h>

/* Random123 kat_vectors, "philox4x32 10" lines: counter, key, expected. */
static void test_campaign_philox_known_answers(void **state)
{
    (void)state;
    static const struct { uint32_t ctr[4], key[2], want[4]; } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t out[4];
        hermes_philox4x32(kat[i].ctr, kat[i].key, out);
        for (int j = 0; j < 4; j++)
            assert_int_equal(out[j], kat[i].want[j]);
    }
}

static double ulps(double a, double b)
{
    return fabs(a - b) / (nextafter(fabs(b), INFINITY) - fabs(b));
}

static void test_campaign_portable_log(void **state)
{
    (void)state;
    double worst = 0;
    for (uint32_t i = 0; i < 200000; i++) {
        double u = hermes_campaign_uniform(7, i, 9, 0, 0);
        double x = i % 3 == 0 ? u : i % 3 == 1 ? 1.0 + u : ldexp(u, (int)(i % 200) - 100);
        if (x == 0 || x == 1.0)
            continue;
        double e = ulps(hermes_portable_log(x), log(x));
        if (e > worst)
            worst = e;
    }
    assert_true(worst <= 2.0);
    assert_true(hermes_portable_log(1.0) == 0.0);
    assert_true(fabs(hermes_portable_log(2.0) - M_LN2) <= 1e-16);
    assert_true(fabs(hermes_portable_log(5e-320) - log(5e-320)) <= 1e-12);   /* subnormal */
    assert_true(isnan(hermes_portable_log(-1.0)));
    assert_true(isinf(hermes_portable_log(0.0)) && hermes_portable_log(0.0) < 0);
}

/* Pinned values: the transforms must never change silently (a change would
 * make old campaigns unreproducible). */
static void test_campaign_pinned_values(void **state)
{
    (void)state;
    hermes_distribution_t d;
    hermes_distribution_init(&d);
    d.kind = HERMES_DIST_NORMAL;
    d.p1 = 0;
    d.p2 = 1;
    double x, y;
    assert_int_equal(hermes_campaign_draw(42, 7, 1, &d, &x), 0);
    assert_int_equal(hermes_campaign_draw(42, 7, 1, &d, &y), 0);
    assert_true(memcmp(&x, &y, sizeof x) == 0);
    assert_int_equal(hermes_campaign_draw(42, 8, 1, &d, &y), 0);
    assert_true(x != y);
    assert_int_equal(hermes_campaign_draw(42, 7, 2, &d, &y), 0);
    assert_true(x != y);
    assert_int_equal(hermes_campaign_draw(43, 7, 1, &d, &y), 0);
    assert_true(x != y);
    assert_true(hermes_campaign_run_seed(42, 7) != hermes_campaign_run_seed(42, 8));
    assert_true(hermes_campaign_run_seed(42, 7) == hermes_campaign_run_seed(42, 7));
    /* The run seed is the first word of Philox(key = seed, counter = (run, 0, 0, 0)). */
    uint32_t o[4];
    hermes_philox4x32((const uint32_t[4]){7, 0, 0, 0}, (const uint32_t[2]){42, 0}, o);
    assert_true(hermes_campaign_run_seed(42, 7) == ((uint64_t)o[1] << 32 | o[0]));
    assert_true(hermes_campaign_uniform(42, 7, 0, 0, 0) == (double)(((uint64_t)o[1] << 32 | o[0]) >> 11) * 0x1p-53);
    assert_true(hermes_campaign_run_seed(42, 7) == 0x68784c855bbd83b1ull);
    /* Standard normal draws of runs 0..2, stream 1, seed 42, exactly. */
    static const double pinned[] = {-0x1.5b65a6a8adca3p-1, -0x1.6772f37498d1p-2, -0x1.a3ffbc0d26abdp-1};
    for (uint64_t r = 0; r < 3; r++) {
        assert_int_equal(hermes_campaign_draw(42, r, 1, &d, &x), 0);
        assert_true(memcmp(&x, &pinned[r], sizeof x) == 0);
    }
}

static void moments(const hermes_distribution_t *d, uint32_t n, double *mean, double *sd, double *lo, double *hi)
{
    double s = 0, s2 = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        double x;
        assert_int_equal(hermes_campaign_draw(2026, i, 3, d, &x), 0);
        s += x;
        s2 += x * x;
        if (x < *lo) *lo = x;
        if (x > *hi) *hi = x;
    }
    *mean = s / n;
    *sd = sqrt(s2 / n - *mean * *mean);
}

static void test_campaign_distributions(void **state)
{
    (void)state;
    const uint32_t n = 100000;
    double m, sd, lo, hi;
    hermes_distribution_t d;
    hermes_distribution_init(&d);
    d.kind = HERMES_DIST_NORMAL;
    d.p1 = 30000;
    d.p2 = 300;
    moments(&d, n, &m, &sd, &lo, &hi);
    assert_true(fabs(m - 30000) < 5 * 300 / sqrt(n));
    assert_true(fabs(sd - 300) < 0.02 * 300);
    assert_true(lo < 30000 - 3 * 300 && hi > 30000 + 3 * 300);

    d.truncated = true;
    d.min = 29800;
    d.max = 30500;
    moments(&d, n, &m, &sd, &lo, &hi);
    assert_true(lo >= 29800 && hi <= 30500);
    assert_true(lo < 29810 && hi > 30490);

    hermes_distribution_init(&d);
    d.kind = HERMES_DIST_UNIFORM;
    d.p1 = -2;
    d.p2 = 6;
    moments(&d, n, &m, &sd, &lo, &hi);
    assert_true(fabs(m - 2) < 5 * 8 / sqrt(12.0 * n));
    assert_true(fabs(sd - 8 / sqrt(12.0)) < 0.02);
    assert_true(lo >= -2 && hi < 6);

    static const double vals[] = {1, 2, 5};
    hermes_distribution_init(&d);
    d.kind = HERMES_DIST_CHOICE;
    d.values = vals;
    d.value_count = 3;
    uint32_t count[3] = {0};
    for (uint32_t i = 0; i < 30000; i++) {
        double x;
        assert_int_equal(hermes_campaign_draw(1, i, 1, &d, &x), 0);
        count[x == 1 ? 0 : x == 2 ? 1 : 2]++;
        assert_true(x == 1 || x == 2 || x == 5);
    }
    for (int k = 0; k < 3; k++)
        assert_true(count[k] > 9500 && count[k] < 10500);
}

static void test_campaign_errors(void **state)
{
    (void)state;
    hermes_distribution_t d;
    double x;
    memset(&d, 0, sizeof d);
    d.kind = HERMES_DIST_UNIFORM;
    assert_int_equal(hermes_campaign_draw(1, 0, 1, &d, &x), HERMES_EINVAL);   /* not initialised */
    hermes_distribution_init(&d);
    assert_int_equal(hermes_distribution_check(&d), HERMES_EINVAL);          /* kind none */
    d.kind = HERMES_DIST_UNIFORM;
    d.p1 = 2;
    d.p2 = 1;
    assert_int_equal(hermes_distribution_check(&d), HERMES_EINVAL);
    d.kind = HERMES_DIST_NORMAL;
    d.p1 = 0;
    d.p2 = -1;
    assert_int_equal(hermes_distribution_check(&d), HERMES_EINVAL);
    d.p2 = NAN;
    assert_int_equal(hermes_distribution_check(&d), HERMES_EINVAL);
    d.p2 = 1;
    d.truncated = true;
    d.min = 50;
    d.max = 51;   /* 50 sigma away: never drawn */
    assert_int_equal(hermes_campaign_draw(1, 0, 1, &d, &x), HERMES_ERANGE);
    assert_non_null(strstr(hermes_last_error(), "too improbable"));
    d.kind = HERMES_DIST_CHOICE;
    assert_int_equal(hermes_distribution_check(&d), HERMES_EINVAL);
    assert_int_equal(hermes_campaign_draw(1, 0, 1, NULL, &x), HERMES_EINVAL);
    assert_int_equal(hermes_campaign_draw(1, 0, 1, &d, NULL), HERMES_EINVAL);
}

/* ---- initial-value overrides and the run seed seen by inproc modules ---- */

struct seen {
    uint32_t has_seed;
    uint64_t seed;
    double   mass_at_stage;
    double  *mass;
};
static struct seen seen;

static int v2_init(void **state, const hermes_inproc_env_t *env)
{
    seen.has_seed = env->has_seed;
    seen.seed = env->seed;
    seen.mass = hermes_inproc_slot(env, "mass");
    *state = &seen;
    return seen.mass ? 0 : -1;
}
static int v2_stage(void *state)
{
    struct seen *s = state;
    s->mass_at_stage = *s->mass;
    return 0;
}
static int v2_step(void *state, uint64_t frame, double dt)
{
    (void)state;
    (void)frame;
    (void)dt;
    return 0;
}
static const hermes_inproc_module_t v2_table = {HERMES_INPROC_ABI_VERSION, 0, v2_init, v2_stage, v2_step, NULL, NULL, NULL, NULL, NULL};
/* A module built against ABI version 1 (no seed fields) still loads. */
static const hermes_inproc_module_t v1_table = {1u, 0, v2_init, v2_stage, v2_step, NULL, NULL, NULL, NULL, NULL};

static hermes_config_t *plant_config(const hermes_inproc_module_t *table)
{
    hermes_config_t *cfg;
    assert_int_equal(hermes_config_create(&cfg), 0);
    assert_int_equal(hermes_config_add_module(cfg, "plant", HERMES_MODULE_INPROC, NULL), 0);
    assert_int_equal(hermes_config_set_module_callbacks(cfg, "plant", table), 0);
    assert_int_equal(hermes_config_add_signal(cfg, "plant", "mass", HERMES_TYPE_F64, "kg", false, 100.0), 0);
    assert_int_equal(hermes_config_add_signal(cfg, "plant", "gear", HERMES_TYPE_I32, NULL, true, 1.0), 0);
    assert_int_equal(hermes_config_add_signal(cfg, "plant", "on", HERMES_TYPE_BOOL, NULL, true, 0.0), 0);
    return cfg;
}

static void run_plant(hermes_config_t *cfg)
{
    memset(&seen, 0, sizeof seen);
    assert_int_equal(hermes_config_validate(cfg, NULL), 0);
    hermes_scheduler_t *s;
    hermes_scheduler_options_t opt;
    hermes_scheduler_options_init(&opt);
    assert_int_equal(hermes_scheduler_create(&s, cfg, &opt), 0);
    assert_int_equal(hermes_scheduler_stage(s), 0);
    assert_int_equal(hermes_scheduler_step(s, 3, NULL), 0);
    hermes_scheduler_destroy(s);
}

static void test_campaign_set_initial_and_seed(void **state)
{
    (void)state;
    hermes_config_t *cfg = plant_config(&v2_table);
    uint64_t seed = 1;
    assert_int_equal(hermes_config_seed(cfg, &seed), HERMES_ENOENT);
    run_plant(cfg);
    assert_int_equal(seen.has_seed, 0);
    assert_true(seen.mass_at_stage == 100.0);

    /* Read-only signals take an initial value too; the module sees it at stage. */
    assert_int_equal(hermes_config_set_initial(cfg, "plant.mass", 123.25), 0);
    assert_int_equal(hermes_config_set_initial(cfg, "plant.gear", -4), 0);
    assert_int_equal(hermes_config_set_initial(cfg, "plant.on", 1), 0);
    assert_int_equal(hermes_config_set_seed(cfg, 0xfedcba9876543210ull), 0);
    assert_int_equal(hermes_config_seed(cfg, &seed), 0);
    assert_true(seed == 0xfedcba9876543210ull);
    run_plant(cfg);
    assert_int_equal(seen.has_seed, 1);
    assert_true(seen.seed == 0xfedcba9876543210ull);
    assert_true(seen.mass_at_stage == 123.25);
    hermes_signal_spec_t sp;
    assert_int_equal(hermes_config_signal(cfg, 0, 1, &sp), 0);
    assert_true(sp.initial == -4);

    /* The type rules of `initial:`; names must be qualified and exist. */
    assert_int_equal(hermes_config_set_initial(cfg, "plant.gear", 1.5), HERMES_ETYPE);
    assert_non_null(strstr(hermes_last_error(), "does not fit type i32"));
    assert_int_equal(hermes_config_set_initial(cfg, "plant.on", 2), HERMES_ETYPE);
    assert_int_equal(hermes_config_set_initial(cfg, "plant.mass", NAN), HERMES_ETYPE);
    assert_int_equal(hermes_config_set_initial(cfg, "plant.nothing", 1), HERMES_ENOENT);
    assert_int_equal(hermes_config_set_initial(cfg, "other.mass", 1), HERMES_ENOENT);
    assert_int_equal(hermes_config_set_initial(cfg, "mass", 1), HERMES_EINVAL);
    assert_int_equal(hermes_config_set_initial(cfg, "plant.", 1), HERMES_EINVAL);
    assert_int_equal(hermes_config_set_initial(NULL, "plant.mass", 1), HERMES_EINVAL);
    assert_int_equal(hermes_config_set_seed(NULL, 1), HERMES_EINVAL);
    assert_int_equal(hermes_config_seed(cfg, NULL), HERMES_EINVAL);
    hermes_config_destroy(cfg);

    /* ABI 1 tables load; versions outside 1..HERMES_INPROC_ABI_VERSION do not. */
    cfg = plant_config(&v1_table);
    assert_int_equal(hermes_config_set_seed(cfg, 5), 0);
    run_plant(cfg);
    assert_true(seen.mass_at_stage == 100.0);
    hermes_inproc_module_t bad = v2_table;
    bad.abi_version = 0;
    assert_int_equal(hermes_config_set_module_callbacks(cfg, "plant", &bad), HERMES_EABI);
    bad.abi_version = HERMES_INPROC_ABI_VERSION + 1;
    assert_int_equal(hermes_config_set_module_callbacks(cfg, "plant", &bad), HERMES_EABI);
    hermes_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_campaign_philox_known_answers),
        cmocka_unit_test(test_campaign_portable_log),
        cmocka_unit_test(test_campaign_pinned_values),
        cmocka_unit_test(test_campaign_distributions),
        cmocka_unit_test(test_campaign_errors),
        cmocka_unit_test(test_campaign_set_initial_and_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
