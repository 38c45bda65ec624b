/* The signal tree of one Foxglove channel: dotted names nested as objects
 * with hashed child lookup (one table per tree), linear in the names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hermes/error.h"
#include "server/foxglove/tree.h"
#include "common/util.h"

static size_t hash(const struct hermes__fg_node *parent, const char *key)
{
    uint64_t h = hermes__fnv64(HERMES__FNV64_INIT ^ (uint64_t)(uintptr_t)parent, key, strlen(key));
    return (size_t)(h ^ (h >> 29));
}

/* The slot of (@p parent, @p key): its node or the empty slot to fill. */
static struct hermes__fg_node **lookup(const struct hermes__fg_tree *t, const struct hermes__fg_node *parent,
                                       const char *key)
{
    size_t i = hash(parent, key) & (t->cap - 1);
    while (t->slot[i] && (t->slot[i]->parent != parent || strcmp(t->slot[i]->key, key) != 0))
        i = (i + 1) & (t->cap - 1);
    return &t->slot[i];
}

static struct hermes__fg_node *find(const struct hermes__fg_tree *t, const struct hermes__fg_node *parent,
                                    const char *key)
{
    return t->cap ? *lookup(t, parent, key) : NULL;
}

/* Room for one more entry (load at most 1/2). */
static int reserve(struct hermes__fg_tree *t)
{
    if (2 * (t->used + 1) <= t->cap)
        return 0;
    size_t cap = t->cap ? 2 * t->cap : 64;
    struct hermes__fg_node **old = t->slot;
    size_t ocap = t->cap;
    t->slot = calloc(cap, sizeof *t->slot);
    if (!t->slot) {
        t->slot = old;
        return HERMES_ENOMEM;
    }
    t->cap = cap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i])
            *lookup(t, old[i]->parent, old[i]->key) = old[i];
    free(old);
    return 0;
}

/* Append @p c (key set) to @p parent's children and the table. */
static int add(struct hermes__fg_tree *t, struct hermes__fg_node *parent, struct hermes__fg_node *c)
{
    if (reserve(t))
        return HERMES_ENOMEM;
    c->parent = parent;
    c->next = NULL;
    if (parent->last)
        parent->last->next = c;
    else
        parent->child = c;
    parent->last = c;
    *lookup(t, parent, c->key) = c;
    t->used++;
    return 0;
}

/* @p base, or base_2, base_3, ... whichever is free in @p parent (malloc'd). */
static char *unique_key(const struct hermes__fg_tree *t, const struct hermes__fg_node *parent, const char *base)
{
    size_t n = strlen(base) + 16;
    char *k = malloc(n);
    if (!k)
        return NULL;
    snprintf(k, n, "%s", base);
    for (unsigned i = 2; find(t, parent, k); i++)
        snprintf(k, n, "%s_%u", base, i);
    return k;
}

char *hermes__fg_sanitize(const char *s, size_t n)
{
    char *k = malloc(n + 2);
    if (!k)
        return NULL;
    if (n == 0) {
        strcpy(k, "_");
        return k;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        k[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')
                   ? c : '_';
    }
    k[n] = '\0';
    return k;
}

/* Leaf @p c becomes an object in place (same key, same place among its
 * siblings); its leaf data moves into a new child "_value". */
static int leaf_to_object(struct hermes__fg_tree *t, struct hermes__fg_node *c)
{
    struct hermes__fg_node *v = malloc(sizeof *v);
    if (!v)
        return HERMES_ENOMEM;
    *v = *c;
    v->child = v->last = v->next = NULL;
    v->key = NULL;
    c->leaf = false;
    c->child = c->last = NULL;
    v->key = unique_key(t, c, "_value");
    if (!v->key || add(t, c, v)) {
        free(v->key);
        free(v);
        return HERMES_ENOMEM;
    }
    return 0;
}

int hermes__fg_tree_insert(struct hermes__fg_tree *t, const char *path, struct hermes__fg_node *leaf)
{
    struct hermes__fg_node *at = &t->root;
    for (const char *seg = path;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        char *key = hermes__fg_sanitize(seg, n);
        if (!key)
            return HERMES_ENOMEM;
        struct hermes__fg_node *c = find(t, at, key);
        if (!dot) {
            if (c && !c->leaf) {  /* "a" after "a.b": inside the object */
                free(key);
                at = c;
                key = unique_key(t, at, "_value");
            } else if (c) {       /* same key twice (sanitized names) */
                char *k2 = unique_key(t, at, key);
                free(key);
                key = k2;
            }
            leaf->key = key;
            if (key && add(t, at, leaf) == 0)
                return 0;
            free(key);
            leaf->key = NULL;
            return HERMES_ENOMEM;
        }
        if (!c) {
            c = calloc(1, sizeof *c);
            if (c)
                c->key = key;
            if (!c || add(t, at, c)) {
                free(key);
                free(c);
                return HERMES_ENOMEM;
            }
        } else {
            free(key);
            if (c->leaf && leaf_to_object(t, c))  /* "a.b" after "a" */
                return HERMES_ENOMEM;
        }
        at = c;
        seg = dot + 1;
    }
}

static void node_free(struct hermes__fg_node *n)
{
    while (n) {
        struct hermes__fg_node *next = n->next;
        node_free(n->child);
        free(n->key);
        free(n);
        n = next;
    }
}

void hermes__fg_tree_free(struct hermes__fg_tree *t)
{
    node_free(t->root.child);
    free(t->slot);
    memset(t, 0, sizeof *t);
}
