/* Configuration errors with positions: the table of YAML node positions the
 * pre-pass records, and the reporters that turn a field path into
 * "file:line:col: field: text" in hermes_error_t and hermes_last_error(). */
#include "config/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hermes__config_pos_add(hermes_config_t *cfg, char *path, int kline, int kcol, int vline, int vcol, bool is_null)
{
    if (hermes__grow((void **)&cfg->pos, &cfg->cappos, cfg->npos + 1, sizeof *cfg->pos) != 0)
        goto nomem;
    int put = hermes__names_put(&cfg->posidx, path, strlen(path), cfg->npos, NULL);
    if (put < 0)
        goto nomem;
    if (put > 0) {  /* recorded before (hermes__config_pos_complete): keep the first */
        free(path);
        return 0;
    }
    struct cfg_pos *p = &cfg->pos[cfg->npos];
    p->path = path;
    p->kline = kline;
    p->kcol = kcol;
    p->vline = vline;
    p->vcol = vcol;
    p->is_null = is_null;
    cfg->npos++;
    return 0;
nomem:
    free(path);
    return hermes__config_nomem();
}

const struct cfg_pos *hermes__config_pos_find(const hermes_config_t *cfg, const char *field)
{
    uint32_t i;
    if (!cfg)
        return NULL;
    size_t len = strlen(field);
    if (hermes__names_get(&cfg->posidx, field, len, &i) == 0)
        return &cfg->pos[i];
    if (!memchr(field, '[', len) || !cfg->pos_fill || cfg->pos_complete)
        return NULL;
    /* Inside a sequence: positions there are recorded on first need, by the
     * front end that owns the text (cfg->pos_fill). The config is only const
     * to its readers; this runs on error paths, never on a validated config
     * shared between threads. */
    cfg->pos_fill((hermes_config_t *)cfg);
    return hermes__names_get(&cfg->posidx, field, len, &i) == 0 ? &cfg->pos[i] : NULL;
}

/* Position of @p field: exact entry -> value position; otherwise the nearest
 * recorded ancestor -> its key position (a missing field is reported at the
 * key of the mapping that lacks it). */
static void pos_lookup(const hermes_config_t *cfg, const char *field, int *line, int *col)
{
    *line = 0;
    *col = 0;
    if (!cfg || !field || !*field || cfg->npos == 0)
        return;
    char buf[512];
    hermes__strlcpy(buf, field, sizeof buf);
    bool exact = true;
    for (;;) {
        const struct cfg_pos *p = hermes__config_pos_find(cfg, buf);
        if (p) {
            *line = exact ? p->vline : p->kline;
            *col = exact ? p->vcol : p->kcol;
            return;
        }
        char *dot = strrchr(buf, '.');
        char *br = strrchr(buf, '[');
        char *cut = dot > br ? dot : br;
        if (!cut)
            return;
        *cut = '\0';
        exact = false;
    }
}

int hermes__config_failv(const hermes_config_t *cfg, hermes_error_t *err, int code, const char *field, int line,
                         int col, const char *fmt, va_list ap)
{
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    if (line < 0)
        pos_lookup(cfg, field, &line, &col);
    const char *label = cfg ? cfg->label : NULL;
    char msg[1024];
    size_t o = 0;
    msg[0] = '\0';
#define APPEND(...)                                                                  \
    do {                                                                             \
        if (o < sizeof msg) {                                                        \
            int n_ = snprintf(msg + o, sizeof msg - o, __VA_ARGS__);                 \
            o = n_ < 0 ? o : (o + (size_t)n_ < sizeof msg ? o + (size_t)n_ : sizeof msg); \
        }                                                                            \
    } while (0)
    if (label && *label)
        APPEND("%s:", label);
    if (line > 0)
        APPEND("%d:%d:", line, col);
    if (o > 0)
        APPEND(" ");
    if (field && *field)
        APPEND("%s: ", field);
    APPEND("%s", text);
#undef APPEND
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = code;
        err->line = line > 0 ? line : 0;
        err->column = line > 0 ? col : 0;
        hermes__strlcpy(err->file, cfg && cfg->errfile ? cfg->errfile : "", sizeof err->file);
        hermes__strlcpy(err->field, field ? field : "", sizeof err->field);
        hermes__strlcpy(err->message, msg, sizeof err->message);
    }
    return hermes__fail(code, "%s", msg);
}

int hermes__config_fail(const hermes_config_t *cfg, hermes_error_t *err, int code, const char *field, int line,
                        int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = hermes__config_failv(cfg, err, code, field, line, col, fmt, ap);
    va_end(ap);
    return rc;
}

int hermes__config_key_fail(const hermes_config_t *cfg, hermes_error_t *err, const char *field, const char *fmt, ...)
{
    const struct cfg_pos *p = hermes__config_pos_find(cfg, field);
    va_list ap;
    va_start(ap, fmt);
    int rc = hermes__config_failv(cfg, err, HERMES_ECONFIG, field, p ? p->kline : -1, p ? p->kcol : 0, fmt, ap);
    va_end(ap);
    return rc;
}

int hermes__config_field_fail(const hermes_config_t *cfg, hermes_error_t *err, int code, const char *field,
                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = hermes__config_failv(cfg, err, code, field, -1, 0, fmt, ap);
    va_end(ap);
    return rc;
}
