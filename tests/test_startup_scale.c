/* Start-up scales linearly: load + validate + scheduler create (backplane)
 * + stage of generated configs, 10x more signals (and 10x more wires) may
 * cost at most 30x the time (linear is 10x; a quadratic step gives ~100x).
 * The margin is wide because the large configs leave the caches: a clang
 * build on CI measured 16.5x for wires that are looked up in hash tables.
 * Ratios of CPU time (this process: being descheduled on a shared machine
 * does not count), measured interleaved in one run, best of 5; no absolute
 * times.
 * HERMES_SCALE_DIVISOR (default 1; the sanitizer builds set 8) divides the
 * sizes so the test stays within seconds under ASan. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <hermes/hermes.h>

#include "config_gen.h"

#define MAX_RATIO 30.0
#define ROUNDS 5

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint32_t divisor(void)
{
    const char *d = getenv("HERMES_SCALE_DIVISOR");
    unsigned long v = d ? strtoul(d, NULL, 10) : 1;
    return v ? (uint32_t)v : 1;
}

/* CPU seconds from text to a staged scheduler (frame 0 published); the
 * modules are injection modules, so no other process or thread does work. */
static double start(const char *text, size_t len)
{
    double t0 = now_s();
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    if (hermes_config_parse(&cfg, text, len, "gen.yaml", NULL, &err) != 0)
        fail_msg("parse: %s", err.message);
    hermes_scheduler_t *s = NULL;
    if (hermes_scheduler_create(&s, cfg, NULL) != 0 || hermes_scheduler_stage(s) != 0)
        fail_msg("scheduler: %s", hermes_last_error());
    double t = now_s() - t0;
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
    return t;
}

/* Best-of-ROUNDS time ratio of config b to config a, measured interleaved. */
static double ratio(uint32_t sig_a, uint32_t wire_a, uint32_t sig_b, uint32_t wire_b)
{
    size_t la, lb;
    char *a = gen_config(sig_a, wire_a, 2, &la), *b = gen_config(sig_b, wire_b, 2, &lb);
    assert_non_null(a);
    assert_non_null(b);
    double ta = 1e30, tb = 1e30;
    for (int i = 0; i < ROUNDS; i++) {
        double x = start(a, la), y = start(b, lb);
        ta = x < ta ? x : ta;
        tb = y < tb ? y : tb;
    }
    free(a);
    free(b);
    print_message("%u signals %u wires: %.1f ms CPU; %u signals %u wires: %.1f ms CPU; ratio %.2f (at most %.0f)\n",
                  sig_a, wire_a, ta * 1e3, sig_b, wire_b, tb * 1e3, tb / ta, MAX_RATIO);
    return tb / ta;
}

static void test_startup_scale_signals(void **state)
{
    (void)state;
    uint32_t d = divisor();
    double r = ratio(10000 / d, 0, 100000 / d, 0);
    if (r > MAX_RATIO)
        fail_msg("10x the signals took %.1fx the time (at most %.0fx): a lookup is not linear", r, MAX_RATIO);
}

/* Wires dominate: each wire drives its own writable signal (4 signals a wire). */
static void test_startup_scale_wires(void **state)
{
    (void)state;
    uint32_t d = divisor(), w = 1000 / d;
    double r = ratio(4 * w, w, 40 * w, 10 * w);
    if (r > MAX_RATIO)
        fail_msg("10x the wires took %.1fx the time (at most %.0fx): a lookup is not linear", r, MAX_RATIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_startup_scale_signals),
        cmocka_unit_test(test_startup_scale_wires),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
