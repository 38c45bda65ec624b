/* What both FMI bindings (fmi2.c, fmi3.c) share below binding.c: binding a
 * table of symbols from the FMU's binary (a missing one is named) and the
 * log line of the FMU's logger. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
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

const char *hermes__fmu_value_problem(enum hermes__fmu_kind kind, double d, char *buf, size_t cap)
{
    static const struct { const char *name, *range; double lo, hi; } r[FMU_KIND_COUNT] = {
        [FMU_INT8] = {"Int8", "-128 .. 127", -128.0, 127.0},
        [FMU_UINT8] = {"UInt8", "0 .. 255", 0.0, 255.0},
        [FMU_INT16] = {"Int16", "-32768 .. 32767", -32768.0, 32767.0},
        [FMU_UINT16] = {"UInt16", "0 .. 65535", 0.0, 65535.0},
        [FMU_INT32] = {"Int32", "-2^31 .. 2^31-1", -2147483648.0, 2147483647.0},
        [FMU_UINT32] = {"UInt32", "0 .. 2^32-1", 0.0, 4294967295.0},
        [FMU_INT64] = {"Int64", "-2^63 .. 2^63-1", -0x1p63, 0x1p63},
        [FMU_UINT64] = {"UInt64", "0 .. 2^64-1", 0.0, 0x1p64},
        [FMU_ENUM] = {"Enumeration", "-2^63 .. 2^63-1", -0x1p63, 0x1p63},
    };
    if ((unsigned)kind >= FMU_KIND_COUNT || !r[kind].name)
        return NULL;  /* Float64, Float32, Boolean */
    if (!isfinite(d) || d != floor(d))
        snprintf(buf, cap, "(%s) is not an integer", r[kind].name);
    else if (d < r[kind].lo || d > r[kind].hi)
        snprintf(buf, cap, "(%s) is outside %s", r[kind].name, r[kind].range);
    else
        return NULL;
    return buf;
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
