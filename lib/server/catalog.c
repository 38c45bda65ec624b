/* The signal catalog: a telemetry source's signals read once, with name lookup
 * and subscription patterns resolved through a sorted index (no scan per name). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/source.h"
#include "common/util.h"

int64_t hermes__catalog_find(const struct hermes__catalog *cat, const char *name)
{
    return hermes__sorted_names_find(cat->by_name, cat->n, name);
}

static int load_modules(struct hermes__catalog *cat, const hermes_server_source_t *src)
{
    uint32_t nm = src->module_count && src->module_name ? src->module_count(src->ctx) : 0;
    cat->modules = calloc((size_t)nm + cat->n + 1, sizeof *cat->modules);
    json_t *seen = json_object();  /* a hashed set of names, so this stays linear */
    if (!cat->modules || !seen) {
        json_decref(seen);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (uint32_t k = 0; k < nm + cat->n && rc == 0; k++) {
        /* the source's list first, then modules of signals in order of first appearance */
        const char *m = k < nm ? src->module_name(src->ctx, k) : cat->info[k - nm].module;
        if (!m || json_object_get(seen, m))
            continue;
        if (json_object_set_new(seen, m, json_true()) != 0)
            rc = hermes__fail(HERMES_ENOMEM, "out of memory");
        else
            cat->modules[cat->nmodules++] = m;
    }
    json_decref(seen);
    return rc;
}

static int load_wires(struct hermes__catalog *cat, const hermes_server_source_t *src)
{
    uint32_t nw = src->wire_count && src->wire ? src->wire_count(src->ctx) : 0;
    for (uint32_t i = 0; i < nw; i++) {
        hermes_wire_info_t w;
        if (src->wire(src->ctx, i, &w) != 0 || !w.dst || !w.src)
            continue;
        int64_t k = hermes__catalog_find(cat, w.dst);
        if (k >= 0)
            cat->driven_by[k] = w.src;
    }
    return 0;
}

int hermes__catalog_load(struct hermes__catalog *cat, const hermes_server_source_t *src)
{
    memset(cat, 0, sizeof *cat);
    uint32_t n = src->signal_count(src->ctx);
    cat->info = calloc(n ? n : 1, sizeof *cat->info);
    cat->by_name = calloc(n ? n : 1, sizeof *cat->by_name);
    cat->driven_by = calloc(n ? n : 1, sizeof *cat->driven_by);
    if (!cat->info || !cat->by_name || !cat->driven_by) {
        hermes__catalog_free(cat);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    for (uint32_t k = 0; k < n; k++) {
        int rc = src->signal_info(src->ctx, k, &cat->info[k]);
        if (rc) {
            hermes__catalog_free(cat);
            return rc;
        }
        hermes_signal_info_t *in = &cat->info[k];
        if (!in->name || !in->module || !in->local_name) {
            hermes__catalog_free(cat);
            return hermes__fail(HERMES_EINVAL, "telemetry source: signal %u has no name or module", k);
        }
        if (!in->unit)
            in->unit = "";
        cat->by_name[k] = (struct hermes__sorted_name){in->name, k};
    }
    cat->n = n;
    hermes__sorted_names_sort(cat->by_name, n);
    int rc = load_modules(cat, src);
    if (rc == 0)
        rc = load_wires(cat, src);
    if (rc)
        hermes__catalog_free(cat);
    return rc;
}

void hermes__catalog_free(struct hermes__catalog *cat)
{
    free(cat->info);
    free(cat->by_name);
    free(cat->driven_by);
    free(cat->modules);
    memset(cat, 0, sizeof *cat);
}

int hermes__catalog_resolve(const struct hermes__catalog *cat, const char *const *patterns, size_t npatterns,
                            uint32_t **out, uint32_t *count)
{
    const struct hermes__pattern_view v = {cat->n, cat->by_name, NULL, NULL, NULL, NULL};
    return hermes__patterns_resolve(&v, patterns, npatterns, 0, out, count);
}
