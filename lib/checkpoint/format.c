/* Checkpoint files: write (temporary name, fsync, rename) and read with every check (docs/checkpoints.md). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/format.h"
#include "common/crc32.h"
#include "common/util.h"
#include "hermes/error.h"

uint64_t hermes__ckpt_identity_hash(const struct hermes__ckpt *c)
{
    uint64_t h = HERMES__FNV64_INIT;
    for (uint32_t i = 0; i < c->nmods; i++) {
        const struct hermes__ckpt_module *m = &c->mods[i];
        h = hermes__fnv64(h, m->name, strlen(m->name) + 1);
        uint32_t v[3] = {m->type, m->rate_div, m->rate_offset};
        h = hermes__fnv64(h, v, sizeof v);
    }
    for (uint32_t i = 0; i < c->nsigs; i++) {
        h = hermes__fnv64(h, c->sigs[i].name, strlen(c->sigs[i].name) + 1);
        h = hermes__fnv64(h, &c->sigs[i].type, sizeof c->sigs[i].type);
    }
    return hermes__fnv64(h, &c->rate_hz, sizeof c->rate_hz);
}

/* ---- a growing little-endian buffer --------------------------------------------- */

struct buf {
    unsigned char *p;
    size_t         len, cap;
    bool           oom;
};

static void put(struct buf *b, const void *v, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, v, n);
    b->len += n;
}

static void put_u32(struct buf *b, uint32_t v) { put(b, &v, sizeof v); }  /* x86-64 / aarch64: little-endian */
static void put_u64(struct buf *b, uint64_t v) { put(b, &v, sizeof v); }
static void put_str(struct buf *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    put_u32(b, n);
    put(b, s, n);
}

static int encode(const struct hermes__ckpt *c, struct buf *b)
{
    put(b, HERMES__CKPT_MAGIC, 8);
    put_u32(b, HERMES__CKPT_VERSION);
    put_u32(b, c->flags);
    put_u64(b, 0);  /* total size, patched below */
    put_u64(b, c->frame);
    put_u64(b, c->time_ns);
    put_u64(b, c->ticks);
    put(b, &c->rate_hz, sizeof c->rate_hz);
    put_u32(b, c->has_seed);
    put_u32(b, 0);
    put_u64(b, c->seed);
    put_u64(b, c->config_hash);
    put_u64(b, c->journal_position);
    put_u32(b, c->nmods);
    put_u32(b, c->nsigs);
    for (uint32_t i = 0; i < c->nmods; i++) {
        const struct hermes__ckpt_module *m = &c->mods[i];
        put_str(b, m->name);
        put_u32(b, m->type);
        put_u32(b, m->rate_div);
        put_u32(b, m->rate_offset);
        put_u32(b, m->state_kind);
        put_u64(b, m->rate_next);
        put_u64(b, m->state_len);
        put(b, m->state, (size_t)m->state_len);
    }
    for (uint32_t i = 0; i < c->nsigs; i++) {
        put_str(b, c->sigs[i].name);
        put_u32(b, c->sigs[i].type);
        put_u64(b, c->sigs[i].bits);
    }
    put_u32(b, c->njournal);
    for (uint32_t i = 0; i < c->njournal; i++) {
        put_u32(b, c->journal[i].kind);
        put_u32(b, c->journal[i].index);
        put(b, &c->journal[i].value, sizeof c->journal[i].value);
        put_u64(b, c->journal[i].frame);
    }
    put_u64(b, 0);  /* the CRC word, patched below */
    if (b->oom)
        return hermes__fail(HERMES_ENOMEM, "out of memory writing a checkpoint");
    uint64_t total = b->len;
    memcpy(b->p + 16, &total, sizeof total);
    uint64_t crc = hermes__crc32(0, b->p, b->len - 8);
    memcpy(b->p + b->len - 8, &crc, sizeof crc);
    return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : ENOSPC;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fsync_dir(const char *path)
{
    char dir[PATH_MAX];
    hermes__strlcpy(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        hermes__strlcpy(dir, ".", sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int hermes__ckpt_write(const char *path, const struct hermes__ckpt *c)
{
    struct buf b = {0};
    int rc = encode(c, &b);
    if (rc) {
        free(b.p);
        return rc;
    }
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof tmp) {
        free(b.p);
        return hermes__fail(HERMES_EINVAL, "checkpoint path too long: %s", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(b.p);
        return hermes__fail(HERMES_ESYS, "cannot write checkpoint '%s': %s", path, strerror(e));
    }
    int e = write_all(fd, b.p, b.len);
    if (!e && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    free(b.p);
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        return hermes__fail(HERMES_ESYS, "cannot write checkpoint '%s': %s", path, strerror(e));
    }
    fsync_dir(path);
    return 0;
}

/* ---- reading ------------------------------------------------------------------------ */

struct rd {
    const unsigned char *p;
    size_t               len, at;
    bool                 bad;
};

static void get(struct rd *r, void *out, size_t n)
{
    if (r->bad || r->len - r->at < n) {
        r->bad = true;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p + r->at, n);
    r->at += n;
}

static uint32_t get_u32(struct rd *r)
{
    uint32_t v;
    get(r, &v, sizeof v);
    return v;
}

static uint64_t get_u64(struct rd *r)
{
    uint64_t v;
    get(r, &v, sizeof v);
    return v;
}

static char *get_str(struct rd *r)
{
    uint32_t n = get_u32(r);
    if (r->bad || n > 4096 || r->len - r->at < n) {
        r->bad = true;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = true;
        return NULL;
    }
    memcpy(s, r->p + r->at, n);
    s[n] = '\0';
    r->at += n;
    return s;
}

static int decode(struct rd *r, struct hermes__ckpt *c, const char *path)
{
    c->frame = get_u64(r);
    c->time_ns = get_u64(r);
    c->ticks = get_u64(r);
    get(r, &c->rate_hz, sizeof c->rate_hz);
    c->has_seed = get_u32(r);
    (void)get_u32(r);
    c->seed = get_u64(r);
    c->config_hash = get_u64(r);
    c->journal_position = get_u64(r);
    uint32_t nmods = get_u32(r), nsigs = get_u32(r);
    if (r->bad || nmods > (r->len - r->at) / 36 || nsigs > (r->len - r->at) / 16)
        return hermes__fail(HERMES_EFORMAT, "checkpoint '%s': malformed (module or signal count)", path);
    c->mods = calloc(nmods ? nmods : 1, sizeof *c->mods);
    c->sigs = calloc(nsigs ? nsigs : 1, sizeof *c->sigs);
    if (!c->mods || !c->sigs)
        return hermes__fail(HERMES_ENOMEM, "out of memory reading checkpoint '%s'", path);
    for (uint32_t i = 0; i < nmods && !r->bad; i++) {
        struct hermes__ckpt_module *m = &c->mods[c->nmods++];
        m->name = get_str(r);
        m->type = get_u32(r);
        m->rate_div = get_u32(r);
        m->rate_offset = get_u32(r);
        m->state_kind = get_u32(r);
        m->rate_next = get_u64(r);
        m->state_len = get_u64(r);
        if (r->bad || m->state_len > r->len - r->at) {
            r->bad = true;
            break;
        }
        if (m->state_len) {
            if (!(m->state = malloc((size_t)m->state_len)))
                return hermes__fail(HERMES_ENOMEM, "out of memory reading checkpoint '%s'", path);
            get(r, m->state, (size_t)m->state_len);
        }
    }
    for (uint32_t i = 0; i < nsigs && !r->bad; i++) {
        c->nsigs++;
        c->sigs[i].name = get_str(r);
        c->sigs[i].type = get_u32(r);
        c->sigs[i].bits = get_u64(r);
    }
    uint32_t nj = get_u32(r);
    if (r->bad || nj > (r->len - r->at) / 24)
        return hermes__fail(HERMES_EFORMAT, "checkpoint '%s': malformed (journal count)", path);
    if (nj && !(c->journal = calloc(nj, sizeof *c->journal)))
        return hermes__fail(HERMES_ENOMEM, "out of memory reading checkpoint '%s'", path);
    for (uint32_t i = 0; i < nj && !r->bad; i++, c->njournal++) {
        c->journal[i].kind = get_u32(r);
        c->journal[i].index = get_u32(r);
        get(r, &c->journal[i].value, sizeof c->journal[i].value);
        c->journal[i].frame = get_u64(r);
    }
    if (r->bad || r->at != r->len - 8)
        return hermes__fail(HERMES_EFORMAT, "checkpoint '%s': malformed (records do not fill the file)", path);
    return 0;
}

static int slurp(const char *path, unsigned char **out, size_t *len)
{
    int rc = hermes__read_file(path, HERMES__CKPT_MAX_BYTES, out, len);
    if (rc == HERMES_ENOENT || (rc == HERMES_ESYS && errno != EISDIR))
        return hermes__fail(rc, "cannot open checkpoint '%s': %s", path, strerror(errno));
    if (rc == HERMES_ENOMEM)
        return hermes__fail(rc, "cannot read checkpoint '%s': out of memory", path);
    if (rc)
        return hermes__fail(HERMES_EFORMAT, "checkpoint '%s': not a regular file of at most %llu bytes", path,
                            (unsigned long long)HERMES__CKPT_MAX_BYTES);
    return 0;
}

int hermes__ckpt_read(const char *path, struct hermes__ckpt *c)
{
    memset(c, 0, sizeof *c);
    unsigned char *p = NULL;
    size_t len = 0;
    int rc = slurp(path, &p, &len);
    if (rc)
        return rc;
    struct rd r = {p, len, 0, false};
    char magic[8];
    get(&r, magic, sizeof magic);
    uint32_t version = get_u32(&r);
    c->flags = get_u32(&r);
    uint64_t total = get_u64(&r);
    if (r.bad || memcmp(magic, HERMES__CKPT_MAGIC, 8) != 0)
        rc = hermes__fail(HERMES_EFORMAT, "'%s' is not a Hermes checkpoint (no %s magic)", path, HERMES__CKPT_MAGIC);
    else if (version > HERMES__CKPT_VERSION)
        rc = hermes__fail(HERMES_EABI, "checkpoint '%s' has format version %u; this Hermes reads version %u and older",
                          path, version, HERMES__CKPT_VERSION);
    else if (total != len)
        rc = hermes__fail(HERMES_EFORMAT, "checkpoint '%s' is truncated or padded: %zu bytes, its header says %llu",
                          path, len, (unsigned long long)total);
    else {
        uint64_t want;
        memcpy(&want, p + len - 8, sizeof want);
        if (want != hermes__crc32(0, p, len - 8))
            rc = hermes__fail(HERMES_EFORMAT, "checkpoint '%s': checksum mismatch (the file is corrupted)", path);
        else
            rc = decode(&r, c, path);
    }
    free(p);
    if (rc)
        hermes__ckpt_free(c);
    return rc;
}

void hermes__ckpt_free(struct hermes__ckpt *c)
{
    for (uint32_t i = 0; i < c->nmods; i++) {
        free(c->mods[i].name);
        free(c->mods[i].state);
    }
    for (uint32_t i = 0; i < c->nsigs; i++)
        free(c->sigs[i].name);
    free(c->mods);
    free(c->sigs);
    free(c->journal);
    memset(c, 0, sizeof *c);
}
