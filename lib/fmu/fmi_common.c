/* What both FMI bindings (fmi2.c, fmi3.c) share below binding.c: binding a
 * table of symbols from the FMU's binary (a missing one is named) and the
 * log line of the FMU's logger. */
#include <dlfcn.h>
#include <string.h>

#include "fmu/fmu.h"
#include "common/util.h"

int hermes__fmu_bind_all(struct hermes__fmu_common *c, const struct hermes__fmu_sym *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        void *p = dlsym(c->dl, t[i].name);
        if (!p)
            return hermes__fail(HERMES_EMODULE, "module '%s': %s does not export the required function %s()",
                                c->name, c->so, t[i].name);
        memcpy(t[i].slot, &p, sizeof p);
    }
    return 0;
}

void hermes__fmu_bind_optional(struct hermes__fmu_common *c, const struct hermes__fmu_sym *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        void *p = dlsym(c->dl, t[i].name);
        memcpy(t[i].slot, &p, sizeof p);
    }
}

void hermes__fmu_log(const struct hermes__fmu_common *c, int status, const char *instance, const char *category,
                     const char *text)
{
    hermes_log_level_t lvl = status >= 3 ? HERMES_LOG_ERROR : status >= 1 ? HERMES_LOG_WARN : HERMES_LOG_INFO;
    hermes__log(lvl, "fmu", "module '%s' (%s) [%s]: %s", c ? c->name : "?", instance ? instance : "",
                category ? category : "", text ? text : "");
}
