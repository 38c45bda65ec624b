/* Signal patterns ("module.signal", "module.*", "*"): one set of rules and
 * messages for subscribe, record, export and replay, over a view of the signal names.
 * Private; never installed. */
#ifndef HERMES_LIB_PATTERNS_H
#define HERMES_LIB_PATTERNS_H

#include <stddef.h>
#include <stdint.h>

/* One signal of a name-sorted index: its qualified name (borrowed) and index. */
struct hermes__sorted_name {
    const char *name;
    uint32_t    index;
};

/* Sort @p e[n] by name (strcmp order). */
void hermes__sorted_names_sort(struct hermes__sorted_name *e, uint32_t n);
/* Index of exactly @p name in the sorted @p e[n], or -1. O(log n); sets no message. */
int64_t hermes__sorted_names_find(const struct hermes__sorted_name *e, uint32_t n, const char *name);

/* The signals patterns are expanded over: indices 0 .. n-1, unique names.
 * Either by_name is given (sorted, n entries), or find and name are: then
 * exact names go through find, and the sorted index a "module.*" needs is
 * built from name() once per resolve call, only if such a pattern comes. */
struct hermes__pattern_view {
    uint32_t                          n;
    const struct hermes__sorted_name *by_name;  /* [n] sorted by name, or NULL */
    const void                       *ctx;      /* for find and name */
    int64_t     (*find)(const void *ctx, const char *name);  /* index of exactly name, or -1 */
    const char *(*name)(const void *ctx, uint32_t index);    /* qualified name of a signal */
    /* NULL: the subscribe messages ("unknown signal 'x'"); else every
     * pattern matching nothing fails with "pattern 'x' matches no signal
     * <scope>" (export: "of the recording"). */
    const char *scope;
};

/* "*" matching nothing (no signal at all) fails with HERMES_ENOENT; without
 * this flag it gives an empty list. */
#define HERMES__PATTERNS_STAR_NONEMPTY 1u

/* Expand @p patterns in order into signal indices, each signal once at its
 * first position; "*" and "module.*" add their signals in index order.
 * O(log n) per exact name, O(log n + m log m) per "module.*" matching m,
 * O(n) per "*". *out is malloc'd (count entries, may be 0; NULL on failure).
 * @return 0; HERMES_EINVAL (NULL, empty or unsupported pattern);
 * HERMES_ENOENT (unknown name, a "module.*" matching nothing, or an
 * empty "*" with HERMES__PATTERNS_STAR_NONEMPTY); HERMES_ENOMEM; message via
 * hermes__fail(), naming the pattern. */
int hermes__patterns_resolve(const struct hermes__pattern_view *v, const char *const *patterns, size_t npatterns,
                             unsigned flags, uint32_t **out, uint32_t *count);

#endif
