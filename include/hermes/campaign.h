/** @file campaign.h  Reproducible random draws for Monte Carlo campaigns.
 *
 * A campaign disperses initial values over many runs. Every number here is a
 * pure function of (campaign seed, run index, stream, draw): a counter-based
 * generator (Philox4x32-10, Salmon et al., SC'11) keyed by the 64-bit campaign
 * seed, with the 128-bit counter (run index low word, run index high word,
 * stream, draw). Run i can therefore be planned, rerun or checked alone, in any
 * order, on any machine.
 *
 * Streams: stream 0 gives the run's own seed (hermes_campaign_run_seed(), the
 * seed handed to modules); dispersion k of a campaign uses stream k + 1.
 *
 * Determinism: the transforms use only integer arithmetic, IEEE-754 +, -, *,
 * / and sqrt (correctly rounded), and a logarithm computed in this library
 * from those operations (not libm's, whose last bit differs between
 * platforms). So the values are bit-identical on every IEEE-754 platform with
 * double evaluation in double precision (x86-64 SSE2, AArch64; not x87) and no
 * fused multiply-add contraction (the library builds this file without it).
 *  - uniform in [0, 1): the top 53 bits of a 64-bit word times 2^-53;
 *  - normal: Marsaglia's polar method (no trigonometry), one value per accepted
 *    pair; draw k uses counter block k (two 64-bit words, one pair);
 *  - truncated normal: rejection, redrawing until min <= x <= max;
 *  - uniform {low, high}: low + (high - low) * u;
 *  - choice: values[floor(u * count)].
 *
 * Threading: every function is pure (no state): any thread, RT-safe. */
#ifndef HERMES_CAMPAIGN_H
#define HERMES_CAMPAIGN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Distribution families. */
typedef enum hermes_dist_kind {
    HERMES_DIST_NONE    = 0,
    HERMES_DIST_NORMAL  = 1,  /**< p1 = mean, p2 = sigma (>= 0); optionally truncated to [min, max] */
    HERMES_DIST_UNIFORM = 2,  /**< p1 = low, p2 = high (low <= high); values in [low, high) */
    HERMES_DIST_CHOICE  = 3   /**< one of values[0 .. value_count-1], equally likely */
} hermes_dist_kind_t;

/** Most draws a truncated normal may take before giving up (HERMES_ERANGE). */
#define HERMES_DIST_MAX_DRAWS 100000u

/** One distribution. Fill it after hermes_distribution_init(). */
typedef struct hermes_distribution {
    uint32_t           size;        /**< stamped by hermes_distribution_init() */
    hermes_dist_kind_t kind;
    double             p1, p2;      /**< see hermes_dist_kind_t */
    bool               truncated;   /**< normal only: keep draws in [min, max] */
    double             min, max;
    const double      *values;      /**< choice: borrowed for the call */
    uint32_t           value_count; /**< choice: >= 1 */
} hermes_distribution_t;

static inline void hermes_distribution_init(hermes_distribution_t *d)
{
    memset(d, 0, sizeof *d);
    d->size = (uint32_t)sizeof *d;
}

/**
 * One Philox4x32-10 block: @p out = Philox(key, counter).
 * @param[in]  counter 4 words  @nonnull
 * @param[in]  key     2 words  @nonnull
 * @param[out] out     4 words  @nonnull
 * Context: any thread, RT-safe.
 */
HERMES_API void hermes_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/**
 * Uniform double in [0, 1) of (campaign seed, run, stream, draw, half): half 0
 * or 1 selects one of the two 64-bit words of the block.
 * Context: any thread, RT-safe.
 */
HERMES_API double hermes_campaign_uniform(uint64_t campaign_seed, uint64_t run, uint32_t stream, uint32_t draw,
                                          unsigned half);

/** Seed of run @p run (stream 0, draw 0, first word). Context: any thread, RT-safe. */
HERMES_API uint64_t hermes_campaign_run_seed(uint64_t campaign_seed, uint64_t run);

/**
 * Check a distribution's parameters: finite numbers, sigma >= 0, low <= high,
 * min <= max (truncated normal), at least one choice value.
 * @return 0, or HERMES_EINVAL with the reason in hermes_last_error().
 * Context: any thread.
 */
HERMES_API int hermes_distribution_check(const hermes_distribution_t *d);

/**
 * Draw the value of @p d for (campaign seed, run, stream). Stream 0 is
 * reserved for the run seed; dispersion k uses stream k + 1.
 * @param[out] out  the value  @nonnull
 * @return 0, HERMES_EINVAL (bad parameters, see hermes_distribution_check()),
 *         HERMES_ERANGE (truncated normal: no draw fell in [min, max] within
 *         HERMES_DIST_MAX_DRAWS; the window is too improbable).
 * Context: any thread.
 */
HERMES_API int hermes_campaign_draw(uint64_t campaign_seed, uint64_t run, uint32_t stream,
                                    const hermes_distribution_t *d, double *out);

/**
 * Natural logarithm computed with IEEE-754 basic operations only, so the result
 * is the same on every platform (within 1 ulp of the exact value). x <= 0 or
 * NaN gives NaN, +inf gives +inf.
 * Context: any thread, RT-safe.
 */
HERMES_API double hermes_portable_log(double x);

#ifdef __cplusplus
}
#endif
#endif
