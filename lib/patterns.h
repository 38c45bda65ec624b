/* Subscription patterns ("module.signal", "module.*", "*"): one set of rules and
 * messages, expanded over a sorted name view. Private; never installed. */
#ifndef HERMES_LIB_PATTERNS_H
#define HERMES_LIB_PATTERNS_H

#include <stddef.h>
#include <stdint.h>

/* A read-only view of n signals sorted by qualified name (strcmp order):
 * name(ctx, pos) and index(ctx, pos) give the name and the signal index
 * (0 .. n-1) at sorted position pos. Names are unique. */
struct hermes__names {
    uint32_t    n;
    const void *ctx;
    const char *(*name)(const void *ctx, uint32_t pos);
    uint32_t    (*index)(const void *ctx, uint32_t pos);
};

/* Signal index of qualified @p name, or -1. O(log n). Sets no message. */
int64_t hermes__names_find(const struct hermes__names *v, const char *name);

/* "*" matching nothing (no signal at all) fails with HERMES_ENOENT; without
 * this flag it gives an empty list. */
#define HERMES__PATTERNS_STAR_NONEMPTY 1u

/* Expand @p patterns in order into signal indices, each signal once at its
 * first position; "*" and "module.*" add their signals in index order.
 * O(log n + matches) per name or prefix pattern (plus sorting the matches),
 * O(n) per "*". *out is malloc'd (count entries, may be 0; NULL on failure).
 * @return 0; HERMES_EINVAL (NULL, empty or unsupported pattern);
 * HERMES_ENOENT (unknown name, a "module.*" matching nothing, or an
 * empty "*" with HERMES__PATTERNS_STAR_NONEMPTY); HERMES_ENOMEM; message via
 * hermes__fail(), naming the pattern. */
int hermes__patterns_resolve(const struct hermes__names *v, const char *const *patterns, size_t npatterns,
                             unsigned flags, uint32_t **out, uint32_t *count);

#endif
