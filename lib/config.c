/* Simulation configuration: YAML loading (libyaml pre-pass + libcyaml with a
 * schema built at run time), the programmatic builder and validation.
 *
 * Loading runs in four stages, each reporting the first error with file,
 * line, column and dotted field path:
 *   1. a libyaml event pre-pass: syntax errors with exact positions, the top
 *      level shape, duplicate keys, the module names under `modules:` and the
 *      position of every key and value (kept in the config so that later
 *      stages, including validate, can point at a line);
 *   2. libcyaml with a schema whose `modules` mapping has one field per
 *      module name: unknown keys, missing required fields, enum values;
 *   3. conversion: fields libcyaml parses leniently (numbers, booleans) are
 *      loaded as strings and parsed strictly here;
 *   4. hermes_config_validate(): every cross-field rule, shared with configs
 *      built in code. */
#include "config_internal.h"
#include "access.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cyaml/cyaml.h>
#include <yaml.h>

#include "hermes/inproc.h"
#include "util.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* ------------------------------------------------------------------------ */
/* Internal representation                                                  */

struct cfg_pos {
    char *path;          /* dotted field path, e.g. "modules.vehicle.signals[1].initial" */
    int   kline, kcol;   /* key position (for sequence entries: the entry) */
    int   vline, vcol;   /* value position */
    bool  is_null;       /* plain null scalar: "", "~", "null" */
};

struct cfg_signal {
    char         *name;
    hermes_type_t type;
    char         *unit;   /* NULL when none */
    bool          writable;
    double        initial;
};

struct cfg_module {
    char                 *name;
    hermes_module_type_t  type;
    char                 *path;         /* resolved executable / library, or NULL */
    char                 *config_path;  /* resolved, or NULL */
    char                **args;
    uint32_t              arg_count;
    struct cfg_signal    *sig;
    uint32_t              nsig, capsig;
    const hermes_inproc_module_t *callbacks;
};

struct cfg_wire {
    char  *src, *dst;
    double gain, offset;
};

struct hermes_config {
    struct cfg_module *mod;
    uint32_t           nmod, capmod;
    struct cfg_wire   *wire;
    uint32_t           nwire, capwire;
    char             **sched;       /* NULL: file order */
    uint32_t           nsched;
    uint32_t          *sched_group; /* group number per entry, 0, 1, ... (NULL: one per entry) */
    uint32_t           spin_us;     /* execution.spin_us */
    bool               check_groups;
    hermes_execution_t exec;
    bool               srv_enabled;
    char              *host;
    uint16_t           port;
    double             telemetry_hz;
    char              *auth_token;  /* NULL: none; wiped on free */
    bool               observers;
    char             **origins;
    uint32_t           norigins;
    uint32_t           max_clients, max_message, cps, max_patterns, max_depth;  /* 0: server default */
    char              *path;        /* realpath of the loaded file, or NULL */
    char              *label;       /* file name used in messages, or NULL */
    char              *errfile;     /* hermes_error_t.file ("" for in-memory text) */
    struct cfg_pos    *pos;         /* positions from the pre-pass (empty for code-built configs) */
    size_t             npos, cappos;
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint32_t n = *cap ? *cap * 2 : 4;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, (size_t)n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static char *xasprintf(const char *fmt, ...) HERMES_PRINTF(1, 2);
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static bool is_alpha_(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int nomem(void) { return hermes__fail(HERMES_ENOMEM, "config: out of memory"); }

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
        for (size_t i = 0; i < cfg->npos; i++)
            if (strcmp(cfg->pos[i].path, buf) == 0) {
                *line = exact ? cfg->pos[i].vline : cfg->pos[i].kline;
                *col = exact ? cfg->pos[i].vcol : cfg->pos[i].kcol;
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

static const struct cfg_pos *pos_find(const hermes_config_t *cfg, const char *field)
{
    for (size_t i = 0; cfg && i < cfg->npos; i++)
        if (strcmp(cfg->pos[i].path, field) == 0)
            return &cfg->pos[i];
    return NULL;
}

/* Report an error: fill @p err (optional), set the thread's message, return
 * @p code. line < 0 means "look the field up in the position table". */
static int cfg_failv(const hermes_config_t *cfg, hermes_error_t *err, int code, const char *field,
                     int line, int col, const char *fmt, va_list ap)
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

static int cfg_fail(const hermes_config_t *cfg, hermes_error_t *err, int code, const char *field,
                    int line, int col, const char *fmt, ...) HERMES_PRINTF(7, 8);
static int cfg_fail(const hermes_config_t *cfg, hermes_error_t *err, int code, const char *field,
                    int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cfg_failv(cfg, err, code, field, line, col, fmt, ap);
    va_end(ap);
    return rc;
}

/* Error at the recorded key position of @p field (module names). */
static int key_fail(const hermes_config_t *cfg, hermes_error_t *err, const char *field, const char *fmt, ...)
    HERMES_PRINTF(4, 5);
static int key_fail(const hermes_config_t *cfg, hermes_error_t *err, const char *field, const char *fmt, ...)
{
    const struct cfg_pos *p = NULL;
    for (size_t i = 0; cfg && i < cfg->npos && !p; i++)
        if (strcmp(cfg->pos[i].path, field) == 0)
            p = &cfg->pos[i];
    va_list ap;
    va_start(ap, fmt);
    int rc = cfg_failv(cfg, err, HERMES_ECONFIG, field, p ? p->kline : -1, p ? p->kcol : 0, fmt, ap);
    va_end(ap);
    return rc;
}

/* Error at the recorded position of @p field. */
static int field_fail(const hermes_config_t *cfg, hermes_error_t *err, int code, const char *field,
                      const char *fmt, ...) HERMES_PRINTF(5, 6);
static int field_fail(const hermes_config_t *cfg, hermes_error_t *err, int code, const char *field,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cfg_failv(cfg, err, code, field, -1, 0, fmt, ap);
    va_end(ap);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Name and value rules (shared by the add_* calls and validate)            */

/* NULL when @p n is a valid module name, else the reason. */
static const char *module_name_problem(const char *n)
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

static const char *signal_name_problem(const char *module, const char *n)
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

static bool type_valid(hermes_type_t t) { return t >= HERMES_TYPE_F64 && t <= HERMES_TYPE_BOOL; }

static bool module_type_valid(hermes_module_type_t t)
{
    return t == HERMES_MODULE_PROCESS || t == HERMES_MODULE_INPROC || t == HERMES_MODULE_INJECTION;
}

/* Reason why @p v is not a valid initial value of @p t, written to @p buf, or NULL. */
static const char *initial_problem(hermes_type_t t, double v, char *buf, size_t cap)
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

/* Check an execution section; on failure sets *field and returns the reason. */
static const char *exec_problem(const hermes_execution_t *e, const char **field, char *buf, size_t cap)
{
    if (e->mode != HERMES_MODE_AFAP && e->mode != HERMES_MODE_REALTIME && e->mode != HERMES_MODE_SINGLE_FRAME) {
        *field = "execution.mode";
        snprintf(buf, cap, "invalid mode %d (expected afap, realtime or single_frame)", (int)e->mode);
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

/* ------------------------------------------------------------------------ */
/* Paths                                                                    */

/* Remove "." and empty segments and resolve ".." lexically in an absolute path. */
static void normalize_path(char *path)
{
    char *out = path;  /* write position; path[0] is '/' */
    const char *in = path;
    while (*in) {
        while (*in == '/')
            in++;
        const char *end = strchr(in, '/');
        size_t n = end ? (size_t)(end - in) : strlen(in);
        if (n == 0)
            break;
        if (n == 1 && in[0] == '.') {
            /* skip */
        } else if (n == 2 && in[0] == '.' && in[1] == '.') {
            while (out > path && *--out != '/')
                ;
        } else {
            *out++ = '/';
            memmove(out, in, n);
            out += n;
        }
        in += n;
    }
    if (out == path)
        *out++ = '/';
    *out = '\0';
}

/* Absolute form of @p p relative to @p base (NULL: current directory):
 * realpath when the file exists, else base + "/" + p. */
static char *resolve_path(const char *base, const char *p)
{
    char *cand;
    if (p[0] == '/') {
        cand = hermes__strdup(p);
    } else {
        char cwd[PATH_MAX];
        if (!base) {
            if (!getcwd(cwd, sizeof cwd))
                return NULL;
            base = cwd;
        }
        cand = xasprintf("%s%s%s", base, base[0] && base[strlen(base) - 1] == '/' ? "" : "/", p);
    }
    if (!cand)
        return NULL;
    char *real = realpath(cand, NULL);
    if (real) {
        free(cand);
        return real;
    }
    normalize_path(cand);
    return cand;
}

/* ------------------------------------------------------------------------ */
/* Creation, destruction, raw builders (no checks; validate checks)         */

static void free_strv(char **v, uint32_t n)
{
    for (uint32_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void module_free(struct cfg_module *m)
{
    free(m->name);
    free(m->path);
    free(m->config_path);
    free_strv(m->args, m->arg_count);
    for (uint32_t j = 0; j < m->nsig; j++) {
        free(m->sig[j].name);
        free(m->sig[j].unit);
    }
    free(m->sig);
}

static void free_token(char *t)
{
    if (t)
        explicit_bzero(t, strlen(t));
    free(t);
}

HERMES_API void hermes_config_destroy(hermes_config_t *cfg)
{
    if (!cfg)
        return;
    for (uint32_t i = 0; i < cfg->nmod; i++)
        module_free(&cfg->mod[i]);
    free(cfg->mod);
    for (uint32_t i = 0; i < cfg->nwire; i++) {
        free(cfg->wire[i].src);
        free(cfg->wire[i].dst);
    }
    free(cfg->wire);
    free_strv(cfg->sched, cfg->nsched);
    free(cfg->sched_group);
    free(cfg->host);
    free_token(cfg->auth_token);
    free_strv(cfg->origins, cfg->norigins);
    free(cfg->path);
    free(cfg->label);
    free(cfg->errfile);
    for (size_t i = 0; i < cfg->npos; i++)
        free(cfg->pos[i].path);
    free(cfg->pos);
    free(cfg);
}

HERMES_API int hermes_config_create(hermes_config_t **out)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_create: out is NULL");
    *out = NULL;
    hermes_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return nomem();
    cfg->exec.mode = HERMES_MODE_AFAP;
    cfg->exec.rate_hz = HERMES_DEFAULT_RATE_HZ;
    cfg->exec.has_end_time = false;
    cfg->exec.end_time = 0.0;
    cfg->exec.step_timeout = HERMES_DEFAULT_STEP_TIMEOUT;
    cfg->srv_enabled = false;
    cfg->port = HERMES_DEFAULT_PORT;
    cfg->telemetry_hz = HERMES_DEFAULT_TELEMETRY_HZ;
    cfg->host = hermes__strdup(HERMES_DEFAULT_HOST);
    if (!cfg->host) {
        free(cfg);
        return nomem();
    }
    *out = cfg;
    return 0;
}

static int find_module(const hermes_config_t *cfg, const char *name)
{
    for (uint32_t i = 0; i < cfg->nmod; i++)
        if (strcmp(cfg->mod[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int find_local(const struct cfg_module *m, const char *name)
{
    for (uint32_t j = 0; j < m->nsig; j++)
        if (strcmp(m->sig[j].name, name) == 0)
            return (int)j;
    return -1;
}

/* Append a module; takes ownership of @p path (already resolved). */
static int raw_add_module(hermes_config_t *cfg, const char *name, hermes_module_type_t type, char *path)
{
    if (grow((void **)&cfg->mod, &cfg->capmod, cfg->nmod + 1, sizeof *cfg->mod) != 0) {
        free(path);
        return nomem();
    }
    struct cfg_module *m = &cfg->mod[cfg->nmod];
    memset(m, 0, sizeof *m);
    m->name = hermes__strdup(name);
    if (!m->name) {
        free(path);
        return nomem();
    }
    m->type = type;
    m->path = path;
    cfg->nmod++;
    return 0;
}

static int raw_add_signal(struct cfg_module *m, const char *name, hermes_type_t type, const char *unit,
                          bool writable, double initial)
{
    if (grow((void **)&m->sig, &m->capsig, m->nsig + 1, sizeof *m->sig) != 0)
        return nomem();
    struct cfg_signal *s = &m->sig[m->nsig];
    s->name = hermes__strdup(name);
    s->unit = unit && *unit ? hermes__strdup(unit) : NULL;
    if (!s->name || (unit && *unit && !s->unit)) {
        free(s->name);
        free(s->unit);
        return nomem();
    }
    s->type = type == HERMES_TYPE_NONE ? HERMES_TYPE_F64 : type;
    s->writable = writable;
    s->initial = initial;
    m->nsig++;
    return 0;
}

static int raw_add_wire(hermes_config_t *cfg, const char *src, const char *dst, double gain, double offset)
{
    if (grow((void **)&cfg->wire, &cfg->capwire, cfg->nwire + 1, sizeof *cfg->wire) != 0)
        return nomem();
    struct cfg_wire *w = &cfg->wire[cfg->nwire];
    w->src = hermes__strdup(src);
    w->dst = hermes__strdup(dst);
    if (!w->src || !w->dst) {
        free(w->src);
        free(w->dst);
        return nomem();
    }
    w->gain = gain;
    w->offset = offset;
    cfg->nwire++;
    return 0;
}

static int copy_strv(char ***out, uint32_t *nout, const char *const *v, uint32_t n)
{
    char **copy = NULL;
    if (n > 0) {
        copy = calloc(n, sizeof *copy);
        if (!copy)
            return nomem();
        for (uint32_t i = 0; i < n; i++) {
            copy[i] = hermes__strdup(v[i]);
            if (!copy[i]) {
                free_strv(copy, i);
                return nomem();
            }
        }
    }
    *out = copy;
    *nout = n;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Programmatic API                                                         */

HERMES_API int hermes_config_add_module(hermes_config_t *cfg, const char *name,
                                        hermes_module_type_t type, const char *path)
{
    if (!cfg || !name)
        return hermes__fail(HERMES_EINVAL, "hermes_config_add_module: cfg or name is NULL");
    const char *why = module_name_problem(name);
    if (why)
        return cfg_fail(cfg, NULL, HERMES_EINVAL, "modules", 0, 0, "invalid module name '%s': %s", name, why);
    if (!module_type_valid(type))
        return cfg_fail(cfg, NULL, HERMES_EINVAL, "modules", 0, 0, "module '%s': invalid module type %d", name,
                        (int)type);
    if (find_module(cfg, name) >= 0)
        return cfg_fail(cfg, NULL, HERMES_EEXIST, "modules", 0, 0, "duplicate module name '%s'", name);
    if (path && type == HERMES_MODULE_INJECTION)
        return cfg_fail(cfg, NULL, HERMES_EINVAL, "modules", 0, 0,
                        "module '%s': an injection module takes no executable or library", name);
    if (path && !*path)
        return cfg_fail(cfg, NULL, HERMES_EINVAL, "modules", 0, 0, "module '%s': path is empty", name);
    char *resolved = NULL;
    if (path && !(resolved = resolve_path(NULL, path)))
        return nomem();
    return raw_add_module(cfg, name, type, resolved);
}

static int lookup_module_arg(hermes_config_t *cfg, const char *module, const char *what, struct cfg_module **out)
{
    if (!cfg || !module)
        return hermes__fail(HERMES_EINVAL, "%s: cfg or module is NULL", what);
    int i = find_module(cfg, module);
    if (i < 0)
        return hermes__fail(HERMES_ENOENT, "%s: no module '%s'", what, module);
    *out = &cfg->mod[i];
    return 0;
}

HERMES_API int hermes_config_set_module_callbacks(hermes_config_t *cfg, const char *module,
                                                  const struct hermes_inproc_module *table)
{
    struct cfg_module *m;
    int rc = lookup_module_arg(cfg, module, "hermes_config_set_module_callbacks", &m);
    if (rc)
        return rc;
    if (m->type != HERMES_MODULE_INPROC)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_module_callbacks: module '%s' is not inproc", module);
    if (table && table->abi_version != HERMES_INPROC_ABI_VERSION)
        return hermes__fail(HERMES_EABI, "module '%s': callback table ABI version %u, expected %u", module,
                            (unsigned)table->abi_version, (unsigned)HERMES_INPROC_ABI_VERSION);
    m->callbacks = table;
    return 0;
}

HERMES_API int hermes_config_set_module_args(hermes_config_t *cfg, const char *module,
                                             const char *const *args, uint32_t count)
{
    struct cfg_module *m;
    int rc = lookup_module_arg(cfg, module, "hermes_config_set_module_args", &m);
    if (rc)
        return rc;
    if (m->type != HERMES_MODULE_PROCESS)
        return hermes__fail(HERMES_EINVAL, "modules.%s.args: only process modules take arguments", module);
    if (count > 0 && !args)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_module_args: args is NULL");
    for (uint32_t i = 0; i < count; i++)
        if (!args[i])
            return hermes__fail(HERMES_EINVAL, "hermes_config_set_module_args: args[%u] is NULL", (unsigned)i);
    char **v;
    uint32_t n;
    if ((rc = copy_strv(&v, &n, args, count)) != 0)
        return rc;
    free_strv(m->args, m->arg_count);
    m->args = v;
    m->arg_count = n;
    return 0;
}

HERMES_API int hermes_config_set_module_config(hermes_config_t *cfg, const char *module, const char *path)
{
    struct cfg_module *m;
    int rc = lookup_module_arg(cfg, module, "hermes_config_set_module_config", &m);
    if (rc)
        return rc;
    char *resolved = NULL;
    if (path) {
        if (!*path)
            return hermes__fail(HERMES_EINVAL, "modules.%s.config: path is empty", module);
        if (!(resolved = resolve_path(NULL, path)))
            return nomem();
    }
    free(m->config_path);
    m->config_path = resolved;
    return 0;
}

HERMES_API int hermes_config_add_signal(hermes_config_t *cfg, const char *module, const char *name,
                                        hermes_type_t type, const char *unit, bool writable, double initial)
{
    struct cfg_module *m;
    int rc = lookup_module_arg(cfg, module, "hermes_config_add_signal", &m);
    if (rc)
        return rc;
    if (!name)
        return hermes__fail(HERMES_EINVAL, "hermes_config_add_signal: name is NULL");
    const char *why = signal_name_problem(module, name);
    if (why)
        return hermes__fail(HERMES_EINVAL, "modules.%s.signals: invalid signal name '%s': %s", module, name, why);
    if (type == HERMES_TYPE_NONE)
        type = HERMES_TYPE_F64;
    if (!type_valid(type))
        return hermes__fail(HERMES_EINVAL, "modules.%s.signals: signal '%s': invalid type %d", module, name,
                            (int)type);
    if (unit && strlen(unit) > HERMES_MAX_UNIT)
        return hermes__fail(HERMES_EINVAL, "modules.%s.signals: signal '%s': unit is longer than %d characters",
                            module, name, HERMES_MAX_UNIT);
    char buf[160];
    if ((why = initial_problem(type, initial, buf, sizeof buf)) != NULL)
        return hermes__fail(HERMES_EINVAL, "modules.%s.signals: signal '%s': %s", module, name, why);
    if (find_local(m, name) >= 0)
        return hermes__fail(HERMES_EEXIST, "modules.%s.signals: duplicate signal name '%s'", module, name);
    return raw_add_signal(m, name, type, unit, writable, initial);
}

HERMES_API int hermes_config_add_wire(hermes_config_t *cfg, const char *src, const char *dst,
                                      double gain, double offset)
{
    if (!cfg || !src || !dst)
        return hermes__fail(HERMES_EINVAL, "hermes_config_add_wire: cfg, src or dst is NULL");
    if (!isfinite(gain) || !isfinite(offset))
        return hermes__fail(HERMES_EINVAL, "wiring: wire %s -> %s: gain and offset must be finite", src, dst);
    return raw_add_wire(cfg, src, dst, gain, offset);
}

HERMES_API int hermes_config_set_execution(hermes_config_t *cfg, const hermes_execution_t *exec)
{
    if (!cfg || !exec)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_execution: cfg or exec is NULL");
    const char *field = NULL;
    char buf[160];
    const char *why = exec_problem(exec, &field, buf, sizeof buf);
    if (why)
        return hermes__fail(HERMES_EINVAL, "%s: %s", field, why);
    cfg->exec = *exec;
    if (!cfg->exec.has_end_time)
        cfg->exec.end_time = 0.0;
    return 0;
}

HERMES_API int hermes_config_set_schedule(hermes_config_t *cfg, const char *const *modules, uint32_t count)
{
    return hermes_config_set_schedule_groups(cfg, modules, NULL, count);
}

HERMES_API int hermes_config_set_schedule_groups(hermes_config_t *cfg, const char *const *modules,
                                                 const uint32_t *group, uint32_t count)
{
    if (!cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_schedule: cfg is NULL");
    if (count > 0 && !modules)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_schedule: modules is NULL");
    for (uint32_t i = 0; i < count; i++)
        if (!modules[i])
            return hermes__fail(HERMES_EINVAL, "hermes_config_set_schedule: modules[%u] is NULL", (unsigned)i);
    /* Renumber 0, 1, ... in order; a number that reappears after another one splits a group. */
    uint32_t *g = NULL;
    if (group && count) {
        if (!(g = malloc(count * sizeof *g)))
            return hermes__fail(HERMES_ENOMEM, "out of memory");
        g[0] = 0;
        for (uint32_t k = 1; k < count; k++) {
            g[k] = g[k - 1] + (group[k] != group[k - 1]);
            for (uint32_t j = 0; j + 1 < k && g[k] != g[k - 1]; j++)
                if (group[j] == group[k]) {
                    free(g);
                    return hermes__fail(HERMES_EINVAL, "hermes_config_set_schedule_groups: entry %u ('%s') is in "
                                        "group %u, which entry %u already closed: members of a group must be "
                                        "adjacent", (unsigned)k, modules[k], group[k], (unsigned)j);
                }
        }
    }
    char **v;
    uint32_t n;
    int rc = copy_strv(&v, &n, modules, count);
    if (rc) {
        free(g);
        return rc;
    }
    free_strv(cfg->sched, cfg->nsched);
    free(cfg->sched_group);
    cfg->sched = v;
    cfg->nsched = n;
    cfg->sched_group = g;
    return 0;
}

/* The access section of @p cfg in the shape hermes__access_check() takes. */
static struct hermes__access access_of(const hermes_config_t *cfg)
{
    struct hermes__access a = {
        .telemetry_hz = cfg->telemetry_hz,
        .auth_token = cfg->auth_token,
        .allowed_origins = (const char *const *)cfg->origins,
        .allowed_origin_count = cfg->norigins,
        .limit = {[HERMES__LIMIT_MAX_CLIENTS] = cfg->max_clients,
                  [HERMES__LIMIT_MAX_MESSAGE] = cfg->max_message,
                  [HERMES__LIMIT_COMMANDS_PER_SECOND] = cfg->cps,
                  [HERMES__LIMIT_MAX_PATTERNS] = cfg->max_patterns,
                  [HERMES__LIMIT_MAX_JSON_DEPTH] = cfg->max_depth},
    };
    return a;
}

HERMES_API int hermes_config_set_server(hermes_config_t *cfg, const hermes_server_settings_t *srv)
{
    if (!cfg || !srv)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_server: cfg or srv is NULL");
    if (srv->telemetry_hz == 0)
        return hermes__fail(HERMES_EINVAL, "server.telemetry_hz: must be a number in (0, %g] (got 0)",
                            HERMES__TELEMETRY_HZ_MAX);
    if (srv->host && !*srv->host)
        return hermes__fail(HERMES_EINVAL, "server.host: must not be empty");
    struct hermes__access acc = {
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
    char afield[64], amsg[192];
    if (hermes__access_check(&acc, afield, sizeof afield, amsg, sizeof amsg) != 0)
        return hermes__fail(HERMES_EINVAL, "server.%s: %s", afield, amsg);
    char *host = hermes__strdup(srv->host ? srv->host : HERMES_DEFAULT_HOST);
    char *token = srv->auth_token ? hermes__strdup(srv->auth_token) : NULL;
    char **origins = NULL;
    uint32_t norigins = 0;
    if (!host || (srv->auth_token && !token) ||
        copy_strv(&origins, &norigins, srv->allowed_origins, srv->allowed_origin_count) != 0) {
        free(host);
        free_token(token);
        return nomem();
    }
    free(cfg->host);
    cfg->host = host;
    free_token(cfg->auth_token);
    cfg->auth_token = token;
    free_strv(cfg->origins, cfg->norigins);
    cfg->origins = origins;
    cfg->norigins = norigins;
    cfg->srv_enabled = srv->enabled;
    cfg->port = srv->port;
    cfg->telemetry_hz = srv->telemetry_hz;
    cfg->observers = srv->observers;
    cfg->max_clients = srv->max_clients;
    cfg->max_message = srv->max_message_size;
    cfg->cps = srv->commands_per_second;
    cfg->max_patterns = srv->max_patterns;
    cfg->max_depth = srv->max_json_depth;
    return 0;
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
    for (uint32_t i = 0; i < cfg->nmod; i++) {
        const struct cfg_module *m = &cfg->mod[i];
        if (strlen(m->name) == ml && memcmp(m->name, q, ml) == 0) {
            int j = find_local(m, dot + 1);
            if (j < 0) {
                snprintf(why, cap, "no such signal '%s' (module '%s' has no signal '%s')", q, m->name, dot + 1);
                return -1;
            }
            *mi = i;
            *si = (uint32_t)j;
            return 0;
        }
    }
    snprintf(why, cap, "no such signal '%s' (no module '%.*s')", q, (int)ml, q);
    return -1;
}

static int check_file(const hermes_config_t *cfg, hermes_error_t *err, const char *field, const char *path,
                      const char *what, bool need_exec)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return field_fail(cfg, err, HERMES_ECONFIG, field, "%s not found: %s (%s)", what, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return field_fail(cfg, err, HERMES_ECONFIG, field, "%s is not a regular file: %s", what, path);
    if (need_exec && access(path, X_OK) != 0)
        return field_fail(cfg, err, HERMES_ECONFIG, field, "file is not executable: %s", path);
    return 0;
}

static int validate_module(const hermes_config_t *cfg, uint32_t i, hermes_error_t *err)
{
    const struct cfg_module *m = &cfg->mod[i];
    char field[512];
    char buf[256];
    snprintf(field, sizeof field, "modules.%s", m->name);
    const char *why = module_name_problem(m->name);
    if (why)
        return key_fail(cfg, err, field, "invalid module name '%s': %s", m->name, why);
    for (uint32_t k = 0; k < i; k++)
        if (strcmp(cfg->mod[k].name, m->name) == 0)
            return key_fail(cfg, err, field, "duplicate module name '%s'", m->name);
    if (!module_type_valid(m->type))
        return key_fail(cfg, err, field, "module '%s': invalid module type %d", m->name, (int)m->type);
    int rc;
    switch (m->type) {
    case HERMES_MODULE_PROCESS:
        snprintf(field, sizeof field, "modules.%s.executable", m->name);
        if (!m->path)
            return field_fail(cfg, err, HERMES_ECONFIG, field, "required for process module '%s'", m->name);
        if ((rc = check_file(cfg, err, field, m->path, "executable", true)) != 0)
            return rc;
        break;
    case HERMES_MODULE_INPROC:
        snprintf(field, sizeof field, "modules.%s.library", m->name);
        if (!m->path && !m->callbacks)
            return field_fail(cfg, err, HERMES_ECONFIG, field,
                              "required for inproc module '%s' (or set host callbacks)", m->name);
        if (m->path && (rc = check_file(cfg, err, field, m->path, "library", false)) != 0)
            return rc;
        break;
    default:
        if (m->path) {
            snprintf(field, sizeof field, "modules.%s", m->name);
            return key_fail(cfg, err, field, "injection module '%s' takes no executable or library", m->name);
        }
        break;
    }
    if (m->arg_count > 0 && m->type != HERMES_MODULE_PROCESS) {
        snprintf(field, sizeof field, "modules.%s.args", m->name);
        return field_fail(cfg, err, HERMES_ECONFIG, field, "only process modules take arguments");
    }
    if (m->config_path) {
        snprintf(field, sizeof field, "modules.%s.config", m->name);
        struct stat st;
        if (stat(m->config_path, &st) != 0)
            return field_fail(cfg, err, HERMES_ECONFIG, field, "module config not found: %s (%s)", m->config_path,
                              strerror(errno));
    }
    for (uint32_t j = 0; j < m->nsig; j++) {
        const struct cfg_signal *s = &m->sig[j];
        snprintf(field, sizeof field, "modules.%s.signals[%u].name", m->name, (unsigned)j);
        if ((why = signal_name_problem(m->name, s->name)) != NULL)
            return field_fail(cfg, err, HERMES_ECONFIG, field, "invalid signal name '%s': %s", s->name, why);
        for (uint32_t k = 0; k < j; k++)
            if (strcmp(m->sig[k].name, s->name) == 0)
                return field_fail(cfg, err, HERMES_ECONFIG, field,
                                  "duplicate signal name '%s' in module '%s' (also signals[%u])", s->name, m->name,
                                  (unsigned)k);
        snprintf(field, sizeof field, "modules.%s.signals[%u].type", m->name, (unsigned)j);
        if (!type_valid(s->type))
            return field_fail(cfg, err, HERMES_ECONFIG, field, "signal '%s.%s': invalid type %d", m->name, s->name,
                              (int)s->type);
        snprintf(field, sizeof field, "modules.%s.signals[%u].unit", m->name, (unsigned)j);
        if (s->unit && strlen(s->unit) > HERMES_MAX_UNIT)
            return field_fail(cfg, err, HERMES_ECONFIG, field, "signal '%s.%s': unit '%s' is longer than %d characters",
                              m->name, s->name, s->unit, HERMES_MAX_UNIT);
        snprintf(field, sizeof field, "modules.%s.signals[%u].initial", m->name, (unsigned)j);
        if ((why = initial_problem(s->type, s->initial, buf, sizeof buf)) != NULL)
            return field_fail(cfg, err, HERMES_ECONFIG, field, "signal '%s.%s': %s", m->name, s->name, why);
    }
    return 0;
}

static int validate_wires(const hermes_config_t *cfg, hermes_error_t *err)
{
    char field[64];
    char why[512];
    for (uint32_t i = 0; i < cfg->nwire; i++) {
        const struct cfg_wire *w = &cfg->wire[i];
        uint32_t smi, ssi, dmi, dsi;
        snprintf(field, sizeof field, "wiring[%u].src", (unsigned)i);
        if (find_qualified(cfg, w->src, &smi, &ssi, why, sizeof why) != 0)
            return field_fail(cfg, err, HERMES_ECONFIG, field, "%s", why);
        snprintf(field, sizeof field, "wiring[%u].dst", (unsigned)i);
        if (find_qualified(cfg, w->dst, &dmi, &dsi, why, sizeof why) != 0)
            return field_fail(cfg, err, HERMES_ECONFIG, field, "%s", why);
        if (smi == dmi && ssi == dsi)
            return field_fail(cfg, err, HERMES_ECONFIG, field, "self-wiring: '%s' is wired to itself", w->dst);
        if (!cfg->mod[dmi].sig[dsi].writable)
            return field_fail(cfg, err, HERMES_ECONFIG, field, "destination '%s' is not writable", w->dst);
        for (uint32_t k = 0; k < i; k++) {
            uint32_t kmi, ksi;
            if (find_qualified(cfg, cfg->wire[k].dst, &kmi, &ksi, why, sizeof why) == 0 && kmi == dmi && ksi == dsi)
                return field_fail(cfg, err, HERMES_ECONFIG, field,
                                  "destination '%s' is already driven by wiring[%u] (from '%s')", w->dst,
                                  (unsigned)k, cfg->wire[k].src);
        }
        snprintf(field, sizeof field, "wiring[%u].gain", (unsigned)i);
        if (!isfinite(w->gain))
            return field_fail(cfg, err, HERMES_ECONFIG, field, "must be finite (got %g)", w->gain);
        snprintf(field, sizeof field, "wiring[%u].offset", (unsigned)i);
        if (!isfinite(w->offset))
            return field_fail(cfg, err, HERMES_ECONFIG, field, "must be finite (got %g)", w->offset);
    }
    return 0;
}

static int validate_schedule(const hermes_config_t *cfg, hermes_error_t *err)
{
    if (!cfg->sched)
        return 0;
    char field[64];
    for (uint32_t k = 0; k < cfg->nsched; k++) {
        snprintf(field, sizeof field, "execution.schedule[%u]", (unsigned)k);
        if (find_module(cfg, cfg->sched[k]) < 0)
            return field_fail(cfg, err, HERMES_ECONFIG, field, "unknown module '%s'", cfg->sched[k]);
        for (uint32_t j = 0; j < k; j++)
            if (strcmp(cfg->sched[j], cfg->sched[k]) == 0)
                return field_fail(cfg, err, HERMES_ECONFIG, field, "module '%s' is scheduled twice", cfg->sched[k]);
    }
    for (uint32_t i = 0; i < cfg->nmod; i++) {
        bool found = false;
        for (uint32_t k = 0; k < cfg->nsched && !found; k++)
            found = strcmp(cfg->sched[k], cfg->mod[i].name) == 0;
        if (!found)
            return field_fail(cfg, err, HERMES_ECONFIG, "execution.schedule", "module '%s' is missing from the schedule",
                              cfg->mod[i].name);
    }
    return 0;
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
    if (cfg->nmod == 0)
        return field_fail(cfg, err, HERMES_ECONFIG, "modules", "at least one module is required");
    int rc;
    for (uint32_t i = 0; i < cfg->nmod; i++)
        if ((rc = validate_module(cfg, i, err)) != 0)
            return rc;
    if ((rc = validate_wires(cfg, err)) != 0)
        return rc;
    const char *field = NULL;
    char buf[160];
    const char *why = exec_problem(&cfg->exec, &field, buf, sizeof buf);
    if (why)
        return field_fail(cfg, err, HERMES_ECONFIG, field, "%s", why);
    if ((rc = validate_schedule(cfg, err)) != 0)
        return rc;
    if (cfg->telemetry_hz == 0)
        return field_fail(cfg, err, HERMES_ECONFIG, "server.telemetry_hz", "must be a number in (0, %g] (got 0)",
                          HERMES__TELEMETRY_HZ_MAX);
    struct hermes__access acc = access_of(cfg);
    char afield[64], amsg[192], full[80];
    if (hermes__access_check(&acc, afield, sizeof afield, amsg, sizeof amsg) != 0) {
        snprintf(full, sizeof full, "server.%s", afield);
        return field_fail(cfg, err, HERMES_ECONFIG, full, "%s", amsg);
    }
    if (!cfg->host || !*cfg->host)
        return field_fail(cfg, err, HERMES_ECONFIG, "server.host", "must not be empty");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                */

HERMES_API uint32_t hermes_config_module_count(const hermes_config_t *cfg) { return cfg ? cfg->nmod : 0; }

HERMES_API int hermes_config_module(const hermes_config_t *cfg, uint32_t i, hermes_module_info_t *out)
{
    if (!cfg || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_module: cfg or out is NULL");
    if (i >= cfg->nmod)
        return hermes__fail(HERMES_ENOENT, "hermes_config_module: no module %u", (unsigned)i);
    const struct cfg_module *m = &cfg->mod[i];
    out->name = m->name;
    out->type = m->type;
    out->path = m->path;
    out->config_path = m->config_path;
    out->arg_count = m->arg_count;
    out->args = (const char *const *)m->args;
    out->signal_count = m->nsig;
    return 0;
}

HERMES_API int hermes_config_signal(const hermes_config_t *cfg, uint32_t i, uint32_t j, hermes_signal_spec_t *out)
{
    if (!cfg || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_signal: cfg or out is NULL");
    if (i >= cfg->nmod || j >= cfg->mod[i].nsig)
        return hermes__fail(HERMES_ENOENT, "hermes_config_signal: no signal %u of module %u", (unsigned)j,
                            (unsigned)i);
    const struct cfg_signal *s = &cfg->mod[i].sig[j];
    out->module = cfg->mod[i].name;
    out->name = s->name;
    out->type = s->type;
    out->unit = s->unit ? s->unit : "";
    out->writable = s->writable;
    out->initial = s->initial;
    return 0;
}

HERMES_API uint32_t hermes_config_wire_count(const hermes_config_t *cfg) { return cfg ? cfg->nwire : 0; }

HERMES_API int hermes_config_wire(const hermes_config_t *cfg, uint32_t i, hermes_wire_info_t *out)
{
    if (!cfg || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_wire: cfg or out is NULL");
    if (i >= cfg->nwire)
        return hermes__fail(HERMES_ENOENT, "hermes_config_wire: no wire %u", (unsigned)i);
    out->src = cfg->wire[i].src;
    out->dst = cfg->wire[i].dst;
    out->gain = cfg->wire[i].gain;
    out->offset = cfg->wire[i].offset;
    return 0;
}

HERMES_API uint32_t hermes_config_schedule_count(const hermes_config_t *cfg)
{
    if (!cfg)
        return 0;
    return cfg->sched ? cfg->nsched : cfg->nmod;
}

HERMES_API int hermes_config_schedule_at(const hermes_config_t *cfg, uint32_t k, uint32_t *module_index)
{
    if (!cfg || !module_index)
        return hermes__fail(HERMES_EINVAL, "hermes_config_schedule_at: cfg or module_index is NULL");
    if (k >= hermes_config_schedule_count(cfg))
        return hermes__fail(HERMES_ENOENT, "hermes_config_schedule_at: no schedule entry %u", (unsigned)k);
    if (!cfg->sched) {
        *module_index = k;
        return 0;
    }
    int i = find_module(cfg, cfg->sched[k]);
    if (i < 0)
        return hermes__fail(HERMES_ENOENT, "execution.schedule[%u]: unknown module '%s'", (unsigned)k, cfg->sched[k]);
    *module_index = (uint32_t)i;
    return 0;
}

HERMES_API int hermes_config_set_spin_us(hermes_config_t *cfg, uint32_t us)
{
    if (!cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_spin_us: cfg is NULL");
    if (us > HERMES_MAX_SPIN_US)
        return hermes__fail(HERMES_EINVAL, "execution.spin_us: must be at most %u microseconds (got %u)",
                            HERMES_MAX_SPIN_US, us);
    cfg->spin_us = us;
    return 0;
}

HERMES_API int hermes_config_set_check_groups(hermes_config_t *cfg, bool on)
{
    if (!cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_check_groups: cfg is NULL");
    cfg->check_groups = on;
    return 0;
}

HERMES_API uint32_t hermes_config_spin_us(const hermes_config_t *cfg) { return cfg ? cfg->spin_us : 0; }
HERMES_API bool hermes_config_check_groups(const hermes_config_t *cfg) { return cfg && cfg->check_groups; }

HERMES_API int hermes_config_schedule_group(const hermes_config_t *cfg, uint32_t k, uint32_t *group)
{
    if (!cfg || !group)
        return hermes__fail(HERMES_EINVAL, "hermes_config_schedule_group: cfg or group is NULL");
    if (k >= hermes_config_schedule_count(cfg))
        return hermes__fail(HERMES_ENOENT, "hermes_config_schedule_group: no schedule entry %u", (unsigned)k);
    *group = cfg->sched_group ? cfg->sched_group[k] : k;
    return 0;
}

HERMES_API int hermes_config_execution(const hermes_config_t *cfg, hermes_execution_t *out)
{
    if (!cfg || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_execution: cfg or out is NULL");
    *out = cfg->exec;
    return 0;
}

HERMES_API int hermes_config_server(const hermes_config_t *cfg, hermes_server_settings_t *out)
{
    if (!cfg || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_server: cfg or out is NULL");
    out->enabled = cfg->srv_enabled;
    out->host = cfg->host;
    out->port = cfg->port;
    out->telemetry_hz = cfg->telemetry_hz;
    out->auth_token = cfg->auth_token;
    out->observers = cfg->observers;
    out->allowed_origins = (const char *const *)cfg->origins;
    out->allowed_origin_count = cfg->norigins;
    out->max_clients = cfg->max_clients;
    out->max_message_size = cfg->max_message;
    out->commands_per_second = cfg->cps;
    out->max_patterns = cfg->max_patterns;
    out->max_json_depth = cfg->max_depth;
    return 0;
}

HERMES_API const char *hermes_config_path(const hermes_config_t *cfg) { return cfg ? cfg->path : NULL; }

const struct hermes_inproc_module *hermes__config_module_callbacks(const hermes_config_t *cfg, uint32_t module_index)
{
    if (!cfg || module_index >= cfg->nmod || cfg->mod[module_index].type != HERMES_MODULE_INPROC)
        return NULL;
    return cfg->mod[module_index].callbacks;
}

HERMES_API const char *hermes_mode_name(hermes_mode_t mode)
{
    switch (mode) {
    case HERMES_MODE_AFAP: return "afap";
    case HERMES_MODE_REALTIME: return "realtime";
    case HERMES_MODE_SINGLE_FRAME: return "single_frame";
    }
    return "unknown";
}

HERMES_API const char *hermes_module_type_name(hermes_module_type_t type)
{
    switch (type) {
    case HERMES_MODULE_PROCESS: return "process";
    case HERMES_MODULE_INPROC: return "inproc";
    case HERMES_MODULE_INJECTION: return "injection";
    case HERMES_MODULE_NONE: return "none";
    }
    return "unknown";
}

/* ------------------------------------------------------------------------ */
/* YAML stage 1: libyaml pre-pass                                           */

struct pframe {
    bool    is_map;
    bool    expect_key;
    bool    is_modules;   /* the mapping under top-level `modules:` */
    char   *path;
    long    idx;          /* next sequence index */
    char   *key;          /* current key (maps) */
    int     kline, kcol;
    char  **keys;         /* keys seen so far, for duplicate detection */
    uint32_t nkeys, capkeys;
};

struct prepass {
    hermes_config_t *cfg;
    hermes_error_t  *err;
    struct pframe   *st;
    uint32_t         depth, capst;
    bool             root_seen;
    bool             have_modules;
    char           **modnames;  /* module names in file order */
    uint32_t         nmod, capmod;
};

static void pframe_free(struct pframe *f)
{
    free(f->path);
    free(f->key);
    free_strv(f->keys, f->nkeys);
}

static int pos_add(hermes_config_t *cfg, const char *path, int kline, int kcol, int vline, int vcol, bool is_null)
{
    uint32_t cap = (uint32_t)cfg->cappos;
    if (grow((void **)&cfg->pos, &cap, (uint32_t)cfg->npos + 1, sizeof *cfg->pos) != 0)
        return nomem();
    cfg->cappos = cap;
    struct cfg_pos *p = &cfg->pos[cfg->npos];
    p->path = hermes__strdup(path);
    if (!p->path)
        return nomem();
    p->kline = kline;
    p->kcol = kcol;
    p->vline = vline;
    p->vcol = vcol;
    p->is_null = is_null;
    cfg->npos++;
    return 0;
}

static int push_frame(struct prepass *pp, bool is_map, char *path)
{
    if (grow((void **)&pp->st, &pp->capst, pp->depth + 1, sizeof *pp->st) != 0) {
        free(path);
        return nomem();
    }
    struct pframe *f = &pp->st[pp->depth++];
    memset(f, 0, sizeof *f);
    f->is_map = is_map;
    f->expect_key = true;
    f->path = path;
    return 0;
}

static int pp_node(struct prepass *pp, const yaml_event_t *ev)
{
    hermes_config_t *cfg = pp->cfg;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    bool is_container = ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT;

    if (pp->depth == 0) {
        pp->root_seen = true;
        if (ev->type == YAML_MAPPING_START_EVENT) {
            char *root = hermes__strdup("");
            return root ? push_frame(pp, true, root) : nomem();
        }
        if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.length == 0 &&
            ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            return cfg_fail(cfg, pp->err, HERMES_ECONFIG, NULL, line, col, "configuration is empty");
        return cfg_fail(cfg, pp->err, HERMES_ECONFIG, NULL, line, col,
                        "top level must be a mapping (modules:, wiring:, execution:, server:)");
    }

    struct pframe *top = &pp->st[pp->depth - 1];
    if (top->is_map && top->expect_key) {
        if (ev->type != YAML_SCALAR_EVENT) {
            return cfg_fail(cfg, pp->err, HERMES_ECONFIG, top->path, line, col, "mapping keys must be plain scalars");
        }
        char *key = malloc(ev->data.scalar.length + 1);
        if (!key)
            return nomem();
        memcpy(key, ev->data.scalar.value, ev->data.scalar.length);
        key[ev->data.scalar.length] = '\0';
        for (uint32_t k = 0; k < top->nkeys; k++) {
            if (strcmp(top->keys[k], key) != 0)
                continue;
            char *child = top->path[0] ? xasprintf("%s.%s", top->path, key) : hermes__strdup(key);
            if (!child) {
                free(key);
                return nomem();
            }
            const struct cfg_pos *first = pos_find(cfg, child);
            int fl = first ? first->kline : 0;
            int rc = top->is_modules
                ? cfg_fail(cfg, pp->err, HERMES_ECONFIG, child, line, col,
                           "duplicate module name '%s' (first defined on line %d)", key, fl)
                : cfg_fail(cfg, pp->err, HERMES_ECONFIG, child, line, col, "duplicate key '%s' (first on line %d)",
                           key, fl);
            free(child);
            free(key);
            return rc;
        }
        if (grow((void **)&top->keys, &top->capkeys, top->nkeys + 1, sizeof *top->keys) != 0) {
            free(key);
            return nomem();
        }
        top->keys[top->nkeys++] = key;
        if (top->is_modules) {
            if (grow((void **)&pp->modnames, &pp->capmod, pp->nmod + 1, sizeof *pp->modnames) != 0)
                return nomem();
            if (!(pp->modnames[pp->nmod] = hermes__strdup(key)))
                return nomem();
            pp->nmod++;
        }
        free(top->key);
        top->key = hermes__strdup(key);
        if (!top->key)
            return nomem();
        top->kline = line;
        top->kcol = col;
        top->expect_key = false;
        return 0;
    }

    /* A value: record its position under its dotted path. */
    char *child;
    int kline = line, kcol = col;
    if (top->is_map) {
        child = top->path[0] ? xasprintf("%s.%s", top->path, top->key) : hermes__strdup(top->key);
        kline = top->kline;
        kcol = top->kcol;
        top->expect_key = true;
    } else {
        child = xasprintf("%s[%ld]", top->path, top->idx++);
    }
    if (!child)
        return nomem();
    bool is_null = false;
    if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        const char *v = (const char *)ev->data.scalar.value;
        is_null = ev->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
                  strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
    }
    int rc = pos_add(cfg, child, kline, kcol, line, col, is_null);
    if (rc) {
        free(child);
        return rc;
    }
    bool modules_map = pp->depth == 1 && strcmp(child, "modules") == 0;
    if (modules_map) {
        pp->have_modules = true;
        if (ev->type != YAML_MAPPING_START_EVENT) {
            rc = cfg_fail(cfg, pp->err, HERMES_ECONFIG, child, line, col,
                          "must be a mapping of module names to modules");
            free(child);
            return rc;
        }
    }
    if (top->is_modules && ev->type != YAML_MAPPING_START_EVENT) {
        rc = cfg_fail(cfg, pp->err, HERMES_ECONFIG, child, line, col,
                      "module '%s' must be a mapping (type:, signals:, ...)", top->key);
        free(child);
        return rc;
    }
    if (!is_container) {
        free(child);
        return 0;
    }
    if ((rc = push_frame(pp, ev->type == YAML_MAPPING_START_EVENT, child)) != 0)
        return rc;
    pp->st[pp->depth - 1].is_modules = modules_map;
    return 0;
}

static int prepass_run(struct prepass *pp, const char *text, size_t len)
{
    hermes_config_t *cfg = pp->cfg;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return nomem();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int docs = 0, rc = 0;
    bool done = false;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR) {
                rc = nomem();
                break;
            }
            int line = 0, col = 0;
            if (parser.error != YAML_READER_ERROR) {
                line = (int)parser.problem_mark.line + 1;
                col = (int)parser.problem_mark.column + 1;
            }
            const char *problem = parser.problem ? parser.problem : "syntax error";
            if (parser.context)
                rc = cfg_fail(cfg, pp->err, HERMES_ECONFIG, NULL, line, col, "YAML syntax error: %s %s", problem,
                              parser.context);
            else
                rc = cfg_fail(cfg, pp->err, HERMES_ECONFIG, NULL, line, col, "YAML syntax error: %s", problem);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                rc = cfg_fail(cfg, pp->err, HERMES_ECONFIG, NULL, (int)ev.start_mark.line + 1,
                              (int)ev.start_mark.column + 1, "only one YAML document is allowed");
            break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            rc = pp_node(pp, &ev);
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (pp->depth > 0)
                pframe_free(&pp->st[--pp->depth]);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (pp->depth > 0)
        pframe_free(&pp->st[--pp->depth]);
    free(pp->st);
    pp->st = NULL;
    pp->capst = 0;
    if (rc)
        return rc;
    if (!pp->root_seen)
        return cfg_fail(cfg, pp->err, HERMES_ECONFIG, NULL, 0, 0, "configuration is empty (no YAML document)");
    if (!pp->have_modules)
        return cfg_fail(cfg, pp->err, HERMES_ECONFIG, "modules", 0, 0, "missing required section");
    if (pp->nmod == 0)
        return field_fail(cfg, pp->err, HERMES_ECONFIG, "modules", "at least one module is required");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* YAML stage 2: libcyaml                                                   */

struct ysignal {
    char *name;
    int   type;      /* 0 = absent (f64) */
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
    int             type;
    char           *executable;
    char          **args;
    unsigned        args_count;
    char           *library;
    char           *config;
    struct ysignal *signals;
    unsigned        signals_count;
};

struct yexec {
    int       mode;
    char     *rate_hz;
    char     *end_time;
    char     *step_timeout;
    char    **schedule;
    unsigned  schedule_count;
};

struct yserver {
    char    *enabled;
    char    *host;
    char    *port;
    char    *telemetry_hz;
    char    *auth_token;
    char    *observers;
    char   **allowed_origins;
    unsigned allowed_origins_count;
    char    *max_clients;
    char    *max_message_size;
    char    *commands_per_second;
    char    *max_patterns;
    char    *max_json_depth;
};

struct ytop {
    char           *version;
    struct ymodule *modules;
    struct ywire   *wiring;
    unsigned        wiring_count;
    struct yexec   *execution;
    struct yserver *server;
};

static const cyaml_strval_t module_type_strs[] = {
    {"process", HERMES_MODULE_PROCESS}, {"inproc", HERMES_MODULE_INPROC}, {"injection", HERMES_MODULE_INJECTION},
};
static const cyaml_strval_t signal_type_strs[] = {
    {"f64", HERMES_TYPE_F64}, {"f32", HERMES_TYPE_F32}, {"i64", HERMES_TYPE_I64},
    {"i32", HERMES_TYPE_I32}, {"bool", HERMES_TYPE_BOOL},
};
static const cyaml_strval_t mode_strs[] = {
    {"afap", HERMES_MODE_AFAP}, {"realtime", HERMES_MODE_REALTIME}, {"single_frame", HERMES_MODE_SINGLE_FRAME},
};

#define STR_REQ(key, st, m) CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER, st, m, 0, CYAML_UNLIMITED)
#define STR_OPT(key, st, m) \
    CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, st, m, 0, CYAML_UNLIMITED)

static const cyaml_schema_value_t string_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t signal_fields[] = {
    STR_REQ("name", struct ysignal, name),
    CYAML_FIELD_ENUM("type", CYAML_FLAG_STRICT | CYAML_FLAG_OPTIONAL, struct ysignal, type, signal_type_strs,
                     CYAML_ARRAY_LEN(signal_type_strs)),
    STR_OPT("unit", struct ysignal, unit),
    STR_OPT("writable", struct ysignal, writable),
    STR_OPT("initial", struct ysignal, initial),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t signal_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct ysignal, signal_fields),
};

static const cyaml_schema_field_t module_fields[] = {
    CYAML_FIELD_ENUM("type", CYAML_FLAG_STRICT, struct ymodule, type, module_type_strs,
                     CYAML_ARRAY_LEN(module_type_strs)),
    STR_OPT("executable", struct ymodule, executable),
    CYAML_FIELD_SEQUENCE("args", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct ymodule, args, &string_entry, 0,
                         CYAML_UNLIMITED),
    STR_OPT("library", struct ymodule, library),
    STR_OPT("config", struct ymodule, config),
    CYAML_FIELD_SEQUENCE("signals", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct ymodule, signals, &signal_entry,
                         0, CYAML_UNLIMITED),
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

static const cyaml_schema_field_t exec_fields[] = {
    CYAML_FIELD_ENUM("mode", CYAML_FLAG_STRICT | CYAML_FLAG_OPTIONAL, struct yexec, mode, mode_strs,
                     CYAML_ARRAY_LEN(mode_strs)),
    STR_OPT("rate_hz", struct yexec, rate_hz),
    STR_OPT("end_time", struct yexec, end_time),
    STR_OPT("step_timeout", struct yexec, step_timeout),
    CYAML_FIELD_SEQUENCE("schedule", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct yexec, schedule,
                         &string_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t server_fields[] = {
    STR_OPT("enabled", struct yserver, enabled),
    STR_OPT("host", struct yserver, host),
    STR_OPT("port", struct yserver, port),
    STR_OPT("telemetry_hz", struct yserver, telemetry_hz),
    STR_OPT("auth_token", struct yserver, auth_token),
    STR_OPT("observers", struct yserver, observers),
    CYAML_FIELD_SEQUENCE("allowed_origins", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct yserver, allowed_origins,
                         &string_entry, 0, CYAML_UNLIMITED),
    STR_OPT("max_clients", struct yserver, max_clients),
    STR_OPT("max_message_size", struct yserver, max_message_size),
    STR_OPT("commands_per_second", struct yserver, commands_per_second),
    STR_OPT("max_patterns", struct yserver, max_patterns),
    STR_OPT("max_json_depth", struct yserver, max_json_depth),
    CYAML_FIELD_END,
};

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

static const char *enum_choices(const char *field)
{
    const char *last = strrchr(field, '.');
    last = last ? last + 1 : field;
    if (strcmp(last, "mode") == 0)
        return "afap, realtime or single_frame";
    if (strncmp(field, "modules.", 8) == 0 && strstr(field, ".signals[") == NULL)
        return "process, inproc or injection";
    return "f64, f32, i64, i32 or bool";
}

/* Turn libcyaml's captured log into one positioned error. */
static int report_cyaml(hermes_config_t *cfg, hermes_error_t *err, const char *log, cyaml_err_t cerr)
{
    char text[256] = "";
    char path[512] = "";
    int line = 0, col = 0;
    /* Backtrace frames, innermost first: "in mapping field 'k'", "in
     * sequence entry 'n'" (1-based) or "in mapping" (not inside a field). */
    char comps[32][160];
    bool is_field[32];
    int ncomp = 0;
    for (const char *p = log; *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char ln[512];
        if (n >= sizeof ln)
            n = sizeof ln - 1;
        memcpy(ln, p, n);
        ln[n] = '\0';
        p = eol ? eol + 1 : p + strlen(p);
        if (strncmp(ln, "Load: ", 6) == 0 && strncmp(ln, "Load: Backtrace:", 16) != 0 && !text[0]) {
            hermes__strlcpy(text, ln + 6, sizeof text);
            continue;
        }
        if (ncomp >= 32)
            continue;
        const char *f = strstr(ln, "in mapping field '");
        const char *s = strstr(ln, "in sequence entry '");
        const char *q = f ? f + 18 : s ? s + 19 : NULL;
        const char *qe = strrchr(ln, '\'');
        if (q && qe && qe >= q) {
            if (f) {
                snprintf(comps[ncomp], sizeof comps[ncomp], ".%.*s", (int)(qe - q), q);
            } else {
                long idx = strtol(q, NULL, 10);
                snprintf(comps[ncomp], sizeof comps[ncomp], "[%ld]", idx > 0 ? idx - 1 : 0);
            }
            is_field[ncomp++] = f != NULL;
        } else if (strstr(ln, "in mapping (") || strstr(ln, "in sequence (")) {
            comps[ncomp][0] = '\0';
            is_field[ncomp++] = false;
        } else {
            continue;
        }
        const char *lp = strstr(ln, "(line: ");
        if (lp && line == 0 && sscanf(lp, "(line: %d, column: %d)", &line, &col) != 2)
            line = col = 0;
    }
    /* A missing field is reported after the mapping ended, with the frame
     * still naming the last field parsed: that sibling is not in the path. */
    int first = 0;
    if (strstr(text, "Missing required mapping field: ") && ncomp > 0 && is_field[0])
        first = 1;
    size_t o = 0;
    for (int i = ncomp - 1; i >= first; i--) {
        const char *c = comps[i];
        if (o == 0 && c[0] == '.')
            c++;
        size_t cl = strlen(c);
        if (o + cl < sizeof path) {
            memcpy(path + o, c, cl + 1);
            o += cl;
        }
    }
    if (!text[0])
        snprintf(text, sizeof text, "%s", cyaml_strerror(cerr));
    /* Strip a trailing period or spaces that libcyaml may leave. */
    size_t tl = strlen(text);
    while (tl > 0 && (text[tl - 1] == ' ' || text[tl - 1] == '\n'))
        text[--tl] = '\0';

    char field[640];
    const char *arg;
    if ((arg = strstr(text, "Unexpected key: ")) != NULL) {
        arg += 16;
        snprintf(field, sizeof field, "%s%s%s", path, path[0] ? "." : "", arg);
        const struct cfg_pos *kp = pos_find(cfg, field);
        if (kp) {
            line = kp->kline;
            col = kp->kcol;
        }
        return cfg_fail(cfg, err, HERMES_ECONFIG, field, line, col, "unknown key '%s'", arg);
    }
    if ((arg = strstr(text, "Missing required mapping field: ")) != NULL) {
        arg += 32;
        snprintf(field, sizeof field, "%s%s%s", path, path[0] ? "." : "", arg);
        return cfg_fail(cfg, err, HERMES_ECONFIG, field, -1, 0, "missing required field '%s'", arg);
    }
    const struct cfg_pos *vp = pos_find(cfg, path);
    if (vp) {
        line = vp->vline;
        col = vp->vcol;
    }
    if (strncmp(text, "Expecting ", 10) == 0 && (arg = strstr(text, ", got event: ")) != NULL) {
        char want[32], got[32];
        snprintf(want, sizeof want, "%.*s", (int)(arg - text - 10), text + 10);
        snprintf(got, sizeof got, "%s", arg + 13);
        char *us = strchr(got, '_');  /* "SEQUENCE_START" -> "sequence" */
        if (us)
            *us = '\0';
        for (char *c = want; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        for (char *c = got; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        return cfg_fail(cfg, err, HERMES_ECONFIG, path, line, col, "wrong type: expected a %s, got a %s", want, got);
    }
    if ((arg = strstr(text, "Invalid ENUM value: ")) != NULL) {
        arg += 20;
        return cfg_fail(cfg, err, HERMES_ECONFIG, path, line, col, "invalid value '%s' (expected %s)", arg,
                        enum_choices(path));
    }
    return cfg_fail(cfg, err, HERMES_ECONFIG, path, line, col, "%s", text);
}

/* ------------------------------------------------------------------------ */
/* YAML stage 3: conversion with strict scalar parsing                      */

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
        return field_fail(cfg, err, HERMES_ECONFIG, field, "invalid number '%s'", s);
    return 0;
}

static int get_bool(hermes_config_t *cfg, hermes_error_t *err, const char *field, const char *s, bool *out)
{
    if (!parse_bool(s, out))
        return field_fail(cfg, err, HERMES_ECONFIG, field, "invalid boolean '%s' (expected true or false)", s);
    return 0;
}

static int convert_module(hermes_config_t *cfg, hermes_error_t *err, const char *name, const struct ymodule *ym,
                          const char *base)
{
    char field[512];
    hermes_module_type_t type = (hermes_module_type_t)ym->type;
    snprintf(field, sizeof field, "modules.%s.executable", name);
    if (ym->executable && type != HERMES_MODULE_PROCESS)
        return field_fail(cfg, err, HERMES_ECONFIG, field, "only process modules take an executable ('%s' is %s)",
                          name, hermes_module_type_name(type));
    if (ym->executable && !*ym->executable)
        return field_fail(cfg, err, HERMES_ECONFIG, field, "must not be empty");
    snprintf(field, sizeof field, "modules.%s.args", name);
    if (pos_find(cfg, field) && type != HERMES_MODULE_PROCESS)
        return field_fail(cfg, err, HERMES_ECONFIG, field, "only process modules take arguments ('%s' is %s)", name,
                          hermes_module_type_name(type));
    snprintf(field, sizeof field, "modules.%s.library", name);
    if (ym->library && type != HERMES_MODULE_INPROC)
        return field_fail(cfg, err, HERMES_ECONFIG, field, "only inproc modules take a library ('%s' is %s)", name,
                          hermes_module_type_name(type));
    if (ym->library && !*ym->library)
        return field_fail(cfg, err, HERMES_ECONFIG, field, "must not be empty");
    snprintf(field, sizeof field, "modules.%s.config", name);
    if (ym->config && !*ym->config)
        return field_fail(cfg, err, HERMES_ECONFIG, field, "must not be empty");

    const char *raw = ym->executable ? ym->executable : ym->library;
    char *path = NULL;
    if (raw && !(path = resolve_path(base, raw)))
        return nomem();
    int rc = raw_add_module(cfg, name, type, path);
    if (rc)
        return rc;
    struct cfg_module *m = &cfg->mod[cfg->nmod - 1];
    if (ym->config && !(m->config_path = resolve_path(base, ym->config)))
        return nomem();
    if ((rc = copy_strv(&m->args, &m->arg_count, (const char *const *)ym->args, ym->args_count)) != 0)
        return rc;

    for (unsigned j = 0; j < ym->signals_count; j++) {
        const struct ysignal *ys = &ym->signals[j];
        bool writable = false;
        double initial = 0.0;
        if (ys->writable) {
            snprintf(field, sizeof field, "modules.%s.signals[%u].writable", name, j);
            if ((rc = get_bool(cfg, err, field, ys->writable, &writable)) != 0)
                return rc;
        }
        if (ys->initial) {
            snprintf(field, sizeof field, "modules.%s.signals[%u].initial", name, j);
            bool b;
            if (parse_bool(ys->initial, &b) && (strcasecmp(ys->initial, "true") == 0 ||
                                                strcasecmp(ys->initial, "false") == 0))
                initial = b ? 1.0 : 0.0;
            else if ((rc = get_number(cfg, err, field, ys->initial, &initial)) != 0)
                return rc;
        }
        hermes_type_t t = ys->type ? (hermes_type_t)ys->type : HERMES_TYPE_F64;
        if ((rc = raw_add_signal(m, ys->name, t, ys->unit, writable, initial)) != 0)
            return rc;
    }
    return 0;
}

/* Whole-string positive decimal that fits 32 bits; the range is an access
 * rule, checked with the others in hermes_config_validate(). */
static int get_limit(hermes_config_t *cfg, hermes_error_t *err, enum hermes__limit l, const char *s, uint32_t *out)
{
    char field[64];
    snprintf(field, sizeof field, "server.%s", hermes__limit_rules[l].key);
    bool ok = *s != '\0' && strlen(s) <= 10;
    for (const char *p = s; *p; p++)
        ok = ok && is_digit(*p);
    unsigned long long v = ok ? strtoull(s, NULL, 10) : 0;
    if (!ok || v == 0 || v > UINT32_MAX)  /* in a file, 0 is a mistake: omitting the key gives the default */
        return field_fail(cfg, err, HERMES_ECONFIG, field,
                          "invalid value '%s' (an integer from %u to %u; omit the key for the default %u)", s,
                          hermes__limit_rules[l].min, hermes__limit_rules[l].max, hermes__limit_rules[l].def);
    *out = (uint32_t)v;
    return 0;
}

static int convert_access(hermes_config_t *cfg, hermes_error_t *err, const struct yserver *ys)
{
    int rc;
    const struct cfg_pos *tp = pos_find(cfg, "server.auth_token");
    if (ys->auth_token && !(tp && tp->is_null)) {  /* `auth_token: null` means none, as when absent */
        free_token(cfg->auth_token);
        if (!(cfg->auth_token = hermes__strdup(ys->auth_token)))
            return nomem();
    }
    if (ys->observers && (rc = get_bool(cfg, err, "server.observers", ys->observers, &cfg->observers)) != 0)
        return rc;
    free_strv(cfg->origins, cfg->norigins);
    cfg->origins = NULL;
    cfg->norigins = 0;
    if ((rc = copy_strv(&cfg->origins, &cfg->norigins, (const char *const *)ys->allowed_origins,
                        ys->allowed_origins_count)) != 0)
        return rc;
    const char *vals[] = {ys->max_clients, ys->max_message_size, ys->commands_per_second, ys->max_patterns,
                          ys->max_json_depth};
    uint32_t *dst[] = {&cfg->max_clients, &cfg->max_message, &cfg->cps, &cfg->max_patterns, &cfg->max_depth};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
        if (vals[i] && (rc = get_limit(cfg, err, (enum hermes__limit)i, vals[i], dst[i])) != 0)
            return rc;
    return 0;
}

static int convert(hermes_config_t *cfg, hermes_error_t *err, const struct ytop *y, char **names, uint32_t n,
                   const char *base)
{
    int rc;
    char field[64];
    if (y->version && strcmp(y->version, "0.1") != 0 && strcmp(y->version, "0.2") != 0)
        return field_fail(cfg, err, HERMES_ECONFIG, "version", "unsupported version '%s' (expected \"0.1\" or \"0.2\")",
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
        if ((rc = raw_add_wire(cfg, yw->src, yw->dst, gain, offset)) != 0)
            return rc;
    }
    if (y->execution) {
        const struct yexec *ye = y->execution;
        cfg->exec.mode = (hermes_mode_t)ye->mode;
        if (ye->rate_hz && (rc = get_number(cfg, err, "execution.rate_hz", ye->rate_hz, &cfg->exec.rate_hz)) != 0)
            return rc;
        const struct cfg_pos *et = pos_find(cfg, "execution.end_time");
        if (ye->end_time && !(et && et->is_null)) {  /* `end_time: null` means no end, as when absent */
            if ((rc = get_number(cfg, err, "execution.end_time", ye->end_time, &cfg->exec.end_time)) != 0)
                return rc;
            cfg->exec.has_end_time = true;
        }
        if (ye->step_timeout &&
            (rc = get_number(cfg, err, "execution.step_timeout", ye->step_timeout, &cfg->exec.step_timeout)) != 0)
            return rc;
        if (pos_find(cfg, "execution.schedule") &&
            (rc = hermes_config_set_schedule(cfg, (const char *const *)ye->schedule, ye->schedule_count)) != 0)
            return rc;
        if (pos_find(cfg, "execution.schedule") && ye->schedule_count == 0)
            return field_fail(cfg, err, HERMES_ECONFIG, "execution.schedule",
                              "must list every module (omit it for file order)");
    }
    if (y->server) {
        const struct yserver *ys = y->server;
        if (ys->enabled && (rc = get_bool(cfg, err, "server.enabled", ys->enabled, &cfg->srv_enabled)) != 0)
            return rc;
        if (ys->host) {
            char *h = hermes__strdup(ys->host);
            if (!h)
                return nomem();
            free(cfg->host);
            cfg->host = h;
        }
        if (ys->port) {
            const char *s = ys->port;
            bool ok = *s != '\0';
            for (const char *p = s; *p; p++)
                ok = ok && is_digit(*p);
            long v = -1;
            if (ok) {
                errno = 0;
                v = strlen(s) <= 6 ? strtol(s, NULL, 10) : -1;
            }
            if (!ok || v < 0 || v > 65535)
                return field_fail(cfg, err, HERMES_ECONFIG, "server.port", "invalid port '%s' (integer 0..65535)", s);
            cfg->port = (uint16_t)v;
        }
        if (ys->telemetry_hz &&
            (rc = get_number(cfg, err, "server.telemetry_hz", ys->telemetry_hz, &cfg->telemetry_hz)) != 0)
            return rc;
        if ((rc = convert_access(cfg, err, ys)) != 0)
            return rc;
    }
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

static int load_text(hermes_config_t **out, const char *text, size_t len, const char *label, const char *errfile,
                     const char *base, char *realfile, hermes_error_t *err)
{
    hermes_config_t *cfg = NULL;
    int rc = hermes_config_create(&cfg);
    if (rc) {
        free(realfile);
        return rc;
    }
    cfg->path = realfile;
    cfg->label = hermes__strdup(label);
    cfg->errfile = hermes__strdup(errfile);
    if (!cfg->label || !cfg->errfile) {
        hermes_config_destroy(cfg);
        return nomem();
    }

    struct prepass pp;
    memset(&pp, 0, sizeof pp);
    pp.cfg = cfg;
    pp.err = err;
    rc = prepass_run(&pp, text, len);
    cyaml_schema_field_t *mf = NULL;
    struct ytop *data = NULL;
    struct logbuf *lb = NULL;
    cyaml_config_t ccfg;
    cyaml_schema_value_t top_value;
    if (rc)
        goto done;

    mf = calloc((size_t)pp.nmod + 1, sizeof *mf);
    lb = calloc(1, sizeof *lb);
    if (!mf || !lb) {
        rc = nomem();
        goto done;
    }
    for (uint32_t i = 0; i < pp.nmod; i++) {
        mf[i].key = pp.modnames[i];
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
                   .data_size = (uint32_t)(pp.nmod * sizeof(struct ymodule)),
                   .mapping = {.fields = mf}}},
        CYAML_FIELD_SEQUENCE("wiring", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct ytop, wiring, &wire_entry, 0,
                             CYAML_UNLIMITED),
        CYAML_FIELD_MAPPING_PTR("execution", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct ytop, execution,
                                exec_fields),
        CYAML_FIELD_MAPPING_PTR("server", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct ytop, server,
                                server_fields),
        CYAML_FIELD_END,
    };
    const cyaml_schema_value_t tv = {CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct ytop, top_fields)};
    top_value = tv;
    memset(&ccfg, 0, sizeof ccfg);
    ccfg.log_fn = cyaml_capture;
    ccfg.log_ctx = lb;
    ccfg.mem_fn = cyaml_mem;
    ccfg.log_level = CYAML_LOG_WARNING;
    ccfg.flags = CYAML_CFG_DEFAULT;
    cyaml_err_t cerr = cyaml_load_data((const uint8_t *)text, len, &ccfg, &top_value, (void **)&data, NULL);
    if (cerr == CYAML_ERR_OOM) {
        rc = nomem();
    } else if (cerr != CYAML_OK) {
        rc = report_cyaml(cfg, err, lb->buf, cerr);
    } else if (!data) {
        rc = cfg_fail(cfg, err, HERMES_ECONFIG, NULL, 0, 0, "configuration is empty");
    } else {
        rc = convert(cfg, err, data, pp.modnames, pp.nmod, base);
        if (rc == 0)
            rc = hermes_config_validate(cfg, err);
    }
    if (data)
        cyaml_free(&ccfg, &top_value, data, 0);

done:
    free(lb);
    free(mf);
    free_strv(pp.modnames, pp.nmod);
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
            base = resolve_path(NULL, base_dir);
    } else {
        base = getcwd(NULL, 0);
    }
    if (!base)
        return fill_err(err, nomem(), name);
    int rc = load_text(out, text, len, name ? name : "<config>", name ? name : "", base, NULL, err);
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
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        struct hermes_config tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.label = (char *)path;
        tmp.errfile = (char *)path;
        return cfg_fail(&tmp, err, e == ENOENT ? HERMES_ENOENT : HERMES_ECONFIG, NULL, 0, 0, "cannot open: %s",
                        strerror(e));
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *t = realloc(text, ncap);
            if (!t) {
                free(text);
                fclose(f);
                return fill_err(err, nomem(), path);
            }
            text = t;
            cap = ncap;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    int rerr = ferror(f);
    int e = errno;
    fclose(f);
    if (rerr) {
        free(text);
        struct hermes_config tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.label = (char *)path;
        tmp.errfile = (char *)path;
        return cfg_fail(&tmp, err, HERMES_ECONFIG, NULL, 0, 0, "cannot read: %s", strerror(e));
    }
    char *real = realpath(path, NULL);
    char *base = real ? hermes__strdup(real) : resolve_path(NULL, path);
    if (!base) {
        free(real);
        free(text);
        return fill_err(err, nomem(), path);
    }
    char *slash = strrchr(base, '/');
    if (slash == base)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    if (!real)
        real = resolve_path(NULL, path);
    int rc = real ? load_text(out, text, len, path, path, base, real, err) : nomem();
    free(base);
    free(text);
    return fill_err(err, rc, path);
}
