/* The configuration handle: create/destroy, read accessors, name lookups and
 * the enum names of config.h's X-macro tables. */
#include "config/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hermes/inproc.h"

int hermes__config_nomem(void) { return hermes__fail(HERMES_ENOMEM, "config: out of memory"); }

void hermes__config_free_token(char *t)
{
    if (t)
        explicit_bzero(t, strlen(t));
    free(t);
}

static void module_free(struct cfg_module *m)
{
    free(m->name);
    free(m->path);
    free(m->config_path);
    hermes__free_strv(m->args, m->arg_count);
    for (uint32_t j = 0; j < m->nsig; j++) {
        free(m->sig[j].name);
        free(m->sig[j].unit);
    }
    free(m->sig);
    hermes__names_free(&m->sigidx);
    hermes__free_strv(m->fmu_skipped, m->fmu_nskipped);
    free(m->fmu_skip_why);
}

HERMES_API void hermes_config_destroy(hermes_config_t *cfg)
{
    if (!cfg)
        return;
    for (uint32_t i = 0; i < cfg->nmod; i++)
        module_free(&cfg->mod[i]);
    free(cfg->mod);
    hermes__names_free(&cfg->modidx);
    for (uint32_t i = 0; i < cfg->nwire; i++) {
        free(cfg->wire[i].src);
        free(cfg->wire[i].dst);
    }
    free(cfg->wire);
    hermes__free_strv(cfg->sched, cfg->nsched);
    free(cfg->sched_group);
    hermes__free_strv(cfg->sched_field, cfg->nsched);
    free(cfg->host);
    hermes__config_free_token(cfg->auth_token);
    hermes__free_strv(cfg->origins, cfg->norigins);
    free(cfg->rec_file);
    free(cfg->rec_mcap);
    free(cfg->ck_file);
    free(cfg->ck_at);
    hermes__free_strv(cfg->rec_signals, cfg->rec_nsignals);
    free(cfg->path);
    free(cfg->label);
    free(cfg->errfile);
    for (uint32_t i = 0; i < cfg->npos; i++)
        free(cfg->pos[i].path);
    free(cfg->pos);
    hermes__names_free(&cfg->posidx);
    free(cfg->text);
    free(cfg);
}

HERMES_API int hermes_config_create(hermes_config_t **out)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_create: out is NULL");
    *out = NULL;
    hermes_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return hermes__config_nomem();
    cfg->exec.mode = HERMES_MODE_AFAP;
    cfg->exec.rate_hz = HERMES_DEFAULT_RATE_HZ;
    cfg->exec.has_end_time = false;
    cfg->exec.end_time = 0.0;
    cfg->exec.step_timeout = HERMES_DEFAULT_STEP_TIMEOUT;
    cfg->srv_enabled = false;
    cfg->port = HERMES_DEFAULT_PORT;
    cfg->telemetry_hz = HERMES_DEFAULT_TELEMETRY_HZ;
    cfg->host = hermes__strdup(HERMES_DEFAULT_HOST);
    atomic_init(&cfg->validated, false);
    if (!cfg->host) {
        free(cfg);
        return hermes__config_nomem();
    }
    *out = cfg;
    return 0;
}

int hermes__config_find_module(const hermes_config_t *cfg, const char *name, size_t len)
{
    uint32_t i;
    return hermes__names_get(&cfg->modidx, name, len, &i) == 0 ? (int)i : -1;
}

int hermes__config_find_signal(const struct cfg_module *m, const char *name)
{
    uint32_t j;
    return hermes__names_get(&m->sigidx, name, strlen(name), &j) == 0 ? (int)j : -1;
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
    int i = hermes__config_find_module(cfg, cfg->sched[k], strlen(cfg->sched[k]));
    if (i < 0)
        return hermes__fail(HERMES_ENOENT, "execution.schedule[%u]: unknown module '%s'", (unsigned)k, cfg->sched[k]);
    *module_index = (uint32_t)i;
    return 0;
}

HERMES_API int hermes_config_schedule_group(const hermes_config_t *cfg, uint32_t k, uint32_t *group)
{
    if (!cfg || !group)
        return hermes__fail(HERMES_EINVAL, "hermes_config_schedule_group: cfg or group is NULL");
    if (k >= hermes_config_schedule_count(cfg))
        return hermes__fail(HERMES_ENOENT, "hermes_config_schedule_group: no schedule entry %u", (unsigned)k);
    *group = cfg->sched_group ? cfg->sched_group[k] : k;
    return 0;
}

HERMES_API uint32_t hermes_config_spin_us(const hermes_config_t *cfg) { return cfg ? cfg->spin_us : 0; }
HERMES_API bool hermes_config_check_groups(const hermes_config_t *cfg) { return cfg && cfg->check_groups; }
HERMES_API bool hermes_config_restore_replay(const hermes_config_t *cfg) { return cfg && cfg->ckpt_replay; }

HERMES_API int hermes_config_execution(const hermes_config_t *cfg, hermes_execution_t *out)
{
    if (!cfg || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_execution: cfg or out is NULL");
    *out = cfg->exec;
    return 0;
}

HERMES_API int hermes_config_record(const hermes_config_t *cfg, hermes_record_settings_t *out)
{
    if (!cfg || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_record: cfg or out is NULL");
    memset(out, 0, sizeof *out);
    out->enabled = cfg->rec_enabled;
    out->file = cfg->rec_file;
    out->signals = (const char *const *)cfg->rec_signals;
    out->signal_count = cfg->rec_nsignals;
    out->every = cfg->rec_every;
    out->rate_hz = cfg->rec_rate;
    return 0;
}

HERMES_API int hermes_config_checkpoint(const hermes_config_t *cfg, hermes_checkpoint_settings_t *out)
{
    if (!cfg || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_checkpoint: cfg or out is NULL");
    out->file = cfg->ck_file;
    out->at = cfg->ck_nat ? cfg->ck_at : NULL;
    out->at_count = cfg->ck_nat;
    return 0;
}

HERMES_API const char *hermes_config_record_mcap(const hermes_config_t *cfg) { return cfg ? cfg->rec_mcap : NULL; }

HERMES_API int hermes_config_server(const hermes_config_t *cfg, hermes_server_settings_t *out)
{
    if (!cfg || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_server: cfg or out is NULL");
    memset(out, 0, sizeof *out);  /* fields the file has no key for yet are 0: the default */
    out->enabled = cfg->srv_enabled;
    out->host = cfg->host;
    out->port = cfg->port;
    out->telemetry_hz = cfg->telemetry_hz;
    out->auth_token = cfg->auth_token;
    out->observers = cfg->observers;
    out->viewer_disabled = cfg->viewer_disabled;
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

HERMES_API int hermes_config_seed(const hermes_config_t *cfg, uint64_t *out)
{
    if (!cfg || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_seed: NULL argument");
    if (!cfg->has_seed)
        return HERMES_ENOENT;   /* no seed is the normal case: no message */
    *out = cfg->seed;
    return 0;
}

const struct hermes_inproc_module *hermes__config_module_callbacks(const hermes_config_t *cfg, uint32_t module_index)
{
    if (!cfg || module_index >= cfg->nmod || cfg->mod[module_index].type != HERMES_MODULE_INPROC)
        return NULL;
    return cfg->mod[module_index].callbacks;
}

/* ------------------------------------------------------------------------ */
/* Enum names (config.h's X-macro tables)                                   */

#define X_CASE(name, value, text) case (value): return text;
#define X_WORD(name, value, text) {text, (value)},

struct word {
    const char *text;
    int         value;
};

static const struct word mode_words[] = {HERMES_MODE_TABLE(X_WORD)};
static const struct word module_type_words[] = {HERMES_MODULE_TYPE_TABLE(X_WORD)};

static int word_parse(const struct word *w, size_t n, const char *text, int *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(w[i].text, text) == 0) {
            *out = w[i].value;
            return 0;
        }
    return -1;
}

/* The table's words as "a, b or c", for messages. */
static const char *choices(char *buf, size_t cap, const struct word *w, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < cap; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int k = snprintf(buf + o, cap - o, "%s%s", sep, w[i].text);
        if (k < 0)
            break;
        o += (size_t)k;
    }
    return buf;
}

HERMES_API const char *hermes_mode_name(hermes_mode_t mode)
{
    switch (mode) {
    HERMES_MODE_TABLE(X_CASE)
    }
    return "unknown";
}

HERMES_API const char *hermes_module_type_name(hermes_module_type_t type)
{
    switch (type) {
    case HERMES_MODULE_NONE: return "none";
    HERMES_MODULE_TYPE_TABLE(X_CASE)
    }
    return "unknown";
}

int hermes__mode_parse(const char *word, hermes_mode_t *out)
{
    int v;
    if (word_parse(mode_words, sizeof mode_words / sizeof *mode_words, word, &v) != 0)
        return -1;
    *out = (hermes_mode_t)v;
    return 0;
}

int hermes__module_type_parse(const char *word, hermes_module_type_t *out)
{
    int v;
    if (word_parse(module_type_words, sizeof module_type_words / sizeof *module_type_words, word, &v) != 0)
        return -1;
    *out = (hermes_module_type_t)v;
    return 0;
}

const char *hermes__type_choices(void)
{
    static _Thread_local char buf[128];
    struct word w[HERMES_TYPE_BOOL];
    size_t n = 0;
    for (int t = HERMES_TYPE_F64; t <= HERMES_TYPE_BOOL; t++)
        w[n++] = (struct word){hermes_type_name((hermes_type_t)t), t};
    return choices(buf, sizeof buf, w, n);
}

const char *hermes__mode_choices(void)
{
    static _Thread_local char buf[128];
    return choices(buf, sizeof buf, mode_words, sizeof mode_words / sizeof *mode_words);
}

const char *hermes__module_type_choices(void)
{
    static _Thread_local char buf[128];
    return choices(buf, sizeof buf, module_type_words, sizeof module_type_words / sizeof *module_type_words);
}
