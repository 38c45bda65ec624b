/* The signal catalog: a telemetry source's signals read once, with name lookup
 * and subscription patterns resolved through a sorted index (no scan per name). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "server_source.h"
#include "util.h"

static int by_name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hermes__catalog_entry *)a)->name, ((const struct hermes__catalog_entry *)b)->name);
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* First position in by_name whose name is >= @p key (compared over @p klen
 * bytes when klen != SIZE_MAX: a prefix search). */
static uint32_t lower_bound(const struct hermes__catalog *cat, const char *key, size_t klen)
{
    uint32_t lo = 0, hi = cat->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *name = cat->by_name[mid].name;
        int c = klen == SIZE_MAX ? strcmp(name, key) : strncmp(name, key, klen);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int64_t hermes__catalog_find(const struct hermes__catalog *cat, const char *name)
{
    uint32_t k = lower_bound(cat, name, SIZE_MAX);
    if (k < cat->n && strcmp(cat->by_name[k].name, name) == 0)
        return cat->by_name[k].index;
    return -1;
}

static int load_modules(struct hermes__catalog *cat, const hermes_server_source_t *src)
{
    uint32_t nm = src->module_count && src->module_name ? src->module_count(src->ctx) : 0;
    cat->modules = calloc((size_t)nm + cat->n + 1, sizeof *cat->modules);
    if (!cat->modules)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < nm; i++) {
        const char *m = src->module_name(src->ctx, i);
        if (m)
            cat->modules[cat->nmodules++] = m;
    }
    /* Modules of the signals not listed yet, in order of first appearance:
     * signals of one module are contiguous in practice, so comparing with the
     * last one seen keeps this linear; the final check keeps it exact. */
    const char *last = NULL;
    for (uint32_t k = 0; k < cat->n; k++) {
        const char *m = cat->info[k].module;
        if (last && strcmp(m, last) == 0)
            continue;
        last = m;
        bool seen = false;
        for (uint32_t i = 0; i < cat->nmodules && !seen; i++)
            seen = strcmp(cat->modules[i], m) == 0;
        if (!seen)
            cat->modules[cat->nmodules++] = m;
    }
    return 0;
}

static int load_wires(struct hermes__catalog *cat, const hermes_server_source_t *src)
{
    uint32_t nw = src->wire_count && src->wire ? src->wire_count(src->ctx) : 0;
    for (uint32_t i = 0; i < nw; i++) {
        hermes_wire_info_t w;
        if (src->wire(src->ctx, i, &w) != 0 || !w.dst || !w.src)
            continue;
        int64_t k = hermes__catalog_find(cat, w.dst);
        if (k >= 0)
            cat->driven_by[k] = w.src;
    }
    return 0;
}

int hermes__catalog_load(struct hermes__catalog *cat, const hermes_server_source_t *src)
{
    memset(cat, 0, sizeof *cat);
    uint32_t n = src->signal_count(src->ctx);
    cat->info = calloc(n ? n : 1, sizeof *cat->info);
    cat->by_name = calloc(n ? n : 1, sizeof *cat->by_name);
    cat->driven_by = calloc(n ? n : 1, sizeof *cat->driven_by);
    if (!cat->info || !cat->by_name || !cat->driven_by) {
        hermes__catalog_free(cat);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    for (uint32_t k = 0; k < n; k++) {
        int rc = src->signal_info(src->ctx, k, &cat->info[k]);
        if (rc) {
            hermes__catalog_free(cat);
            return rc;
        }
        hermes_signal_info_t *in = &cat->info[k];
        if (!in->name || !in->module || !in->local_name) {
            hermes__catalog_free(cat);
            return hermes__fail(HERMES_EINVAL, "telemetry source: signal %u has no name or module", k);
        }
        if (!in->unit)
            in->unit = "";
        cat->by_name[k] = (struct hermes__catalog_entry){in->name, k};
    }
    cat->n = n;
    qsort(cat->by_name, n, sizeof *cat->by_name, by_name_cmp);
    int rc = load_modules(cat, src);
    if (rc == 0)
        rc = load_wires(cat, src);
    if (rc)
        hermes__catalog_free(cat);
    return rc;
}

void hermes__catalog_free(struct hermes__catalog *cat)
{
    free(cat->info);
    free(cat->by_name);
    free(cat->driven_by);
    free(cat->modules);
    memset(cat, 0, sizeof *cat);
}

/* Append the signals of @p pat to out[*n] (first position kept, via @p seen). */
static int expand(const struct hermes__catalog *cat, const char *pat, uint32_t *out, uint32_t *n, bool *seen)
{
    size_t len = strlen(pat);
    if (len == 0)
        return hermes__fail(HERMES_EINVAL, "empty signal pattern");
    const char *star = strchr(pat, '*');
    if (!star) {
        int64_t k = hermes__catalog_find(cat, pat);
        if (k < 0)
            return hermes__fail(HERMES_ENOENT, "unknown signal '%s'", pat);
        if (!seen[k]) {
            seen[k] = true;
            out[(*n)++] = (uint32_t)k;
        }
        return 0;
    }
    if (len == 1) {  /* "*": every signal, in index order; none is fine */
        for (uint32_t k = 0; k < cat->n; k++)
            if (!seen[k]) {
                seen[k] = true;
                out[(*n)++] = k;
            }
        return 0;
    }
    /* "prefix.*": the star must be last, after a dot, and the only one. */
    if (star != pat + len - 1 || len < 3 || pat[len - 2] != '.')
        return hermes__fail(HERMES_EINVAL, "unsupported pattern '%s' (use '*', 'module.*' or 'module.signal')", pat);
    size_t plen = len - 1;
    uint32_t first = lower_bound(cat, pat, plen), end = first;
    while (end < cat->n && strncmp(cat->by_name[end].name, pat, plen) == 0)
        end++;
    if (end == first)
        return hermes__fail(HERMES_ENOENT, "pattern '%s' matches no signal", pat);
    /* In index order, like "*". */
    uint32_t from = *n;
    for (uint32_t i = first; i < end; i++) {
        uint32_t k = cat->by_name[i].index;
        if (!seen[k]) {
            seen[k] = true;
            out[(*n)++] = k;
        }
    }
    qsort(out + from, *n - from, sizeof *out, u32_cmp);
    return 0;
}

int hermes__catalog_resolve(const struct hermes__catalog *cat, const char *const *patterns, size_t npatterns,
                            uint32_t **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    uint32_t *idx = malloc((cat->n ? cat->n : 1) * sizeof *idx);
    bool *seen = calloc(cat->n ? cat->n : 1, sizeof *seen);
    if (!idx || !seen) {
        free(idx);
        free(seen);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    uint32_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < npatterns && rc == 0; i++)
        rc = expand(cat, patterns[i], idx, &n, seen);
    free(seen);
    if (rc) {
        free(idx);
        return rc;
    }
    *out = idx;
    *count = n;
    return 0;
}
