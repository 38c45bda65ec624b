/* Reading a config file: the libcyaml schema (built at run time around the
 * module names the pre-pass found), conversion of what libcyaml loaded into
 * a hermes_config_t with strict scalar parsing, and hermes_config_load() /
 * hermes_config_parse().
 *
 * Loading runs in four stages, each reporting the first error with file,
 * line, column and dotted field path:
 *   1. the libyaml pre-pass (config/prepass.c): syntax, shape, duplicate
 *      keys, module names, the position of every node;
 *   2. libcyaml with a schema whose `modules` mapping has one field per
 *      module name: unknown keys, missing required fields, wrong node types;
 *   3. conversion: scalars libcyaml parses leniently (numbers, booleans,
 *      enum words) are loaded as strings and parsed strictly here;
 *   4. hermes_config_validate(): every cross-field rule, shared with configs
 *      built in code. */
#include "config/internal.h"
#include "common/access.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cyaml/cyaml.h>

/* ------------------------------------------------------------------------ */
/* Stage 2: libcyaml                                                        */

struct ysignal {
    char *name;
    char *type;      /* NULL = absent (f64); words are parsed in stage 3 */
    char *unit;
    char *writable;  /* strict fields are strings, parsed in stage 3 */
    char *initial;
};

struct ywire {
    char *src;
    char *dst;
    char *gain;
    char *offset;
};

struct ymodule {
    char           *type;
    char           *executable;
    char          **args;
    unsigned        args_count;
    char           *library;
    char           *config;
    char           *fmu, *isolate, *locals;
    struct ysignal *signals;
    unsigned        signals_count;
    char           *rate_hz;
    char           *offset;
};

struct yckpt { char *file; char **at; unsigned at_count; };   /* execution.checkpoint */

struct yexec {
    struct yckpt *checkpoint;
    char     *mode;
    char     *rate_hz;
    char     *end_time;
    char     *step_timeout;
    char     *spin_us;
    char     *check_groups;
    char     *restore;
};

struct yserver {
    char    *enabled;
    char    *host;
    char    *port;
    char    *telemetry_hz;
    char    *auth_token;
    char    *observers;
    char    *viewer;
    char   **allowed_origins;
    unsigned allowed_origins_count;
    char    *max_clients;
    char    *max_message_size;
    char    *commands_per_second;
    char    *max_patterns;
    char    *max_json_depth;
};

struct yrecord {
    char    *file;
    char    *mcap;
    char   **signals;
    unsigned signals_count;
    char    *every;
    char    *rate_hz;
};

struct ytop {
    struct yrecord *record;
    char           *version;
    struct ymodule *modules;
    struct ywire   *wiring;
    unsigned        wiring_count;
    struct yexec   *execution;
    struct yserver *server;
};

#define STR_REQ(key, st, m) CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER, st, m, 0, CYAML_UNLIMITED)
#define STR_OPT(key, st, m) \
    CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, st, m, 0, CYAML_UNLIMITED)

static const cyaml_schema_value_t string_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t signal_fields[] = {
    STR_REQ("name", struct ysignal, name),
    STR_OPT("type", struct ysignal, type),
    STR_OPT("unit", struct ysignal, unit),
    STR_OPT("writable", struct ysignal, writable),
    STR_OPT("initial", struct ysignal, initial),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t signal_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct ysignal, signal_fields),
};

static const cyaml_schema_field_t module_fields[] = {
    STR_REQ("type", struct ymodule, type),
    STR_OPT("executable", struct ymodule, executable),
    CYAML_FIELD_SEQUENCE("args", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct ymodule, args, &string_entry, 0,
                         CYAML_UNLIMITED),
    STR_OPT("library", struct ymodule, library),
    STR_OPT("config", struct ymodule, config),
    STR_OPT("fmu", struct ymodule, fmu),
    STR_OPT("isolate", struct ymodule, isolate),
    STR_OPT("locals", struct ymodule, locals),
    CYAML_FIELD_SEQUENCE("signals", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct ymodule, signals, &signal_entry,
                         0, CYAML_UNLIMITED),
    STR_OPT("rate_hz", struct ymodule, rate_hz),
    STR_OPT("offset", struct ymodule, offset),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t wire_fields[] = {
    STR_REQ("src", struct ywire, src),
    STR_REQ("dst", struct ywire, dst),
    STR_OPT("gain", struct ywire, gain),
    STR_OPT("offset", struct ywire, offset),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t wire_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct ywire, wire_fields),
};

static const cyaml_schema_field_t record_fields[] = {
    STR_OPT("file", struct yrecord, file),
    STR_OPT("mcap", struct yrecord, mcap),
    CYAML_FIELD_SEQUENCE("signals", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct yrecord, signals, &string_entry,
                         0, CYAML_UNLIMITED),
    STR_OPT("every", struct yrecord, every),
    STR_OPT("rate_hz", struct yrecord, rate_hz),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t ckpt_fields[] = {
    STR_OPT("file", struct yckpt, file),
    CYAML_FIELD_SEQUENCE("at", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct yckpt, at, &string_entry, 0,
                         CYAML_UNLIMITED),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t exec_fields[] = {
    CYAML_FIELD_MAPPING_PTR("checkpoint", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct yexec, checkpoint,
                            ckpt_fields),
    STR_OPT("mode", struct yexec, mode),
    STR_OPT("rate_hz", struct yexec, rate_hz),
    STR_OPT("end_time", struct yexec, end_time),
    STR_OPT("step_timeout", struct yexec, step_timeout),
    STR_OPT("spin_us", struct yexec, spin_us),
    STR_OPT("check_groups", struct yexec, check_groups),
    STR_OPT("restore", struct yexec, restore),
    CYAML_FIELD_IGNORE("schedule", CYAML_FLAG_OPTIONAL),   /* read by the pre-pass (groups nest) */
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t server_fields[] = {
    STR_OPT("enabled", struct yserver, enabled),
    STR_OPT("host", struct yserver, host),
    STR_OPT("port", struct yserver, port),
    STR_OPT("telemetry_hz", struct yserver, telemetry_hz),
    STR_OPT("auth_token", struct yserver, auth_token),
    STR_OPT("observers", struct yserver, observers),
    STR_OPT("viewer", struct yserver, viewer),
    CYAML_FIELD_SEQUENCE("allowed_origins", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct yserver, allowed_origins,
                         &string_entry, 0, CYAML_UNLIMITED),
    STR_OPT("max_clients", struct yserver, max_clients),
    STR_OPT("max_message_size", struct yserver, max_message_size),
    STR_OPT("commands_per_second", struct yserver, commands_per_second),
    STR_OPT("max_patterns", struct yserver, max_patterns),
    STR_OPT("max_json_depth", struct yserver, max_json_depth),
    CYAML_FIELD_END,
};

/* libcyaml grows a sequence one entry at a time (realloc to n + 1 entries),
 * so loading n signals would move or remap the whole array n times. Grow the
 * block geometrically instead; every block stays a plain malloc block (the
 * loader takes strings out of libcyaml's data and frees them with free()). */
static void *cyaml_mem_amortized(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (!ptr)
        return malloc(size);
    size_t have = malloc_usable_size(ptr);
    if (size <= have)
        return ptr;
    return realloc(ptr, size < have * 2 ? have * 2 : size);
}

struct logbuf {
    char   buf[4096];
    size_t len;
};

static void cyaml_capture(cyaml_log_t level, void *ctx, const char *fmt, va_list ap)
{
    struct logbuf *b = ctx;
    (void)level;
    if (b->len >= sizeof b->buf - 1)
        return;
    int n = vsnprintf(b->buf + b->len, sizeof b->buf - b->len, fmt, ap);
    if (n > 0)
        b->len = b->len + (size_t)n < sizeof b->buf ? b->len + (size_t)n : sizeof b->buf - 1;
}

/* Turn libcyaml's captured log into one positioned error. */
static int report_cyaml(hermes_config_t *cfg, hermes_error_t *err, const char *log, cyaml_err_t cerr)
{
    struct hermes__cyaml_report r;
    hermes__cyaml_log_parse(log, &r);
    if (!r.text[0])
        snprintf(r.text, sizeof r.text, "%s", cyaml_strerror(cerr));
    char field[700];
    snprintf(field, sizeof field, "%s%s%s", r.path, r.path[0] ? "." : "", r.arg);
    const struct cfg_pos *p;
    switch (r.kind) {
    case HERMES__CYAML_UNEXPECTED_KEY:
        /* libcyaml points at the previous value: the pre-pass knows the key. */
        if ((p = hermes__config_pos_find(cfg, field)) != NULL) {
            r.line = p->kline;
            r.col = p->kcol;
        }
        return hermes__config_fail(cfg, err, HERMES_ECONFIG, field, r.line, r.col, "unknown key '%s'", r.arg);
    case HERMES__CYAML_MISSING_FIELD:
        return hermes__config_fail(cfg, err, HERMES_ECONFIG, field, -1, 0, "missing required field '%s'", r.arg);
    case HERMES__CYAML_WRONG_TYPE:
    case HERMES__CYAML_OTHER:
        break;
    }
    if ((p = hermes__config_pos_find(cfg, r.path)) != NULL) {
        r.line = p->vline;
        r.col = p->vcol;
    }
    if (r.kind == HERMES__CYAML_WRONG_TYPE)
        return hermes__config_fail(cfg, err, HERMES_ECONFIG, r.path, r.line, r.col, "wrong type: %s", r.arg);
    return hermes__config_fail(cfg, err, HERMES_ECONFIG, r.path, r.line, r.col, "%s", r.text);
}

/* ------------------------------------------------------------------------ */
/* Stage 3: conversion with strict scalar parsing                           */

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Whole-string number; finiteness and range are checked by validate. */
static bool parse_number(const char *s, double *out)
{
    if (!*s || *s == ' ' || *s == '\t')
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end)
        return false;
    *out = v;
    return true;
}

static int get_number(hermes_config_t *cfg, hermes_error_t *err, const char *field, const char *s, double *out)
{
    if (!parse_number(s, out))
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "invalid number '%s'", s);
    return 0;
}

static int get_bool(hermes_config_t *cfg, hermes_error_t *err, const char *field, const char *s, bool *out)
{
    if (!parse_bool(s, out))
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field,
                                         "invalid boolean '%s' (expected true or false)", s);
    return 0;
}

/* modules.<module>.signals[j].<key>, formatted only when something fails. */
static const char *signal_field(char *buf, size_t cap, const char *module, unsigned j, const char *key)
{
    snprintf(buf, cap, "modules.%s.signals[%u].%s", module, j, key);
    return buf;
}

/* Takes the name and unit strings from libcyaml's data (NULLs them there). */
static int convert_signal(hermes_config_t *cfg, hermes_error_t *err, struct cfg_module *m, unsigned j,
                          struct ysignal *ys)
{
    char field[512];
    bool writable = false;
    double initial = 0.0;
    hermes_type_t t = HERMES_TYPE_F64;
    int rc;
    if (ys->type && hermes_type_parse(ys->type, &t) != 0)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG,
                                         signal_field(field, sizeof field, m->name, j, "type"),
                                         "invalid value '%s' (expected %s)", ys->type, hermes__type_choices());
    if (ys->writable &&
        (rc = get_bool(cfg, err, signal_field(field, sizeof field, m->name, j, "writable"), ys->writable,
                       &writable)) != 0)
        return rc;
    if (ys->initial) {
        bool b;
        if (parse_bool(ys->initial, &b) &&
            (strcasecmp(ys->initial, "true") == 0 || strcasecmp(ys->initial, "false") == 0))
            initial = b ? 1.0 : 0.0;
        else if (!parse_number(ys->initial, &initial))
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG,
                                             signal_field(field, sizeof field, m->name, j, "initial"),
                                             "invalid number '%s'", ys->initial);
    }
    char *name = ys->name, *unit = ys->unit;
    ys->name = ys->unit = NULL;
    return hermes__config_add_signal(m, name, t, unit, writable, initial);
}

/* modules.<m>.rate_hz and .offset; the divisor rule needs the base rate and
 * is checked by validate (rates.c). */
static int convert_rate(hermes_config_t *cfg, hermes_error_t *err, struct cfg_module *m, const struct ymodule *ym)
{
    char field[300];
    int rc;
    snprintf(field, sizeof field, "modules.%s.rate_hz", m->name);
    if (ym->rate_hz && (rc = get_number(cfg, err, field, ym->rate_hz, &m->rate_hz)) != 0)
        return rc;
    if (ym->rate_hz && !(m->rate_hz > 0.0))
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "must be a number of Hz > 0 (got '%s')",
                                         ym->rate_hz);
    snprintf(field, sizeof field, "modules.%s.offset", m->name);
    if (ym->offset) {
        const char *s = ym->offset;
        bool ok = *s && strlen(s) <= 10 && strspn(s, "0123456789") == strlen(s);
        unsigned long long v = ok ? strtoull(s, NULL, 10) : 0;
        if (!ok || v > UINT32_MAX)
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field,
                                             "invalid value '%s' (a whole number of base frames, 0 <= offset < "
                                             "execution.rate_hz / rate_hz)", s);
        m->offset = (uint32_t)v;
    }
    return 0;
}

static int convert_module(hermes_config_t *cfg, hermes_error_t *err, const char *name, struct ymodule *ym,
                          const char *base)
{
    char field[512];
    hermes_module_type_t type;
    snprintf(field, sizeof field, "modules.%s.type", name);
    if (hermes__module_type_parse(ym->type, &type) != 0)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "invalid value '%s' (expected %s)",
                                         ym->type, hermes__module_type_choices());
    snprintf(field, sizeof field, "modules.%s.executable", name);
    if (ym->executable && type != HERMES_MODULE_PROCESS)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field,
                                         "only process modules take an executable ('%s' is %s)", name,
                                         hermes_module_type_name(type));
    if (ym->executable && !*ym->executable)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "must not be empty");
    snprintf(field, sizeof field, "modules.%s.args", name);
    if (hermes__config_pos_find(cfg, field) && type != HERMES_MODULE_PROCESS)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field,
                                         "only process modules take arguments ('%s' is %s)", name,
                                         hermes_module_type_name(type));
    snprintf(field, sizeof field, "modules.%s.library", name);
    if (ym->library && type != HERMES_MODULE_INPROC)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field,
                                         "only inproc modules take a library ('%s' is %s)", name,
                                         hermes_module_type_name(type));
    if (ym->library && !*ym->library)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "must not be empty");
    snprintf(field, sizeof field, "modules.%s.config", name);
    if (ym->config && !*ym->config)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "must not be empty");

    snprintf(field, sizeof field, "modules.%s.fmu", name);
    if ((ym->fmu != NULL) != (type == HERMES_MODULE_FMU))
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, ym->fmu ? "only fmu modules take an fmu ('%s' is %s)"
                                         : "required for fmu module '%s' (%s)", name, hermes_module_type_name(type));
    const char *raw = ym->executable ? ym->executable : ym->library ? ym->library : ym->fmu;
    snprintf(field, sizeof field, "modules.%s.fmu", name);
    char *path = NULL;
    if (raw && !(path = ym->executable ? hermes__absolute_path(base, raw) : hermes__resolve_path(base, raw)))
        return hermes__config_nomem();
    int rc = hermes__config_add_module(cfg, name, type, path);
    if (rc)
        return rc;
    struct cfg_module *m = &cfg->mod[cfg->nmod - 1];
    if (ym->config && !(m->config_path = hermes__resolve_path(base, ym->config)))
        return hermes__config_nomem();
    if (hermes__copy_strv(&m->args, (const char *const *)ym->args, ym->args_count) != 0)
        return hermes__config_nomem();
    m->arg_count = ym->args_count;
    if ((rc = convert_rate(cfg, err, m, ym)) != 0)
        return rc;
    if (hermes__grow((void **)&m->sig, &m->capsig, ym->signals_count, sizeof *m->sig) != 0 ||
        hermes__names_reserve(&m->sigidx, ym->signals_count) != 0)
        return hermes__config_nomem();
    for (unsigned j = 0; j < ym->signals_count; j++)
        if ((rc = convert_signal(cfg, err, m, j, &ym->signals[j])) != 0)
            return rc;
    if (type == HERMES_MODULE_FMU)
        return hermes__config_fmu_load(cfg, err, m, field, ym->isolate, ym->locals);
    return 0;
}

/* All decimal digits (and at least one). */
static bool all_digits(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

/* Whole-string positive decimal that fits 32 bits; the range is an access
 * rule, checked with the others in hermes_config_validate(). */
static int get_limit(hermes_config_t *cfg, hermes_error_t *err, enum hermes__limit l, const char *s, uint32_t *out)
{
    char field[64];
    snprintf(field, sizeof field, "server.%s", hermes__limit_rules[l].key);
    bool ok = strlen(s) <= 10 && all_digits(s);
    unsigned long long v = ok ? strtoull(s, NULL, 10) : 0;
    if (!ok || v == 0 || v > UINT32_MAX)  /* in a file, 0 is a mistake: omitting the key gives the default */
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field,
                                         "invalid value '%s' (an integer from %u to %u; omit the key for the "
                                         "default %u)",
                                         s, hermes__limit_rules[l].min, hermes__limit_rules[l].max,
                                         hermes__limit_rules[l].def);
    *out = (uint32_t)v;
    return 0;
}

static int get_spin_us(hermes_config_t *cfg, hermes_error_t *err, const char *s)
{
    bool ok = strlen(s) <= 10 && all_digits(s);
    unsigned long long v = ok ? strtoull(s, NULL, 10) : 0;
    const char *why = ok && v <= UINT32_MAX ? hermes__config_spin_problem((uint32_t)v)
                                           : hermes__config_spin_problem(UINT32_MAX);
    if (why)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, "execution.spin_us", "%s (got '%s')", why, s);
    cfg->spin_us = (uint32_t)v;
    return 0;
}

/* execution.checkpoint: the CLI's --checkpoint/--checkpoint-at in YAML. */
static int convert_checkpoint(hermes_config_t *cfg, hermes_error_t *err, const struct yckpt *yc)
{
    double *at = yc->at_count ? calloc(yc->at_count, sizeof *at) : NULL;
    char field[64], key[32];
    int rc = yc->at_count && !at ? hermes__config_nomem() : 0;
    for (unsigned i = 0; i < yc->at_count && rc == 0; i++) {
        snprintf(field, sizeof field, "execution.checkpoint.at[%u]", i);
        rc = get_number(cfg, err, field, yc->at[i], &at[i]);
    }
    const char *why = rc ? NULL : hermes__config_checkpoint_problem(yc->file, at, yc->at_count, key, sizeof key);
    if (why && snprintf(field, sizeof field, "execution.checkpoint%s%s", *key ? "." : "", key) > 0)
        rc = hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "%s", why);
    else if (rc == 0)
        rc = hermes__config_store_checkpoint(cfg, yc->file, at, yc->at_count);
    free(at);
    return rc;
}

static int convert_access(hermes_config_t *cfg, hermes_error_t *err, const struct yserver *ys)
{
    int rc;
    const struct cfg_pos *tp = hermes__config_pos_find(cfg, "server.auth_token");
    if (ys->auth_token && !(tp && tp->is_null)) {  /* `auth_token: null` means none, as when absent */
        hermes__config_free_token(cfg->auth_token);
        if (!(cfg->auth_token = hermes__strdup(ys->auth_token)))
            return hermes__config_nomem();
    }
    if (ys->observers && (rc = get_bool(cfg, err, "server.observers", ys->observers, &cfg->observers)) != 0)
        return rc;
    bool viewer = true;
    if (ys->viewer && (rc = get_bool(cfg, err, "server.viewer", ys->viewer, &viewer)) != 0)
        return rc;
    cfg->viewer_disabled = !viewer;
    hermes__free_strv(cfg->origins, cfg->norigins);
    cfg->origins = NULL;
    cfg->norigins = 0;
    if (hermes__copy_strv(&cfg->origins, (const char *const *)ys->allowed_origins, ys->allowed_origins_count) != 0)
        return hermes__config_nomem();
    cfg->norigins = ys->allowed_origins_count;
    const char *vals[] = {ys->max_clients, ys->max_message_size, ys->commands_per_second, ys->max_patterns,
                          ys->max_json_depth};
    uint32_t *dst[] = {&cfg->max_clients, &cfg->max_message, &cfg->cps, &cfg->max_patterns, &cfg->max_depth};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
        if (vals[i] && (rc = get_limit(cfg, err, (enum hermes__limit)i, vals[i], dst[i])) != 0)
            return rc;
    return 0;
}

/* record: section (its cross-field rules are checked by validate). */
static int convert_record(hermes_config_t *cfg, hermes_error_t *err, const struct yrecord *yr)
{
    cfg->rec_enabled = true;
    if (yr->file) {
        free(cfg->rec_file);
        if (!(cfg->rec_file = hermes__strdup(yr->file)))
            return hermes__config_nomem();
    }
    if (yr->mcap) {
        if (!yr->mcap[0])
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, "record.mcap",
                                             "must not be empty (omit it to record no MCAP file)");
        free(cfg->rec_mcap);
        if (!(cfg->rec_mcap = hermes__strdup(yr->mcap)))
            return hermes__config_nomem();
    }
    hermes__free_strv(cfg->rec_signals, cfg->rec_nsignals);
    cfg->rec_signals = NULL;
    cfg->rec_nsignals = 0;
    if (hermes__copy_strv(&cfg->rec_signals, (const char *const *)yr->signals, yr->signals_count) != 0)
        return hermes__config_nomem();
    cfg->rec_nsignals = yr->signals_count;
    if (yr->every) {
        const char *s = yr->every;
        bool ok = strlen(s) <= 10 && all_digits(s);
        unsigned long long v = ok ? strtoull(s, NULL, 10) : 0;
        if (!ok || v == 0 || v > 1000000000ull)
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, "record.every",
                                             "invalid value '%s' (an integer from 1 to 1000000000: record one "
                                             "frame in N)", s);
        cfg->rec_every = (uint32_t)v;
    }
    int rc;
    if (yr->rate_hz) {
        if ((rc = get_number(cfg, err, "record.rate_hz", yr->rate_hz, &cfg->rec_rate)) != 0)
            return rc;
        if (!(cfg->rec_rate > 0))
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, "record.rate_hz",
                                             "invalid value '%s' (a positive number of Hz)", yr->rate_hz);
    }
    return 0;
}

static int convert(hermes_config_t *cfg, hermes_error_t *err, struct ytop *y, char **names, uint32_t n,
                   const char *base)
{
    int rc;
    char field[64];
    if (y->version && strcmp(y->version, "0.1") != 0 && strcmp(y->version, "0.2") != 0)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, "version",
                                         "unsupported version '%s' (expected \"0.1\" or \"0.2\")",
                                         y->version);
    for (uint32_t i = 0; i < n; i++)
        if ((rc = convert_module(cfg, err, names[i], &y->modules[i], base)) != 0)
            return rc;
    for (unsigned i = 0; i < y->wiring_count; i++) {
        const struct ywire *yw = &y->wiring[i];
        double gain = 1.0, offset = 0.0;
        snprintf(field, sizeof field, "wiring[%u].gain", i);
        if (yw->gain && (rc = get_number(cfg, err, field, yw->gain, &gain)) != 0)
            return rc;
        snprintf(field, sizeof field, "wiring[%u].offset", i);
        if (yw->offset && (rc = get_number(cfg, err, field, yw->offset, &offset)) != 0)
            return rc;
        if ((rc = hermes__config_add_wire(cfg, yw->src, yw->dst, gain, offset)) != 0)
            return rc;
    }
    if (y->execution) {
        const struct yexec *ye = y->execution;
        if (ye->mode && hermes__mode_parse(ye->mode, &cfg->exec.mode) != 0)
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, "execution.mode",
                                             "invalid value '%s' (expected %s)", ye->mode, hermes__mode_choices());
        if (ye->rate_hz && (rc = get_number(cfg, err, "execution.rate_hz", ye->rate_hz, &cfg->exec.rate_hz)) != 0)
            return rc;
        const struct cfg_pos *et = hermes__config_pos_find(cfg, "execution.end_time");
        if (ye->end_time && !(et && et->is_null)) {  /* `end_time: null` means no end, as when absent */
            if ((rc = get_number(cfg, err, "execution.end_time", ye->end_time, &cfg->exec.end_time)) != 0)
                return rc;
            cfg->exec.has_end_time = true;
        }
        if (ye->step_timeout &&
            (rc = get_number(cfg, err, "execution.step_timeout", ye->step_timeout, &cfg->exec.step_timeout)) != 0)
            return rc;
        if (ye->check_groups &&
            (rc = get_bool(cfg, err, "execution.check_groups", ye->check_groups, &cfg->check_groups)) != 0)
            return rc;
        if (ye->spin_us && (rc = get_spin_us(cfg, err, ye->spin_us)) != 0)
            return rc;
        if (ye->checkpoint && (rc = convert_checkpoint(cfg, err, ye->checkpoint)) != 0)
            return rc;
        if (ye->restore) {
            if (strcmp(ye->restore, "replay") != 0 && strcmp(ye->restore, "state") != 0)
                return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, "execution.restore",
                                                 "must be state (modules save and load their state) or replay "
                                                 "(re-run the journal from frame 0), got '%s'", ye->restore);
            cfg->ckpt_replay = !strcmp(ye->restore, "replay");
        }
        if (hermes__config_pos_find(cfg, "execution.schedule") && cfg->nsched == 0)
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, "execution.schedule",
                                             "must list every module (omit it for file order)");
    }
    if (y->server) {
        const struct yserver *ys = y->server;
        if (ys->enabled && (rc = get_bool(cfg, err, "server.enabled", ys->enabled, &cfg->srv_enabled)) != 0)
            return rc;
        if (ys->host) {
            char *h = hermes__strdup(ys->host);
            if (!h)
                return hermes__config_nomem();
            free(cfg->host);
            cfg->host = h;
        }
        if (ys->port) {
            const char *s = ys->port;
            bool ok = all_digits(s);
            long v = -1;
            if (ok) {
                errno = 0;
                v = strlen(s) <= 6 ? strtol(s, NULL, 10) : -1;
            }
            if (!ok || v < 0 || v > 65535)
                return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, "server.port",
                                                 "invalid port '%s' (integer 0..65535)", s);
            cfg->port = (uint16_t)v;
        }
        if (ys->telemetry_hz &&
            (rc = get_number(cfg, err, "server.telemetry_hz", ys->telemetry_hz, &cfg->telemetry_hz)) != 0)
            return rc;
        if ((rc = convert_access(cfg, err, ys)) != 0)
            return rc;
    }
    if (y->record && (rc = convert_record(cfg, err, y->record)) != 0)
        return rc;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */

/* Failures that did not go through cfg_fail (out of memory) still fill @p err. */
static int fill_err(hermes_error_t *err, int rc, const char *file)
{
    if (rc && err && err->code == 0) {
        err->code = rc;
        hermes__strlcpy(err->file, file ? file : "", sizeof err->file);
        hermes__strlcpy(err->message, hermes_last_error(), sizeof err->message);
    }
    return rc;
}

/* Load @p text (malloc'd; the config keeps it for positions, so it is freed
 * with the config, also on failure). */
static int load_text(hermes_config_t **out, char *text, size_t len, const char *label, const char *errfile,
                     const char *base, char *realfile, hermes_error_t *err)
{
    hermes_config_t *cfg = NULL;
    int rc = hermes_config_create(&cfg);
    if (rc) {
        free(text);
        free(realfile);
        return rc;
    }
    cfg->text = text;
    cfg->text_len = len;
    cfg->pos_fill = hermes__config_pos_complete;
    cfg->path = realfile;
    cfg->label = hermes__strdup(label);
    cfg->errfile = hermes__strdup(errfile);
    if (!cfg->label || !cfg->errfile) {
        hermes_config_destroy(cfg);
        return hermes__config_nomem();
    }

    char **names = NULL;
    uint32_t nnames = 0;
    struct hermes__yaml_schedule sched;
    rc = hermes__config_prepass(cfg, err, text, len, &names, &nnames, &sched);
    if (rc == 0 && sched.present)
        rc = hermes__config_set_schedule_yaml(cfg, sched.names, sched.group, sched.fields, sched.n);
    hermes__yaml_schedule_free(&sched); /* empty after a failed pre-pass */
    cyaml_schema_field_t *mf = NULL;
    struct ytop *data = NULL;
    struct logbuf *lb = NULL;
    cyaml_config_t ccfg;
    cyaml_schema_value_t top_value;
    if (rc)
        goto done;

    mf = calloc((size_t)nnames + 1, sizeof *mf);
    lb = calloc(1, sizeof *lb);
    if (!mf || !lb) {
        rc = hermes__config_nomem();
        goto done;
    }
    for (uint32_t i = 0; i < nnames; i++) {
        mf[i].key = names[i];
        mf[i].data_offset = (uint32_t)(i * sizeof(struct ymodule));
        mf[i].value.type = CYAML_MAPPING;
        mf[i].value.flags = CYAML_FLAG_DEFAULT;
        mf[i].value.data_size = sizeof(struct ymodule);
        mf[i].value.mapping.fields = module_fields;
    }
    cyaml_schema_field_t top_fields[] = {
        STR_OPT("version", struct ytop, version),
        {.key = "modules",
         .data_offset = offsetof(struct ytop, modules),
         .value = {.type = CYAML_MAPPING,
                   .flags = CYAML_FLAG_POINTER,
                   .data_size = (uint32_t)(nnames * sizeof(struct ymodule)),
                   .mapping = {.fields = mf}}},
        CYAML_FIELD_SEQUENCE("wiring", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct ytop, wiring, &wire_entry, 0,
                             CYAML_UNLIMITED),
        CYAML_FIELD_MAPPING_PTR("execution", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct ytop, execution,
                                exec_fields),
        CYAML_FIELD_MAPPING_PTR("server", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct ytop, server,
                                server_fields),
        CYAML_FIELD_MAPPING_PTR("record", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct ytop, record,
                                record_fields),
        CYAML_FIELD_END,
    };
    const cyaml_schema_value_t tv = {CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct ytop, top_fields)};
    top_value = tv;
    memset(&ccfg, 0, sizeof ccfg);
    ccfg.log_fn = cyaml_capture;
    ccfg.log_ctx = lb;
    ccfg.mem_fn = cyaml_mem_amortized;
    ccfg.log_level = CYAML_LOG_WARNING;
    ccfg.flags = CYAML_CFG_DEFAULT;
    cyaml_err_t cerr = cyaml_load_data((const uint8_t *)text, len, &ccfg, &top_value, (void **)&data, NULL);
    if (cerr == CYAML_ERR_OOM) {
        rc = hermes__config_nomem();
    } else if (cerr != CYAML_OK) {
        rc = report_cyaml(cfg, err, lb->buf, cerr);
    } else if (!data) {
        rc = hermes__config_fail(cfg, err, HERMES_ECONFIG, NULL, 0, 0, "configuration is empty");
    } else {
        rc = convert(cfg, err, data, names, nnames, base);
        if (rc == 0)
            rc = hermes_config_validate(cfg, err);
    }
    if (data)
        cyaml_free(&ccfg, &top_value, data, 0);

done:
    free(lb);
    free(mf);
    hermes__free_strv(names, nnames);
    if (rc) {
        hermes_config_destroy(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

HERMES_API int hermes_config_parse(hermes_config_t **out, const char *text, size_t len, const char *name,
                                   const char *base_dir, hermes_error_t *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (out)
        *out = NULL;
    if (!out || !text)
        return fill_err(err, hermes__fail(HERMES_EINVAL, "hermes_config_parse: out or text is NULL"), name);
    char *base = NULL;
    if (base_dir) {
        base = realpath(base_dir, NULL);
        if (!base)
            base = hermes__resolve_path(NULL, base_dir);
    } else {
        base = getcwd(NULL, 0);
    }
    if (!base)
        return fill_err(err, hermes__config_nomem(), name);
    char *copy = malloc(len + 1);
    if (!copy) {
        free(base);
        return fill_err(err, hermes__config_nomem(), name);
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    int rc = load_text(out, copy, len, name ? name : "<config>", name ? name : "", base, NULL, err);
    free(base);
    return fill_err(err, rc, name);
}

HERMES_API int hermes_config_load(hermes_config_t **out, const char *path, hermes_error_t *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (out)
        *out = NULL;
    if (!out || !path)
        return fill_err(err, hermes__fail(HERMES_EINVAL, "hermes_config_load: out or path is NULL"), path);
    unsigned char *bytes = NULL;
    size_t len = 0;
    int frc = hermes__read_file(path, SIZE_MAX, &bytes, &len);
    if (frc) {
        int e = errno;
        if (frc == HERMES_ENOMEM)
            return fill_err(err, hermes__config_nomem(), path);
        struct hermes_config tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.label = (char *)path;
        tmp.errfile = (char *)path;
        return hermes__config_fail(&tmp, err, frc == HERMES_ENOENT ? HERMES_ENOENT : HERMES_ECONFIG, NULL, 0, 0,
                                   "cannot read: %s", strerror(e));
    }
    char *text = (char *)bytes;
    char *real = realpath(path, NULL);
    char *base = real ? hermes__strdup(real) : hermes__resolve_path(NULL, path);
    if (!base) {
        free(real);
        free(text);
        return fill_err(err, hermes__config_nomem(), path);
    }
    char *slash = strrchr(base, '/');
    if (slash == base)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    if (!real)
        real = hermes__resolve_path(NULL, path);
    int rc;
    if (real) {
        char *fit = realloc(text, len + 1);  /* the config keeps the text: give back the slack */
        if (fit)
            text = fit;
        rc = load_text(out, text, len, path, path, base, real, err);
    } else {
        free(text);
        rc = hermes__config_nomem();
    }
    free(base);
    return fill_err(err, rc, path);
}
