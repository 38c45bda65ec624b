/* libFuzzer harness: subscription pattern expansion (hermes_encoder_create,
 * and the server's catalog, lib/server/catalog.c, over the same signals).
 *
 * The input is split at '\n' into patterns (a NUL inside a line ends that
 * pattern early, as a C string would). They are expanded against one real
 * shared-memory backplane whose names share prefixes and contain dots, and
 * the result is compared with a small independent model of encoder.h:
 *  - same return code (EINVAL for empty or unsupported patterns, ENOENT for
 *    unknown names and patterns matching nothing);
 *  - on success: the exact payload order (order of first appearance), no
 *    duplicate, names and frame size consistent, a frame that encodes and
 *    decodes back to the same count;
 *  - on failure: no encoder, and the error message names the failing pattern;
 *  - the server's resolution (hermes__catalog_resolve over the live source of
 *    the same backplane) gives the same code, message and indices (the
 *    backplane is never empty, so "*" behaves the same in both).
 * The backplane's run name comes from $HERMES_FUZZ_RUN (scripts/fuzz.sh sets
 * it and removes the segment if the process dies), else hermes-fuzz-<pid>. */
#include <hermes/hermes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/source.h"  /* private: the server's catalog (scripts/fuzz.sh adds -Ilib) */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PATTERNS 64

static hermes_backplane_t *bp;
static uint32_t nsig;
static const char **names;  /* qualified name of slot k */
static struct hermes__live_source live;
static struct hermes__catalog cat;

static const hermes_signal_spec_t specs[] = {
    {"plant", "position.x", HERMES_TYPE_F64, "m", false, 1.5},
    {"plant", "position.y", HERMES_TYPE_F64, "m", false, -2.0},
    {"plant", "position", HERMES_TYPE_F64, "m", false, 3.0},
    {"plant", "velocity", HERMES_TYPE_F64, "m/s", true, 0.25},
    {"plant", "a.b.c.d", HERMES_TYPE_F64, "", false, 4.0},
    {"plantx", "z", HERMES_TYPE_F64, "", false, 7},
    {"plant_2", "position.x", HERMES_TYPE_F64, "", false, 8},
    {"ctrl", "cmd", HERMES_TYPE_I32, "", true, 3},
    {"ctrl", "enabled", HERMES_TYPE_BOOL, "", false, 1},
    {"ctrl", "gain.p", HERMES_TYPE_F32, "", true, 0.5},
    {"c", "x", HERMES_TYPE_I64, "", false, -9},
    {"hermes", "frame_time", HERMES_TYPE_F64, "s", false, 0},
};

static void cleanup(void)
{
    hermes__catalog_free(&cat);
    hermes_backplane_destroy(bp);
    bp = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    static char run[96];
    const char *env = getenv("HERMES_FUZZ_RUN");
    if (env && *env)
        snprintf(run, sizeof run, "%s", env);
    else
        snprintf(run, sizeof run, "hermes-fuzz-%ld", (long)getpid());
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.run_name = run;
    bc.signals = specs;
    bc.signal_count = sizeof specs / sizeof specs[0];
    int rc = hermes_backplane_create(&bp, &bc);
    if (rc != 0) {
        fprintf(stderr, "fuzz_patterns: backplane %s: %s (%s)\n", run, hermes_err_name(rc), hermes_last_error());
        abort();
    }
    atexit(cleanup);
    hermes_server_source_t src;
    hermes__live_source(&live, bp, NULL, &src);
    if (hermes__catalog_load(&cat, &src) != 0) {
        fprintf(stderr, "fuzz_patterns: catalog: %s\n", hermes_last_error());
        abort();
    }
    nsig = hermes_backplane_count(bp);
    names = calloc(nsig, sizeof *names);
    for (uint32_t k = 0; k < nsig; k++) {
        hermes_signal_info_t info;
        if (!names || hermes_backplane_info(bp, k, &info) != 0)
            abort();
        names[k] = info.name;
        /* slot k is specs[k]: the value checks below rely on it */
        char q[256];
        snprintf(q, sizeof q, "%s.%s", specs[k].module, specs[k].name);
        if (strcmp(q, info.name) != 0)
            abort();
    }
    return 0;
}

/* The model: expand one pattern into idx/seen as encoder.h describes it. */
static int model_one(const char *pat, uint32_t *idx, uint32_t *n, bool *seen)
{
    size_t len = strlen(pat);
    if (len == 0)
        return HERMES_EINVAL;
    const char *star = strchr(pat, '*');
    bool all = len == 1 && star;
    bool prefix = star && !all && star == pat + len - 1 && len >= 3 && pat[len - 2] == '.';
    if (star && !all && !prefix)
        return HERMES_EINVAL;
    uint32_t matched = 0;
    for (uint32_t k = 0; k < nsig; k++) {
        bool m = all || (prefix ? strncmp(names[k], pat, len - 1) == 0 : strcmp(names[k], pat) == 0);
        if (!m)
            continue;
        matched++;
        if (!seen[k]) {
            seen[k] = true;
            idx[(*n)++] = k;
        }
    }
    return matched ? 0 : HERMES_ENOENT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Own copy, NUL-terminated, so every pattern is a C string. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *pats[MAX_PATTERNS];
    size_t np = 0;
    char *p = text;
    if (size > 0) {
        for (;;) {
            if (np == MAX_PATTERNS)
                break;
            pats[np++] = p;
            char *nl = memchr(p, '\n', (size_t)(text + size - p));
            if (!nl)
                break;
            *nl = '\0';
            p = nl + 1;
        }
    }

    uint32_t want[sizeof specs / sizeof specs[0]];
    bool seen[sizeof specs / sizeof specs[0]] = {false};
    uint32_t nwant = 0;
    int want_rc = 0;
    size_t bad = 0;
    for (size_t i = 0; i < np && want_rc == 0; i++) {
        want_rc = model_one(pats[i], want, &nwant, seen);
        bad = i;
    }

    hermes_encoder_t *enc = (hermes_encoder_t *)(uintptr_t)1;  /* must be overwritten */
    int rc = hermes_encoder_create(&enc, bp, np ? pats : NULL, np);
    char enc_msg[1024];
    snprintf(enc_msg, sizeof enc_msg, "%s", hermes_last_error());
    uint32_t *cidx = NULL, ccount = 0;
    int crc = hermes__catalog_resolve(&cat, pats, np, &cidx, &ccount);
    if (crc != rc || (rc != 0 && strcmp(hermes_last_error(), enc_msg) != 0) ||
        (rc == 0 && (ccount != hermes_encoder_count(enc) ||
                     (ccount && memcmp(cidx, hermes_encoder_indices(enc), ccount * sizeof *cidx) != 0)))) {
        fprintf(stderr, "catalog: rc %s '%s', encoder: rc %s '%s'\n", hermes_err_name(crc), hermes_last_error(),
                hermes_err_name(rc), enc_msg);
        __builtin_trap();
    }
    free(cidx);
    if (rc != want_rc) {
        fprintf(stderr, "rc %s, model %s (%s)\n", hermes_err_name(rc), hermes_err_name(want_rc), enc_msg);
        __builtin_trap();
    }
    if (rc != 0) {
        if (enc != NULL)
            __builtin_trap();  /* *out is NULL on failure */
        /* The message names the pattern (an empty one: says it is empty).
         * Patterns are reported verbatim; the thread's message holds 1 KiB. */
        const char *msg = enc_msg;
        size_t pl = strlen(pats[bad]);
        if (pl == 0) {
            if (!strstr(msg, "empty"))
                __builtin_trap();
        } else if (pl < 900) {
            if (!strstr(msg, pats[bad])) {
                fprintf(stderr, "error '%s' does not name pattern '%s'\n", msg, pats[bad]);
                __builtin_trap();
            }
        }
        free(text);
        return 0;
    }

    uint32_t count = hermes_encoder_count(enc);
    const uint32_t *idx = hermes_encoder_indices(enc);
    if (count != nwant || (count && !idx) || (count && memcmp(idx, want, count * sizeof *idx) != 0))
        __builtin_trap();
    bool dup[sizeof specs / sizeof specs[0]] = {false};
    for (uint32_t i = 0; i < count; i++) {
        if (idx[i] >= nsig || dup[idx[i]])
            __builtin_trap();
        dup[idx[i]] = true;
        const char *nm = hermes_encoder_signal_name(enc, i);
        if (!nm || strcmp(nm, names[idx[i]]) != 0)
            __builtin_trap();
    }
    if (hermes_encoder_signal_name(enc, count) != NULL)
        __builtin_trap();
    size_t fs = hermes_encoder_frame_size(enc);
    if (fs != HERMES_TELEMETRY_FRAME_SIZE(count))
        __builtin_trap();

    /* One frame, deliberately at an odd address (the non-direct path). */
    unsigned char *buf = malloc(fs + 1);
    if (buf) {
        size_t len = 0;
        uint64_t frame = 99;
        if (hermes_encoder_encode(enc, buf + 1, fs, &len, &frame) != 0 || len != fs)
            __builtin_trap();
        hermes_telemetry_header_t h;
        if (hermes_telemetry_decode_header(buf + 1, len, &h) != 0 || h.count != count || h.frame != frame)
            __builtin_trap();
        for (uint32_t i = 0; i < count; i++) {
            double v = hermes_telemetry_value(buf + 1, i);
            if (v != specs[idx[i]].initial)
                __builtin_trap();
        }
        /* One byte short must be refused. */
        if (hermes_encoder_encode(enc, buf + 1, fs - 1, &len, &frame) != HERMES_EINVAL)
            __builtin_trap();
        free(buf);
    }
    hermes_encoder_destroy(enc);
    free(text);
    return 0;
}
