/* One FMU instance over the FMI 2.0 and 3.0 bindings (fmi2.c, fmi3.c):
 * find and dlopen the platform binary (a missing one lists the platforms the
 * FMU has), bind, instantiate, initialise, step, reset, close; the shared
 * dlsym table and the logger's log line. */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fmu/fmu.h"
#include "common/util.h"

struct hermes__fmu_inst {
    const struct hermes__fmu_ops *ops;
    struct hermes__fmu_common    *c;  /* the binding's instance (ops->size bytes) */
};

/* The error for a missing platform binary, listing the platforms there are. */
static int no_binary(const char *dir, const char *log_name, const char *platform, const char *id)
{
    char have[256] = "";
    char *bin = hermes__asprintf("%s/binaries", dir);
    DIR *d = bin ? opendir(bin) : NULL;
    struct dirent *e;
    size_t n = 0;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int w = snprintf(have + n, sizeof have - n, "%s%s", n ? ", " : "", e->d_name);
        if (w < 0 || (size_t)w >= sizeof have - n)
            break;
        n += (size_t)w;
    }
    if (d)
        closedir(d);
    free(bin);
    return hermes__fail(HERMES_EMODULE, "module '%s': the FMU has no binary for this platform "
                        "(binaries/%s/%s.so); it has: %s", log_name, platform, id, n ? have : "none");
}

/* The variables written before each step and read after it. */
static int plan(struct hermes__fmu_common *c)
{
    const struct hermes__fmu_model *md = c->md;
    c->in = calloc(md->nvar ? md->nvar : 1, sizeof *c->in);
    c->out = calloc(md->nvar ? md->nvar : 1, sizeof *c->out);
    c->last_in = calloc(md->nvar ? md->nvar : 1, sizeof *c->last_in);
    c->values = calloc(md->nvar ? md->nvar : 1, sizeof *c->values);
    if (!c->in || !c->out || !c->last_in || !c->values)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < md->nvar; i++) {
        const struct hermes__fmu_var *x = &md->var[i];
        if (x->causality == FMU_INPUT || (x->causality == FMU_PARAMETER && !x->fixed))
            c->in[c->nin++] = i;
        else if (x->causality == FMU_OUTPUT || x->causality == FMU_LOCAL)
            c->out[c->nout++] = i;
    }
    /* The batches: vr and var hold the outputs kind after kind. */
    uint32_t nout = c->nout ? c->nout : 1;
    c->outb = calloc(FMU_KIND_COUNT, sizeof *c->outb);
    uint32_t *vr = calloc(nout, sizeof *vr), *var = calloc(nout, sizeof *var);
    c->scratch = calloc(nout, sizeof(uint64_t));
    if (!c->outb || !vr || !var || !c->scratch) {
        free(vr);
        free(var);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    uint32_t used = 0;
    for (int kind = 0; kind < FMU_KIND_COUNT; kind++) {
        struct hermes__fmu_batch *b = &c->outb[c->noutb];
        *b = (struct hermes__fmu_batch){(enum hermes__fmu_kind)kind, 0, vr + used, var + used};
        for (uint32_t k = 0; k < c->nout; k++)
            if (md->var[c->out[k]].kind == (enum hermes__fmu_kind)kind) {
                b->vr[b->n] = md->var[c->out[k]].vr;
                b->var[b->n++] = c->out[k];
            }
        used += b->n;
        c->noutb += b->n > 0;
    }
    return 0;   /* outb[0].vr and .var are the arrays' starts (close frees them) */
}

static int load(struct hermes__fmu_inst *fi, const char *dir)
{
    struct hermes__fmu_common *c = fi->c;
    char real[PATH_MAX];
    if (!realpath(dir, real))
        return hermes__fail(HERMES_EMODULE, "module '%s': %s: cannot resolve the folder", c->name, dir);
    c->so = hermes__asprintf("%s/binaries/%s/%s.so", real, fi->ops->platform, c->md->identifier);
    c->resources = hermes__asprintf("%s/resources", real);
    if (!c->so || !c->resources)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    struct stat st;
    if (stat(c->so, &st) != 0)
        return no_binary(real, c->name, fi->ops->platform, c->md->identifier);
    if (!(c->dl = dlopen(c->so, RTLD_NOW | RTLD_LOCAL)))
        return hermes__fail(HERMES_EMODULE, "module '%s': cannot load %s: %s", c->name, c->so, dlerror());
    int rc = fi->ops->bind(c);
    if (!rc)
        rc = plan(c);
    if (!rc)
        rc = fi->ops->instantiate(c);
    return rc;
}

/* After initialisation with @p values the FMU holds them (or, for a variable
 * without a start left at 0, its own value): a step writes only changes. */
static void initialised(struct hermes__fmu_common *c, const double *values)
{
    for (uint32_t k = 0; k < c->nin; k++)
        c->last_in[k] = values[c->in[k]];
    c->last_valid = true;
}

int hermes__fmu_open(struct hermes__fmu_inst **out, const struct hermes__fmu_model *md, const char *dir,
                     const char *log_name, double start, bool has_stop, double stop)
{
    *out = NULL;
    struct hermes__fmu_inst *fi = calloc(1, sizeof *fi);
    if (!fi)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    fi->ops = md->version == 3 ? &hermes__fmu_fmi3_ops : &hermes__fmu_fmi2_ops;
    fi->c = calloc(1, fi->ops->size);
    if (!fi->c || !(fi->c->name = hermes__strdup(log_name))) {
        free(fi->c);
        free(fi);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    fi->c->md = md;
    fi->c->start = start;
    fi->c->has_stop = has_stop;
    fi->c->stop = stop;
    fi->c->last_valid = false;
    int rc = load(fi, dir);
    if (rc) {
        hermes__fmu_close(fi);
        return rc;
    }
    *out = fi;
    return 0;
}

int hermes__fmu_stage(struct hermes__fmu_inst *fi, double *const *slots, char *err, size_t cap)
{
    struct hermes__fmu_common *c = fi->c;
    if (c->phase == FMU_INSTANTIATED) {  /* since instantiation or the last reset */
        for (uint32_t i = 0; i < c->md->nvar; i++)
            c->values[i] = *slots[i];
        int rc = fi->ops->init(c, c->values, err, cap);
        if (rc)
            return rc;
        initialised(c, c->values);
    }
    int rc = fi->ops->read(fi->c, slots, err, cap);
    if (rc) {
        char tmp[600];
        hermes__strlcpy(tmp, err, sizeof tmp);
        snprintf(err, cap, "after initialisation, %s", tmp);
    }
    return rc;
}

int hermes__fmu_step(struct hermes__fmu_inst *fi, double t, double h, double *const *slots, char *err, size_t cap)
{
    if (fi->c->phase == FMU_INSTANTIATED) {
        snprintf(err, cap, "a step before the FMU was initialised (staged)");
        return -1;
    }
    int rc = fi->ops->step(fi->c, t, h, slots, err, cap);
    fi->c->last_valid = rc >= 0;  /* after a failed set the FMU's values are unknown */
    return rc;
}

int hermes__fmu_reset(struct hermes__fmu_inst *fi, char *err, size_t cap)
{
    fi->c->last_valid = false;  /* the FMU is back to its starts; the stage that follows initialises it */
    return fi->ops->reset(fi->c, err, cap);
}

/* The blob: u32 input count, u32 last_valid, the inputs last written (f64
 * each), then the FMU's serialized state. The inputs go with it so a restored
 * run writes the same inputs before each step as the straight run (an FMU
 * may refuse a value it was never given, such as an enumeration's 0). */
struct blob_head {
    uint32_t nin, last_valid;
};

int hermes__fmu_state_save(struct hermes__fmu_inst *fi, void **buf, size_t *len, char *err, size_t cap)
{
    struct hermes__fmu_common *c = fi->c;
    *buf = NULL;
    *len = 0;
    if (!c->md->can_state) {
        snprintf(err, cap, "the FMU does not declare the FMU state capability");
        return -1;
    }
    void *fmu = NULL;
    size_t n = 0;
    if (fi->ops->state_save(c, &fmu, &n, err, cap) != 0) {
        free(fmu);
        return -1;
    }
    size_t head = sizeof(struct blob_head) + (size_t)c->nin * sizeof(double);
    unsigned char *b = malloc(head + n);
    if (!b) {
        free(fmu);
        snprintf(err, cap, "out of memory");
        return -1;
    }
    struct blob_head h = {c->nin, c->last_valid};
    memcpy(b, &h, sizeof h);
    if (c->nin)
        memcpy(b + sizeof h, c->last_in, (size_t)c->nin * sizeof(double));
    if (n)
        memcpy(b + head, fmu, n);
    free(fmu);
    *buf = b;
    *len = head + n;
    return 0;
}

int hermes__fmu_state_load(struct hermes__fmu_inst *fi, const void *buf, size_t len, char *err, size_t cap)
{
    struct hermes__fmu_common *c = fi->c;
    if (!c->md->can_state) {
        snprintf(err, cap, "the FMU does not declare the FMU state capability");
        return -1;
    }
    struct blob_head h;
    size_t head = sizeof h + (size_t)c->nin * sizeof(double);
    if (len < sizeof h || (memcpy(&h, buf, sizeof h), h.nin != c->nin) || len < head) {
        snprintf(err, cap, "the saved FMU state is not of this FMU (%zu bytes)", len);
        return -1;
    }
    const unsigned char *b = buf;
    c->last_valid = false;   /* unknown until the FMU took the state */
    if (fi->ops->state_load(c, b + head, len - head, err, cap) != 0)
        return -1;
    if (c->nin)
        memcpy(c->last_in, b + sizeof h, (size_t)c->nin * sizeof(double));
    c->last_valid = h.last_valid != 0;
    return 0;
}

void hermes__fmu_close(struct hermes__fmu_inst *fi)
{
    if (!fi)
        return;
    struct hermes__fmu_common *c = fi->c;
    fi->ops->close(c);
    if (c->dl)
        dlclose(c->dl);
    free(c->name);
    free(c->so);
    free(c->resources);
    free(c->in);
    free(c->out);
    if (c->outb) {
        free(c->outb[0].vr);
        free(c->outb[0].var);
    }
    free(c->outb);
    free(c->scratch);
    free(c->last_in);
    free(c->values);
    free(c);
    free(fi);
}
