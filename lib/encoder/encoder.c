/* Telemetry encoder: builds HERT frames from consistent backplane snapshots.
 *
 * Telemetry carries every value as the f64 the backplane stores, so encoding
 * is a gather: at create time the index list is compiled into segments, each
 * either a run of consecutive slots (one memcpy) or a stretch of scattered
 * slots (a branch-free gather through its own index list). encode() runs the
 * segments once inside the backplane's seqlock read, writing straight from
 * the published copy into the caller's buffer: no bounds checks (indices are
 * validated once), no per-value branches, no intermediate copy. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hermes/encoder.h"
#include "backplane/layout.h"
#include "encoder/frame.h"
#include "common/patterns.h"
#include "common/util.h"

/* Runs of at least this many consecutive slots are copied with memcpy; shorter
 * ones join the neighbouring gather. Measured with bench_encode (AMD EPYC,
 * glibc): a memcpy of 8 values costs more than gathering them, from 12 values
 * on it costs less. */
#define MIN_RUN 12u

/* ThreadSanitizer intercepts libc's memcpy, so a memcpy from the published
 * copy would be reported as the race the seqlock tolerates (a copy overtaken
 * by the writer is discarded). Under TSan, values are read one at a time in
 * this uninstrumented code instead. */
#if defined(__SANITIZE_THREAD__)
#define ENC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ENC_TSAN 1
#endif
#endif

/* One piece of the payload: @ref len values either copied from slots
 * src .. src+len-1 (run) or gathered through gidx[src .. src+len-1]. */
struct seg {
    uint32_t src;
    uint32_t len;
    uint32_t gather;
};

struct hermes_encoder {
    const hermes_backplane_t *bp;
    uint32_t                  count;
    uint32_t                 *idx;    /* payload order, as given */
    uint32_t                  nsegs;
    struct seg               *segs;
    uint32_t                 *gidx;   /* slot indices of the gather segments */
};

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_LE 0
#else
#define HOST_LE 1
#endif

/* Length of the run of consecutive slots starting at idx[i]. */
static uint32_t run_at(const uint32_t *idx, uint32_t n, uint32_t i)
{
    uint32_t j = i + 1;
    while (j < n && idx[j] == idx[j - 1] + 1)
        j++;
    return j - i;
}

/* Split idx into segments: runs of MIN_RUN or more slots, gathers between. */
static int compile(hermes_encoder_t *e)
{
    const uint32_t *idx = e->idx;
    uint32_t n = e->count, nsegs = 0, ngather = 0;
    bool in_gather = false;
    for (uint32_t i = 0; i < n;) {
        uint32_t r = run_at(idx, n, i);
        if (r >= MIN_RUN) {
            nsegs++;
            in_gather = false;
        } else {
            nsegs += !in_gather;
            in_gather = true;
            ngather += r;
        }
        i += r;
    }
    e->segs = calloc(nsegs ? nsegs : 1, sizeof *e->segs);
    e->gidx = malloc((ngather ? ngather : 1) * sizeof *e->gidx);
    if (!e->segs || !e->gidx)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    uint32_t s = 0, g = 0;
    in_gather = false;
    for (uint32_t i = 0; i < n;) {
        uint32_t r = run_at(idx, n, i);
        if (r >= MIN_RUN) {
            e->segs[s++] = (struct seg){idx[i], r, 0};
            in_gather = false;
        } else {
            if (!in_gather)
                e->segs[s++] = (struct seg){g, 0, 1};
            in_gather = true;
            memcpy(e->gidx + g, idx + i, r * sizeof *idx);
            e->segs[s - 1].len += r;
            g += r;
        }
        i += r;
    }
    e->nsegs = s;
    return 0;
}

static int make(hermes_encoder_t **out, const hermes_backplane_t *bp, uint32_t *idx, uint32_t n)
{
    hermes_encoder_t *e = calloc(1, sizeof *e);
    if (!e) {
        free(idx);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    e->bp = bp;
    e->count = n;
    e->idx = idx;
    int rc = compile(e);
    if (rc) {
        hermes_encoder_destroy(e);
        return rc;
    }
    *out = e;
    return 0;
}

/* The backplane as a pattern view: its own name lookup, names by index. */
static int64_t bp_find(const void *ctx, const char *name)
{
    hermes_signal_t sig;
    return hermes_backplane_find(ctx, name, &sig) == 0 ? (int64_t)sig.index : -1;
}

static const char *bp_name(const void *ctx, uint32_t index)
{
    hermes_signal_info_t info;
    return hermes_backplane_info(ctx, index, &info) == 0 ? info.name : "";
}

HERMES_API int hermes_encoder_create(hermes_encoder_t **out, const hermes_backplane_t *bp,
                                     const char *const *patterns, size_t npatterns)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_encoder_create: out is NULL");
    *out = NULL;
    if (!bp || (npatterns && !patterns))
        return hermes__fail(HERMES_EINVAL, "hermes_encoder_create: NULL argument");
    const struct hermes__pattern_view view = {hermes_backplane_count(bp), NULL, bp, bp_find, bp_name, NULL};
    uint32_t *idx, n;
    int rc = hermes__patterns_resolve(&view, patterns, npatterns, HERMES__PATTERNS_STAR_NONEMPTY, &idx, &n);
    if (rc)
        return rc;
    return make(out, bp, idx, n);
}

HERMES_API int hermes_encoder_create_indices(hermes_encoder_t **out, const hermes_backplane_t *bp,
                                             const uint32_t *indices, size_t n)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_encoder_create_indices: out is NULL");
    *out = NULL;
    if (!bp || (n && !indices))
        return hermes__fail(HERMES_EINVAL, "hermes_encoder_create_indices: NULL argument");
    uint32_t total = hermes_backplane_count(bp);
    if (n > UINT32_MAX)
        return hermes__fail(HERMES_EINVAL, "too many indices");
    for (size_t i = 0; i < n; i++)
        if (indices[i] >= total)
            return hermes__fail(HERMES_EINVAL, "index %u out of range (%u signals)", indices[i], total);
    uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    if (n)
        memcpy(idx, indices, n * sizeof *idx);
    return make(out, bp, idx, (uint32_t)n);
}

HERMES_API void hermes_encoder_destroy(hermes_encoder_t *enc)
{
    if (!enc)
        return;
    free(enc->idx);
    free(enc->segs);
    free(enc->gidx);
    free(enc);
}

HERMES_API uint32_t hermes_encoder_count(const hermes_encoder_t *enc) { return enc ? enc->count : 0; }

HERMES_API const uint32_t *hermes_encoder_indices(const hermes_encoder_t *enc) { return enc ? enc->idx : NULL; }

HERMES_API const char *hermes_encoder_signal_name(const hermes_encoder_t *enc, uint32_t i)
{
    hermes_signal_info_t info;
    if (!enc || i >= enc->count || hermes_backplane_info(enc->bp, enc->idx[i], &info) != 0)
        return NULL;
    return info.name;
}

HERMES_API size_t hermes_encoder_frame_size(const hermes_encoder_t *enc)
{
    return enc ? HERMES_TELEMETRY_FRAME_SIZE(enc->count) : 0;
}

struct encode_ctx {
    const hermes_encoder_t *enc;
    unsigned char          *dst;  /* first value; any alignment */
};

/* One published value as 8 bytes (a plain load; see ENC_TSAN). */
__attribute__((no_sanitize("thread")))
static inline uint64_t load(const double *p)
{
    uint64_t v;
#ifdef ENC_TSAN
    double d = *(const volatile double *)p;
    memcpy(&v, &d, sizeof v);
#else
    memcpy(&v, p, sizeof v);
#endif
    return v;
}

/* The copy step of the seqlock read: every segment once, in payload order.
 * Values are stored through memcpy so any destination alignment works (one
 * plain 8-byte store each on the usual hosts). */
__attribute__((no_sanitize("thread")))
static void copy_segments(const double *pub, double *unused, const void *arg)
{
    (void)unused;
    const struct encode_ctx *c = arg;
    const struct seg *seg = c->enc->segs, *end = seg + c->enc->nsegs;
    const uint32_t *gidx = c->enc->gidx;
    unsigned char *dst = c->dst;
    for (; seg < end; seg++) {
        size_t len = seg->len;
        if (!seg->gather) {
#ifdef ENC_TSAN
            for (size_t j = 0; j < len; j++) {
                uint64_t v = load(pub + seg->src + j);
                memcpy(dst + 8 * j, &v, 8);
            }
#else
            memcpy(dst, pub + seg->src, len * sizeof(double));
#endif
        } else {
            /* Four values per iteration: a one-value loop runs at half
             * speed wherever the compiler places it across a 64-byte line
             * (AMD Zen), four amortise that and pair the stores. */
            const uint32_t *ix = gidx + seg->src;
            size_t j = 0;
            for (; j + 4 <= len; j += 4) {
                uint64_t v0 = load(&pub[ix[j]]), v1 = load(&pub[ix[j + 1]]);
                uint64_t v2 = load(&pub[ix[j + 2]]), v3 = load(&pub[ix[j + 3]]);
                memcpy(dst + 8 * j, &v0, 8);
                memcpy(dst + 8 * j + 8, &v1, 8);
                memcpy(dst + 8 * j + 16, &v2, 8);
                memcpy(dst + 8 * j + 24, &v3, 8);
            }
            for (; j < len; j++) {
                uint64_t v = load(&pub[ix[j]]);
                memcpy(dst + 8 * j, &v, 8);
            }
        }
        dst += 8 * len;
    }
}

void hermes__telemetry_put_header(unsigned char *p, uint64_t frame, double time, uint32_t count)
{
    hermes__put_le32(p, HERMES_TELEMETRY_MAGIC);
    hermes__put_le64(p + 4, frame);
    hermes__put_lef64(p + 12, time);
    hermes__put_le32(p + 20, count);
}

HERMES_API int hermes_encoder_encode(hermes_encoder_t *enc, void *buf, size_t cap, size_t *len, uint64_t *frame)
{
    if (!enc || !buf)
        return hermes__fail(HERMES_EINVAL, "hermes_encoder_encode: NULL argument");
    size_t need = HERMES_TELEMETRY_FRAME_SIZE(enc->count);
    if (cap < need)
        return hermes__fail(HERMES_EINVAL, "buffer of %zu bytes is smaller than the %zu-byte frame", cap, need);
    unsigned char *p = buf;
    struct encode_ctx c = {enc, p + HERMES_TELEMETRY_HEADER_SIZE};
    uint64_t f = 0, t = 0;
    int rc = hermes__backplane_read_consistent(enc->bp, copy_segments, &c, NULL, &f, &t);
    if (rc)
        return rc;
    if (!HOST_LE)
        for (uint32_t i = 0; i < enc->count; i++) {
            double d;
            memcpy(&d, c.dst + 8u * i, sizeof d);
            hermes__put_lef64(c.dst + 8u * i, d);
        }
    hermes__telemetry_put_header(p, f, (double)t * 1e-9, enc->count);
    if (len)
        *len = need;
    if (frame)
        *frame = f;
    return 0;
}

HERMES_API int hermes_telemetry_decode_header(const void *buf, size_t len, hermes_telemetry_header_t *out)
{
    if (!buf || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_telemetry_decode_header: NULL argument");
    if (len < HERMES_TELEMETRY_HEADER_SIZE)
        return hermes__fail(HERMES_EINVAL, "frame of %zu bytes is shorter than the 24-byte header", len);
    const unsigned char *p = buf;
    out->magic = hermes__get_le32(p);
    out->frame = hermes__get_le64(p + 4);
    out->time = hermes__get_lef64(p + 12);
    out->count = hermes__get_le32(p + 20);
    if (out->magic != HERMES_TELEMETRY_MAGIC)
        return hermes__fail(HERMES_EINVAL, "bad magic 0x%08x", out->magic);
    if (len != HERMES_TELEMETRY_FRAME_SIZE(out->count))
        return hermes__fail(HERMES_EINVAL, "frame of %zu bytes does not hold %u values", len, out->count);
    return 0;
}

HERMES_API double hermes_telemetry_value(const void *buf, uint32_t i)
{
    return hermes__get_lef64((const unsigned char *)buf + HERMES_TELEMETRY_HEADER_SIZE + 8u * (size_t)i);
}
