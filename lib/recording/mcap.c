/* MCAP writer from the published specification (mcap.h): records, chunks and
 * their compression (zstd, lz4 frames, none), message indexes, the summary
 * and the CRCs. Little-endian fields; strings are u32 length + bytes, maps
 * are u32 byte length + entries. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HERMES_HAVE_ZSTD
#include <zstd.h>
#endif
#ifdef HERMES_HAVE_LZ4
#include <lz4frame.h>
#endif

#include "hermes/version.h"
#include "common/crc32.h"
#include "recording/mcap.h"
#include "common/util.h"

enum {
    OP_HEADER = 0x01, OP_FOOTER = 0x02, OP_SCHEMA = 0x03, OP_CHANNEL = 0x04, OP_MESSAGE = 0x05, OP_CHUNK = 0x06,
    OP_MESSAGE_INDEX = 0x07, OP_CHUNK_INDEX = 0x08, OP_ATTACHMENT = 0x09, OP_ATTACHMENT_INDEX = 0x0A,
    OP_STATISTICS = 0x0B, OP_METADATA = 0x0C, OP_METADATA_INDEX = 0x0D, OP_SUMMARY_OFFSET = 0x0E, OP_DATA_END = 0x0F,
};

static const unsigned char MAGIC[8] = {0x89, 'M', 'C', 'A', 'P', 0x30, '\r', '\n'};
#define MSG_HEAD   31u        /* opcode, length, channel, sequence, log time, publish time */
#define OUT_FLUSH  (1u << 20) /* staged small records are written once this many bytes wait */
#define ZSTD_LEVEL 1          /* fast: recording speed over the last percent of size */


/* ---- byte buffers ----------------------------------------------------------------- */

struct buf {
    unsigned char *p;
    size_t         len, cap;
    bool           oom;
};

static bool reserve(struct buf *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->len + more <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void put(struct buf *b, const void *p, size_t n)
{
    if (n && reserve(b, n)) {
        memcpy(b->p + b->len, p, n);
        b->len += n;
    }
}

static void put_u8(struct buf *b, uint8_t v) { put(b, &v, 1); }
static void put_u16(struct buf *b, uint16_t v)
{
    unsigned char t[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    put(b, t, 2);
}
static void put_u32(struct buf *b, uint32_t v)
{
    unsigned char t[4];
    hermes__put_le32(t, v);
    put(b, t, 4);
}
static void put_u64(struct buf *b, uint64_t v)
{
    unsigned char t[8];
    hermes__put_le64(t, v);
    put(b, t, 8);
}
static void put_str(struct buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

/* Opcode and a length to fill in by rec_end(); returns the record's start. */
static size_t rec_begin(struct buf *b, uint8_t op)
{
    size_t at = b->len;
    put_u8(b, op);
    put_u64(b, 0);
    return at;
}

static void rec_end(struct buf *b, size_t at)
{
    if (!b->oom)
        hermes__put_le64(b->p + at + 1, (uint64_t)(b->len - at - 9));
}

/* Map<string, string>: byte length, then the pairs. */
static void put_kv(struct buf *b, const hermes__mcap_kv_t *kv, size_t n)
{
    size_t at = b->len;
    put_u32(b, 0);
    for (size_t i = 0; i < n; i++) {
        put_str(b, kv[i].key);
        put_str(b, kv[i].value);
    }
    if (!b->oom)
        hermes__put_le32(b->p + at, (uint32_t)(b->len - at - 4));
}

/* ---- the writer ------------------------------------------------------------------- */

struct chan {
    uint64_t *idx;     /* (log time, offset in the chunk's records) pairs of the open chunk */
    uint32_t  n, cap;
    uint32_t  seq;
    uint64_t  count;   /* messages in the file */
};

struct hermes__mcap {
    int                       fd;
    char                     *path;
    hermes_mcap_compression_t comp;
    size_t                    chunk_bytes;
    int                       failed;
    char                      errmsg[512];

    uint64_t pos;          /* file offset of the next byte */
    uint32_t crc;          /* running CRC of the data section, or of the summary */
    struct buf out;        /* staged bytes not yet written */
    struct buf chunk;      /* records of the open chunk, uncompressed */
    struct buf z;          /* the chunk compressed */
    uint64_t   chunk_t0, chunk_min, chunk_max, chunk_started_ns;
    size_t     pending;    /* open message: its offset in chunk (SIZE_MAX: none) */
    uint16_t   pending_ch;
    uint64_t   pending_time;

    struct chan *ch;       /* by channel id */
    uint32_t     nch;

    /* the summary, built as the file grows */
    struct buf s_schema, s_channel, s_chunk_index, s_attach_index, s_meta_index;
    uint64_t   messages, msg_min, msg_max;
    uint32_t   schemas, channels, attachments, metadata, chunks;
#ifdef HERMES_HAVE_ZSTD
    ZSTD_CCtx *zc;
#endif
};

static int fail(hermes__mcap_t *m, int code, const char *what, int err)
{
    if (!m->failed) {
        m->failed = code;
        snprintf(m->errmsg, sizeof m->errmsg, "%s '%s'%s%s", what, m->path, err ? ": " : "", err ? strerror(err) : "");
        hermes__log(HERMES_LOG_ERROR, "mcap", "event=write_failed file=%s error=\"%s\"", m->path, m->errmsg);
    }
    return hermes__fail(m->failed, "%s", m->errmsg);
}

static int oom(hermes__mcap_t *m) { return fail(m, HERMES_ENOMEM, "out of memory writing", 0); }

static int write_all(hermes__mcap_t *m, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(m->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fail(m, HERMES_ESYS, "cannot write", w < 0 ? errno : ENOSPC);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush_out(hermes__mcap_t *m)
{
    if (m->failed)
        return hermes__fail(m->failed, "%s", m->errmsg);
    if (m->out.oom)
        return oom(m);
    int rc = write_all(m, m->out.p, m->out.len);
    m->out.len = 0;
    return rc;
}

/* Stage bytes for the file (counted in the running CRC). */
static int emit(hermes__mcap_t *m, const void *p, size_t n)
{
    if (m->failed)
        return hermes__fail(m->failed, "%s", m->errmsg);
    m->crc = hermes__crc32(m->crc, p, n);
    m->pos += n;
    put(&m->out, p, n);
    if (m->out.oom)
        return oom(m);
    return m->out.len >= OUT_FLUSH ? flush_out(m) : 0;
}

/* A large block straight to the file, after what is staged. */
static int emit_direct(hermes__mcap_t *m, const void *p, size_t n)
{
    int rc = flush_out(m);
    if (rc)
        return rc;
    m->crc = hermes__crc32(m->crc, p, n);
    m->pos += n;
    return write_all(m, p, n);
}

static int emit_buf(hermes__mcap_t *m, struct buf *b)
{
    if (b->oom)
        return oom(m);
    int rc = emit(m, b->p, b->len);
    b->len = 0;
    return rc;
}

static const char *comp_name(hermes_mcap_compression_t c)
{
    return c == HERMES_MCAP_ZSTD ? "zstd" : c == HERMES_MCAP_LZ4 ? "lz4" : "";
}

HERMES_API bool hermes_mcap_compression_supported(hermes_mcap_compression_t c)
{
    switch (c) {
    case HERMES_MCAP_NONE: return true;
#ifdef HERMES_HAVE_ZSTD
    case HERMES_MCAP_ZSTD: return true;
#endif
#ifdef HERMES_HAVE_LZ4
    case HERMES_MCAP_LZ4: return true;
#endif
    default: return false;
    }
}

HERMES_API int hermes_mcap_compression_parse(const char *name, hermes_mcap_compression_t *out)
{
    static const struct {
        const char               *name;
        hermes_mcap_compression_t c;
    } names[] = {{"zstd", HERMES_MCAP_ZSTD}, {"lz4", HERMES_MCAP_LZ4}, {"none", HERMES_MCAP_NONE}};
    if (!name || !out)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (strcmp(name, names[i].name))
            continue;
        if (!hermes_mcap_compression_supported(names[i].c))
            return hermes__fail(HERMES_ESTATE, "MCAP compression '%s' is not built in (install lib%s-dev and "
                                               "reconfigure the build), use --compression none", name, name);
        *out = names[i].c;
        return 0;
    }
    return hermes__fail(HERMES_EINVAL, "unknown MCAP compression '%s' (zstd, lz4 or none)", name);
}

int hermes__mcap_open(hermes__mcap_t **out, const char *path, hermes_mcap_compression_t comp, size_t chunk_bytes)
{
    *out = NULL;
    if (!hermes_mcap_compression_supported(comp))
        return hermes__fail(HERMES_ESTATE, "MCAP compression '%s' is not built in (install lib%s-dev and "
                                           "reconfigure the build)", comp_name(comp), comp_name(comp));
    hermes__mcap_t *m = calloc(1, sizeof *m);
    if (!m || !(m->path = hermes__strdup(path))) {
        free(m);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    m->fd = -1;
    m->comp = comp;
    m->chunk_bytes = chunk_bytes ? chunk_bytes : HERMES_MCAP_CHUNK_BYTES;
    m->pending = SIZE_MAX;
#ifdef HERMES_HAVE_ZSTD
    if (comp == HERMES_MCAP_ZSTD && !(m->zc = ZSTD_createCCtx())) {
        hermes__mcap_abort(m);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
#endif
    m->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (m->fd < 0) {
        int e = errno;
        hermes__mcap_abort(m);
        return hermes__fail(HERMES_ESYS, "cannot create '%s': %s", path, strerror(e));
    }
    struct buf h = {0};
    put(&h, MAGIC, sizeof MAGIC);
    size_t at = rec_begin(&h, OP_HEADER);
    put_str(&h, "");
    put_str(&h, "hermes " HERMES_VERSION_STRING);
    rec_end(&h, at);
    int rc = emit_buf(m, &h);
    free(h.p);
    if (rc == 0)
        rc = flush_out(m);
    if (rc) {
        hermes__error_saved_t e;
        hermes__error_save(&e);
        hermes__mcap_abort(m);
        return hermes__error_restore(rc, &e);
    }
    *out = m;
    return 0;
}

/* Write a record built in @p b (outside chunks) and keep a copy for the summary in @p keep (may be NULL). */
static int record_out(hermes__mcap_t *m, struct buf *b, struct buf *keep)
{
    int rc = hermes__mcap_chunk_close(m);
    if (rc == 0 && keep)
        put(keep, b->p, b->len);
    if (rc == 0)
        rc = emit_buf(m, b);
    if (rc == 0)
        rc = flush_out(m);
    free(b->p);
    return rc;
}

int hermes__mcap_schema(hermes__mcap_t *m, uint16_t id, const char *name, const char *encoding, const void *data,
                        size_t len)
{
    struct buf b = {0};
    size_t at = rec_begin(&b, OP_SCHEMA);
    put_u16(&b, id);
    put_str(&b, name);
    put_str(&b, encoding);
    put_u32(&b, (uint32_t)len);
    put(&b, data, len);
    rec_end(&b, at);
    m->schemas++;
    return record_out(m, &b, &m->s_schema);
}

int hermes__mcap_channel(hermes__mcap_t *m, uint16_t id, uint16_t schema, const char *topic, const char *encoding,
                         const hermes__mcap_kv_t *metadata, size_t n)
{
    if ((uint32_t)id >= m->nch) {
        struct chan *c = realloc(m->ch, ((size_t)id + 1) * sizeof *c);
        if (!c)
            return oom(m);
        memset(c + m->nch, 0, ((size_t)id + 1 - m->nch) * sizeof *c);
        m->ch = c;
        m->nch = (uint32_t)id + 1;
    }
    struct buf b = {0};
    size_t at = rec_begin(&b, OP_CHANNEL);
    put_u16(&b, id);
    put_u16(&b, schema);
    put_str(&b, topic);
    put_str(&b, encoding);
    put_kv(&b, metadata, n);
    rec_end(&b, at);
    m->channels++;
    return record_out(m, &b, &m->s_channel);
}

int hermes__mcap_metadata(hermes__mcap_t *m, const char *name, const hermes__mcap_kv_t *kv, size_t n)
{
    int rc = hermes__mcap_chunk_close(m);
    if (rc)
        return rc;
    uint64_t off = m->pos;
    struct buf b = {0};
    size_t at = rec_begin(&b, OP_METADATA);
    put_str(&b, name);
    put_kv(&b, kv, n);
    rec_end(&b, at);
    uint64_t len = b.len;
    if ((rc = record_out(m, &b, NULL)) != 0)
        return rc;
    at = rec_begin(&m->s_meta_index, OP_METADATA_INDEX);
    put_u64(&m->s_meta_index, off);
    put_u64(&m->s_meta_index, len);
    put_str(&m->s_meta_index, name);
    rec_end(&m->s_meta_index, at);
    m->metadata++;
    return 0;
}

int hermes__mcap_attachment(hermes__mcap_t *m, uint64_t log_time, uint64_t create_time, const char *name,
                            const char *media_type, const void *data, size_t len)
{
    int rc = hermes__mcap_chunk_close(m);
    if (rc)
        return rc;
    uint64_t off = m->pos;
    struct buf b = {0};
    size_t at = rec_begin(&b, OP_ATTACHMENT);
    put_u64(&b, log_time);
    put_u64(&b, create_time);
    put_str(&b, name);
    put_str(&b, media_type);
    put_u64(&b, len);
    put(&b, data, len);
    put_u32(&b, b.oom ? 0 : hermes__crc32(0, b.p + at + 9, b.len - at - 9));  /* the fields before it */
    rec_end(&b, at);
    uint64_t rlen = b.len;
    if ((rc = record_out(m, &b, NULL)) != 0)
        return rc;
    struct buf *s = &m->s_attach_index;
    at = rec_begin(s, OP_ATTACHMENT_INDEX);
    put_u64(s, off);
    put_u64(s, rlen);
    put_u64(s, log_time);
    put_u64(s, create_time);
    put_u64(s, len);
    put_str(s, name);
    put_str(s, media_type);
    rec_end(s, at);
    m->attachments++;
    return 0;
}

/* ---- messages and chunks -------------------------------------------------------------- */

char *hermes__mcap_message_begin(hermes__mcap_t *m, uint16_t channel, uint64_t log_time, uint64_t publish_time,
                                 size_t max)
{
    if (m->failed || channel >= m->nch)
        return NULL;
    if (m->chunk.len && m->chunk.len + MSG_HEAD + max > m->chunk_bytes && hermes__mcap_chunk_close(m) != 0)
        return NULL;
    if (!reserve(&m->chunk, MSG_HEAD + max)) {
        oom(m);
        return NULL;
    }
    if (!m->chunk.len) {
        m->chunk_min = UINT64_MAX;
        m->chunk_max = 0;
        m->chunk_started_ns = hermes__now_ns();
    }
    unsigned char *p = m->chunk.p + m->chunk.len;
    p[0] = OP_MESSAGE;
    hermes__put_le64(p + 1, 0);
    p[9] = (unsigned char)channel;
    p[10] = (unsigned char)(channel >> 8);
    hermes__put_le32(p + 11, m->ch[channel].seq);
    hermes__put_le64(p + 15, log_time);
    hermes__put_le64(p + 23, publish_time);
    m->pending = m->chunk.len;
    m->pending_ch = channel;
    m->pending_time = log_time;
    return (char *)p + MSG_HEAD;
}

int hermes__mcap_message_end(hermes__mcap_t *m, size_t len)
{
    if (m->failed)
        return hermes__fail(m->failed, "%s", m->errmsg);
    if (m->pending == SIZE_MAX)
        return hermes__fail(HERMES_ESTATE, "MCAP message_end without message_begin");
    struct chan *c = &m->ch[m->pending_ch];
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? 2 * c->cap : 256;
        uint64_t *idx = realloc(c->idx, (size_t)cap * 2 * sizeof *idx);
        if (!idx)
            return oom(m);
        c->idx = idx;
        c->cap = cap;
    }
    hermes__put_le64(m->chunk.p + m->pending + 1, MSG_HEAD - 9 + len);
    c->idx[2 * c->n] = m->pending_time;
    c->idx[2 * c->n + 1] = m->pending;
    c->n++;
    c->seq++;
    c->count++;
    m->chunk.len += MSG_HEAD + len;
    m->pending = SIZE_MAX;
    if (m->pending_time < m->chunk_min)
        m->chunk_min = m->pending_time;
    if (m->pending_time > m->chunk_max)
        m->chunk_max = m->pending_time;
    m->messages++;
    return 0;
}

int hermes__mcap_message(hermes__mcap_t *m, uint16_t channel, uint64_t log_time, uint64_t publish_time,
                         const void *data, size_t len)
{
    char *p = hermes__mcap_message_begin(m, channel, log_time, publish_time, len);
    if (!p)
        return m->failed ? hermes__fail(m->failed, "%s", m->errmsg)
                         : hermes__fail(HERMES_EINVAL, "MCAP channel %u was not declared", channel);
    memcpy(p, data, len);
    return hermes__mcap_message_end(m, len);
}

int hermes__mcap_chunk_room(hermes__mcap_t *m, size_t more)
{
    if (m->chunk.len && m->chunk.len + more > m->chunk_bytes)
        return hermes__mcap_chunk_close(m);
    return m->failed ? hermes__fail(m->failed, "%s", m->errmsg) : 0;
}

uint64_t hermes__mcap_chunk_age_ns(const hermes__mcap_t *m)
{
    return m && m->chunk.len ? hermes__now_ns() - m->chunk_started_ns : 0;
}

/* The chunk's records compressed into m->z (or left as they are). */
static int compress_chunk(hermes__mcap_t *m, const unsigned char **data, size_t *len)
{
    *data = m->chunk.p;
    *len = m->chunk.len;
#ifdef HERMES_HAVE_ZSTD
    if (m->comp == HERMES_MCAP_ZSTD) {
        size_t bound = ZSTD_compressBound(m->chunk.len);
        m->z.len = 0;
        if (!reserve(&m->z, bound))
            return oom(m);
        size_t n = ZSTD_compressCCtx(m->zc, m->z.p, bound, m->chunk.p, m->chunk.len, ZSTD_LEVEL);
        if (ZSTD_isError(n))
            return fail(m, HERMES_ESYS, ZSTD_getErrorName(n), 0);
        *data = m->z.p;
        *len = n;
    }
#endif
#ifdef HERMES_HAVE_LZ4
    if (m->comp == HERMES_MCAP_LZ4) {
        LZ4F_preferences_t prefs;
        memset(&prefs, 0, sizeof prefs);
        prefs.frameInfo.contentSize = m->chunk.len;
        size_t bound = LZ4F_compressFrameBound(m->chunk.len, &prefs);
        m->z.len = 0;
        if (!reserve(&m->z, bound))
            return oom(m);
        size_t n = LZ4F_compressFrame(m->z.p, bound, m->chunk.p, m->chunk.len, &prefs);
        if (LZ4F_isError(n))
            return fail(m, HERMES_ESYS, LZ4F_getErrorName(n), 0);
        *data = m->z.p;
        *len = n;
    }
#endif
    return 0;
}

/* Message Index records of the chunk just written, then its Chunk Index. */
static int chunk_indexes(hermes__mcap_t *m, uint64_t start, uint64_t length, size_t clen)
{
    struct buf mi = {0}, map = {0};
    uint64_t mi_start = m->pos;
    for (uint32_t id = 0; id < m->nch; id++) {
        struct chan *c = &m->ch[id];
        if (!c->n)
            continue;
        put_u16(&map, (uint16_t)id);
        put_u64(&map, mi_start + mi.len);
        size_t at = rec_begin(&mi, OP_MESSAGE_INDEX);
        put_u16(&mi, (uint16_t)id);
        put_u32(&mi, c->n * 16u);
        if (reserve(&mi, (size_t)c->n * 16)) {
            for (uint32_t k = 0; k < 2 * c->n; k++)
                hermes__put_le64(mi.p + mi.len + 8 * k, c->idx[k]);
            mi.len += (size_t)c->n * 16;
        }
        rec_end(&mi, at);
        c->n = 0;
    }
    int rc = mi.oom || map.oom ? oom(m) : 0;
    uint64_t mi_len = mi.len;
    if (rc == 0)
        rc = emit_buf(m, &mi);
    struct buf *s = &m->s_chunk_index;
    size_t at = rec_begin(s, OP_CHUNK_INDEX);
    put_u64(s, m->chunk_min);
    put_u64(s, m->chunk_max);
    put_u64(s, start);
    put_u64(s, length);
    put_u32(s, (uint32_t)map.len);
    put(s, map.p, map.len);
    put_u64(s, mi_len);
    put_str(s, comp_name(m->comp));
    put_u64(s, clen);
    put_u64(s, m->chunk.len);
    rec_end(s, at);
    free(mi.p);
    free(map.p);
    return rc;
}

int hermes__mcap_chunk_close(hermes__mcap_t *m)
{
    if (m->failed)
        return hermes__fail(m->failed, "%s", m->errmsg);
    if (!m->chunk.len)
        return 0;
    const unsigned char *data;
    size_t clen;
    int rc = compress_chunk(m, &data, &clen);
    if (rc)
        return rc;
    const char *cn = comp_name(m->comp);
    struct buf h = {0};
    put_u8(&h, OP_CHUNK);
    put_u64(&h, 8 + 8 + 8 + 4 + 4 + strlen(cn) + 8 + clen);
    put_u64(&h, m->chunk_min);
    put_u64(&h, m->chunk_max);
    put_u64(&h, m->chunk.len);
    put_u32(&h, hermes__crc32(0, m->chunk.p, m->chunk.len));
    put_str(&h, cn);
    put_u64(&h, clen);
    uint64_t start = m->pos;
    rc = emit_buf(m, &h);
    free(h.p);
    if (rc == 0)
        rc = emit_direct(m, data, clen);
    if (rc == 0)
        rc = chunk_indexes(m, start, m->pos - start, clen);
    if (rc == 0)
        rc = flush_out(m);  /* the chunk and its indexes reach the file together */
    if (m->chunks == 0 || m->chunk_min < m->msg_min)
        m->msg_min = m->chunk_min;
    if (m->chunk_max > m->msg_max)
        m->msg_max = m->chunk_max;
    m->chunks++;
    m->chunk.len = 0;
    return rc;
}

/* ---- the end ------------------------------------------------------------------------ */

static void statistics(hermes__mcap_t *m, struct buf *b)
{
    size_t at = rec_begin(b, OP_STATISTICS);
    put_u64(b, m->messages);
    put_u16(b, (uint16_t)m->schemas);
    put_u32(b, m->channels);
    put_u32(b, m->attachments);
    put_u32(b, m->metadata);
    put_u32(b, m->chunks);
    put_u64(b, m->messages ? m->msg_min : 0);
    put_u64(b, m->messages ? m->msg_max : 0);
    size_t mat = b->len;
    put_u32(b, 0);
    for (uint32_t id = 0; id < m->nch; id++) {
        if (!m->ch[id].count)
            continue;
        put_u16(b, (uint16_t)id);
        put_u64(b, m->ch[id].count);
    }
    if (!b->oom)
        hermes__put_le32(b->p + mat, (uint32_t)(b->len - mat - 4));
    rec_end(b, at);
}

/* Data End, the summary groups, their offsets, the Footer and the magic. */
static int write_end(hermes__mcap_t *m)
{
    int rc = hermes__mcap_chunk_close(m);
    struct buf b = {0};
    put_u8(&b, OP_DATA_END);
    put_u64(&b, 4);
    put_u32(&b, m->crc);
    if (rc == 0)
        rc = emit_buf(m, &b);
    uint64_t summary_start = m->pos;
    m->crc = 0;  /* from here: the summary CRC */
    struct buf stats = {0};
    statistics(m, &stats);
    struct {
        uint8_t     op;
        struct buf *b;
    } groups[] = {{OP_SCHEMA, &m->s_schema},           {OP_CHANNEL, &m->s_channel},
                  {OP_STATISTICS, &stats},             {OP_CHUNK_INDEX, &m->s_chunk_index},
                  {OP_ATTACHMENT_INDEX, &m->s_attach_index}, {OP_METADATA_INDEX, &m->s_meta_index}};
    uint64_t gstart[6], glen[6];
    for (size_t g = 0; g < 6 && rc == 0; g++) {
        gstart[g] = m->pos;
        glen[g] = groups[g].b->len;
        if (groups[g].b->oom)
            rc = oom(m);
        else if (glen[g])
            rc = emit(m, groups[g].b->p, groups[g].b->len);
    }
    free(stats.p);
    uint64_t offsets_start = m->pos;
    for (size_t g = 0; g < 6 && rc == 0; g++) {
        if (!glen[g])
            continue;
        size_t at = rec_begin(&b, OP_SUMMARY_OFFSET);
        put_u8(&b, groups[g].op);
        put_u64(&b, gstart[g]);
        put_u64(&b, glen[g]);
        rec_end(&b, at);
        rc = emit_buf(m, &b);
    }
    put_u8(&b, OP_FOOTER);
    put_u64(&b, 20);
    put_u64(&b, summary_start);
    put_u64(&b, offsets_start);
    if (rc == 0)
        rc = emit_buf(m, &b);
    put_u32(&b, m->crc);
    put(&b, MAGIC, sizeof MAGIC);
    if (rc == 0)
        rc = emit_buf(m, &b);
    free(b.p);
    if (rc == 0)
        rc = flush_out(m);
    return rc;
}

int hermes__mcap_close(hermes__mcap_t *m)
{
    if (!m)
        return 0;
    int rc = m->failed ? hermes__fail(m->failed, "%s", m->errmsg) : write_end(m);
    if (m->fd >= 0 && close(m->fd) != 0 && rc == 0)
        rc = fail(m, HERMES_ESYS, "cannot close", errno);
    m->fd = -1;
    hermes__error_saved_t e;
    hermes__error_save(&e);
    hermes__mcap_abort(m);
    return rc ? hermes__error_restore(rc, &e) : 0;
}

void hermes__mcap_abort(hermes__mcap_t *m)
{
    if (!m)
        return;
    if (m->fd >= 0)
        close(m->fd);
#ifdef HERMES_HAVE_ZSTD
    ZSTD_freeCCtx(m->zc);
#endif
    for (uint32_t i = 0; i < m->nch; i++)
        free(m->ch[i].idx);
    free(m->ch);
    free(m->out.p);
    free(m->chunk.p);
    free(m->z.p);
    free(m->s_schema.p);
    free(m->s_channel.p);
    free(m->s_chunk_index.p);
    free(m->s_attach_index.p);
    free(m->s_meta_index.p);
    free(m->path);
    free(m);
}

int hermes__mcap_status(const hermes__mcap_t *m) { return m ? m->failed : HERMES_EINVAL; }
const char *hermes__mcap_errmsg(const hermes__mcap_t *m) { return m && m->failed ? m->errmsg : ""; }
uint64_t hermes__mcap_bytes(const hermes__mcap_t *m) { return m ? m->pos : 0; }
uint64_t hermes__mcap_messages(const hermes__mcap_t *m) { return m ? m->messages : 0; }
