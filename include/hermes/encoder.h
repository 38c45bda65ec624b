/** @file encoder.h  Binary telemetry frames built from backplane snapshots.
 *
 * A frame is little-endian: magic u32 (HERMES_TELEMETRY_MAGIC, "HERT"),
 * frame u64, time f64 (seconds), count u32, then count f64 values in
 * subscription order: HERMES_TELEMETRY_HEADER_SIZE + 8 * count bytes. Every
 * frame comes from one consistent snapshot of the backplane's published
 * region: the values, the frame number and the time always belong together.
 *
 * Subscriptions are lists of patterns: "*" (every signal), "module.*" (every
 * signal of a module; more generally "prefix.*" matches every qualified name
 * starting with "prefix."), or an exact "module.signal". Several patterns
 * combine in order; a signal matched twice keeps its first position. An
 * unknown exact name or a pattern matching nothing is an error naming it.
 *
 * Cost: creating an encoder checks the indices once and splits them into runs
 * of consecutive slots (copied with memcpy) and scattered slots (gathered);
 * encoding is then one pass from the published copy into the frame, about
 * the cost of a plain indexed gather of the same values (bench/bench_encode.c).
 *
 * Threading: an encoder is used by one thread at a time; several encoders may
 * read the same backplane from different threads while the scheduler publishes
 * (hermes_encoder_encode() never blocks the writer).
 * Ownership: the backplane must outlive every encoder made from it. */
#ifndef HERMES_ENCODER_H
#define HERMES_ENCODER_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"
#include "error.h"
#include "backplane.h"

#ifdef __cplusplus
extern "C" {
#endif

/** First four bytes of every telemetry frame ("HERT" read as a little-endian u32). */
#define HERMES_TELEMETRY_MAGIC 0x48455254u
/** Bytes before the first value. */
#define HERMES_TELEMETRY_HEADER_SIZE 24u
/** Size of a frame carrying @p n values. */
#define HERMES_TELEMETRY_FRAME_SIZE(n) (HERMES_TELEMETRY_HEADER_SIZE + 8u * (size_t)(n))

typedef struct hermes_encoder hermes_encoder_t;

/** Decoded header of a telemetry frame. */
typedef struct hermes_telemetry_header {
    uint32_t magic;
    uint64_t frame;
    double   time;   /**< seconds */
    uint32_t count;
} hermes_telemetry_header_t;

/**
 * Expand @p patterns against @p bp and make an encoder for the result.
 * @param[out] out        new encoder, NULL on failure  @nonnull
 * @param[in]  bp         backplane to read; must outlive the encoder  @nonnull
 * @param[in]  patterns   @p npatterns strings (copied); may be NULL when npatterns is 0
 * @return 0; HERMES_EINVAL (NULL argument, empty or unsupported pattern such as
 *         "a*b"); HERMES_ENOENT (unknown exact name, or a pattern matching no
 *         signal; hermes_last_error() names it); HERMES_ENOMEM.
 * @since 0.1
 * Context: any thread.
 */
HERMES_API int hermes_encoder_create(hermes_encoder_t **out, const hermes_backplane_t *bp,
                                     const char *const *patterns, size_t npatterns);

/**
 * Make an encoder for explicit slot indices (hermes_signal_t.index), in order.
 * @return 0, HERMES_EINVAL (NULL argument, index out of range), HERMES_ENOMEM.
 * @since 0.1
 */
HERMES_API int hermes_encoder_create_indices(hermes_encoder_t **out, const hermes_backplane_t *bp,
                                             const uint32_t *indices, size_t n);

/** Free the encoder. NULL is fine. */
HERMES_API void hermes_encoder_destroy(hermes_encoder_t *enc);

/** Number of values per frame. Context: any thread. */
HERMES_API uint32_t hermes_encoder_count(const hermes_encoder_t *enc);

/** Slot indices in payload order (borrowed; @ref hermes_encoder_count entries, lives with @p enc). */
HERMES_API const uint32_t *hermes_encoder_indices(const hermes_encoder_t *enc);

/** Qualified name of value @p i (borrowed from the backplane), or NULL when out of range. */
HERMES_API const char *hermes_encoder_signal_name(const hermes_encoder_t *enc, uint32_t i);

/** Bytes of one frame: HERMES_TELEMETRY_FRAME_SIZE(count). */
HERMES_API size_t hermes_encoder_frame_size(const hermes_encoder_t *enc);

/**
 * Encode the latest published frame into @p buf.
 * @param[out] buf  at least hermes_encoder_frame_size() bytes; any alignment
 * @param[in]  cap  bytes available at @p buf
 * @param[out] len  optional: bytes written
 * @param[out] frame optional: frame number encoded
 * @return 0, HERMES_EINVAL (NULL argument or @p cap too small) or HERMES_EAGAIN
 *         (the writer overtook every attempt for about 10 ms; try again).
 * Context: any thread (one at a time per encoder); no allocation, no locks.
 */
HERMES_API int hermes_encoder_encode(hermes_encoder_t *enc, void *buf, size_t cap, size_t *len,
                                     uint64_t *frame);

/**
 * Decode and check the header of a frame of @p len bytes.
 * @return 0, HERMES_EINVAL (NULL argument, shorter than the header, wrong magic,
 *         or @p len different from 24 + 8 * count).
 * Context: any thread.
 */
HERMES_API int hermes_telemetry_decode_header(const void *buf, size_t len, hermes_telemetry_header_t *out);

/** Value @p i of a frame already checked by hermes_telemetry_decode_header(). */
HERMES_API double hermes_telemetry_value(const void *buf, uint32_t i);

#ifdef __cplusplus
}
#endif
#endif
