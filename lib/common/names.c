/* Name index: open-addressing hash table (linear probing, FNV-1a, at most
 * half full) from borrowed names to uint32_t values. See names.h. */
#include "common/names.h"

#include <stdlib.h>
#include <string.h>

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    /* FNV's low bits mix poorly for short keys that differ in the last byte:
     * finish with a multiply-xorshift so masking by cap - 1 spreads them. */
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    return h;
}

void hermes__names_init(struct hermes__names *t) { memset(t, 0, sizeof *t); }

void hermes__names_free(struct hermes__names *t)
{
    free(t->slot);
    memset(t, 0, sizeof *t);
}

/* The slot holding @p key, or the empty slot where it would go. */
static struct hermes__name_slot *probe(const struct hermes__names *t, const char *key, size_t len, uint32_t h)
{
    uint32_t mask = t->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        struct hermes__name_slot *s = &t->slot[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

int hermes__names_reserve(struct hermes__names *t, uint32_t n)
{
    if (n <= t->cap / 2)
        return 0;
    uint32_t cap = 16;
    while (cap / 2 < n) {
        if (cap > UINT32_MAX / 4)
            return -1;
        cap *= 2;
    }
    struct hermes__name_slot *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return -1;
    struct hermes__names bigger = {slot, cap, t->count};
    for (uint32_t i = 0; i < t->cap; i++)
        if (t->slot[i].key)
            *probe(&bigger, t->slot[i].key, t->slot[i].len, t->slot[i].hash) = t->slot[i];
    free(t->slot);
    *t = bigger;
    return 0;
}

int hermes__names_put(struct hermes__names *t, const char *key, size_t len, uint32_t value, uint32_t *existing)
{
    if (len > UINT32_MAX || hermes__names_reserve(t, t->count + 1) != 0)
        return -1;
    uint32_t h = hash(key, len);
    struct hermes__name_slot *s = probe(t, key, len, h);
    if (s->key) {
        if (existing)
            *existing = s->value;
        return 1;
    }
    *s = (struct hermes__name_slot){key, (uint32_t)len, h, value};
    t->count++;
    return 0;
}

int hermes__names_get(const struct hermes__names *t, const char *key, size_t len, uint32_t *value)
{
    if (t->count == 0 || len > UINT32_MAX)
        return -1;
    const struct hermes__name_slot *s = probe(t, key, len, hash(key, len));
    if (!s->key)
        return -1;
    *value = s->value;
    return 0;
}
