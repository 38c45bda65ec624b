/* `hermes export --mcap`: an HDF5 recording rewritten as an MCAP file
 * (mcap_run.h), its rows read in blocks, its events and journal entries
 * merged in by tick. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recording/mcap_run.h"
#include "common/util.h"

enum { BLOCK_VALUES = 1 << 20 };

/* Signal infos of the exported columns (strings point into @p names). */
static int column_infos(const hermes_recording_t *rec, const uint32_t *cols, uint32_t nc, hermes_signal_info_t **out,
                        char **names)
{
    hermes_signal_info_t *info = calloc(nc ? nc : 1, sizeof *info);
    char *buf = malloc((size_t)(nc ? nc : 1) * (REC_NAME_LEN + 1));
    if (!info || !buf) {
        free(info);
        free(buf);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    for (uint32_t c = 0; c < nc; c++) {
        const hermes_recording_signal_t *v = &rec->views[cols[c]];
        char *mod = buf + (size_t)c * (REC_NAME_LEN + 1);
        hermes__strlcpy(mod, v->name, REC_NAME_LEN + 1);
        char *dot = strchr(mod, '.');
        const char *local = dot ? dot + 1 : "";
        if (dot)
            *dot = '\0';
        info[c] = (hermes_signal_info_t){.name = v->name, .module = mod, .local_name = local, .unit = v->unit,
                                         .type = v->type, .writable = v->writable, .initial = v->initial};
        info[c].id.index = c;
    }
    *out = info;
    *names = buf;
    return 0;
}

struct merged {
    struct rec_event_row *ev;
    uint64_t              nev, iev;
    uint64_t              ijr;
};

/* Events and journal entries recorded before the frame of tick @p tick. */
static int before(hermes__mcap_run_t *m, const hermes_recording_t *rec, struct merged *g, uint64_t tick)
{
    int rc = 0;
    while (rc == 0 && g->iev < g->nev && g->ev[g->iev].tick < tick)
        rc = hermes__mcap_run_event(m, &g->ev[g->iev++]);
    while (rc == 0 && g->ijr < rec->njournal && rec->journal[g->ijr].tick < tick)
        rc = hermes__mcap_run_journal(m, &rec->journal[g->ijr++]);
    return rc;
}

static int read_ticks(const hermes_recording_t *rec, uint64_t first, uint64_t n, uint64_t *ticks)
{
    hid_t d = H5Dopen2(rec->file, REC_TICK, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t fs = H5Dget_space(d);
    hsize_t start = first, count = n;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
    hid_t ms = H5Screate_simple(1, &count, NULL);
    herr_t rc = H5Dread(d, H5T_NATIVE_UINT64, ms, fs, H5P_DEFAULT, ticks);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    return rc < 0 ? -1 : 0;
}

static int write_rows(hermes_recording_t *rec, hermes__mcap_run_t *m, const uint32_t *cols, uint32_t nc,
                      struct merged *g)
{
    uint64_t block = BLOCK_VALUES / (rec->n ? rec->n : 1);
    block = block < 1 ? 1 : block > 4096 ? 4096 : block;
    double *vals = malloc(block * (rec->n ? rec->n : 1) * sizeof *vals);
    double *sel = malloc((nc ? nc : 1) * sizeof *sel);
    uint64_t *frames = malloc(block * sizeof *frames), *ticks = malloc(block * sizeof *ticks);
    int rc = vals && sel && frames && ticks ? 0 : hermes__fail(HERMES_ENOMEM, "out of memory");
    for (uint64_t r0 = 0; rc == 0 && r0 < rec->rows; r0 += block) {
        uint64_t cnt = rec->rows - r0 < block ? rec->rows - r0 : block;
        if ((rc = hermes_recording_read(rec, r0, cnt, vals, frames, NULL)) != 0)
            break;
        if (read_ticks(rec, r0, cnt, ticks) != 0) {
            rc = hermes__fail(HERMES_ESYS, "cannot read the tick series of '%s'", rec->path);
            break;
        }
        for (uint64_t i = 0; i < cnt && rc == 0; i++) {
            for (uint32_t c = 0; c < nc; c++)
                sel[c] = vals[i * rec->n + cols[c]];
            rc = before(m, rec, g, ticks[i]);
            if (rc == 0)
                rc = hermes__mcap_run_frame(m, frames[i], hermes__mcap_frame_ns(frames[i], rec->rate_hz), sel);
        }
    }
    if (rc == 0)
        rc = before(m, rec, g, UINT64_MAX);
    free(vals);
    free(sel);
    free(frames);
    free(ticks);
    return rc;
}

/* A string attribute copied (the reader's buffer is reused by the next call). */
static char *attr(hermes_recording_t *rec, const char *name)
{
    const char *v = hermes_recording_attr(rec, name);
    return v ? hermes__strdup(v) : NULL;
}

static int read_tables(hermes_recording_t *rec, struct merged *g, struct rec_rate_row **rates, uint64_t *nrates)
{
    hid_t t = hermes__rec_event_type();
    int rc = H5Lexists(rec->file, REC_EVENTS, H5P_DEFAULT) > 0
                 ? hermes__rec_read_table(rec->file, REC_EVENTS, t, sizeof *g->ev, (void **)&g->ev, &g->nev)
                 : 0;
    H5Tclose(t);
    t = hermes__rec_rate_type();
    if (rc == 0 && H5Lexists(rec->file, REC_MODULE_RATES, H5P_DEFAULT) > 0)
        rc = hermes__rec_read_table(rec->file, REC_MODULE_RATES, t, sizeof **rates, (void **)rates, nrates);
    H5Tclose(t);
    for (uint64_t i = 0; rc == 0 && i < *nrates; i++)
        (*rates)[i].name[REC_MODNAME_LEN - 1] = '\0';
    return rc ? hermes__fail(HERMES_ESYS, "cannot read the events or module_rates table of '%s'", rec->path) : 0;
}

HERMES_API int hermes_recording_export_mcap(hermes_recording_t *rec, const char *mcap_path,
                                            const char *const *patterns, uint32_t pattern_count,
                                            hermes_mcap_compression_t compression)
{
    if (!rec || !mcap_path)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    if (rec->mem)
        return hermes__fail(HERMES_EINVAL, "'%s' is already an MCAP file", rec->path);
    if (!hermes_mcap_compression_supported(compression))
        return hermes__fail(HERMES_ESTATE, "MCAP compression %d is not built in", (int)compression);
    hermes__h5_quiet();
    uint32_t *cols = NULL, nc = 0;
    int rc = hermes__rec_export_columns(rec, patterns, pattern_count, &cols, &nc);
    if (rc)
        return rc;
    hermes_signal_info_t *info = NULL;
    char *names = NULL;
    struct merged g = {0};
    struct rec_rate_row *rates = NULL;
    uint64_t nrates = 0;
    hermes__mcap_run_t *m = NULL;
    rc = column_infos(rec, cols, nc, &info, &names);
    if (rc == 0)
        rc = read_tables(rec, &g, &rates, &nrates);
    char *run_id = attr(rec, "run_id"), *version = attr(rec, "hermes_version"), *mode = attr(rec, "mode");
    char *start = attr(rec, "start_time_utc"), *config = attr(rec, "config"), *cpath = attr(rec, "config_path");
    char *seed = attr(rec, "seed"), *reason = attr(rec, "end_reason"), *end_utc = attr(rec, "end_time_utc");
    double every = 1;
    hermes_recording_attr_number(rec, "every", &every);
    size_t slen = strlen(rec->path) + 32;
    char *source = malloc(slen);
    if (source)
        snprintf(source, slen, "hermes export %s", rec->path);
    hermes__mcap_run_meta_t meta = {
        .run_id = run_id, .hermes_version = version, .mode = mode, .start_time_utc = start, .source = source,
        .config_text = config && config[0] ? config : NULL, .config_path = cpath, .rate_hz = rec->rate_hz,
        .every = (uint32_t)every, .has_seed = seed && seed[0], .seed = seed ? strtoull(seed, NULL, 10) : 0,
        .rates = rates, .nrates = (uint32_t)nrates};
    if (rc == 0)
        rc = hermes__mcap_run_open(&m, mcap_path, compression, info, nc, &meta);
    if (rc == 0)
        rc = write_rows(rec, m, cols, nc, &g);
    if (rc == 0) {
        char frames[24];
        snprintf(frames, sizeof frames, "%llu", (unsigned long long)rec->rows);
        const hermes__mcap_kv_t end[] = {{"end_reason", reason ? reason : ""},
                                         {"end_time_utc", end_utc ? end_utc : ""},
                                         {"frames", frames},
                                         {"complete", rec->complete ? "yes" : "no"}};
        rc = hermes__mcap_run_close(m, end, sizeof end / sizeof *end);
        m = NULL;
    }
    hermes__error_saved_t e;
    hermes__error_save(&e);
    hermes__mcap_run_abort(m);
    free(run_id), free(version), free(mode), free(start), free(config), free(cpath), free(seed), free(reason);
    free(end_utc), free(source), free(rates), free(g.ev), free(info), free(names), free(cols);
    return rc ? hermes__error_restore(rc, &e) : 0;
}
