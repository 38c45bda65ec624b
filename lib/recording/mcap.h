/* MCAP writer (mcap.c), written from the published MCAP format specification
 * (version 0): magic, Header, Schema and Channel records, Messages in
 * compressed Chunks each followed by its Message Index records, Metadata and
 * Attachment records, Data End with the data section CRC, a Summary section
 * (Schema, Channel, Statistics, Chunk Index, Attachment Index, Metadata
 * Index), Summary Offset records, Footer with the summary CRC, magic.
 *
 * Crash safety: a chunk and its message indexes are handed to write() in one
 * piece when the chunk closes (by size, or when the caller asks, e.g. once a
 * second), so a killed process leaves a file that stream readers read up to
 * its last complete chunk. Schemas, channels, metadata and attachments are
 * written (outside chunks) as soon as they are given.
 *
 * Errors: the first failing write (or allocation) is remembered; every later
 * call returns the same code and does nothing, and hermes__mcap_errmsg() says
 * what failed ("cannot write 'x.mcap': No space left on device").
 * Threading: one thread at a time per writer. Private; never installed. */
#ifndef HERMES_LIB_RECORDING_MCAP_H
#define HERMES_LIB_RECORDING_MCAP_H

#include <stddef.h>
#include <stdint.h>

#include "hermes/recorder.h"

/* Chunks close once their uncompressed records reach this size. */
#define HERMES_MCAP_CHUNK_BYTES (1u << 20)

typedef struct hermes__mcap hermes__mcap_t;

typedef struct hermes__mcap_kv {
    const char *key, *value;
} hermes__mcap_kv_t;

/* Create @p path (replaced if it exists), write the magic and the Header
 * (profile "", library "hermes <version>"). @p chunk_bytes 0: the default.
 * @return 0, HERMES_ESTATE (compression not built in), HERMES_ESYS, HERMES_ENOMEM. */
int hermes__mcap_open(hermes__mcap_t **out, const char *path, hermes_mcap_compression_t comp, size_t chunk_bytes);

/* Schema @p id (>= 1) and Channel @p id (schema 0: none). Written at once,
 * outside chunks, and repeated in the summary. Strings are copied. */
int hermes__mcap_schema(hermes__mcap_t *m, uint16_t id, const char *name, const char *encoding, const void *data,
                        size_t len);
int hermes__mcap_channel(hermes__mcap_t *m, uint16_t id, uint16_t schema, const char *topic, const char *encoding,
                         const hermes__mcap_kv_t *metadata, size_t n);
/* Metadata and Attachment records close the open chunk first (they live
 * outside chunks) and are indexed in the summary. */
int hermes__mcap_metadata(hermes__mcap_t *m, const char *name, const hermes__mcap_kv_t *kv, size_t n);
int hermes__mcap_attachment(hermes__mcap_t *m, uint64_t log_time, uint64_t create_time, const char *name,
                            const char *media_type, const void *data, size_t len);

/* Space for a message of at most @p max bytes in the open chunk (opening one,
 * or closing a full one first); write the payload there and commit its
 * length with hermes__mcap_message_end(). NULL after a failure. */
char *hermes__mcap_message_begin(hermes__mcap_t *m, uint16_t channel, uint64_t log_time, uint64_t publish_time,
                                 size_t max);
int hermes__mcap_message_end(hermes__mcap_t *m, size_t len);
/* The same in one call. */
int hermes__mcap_message(hermes__mcap_t *m, uint16_t channel, uint64_t log_time, uint64_t publish_time,
                         const void *data, size_t len);

/* Close the open chunk (if it holds anything) and write it with its message
 * indexes. */
int hermes__mcap_chunk_close(hermes__mcap_t *m);
/* Close the open chunk first if @p more bytes of messages would not fit in
 * it (a caller keeps a group of messages, e.g. a frame, in one chunk). */
int hermes__mcap_chunk_room(hermes__mcap_t *m, size_t more);
/* Wall nanoseconds (monotonic) since the open chunk got its first message; 0: no open chunk. */
uint64_t hermes__mcap_chunk_age_ns(const hermes__mcap_t *m);

/* Close the open chunk, write Data End, the summary, the summary offsets,
 * the Footer and the magic, and close the file. Frees @p m. Returns the
 * writer's first error if any (the file then ends at its last complete chunk). */
int hermes__mcap_close(hermes__mcap_t *m);
/* Close the file as it is (no summary) and free. NULL is fine. */
void hermes__mcap_abort(hermes__mcap_t *m);

/* 0 or the first error; its message ("" when none). */
int hermes__mcap_status(const hermes__mcap_t *m);
const char *hermes__mcap_errmsg(const hermes__mcap_t *m);
/* Bytes handed to the file so far, and messages written. */
uint64_t hermes__mcap_bytes(const hermes__mcap_t *m);
uint64_t hermes__mcap_messages(const hermes__mcap_t *m);

/* CRC-32 of the specification's CRC fields: common/crc32.h. */
#include "common/crc32.h"

#endif
