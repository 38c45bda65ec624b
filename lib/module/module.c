/* Module side of process modules: runs inside the module's process. The
 * orchestrator side is lib/scheduler/drivers/process.c; the wire format is the control block in
 * backplane/layout.h and the wake-up primitive is process_wake.h. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backplane/layout.h"
#include "hermes/module.h"
#include "module/protocol.h"
#include "scheduler/drivers/process_wake.h"
#include "common/util.h"

/* How often a waiting module checks that its orchestrator still exists. The
 * orchestrator's children also get PR_SET_PDEATHSIG; this covers modules
 * started through a wrapper that is not a direct child. */
#define ORPHAN_CHECK_NS 250000000u

struct hermes_module {
    hermes_backplane_t     *bp;
    struct hermes_shm_ctrl *ctrl;
    uint32_t                seen;     /* go.seq of the current command */
    bool                    pending;  /* current command not answered yet */
    pid_t                   orch;
    char                    name[HERMES_MAX_MODULE_NAME + 1];
    char                   *config_path;
    bool                    has_seed;  /* HERMES_SEED was set at open */
    uint64_t                seed;
    bool                    hello_done;  /* the start-up handshake is answered */
    bool                    has_state;
    hermes_module_state_t   state;
};

static void answer(hermes_module_t *m, int status, const char *msg)
{
    struct hermes_shm_ctrl *c = m->ctrl;
    c->status = status;
    if (status != 0 || msg)   /* the orchestrator reads msg only for failures: keep it off the hot path */
        hermes__strlcpy(c->msg, msg ? msg : "", sizeof c->msg);
    m->pending = false;
    m->hello_done = true;
    hermes__wake_post(&c->done, m->seen);
}

HERMES_API int hermes_module_set_state(hermes_module_t *m, const hermes_module_state_t *ops)
{
    if (!m || !ops || !ops->size || !ops->save || !ops->load)
        return hermes__fail(HERMES_EINVAL, "hermes_module_set_state: NULL handle, table or callback");
    if (m->hello_done)
        return hermes__fail(HERMES_ESTATE, "module '%s': hermes_module_set_state must come before the first "
                                           "hermes_module_wait (Hermes learns it at the start-up handshake)", m->name);
    m->state = *ops;
    m->has_state = true;
    m->ctrl->mod_flags |= HERMES__MOD_STATE;
    return 0;
}

static int said(char *msg, size_t cap, int code, const char *fmt, ...) HERMES_PRINTF(4, 5);
static int said(char *msg, size_t cap, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return code;
}

static int state_file(hermes_module_t *m, char *path, size_t cap)
{
    int n = hermes__state_path(path, cap, hermes_backplane_name(m->bp), m->name);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* SAVE: the module's state into its state file. 0 or an error (msg set). */
static int state_save(hermes_module_t *m, char *msg, size_t cap)
{
    char path[PATH_MAX];
    size_t n = m->state.size(m->state.ctx);
    void *buf = malloc(n ? n : 1);
    int rc = 0;
    if (!buf)
        rc = said(msg, cap, HERMES_ENOMEM, "out of memory for %zu bytes of state", n);
    else if (m->state.save(m->state.ctx, buf, n) != 0)
        rc = said(msg, cap, HERMES_EMODULE, "its state save callback failed");
    else if (state_file(m, path, sizeof path) != 0)
        rc = said(msg, cap, HERMES_EINVAL, "state file name too long");
    else {
        FILE *f = fopen(path, "wbe");
        if (!f || fwrite(buf, 1, n, f) != n || fflush(f) != 0)
            rc = said(msg, cap, HERMES_ESYS, "cannot write its state to %s: %s", path, strerror(errno));
        if (f && fclose(f) != 0 && !rc)
            rc = said(msg, cap, HERMES_ESYS, "cannot write its state to %s: %s", path, strerror(errno));
    }
    free(buf);
    return rc;
}

/* LOAD: the state file into the module. 0 or an error (msg set). */
static int state_load(hermes_module_t *m, char *msg, size_t cap)
{
    char path[PATH_MAX];
    if (state_file(m, path, sizeof path) != 0)
        return said(msg, cap, HERMES_EINVAL, "state file name too long");
    unsigned char *buf = NULL;
    size_t n = 0;
    int rc = hermes__read_file(path, SIZE_MAX, &buf, &n);
    if (rc == HERMES_ENOMEM)
        rc = said(msg, cap, HERMES_ENOMEM, "out of memory reading its state");
    else if (rc)
        rc = said(msg, cap, HERMES_ESYS, "cannot read its state file %s: %s", path, strerror(errno));
    else if (m->state.load(m->state.ctx, buf, n) != 0)
        rc = said(msg, cap, HERMES_EMODULE, "its state load callback refused the checkpoint's state (%zu bytes)", n);
    free(buf);
    return rc;
}

int hermes__module_attach_protocol(hermes_module_t **out, const char *run_name, const char *module_name,
                                   uint32_t protocol)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_module_attach: out is NULL");
    *out = NULL;
    if (!run_name || !module_name)
        return hermes__fail(HERMES_EINVAL, "hermes_module_attach: run or module name is NULL");
    hermes_module_t *m = calloc(1, sizeof *m);
    if (!m)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    int rc = hermes_backplane_open(&m->bp, run_name);
    if (rc) {
        free(m);
        return rc;  /* message already set */
    }
    uint32_t n = hermes_backplane_module_count(m->bp);
    for (uint32_t i = 0; i < n && !m->ctrl; i++)
        if (strcmp(hermes_backplane_module_name(m->bp, i), module_name) == 0)
            m->ctrl = hermes__bp_ctrl(m->bp, i);
    if (!m->ctrl) {
        rc = hermes__fail(HERMES_ENOENT, "backplane '%s' has no module '%s'", run_name, module_name);
        goto fail;
    }
    hermes__strlcpy(m->name, module_name, sizeof m->name);
    struct hermes_shm_ctrl *c = m->ctrl;
    m->seen = atomic_load_explicit(&c->go.seq, memory_order_acquire);
    if (m->seen != 1 || c->cmd != HERMES__CMD_HELLO ||
        (atomic_load_explicit(&c->done.seq, memory_order_acquire) & HERMES__WAKE_SEQ) != 0) {
        rc = hermes__fail(HERMES_ESTATE, "module '%s' is not waiting for a start-up handshake "
                                         "(already attached, or not started by hermes)", module_name);
        goto fail;
    }
    m->orch = (pid_t)c->orch_pid;
    c->mod_pid = (int32_t)getpid();
    c->mod_protocol = protocol;
    m->pending = true;
    if (c->protocol != protocol) {
        char msg[200];
        snprintf(msg, sizeof msg, "module speaks process protocol %u, the orchestrator speaks %u", protocol,
                 c->protocol);
        answer(m, HERMES_EABI, msg);
        rc = hermes__fail(HERMES_EABI, "module '%s': %s", module_name, msg);
        goto fail;
    }
    *out = m;
    return 0;
fail:
    hermes_backplane_destroy(m->bp);
    free(m);
    return rc;
}

HERMES_API int hermes_module_attach(hermes_module_t **out, const char *run_name, const char *module_name)
{
    return hermes__module_attach_protocol(out, run_name, module_name, HERMES_MODULE_PROTOCOL);
}

HERMES_API int hermes_module_open(hermes_module_t **out)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_module_open: out is NULL");
    *out = NULL;
    const char *run = getenv(HERMES_ENV_BACKPLANE);
    const char *name = getenv(HERMES_ENV_MODULE);
    if (!run || !*run || !name || !*name)
        return hermes__fail(HERMES_EINVAL, "%s and %s are not set: process modules are started by hermes",
                            HERMES_ENV_BACKPLANE, HERMES_ENV_MODULE);
    const char *cfg = getenv(HERMES_ENV_MODULE_CONFIG);
    char *cfg_copy = NULL;
    if (cfg && *cfg && !(cfg_copy = hermes__strdup(cfg)))
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    int rc = hermes_module_attach(out, run, name);
    if (rc) {
        free(cfg_copy);
        return rc;
    }
    (*out)->config_path = cfg_copy;
    const char *seed = getenv(HERMES_ENV_SEED);
    char *end = NULL;
    if (seed && *seed >= '0' && *seed <= '9') {
        errno = 0;
        unsigned long long v = strtoull(seed, &end, 10);
        if (!*end && errno == 0) {
            (*out)->seed = v;
            (*out)->has_seed = true;
        }
    }
    return 0;
}

HERMES_API int hermes_module_seed(const hermes_module_t *m, uint64_t *out)
{
    if (!m || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_module_seed: NULL argument");
    if (!m->has_seed)
        return hermes__fail(HERMES_ENOENT, "no seed: the run was started without one (%s unset)", HERMES_ENV_SEED);
    *out = m->seed;
    return 0;
}

HERMES_API void hermes_module_close(hermes_module_t *m)
{
    if (!m)
        return;
    if (m->pending)
        answer(m, 0, NULL);
    hermes_backplane_destroy(m->bp);
    free(m->config_path);
    free(m);
}

HERMES_API const char *hermes_module_name(const hermes_module_t *m) { return m ? m->name : NULL; }
HERMES_API const char *hermes_module_config_path(const hermes_module_t *m) { return m ? m->config_path : NULL; }
HERMES_API hermes_backplane_t *hermes_module_backplane(hermes_module_t *m) { return m ? m->bp : NULL; }

HERMES_API double *hermes_module_slot(hermes_module_t *m, const char *name)
{
    if (!m || !name)
        return NULL;
    char q[HERMES_MAX_NAME + 2];
    hermes_signal_t id;
    int n = snprintf(q, sizeof q, "%s.%s", m->name, name);
    if (n > 0 && (size_t)n < sizeof q && hermes_backplane_find(m->bp, q, &id) == 0)
        return hermes_backplane_slot(m->bp, id);
    if (hermes_backplane_find(m->bp, name, &id) == 0)
        return hermes_backplane_slot(m->bp, id);
    return NULL;
}

HERMES_API int hermes_module_wait(hermes_module_t *m, uint64_t *frame, double *dt)
{
    if (!m || !frame || !dt)
        return hermes__fail(HERMES_EINVAL, "hermes_module_wait: NULL argument");
    if (m->pending)
        answer(m, 0, NULL);
    struct hermes_shm_ctrl *c = m->ctrl;
    for (;;) {
        uint32_t v = hermes__wake_wait(&c->go, m->seen, hermes__now_ns() + ORPHAN_CHECK_NS);
        if (v == m->seen) {
            if (m->orch > 0 && kill(m->orch, 0) != 0 && errno == ESRCH)
                return hermes__fail(HERMES_ESTOPPED, "module '%s': the orchestrator (pid %d) is gone", m->name,
                                    (int)m->orch);
            continue;
        }
        m->seen = v;
        m->pending = true;
        if (c->cmd != HERMES__CMD_SAVE && c->cmd != HERMES__CMD_LOAD)
            break;
        /* Checkpoints: handled here, never seen by the module's loop. */
        char msg[sizeof c->msg];
        int rc = !m->has_state ? said(msg, sizeof msg, HERMES_ENOTSUP, "module has no state support")
                 : c->cmd == HERMES__CMD_SAVE ? state_save(m, msg, sizeof msg)
                                              : state_load(m, msg, sizeof msg);
        answer(m, rc, rc ? msg : NULL);
    }
    *frame = c->frame;
    *dt = c->dt;
    return (int)c->cmd;
}

HERMES_API int hermes_module_finish(hermes_module_t *m, const char *msg)
{
    if (!m)
        return hermes__fail(HERMES_EINVAL, "hermes_module_finish: module is NULL");
    if (!m->pending || m->ctrl->cmd != HERMES_CMD_STEP)
        return hermes__fail(HERMES_ESTATE, "module '%s': hermes_module_finish answers a step, and no step is "
                                           "waiting for an answer", m->name);
    answer(m, HERMES__STATUS_FINISH, msg ? msg : "");
    return 0;
}

HERMES_API int hermes_module_done(hermes_module_t *m, int status, const char *msg)
{
    if (!m)
        return hermes__fail(HERMES_EINVAL, "hermes_module_done: module is NULL");
    if (!m->pending)
        return hermes__fail(HERMES_ESTATE, "module '%s': no command to answer", m->name);
    answer(m, status, msg);
    return 0;
}
