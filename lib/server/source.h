/* The telemetry-source seam, server side: the signal catalog the server reads
 * once from a hermes_server_source_t (server.h), with sorted-name lookups,
 * and the live backplane source. Private; never installed. */
#ifndef HERMES_LIB_SERVER_SOURCE_H
#define HERMES_LIB_SERVER_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "hermes/server.h"
#include "common/patterns.h"

/* Everything the protocols need to know about the signals, read once at
 * create (the signal set never changes afterwards). */
struct hermes__catalog {
    uint32_t              n;
    hermes_signal_info_t *info;       /* [n]; strings borrowed from the source */
    struct hermes__sorted_name *by_name;  /* [n] sorted by qualified name */
    const char          **driven_by;  /* [n] source of the wire driving it, or NULL */
    uint32_t              nmodules;
    const char          **modules;    /* schema order; borrowed */
};

int  hermes__catalog_load(struct hermes__catalog *cat, const hermes_server_source_t *src);
void hermes__catalog_free(struct hermes__catalog *cat);
/* Index of qualified @p name, or -1. O(log n). */
int64_t hermes__catalog_find(const struct hermes__catalog *cat, const char *name);
/* Expand subscription patterns ("*", "prefix.*", "module.signal") in order,
 * each signal once at its first position. A "*" that matches nothing (an
 * empty run) is not an error. *out is malloc'd (count entries, may be 0).
 * @return 0; HERMES_EINVAL (empty or unsupported pattern); HERMES_ENOENT
 * (unknown name or a "prefix.*" matching nothing); HERMES_ENOMEM; message
 * via hermes__fail(). */
int hermes__catalog_resolve(const struct hermes__catalog *cat, const char *const *patterns, size_t npatterns,
                            uint32_t **out, uint32_t *count);

/* The live source over @p bp (+ optional @p sim_config for wires and
 * execution). @p ctx_mem must outlive the server: the table points at it. */
struct hermes__live_source {
    hermes_backplane_t    *bp;
    const hermes_config_t *sim_config;
};
void hermes__live_source(struct hermes__live_source *ctx_mem, hermes_backplane_t *bp, const hermes_config_t *sim_config,
                         hermes_server_source_t *out);

#endif
