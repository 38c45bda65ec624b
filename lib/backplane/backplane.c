/* The shared-memory backplane: create/open a segment of named signals, find
 * them by name, read/write the live region and publish/snapshot the
 * double-buffered copy. Layout in backplane/layout.h. */
#include "backplane/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

#define ALIGN64(x) (((x) + 63u) & ~(uint64_t)63u)

/* Signal types: X(enum, name). The one table behind hermes_type_name() and
 * hermes_type_parse() (and, through them, the config file's words). */
#define TYPE_TABLE(X)           \
    X(HERMES_TYPE_F64, "f64")   \
    X(HERMES_TYPE_F32, "f32")   \
    X(HERMES_TYPE_I64, "i64")   \
    X(HERMES_TYPE_I32, "i32")   \
    X(HERMES_TYPE_BOOL, "bool")
#define X_NAME(type, name) [type] = name,
#define X_LIST(type, name) " " name
static const char *const type_names[] = {[HERMES_TYPE_NONE] = "none", TYPE_TABLE(X_NAME)};

HERMES_API const char *hermes_type_name(hermes_type_t type)
{
    return (unsigned)type < sizeof type_names / sizeof *type_names ? type_names[type] : "none";
}

HERMES_API int hermes_type_parse(const char *name, hermes_type_t *out)
{
    if (!name || !out)
        return hermes__fail(HERMES_EINVAL, "type name is NULL");
    for (unsigned i = 1; i < sizeof type_names / sizeof *type_names; i++)
        if (strcmp(name, type_names[i]) == 0) {
            *out = (hermes_type_t)i;
            return 0;
        }
    return hermes__fail(HERMES_EINVAL, "unknown signal type '%s' (expected one of:" TYPE_TABLE(X_LIST) ")", name);
}

HERMES_API int hermes_type_check(hermes_type_t type, double v)
{
    switch (type) {
    case HERMES_TYPE_NONE:
    case HERMES_TYPE_F64:
        return 0;
    case HERMES_TYPE_F32:
        if (isfinite(v) && fabs(v) > FLT_MAX)
            return hermes__fail(HERMES_ETYPE, "value %.17g is outside the f32 range", v);
        return 0;
    case HERMES_TYPE_I32:
        if (!isfinite(v) || v != floor(v) || v < -2147483648.0 || v > 2147483647.0)
            return hermes__fail(HERMES_ETYPE, "value %.17g is not an i32 (integer in [-2^31, 2^31-1])", v);
        return 0;
    case HERMES_TYPE_I64:
        /* The doubles nearest to the int64 values: integers in [-2^63, 2^63];
         * 2^63 stands for INT64_MAX (2^63 - 1 is not a double). */
        if (!isfinite(v) || v != floor(v) || v < -0x1p63 || v > 0x1p63)
            return hermes__fail(HERMES_ETYPE, "value %.17g is not an i64 (an integer in [-2^63, 2^63-1])", v);
        return 0;
    case HERMES_TYPE_BOOL:
        if (v != 0.0 && v != 1.0)
            return hermes__fail(HERMES_ETYPE, "value %.17g is not a bool (0 or 1)", v);
        return 0;
    }
    return hermes__fail(HERMES_ETYPE, "unknown type %d", (int)type);
}

/* Build the name index used by find(). A name given twice is an error
 * (create checks its input; a segment opened from outside is trusted to have
 * been created by create). */
static int build_index(hermes_backplane_t *bp)
{
    if (hermes__names_reserve(&bp->index, bp->count) != 0)
        return hermes__fail(HERMES_ENOMEM, "out of memory for the signal index");
    for (uint32_t i = 0; i < bp->count; i++) {
        const char *n = bp->dir[i].name;
        int put = hermes__names_put(&bp->index, n, strnlen(n, sizeof bp->dir[i].name), i, NULL);
        if (put < 0)
            return hermes__fail(HERMES_ENOMEM, "out of memory for the signal index");
        if (put > 0)
            return hermes__fail(HERMES_EINVAL, "duplicate signal name '%s'", n);
    }
    return 0;
}

static void attach_regions(hermes_backplane_t *bp, void *base)
{
    uint8_t *b = base;
    bp->hdr = base;
    bp->dir = (struct hermes_shm_signal *)(b + bp->hdr->dir_offset);
    bp->ctrl = b + bp->hdr->ctrl_offset;
    bp->live = (double *)(b + bp->hdr->live_offset);
    bp->pub[0] = (double *)(b + bp->hdr->pub_offset);
    bp->pub[1] = (double *)(b + bp->hdr->pub_offset + ALIGN64((uint64_t)bp->hdr->signal_count * sizeof(double)));
    bp->count = bp->hdr->signal_count;
    bp->tag = bp->hdr->tag;
}

static int valid_run_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len >= 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}


/* The module list of create: given, or derived from the signals in order of
 * appearance; each checked and put in *idx (name -> index). On success the
 * caller owns *mods (free) and *idx (hermes__names_free). */
static int module_list(const hermes_backplane_config_t *cfg, const char ***mods_out, uint32_t *nmod_out,
                       struct hermes__names *idx)
{
    uint32_t nmod = cfg->module_count;
    const char **mods;
    hermes__names_init(idx);
    int rc = 0;
    if (cfg->modules) {
        mods = malloc((nmod ? nmod : 1) * sizeof *mods);
        if (!mods)
            return hermes__fail(HERMES_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < nmod; i++)
            mods[i] = cfg->modules[i];
    } else {
        mods = malloc((cfg->signal_count ? cfg->signal_count : 1) * sizeof *mods);
        if (!mods)
            return hermes__fail(HERMES_ENOMEM, "out of memory");
        nmod = 0;
        for (uint32_t i = 0; i < cfg->signal_count; i++) {
            const char *m = cfg->signals[i].module;
            uint32_t at;
            if (m && hermes__names_get(idx, m, strlen(m), &at) != 0) {
                if (hermes__names_put(idx, m, strlen(m), nmod, NULL) < 0) {
                    rc = hermes__fail(HERMES_ENOMEM, "out of memory");
                    goto fail;
                }
                mods[nmod++] = m;
            }
        }
    }
    hermes__names_free(idx);
    for (uint32_t i = 0; i < nmod; i++) {
        if (!mods[i] || !*mods[i] || strlen(mods[i]) > HERMES_MAX_MODULE_NAME) {
            rc = hermes__fail(HERMES_EINVAL, "module name %u is empty or longer than %d characters", i,
                              HERMES_MAX_MODULE_NAME);
            goto fail;
        }
        int put = hermes__names_put(idx, mods[i], strlen(mods[i]), i, NULL);
        if (put != 0) {
            rc = put < 0 ? hermes__fail(HERMES_ENOMEM, "out of memory")
                         : hermes__fail(HERMES_EINVAL, "duplicate module name '%s'", mods[i]);
            goto fail;
        }
    }
    *mods_out = mods;
    *nmod_out = nmod;
    return 0;
fail:
    hermes__names_free(idx);
    free(mods);
    return rc;
}

/* The segment's run name: the host's (checked) or hermes-PID-RANDOM. */
static int segment_name(const hermes_backplane_config_t *cfg, char name[64])
{
    if (cfg->run_name) {
        if (!valid_run_name(cfg->run_name))
            return hermes__fail(HERMES_EINVAL, "run name '%s' must be 1-63 characters of [A-Za-z0-9._-]",
                                cfg->run_name);
        hermes__strlcpy(name, cfg->run_name, 64);
        return 0;
    }
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint32_t)hermes__now_ns();
    snprintf(name, 64, HERMES_SEGMENT_PREFIX "%ld-%08x", (long)getpid(), r);
    return 0;
}

/* Create, size and map a new segment of `total` bytes; *base is its mapping.
 * Nothing is left in /dev/shm on failure. */
static int map_new_segment(const char *name, uint64_t total, void **base)
{
    char path[72];
    snprintf(path, sizeof path, "/%s", name);
    int fd = shm_open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? hermes__fail(HERMES_EEXIST, "shared memory segment '%s' already exists", name)
                               : hermes__fail(HERMES_ESYS, "shm_open('%s'): %s", name, strerror(errno));
    if (ftruncate(fd, (off_t)total) != 0) {
        int rc = hermes__fail(HERMES_ESYS, "ftruncate('%s', %llu): %s", name, (unsigned long long)total,
                              strerror(errno));
        close(fd);
        shm_unlink(path);
        return rc;
    }
    *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (*base == MAP_FAILED) {
        int rc = hermes__fail(HERMES_ESYS, "mmap('%s'): %s", name, strerror(errno));
        shm_unlink(path);
        return rc;
    }
    return 0;
}

/* The header of a new segment: the regions' offsets (in the order of the
 * layout), counts, owner and a random tag. Returns the total size. */
static uint64_t layout_header(struct hermes_shm_header *h, uint64_t n, uint32_t nmod)
{
    memset(h, 0, sizeof *h);
    h->dir_offset = ALIGN64(sizeof(struct hermes_shm_header));
    h->ctrl_offset = ALIGN64(h->dir_offset + n * sizeof(struct hermes_shm_signal));
    h->live_offset = ALIGN64(h->ctrl_offset + (uint64_t)nmod * HERMES_SHM_CTRL_SIZE);
    h->pub_offset = ALIGN64(h->live_offset + n * sizeof(double));
    h->total_size = h->pub_offset + 2 * ALIGN64(n * sizeof(double));
    h->magic = HERMES_SHM_MAGIC;
    h->layout_version = HERMES_SHM_VERSION;
    h->signal_count = (uint32_t)n;
    h->module_count = nmod;
    h->owner_pid = (int32_t)getpid();
    uint32_t tag = 0;
    if (getrandom(&tag, sizeof tag, 0) != (ssize_t)sizeof tag)
        tag = (uint32_t)hermes__now_ns();
    h->tag = tag | 1u; /* never 0, so a zeroed hermes_signal_t is always invalid */
    return h->total_size;
}

/* Check signal i of the host's list and write its directory entry and
 * initial value into all three value regions. */
static int put_signal(hermes_backplane_t *bp, uint32_t i, const hermes_signal_spec_t *s,
                      const struct hermes__names *modidx)
{
    struct hermes_shm_signal *d = &bp->dir[i];
    if (!s->module || !s->name || !*s->name)
        return hermes__fail(HERMES_EINVAL, "signal %u has no module or name", i);
    uint32_t mi;
    if (hermes__names_get(modidx, s->module, strlen(s->module), &mi) != 0)
        return hermes__fail(HERMES_EINVAL, "signal '%s' names unknown module '%s'", s->name, s->module);
    size_t ml = strlen(s->module), sl = strlen(s->name);
    if (ml + 1 + sl > HERMES_MAX_NAME)
        return hermes__fail(HERMES_EINVAL, "signal name '%s.%s' is longer than %d characters", s->module, s->name,
                            HERMES_MAX_NAME);
    if (s->unit && strlen(s->unit) > HERMES_MAX_UNIT)
        return hermes__fail(HERMES_EINVAL, "unit '%s' of '%s.%s' is longer than %d characters", s->unit, s->module,
                            s->name, HERMES_MAX_UNIT);
    hermes_type_t t = s->type == HERMES_TYPE_NONE ? HERMES_TYPE_F64 : s->type;
    if ((unsigned)t > HERMES_TYPE_BOOL)
        return hermes__fail(HERMES_EINVAL, "signal '%s.%s' has unknown type %d", s->module, s->name, (int)t);
    if (hermes_type_check(t, s->initial) != 0)
        return hermes__fail(HERMES_EINVAL, "initial value %.17g of '%s.%s' does not fit type %s", s->initial,
                            s->module, s->name, hermes_type_name(t));
    memcpy(d->name, s->module, ml);
    d->name[ml] = '.';
    memcpy(d->name + ml + 1, s->name, sl + 1);
    d->local_offset = (uint16_t)(ml + 1);
    hermes__strlcpy(d->unit, s->unit ? s->unit : "", sizeof d->unit);
    d->initial = s->initial;
    d->module_index = mi;
    d->type = (uint8_t)t;
    d->writable = s->writable ? 1 : 0;
    bp->live[i] = s->initial;
    bp->pub[0][i] = s->initial;
    bp->pub[1][i] = s->initial;
    return 0;
}

HERMES_API int hermes_backplane_create(hermes_backplane_t **out, const hermes_backplane_config_t *cfg)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_backplane_create: out is NULL");
    *out = NULL;
    if (!cfg || cfg->size == 0)
        return hermes__fail(HERMES_EINVAL, "hermes_backplane_create: config missing or not initialised "
                                           "(call hermes_backplane_config_init)");
    if (cfg->signal_count && !cfg->signals)
        return hermes__fail(HERMES_EINVAL, "hermes_backplane_create: signals is NULL");

    const char **mods = NULL;
    uint32_t nmod = 0;
    struct hermes__names modidx;
    int rc = module_list(cfg, &mods, &nmod, &modidx);
    if (rc)
        return rc;
    char name[64];
    struct hermes_shm_header hdr;
    uint64_t total = layout_header(&hdr, cfg->signal_count, nmod);
    void *base = NULL;
    hermes_backplane_t *bp = NULL;
    if ((rc = segment_name(cfg, name)) != 0)
        goto out;
    bp = calloc(1, sizeof *bp);
    if (!bp) {
        rc = hermes__fail(HERMES_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = map_new_segment(name, total, &base)) != 0) {
        free(bp);
        bp = NULL;
        goto out;
    }
    bp->size = total;
    bp->owner = 1;
    hermes__strlcpy(bp->name, name, sizeof bp->name);
    hermes__strlcpy(hdr.run_name, name, sizeof hdr.run_name);
    memcpy(base, &hdr, sizeof hdr);
    attach_regions(bp, base);
    for (uint32_t i = 0; i < nmod; i++)
        hermes__strlcpy(((struct hermes_shm_ctrl *)hermes__bp_ctrl(bp, i))->name, mods[i],
                        HERMES_MAX_MODULE_NAME + 1);
    for (uint32_t i = 0; i < cfg->signal_count && rc == 0; i++)
        rc = put_signal(bp, i, &cfg->signals[i], &modidx);
    if (rc == 0)
        rc = build_index(bp);
    if (rc == 0) {
        *out = bp;
        bp = NULL;
    }
out:
    if (bp)
        hermes_backplane_destroy(bp);
    hermes__names_free(&modidx);
    free(mods);
    return rc;
}

HERMES_API int hermes_backplane_open(hermes_backplane_t **out, const char *run_name)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_backplane_open: out is NULL");
    *out = NULL;
    if (!run_name)
        return hermes__fail(HERMES_EINVAL, "hermes_backplane_open: run name is NULL");
    if (run_name[0] == '/')
        run_name++;
    if (!valid_run_name(run_name))
        return hermes__fail(HERMES_EINVAL, "invalid run name '%s'", run_name);
    char path[72];
    snprintf(path, sizeof path, "/%s", run_name);
    int fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return errno == ENOENT ? hermes__fail(HERMES_ENOENT, "no backplane named '%s' (is the run alive?)", run_name)
                               : hermes__fail(HERMES_ESYS, "shm_open('%s'): %s", run_name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(struct hermes_shm_header)) {
        close(fd);
        return hermes__fail(HERMES_EABI, "segment '%s' is too small to be a Hermes backplane", run_name);
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return hermes__fail(HERMES_ESYS, "mmap('%s'): %s", run_name, strerror(errno));
    const struct hermes_shm_header *h = base;
    if (h->magic != HERMES_SHM_MAGIC || h->layout_version != HERMES_SHM_VERSION ||
        h->total_size != (uint64_t)st.st_size) {
        munmap(base, (size_t)st.st_size);
        return hermes__fail(HERMES_EABI, "segment '%s' is not a Hermes backplane of layout version %u", run_name,
                            HERMES_SHM_VERSION);
    }
    hermes_backplane_t *bp = calloc(1, sizeof *bp);
    if (!bp) {
        munmap(base, (size_t)st.st_size);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    bp->size = (size_t)st.st_size;
    hermes__strlcpy(bp->name, run_name, sizeof bp->name);
    attach_regions(bp, base);
    int rc = build_index(bp);
    if (rc) {
        hermes_backplane_destroy(bp);
        return rc;
    }
    *out = bp;
    return 0;
}

HERMES_API void hermes_backplane_destroy(hermes_backplane_t *bp)
{
    if (!bp)
        return;
    if (bp->hdr)
        munmap(bp->hdr, bp->size);
    if (bp->owner) {
        char path[72];
        snprintf(path, sizeof path, "/%s", bp->name);
        shm_unlink(path);
    }
    hermes__names_free(&bp->index);
    free(bp);
}

HERMES_API const char *hermes_backplane_name(const hermes_backplane_t *bp) { return bp ? bp->name : ""; }
HERMES_API uint32_t hermes_backplane_count(const hermes_backplane_t *bp) { return bp ? bp->count : 0; }
HERMES_API uint32_t hermes_backplane_module_count(const hermes_backplane_t *bp)
{
    return bp ? bp->hdr->module_count : 0;
}

HERMES_API const char *hermes_backplane_module_name(const hermes_backplane_t *bp, uint32_t i)
{
    if (!bp || i >= bp->hdr->module_count)
        return NULL;
    return ((const struct hermes_shm_ctrl *)(bp->ctrl + (size_t)i * HERMES_SHM_CTRL_SIZE))->name;
}

HERMES_API int hermes_backplane_find(const hermes_backplane_t *bp, const char *qn, hermes_signal_t *out)
{
    if (!bp || !qn || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_backplane_find: NULL argument");
    uint32_t i;
    if (hermes__names_get(&bp->index, qn, strlen(qn), &i) != 0)
        return hermes__fail(HERMES_ENOENT, "no signal named '%s'", qn);
    out->index = i;
    out->tag = bp->tag;
    return 0;
}

HERMES_API int hermes_backplane_info(const hermes_backplane_t *bp, uint32_t index, hermes_signal_info_t *out)
{
    if (!bp || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_backplane_info: NULL argument");
    if (index >= bp->count)
        return hermes__fail(HERMES_ENOENT, "signal index %u out of range (%u signals)", index, bp->count);
    const struct hermes_shm_signal *d = &bp->dir[index];
    const struct hermes_shm_ctrl *m =
        (const struct hermes_shm_ctrl *)(bp->ctrl + (size_t)d->module_index * HERMES_SHM_CTRL_SIZE);
    out->id.index = index;
    out->id.tag = bp->tag;
    out->name = d->name;
    out->module = m->name;
    out->local_name = d->name + d->local_offset;
    out->unit = d->unit;
    out->type = (hermes_type_t)d->type;
    out->writable = d->writable != 0;
    out->initial = d->initial;
    out->module_index = d->module_index;
    return 0;
}

static inline int valid(const hermes_backplane_t *bp, hermes_signal_t s)
{
    return bp && s.tag == bp->tag && s.index < bp->count;
}

HERMES_API int hermes_backplane_read(const hermes_backplane_t *bp, hermes_signal_t sig, double *out)
{
    if (!valid(bp, sig) || !out)
        return hermes__fail(HERMES_ENOENT, "invalid signal id (index %u)", sig.index);
    *out = bp->live[sig.index];
    return 0;
}

HERMES_API int hermes_backplane_write(hermes_backplane_t *bp, hermes_signal_t sig, double value)
{
    if (!valid(bp, sig))
        return hermes__fail(HERMES_ENOENT, "invalid signal id (index %u)", sig.index);
    const struct hermes_shm_signal *d = &bp->dir[sig.index];
    if (hermes_type_check((hermes_type_t)d->type, value) != 0)
        return hermes__fail(HERMES_ETYPE, "cannot write %.17g to %s signal '%s'", value,
                            hermes_type_name((hermes_type_t)d->type), d->name);
    bp->live[sig.index] = value;
    return 0;
}

HERMES_API double *hermes_backplane_slot(hermes_backplane_t *bp, hermes_signal_t sig)
{
    return valid(bp, sig) ? &bp->live[sig.index] : NULL;
}

HERMES_API uint64_t hermes_backplane_frame(const hermes_backplane_t *bp)
{
    return bp ? atomic_load_explicit(&bp->hdr->frame, memory_order_acquire) : 0;
}

HERMES_API uint64_t hermes_backplane_time_ns(const hermes_backplane_t *bp)
{
    return bp ? atomic_load_explicit(&bp->hdr->time_ns, memory_order_acquire) : 0;
}

/* Writer of the double-buffered publication (see backplane/layout.h). The
 * copy into the spare buffer races with readers that were too slow to finish
 * the previous copy; they detect it through seq and retry, so TSan is told to
 * look away. */
__attribute__((no_sanitize("thread")))
HERMES_API void hermes_backplane_publish(hermes_backplane_t *bp, uint64_t frame, uint64_t time_ns)
{
    struct hermes_shm_header *h = bp->hdr;
    uint64_t n = atomic_load_explicit(&h->seq, memory_order_relaxed) + 1;
    unsigned b = (unsigned)(n & 1);
    /* Order the previous seq store before this copy's data stores (seqlock
     * writer fence): a reader that sees new data also sees seq moved. */
    atomic_thread_fence(memory_order_release);
    memcpy(bp->pub[b], bp->live, (size_t)bp->count * sizeof(double));
    h->buf_frame[b] = frame;
    h->buf_time[b] = time_ns;
    atomic_store_explicit(&h->frame, frame, memory_order_relaxed);
    atomic_store_explicit(&h->time_ns, time_ns, memory_order_relaxed);
    atomic_store_explicit(&h->seq, n, memory_order_release);
}

struct gather {
    const uint32_t *idx;
    size_t          n;
};

__attribute__((no_sanitize("thread")))
static void copy_gather(const double *pub, double *out, const void *ctx)
{
    const struct gather *g = ctx;
    for (size_t i = 0; i < g->n; i++)
        out[i] = pub[g->idx[i]];
}

/* Reader side of the double-buffered publication: copy from the stable copy
 * and accept the result only if no publish completed meanwhile. Also used by
 * the encoder (backplane/layout.h). */
__attribute__((no_sanitize("thread")))
int hermes__backplane_read_consistent(const hermes_backplane_t *bp,
                                      void (*copy)(const double *, double *, const void *), const void *ctx,
                                      double *out, uint64_t *frame, uint64_t *time_ns)
{
    struct hermes_shm_header *h = bp->hdr;
    uint64_t deadline = 0;
    for (unsigned attempt = 0;; attempt++) {
        /* The writer fills the other copy while we read this one: a reader
         * has a whole frame, not just the gap between publishes. */
        uint64_t s1 = atomic_load_explicit(&h->seq, memory_order_acquire);
        unsigned b = (unsigned)(s1 & 1);
        copy(bp->pub[b], out, ctx);
        uint64_t f = h->buf_frame[b];
        uint64_t t = h->buf_time[b];
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&h->seq, memory_order_relaxed) == s1) {
            if (frame)
                *frame = f;
            if (time_ns)
                *time_ns = t;
            return 0;
        }
        if ((attempt & 63) == 63) {
            uint64_t now = hermes__now_ns();
            if (!deadline)
                deadline = now + 10000000u;
            else if (now > deadline)
                return hermes__fail(HERMES_EAGAIN, "snapshot: the writer overtook every copy for 10 ms");
        }
    }
}

HERMES_API int hermes_backplane_snapshot(const hermes_backplane_t *bp, const uint32_t *idx, size_t n,
                                         double *out, uint64_t *frame, uint64_t *time_ns)
{
    if (!bp || (n && (!idx || !out)))
        return hermes__fail(HERMES_EINVAL, "hermes_backplane_snapshot: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= bp->count)
            return hermes__fail(HERMES_EINVAL, "snapshot index %u out of range (%u signals)", idx[i], bp->count);
    struct gather g = {idx, n};
    return hermes__backplane_read_consistent(bp, copy_gather, &g, out, frame, time_ns);
}

struct run {
    uint32_t src;
    uint32_t len;
};

struct hermes_snapshot_plan {
    uint32_t    tag;
    uint32_t    nruns;
    size_t      count;
    struct run *runs;
};

HERMES_API int hermes_snapshot_plan_create(hermes_snapshot_plan_t **out, const hermes_backplane_t *bp,
                                           const uint32_t *idx, size_t n)
{
    if (!out || !bp || (n && !idx))
        return hermes__fail(HERMES_EINVAL, "hermes_snapshot_plan_create: NULL argument");
    *out = NULL;
    uint32_t nruns = 0;
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= bp->count)
            return hermes__fail(HERMES_EINVAL, "snapshot index %u out of range (%u signals)", idx[i], bp->count);
        if (i == 0 || idx[i] != idx[i - 1] + 1)
            nruns++;
    }
    hermes_snapshot_plan_t *p = calloc(1, sizeof *p);
    struct run *runs = calloc(nruns ? nruns : 1, sizeof *runs);
    if (!p || !runs) {
        free(p);
        free(runs);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    uint32_t r = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || idx[i] != idx[i - 1] + 1)
            runs[r++] = (struct run){idx[i], 0};
        runs[r - 1].len++;
    }
    p->tag = bp->tag;
    p->nruns = nruns;
    p->count = n;
    p->runs = runs;
    *out = p;
    return 0;
}

HERMES_API void hermes_snapshot_plan_destroy(hermes_snapshot_plan_t *p)
{
    if (!p)
        return;
    free(p->runs);
    free(p);
}

HERMES_API size_t hermes_snapshot_plan_count(const hermes_snapshot_plan_t *p) { return p ? p->count : 0; }

__attribute__((no_sanitize("thread")))
static void copy_runs(const double *pub, double *out, const void *ctx)
{
    const hermes_snapshot_plan_t *p = ctx;
    for (uint32_t r = 0; r < p->nruns; r++) {
        memcpy(out, pub + p->runs[r].src, (size_t)p->runs[r].len * sizeof(double));
        out += p->runs[r].len;
    }
}

HERMES_API int hermes_backplane_snapshot_plan(const hermes_backplane_t *bp, const hermes_snapshot_plan_t *p,
                                              double *out, uint64_t *frame, uint64_t *time_ns)
{
    if (!bp || !p || (p->count && !out))
        return hermes__fail(HERMES_EINVAL, "hermes_backplane_snapshot_plan: NULL argument");
    if (p->tag != bp->tag)
        return hermes__fail(HERMES_EINVAL, "snapshot plan was made for another backplane");
    return hermes__backplane_read_consistent(bp, copy_runs, p, out, frame, time_ns);
}
