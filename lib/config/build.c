/* The programmatic builder: hermes_config_add_* and hermes_config_set_*, and
 * the unchecked appends the YAML loader shares with it (validate checks). */
#include "config/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hermes/inproc.h"

void hermes__config_changed(hermes_config_t *cfg)
{
    atomic_store_explicit(&cfg->validated, false, memory_order_release);
}

int hermes__config_add_module(hermes_config_t *cfg, const char *name, hermes_module_type_t type, char *path)
{
    if (hermes__grow((void **)&cfg->mod, &cfg->capmod, cfg->nmod + 1, sizeof *cfg->mod) != 0) {
        free(path);
        return hermes__config_nomem();
    }
    struct cfg_module *m = &cfg->mod[cfg->nmod];
    memset(m, 0, sizeof *m);
    m->name = hermes__strdup(name);
    int put = m->name ? hermes__names_put(&cfg->modidx, m->name, strlen(m->name), cfg->nmod, NULL) : -1;
    if (put < 0) {
        free(m->name);
        free(path);
        return hermes__config_nomem();
    }
    cfg->nmoddup += (uint32_t)put;
    m->type = type;
    m->path = path;
    cfg->nmod++;
    hermes__config_changed(cfg);
    return 0;
}

int hermes__config_add_signal(struct cfg_module *m, char *name, hermes_type_t type, char *unit, bool writable,
                              double initial)
{
    int put = -1;
    if (name && hermes__grow((void **)&m->sig, &m->capsig, m->nsig + 1, sizeof *m->sig) == 0)
        put = hermes__names_put(&m->sigidx, name, strlen(name), m->nsig, NULL);
    if (put < 0) {
        free(name);
        free(unit);
        return hermes__config_nomem();
    }
    if (unit && !*unit) {
        free(unit);
        unit = NULL;
    }
    m->ndup += (uint32_t)put;
    struct cfg_signal *s = &m->sig[m->nsig];
    s->name = name;
    s->unit = unit;
    s->type = type == HERMES_TYPE_NONE ? HERMES_TYPE_F64 : type;
    s->writable = writable;
    s->initial = initial;
    s->initial_only = NULL;
    s->computed = NULL;
    m->nsig++;
    return 0;
}

int hermes__config_add_wire(hermes_config_t *cfg, const char *src, const char *dst, double gain, double offset)
{
    if (hermes__grow((void **)&cfg->wire, &cfg->capwire, cfg->nwire + 1, sizeof *cfg->wire) != 0)
        return hermes__config_nomem();
    struct cfg_wire *w = &cfg->wire[cfg->nwire];
    w->src = hermes__strdup(src);
    w->dst = hermes__strdup(dst);
    if (!w->src || !w->dst) {
        free(w->src);
        free(w->dst);
        return hermes__config_nomem();
    }
    w->gain = gain;
    w->offset = offset;
    cfg->nwire++;
    hermes__config_changed(cfg);
    return 0;
}

/* Copy @p n strings over *v / *count (freeing the old ones). */
static int replace_strv(char ***v, uint32_t *count, const char *const *src, uint32_t n)
{
    char **copy;
    if (hermes__copy_strv(&copy, src, n) != 0)
        return hermes__config_nomem();
    hermes__free_strv(*v, *count);
    *v = copy;
    *count = n;
    return 0;
}

/* The array argument @p v of @p what: NULL only when @p n is 0, no NULL entry. */
static int check_strv(const char *what, const char *name, const char *const *v, uint32_t n)
{
    if (n > 0 && !v)
        return hermes__fail(HERMES_EINVAL, "%s: %s is NULL", what, name);
    for (uint32_t i = 0; i < n; i++)
        if (!v[i])
            return hermes__fail(HERMES_EINVAL, "%s: %s[%u] is NULL", what, name, (unsigned)i);
    return 0;
}

HERMES_API int hermes_config_add_module(hermes_config_t *cfg, const char *name,
                                        hermes_module_type_t type, const char *path)
{
    if (!cfg || !name)
        return hermes__fail(HERMES_EINVAL, "hermes_config_add_module: cfg or name is NULL");
    const char *why = hermes__config_module_name_problem(name);
    if (why)
        return hermes__config_fail(cfg, NULL, HERMES_EINVAL, "modules", 0, 0, "invalid module name '%s': %s", name,
                                   why);
    if (!hermes__config_module_type_valid(type))
        return hermes__config_fail(cfg, NULL, HERMES_EINVAL, "modules", 0, 0, "module '%s': invalid module type %d",
                                   name, (int)type);
    if (hermes__config_find_module(cfg, name, strlen(name)) >= 0)
        return hermes__config_fail(cfg, NULL, HERMES_EEXIST, "modules", 0, 0, "duplicate module name '%s'", name);
    if (path && type == HERMES_MODULE_INJECTION)
        return hermes__config_fail(cfg, NULL, HERMES_EINVAL, "modules", 0, 0,
                                   "module '%s': an injection module takes no executable or library", name);
    if (path && !*path)
        return hermes__config_fail(cfg, NULL, HERMES_EINVAL, "modules", 0, 0, "module '%s': path is empty", name);
    char *resolved = NULL;
    if (path && !(resolved = type == HERMES_MODULE_PROCESS ? hermes__absolute_path(NULL, path)
                                                           : hermes__resolve_path(NULL, path)))
        return hermes__config_nomem();
    return hermes__config_add_module(cfg, name, type, resolved);
}

/* The module named by an argument of @p what. *out is written on every path
 * (NULL on failure), so callers never read an output a failure left unset. */
static int module_arg(hermes_config_t *cfg, const char *module, const char *what, struct cfg_module **out)
{
    *out = NULL;
    if (!cfg || !module)
        return hermes__fail(HERMES_EINVAL, "%s: cfg or module is NULL", what);
    int i = hermes__config_find_module(cfg, module, strlen(module));
    if (i < 0)
        return hermes__fail(HERMES_ENOENT, "%s: no module '%s'", what, module);
    *out = &cfg->mod[i];
    return 0;
}

HERMES_API int hermes_config_set_module_callbacks(hermes_config_t *cfg, const char *module,
                                                  const struct hermes_inproc_module *table)
{
    struct cfg_module *m;
    int rc = module_arg(cfg, module, "hermes_config_set_module_callbacks", &m);
    if (rc)
        return rc;
    if (m->type != HERMES_MODULE_INPROC)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_module_callbacks: module '%s' is not inproc", module);
    if (table && (table->abi_version < HERMES_INPROC_ABI_MIN || table->abi_version > HERMES_INPROC_ABI_VERSION))
        return hermes__fail(HERMES_EABI, "module '%s': callback table ABI version %u, expected %u..%u", module,
                            (unsigned)table->abi_version, (unsigned)HERMES_INPROC_ABI_MIN,
                            (unsigned)HERMES_INPROC_ABI_VERSION);
    m->callbacks = table;
    hermes__config_changed(cfg);
    return 0;
}

HERMES_API int hermes_config_set_initial(hermes_config_t *cfg, const char *signal, double value)
{
    if (!cfg || !signal)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_initial: cfg or signal is NULL");
    /* Module names have no dots; signal names may ("position.altitude"). */
    const char *dot = strchr(signal, '.');
    if (!dot || dot == signal || !dot[1])
        return hermes__fail(HERMES_EINVAL, "'%s' is not a qualified signal name (module.signal)", signal);
    int i = hermes__config_find_module(cfg, signal, (size_t)(dot - signal));
    int j = i < 0 ? -1 : hermes__config_find_signal(&cfg->mod[i], dot + 1);
    if (j < 0)
        return hermes__fail(HERMES_ENOENT, "no signal '%s' in the configuration", signal);
    struct cfg_signal *s = &cfg->mod[i].sig[j];
    if (s->computed)
        return hermes__fail(HERMES_EREADONLY, "%s is %s: the FMU computes its value in its initialisation, so an "
                            "initial value would be overwritten (give one to an input or a parameter)", signal,
                            s->computed);
    char buf[160];
    const char *why = hermes__config_initial_problem(s->type, value, buf, sizeof buf);
    if (why)
        return hermes__fail(HERMES_ETYPE, "%s: %s", signal, why);
    s->initial = value;
    hermes__config_changed(cfg);
    return 0;
}

HERMES_API int hermes_config_set_seed(hermes_config_t *cfg, uint64_t seed)
{
    if (!cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_seed: cfg is NULL");
    cfg->seed = seed;
    cfg->has_seed = true;
    return 0;
}

HERMES_API int hermes_config_set_module_args(hermes_config_t *cfg, const char *module,
                                             const char *const *args, uint32_t count)
{
    struct cfg_module *m;
    int rc = module_arg(cfg, module, "hermes_config_set_module_args", &m);
    if (rc)
        return rc;
    if (m->type != HERMES_MODULE_PROCESS)
        return hermes__fail(HERMES_EINVAL, "modules.%s.args: only process modules take arguments", module);
    if ((rc = check_strv("hermes_config_set_module_args", "args", args, count)) != 0)
        return rc;
    if ((rc = replace_strv(&m->args, &m->arg_count, args, count)) != 0)
        return rc;
    hermes__config_changed(cfg);
    return 0;
}

HERMES_API int hermes_config_set_module_config(hermes_config_t *cfg, const char *module, const char *path)
{
    struct cfg_module *m;
    int rc = module_arg(cfg, module, "hermes_config_set_module_config", &m);
    if (rc)
        return rc;
    char *resolved = NULL;
    if (path) {
        if (!*path)
            return hermes__fail(HERMES_EINVAL, "modules.%s.config: path is empty", module);
        if (!(resolved = hermes__resolve_path(NULL, path)))
            return hermes__config_nomem();
    }
    free(m->config_path);
    m->config_path = resolved;
    hermes__config_changed(cfg);
    return 0;
}

HERMES_API int hermes_config_add_signal(hermes_config_t *cfg, const char *module, const char *name,
                                        hermes_type_t type, const char *unit, bool writable, double initial)
{
    struct cfg_module *m;
    int rc = module_arg(cfg, module, "hermes_config_add_signal", &m);
    if (rc)
        return rc;
    if (!name)
        return hermes__fail(HERMES_EINVAL, "hermes_config_add_signal: name is NULL");
    const char *why = hermes__config_signal_name_problem(module, name);
    if (why)
        return hermes__fail(HERMES_EINVAL, "modules.%s.signals: invalid signal name '%s': %s", module, name, why);
    if (type == HERMES_TYPE_NONE)
        type = HERMES_TYPE_F64;
    if (!hermes__config_type_valid(type))
        return hermes__fail(HERMES_EINVAL, "modules.%s.signals: signal '%s': invalid type %d", module, name,
                            (int)type);
    if (unit && strlen(unit) > HERMES_MAX_UNIT)
        return hermes__fail(HERMES_EINVAL, "modules.%s.signals: signal '%s': unit is longer than %d characters",
                            module, name, HERMES_MAX_UNIT);
    char buf[160];
    if ((why = hermes__config_initial_problem(type, initial, buf, sizeof buf)) != NULL)
        return hermes__fail(HERMES_EINVAL, "modules.%s.signals: signal '%s': %s", module, name, why);
    if (hermes__config_find_signal(m, name) >= 0)
        return hermes__fail(HERMES_EEXIST, "modules.%s.signals: duplicate signal name '%s'", module, name);
    char *uc = unit ? hermes__strdup(unit) : NULL;
    if (unit && !uc)
        return hermes__config_nomem();
    if ((rc = hermes__config_add_signal(m, hermes__strdup(name), type, uc, writable, initial)) != 0)
        return rc;
    hermes__config_changed(cfg);
    return 0;
}

HERMES_API int hermes_config_add_wire(hermes_config_t *cfg, const char *src, const char *dst,
                                      double gain, double offset)
{
    if (!cfg || !src || !dst)
        return hermes__fail(HERMES_EINVAL, "hermes_config_add_wire: cfg, src or dst is NULL");
    if (!isfinite(gain) || !isfinite(offset))
        return hermes__fail(HERMES_EINVAL, "wiring: wire %s -> %s: gain and offset must be finite", src, dst);
    return hermes__config_add_wire(cfg, src, dst, gain, offset);
}

/* Checks the whole section with validate's own rule, so a validated config
 * stays validated. */
HERMES_API int hermes_config_set_execution(hermes_config_t *cfg, const hermes_execution_t *exec)
{
    if (!cfg || !exec)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_execution: cfg or exec is NULL");
    const char *field = NULL;
    char buf[160];
    const char *why = hermes__config_exec_problem(exec, &field, buf, sizeof buf);
    if (why)
        return hermes__fail(HERMES_EINVAL, "%s: %s", field, why);
    if (!hermes__config_rates_fit(cfg, exec->rate_hz))
        hermes__config_changed(cfg);  /* a module rate no longer divides the base: validate reports it */
    cfg->exec = *exec;
    if (!cfg->exec.has_end_time)
        cfg->exec.end_time = 0.0;
    return 0;
}

HERMES_API int hermes_config_set_schedule(hermes_config_t *cfg, const char *const *modules, uint32_t count)
{
    return hermes_config_set_schedule_groups(cfg, modules, NULL, count);
}

struct group_start {
    uint32_t group, entry;
};

static int by_group(const void *a, const void *b)
{
    const struct group_start *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

/* Group numbers renumbered 0, 1, ... in order into *out (NULL without
 * groups); a number that starts two runs would split a group. */
static int renumber_groups(uint32_t **out, const char *const *modules, const uint32_t *group, uint32_t n)
{
    *out = NULL;
    if (!group || n == 0)
        return 0;
    uint32_t *g = malloc(n * sizeof *g);
    struct group_start *start = malloc(n * sizeof *start);
    if (!g || !start) {
        free(g);
        free(start);
        return hermes__config_nomem();
    }
    uint32_t runs = 0;
    for (uint32_t k = 0; k < n; k++) {
        g[k] = k == 0 ? 0 : g[k - 1] + (group[k] != group[k - 1]);
        if (k == 0 || group[k] != group[k - 1])
            start[runs++] = (struct group_start){group[k], k};
    }
    qsort(start, runs, sizeof *start, by_group);
    int rc = 0;
    for (uint32_t i = 1; i < runs && rc == 0; i++)
        if (start[i].group == start[i - 1].group)
            rc = hermes__fail(HERMES_EINVAL, "hermes_config_set_schedule_groups: entry %u ('%s') is in group %u, "
                              "which entry %u started and another group closed: members of a group must be "
                              "adjacent", (unsigned)start[i].entry, modules[start[i].entry], start[i].group,
                              (unsigned)start[i - 1].entry);
    free(start);
    if (rc)
        free(g);
    else
        *out = g;
    return rc;
}

HERMES_API int hermes_config_set_schedule_groups(hermes_config_t *cfg, const char *const *modules,
                                                 const uint32_t *group, uint32_t count)
{
    if (!cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_schedule: cfg is NULL");
    uint32_t *g;
    int rc = check_strv("hermes_config_set_schedule", "modules", modules, count);
    if (rc || (rc = renumber_groups(&g, modules, group, count)) != 0)
        return rc;
    char **old_field = cfg->sched_field;
    uint32_t old_n = cfg->nsched;
    if ((rc = replace_strv(&cfg->sched, &cfg->nsched, modules, count)) != 0) {
        free(g);
        return rc;
    }
    hermes__free_strv(old_field, old_n);
    free(cfg->sched_group);
    cfg->sched_group = g;
    cfg->sched_field = NULL;
    hermes__config_changed(cfg);
    return 0;
}

/* Checked with validate's own rule, like the server section. */
HERMES_API int hermes_config_set_record(hermes_config_t *cfg, const hermes_record_settings_t *rec)
{
    if (!cfg || !rec)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_record: cfg or rec is NULL");
    char field[80], why[192];
    if (hermes__config_record_problem(rec, field, sizeof field, why, sizeof why) != NULL)
        return hermes__fail(HERMES_EINVAL, "%s: %s", field, why);
    char *file = rec->file ? hermes__strdup(rec->file) : NULL;
    char **sigs = NULL;
    if ((rec->file && !file) || hermes__copy_strv(&sigs, rec->signals, rec->signal_count) != 0) {
        free(file);
        return hermes__config_nomem();
    }
    free(cfg->rec_file);
    cfg->rec_file = file;
    hermes__free_strv(cfg->rec_signals, cfg->rec_nsignals);
    cfg->rec_signals = sigs;
    cfg->rec_nsignals = rec->signal_count;
    cfg->rec_enabled = rec->enabled;
    cfg->rec_every = rec->every;
    cfg->rec_rate = rec->rate_hz;
    return 0;
}

const char *hermes__config_checkpoint_problem(const char *file, const double *at, uint32_t n, char *key, size_t cap)
{
    snprintf(key, cap, "%s", file ? "file" : n ? "at" : "");
    if (file && !*file)
        return "must not be empty (a file, or with several times an existing folder)";
    if (!file && n == 0)
        return "needs 'file' and 'at' (omit the section to take no checkpoints)";
    if (file && n == 0)
        return "needs 'at' too: the sim times in seconds to take the checkpoints at";
    if (!file)
        return "needs 'file' too: where to write the checkpoints";
    for (uint32_t i = 0; i < n; i++)
        if (!isfinite(at[i]) || at[i] < 0) {
            snprintf(key, cap, "at[%u]", i);
            return "every time must be a finite number of seconds >= 0";
        }
    return NULL;
}

int hermes__config_store_checkpoint(hermes_config_t *cfg, const char *file, const double *at, uint32_t n)
{
    char *f = file ? hermes__strdup(file) : NULL;
    double *a = n ? malloc(n * sizeof *a) : NULL;
    if ((file && !f) || (n && !a)) {
        free(f);
        free(a);
        return hermes__config_nomem();
    }
    if (n)
        memcpy(a, at, n * sizeof *a);
    free(cfg->ck_file);
    free(cfg->ck_at);
    cfg->ck_file = f;
    cfg->ck_at = a;
    cfg->ck_nat = n;
    return 0;
}

HERMES_API int hermes_config_set_checkpoint(hermes_config_t *cfg, const hermes_checkpoint_settings_t *ck)
{
    if (!cfg || !ck || (ck->at_count && !ck->at))
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_checkpoint: cfg, ck or ck->at is NULL");
    if (!ck->file && ck->at_count == 0)
        return hermes__config_store_checkpoint(cfg, NULL, NULL, 0);
    char key[32];
    const char *why = hermes__config_checkpoint_problem(ck->file, ck->at, ck->at_count, key, sizeof key);
    if (why)
        return hermes__fail(HERMES_EINVAL, "execution.checkpoint.%s: %s", key, why);
    return hermes__config_store_checkpoint(cfg, ck->file, ck->at, ck->at_count);
}

HERMES_API int hermes_config_set_record_mcap(hermes_config_t *cfg, const char *path)
{
    if (!cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_record_mcap: cfg is NULL");
    if (path && !path[0])
        return hermes__fail(HERMES_EINVAL, "record.mcap: must not be empty (NULL: no MCAP file)");
    char *p = path ? hermes__strdup(path) : NULL;
    if (path && !p)
        return hermes__config_nomem();
    free(cfg->rec_mcap);
    cfg->rec_mcap = p;
    if (p)
        cfg->rec_enabled = true;
    return 0;
}

int hermes__config_set_schedule_yaml(hermes_config_t *cfg, char *const *names, const uint32_t *group,
                                     char *const *fields, uint32_t n)
{
    char **f;
    int rc = hermes_config_set_schedule_groups(cfg, (const char *const *)names, group, n);
    if (rc == 0 && hermes__copy_strv(&f, (const char *const *)fields, n) != 0)
        rc = hermes__config_nomem();
    if (rc == 0)
        cfg->sched_field = f;
    return rc;
}

/* Checked here in full, so a validated config stays validated. */
HERMES_API int hermes_config_set_spin_us(hermes_config_t *cfg, uint32_t us)
{
    if (!cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_spin_us: cfg is NULL");
    const char *why = hermes__config_spin_problem(us);
    if (why)
        return hermes__fail(HERMES_EINVAL, "execution.spin_us: %s (got %u)", why, us);
    cfg->spin_us = us;
    return 0;
}

HERMES_API int hermes_config_set_restore_replay(hermes_config_t *cfg, bool on)
{
    if (!cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_restore_replay: cfg is NULL");
    cfg->ckpt_replay = on;
    return 0;
}

HERMES_API int hermes_config_set_check_groups(hermes_config_t *cfg, bool on)
{
    if (!cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_check_groups: cfg is NULL");
    cfg->check_groups = on;
    return 0;
}

/* Checks the whole section with validate's own rule, so a validated config
 * stays validated. */
HERMES_API int hermes_config_set_server(hermes_config_t *cfg, const hermes_server_settings_t *srv)
{
    if (!cfg || !srv)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_server: cfg or srv is NULL");
    char field[80], why[192];
    if (hermes__config_server_problem(srv, field, sizeof field, why, sizeof why) != NULL)
        return hermes__fail(HERMES_EINVAL, "%s: %s", field, why);
    char *host = hermes__strdup(srv->host ? srv->host : HERMES_DEFAULT_HOST);
    char *token = srv->auth_token ? hermes__strdup(srv->auth_token) : NULL;
    char **origins = NULL;
    if (!host || (srv->auth_token && !token) ||
        hermes__copy_strv(&origins, srv->allowed_origins, srv->allowed_origin_count) != 0) {
        free(host);
        hermes__config_free_token(token);
        return hermes__config_nomem();
    }
    free(cfg->host);
    cfg->host = host;
    hermes__config_free_token(cfg->auth_token);
    cfg->auth_token = token;
    hermes__free_strv(cfg->origins, cfg->norigins);
    cfg->origins = origins;
    cfg->norigins = srv->allowed_origin_count;
    cfg->srv_enabled = srv->enabled;
    cfg->port = srv->port;
    cfg->telemetry_hz = srv->telemetry_hz;
    cfg->observers = srv->observers;
    cfg->viewer_disabled = srv->viewer_disabled;
    cfg->max_clients = srv->max_clients;
    cfg->max_message = srv->max_message_size;
    cfg->cps = srv->commands_per_second;
    cfg->max_patterns = srv->max_patterns;
    cfg->max_depth = srv->max_json_depth;
    return 0;
}
