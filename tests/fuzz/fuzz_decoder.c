/* libFuzzer harness: telemetry frame decoding (hermes_telemetry_decode_header,
 * hermes_telemetry_value) on arbitrary bytes, as a C client decodes whatever
 * arrives on its socket.
 *
 * The input is copied into a buffer of exactly its size, so ASan reports any
 * read past the end. Checks: a header is accepted only when the magic is
 * right and the length is exactly 24 + 8 * count; the decoded fields and
 * every value match the little-endian bytes; the same bytes at an odd address
 * decode the same; every shorter prefix is refused. */
#include <hermes/hermes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void check(const uint8_t *buf, size_t size)
{
    hermes_telemetry_header_t h;
    memset(&h, 0xa5, sizeof h);
    int rc = hermes_telemetry_decode_header(buf, size, &h);
    bool ok = size >= HERMES_TELEMETRY_HEADER_SIZE && le(buf, 4) == HERMES_TELEMETRY_MAGIC &&
              size == HERMES_TELEMETRY_FRAME_SIZE(le(buf + 20, 4));
    if (rc != (ok ? 0 : HERMES_EINVAL))
        __builtin_trap();
    if (!ok)
        return;
    uint64_t tbits;
    memcpy(&tbits, &h.time, sizeof tbits);
    if (h.magic != HERMES_TELEMETRY_MAGIC || h.frame != le(buf + 4, 8) || tbits != le(buf + 12, 8) ||
        h.count != le(buf + 20, 4))
        __builtin_trap();
    for (uint32_t i = 0; i < h.count; i++) {
        double v = hermes_telemetry_value(buf, i);
        uint64_t bits;
        memcpy(&bits, &v, sizeof bits);
        if (bits != le(buf + 24 + 8 * (size_t)i, 8))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size heap copies: one aligned, one at an odd address. */
    uint8_t *a = malloc(size ? size : 1);
    uint8_t *b = malloc(size + 1);
    if (!a || !b) {
        free(a);
        free(b);
        return 0;
    }
    memcpy(a, data, size);
    memcpy(b + 1, data, size);
    check(a, size);
    check(b + 1, size);
    /* A valid frame cut short (a partial read) is never accepted. */
    hermes_telemetry_header_t h;
    if (hermes_telemetry_decode_header(a, size, &h) == 0) {
        for (size_t cut = 0; cut < size; cut++) {
            if (cut == 64 && size > 128)
                cut = size - 64;  /* the first and last 64 lengths are enough */
            uint8_t *c = malloc(cut ? cut : 1);
            if (!c)
                break;
            memcpy(c, data, cut);
            if (hermes_telemetry_decode_header(c, cut, &h) == 0)
                __builtin_trap();
            free(c);
        }
    }
    /* NULL arguments are refused, not dereferenced. */
    if (hermes_telemetry_decode_header(NULL, size, &h) != HERMES_EINVAL ||
        hermes_telemetry_decode_header(a, size, NULL) != HERMES_EINVAL)
        __builtin_trap();
    free(a);
    free(b);
    return 0;
}
