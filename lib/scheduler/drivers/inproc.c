/* In-process modules: a shared object's callback table, or a host's table
 * given through hermes_config_set_module_callbacks(). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "hermes/inproc.h"
#include "hermes/version.h"
#include "scheduler/drivers/driver.h"
#include "common/util.h"

struct inproc {
    void                         *dl;
    const hermes_inproc_module_t *table;
    hermes_inproc_env_t           env;
    const char                  **names;
    double                      **slots;
    int                           inited;
};

static int call_stage(struct hermes__module *m)
{
    struct inproc *ip = m->impl;
    return ip->table->stage ? ip->table->stage(m->state) : 0;
}

static int call_reset(struct hermes__module *m)
{
    struct inproc *ip = m->impl;
    return ip->table->reset ? ip->table->reset(m->state) : 0;
}

#define MAX_STATE (1ull << 30)

static int save_inproc(struct hermes__module *m, void **buf, size_t *len)
{
    struct inproc *ip = m->impl;
    size_t n = ip->table->state_size(m->state);
    if (n > MAX_STATE) {
        snprintf(m->errbuf, sizeof m->errbuf, "state_size() is %zu bytes, more than the 1 GiB limit", n);
        return -1;
    }
    void *p = malloc(n ? n : 1);
    if (!p) {
        snprintf(m->errbuf, sizeof m->errbuf, "out of memory for %zu bytes of state", n);
        return -1;
    }
    m->errbuf[0] = '\0';
    if (ip->table->state_save(m->state, p, n) != 0) {
        if (!m->errbuf[0])
            snprintf(m->errbuf, sizeof m->errbuf, "state_save() failed");
        free(p);
        return -1;
    }
    *buf = p;
    *len = n;
    return 0;
}

static int load_inproc(struct hermes__module *m, const void *buf, size_t len)
{
    struct inproc *ip = m->impl;
    m->errbuf[0] = '\0';
    if (ip->table->state_load(m->state, buf, len) != 0) {
        if (!m->errbuf[0])
            snprintf(m->errbuf, sizeof m->errbuf, "state_load() failed");
        return -1;
    }
    return 0;
}

static void close_inproc(struct hermes__module *m)
{
    struct inproc *ip = m->impl;
    if (!ip)
        return;
    if (ip->inited && ip->table->terminate)
        ip->table->terminate(m->state);
    if (ip->dl)
        dlclose(ip->dl);
    free(ip->names);
    free(ip->slots);
    free(ip);
    m->impl = NULL;
    m->state = NULL;
}

int hermes__inproc_open(struct hermes__module *m, const hermes_config_t *cfg, hermes_backplane_t *bp)
{
    hermes_module_info_t info;
    int rc = hermes_config_module(cfg, m->config_index, &info);
    if (rc)
        return rc;
    struct inproc *ip = calloc(1, sizeof *ip);
    if (!ip)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    m->impl = ip;
    m->terminate = close_inproc;

    ip->table = hermes__config_module_callbacks(cfg, m->config_index);
    if (!ip->table) {
        if (!info.path)
            return hermes__fail(HERMES_EMODULE, "module '%s': inproc module has neither a library nor callbacks",
                                m->name);
        ip->dl = dlopen(info.path, RTLD_NOW | RTLD_LOCAL);
        if (!ip->dl)
            return hermes__fail(HERMES_EMODULE, "module '%s': cannot load library: %s", m->name, dlerror());
        union { void *obj; hermes_inproc_entry_fn fn; } entry;
        entry.obj = dlsym(ip->dl, HERMES_INPROC_ENTRY_SYMBOL);
        if (!entry.obj)
            return hermes__fail(HERMES_EMODULE, "module '%s': library %s does not export %s()", m->name,
                                info.path, HERMES_INPROC_ENTRY_SYMBOL);
        ip->table = entry.fn();
        if (!ip->table)
            return hermes__fail(HERMES_EMODULE, "module '%s': %s() returned NULL", m->name,
                                HERMES_INPROC_ENTRY_SYMBOL);
    }
    if (ip->table->abi_version < HERMES_INPROC_ABI_MIN || ip->table->abi_version > HERMES_INPROC_ABI_VERSION)
        return hermes__fail(HERMES_EABI, "module '%s': %s has inproc ABI version %u, this Hermes (%s) needs %u..%u",
                            m->name, info.path ? info.path : "host table", ip->table->abi_version,
                            hermes_version_string(), HERMES_INPROC_ABI_MIN, HERMES_INPROC_ABI_VERSION);
    if (!ip->table->init || !ip->table->step)
        return hermes__fail(HERMES_EMODULE, "module '%s': callback table lacks init or step", m->name);

    uint32_t n = m->signal_count;
    ip->names = calloc(n ? n : 1, sizeof *ip->names);
    ip->slots = calloc(n ? n : 1, sizeof *ip->slots);
    if (!ip->names || !ip->slots)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    for (uint32_t j = 0; j < n; j++) {
        hermes_signal_info_t si;
        rc = hermes_backplane_info(bp, m->first_signal + j, &si);
        if (rc)
            return rc;
        ip->names[j] = si.local_name;
        ip->slots[j] = hermes_backplane_slot(bp, si.id);
    }
    ip->env.module_name = m->name;
    ip->env.config_path = info.config_path;
    ip->env.signal_count = n;
    ip->env.signal_names = ip->names;
    ip->env.slots = ip->slots;
    ip->env.errbuf = m->errbuf;
    ip->env.errbuf_size = sizeof m->errbuf;
    ip->env.has_seed = hermes_config_seed(cfg, &ip->env.seed) == 0;

    m->errbuf[0] = '\0';
    void *state = NULL;
    if (ip->table->init(&state, &ip->env) != 0)
        return hermes__fail(HERMES_EMODULE, "module '%s': init failed: %s", m->name,
                            m->errbuf[0] ? m->errbuf : "(no message)");
    ip->inited = 1;
    m->state = state;
    m->step = ip->table->step;
    m->stage = call_stage;
    m->reset = call_reset;
    const hermes_inproc_module_t *t = ip->table;
    if (t->abi_version >= 3 && t->state_size && t->state_save && t->state_load) {
        m->state_kind = HERMES__STATE_OPS;
        m->state_save = save_inproc;
        m->state_load = load_inproc;
    }
    return 0;
}
