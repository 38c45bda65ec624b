/* Large generated configs for start-up measurements: the shape of
 * bench/gen_config.py, built in memory. Used by tests/test_startup_scale.c
 * and bench/bench_startup.c. */
#ifndef HERMES_TESTS_CONFIG_GEN_H
#define HERMES_TESTS_CONFIG_GEN_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gen_buf {
    char  *p;
    size_t len, cap;
};

static void gen_printf(struct gen_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gen_printf(struct gen_buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1 << 16;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            abort();
        b->p = q;
        b->cap = cap;
    }
}

/* @p nsig signals over @p nmod injection modules (the second half of each
 * module's signals writable), @p nwire wires each driving a distinct writable
 * signal of module m+1 from module m. malloc'd, NUL-terminated; NULL when
 * that many wires do not fit. */
static char *gen_config(uint32_t nsig, uint32_t nwire, uint32_t nmod, size_t *len)
{
    uint32_t per = nsig / nmod ? nsig / nmod : 1, half = per / 2;
    if (nmod > 1 && nwire > half * (nmod - 1))
        return NULL;
    struct gen_buf b = {0};
    gen_printf(&b, "version: \"0.2\"\nmodules:\n");
    for (uint32_t m = 0; m < nmod; m++) {
        gen_printf(&b, "  m%u:\n    type: injection\n    signals:\n", m);
        for (uint32_t s = 0; s < per; s++)
            gen_printf(&b, "      - {name: s%u, type: f64, unit: m%s, initial: 0.5}\n", s,
                       s >= half ? ", writable: true" : "");
    }
    if (nwire) {
        gen_printf(&b, "wiring:\n");
        for (uint32_t k = 0; k < nwire; k++)
            gen_printf(&b, "  - {src: m%u.s%u, dst: m%u.s%u, gain: 2}\n", k / half, k % half, k / half + 1,
                       half + k % half);
    }
    gen_printf(&b, "execution:\n  mode: afap\n  rate_hz: 1000\n");
    *len = b.len;
    return b.p;
}

#endif
