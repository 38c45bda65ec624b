/* `type: fmu` modules in the config: the isolate and locals fields and the
 * module's signals, read from the FMU's modelDescription.xml (outputs
 * read-only, inputs and parameters writable, starts as initial values). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/internal.h"
#include "hermes/fmu.h"
#ifdef HERMES_HAVE_FMU
#include "fmu/fmu.h"
#endif

static int yaml_bool(hermes_config_t *cfg, hermes_error_t *err, const char *field, const char *v, bool *out)
{
    *out = false;
    if (!v)
        return 0;
    if (strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0) {
        *out = strcasecmp(v, "true") == 0;
        return 0;
    }
    return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "expected true or false, not '%s'", v);
}

#ifdef HERMES_HAVE_FMU
static int add_signals(hermes_config_t *cfg, hermes_error_t *err, struct cfg_module *m, const char *field)
{
    char *xml = NULL;
    size_t len = 0;
    struct hermes__fmu_model md;
    int rc = hermes__fmu_read_description(m->path, &xml, &len);
    if (!rc) {
        char *label = hermes__asprintf("%s:modelDescription.xml", m->path);
        rc = label ? hermes__fmu_model_parse(xml, len, label, m->fmu_locals, &md) : hermes__config_nomem();
        free(label);
    }
    free(xml);
    if (rc) {
        char msg[600];
        hermes__strlcpy(msg, hermes_last_error(), sizeof msg);
        return hermes__config_field_fail(cfg, err, rc, field, "module '%s': %s", m->name, msg);
    }
    for (uint32_t i = 0; i < md.nvar && !rc; i++) {
        struct hermes__fmu_var *v = &md.var[i];
        bool writable = v->causality == FMU_INPUT || v->causality == FMU_PARAMETER;
        rc = hermes__config_add_signal(m, v->name, v->type, v->unit, writable, v->start);
        v->name = NULL;  /* taken, also on failure */
        v->unit = NULL;
        if (!rc && v->causality == FMU_PARAMETER && v->fixed)  /* the FMU reads it only in initialisation */
            m->sig[m->nsig - 1].initial_only = "a fixed FMU parameter";
        if (!rc && (v->causality == FMU_OUTPUT || v->causality == FMU_LOCAL))
            m->sig[m->nsig - 1].computed = v->causality == FMU_OUTPUT ? "an FMU output" : "an FMU local";
    }
    if (!rc && md.nskipped) {
        m->fmu_skipped = calloc(md.nskipped, sizeof *m->fmu_skipped);
        m->fmu_skip_why = calloc(md.nskipped, sizeof *m->fmu_skip_why);
        if (!m->fmu_skipped || !m->fmu_skip_why)
            rc = hermes__config_nomem();
        for (uint32_t i = 0; !rc && i < md.nskipped; i++) {
            m->fmu_skipped[i] = md.skipped[i].fmi_name;
            m->fmu_skip_why[i] = md.skipped[i].reason;
            md.skipped[i].fmi_name = NULL;  /* taken */
            m->fmu_nskipped++;
        }
    }
    hermes__fmu_model_free(&md);
    return rc;
}
#endif

HERMES_API const char *hermes_fmu_signal_initial_only(const hermes_config_t *cfg, uint32_t module_index,
                                                      uint32_t signal_index)
{
    return hermes__config_signal_initial_only(cfg, module_index, signal_index);
}

HERMES_API const char *hermes_fmu_signal_computed(const hermes_config_t *cfg, uint32_t module_index,
                                                  uint32_t signal_index)
{
    if (!cfg || module_index >= cfg->nmod || signal_index >= cfg->mod[module_index].nsig)
        return NULL;
    return cfg->mod[module_index].sig[signal_index].computed;
}

HERMES_API uint32_t hermes_fmu_skipped_count(const hermes_config_t *cfg, uint32_t module_index)
{
    return cfg && module_index < cfg->nmod ? cfg->mod[module_index].fmu_nskipped : 0;
}

HERMES_API int hermes_fmu_skipped(const hermes_config_t *cfg, uint32_t module_index, uint32_t i,
                                  hermes_fmu_skipped_t *out)
{
    if (!cfg || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_fmu_skipped: NULL argument");
    if (module_index >= cfg->nmod || i >= cfg->mod[module_index].fmu_nskipped)
        return hermes__fail(HERMES_EINVAL, "hermes_fmu_skipped: no skipped variable %u of module %u", i,
                            module_index);
    out->name = cfg->mod[module_index].fmu_skipped[i];
    out->reason = cfg->mod[module_index].fmu_skip_why[i];
    return 0;
}

int hermes__config_fmu_load(hermes_config_t *cfg, hermes_error_t *err, struct cfg_module *m, const char *field,
                            const char *isolate, const char *locals)
{
    char f[512];
    bool iso = false;
    snprintf(f, sizeof f, "modules.%s.isolate", m->name);
    int rc = yaml_bool(cfg, err, f, isolate, &iso);
    if (rc)
        return rc;
    m->fmu_isolate = iso;
    snprintf(f, sizeof f, "modules.%s.locals", m->name);
    if ((rc = yaml_bool(cfg, err, f, locals, &m->fmu_locals)) != 0)
        return rc;
    if (m->nsig > 0)
        return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field,
                                         "module '%s': an fmu module's signals come from its FMU; remove signals:",
                                         m->name);
#ifdef HERMES_HAVE_FMU
    return add_signals(cfg, err, m, field);
#else
    return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field,
                                     "module '%s': this Hermes was built without FMU support (install libzip-dev "
                                     "and libexpat1-dev, then reconfigure)", m->name);
#endif
}

bool hermes__config_fmu_locals(const hermes_config_t *cfg, uint32_t module_index)
{
    return cfg && module_index < cfg->nmod && cfg->mod[module_index].fmu_locals;
}

bool hermes__config_fmu_isolate(const hermes_config_t *cfg, uint32_t module_index)
{
    return cfg && module_index < cfg->nmod && cfg->mod[module_index].fmu_isolate;
}

const char *hermes__config_signal_initial_only(const hermes_config_t *cfg, uint32_t i, uint32_t j)
{
    if (!cfg || i >= cfg->nmod || j >= cfg->mod[i].nsig)
        return NULL;
    return cfg->mod[i].sig[j].initial_only;
}
