/* Subscription patterns: expands "module.signal", "module.*" and "*" to signal indices over a sorted name view. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "patterns.h"
#include "util.h"

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* First sorted position whose name is >= @p key (compared over @p klen bytes
 * when klen != SIZE_MAX: a prefix search). */
static uint32_t lower_bound(const struct hermes__names *v, const char *key, size_t klen)
{
    uint32_t lo = 0, hi = v->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *name = v->name(v->ctx, mid);
        int c = klen == SIZE_MAX ? strcmp(name, key) : strncmp(name, key, klen);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int64_t hermes__names_find(const struct hermes__names *v, const char *name)
{
    uint32_t pos = lower_bound(v, name, SIZE_MAX);
    if (pos < v->n && strcmp(v->name(v->ctx, pos), name) == 0)
        return v->index(v->ctx, pos);
    return -1;
}

/* Append signal @p k to out[*n] unless already there (first position kept). */
static void add(uint32_t *out, uint32_t *n, bool *seen, uint32_t k)
{
    if (!seen[k]) {
        seen[k] = true;
        out[(*n)++] = k;
    }
}

/* Append the signals of @p pat to out[*n]. */
static int expand(const struct hermes__names *v, const char *pat, unsigned flags, uint32_t *out, uint32_t *n,
                  bool *seen)
{
    size_t len = strlen(pat);
    if (len == 0)
        return hermes__fail(HERMES_EINVAL, "empty signal pattern");
    const char *star = strchr(pat, '*');
    if (!star) {
        int64_t k = hermes__names_find(v, pat);
        if (k < 0)
            return hermes__fail(HERMES_ENOENT, "unknown signal '%s'", pat);
        add(out, n, seen, (uint32_t)k);
        return 0;
    }
    if (len == 1) {  /* "*": every signal, in index order */
        if (v->n == 0 && (flags & HERMES__PATTERNS_STAR_NONEMPTY))
            return hermes__fail(HERMES_ENOENT, "pattern '*' matches no signal (the backplane is empty)");
        for (uint32_t k = 0; k < v->n; k++)
            add(out, n, seen, k);
        return 0;
    }
    /* "prefix.*": the star must be last, after a dot, and the only one. */
    if (star != pat + len - 1 || len < 3 || pat[len - 2] != '.')
        return hermes__fail(HERMES_EINVAL, "unsupported pattern '%s' (use '*', 'module.*' or 'module.signal')", pat);
    size_t plen = len - 1;  /* prefix including the dot */
    uint32_t first = lower_bound(v, pat, plen), end = first;
    while (end < v->n && strncmp(v->name(v->ctx, end), pat, plen) == 0)
        end++;
    if (end == first)
        return hermes__fail(HERMES_ENOENT, "pattern '%s' matches no signal", pat);
    uint32_t from = *n;
    for (uint32_t pos = first; pos < end; pos++)
        add(out, n, seen, v->index(v->ctx, pos));
    qsort(out + from, *n - from, sizeof *out, u32_cmp);  /* in index order, like "*" */
    return 0;
}

int hermes__patterns_resolve(const struct hermes__names *v, const char *const *patterns, size_t npatterns,
                             unsigned flags, uint32_t **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    uint32_t *idx = malloc((v->n ? v->n : 1) * sizeof *idx);
    bool *seen = calloc(v->n ? v->n : 1, sizeof *seen);
    if (!idx || !seen) {
        free(idx);
        free(seen);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    uint32_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < npatterns && rc == 0; i++)
        rc = patterns[i] ? expand(v, patterns[i], flags, idx, &n, seen)
                         : hermes__fail(HERMES_EINVAL, "pattern %zu is NULL", i);
    free(seen);
    if (rc) {
        free(idx);
        return rc;
    }
    *out = idx;
    *count = n;
    return 0;
}
