/* Signal patterns: expands "module.signal", "module.*" and "*" to signal indices over a name view. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/patterns.h"
#include "common/util.h"

static int by_name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hermes__sorted_name *)a)->name, ((const struct hermes__sorted_name *)b)->name);
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void hermes__sorted_names_sort(struct hermes__sorted_name *e, uint32_t n)
{
    qsort(e, n, sizeof *e, by_name_cmp);
}

/* First position in e[n] whose name is >= @p key (compared over @p klen
 * bytes when klen != SIZE_MAX: a prefix search). */
static uint32_t lower_bound(const struct hermes__sorted_name *e, uint32_t n, const char *key, size_t klen)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = klen == SIZE_MAX ? strcmp(e[mid].name, key) : strncmp(e[mid].name, key, klen);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int64_t hermes__sorted_names_find(const struct hermes__sorted_name *e, uint32_t n, const char *name)
{
    uint32_t pos = lower_bound(e, n, name, SIZE_MAX);
    if (pos < n && strcmp(e[pos].name, name) == 0)
        return e[pos].index;
    return -1;
}

/* One resolve call: the view, its output so far, and the sorted index
 * (the view's, or built on first need and owned). */
struct run {
    const struct hermes__pattern_view *v;
    unsigned  flags;
    uint32_t *out;
    uint32_t  n;
    bool     *seen;
    const struct hermes__sorted_name *by_name;
    struct hermes__sorted_name       *owned;
};

static int sorted(struct run *r)
{
    if (r->by_name)
        return 0;
    uint32_t n = r->v->n;
    r->owned = malloc((n ? n : 1) * sizeof *r->owned);
    if (!r->owned)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    for (uint32_t k = 0; k < n; k++)
        r->owned[k] = (struct hermes__sorted_name){r->v->name(r->v->ctx, k), k};
    hermes__sorted_names_sort(r->owned, n);
    r->by_name = r->owned;
    return 0;
}

/* Append signal @p k unless already there (first position kept). */
static void add(struct run *r, uint32_t k)
{
    if (!r->seen[k]) {
        r->seen[k] = true;
        r->out[r->n++] = k;
    }
}

/* Append the signals of @p pat. */
static int expand(struct run *r, const char *pat)
{
    const struct hermes__pattern_view *v = r->v;
    size_t len = strlen(pat);
    if (len == 0)
        return hermes__fail(HERMES_EINVAL, "empty signal pattern");
    const char *star = strchr(pat, '*');
    if (!star) {
        int64_t k = r->by_name ? hermes__sorted_names_find(r->by_name, v->n, pat) : v->find(v->ctx, pat);
        if (k < 0)
            return v->scope ? hermes__fail(HERMES_ENOENT, "pattern '%s' matches no signal %s", pat, v->scope)
                            : hermes__fail(HERMES_ENOENT, "unknown signal '%s'", pat);
        add(r, (uint32_t)k);
        return 0;
    }
    if (len == 1) {  /* "*": every signal, in index order */
        if (v->n == 0 && v->scope)
            return hermes__fail(HERMES_ENOENT, "pattern '*' matches no signal %s", v->scope);
        if (v->n == 0 && (r->flags & HERMES__PATTERNS_STAR_NONEMPTY))
            return hermes__fail(HERMES_ENOENT, "pattern '*' matches no signal (the backplane is empty)");
        for (uint32_t k = 0; k < v->n; k++)
            add(r, k);
        return 0;
    }
    /* "prefix.*": the star must be last, after a dot, and the only one. */
    if (star != pat + len - 1 || len < 3 || pat[len - 2] != '.')
        return hermes__fail(HERMES_EINVAL, "unsupported pattern '%s' (use '*', 'module.*' or 'module.signal')", pat);
    int rc = sorted(r);
    if (rc)
        return rc;
    size_t plen = len - 1;  /* prefix including the dot */
    uint32_t first = lower_bound(r->by_name, v->n, pat, plen), end = first;
    while (end < v->n && strncmp(r->by_name[end].name, pat, plen) == 0)
        end++;
    if (end == first)
        return v->scope ? hermes__fail(HERMES_ENOENT, "pattern '%s' matches no signal %s", pat, v->scope)
                        : hermes__fail(HERMES_ENOENT, "pattern '%s' matches no signal", pat);
    uint32_t from = r->n;
    for (uint32_t pos = first; pos < end; pos++)
        add(r, r->by_name[pos].index);
    qsort(r->out + from, r->n - from, sizeof *r->out, u32_cmp);  /* in index order, like "*" */
    return 0;
}

int hermes__patterns_resolve(const struct hermes__pattern_view *v, const char *const *patterns, size_t npatterns,
                             unsigned flags, uint32_t **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    struct run r = {v, flags, NULL, 0, NULL, v->by_name, NULL};
    r.out = malloc((v->n ? v->n : 1) * sizeof *r.out);
    r.seen = calloc(v->n ? v->n : 1, sizeof *r.seen);
    int rc = r.out && r.seen ? 0 : hermes__fail(HERMES_ENOMEM, "out of memory");
    for (size_t i = 0; i < npatterns && rc == 0; i++)
        rc = patterns[i] ? expand(&r, patterns[i]) : hermes__fail(HERMES_EINVAL, "pattern %zu is NULL", i);
    free(r.seen);
    free(r.owned);
    if (rc) {
        free(r.out);
        return rc;
    }
    *out = r.out;
    *count = r.n;
    return 0;
}
