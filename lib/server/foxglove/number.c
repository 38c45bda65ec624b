/* Number text of the Foxglove JSON payloads: doubles printed with Grisu2
 * (Loitsch 2010, "Printing floating-point numbers quickly and accurately"),
 * which always reads back as the same double and is the shortest such text
 * for nearly every input, at a fraction of the cost of "%.17g". Integers
 * below 2^53 take a plain integer path; NaN and infinities become null. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "server/foxglove/foxglove.h"

/* 10^k for k = -348 + 8 i: 64-bit normalised significand (rounded) and
 * binary exponent, i.e. 10^k ~= f * 2^e. Computed exactly with big integers. */
static const uint64_t pow_f[87] = {
    0xfa8fd5a0081c0288u, 0xbaaee17fa23ebf76u, 0x8b16fb203055ac76u,
    0xcf42894a5dce35eau, 0x9a6bb0aa55653b2du, 0xe61acf033d1a45dfu,
    0xab70fe17c79ac6cau, 0xff77b1fcbebcdc4fu, 0xbe5691ef416bd60cu,
    0x8dd01fad907ffc3cu, 0xd3515c2831559a83u, 0x9d71ac8fada6c9b5u,
    0xea9c227723ee8bcbu, 0xaecc49914078536du, 0x823c12795db6ce57u,
    0xc21094364dfb5637u, 0x9096ea6f3848984fu, 0xd77485cb25823ac7u,
    0xa086cfcd97bf97f4u, 0xef340a98172aace5u, 0xb23867fb2a35b28eu,
    0x84c8d4dfd2c63f3bu, 0xc5dd44271ad3cdbau, 0x936b9fcebb25c996u,
    0xdbac6c247d62a584u, 0xa3ab66580d5fdaf6u, 0xf3e2f893dec3f126u,
    0xb5b5ada8aaff80b8u, 0x87625f056c7c4a8bu, 0xc9bcff6034c13053u,
    0x964e858c91ba2655u, 0xdff9772470297ebdu, 0xa6dfbd9fb8e5b88fu,
    0xf8a95fcf88747d94u, 0xb94470938fa89bcfu, 0x8a08f0f8bf0f156bu,
    0xcdb02555653131b6u, 0x993fe2c6d07b7facu, 0xe45c10c42a2b3b06u,
    0xaa242499697392d3u, 0xfd87b5f28300ca0eu, 0xbce5086492111aebu,
    0x8cbccc096f5088ccu, 0xd1b71758e219652cu, 0x9c40000000000000u,
    0xe8d4a51000000000u, 0xad78ebc5ac620000u, 0x813f3978f8940984u,
    0xc097ce7bc90715b3u, 0x8f7e32ce7bea5c70u, 0xd5d238a4abe98068u,
    0x9f4f2726179a2245u, 0xed63a231d4c4fb27u, 0xb0de65388cc8ada8u,
    0x83c7088e1aab65dbu, 0xc45d1df942711d9au, 0x924d692ca61be758u,
    0xda01ee641a708deau, 0xa26da3999aef774au, 0xf209787bb47d6b85u,
    0xb454e4a179dd1877u, 0x865b86925b9bc5c2u, 0xc83553c5c8965d3du,
    0x952ab45cfa97a0b3u, 0xde469fbd99a05fe3u, 0xa59bc234db398c25u,
    0xf6c69a72a3989f5cu, 0xb7dcbf5354e9beceu, 0x88fcf317f22241e2u,
    0xcc20ce9bd35c78a5u, 0x98165af37b2153dfu, 0xe2a0b5dc971f303au,
    0xa8d9d1535ce3b396u, 0xfb9b7cd9a4a7443cu, 0xbb764c4ca7a44410u,
    0x8bab8eefb6409c1au, 0xd01fef10a657842cu, 0x9b10a4e5e9913129u,
    0xe7109bfba19c0c9du, 0xac2820d9623bf429u, 0x80444b5e7aa7cf85u,
    0xbf21e44003acdd2du, 0x8e679c2f5e44ff8fu, 0xd433179d9c8cb841u,
    0x9e19db92b4e31ba9u, 0xeb96bf6ebadf77d9u, 0xaf87023b9bf0ee6bu,
};
static const int16_t pow_e[87] = {
    -1220, -1193, -1166, -1140, -1113, -1087, -1060, -1034, -1007, -980, -954, -927,
    -901, -874, -847, -821, -794, -768, -741, -715, -688, -661, -635, -608,
    -582, -555, -529, -502, -475, -449, -422, -396, -369, -343, -316, -289,
    -263, -236, -210, -183, -157, -130, -103, -77, -50, -24, 3, 30,
    56, 83, 109, 136, 162, 189, 216, 242, 269, 295, 322, 348,
    375, 402, 428, 455, 481, 508, 534, 561, 588, 614, 641, 667,
    694, 720, 747, 774, 800, 827, 853, 880, 907, 933, 960, 986,
    1013, 1039, 1066,
};

typedef struct {
    uint64_t f;
    int      e;
} fp_t;

#define SIG_MASK   0x000FFFFFFFFFFFFFull
#define HIDDEN_BIT 0x0010000000000000ull
#define EXP_BIAS   1075

static fp_t fp_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    int be = (int)((u >> 52) & 0x7FF);
    uint64_t sig = u & SIG_MASK;
    fp_t r;
    if (be) {
        r.f = sig + HIDDEN_BIT;
        r.e = be - EXP_BIAS;
    } else {
        r.f = sig;
        r.e = 1 - EXP_BIAS;
    }
    return r;
}

static fp_t fp_normalize(fp_t x)
{
    int s = __builtin_clzll(x.f);
    x.f <<= s;
    x.e -= s;
    return x;
}

/* Product rounded to 64 bits (the upper half of the 128-bit product). */
static fp_t fp_mul(fp_t x, fp_t y)
{
    const uint64_t M32 = 0xFFFFFFFFu;
    uint64_t a = x.f >> 32, b = x.f & M32, c = y.f >> 32, d = y.f & M32;
    uint64_t ac = a * c, bc = b * c, ad = a * d, bd = b * d;
    uint64_t tmp = (bd >> 32) + (ad & M32) + (bc & M32);
    tmp += 1u << 31;
    fp_t r = {ac + (ad >> 32) + (bc >> 32) + (tmp >> 32), x.e + y.e + 64};
    return r;
}

/* Boundaries m- and m+ of @p v (halfway to its neighbours), normalised to
 * the exponent of m+. */
static void fp_boundaries(fp_t v, fp_t *minus, fp_t *plus)
{
    fp_t pl = {(v.f << 1) + 1, v.e - 1};
    while (!(pl.f & (HIDDEN_BIT << 1))) {
        pl.f <<= 1;
        pl.e--;
    }
    pl.f <<= 10;  /* 64 - 52 - 2 */
    pl.e -= 10;
    fp_t mi = v.f == HIDDEN_BIT ? (fp_t){(v.f << 2) - 1, v.e - 2} : (fp_t){(v.f << 1) - 1, v.e - 1};
    mi.f <<= mi.e - pl.e;
    mi.e = pl.e;
    *minus = mi;
    *plus = pl;
}

static fp_t cached_power(int e, int *k)
{
    double dk = (-61 - e) * 0.30102999566398114 + 347;  /* positive: ceil by hand */
    int ik = (int)dk;
    if (dk - ik > 0.0)
        ik++;
    unsigned i = (unsigned)((ik >> 3) + 1);
    *k = -(-348 + (int)(i << 3));
    fp_t r = {pow_f[i], pow_e[i]};
    return r;
}

static const uint64_t pow10_u64[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull, 1000000000ull,
    10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull, 100000000000000ull,
    1000000000000000ull, 10000000000000000ull, 100000000000000000ull, 1000000000000000000ull,
    10000000000000000000ull};

static void grisu_round(char *buf, int len, uint64_t delta, uint64_t rest, uint64_t ten_kappa, uint64_t wp_w)
{
    while (rest < wp_w && delta - rest >= ten_kappa &&
           (rest + ten_kappa < wp_w || wp_w - rest > rest + ten_kappa - wp_w)) {
        buf[len - 1]--;
        rest += ten_kappa;
    }
}

static int digits32(uint32_t n)
{
    int d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

static void digit_gen(fp_t w, fp_t mp, uint64_t delta, char *buf, int *len, int *k)
{
    fp_t one = {1ull << -mp.e, mp.e};
    uint64_t wp_w = mp.f - w.f;
    uint32_t p1 = (uint32_t)(mp.f >> -one.e);
    uint64_t p2 = mp.f & (one.f - 1);
    int kappa = digits32(p1);
    *len = 0;
    while (kappa > 0) {
        uint32_t div = (uint32_t)pow10_u64[kappa - 1];
        uint32_t d = p1 / div;
        p1 %= div;
        if (d || *len)
            buf[(*len)++] = (char)('0' + d);
        kappa--;
        uint64_t tmp = ((uint64_t)p1 << -one.e) + p2;
        if (tmp <= delta) {
            *k += kappa;
            grisu_round(buf, *len, delta, tmp, pow10_u64[kappa] << -one.e, wp_w);
            return;
        }
    }
    for (;;) {
        p2 *= 10;
        delta *= 10;
        char d = (char)(p2 >> -one.e);
        if (d || *len)
            buf[(*len)++] = (char)('0' + d);
        p2 &= one.f - 1;
        kappa--;
        if (p2 < delta) {
            *k += kappa;
            int index = -kappa;
            grisu_round(buf, *len, delta, p2, one.f, wp_w * (index < 20 ? pow10_u64[index] : 0));
            return;
        }
    }
}

/* Digits of positive finite @p v in buf (no point), value = digits * 10^k. */
static int grisu2(double v, char *buf, int *k)
{
    fp_t w = fp_of(v), wm, wp;
    fp_boundaries(w, &wm, &wp);
    fp_t c = cached_power(wp.e, k);
    fp_t W = fp_mul(fp_normalize(w), c);
    fp_t Wp = fp_mul(wp, c);
    fp_t Wm = fp_mul(wm, c);
    Wm.f++;
    Wp.f--;
    int len;
    digit_gen(W, Wp, Wp.f - Wm.f, buf, &len, k);
    return len;
}

size_t hermes__fg_format_u64(uint64_t v, char *out)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Lay out digits d[0..len) * 10^k much as JavaScript does: plain notation
 * for decimal exponents in (-6, 21], scientific otherwise; but integers of
 * more than 18 digits are scientific too, so that parsers limited to 64-bit
 * integers (jansson) read them as reals instead of refusing them. */
static size_t layout(char *out, const char *d, int len, int k)
{
    int kk = len + k;  /* position of the decimal point */
    size_t n = 0;
    if (k >= 0 && kk <= 18) {
        memcpy(out, d, (size_t)len);
        n = (size_t)len;
        for (int i = 0; i < k; i++)
            out[n++] = '0';
    } else if (k < 0 && kk > 0 && kk <= 21) {
        memcpy(out, d, (size_t)kk);
        n = (size_t)kk;
        out[n++] = '.';
        memcpy(out + n, d + kk, (size_t)(len - kk));
        n += (size_t)(len - kk);
    } else if (kk > -6 && kk <= 0) {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = 0; i < -kk; i++)
            out[n++] = '0';
        memcpy(out + n, d, (size_t)len);
        n += (size_t)len;
    } else {
        out[n++] = d[0];
        if (len > 1) {
            out[n++] = '.';
            memcpy(out + n, d + 1, (size_t)(len - 1));
            n += (size_t)(len - 1);
        }
        out[n++] = 'e';
        int e = kk - 1;
        if (e < 0) {
            out[n++] = '-';
            e = -e;
        } else {
            out[n++] = '+';
        }
        n += hermes__fg_format_u64((uint64_t)e, out + n);
    }
    return n;
}

size_t hermes__fg_format_double(double v, char *out)
{
    if (!isfinite(v)) {
        memcpy(out, "null", 4);
        return 4;
    }
    size_t n = 0;
    if (signbit(v)) {
        out[n++] = '-';
        v = -v;
    }
    if (v == 0) {
        out[n++] = '0';
        return n;
    }
    if (v < 9007199254740992.0 && v == (double)(uint64_t)v)
        return n + hermes__fg_format_u64((uint64_t)v, out + n);
    char d[20];
    int k = 0;
    int len = grisu2(v, d, &k);
    return n + layout(out + n, d, len, k);
}
