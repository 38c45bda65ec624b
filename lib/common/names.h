/* Name index: a small open-addressing hash table from names to uint32_t
 * values (array indices), for every name lookup that runs per signal, wire or
 * module at start-up (config loading and validation, backplane creation and
 * find) and for anything else that resolves names in bulk. Private; never
 * installed.
 *
 * Keys are borrowed: the table keeps the pointer and length, so a key must
 * stay valid and unchanged while the table holds it (names owned by the same
 * object as the table). Keys need not be NUL-terminated. No removal. A handle
 * is a plain value: zero-initialise it (or hermes__names_init), use it from
 * one thread at a time; lookups only read and may run concurrently. */
#ifndef HERMES_LIB_NAMES_H
#define HERMES_LIB_NAMES_H

#include <stddef.h>
#include <stdint.h>

struct hermes__name_slot {
    const char *key;    /* NULL: empty */
    uint32_t    len;
    uint32_t    hash;
    uint32_t    value;
};

struct hermes__names {
    struct hermes__name_slot *slot;  /* cap slots (a power of two), or NULL */
    uint32_t cap, count;
};

void hermes__names_init(struct hermes__names *t);
void hermes__names_free(struct hermes__names *t);
/* Room for @p n names in all without growing. 0, or -1 when out of memory. */
int hermes__names_reserve(struct hermes__names *t, uint32_t n);
/* Add @p key (@p len bytes) -> @p value. 0 when added; 1 when the key is
 * already there (the table is unchanged; *existing, if not NULL, gets its
 * value: the first one added wins); -1 when out of memory. */
int hermes__names_put(struct hermes__names *t, const char *key, size_t len, uint32_t value, uint32_t *existing);
/* 0 and *value when @p key is there, else -1. */
int hermes__names_get(const struct hermes__names *t, const char *key, size_t len, uint32_t *value);

#endif
