/* Reading libcyaml's log: libcyaml (1.3) reports load errors only as English
 * log lines, so this is the one place that knows their wording. The forms,
 * each with a test in tests/test_config.c (test_config_cyaml_log_*):
 *
 *   Load: Unexpected key: <key>
 *   Load: Missing required mapping field: <field>
 *   Load: Expecting <WANT>, got event: <GOT>_START
 *   Load: <anything else>
 *   Load: Backtrace:
 *     in mapping field '<key>' (line: L, column: C)
 *     in sequence entry '<n>' (line: L, column: C)      (n is 1-based)
 *     in mapping (line: L, column: C)                    (not inside a field)
 *     in sequence (line: L, column: C)
 *
 * Frames come innermost first. A missing field is reported after its mapping
 * ended, with the innermost frame still naming the last field parsed: that
 * sibling is not part of the path. */
#include "config/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAMES 32

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* One backtrace frame of line @p ln: its path component (".key", "[n]" or
 * "") and whether it names a field. 0, or -1 when the line is no frame. */
static int frame(const char *ln, char *comp, size_t cap, bool *is_field)
{
    const char *f = strstr(ln, "in mapping field '");
    const char *s = strstr(ln, "in sequence entry '");
    const char *q = f ? f + 18 : s ? s + 19 : NULL;
    const char *qe = strrchr(ln, '\'');
    if (q && qe && qe >= q) {
        if (f) {
            snprintf(comp, cap, ".%.*s", (int)(qe - q), q);
        } else {
            long idx = strtol(q, NULL, 10);
            snprintf(comp, cap, "[%ld]", idx > 0 ? idx - 1 : 0);
        }
        *is_field = f != NULL;
        return 0;
    }
    if (strstr(ln, "in mapping (") || strstr(ln, "in sequence (")) {
        comp[0] = '\0';
        *is_field = false;
        return 0;
    }
    return -1;
}

void hermes__cyaml_log_parse(const char *log, struct hermes__cyaml_report *out)
{
    memset(out, 0, sizeof *out);
    char comps[MAX_FRAMES][160];
    bool is_field[MAX_FRAMES];
    int ncomp = 0;
    for (const char *p = log ? log : ""; *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char ln[512];
        if (n >= sizeof ln)
            n = sizeof ln - 1;
        memcpy(ln, p, n);
        ln[n] = '\0';
        p = eol ? eol + 1 : p + strlen(p);
        if (strncmp(ln, "Load: ", 6) == 0 && strncmp(ln, "Load: Backtrace:", 16) != 0) {
            if (!out->text[0])
                hermes__strlcpy(out->text, ln + 6, sizeof out->text);
            continue;
        }
        if (ncomp >= MAX_FRAMES || frame(ln, comps[ncomp], sizeof comps[ncomp], &is_field[ncomp]) != 0)
            continue;
        ncomp++;
        const char *lp = strstr(ln, "(line: ");
        if (lp && out->line == 0 && sscanf(lp, "(line: %d, column: %d)", &out->line, &out->col) != 2)
            out->line = out->col = 0;
    }
    size_t tl = strlen(out->text);
    while (tl > 0 && (out->text[tl - 1] == ' ' || out->text[tl - 1] == '\n' || out->text[tl - 1] == '\r'))
        out->text[--tl] = '\0';

    const char *arg;
    int first = 0;
    if ((arg = strstr(out->text, "Unexpected key: ")) != NULL) {
        out->kind = HERMES__CYAML_UNEXPECTED_KEY;
        hermes__strlcpy(out->arg, arg + 16, sizeof out->arg);
    } else if ((arg = strstr(out->text, "Missing required mapping field: ")) != NULL) {
        out->kind = HERMES__CYAML_MISSING_FIELD;
        hermes__strlcpy(out->arg, arg + 32, sizeof out->arg);
        if (ncomp > 0 && is_field[0])
            first = 1;
    } else if (strncmp(out->text, "Expecting ", 10) == 0 && (arg = strstr(out->text, ", got event: ")) != NULL) {
        char want[32], got[32];
        snprintf(want, sizeof want, "%.*s", (int)(arg - out->text - 10), out->text + 10);
        snprintf(got, sizeof got, "%s", arg + 13);
        char *us = strchr(got, '_'); /* "SEQUENCE_START" -> "sequence" */
        if (us)
            *us = '\0';
        lower(want);
        lower(got);
        out->kind = HERMES__CYAML_WRONG_TYPE;
        snprintf(out->arg, sizeof out->arg, "expected a %s, got a %s", want, got);
    } else {
        out->kind = HERMES__CYAML_OTHER;
    }
    size_t o = 0;
    for (int i = ncomp - 1; i >= first; i--) {
        const char *c = comps[i];
        if (o == 0 && c[0] == '.')
            c++;
        size_t cl = strlen(c);
        if (o + cl < sizeof out->path) {
            memcpy(out->path + o, c, cl + 1);
            o += cl;
        }
    }
}
