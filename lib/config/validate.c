/* Configuration rules, each written once: name, type, value and section
 * checks shared with the builder, and hermes_config_validate() with the
 * cross-field rules (unique names, files, wires, schedule, server). */
#include "config/internal.h"
#include "common/access.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STR_(x) #x
#define STR(x) STR_(x)

static bool is_alpha_(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* ------------------------------------------------------------------------ */
/* Name and value rules (shared by the add_* calls and validate)            */

const char *hermes__config_module_name_problem(const char *n)
{
    if (!n || !*n)
        return "must not be empty";
    if (strlen(n) > HERMES_MAX_MODULE_NAME)
        return "longer than " STR(HERMES_MAX_MODULE_NAME) " characters";
    if (!is_alpha_(n[0]))
        return "must start with a letter or '_'";
    for (const char *p = n; *p; p++)
        if (!is_alpha_(*p) && !is_digit(*p) && *p != '-')
            return "may contain only letters, digits, '_' and '-'";
    if (strcmp(n, HERMES_HEALTH_MODULE) == 0)
        return "'" HERMES_HEALTH_MODULE "' is reserved for the timing-health signals";
    return NULL;
}

const char *hermes__config_signal_name_problem(const char *module, const char *n)
{
    if (!n || !*n)
        return "must not be empty";
    if (!is_alpha_(n[0]))
        return "must start with a letter or '_'";
    for (const char *p = n; *p; p++)
        if (!is_alpha_(*p) && !is_digit(*p) && *p != '.')
            return "may contain only letters, digits, '_' and '.'";
    if (n[strlen(n) - 1] == '.')
        return "must not end with '.'";
    if (strlen(module) + 1 + strlen(n) > HERMES_MAX_NAME)
        return "qualified name (module.signal) is longer than " STR(HERMES_MAX_NAME) " characters";
    return NULL;
}

bool hermes__config_type_valid(hermes_type_t t) { return t >= HERMES_TYPE_F64 && t <= HERMES_TYPE_BOOL; }

bool hermes__config_module_type_valid(hermes_module_type_t t)
{
    return t != HERMES_MODULE_NONE && strcmp(hermes_module_type_name(t), "unknown") != 0;
}

const char *hermes__config_initial_problem(hermes_type_t t, double v, char *buf, size_t cap)
{
    if (!isfinite(v)) {
        snprintf(buf, cap, "initial value must be finite (got %g)", v);
        return buf;
    }
    if (hermes_type_check(t, v) != 0) {
        snprintf(buf, cap, "initial value %.17g does not fit type %s", v, hermes_type_name(t));
        return buf;
    }
    return NULL;
}

static bool positive_finite(double v) { return isfinite(v) && v > 0.0; }

#define STR_(x) #x
#define STR(x) STR_(x)
const char *hermes__config_spin_problem(uint32_t us)
{
    return us > HERMES_MAX_SPIN_US ? "must be an integer from 0 to " STR(HERMES_MAX_SPIN_US) " microseconds" : NULL;
}
#undef STR
#undef STR_

const char *hermes__config_exec_problem(const hermes_execution_t *e, const char **field, char *buf, size_t cap)
{
    if (strcmp(hermes_mode_name(e->mode), "unknown") == 0) {
        *field = "execution.mode";
        snprintf(buf, cap, "invalid mode %d (expected %s)", (int)e->mode, hermes__mode_choices());
        return buf;
    }
    if (!positive_finite(e->rate_hz)) {
        *field = "execution.rate_hz";
        snprintf(buf, cap, "must be a finite number > 0 (got %g)", e->rate_hz);
        return buf;
    }
    if (e->has_end_time && !positive_finite(e->end_time)) {
        *field = "execution.end_time";
        snprintf(buf, cap, "must be a finite number > 0 (got %g)", e->end_time);
        return buf;
    }
    if (!positive_finite(e->step_timeout)) {
        *field = "execution.step_timeout";
        snprintf(buf, cap, "must be a finite number > 0 (got %g)", e->step_timeout);
        return buf;
    }
    return NULL;
}


/* The server section in the shape hermes__access_check() takes. */
static struct hermes__access access_of(const hermes_server_settings_t *srv)
{
    struct hermes__access a = {
        .telemetry_hz = srv->telemetry_hz,
        .auth_token = srv->auth_token,
        .allowed_origins = srv->allowed_origins,
        .allowed_origin_count = srv->allowed_origin_count,
        .limit = {[HERMES__LIMIT_MAX_CLIENTS] = srv->max_clients,
                  [HERMES__LIMIT_MAX_MESSAGE] = srv->max_message_size,
                  [HERMES__LIMIT_COMMANDS_PER_SECOND] = srv->commands_per_second,
                  [HERMES__LIMIT_MAX_PATTERNS] = srv->max_patterns,
                  [HERMES__LIMIT_MAX_JSON_DEPTH] = srv->max_json_depth},
    };
    return a;
}

const char *hermes__config_server_problem(const hermes_server_settings_t *srv, char *field, size_t fcap, char *buf,
                                          size_t cap)
{
    /* In the server, 0 means the default rate; in a config the default is
     * written out, so 0 is a mistake. */
    if (srv->telemetry_hz == 0) {
        snprintf(field, fcap, "server.telemetry_hz");
        snprintf(buf, cap, "must be a number in (0, %g] (got 0)", HERMES__TELEMETRY_HZ_MAX);
        return buf;
    }
    if (srv->host && !*srv->host) {
        snprintf(field, fcap, "server.host");
        snprintf(buf, cap, "must not be empty");
        return buf;
    }
    struct hermes__access acc = access_of(srv);
    char afield[64];
    if (hermes__access_check(&acc, afield, sizeof afield, buf, cap) != 0) {
        snprintf(field, fcap, "server.%s", afield);
        return buf;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Validation                                                               */

/* Split "module.local" and find it. Returns 0, or -1 with a reason in @p why. */
static int find_qualified(const hermes_config_t *cfg, const char *q, uint32_t *mi, uint32_t *si,
                          char *why, size_t cap)
{
    const char *dot = strchr(q, '.');
    if (!dot || dot == q || !dot[1]) {
        snprintf(why, cap, "'%s' is not a qualified signal name (module.signal)", q);
        return -1;
    }
    size_t ml = (size_t)(dot - q);
    int i = hermes__config_find_module(cfg, q, ml);
    if (i < 0) {
        snprintf(why, cap, "no such signal '%s' (no module '%.*s')", q, (int)ml, q);
        return -1;
    }
    const struct cfg_module *m = &cfg->mod[i];
    int j = hermes__config_find_signal(m, dot + 1);
    if (j < 0) {
        snprintf(why, cap, "no such signal '%s' (module '%s' has no signal '%s')", q, m->name, dot + 1);
        return -1;
    }
    *mi = (uint32_t)i;
    *si = (uint32_t)j;
    return 0;
}

static int check_file(const hermes_config_t *cfg, hermes_error_t *err, const char *field, const char *path,
                      const char *what, bool need_exec)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "%s not found: %s (%s)", what, path,
                                         strerror(errno));
    if (!S_ISREG(st.st_mode))
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "%s is not a regular file: %s", what, path);
    if (need_exec && access(path, X_OK) != 0)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "file is not executable: %s", path);
    return 0;
}

/* Failure at modules.<m>.signals[j].<key>; the path is only formatted when
 * something fails, so a valid config costs no printing per signal. */
static int signal_fail(const hermes_config_t *cfg, hermes_error_t *err, const struct cfg_module *m, uint32_t j,
                       const char *key, const char *fmt, ...) HERMES_PRINTF(6, 7);
static int signal_fail(const hermes_config_t *cfg, hermes_error_t *err, const struct cfg_module *m, uint32_t j,
                       const char *key, const char *fmt, ...)
{
    char field[512];
    snprintf(field, sizeof field, "modules.%s.signals[%u].%s", m->name, (unsigned)j, key);
    va_list ap;
    va_start(ap, fmt);
    int rc = hermes__config_failv(cfg, err, HERMES_ECONFIG, field, -1, 0, fmt, ap);
    va_end(ap);
    return rc;
}

static int validate_signals(const hermes_config_t *cfg, const struct cfg_module *m, hermes_error_t *err)
{
    char buf[256];
    const char *why;
    for (uint32_t j = 0; j < m->nsig; j++) {
        const struct cfg_signal *s = &m->sig[j];
        if ((why = hermes__config_signal_name_problem(m->name, s->name)) != NULL)
            return signal_fail(cfg, err, m, j, "name", "invalid signal name '%s': %s", s->name, why);
        int k = m->ndup ? hermes__config_find_signal(m, s->name) : (int)j;
        if (k >= 0 && (uint32_t)k != j)
            return signal_fail(cfg, err, m, j, "name", "duplicate signal name '%s' in module '%s' (also signals[%d])",
                               s->name, m->name, k);
        if (!hermes__config_type_valid(s->type))
            return signal_fail(cfg, err, m, j, "type", "signal '%s.%s': invalid type %d", m->name, s->name,
                               (int)s->type);
        if (s->unit && strlen(s->unit) > HERMES_MAX_UNIT)
            return signal_fail(cfg, err, m, j, "unit", "signal '%s.%s': unit '%s' is longer than %d characters",
                               m->name, s->name, s->unit, HERMES_MAX_UNIT);
        if ((why = hermes__config_initial_problem(s->type, s->initial, buf, sizeof buf)) != NULL)
            return signal_fail(cfg, err, m, j, "initial", "signal '%s.%s': %s", m->name, s->name, why);
    }
    return 0;
}

static int validate_module(const hermes_config_t *cfg, uint32_t i, hermes_error_t *err)
{
    const struct cfg_module *m = &cfg->mod[i];
    char field[512];
    snprintf(field, sizeof field, "modules.%s", m->name);
    const char *why = hermes__config_module_name_problem(m->name);
    if (why)
        return hermes__config_key_fail(cfg, err, field, "invalid module name '%s': %s", m->name, why);
    int k = cfg->nmoddup ? hermes__config_find_module(cfg, m->name, strlen(m->name)) : (int)i;
    if (k >= 0 && (uint32_t)k != i)
        return hermes__config_key_fail(cfg, err, field, "duplicate module name '%s'", m->name);
    if (!hermes__config_module_type_valid(m->type))
        return hermes__config_key_fail(cfg, err, field, "module '%s': invalid module type %d", m->name, (int)m->type);
    int rc;
    switch (m->type) {
    case HERMES_MODULE_PROCESS:
        snprintf(field, sizeof field, "modules.%s.executable", m->name);
        if (!m->path)
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "required for process module '%s'",
                                             m->name);
        if ((rc = check_file(cfg, err, field, m->path, "executable", true)) != 0)
            return rc;
        break;
    case HERMES_MODULE_INPROC:
        snprintf(field, sizeof field, "modules.%s.library", m->name);
        if (!m->path && !m->callbacks)
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field,
                                             "required for inproc module '%s' (or set host callbacks)", m->name);
        if (m->path && (rc = check_file(cfg, err, field, m->path, "library", false)) != 0)
            return rc;
        break;
    case HERMES_MODULE_FMU:
        snprintf(field, sizeof field, "modules.%s.fmu", m->name);
        if (!m->path)
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "required for fmu module '%s'", m->name);
        break;
    default:
        if (m->path)
            return hermes__config_key_fail(cfg, err, field, "injection module '%s' takes no executable or library",
                                           m->name);
        break;
    }
    if (m->arg_count > 0 && m->type != HERMES_MODULE_PROCESS) {
        snprintf(field, sizeof field, "modules.%s.args", m->name);
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "only process modules take arguments");
    }
    if (m->config_path) {
        snprintf(field, sizeof field, "modules.%s.config", m->name);
        struct stat st;
        if (stat(m->config_path, &st) != 0)
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "module config not found: %s (%s)",
                                             m->config_path, strerror(errno));
    }
    return validate_signals(cfg, m, err);
}

/* Failure at wiring[i].<key>. */
static int wire_fail(const hermes_config_t *cfg, hermes_error_t *err, uint32_t i, const char *key, const char *fmt,
                     ...) HERMES_PRINTF(5, 6);
static int wire_fail(const hermes_config_t *cfg, hermes_error_t *err, uint32_t i, const char *key, const char *fmt,
                     ...)
{
    char field[64];
    snprintf(field, sizeof field, "wiring[%u].%s", (unsigned)i, key);
    va_list ap;
    va_start(ap, fmt);
    int rc = hermes__config_failv(cfg, err, HERMES_ECONFIG, field, -1, 0, fmt, ap);
    va_end(ap);
    return rc;
}

static int validate_wires(const hermes_config_t *cfg, hermes_error_t *err)
{
    if (cfg->nwire == 0)
        return 0;
    /* driver[first[m] + s] = 1 + the wire driving signal s of module m. */
    uint32_t *first = malloc(((size_t)cfg->nmod + 1) * sizeof *first);
    if (!first)
        return hermes__config_nomem();
    first[0] = 0;
    for (uint32_t i = 0; i < cfg->nmod; i++)
        first[i + 1] = first[i] + cfg->mod[i].nsig;
    uint32_t *driver = calloc(first[cfg->nmod] ? first[cfg->nmod] : 1, sizeof *driver);
    if (!driver) {
        free(first);
        return hermes__config_nomem();
    }
    int rc = 0;
    char why[512];
    for (uint32_t i = 0; i < cfg->nwire && rc == 0; i++) {
        const struct cfg_wire *w = &cfg->wire[i];
        uint32_t smi, ssi, dmi, dsi;
        if (find_qualified(cfg, w->src, &smi, &ssi, why, sizeof why) != 0)
            rc = wire_fail(cfg, err, i, "src", "%s", why);
        else if (find_qualified(cfg, w->dst, &dmi, &dsi, why, sizeof why) != 0)
            rc = wire_fail(cfg, err, i, "dst", "%s", why);
        else if (smi == dmi && ssi == dsi)
            rc = wire_fail(cfg, err, i, "dst", "self-wiring: '%s' is wired to itself", w->dst);
        else if (!cfg->mod[dmi].sig[dsi].writable)
            rc = wire_fail(cfg, err, i, "dst", "destination '%s' is not writable", w->dst);
        else if (cfg->mod[dmi].sig[dsi].initial_only)
            rc = wire_fail(cfg, err, i, "dst", "destination '%s' is %s: it takes only an initial value, a wire "
                           "cannot drive it", w->dst, cfg->mod[dmi].sig[dsi].initial_only);
        else if (driver[first[dmi] + dsi])
            rc = wire_fail(cfg, err, i, "dst", "destination '%s' is already driven by wiring[%u] (from '%s')", w->dst,
                           (unsigned)(driver[first[dmi] + dsi] - 1), cfg->wire[driver[first[dmi] + dsi] - 1].src);
        else if (!isfinite(w->gain))
            rc = wire_fail(cfg, err, i, "gain", "must be finite (got %g)", w->gain);
        else if (!isfinite(w->offset))
            rc = wire_fail(cfg, err, i, "offset", "must be finite (got %g)", w->offset);
        else
            driver[first[dmi] + dsi] = i + 1;
    }
    free(driver);
    free(first);
    return rc;
}

static int validate_schedule(const hermes_config_t *cfg, hermes_error_t *err)
{
    if (!cfg->sched)
        return 0;
    /* at[m] = 1 + the schedule entry of module m. */
    uint32_t *at = calloc(cfg->nmod ? cfg->nmod : 1, sizeof *at);
    if (!at)
        return hermes__config_nomem();
    char field[64], first[64];
    int rc = 0;
    /* Entries read from YAML carry their path (groups nest: schedule[1][0]). */
#define SCHED_FIELD(buf, k) (cfg->sched_field ? cfg->sched_field[k] \
                             : (snprintf(buf, sizeof buf, "execution.schedule[%u]", (unsigned)(k)), buf))
    for (uint32_t k = 0; k < cfg->nsched && rc == 0; k++) {
        const char *f = SCHED_FIELD(field, k);
        int i = hermes__config_find_module(cfg, cfg->sched[k], strlen(cfg->sched[k]));
        if (i < 0)
            rc = hermes__config_field_fail(cfg, err, HERMES_ECONFIG, f, "unknown module '%s'", cfg->sched[k]);
        else if (at[i])
            rc = hermes__config_field_fail(cfg, err, HERMES_ECONFIG, f, "module '%s' is scheduled twice (also at %s)",
                                           cfg->sched[k], SCHED_FIELD(first, at[i] - 1));
        else
            at[i] = k + 1;
    }
    for (uint32_t i = 0; i < cfg->nmod && rc == 0; i++)
        if (!at[i])
            rc = hermes__config_field_fail(cfg, err, HERMES_ECONFIG, "execution.schedule",
                                           "module '%s' is missing from the schedule", cfg->mod[i].name);
    free(at);
    return rc;
#undef SCHED_FIELD
}

/* The size limits (docs/config.md, "Limits"), checked before anything is
 * created: signals per module, and with the server on the schema estimated
 * from the names (120 bytes, twice the qualified name and the unit per
 * signal: above both the hermes schema and the Foxglove advertise). */
static int validate_limits(const hermes_config_t *cfg, hermes_error_t *err)
{
    char field[512];
    uint64_t est = 0;
    for (uint32_t i = 0; i < cfg->nmod; i++) {
        const struct cfg_module *m = &cfg->mod[i];
        if (m->nsig > HERMES_MAX_MODULE_SIGNALS) {
            snprintf(field, sizeof field, "modules.%s.signals", m->name);
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field,
                                             "module '%s' has %u signals, over the limit of %u signals per module "
                                             "(HERMES_MAX_MODULE_SIGNALS); split it into several modules",
                                             m->name, m->nsig, HERMES_MAX_MODULE_SIGNALS);
        }
        size_t ml = strlen(m->name) + 1;
        for (uint32_t j = 0; cfg->srv_enabled && j < m->nsig; j++)
            est += 120 + 2 * (ml + strlen(m->sig[j].name)) + (m->sig[j].unit ? strlen(m->sig[j].unit) : 0);
    }
    if (est > HERMES_MAX_SCHEMA_BYTES)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, "server.enabled",
                                         "the schema of this run would be about %.1f MiB, over the limit of %u MiB "
                                         "(HERMES_MAX_SCHEMA_BYTES); record without the server or use fewer or "
                                         "shorter signal names",
                                         (double)est / (1 << 20), HERMES_MAX_SCHEMA_BYTES >> 20);
    return 0;
}

static int validate(const hermes_config_t *cfg, hermes_error_t *err)
{
    if (cfg->nmod == 0)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, "modules", "at least one module is required");
    int rc = validate_limits(cfg, err);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < cfg->nmod; i++)
        if ((rc = validate_module(cfg, i, err)) != 0)
            return rc;
    if ((rc = validate_wires(cfg, err)) != 0)
        return rc;
    const char *field = NULL;
    char buf[192];
    const char *why = hermes__config_exec_problem(&cfg->exec, &field, buf, sizeof buf);
    if (why)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "%s", why);
    if ((rc = hermes__config_check_rates(cfg, err)) != 0)
        return rc;
    if ((rc = validate_schedule(cfg, err)) != 0)
        return rc;
    hermes_server_settings_t srv;
    hermes_config_server(cfg, &srv);
    char sfield[80];
    if (!srv.host)
        srv.host = "";
    if ((why = hermes__config_server_problem(&srv, sfield, sizeof sfield, buf, sizeof buf)) != NULL)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, sfield, "%s", why);
    hermes_record_settings_t rec;
    hermes_config_record(cfg, &rec);
    if ((why = hermes__config_record_problem(&rec, sfield, sizeof sfield, buf, sizeof buf)) != NULL)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, sfield, "%s", why);
    return 0;
}

const char *hermes__config_record_problem(const hermes_record_settings_t *rec, char *field, size_t fcap, char *buf,
                                          size_t cap)
{
    if (rec->file && !rec->file[0]) {
        snprintf(field, fcap, "record.file");
        return "must not be empty (omit it to record only with --record)";
    }
    if (rec->every && rec->rate_hz != 0) {
        snprintf(field, fcap, "record.rate_hz");
        return "give record.every or record.rate_hz, not both";
    }
    if (rec->rate_hz < 0 || !isfinite(rec->rate_hz)) {
        snprintf(field, fcap, "record.rate_hz");
        snprintf(buf, cap, "must be a positive number of Hz, got %g", rec->rate_hz);
        return buf;
    }
    for (uint32_t i = 0; i < rec->signal_count; i++) {
        const char *p = rec->signals ? rec->signals[i] : NULL;
        size_t n = p ? strlen(p) : 0;
        const char *star = p ? strchr(p, '*') : NULL;
        bool ok = n > 0 && (!star || n == 1 || (star == p + n - 1 && n >= 3 && p[n - 2] == '.'));
        if (!ok) {
            snprintf(field, fcap, "record.signals[%u]", i);
            snprintf(buf, cap, "unsupported pattern '%s' (use *, module.* or an exact module.signal name)",
                     p ? p : "(null)");
            return buf;
        }
    }
    return NULL;
}

HERMES_API int hermes_config_validate(const hermes_config_t *cfg, hermes_error_t *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!cfg) {
        if (err) {
            err->code = HERMES_EINVAL;
            hermes__strlcpy(err->message, "hermes_config_validate: cfg is NULL", sizeof err->message);
        }
        return hermes__fail(HERMES_EINVAL, "hermes_config_validate: cfg is NULL");
    }
    /* Validated once per start: loading validates, and the scheduler's own
     * call then costs nothing until the config changes. The flag lives in a
     * config the caller passed as const: the object itself is never const
     * (configs come from hermes_config_create), so the store is defined. */
    hermes_config_t *mut = (hermes_config_t *)cfg;
    if (atomic_load_explicit(&mut->validated, memory_order_acquire))
        return 0;
    int rc = validate(cfg, err);
    if (rc == 0)
        atomic_store_explicit(&mut->validated, true, memory_order_release);
    return rc;
}
