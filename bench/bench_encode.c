/* Encoder cost: ns per telemetry frame for 1,000 and 10,000 signals beside the
 * gather limit measured in the same run. Prints figures; asserts nothing.
 *
 * The reference ("gather") is what any torn-free encoder must at least do: the
 * backplane's seqlock read (load seq, copy from the published copy seq & 1,
 * fence, check seq) around a plain gather out[i] = published[idx[i]] over the
 * SAME indices, writing to the very same addresses as the encoder. It links
 * the static core to reach the published copy (backplane/layout.h). The
 * gather loop exists in two forms, one value per iteration and four per
 * iteration, and the reference is the faster of the two in each round: a tiny
 * loop's speed depends on where the compiler happened to place it (on this
 * AMD machine a one-value loop straddling a 64-byte boundary runs at half
 * speed), and the reference must not be slowed by such luck.
 * Extra columns: the gather without the seqlock, and a memcpy of as many
 * contiguous values (the floor for an in-order subscription).
 *
 * Telemetry carries every declared type as the f64 the backplane stores
 * (docs/protocol.md), so there is no per-type conversion; the "mixed" rows use
 * a backplane of f64/f32/i64/i32/bool signals to show that.
 * Target (issue 13): encode <= 1.5x gather for 1,000 and 10,000 signals in a
 * release build. Rounds of about 0.3 ms per loop; the loops run in a rotating
 * order so a neighbour's load on the shared machine hits all alike; figures
 * are medians over the rounds and the ratio is the median of the per-round
 * ratios. */
#include <hermes/hermes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backplane/layout.h"

#ifndef HERMES_BUILD_TYPE
#define HERMES_BUILD_TYPE "unknown"
#endif
#ifndef HERMES_OPTIMIZATION
#define HERMES_OPTIMIZATION "?"
#endif
#ifndef HERMES_COMPILER
#define HERMES_COMPILER __VERSION__
#endif
#ifndef HERMES_C_ARGS
#define HERMES_C_ARGS ""
#endif

enum { ROUNDS = 101 };

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The plain gather in its two forms (see the top comment). Values are copied
 * as bits, like the encoder does (integer moves; no FP loads). */
__attribute__((noinline)) static void gather1(const double *pub, const uint32_t *idx, uint32_t n, double *out)
{
    for (uint32_t i = 0; i < n; i++)
        memcpy(&out[i], &pub[idx[i]], sizeof(double));
}

__attribute__((noinline)) static void gather4(const double *pub, const uint32_t *idx, uint32_t n, double *out)
{
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint64_t v[4];
        for (int k = 0; k < 4; k++)
            memcpy(&v[k], &pub[idx[i + k]], 8);
        memcpy(&out[i], v, sizeof v);
    }
    for (; i < n; i++)
        memcpy(&out[i], &pub[idx[i]], sizeof(double));
}

typedef void (*gather_fn)(const double *, const uint32_t *, uint32_t, double *);

/* The reference: the seqlock read of lib/backplane/backplane.c around a gather. */
__attribute__((noinline)) static int ref_gather(const hermes_backplane_t *bp, gather_fn g, const uint32_t *idx,
                                                uint32_t n, double *out, uint64_t *frame)
{
    struct hermes_shm_header *h = bp->hdr;
    for (;;) {
        uint64_t s1 = atomic_load_explicit(&h->seq, memory_order_acquire);
        g(bp->pub[s1 & 1], idx, n, out);
        uint64_t f = h->buf_frame[s1 & 1];
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&h->seq, memory_order_relaxed) == s1) {
            *frame = f;
            return 0;
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum order { IN_ORDER, SHUFFLED, EVERY_OTHER, BLOCKS };
static const char *const order_names[] = {"in order", "shuffled", "every 2nd", "blocks"};

static void make_indices(uint32_t *idx, uint32_t n, enum order o)
{
    for (uint32_t i = 0; i < n; i++)
        idx[i] = i;
    if (o == SHUFFLED) {
        srand(42);
        for (uint32_t i = n - 1; i > 0; i--) {
            uint32_t j = (uint32_t)rand() % (i + 1), t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
    } else if (o == EVERY_OTHER) {
        for (uint32_t i = 0; i < n; i++)
            idx[i] = 2 * i;  /* backplane has 2n signals */
    } else if (o == BLOCKS) {
        /* modules of 50 signals subscribed in reverse module order ("m9.*", "m8.*", ...) */
        uint32_t nb = n / 50;
        for (uint32_t b = 0; b < nb; b++)
            for (uint32_t k = 0; k < 50; k++)
                idx[b * 50 + k] = (nb - 1 - b) * 50 + k;
    }
}

static int run(uint32_t n, enum order o, bool mixed)
{
    uint32_t total = o == EVERY_OTHER ? 2 * n : n;
    hermes_signal_spec_t *specs = calloc(total, sizeof *specs);
    char (*names)[16] = calloc(total, sizeof *names);
    static const hermes_type_t types[] = {HERMES_TYPE_F64, HERMES_TYPE_F32, HERMES_TYPE_I64, HERMES_TYPE_I32,
                                          HERMES_TYPE_BOOL};
    for (uint32_t i = 0; i < total; i++) {
        snprintf(names[i], sizeof names[i], "s%u", i);
        hermes_type_t t = mixed ? types[i % 5] : HERMES_TYPE_F64;
        double init = t == HERMES_TYPE_BOOL ? (double)(i & 1) : t == HERMES_TYPE_F64 ? (double)i + 0.5 : (double)i;
        specs[i] = (hermes_signal_spec_t){"m", names[i], t, "", false, init};
    }
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.signals = specs;
    bc.signal_count = total;
    hermes_backplane_t *bp = NULL;
    if (hermes_backplane_create(&bp, &bc) != 0) {
        fprintf(stderr, "backplane: %s\n", hermes_last_error());
        return 1;
    }
    uint32_t *idx = malloc(n * sizeof *idx);
    make_indices(idx, n, o);
    hermes_encoder_t *enc = NULL;
    if (hermes_encoder_create_indices(&enc, bp, idx, n) != 0) {
        fprintf(stderr, "encoder: %s\n", hermes_last_error());
        return 1;
    }
    hermes_backplane_publish(bp, 1, 1000);
    size_t len = hermes_encoder_frame_size(enc);
    /* Same buffer layout as the server: LWS_PRE (16) bytes of headroom, so the
     * values start 40 bytes into a 64-byte aligned block. The reference
     * writes its values to the very same addresses (same cache and 4K-alias
     * behaviour as the encoder's stores). */
    size_t blk = (16 + len + 63) / 64 * 64;
    unsigned char *buf = aligned_alloc(64, blk);
    double *rout = (double *)(void *)(buf + 16 + HERMES_TELEMETRY_HEADER_SIZE);
    double *want = malloc((size_t)n * sizeof *want);
    double *copy = aligned_alloc(64, ((size_t)n * 8 + 63) / 64 * 64);
    enum { ENC, REF1, REF4, RAW1, RAW4, MEMCPY, NLOOPS };
    const int iters = (int)(1000000u / n);
    double t[NLOOPS][ROUNDS], r[ROUNDS], g[ROUNDS], raw[ROUNDS];
    uint64_t fr = 0;
    int bad = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int step = 0; step < NLOOPS; step++) {
            int loop = (step + round) % NLOOPS;
            double t0 = now_ns();
            for (int k = 0; k < iters; k++) {
                switch (loop) {
                case ENC: bad |= hermes_encoder_encode(enc, buf + 16, len, NULL, NULL); break;
                case REF1: ref_gather(bp, gather1, idx, n, rout, &fr); break;
                case REF4: ref_gather(bp, gather4, idx, n, rout, &fr); break;
                case RAW1: gather1(bp->pub[1], idx, n, rout); break;
                case RAW4: gather4(bp->pub[1], idx, n, rout); break;
                default: memcpy(copy, bp->pub[1], (size_t)n * sizeof(double)); break;
                }
                __asm__ volatile("" : : "r"(rout), "r"(copy) : "memory");
            }
            t[loop][round] = (now_ns() - t0) / iters;
        }
        g[round] = t[REF1][round] < t[REF4][round] ? t[REF1][round] : t[REF4][round];
        raw[round] = t[RAW1][round] < t[RAW4][round] ? t[RAW1][round] : t[RAW4][round];
        r[round] = t[ENC][round] / g[round];
    }
    /* The encoder must produce exactly the reference's values. */
    ref_gather(bp, gather1, idx, n, rout, &fr);
    memcpy(want, rout, (size_t)n * sizeof *want);
    bad |= hermes_encoder_encode(enc, buf + 16, len, NULL, NULL);
    if (bad || memcmp(rout, want, (size_t)n * sizeof *want) != 0) {
        fprintf(stderr, "encoder output differs from the reference gather\n");
        return 1;
    }
    double em = median(t[ENC], ROUNDS), gm = median(g, ROUNDS), rm = median(r, ROUNDS);
    printf("%6u %-9s %-5s  encode %7.1f ns (%4.2f ns/value)  gather %7.1f ns  ratio %4.2fx  "
           "| 1-per-iter %7.1f  4-per-iter %7.1f  no seqlock %7.1f  memcpy %7.1f\n",
           n, order_names[o], mixed ? "mixed" : "f64", em, em / n, gm, rm, median(t[REF1], ROUNDS),
           median(t[REF4], ROUNDS), median(raw, ROUNDS), median(t[MEMCPY], ROUNDS));
    free(buf);
    free(want);
    free(copy);
    free(idx);
    hermes_encoder_destroy(enc);
    hermes_backplane_destroy(bp);
    free(specs);
    free(names);
    return 0;
}

int main(void)
{
    printf("bench_encode: build type %s, optimization -O%s, compiler %s, NDEBUG %s, c_args '%s'\n",
           HERMES_BUILD_TYPE, HERMES_OPTIMIZATION, HERMES_COMPILER,
#ifdef NDEBUG
           "on",
#else
           "off",
#endif
           HERMES_C_ARGS);
    printf("ns per frame, median of %d rounds; gather = seqlock read + out[i] = published[idx[i]] over the same "
           "indices\n(faster of a 1- and a 4-values-per-iteration loop); target encode <= 1.5x gather\n", ROUNDS);
    int rc = 0;
    static const uint32_t sizes[] = {1000, 10000};
    for (int s = 0; s < 2; s++) {
        for (int o = IN_ORDER; o <= BLOCKS; o++)
            rc |= run(sizes[s], (enum order)o, false);
        rc |= run(sizes[s], SHUFFLED, true);
    }
    return rc;
}
