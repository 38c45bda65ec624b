/* Encoder cost: ns per telemetry frame for 1,000 and 10,000 signals, beside a
 * plain indexed gather of the same values (out[i] = src[idx[i]]) in the same
 * run. Prints figures; asserts nothing. Target: encode <= 1.5x the gather. */
#include <hermes/hermes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile double sink;

static int run(uint32_t n, bool shuffled)
{
    hermes_signal_spec_t *specs = calloc(n, sizeof *specs);
    char (*names)[16] = calloc(n, sizeof *names);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "s%u", i);
        specs[i] = (hermes_signal_spec_t){"m", names[i], HERMES_TYPE_F64, "", false, (double)i};
    }
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.signals = specs;
    bc.signal_count = n;
    hermes_backplane_t *bp = NULL;
    if (hermes_backplane_create(&bp, &bc) != 0) {
        fprintf(stderr, "backplane: %s\n", hermes_last_error());
        return 1;
    }
    uint32_t *idx = malloc(n * sizeof *idx);
    for (uint32_t i = 0; i < n; i++)
        idx[i] = i;
    if (shuffled) {
        srand(42);
        for (uint32_t i = n - 1; i > 0; i--) {
            uint32_t j = (uint32_t)rand() % (i + 1), t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
    }
    hermes_encoder_t *enc = NULL;
    hermes_encoder_create_indices(&enc, bp, idx, n);
    hermes_backplane_publish(bp, 1, 1000);
    size_t len = hermes_encoder_frame_size(enc);
    /* Same buffer layout as the server: LWS_PRE (16) bytes of headroom. */
    unsigned char *buf = aligned_alloc(64, (16 + len + 63) / 64 * 64);
    double *gather = aligned_alloc(64, ((size_t)n * 8 + 63) / 64 * 64);
    /* The source of the plain gather: a copy of the published values. */
    double *src = malloc((size_t)n * sizeof *src);
    for (uint32_t i = 0; i < n; i++)
        src[i] = (double)i;
    const int iters = n >= 10000 ? 20000 : 200000;
    double best_enc = 1e30, best_gat = 1e30;
    for (int round = 0; round < 7; round++) {
        double t0 = now_ns();
        for (int k = 0; k < iters; k++)
            hermes_encoder_encode(enc, buf + 16, len, NULL, NULL);
        double t1 = now_ns();
        for (int k = 0; k < iters; k++) {
            for (uint32_t i = 0; i < n; i++)
                gather[i] = src[idx[i]];
            __asm__ volatile("" : : "r"(gather) : "memory");
        }
        double t2 = now_ns();
        sink = buf[30] + gather[n / 2];
        double e = (t1 - t0) / iters, g = (t2 - t1) / iters;
        if (e < best_enc)
            best_enc = e;
        if (g < best_gat)
            best_gat = g;
    }
    printf("%6u signals %-10s encode %9.1f ns/frame (%5.2f ns/value)  gather %9.1f ns  ratio %.2fx\n", n,
           shuffled ? "shuffled" : "in order", best_enc, best_enc / n, best_gat, best_enc / best_gat);
    free(buf);
    free(gather);
    free(src);
    free(idx);
    hermes_encoder_destroy(enc);
    hermes_backplane_destroy(bp);
    free(specs);
    free(names);
    return 0;
}

int main(void)
{
    printf("bench_encode: best of 7 rounds; target encode <= 1.5x gather\n");
    int rc = 0;
    rc |= run(1000, false);
    rc |= run(1000, true);
    rc |= run(10000, false);
    rc |= run(10000, true);
    return rc;
}
