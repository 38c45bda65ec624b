/* hermes-fmu-host: the child process of an FMU module with `isolate: true`
 * (docs/fmu.md). A process module like any other (hermes/module.h) that
 * opens the FMU in an unpacked folder and steps it with the library's own
 * FMU code, so a crash inside the FMU kills only this process and the run
 * reports it as the module's failure. Unlike the hermes command it links the
 * library's static core: it is a part of the library that runs out of
 * process, started by lib/scheduler/drivers/fmu.c, not a user host.
 *
 * usage: hermes-fmu-host DIR [--start=T] [--locals] [--stop=T]   (started by Hermes only) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hermes/hermes.h"
#include "fmu/fmu.h"

struct host {
    hermes_module_t          *m;
    struct hermes__fmu_model  md;
    struct hermes__fmu_inst  *fi;
    double                  **slots;
    double                    base_hz;
    void                     *saved;      /* the FMU state serialized by size(), handed out by save() */
    size_t                    saved_len;
};

/* Checkpoints (FMUs that declare the FMU state capability): size() takes the
 * FMU's state, save() hands over those bytes, load() sets a saved state. */
static size_t state_size(void *ctx)
{
    struct host *h = ctx;
    char err[256];
    free(h->saved);
    h->saved = NULL;
    h->saved_len = 0;
    if (hermes__fmu_state_save(h->fi, &h->saved, &h->saved_len, err, sizeof err) != 0) {
        fprintf(stderr, "level=error component=fmu module=%s msg=\"state save: %s\"\n", hermes_module_name(h->m), err);
        return 0;
    }
    return h->saved_len;
}

static int state_save(void *ctx, void *buf, size_t size)
{
    struct host *h = ctx;
    if (!h->saved || size != h->saved_len)
        return -1;
    memcpy(buf, h->saved, size);
    free(h->saved);
    h->saved = NULL;
    return 0;
}

static int state_load(void *ctx, const void *buf, size_t size)
{
    struct host *h = ctx;
    char err[256];
    if (hermes__fmu_state_load(h->fi, buf, size, err, sizeof err) != 0) {
        fprintf(stderr, "level=error component=fmu module=%s msg=\"state load: %s\"\n", hermes_module_name(h->m), err);
        return -1;
    }
    return 0;
}

/* Log lines on stderr, which the orchestrator passes on (the FMU's logger). */
static void on_log(void *ctx, hermes_log_level_t level, const char *component, const char *msg)
{
    const char *name = ctx;
    static const char *const lv[] = {"none", "error", "warn", "info", "debug"};
    fprintf(stderr, "level=%s component=%s module=%s pid=%ld msg=\"%s\"\n",
            (unsigned)level < 5 ? lv[level] : "?", component, name, (long)getpid(), msg);
}

static int fail_start(struct host *h, const char *what)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s", what);
    hermes_module_done(h->m, 1, msg);
    return 1;
}

/* Read the model, find the module's slots, open (instantiate) the FMU; it is initialised at STAGE. */
static int open_fmu(struct host *h, const char *dir, bool locals, double start, bool has_stop, double stop)
{
    char *xml = NULL;
    size_t len = 0;
    if (hermes__fmu_read_description(dir, &xml, &len) != 0 ||
        hermes__fmu_model_parse(xml, len, dir, locals, &h->md) != 0) {
        free(xml);
        return fail_start(h, hermes_last_error());
    }
    free(xml);
    uint32_t n = h->md.nvar;
    h->slots = calloc(n ? n : 1, sizeof *h->slots);
    if (!h->slots)
        return fail_start(h, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        if (!(h->slots[i] = hermes_module_slot(h->m, h->md.var[i].name))) {
            char msg[200];
            snprintf(msg, sizeof msg, "the backplane has no signal '%s' for the FMU", h->md.var[i].name);
            return fail_start(h, msg);
        }
    }
    const char *rate = getenv(HERMES_ENV_BASE_RATE);
    h->base_hz = rate ? strtod(rate, NULL) : 0.0;
    if (!(h->base_hz > 0))
        return fail_start(h, "HERMES_BASE_RATE_HZ is missing");
    if (hermes__fmu_open(&h->fi, &h->md, dir, hermes_module_name(h->m), start, has_stop, stop) != 0)
        return fail_start(h, hermes_last_error());
    return 0;
}

/* Answer commands until TERMINATE or the orchestrator is gone. */
static int serve(struct host *h)
{
    char err[256];
    for (;;) {
        uint64_t frame = 0;
        double dt = 0;
        int cmd = hermes_module_wait(h->m, &frame, &dt);
        int rc = 0;
        err[0] = '\0';
        switch (cmd) {
        case HERMES_CMD_STAGE:
            rc = hermes__fmu_stage(h->fi, h->slots, err, sizeof err);  /* initial values, wired inputs applied */
            break;
        case HERMES_CMD_STEP:
            rc = hermes__fmu_step(h->fi, (double)frame / h->base_hz, dt, h->slots, err, sizeof err);
            if (rc > 0)  /* the FMU asked to terminate: this step succeeded, the run ends after it */
                rc = hermes_module_finish(h->m, err) != 0;
            break;
        case HERMES_CMD_RESET:
            rc = hermes__fmu_reset(h->fi, err, sizeof err);
            break;
        case HERMES_CMD_TERMINATE:
            hermes_module_done(h->m, 0, NULL);
            return 0;
        default:
            return cmd == HERMES_ESTOPPED ? 0 : 1;
        }
        if (rc)
            hermes_module_done(h->m, 1, err);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fputs("usage: hermes-fmu-host DIR [--start=T] [--locals] [--stop=T]\n"
              "The child process of an FMU module with isolate: true; Hermes starts it.\n", stderr);
        return 2;
    }
    bool locals = false, has_stop = false;
    double stop = 0, start = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--locals") == 0) {
            locals = true;
        } else if (strncmp(argv[i], "--start=", 8) == 0) {
            start = strtod(argv[i] + 8, NULL);
        } else if (strncmp(argv[i], "--stop=", 7) == 0) {
            has_stop = true;
            stop = strtod(argv[i] + 7, NULL);
        } else {
            fprintf(stderr, "hermes-fmu-host: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    struct host h;
    memset(&h, 0, sizeof h);
    if (hermes_module_open(&h.m) != 0) {
        fprintf(stderr, "hermes-fmu-host: %s\n", hermes_last_error());
        return 2;
    }
    hermes_log_set(on_log, (void *)hermes_module_name(h.m), HERMES_LOG_INFO);
    int rc = open_fmu(&h, argv[1], locals, start, has_stop, stop);
    hermes_module_state_t ops = {state_size, state_save, state_load, &h};
    if (!rc && h.md.can_state && hermes_module_set_state(h.m, &ops) != 0)
        rc = fail_start(&h, hermes_last_error());
    if (!rc)
        rc = serve(&h);
    free(h.saved);
    hermes__fmu_close(h.fi);
    hermes__fmu_model_free(&h.md);
    free(h.slots);
    hermes_log_set(NULL, NULL, HERMES_LOG_INFO);
    hermes_module_close(h.m);
    return rc;
}
