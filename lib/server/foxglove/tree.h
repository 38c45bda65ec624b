/* The signal tree of one Foxglove channel: dotted local names nested as
 * objects, keys sanitized and made unique; children found through one hash
 * table per tree, so n names build in O(n) (docs/foxglove.md). */
#ifndef HERMES_SERVER_FOXGLOVE_TREE_H
#define HERMES_SERVER_FOXGLOVE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hermes/backplane.h"

struct hermes__fg_node {
    char                   *key;
    bool                    leaf;
    uint8_t                 kind;
    hermes_type_t           type;
    uint32_t                index;
    const char             *title, *unit;  /* borrowed from the backplane */
    bool                    writable;
    struct hermes__fg_node *parent, *child, *last, *next;
};

struct hermes__fg_tree {
    struct hermes__fg_node   root;
    struct hermes__fg_node **slot;  /* open addressing on (parent, key) */
    size_t                   cap, used;
};

/* Insert @p leaf (key unset) at dotted @p path. A leaf that is also the
 * prefix of other names lives on as "_value" inside the object of that
 * name; a taken key gets a numeric suffix. On success the tree owns @p leaf;
 * on failure (HERMES_ENOMEM) the caller still does when leaf->key is NULL. */
int hermes__fg_tree_insert(struct hermes__fg_tree *t, const char *path, struct hermes__fg_node *leaf);

/* Free every node and the table; @p t itself is the caller's. */
void hermes__fg_tree_free(struct hermes__fg_tree *t);

/* One path segment as a key Foxglove message paths accept: letters, digits,
 * '_' and '-' kept, anything else '_'; an empty segment is "_" (malloc'd). */
char *hermes__fg_sanitize(const char *s, size_t n);

#endif
