/* Campaign draws: Philox4x32-10 counter-based generator and platform-independent distribution transforms. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "hermes/campaign.h"
#include "common/util.h"

/* Every value must come out bit-identical on every machine: no a*b+c fused
 * into one rounding. GCC in ISO C mode (-std=c11) already defaults to
 * -ffp-contract=off; clang honours the standard pragma. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void hermes_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static void block(uint64_t seed, uint64_t run, uint32_t stream, uint32_t draw, uint64_t w[2])
{
    const uint32_t ctr[4] = {(uint32_t)run, (uint32_t)(run >> 32), stream, draw};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t o[4];
    hermes_philox4x32(ctr, key, o);
    w[0] = (uint64_t)o[1] << 32 | o[0];
    w[1] = (uint64_t)o[3] << 32 | o[2];
}

static double to_unit(uint64_t w)
{
    return (double)(w >> 11) * 0x1.0p-53;   /* exact: 53 bits fit a double */
}

double hermes_campaign_uniform(uint64_t campaign_seed, uint64_t run, uint32_t stream, uint32_t draw,
                               unsigned half)
{
    uint64_t w[2];
    block(campaign_seed, run, stream, draw, w);
    return to_unit(w[half & 1u]);
}

uint64_t hermes_campaign_run_seed(uint64_t campaign_seed, uint64_t run)
{
    uint64_t w[2];
    block(campaign_seed, run, 0, 0, w);
    return w[0];
}

/* log(x) = k*ln2 + log(m), m in [sqrt(1/2), sqrt(2)); log(m) = 2*atanh(s) with
 * s = (m-1)/(m+1), |s| < 0.1716, summed as an odd series to s^29 (the next
 * term is below 2^-60 of the result). Exponent and mantissa are taken from the
 * bits, so only +, -, *, / are used. */
double hermes_portable_log(double x)
{
    if (isnan(x) || x < 0)
        return NAN;
    if (x == 0)
        return -INFINITY;
    if (isinf(x))
        return x;
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int k = 0;
    if ((bits >> 52) == 0) {   /* subnormal: scale into the normal range (exact) */
        x *= 0x1.0p54;
        memcpy(&bits, &x, sizeof bits);
        k = -54;
    }
    k += (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;   /* m in [1, 2) */
    double m;
    memcpy(&m, &bits, sizeof m);
    if (m > 1.4142135623730951) {
        m *= 0.5;   /* exact */
        k += 1;
    }
    double f = m - 1.0;   /* exact (Sterbenz) */
    double s = f / (2.0 + f);
    double z = s * s;
    static const double c[] = {1.0 / 3,  1.0 / 5,  1.0 / 7,  1.0 / 9,  1.0 / 11, 1.0 / 13, 1.0 / 15,
                               1.0 / 17, 1.0 / 19, 1.0 / 21, 1.0 / 23, 1.0 / 25, 1.0 / 27, 1.0 / 29};
    double p = c[13];
    for (int i = 12; i >= 0; i--)
        p = c[i] + z * p;
    double r = z * p;                  /* log(m) = 2s + 2s*r */
    double two_s = 2.0 * s;
    static const double ln2_hi = 6.93147180369123816490e-01;   /* 0x3fe62e42fee00000: k*ln2_hi is exact */
    static const double ln2_lo = 1.90821492927058770002e-10;
    double dk = (double)k;
    return dk * ln2_hi + ((dk * ln2_lo + two_s * r) + two_s);
}

int hermes_distribution_check(const hermes_distribution_t *d)
{
    if (!d)
        return hermes__fail(HERMES_EINVAL, "distribution is NULL");
    if (d->size < sizeof *d)
        return hermes__fail(HERMES_EINVAL, "distribution not initialised (call hermes_distribution_init())");
    switch (d->kind) {
    case HERMES_DIST_NORMAL:
        if (!isfinite(d->p1) || !isfinite(d->p2) || d->p2 < 0)
            return hermes__fail(HERMES_EINVAL, "normal: mean must be finite and sigma finite and >= 0");
        if (d->truncated && (!isfinite(d->min) || !isfinite(d->max) || d->min > d->max))
            return hermes__fail(HERMES_EINVAL, "normal: truncation needs finite min <= max");
        if (d->truncated && d->p2 == 0 && (d->p1 < d->min || d->p1 > d->max))
            return hermes__fail(HERMES_EINVAL, "normal: sigma is 0 and the mean is outside [min, max]");
        return 0;
    case HERMES_DIST_UNIFORM:
        if (!isfinite(d->p1) || !isfinite(d->p2) || d->p1 > d->p2 || !isfinite(d->p2 - d->p1))
            return hermes__fail(HERMES_EINVAL, "uniform: needs finite low <= high");
        return 0;
    case HERMES_DIST_CHOICE:
        if (!d->values || d->value_count == 0)
            return hermes__fail(HERMES_EINVAL, "choice: needs at least one value");
        for (uint32_t i = 0; i < d->value_count; i++)
            if (!isfinite(d->values[i]))
                return hermes__fail(HERMES_EINVAL, "choice: value %u is not finite", i + 1);
        return 0;
    case HERMES_DIST_NONE:
        break;
    }
    return hermes__fail(HERMES_EINVAL, "unknown distribution kind %d", (int)d->kind);
}

int hermes_campaign_draw(uint64_t campaign_seed, uint64_t run, uint32_t stream, const hermes_distribution_t *d,
                         double *out)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "out is NULL");
    int rc = hermes_distribution_check(d);
    if (rc)
        return rc;
    uint64_t w[2];
    switch (d->kind) {
    case HERMES_DIST_UNIFORM:
        block(campaign_seed, run, stream, 0, w);
        *out = d->p1 + (d->p2 - d->p1) * to_unit(w[0]);
        return 0;
    case HERMES_DIST_CHOICE: {
        block(campaign_seed, run, stream, 0, w);
        uint64_t i = (uint64_t)(to_unit(w[0]) * (double)d->value_count);   /* < count: u < 1 */
        if (i >= d->value_count)
            i = d->value_count - 1;
        *out = d->values[i];
        return 0;
    }
    case HERMES_DIST_NORMAL:
        if (d->p2 == 0) {
            *out = d->p1;
            return 0;
        }
        for (uint32_t k = 0; k < HERMES_DIST_MAX_DRAWS; k++) {
            block(campaign_seed, run, stream, k, w);
            double a = 2.0 * to_unit(w[0]) - 1.0, b = 2.0 * to_unit(w[1]) - 1.0;
            double s = a * a + b * b;
            if (s >= 1.0 || s == 0.0)
                continue;
            double x = d->p1 + d->p2 * (a * sqrt(-2.0 * hermes_portable_log(s) / s));
            if (d->truncated && (x < d->min || x > d->max))
                continue;
            *out = x;
            return 0;
        }
        return hermes__fail(HERMES_ERANGE, "truncated normal: no draw in [%g, %g] after %u tries; the window is "
                                           "too improbable for mean %g sigma %g",
                            d->min, d->max, HERMES_DIST_MAX_DRAWS, d->p1, d->p2);
    case HERMES_DIST_NONE:
        break;
    }
    return HERMES_EINVAL;
}
