/* Recording reader: open (SWMR fallback), columns, rows, journal, CSV export, config check, rerun hook. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hermes/recorder.h"
#include "hermes/replay.h"
#include "recording/layout.h"
#include "common/patterns.h"
#include "common/util.h"

static uint64_t extent0(hid_t d)
{
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    return dims[0];
}

static int open_fail(hermes_recording_t *rec, int code, const char *fmt, const char *arg)
{
    char h5[256], m[512];
    hermes__h5_message(h5, sizeof h5);
    snprintf(m, sizeof m, fmt, arg);
    int rc = hermes__fail(code, "recording '%s': %s (HDF5: %s)", rec->path, m, h5);
    hermes_recording_close(rec);
    return rc;
}

HERMES_API int hermes_recording_open(hermes_recording_t **out, const char *path)
{
    if (!out || !path)
        return hermes__fail(HERMES_EINVAL, "hermes_recording_open: NULL argument");
    *out = NULL;
    hermes__h5_quiet();
    if (access(path, R_OK) != 0)
        return hermes__fail(errno == ENOENT ? HERMES_ENOENT : HERMES_ESYS, "recording '%s': %s", path,
                            strerror(errno));
    hermes_recording_t *rec = calloc(1, sizeof *rec);
    if (!rec)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    rec->file = rec->d_data = rec->d_frame = rec->d_time = -1;
    rec->path = hermes__strdup(path);
    if (!rec->path) {
        free(rec);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    if (hermes__mcap_is(path)) {
        int rc = hermes__mcap_load(rec);
        if (rc == 0) {
            *out = rec;
            return 0;
        }
        hermes__error_saved_t e;
        hermes__error_save(&e);
        hermes_recording_close(rec);
        return hermes__error_restore(rc, &e);
    }
    if (H5Fis_hdf5(path) <= 0)
        return open_fail(rec, HERMES_EABI, "%s", "neither an HDF5 nor an MCAP file");
    rec->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (rec->file < 0) {
        /* A killed SWMR writer leaves the consistency flags set: an SWMR read
         * open still works and sees everything up to the last flush. */
        H5Eclear2(H5E_DEFAULT);
        rec->file = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    }
    if (rec->file < 0)
        return open_fail(rec, HERMES_ESYS, "%s", "cannot open");
    const char *fmt = hermes_recording_attr(rec, "format");
    double ver = 0;
    if (!fmt || strcmp(fmt, HERMES_RECORDING_FORMAT) != 0)
        return open_fail(rec, HERMES_EABI, "%s", "not a Hermes recording (no format attribute)");
    if (hermes_recording_attr_number(rec, "format_version", &ver) != 0 || ver > HERMES_RECORDING_FORMAT_VERSION) {
        char v[32];
        snprintf(v, sizeof v, "%g", ver);
        return open_fail(rec, HERMES_EABI, "format version %s is newer than this Hermes reads", v);
    }
    hermes_recording_attr_number(rec, "rate_hz", &rec->rate_hz);
    const char *end = hermes_recording_attr(rec, "end_reason");
    rec->complete = end && strncmp(end, "running", 7) != 0;

    hid_t ts = hermes__rec_signal_type(), tj = hermes__rec_journal_type();
    uint64_t n = 0;
    int rc = hermes__rec_read_table(rec->file, REC_SIGNALS, ts, sizeof *rec->sigs, (void **)&rec->sigs, &n) |
             hermes__rec_read_table(rec->file, REC_JOURNAL, tj, sizeof *rec->journal, (void **)&rec->journal, &rec->njournal);
    H5Tclose(ts);
    H5Tclose(tj);
    if (rc)
        return open_fail(rec, HERMES_ESYS, "%s", "cannot read the signal and journal tables");
    rec->n = (uint32_t)n;
    rec->views = calloc(n ? n : 1, sizeof *rec->views);
    if (!rec->views) {
        hermes_recording_close(rec);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    for (uint32_t k = 0; k < rec->n; k++) {
        struct rec_signal_row *s = &rec->sigs[k];
        s->name[REC_NAME_LEN - 1] = s->type[REC_TYPE_LEN - 1] = s->unit[REC_UNIT_LEN - 1] = '\0';
        hermes_type_t t = HERMES_TYPE_F64;
        hermes_type_parse(s->type, &t);
        rec->views[k] = (hermes_recording_signal_t){s->name, t, s->unit, s->writable != 0, s->initial};
    }
    for (uint64_t i = 0; i < rec->njournal; i++) {
        rec->journal[i].action[REC_ACTION_LEN - 1] = '\0';
        rec->journal[i].signal[REC_NAME_LEN - 1] = '\0';
    }
    rec->d_data = H5Dopen2(rec->file, REC_DATA, H5P_DEFAULT);
    rec->d_frame = H5Dopen2(rec->file, REC_FRAME, H5P_DEFAULT);
    rec->d_time = H5Dopen2(rec->file, REC_TIME, H5P_DEFAULT);
    if (rec->d_data < 0 || rec->d_frame < 0 || rec->d_time < 0)
        return open_fail(rec, HERMES_ESYS, "%s", "cannot open the data series");
    /* After a crash the series may differ by the rows of one unflushed write. */
    uint64_t r0 = extent0(rec->d_data), r1 = extent0(rec->d_frame), r2 = extent0(rec->d_time);
    rec->rows = r0 < r1 ? r0 : r1;
    rec->rows = rec->rows < r2 ? rec->rows : r2;
    *out = rec;
    return 0;
}

HERMES_API void hermes_recording_close(hermes_recording_t *rec)
{
    if (!rec)
        return;
    hid_t *ids[] = {&rec->d_data, &rec->d_frame, &rec->d_time};
    for (size_t i = 0; i < 3; i++)
        if (*ids[i] >= 0)
            H5Dclose(*ids[i]);
    if (rec->file >= 0)
        H5Fclose(rec->file);
    hermes__mcap_unload(rec);
    free(rec->sigs);
    free(rec->views);
    free(rec->journal);
    free(rec->attr_buf);
    free(rec->path);
    free(rec);
}

HERMES_API uint32_t hermes_recording_signal_count(const hermes_recording_t *rec) { return rec ? rec->n : 0; }

HERMES_API int hermes_recording_signal(const hermes_recording_t *rec, uint32_t i, hermes_recording_signal_t *out)
{
    if (!rec || !out)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    if (i >= rec->n)
        return hermes__fail(HERMES_ENOENT, "column %u out of range (%u signals)", i, rec->n);
    *out = rec->views[i];
    return 0;
}

HERMES_API int hermes_recording_find(const hermes_recording_t *rec, const char *name, uint32_t *column)
{
    if (!rec || !name)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    for (uint32_t k = 0; k < rec->n; k++)
        if (!strcmp(rec->sigs[k].name, name)) {
            if (column)
                *column = k;
            return 0;
        }
    return hermes__fail(HERMES_ENOENT, "signal '%s' is not in the recording", name);
}

HERMES_API uint64_t hermes_recording_rows(const hermes_recording_t *rec) { return rec ? rec->rows : 0; }
HERMES_API double hermes_recording_rate_hz(const hermes_recording_t *rec) { return rec ? rec->rate_hz : 0; }
HERMES_API bool hermes_recording_complete(const hermes_recording_t *rec) { return rec && rec->complete; }

HERMES_API const char *hermes_recording_attr(hermes_recording_t *rec, const char *name)
{
    if (rec && rec->mem)
        return name ? hermes__mcap_attr(rec, name) : NULL;
    if (!rec || !name || H5Aexists(rec->file, name) <= 0)
        return NULL;
    hid_t a = H5Aopen(rec->file, name, H5P_DEFAULT);
    if (a < 0)
        return NULL;
    hid_t ft = H5Aget_type(a);
    const char *res = NULL;
    if (H5Tget_class(ft) == H5T_STRING) {
        free(rec->attr_buf);
        rec->attr_buf = NULL;
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft));
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0 && v) {
                rec->attr_buf = hermes__strdup(v);
                H5free_memory(v);
            }
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(ft);
            rec->attr_buf = calloc(1, sz + 1);
            if (rec->attr_buf && H5Aread(a, ft, rec->attr_buf) < 0) {
                free(rec->attr_buf);
                rec->attr_buf = NULL;
            }
        }
        res = rec->attr_buf;
    }
    H5Tclose(ft);
    H5Aclose(a);
    return res;
}

HERMES_API int hermes_recording_attr_number(hermes_recording_t *rec, const char *name, double *out)
{
    if (!rec || !name || !out)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    if (rec->mem) {
        const char *v = hermes__mcap_attr(rec, name);
        char *end = NULL;
        double d = v && v[0] ? strtod(v, &end) : 0;
        if (!end || *end)
            return hermes__fail(HERMES_ENOENT, "recording has no number '%s'", name);
        *out = d;
        return 0;
    }
    if (H5Aexists(rec->file, name) <= 0)
        return hermes__fail(HERMES_ENOENT, "recording has no attribute '%s'", name);
    hid_t a = H5Aopen(rec->file, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    int rc = 0;
    if (H5Tget_class(ft) == H5T_STRING || H5Aread(a, H5T_NATIVE_DOUBLE, out) < 0)
        rc = hermes__fail(HERMES_ENOENT, "attribute '%s' is not a number", name);
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

HERMES_API bool hermes_recording_start_paused(hermes_recording_t *rec)
{
    double v = 0;
    return rec && hermes_recording_attr_number(rec, "start_paused", &v) == 0 && v != 0;
}

static int read_series(hid_t d, hid_t mt, uint64_t first, uint64_t count, void *buf)
{
    hid_t fs = H5Dget_space(d);
    hsize_t st = first, c = count;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &st, NULL, &c, NULL);
    hid_t ms = H5Screate_simple(1, &c, NULL);
    herr_t rc = H5Dread(d, mt, ms, fs, H5P_DEFAULT, buf);
    H5Sclose(ms);
    H5Sclose(fs);
    return rc < 0 ? -1 : 0;
}

HERMES_API int hermes_recording_read(hermes_recording_t *rec, uint64_t first, uint64_t count, double *values,
                                     uint64_t *frames, double *times)
{
    if (!rec || (!values && !frames && !times))
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    if (first > rec->rows || count > rec->rows - first)
        return hermes__fail(HERMES_EINVAL, "rows %llu..%llu beyond the %llu recorded", (unsigned long long)first,
                            (unsigned long long)(first + count), (unsigned long long)rec->rows);
    if (count == 0)
        return 0;
    if (rec->mem) {
        hermes__mcap_read(rec, first, count, values, frames, times);
        return 0;
    }
    int rc = 0;
    if (rec->n && values) {
        hid_t fs = H5Dget_space(rec->d_data);
        hsize_t st[2] = {first, 0}, c[2] = {count, rec->n};
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, c, NULL);
        hid_t ms = H5Screate_simple(2, c, NULL);
        if (H5Dread(rec->d_data, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, values) < 0)
            rc = -1;
        H5Sclose(ms);
        H5Sclose(fs);
    }
    if (rc == 0 && frames)
        rc = read_series(rec->d_frame, H5T_NATIVE_UINT64, first, count, frames);
    if (rc == 0 && times)
        rc = read_series(rec->d_time, H5T_NATIVE_DOUBLE, first, count, times);
    if (rc) {
        char h5[256];
        hermes__h5_message(h5, sizeof h5);
        return hermes__fail(HERMES_ESYS, "recording '%s': cannot read rows (HDF5: %s)", rec->path, h5);
    }
    return 0;
}

HERMES_API uint64_t hermes_recording_journal_count(const hermes_recording_t *rec) { return rec ? rec->njournal : 0; }

static hermes_command_kind_t parse_action(const char *a)
{
#define X_PARSE(kind, word) \
    if (!strcmp(a, word))   \
        return HERMES_COMMAND_##kind;
    REC_ACTION_TABLE(X_PARSE)
#undef X_PARSE
    return HERMES_COMMAND_NONE;
}

HERMES_API int hermes_recording_journal(const hermes_recording_t *rec, uint64_t i, hermes_journal_entry_t *out)
{
    if (!rec || !out)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    if (i >= rec->njournal)
        return hermes__fail(HERMES_ENOENT, "journal entry %llu out of range", (unsigned long long)i);
    const struct rec_journal_row *j = &rec->journal[i];
    *out = (hermes_journal_entry_t){j->tick, j->frame, parse_action(j->action), j->signal, j->value, j->count};
    return 0;
}

/* ---- CSV export ------------------------------------------------------------------- */

/* Columns of @p patterns (all when none), by the subscribe rules (patterns.c)
 * over a name-sorted index of the recording's signals: O(n log n). */
int hermes__rec_export_columns(const hermes_recording_t *rec, const char *const *patterns, uint32_t pattern_count,
                                uint32_t **cols, uint32_t *nc)
{
    static const char *const all[] = {"*"};
    if (!pattern_count && !rec->n) {
        *cols = malloc(sizeof **cols);
        *nc = 0;
        return *cols ? 0 : hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    struct hermes__sorted_name *by_name = malloc((rec->n ? rec->n : 1) * sizeof *by_name);
    if (!by_name)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    for (uint32_t k = 0; k < rec->n; k++)
        by_name[k] = (struct hermes__sorted_name){rec->sigs[k].name, k};
    hermes__sorted_names_sort(by_name, rec->n);
    const struct hermes__pattern_view v = {rec->n, by_name, NULL, NULL, NULL, "of the recording"};
    int rc = hermes__patterns_resolve(&v, pattern_count ? patterns : all, pattern_count ? pattern_count : 1, 0, cols,
                                      nc);
    free(by_name);
    return rc;
}

enum { EXPORT_BLOCK_VALUES = 1 << 20 };

HERMES_API int hermes_recording_export_csv(hermes_recording_t *rec, const char *csv_path,
                                           const char *const *patterns, uint32_t pattern_count)
{
    if (!rec || !csv_path)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    uint32_t *cols = NULL, nc = 0;
    int rc = hermes__rec_export_columns(rec, patterns, pattern_count, &cols, &nc);
    if (rc)
        return rc;
    FILE *f = fopen(csv_path, "w");
    if (!f) {
        rc = hermes__fail(HERMES_ESYS, "cannot write '%s': %s", csv_path, strerror(errno));
        goto out;
    }
    fputs("frame,time {s}", f);
    for (uint32_t c = 0; c < nc; c++) {
        const struct rec_signal_row *s = &rec->sigs[cols[c]];
        if (s->unit[0])
            fprintf(f, ",%s {%s}", s->name, s->unit);
        else
            fprintf(f, ",%s", s->name);
    }
    fputc('\n', f);
    /* whole rows are read, so a block holds at most EXPORT_BLOCK_VALUES values
     * (8 MiB): with 10^5 signals that is 10 rows, not the whole file */
    uint64_t block = EXPORT_BLOCK_VALUES / (rec->n ? rec->n : 1);
    block = block < 1 ? 1 : block > 4096 ? 4096 : block;
    double *vals = malloc(block * (rec->n ? rec->n : 1) * sizeof *vals);
    uint64_t *frames = malloc(block * sizeof *frames);
    double *times = malloc(block * sizeof *times);
    if (!vals || !frames || !times)
        rc = hermes__fail(HERMES_ENOMEM, "out of memory");
    for (uint64_t r0 = 0; rc == 0 && r0 < rec->rows; r0 += block) {
        uint64_t cnt = rec->rows - r0 < block ? rec->rows - r0 : block;
        if ((rc = hermes_recording_read(rec, r0, cnt, vals, frames, times)) != 0)
            break;
        for (uint64_t i = 0; i < cnt; i++) {
            fprintf(f, "%llu,%.17g", (unsigned long long)frames[i], times[i]);
            for (uint32_t c = 0; c < nc; c++)
                fprintf(f, ",%.17g", vals[i * rec->n + cols[c]]);
            fputc('\n', f);
        }
    }
    free(vals);
    free(frames);
    free(times);
    if (ferror(f) && rc == 0)
        rc = hermes__fail(HERMES_ESYS, "cannot write '%s': %s", csv_path, strerror(errno));
    if (fclose(f) != 0 && rc == 0)
        rc = hermes__fail(HERMES_ESYS, "cannot write '%s': %s", csv_path, strerror(errno));
out:
    free(cols);
    return rc;
}

/* ---- config check -------------------------------------------------------------------- */

static bool same_num(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

/* Module rates (the module_rates table; a file without it recorded every
 * module at the base rate). Writes the difference to @p why. */
static void check_rates(hermes_recording_t *r, const hermes_config_t *cfg, char *why, size_t cap)
{
    struct rec_rate_row *rows = NULL;
    uint64_t n = 0;
    hid_t t = hermes__rec_rate_type();
    bool have = H5Lexists(r->file, REC_MODULE_RATES, H5P_DEFAULT) > 0 &&
                hermes__rec_read_table(r->file, REC_MODULE_RATES, t, sizeof *rows, (void **)&rows, &n) == 0;
    H5Tclose(t);
    for (uint32_t i = 0; i < hermes_config_module_count(cfg) && !why[0]; i++) {
        hermes_module_info_t mi;
        hermes_module_rate_t mr;
        hermes_config_module(cfg, i, &mi);
        if (hermes_config_module_rate(cfg, i, &mr) != 0)
            continue;   /* validate refuses such a config */
        uint32_t div = 1, off = 0;
        if (have && i < n) {
            rows[i].name[REC_MODNAME_LEN - 1] = '\0';
            div = rows[i].divisor;
            off = rows[i].offset;
        }
        if (div != mr.divisor || off != mr.offset)
            snprintf(why, cap, "module '%s' steps every %u frames from frame %u in the recording, every %u from %u "
                     "in the config", mi.name, (unsigned)div, (unsigned)off, (unsigned)mr.divisor,
                     (unsigned)mr.offset);
    }
    free(rows);
}

HERMES_API int hermes_recording_check_config(const hermes_recording_t *rec, const hermes_config_t *cfg)
{
    if (!rec || !cfg)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    if (rec->mem)
        return hermes__fail(HERMES_ECONFIG, "'%s' is an MCAP file: a rerun needs the HDF5 recording (MCAP files "
                                            "hold no module, wire and declared-signal tables to check)", rec->path);
    hermes_recording_t *r = (hermes_recording_t *)rec;
    hid_t tm = hermes__rec_module_type(), tw = hermes__rec_wire_type(), ts = hermes__rec_signal_type();
    struct rec_module_row *mods = NULL;
    struct rec_wire_row *wires = NULL;
    struct rec_signal_row *sigs = NULL;
    uint64_t nm = 0, nw = 0, ns = 0;
    int rc = hermes__rec_read_table(r->file, REC_MODULES, tm, sizeof *mods, (void **)&mods, &nm) |
             hermes__rec_read_table(r->file, REC_WIRES, tw, sizeof *wires, (void **)&wires, &nw) |
             hermes__rec_read_table(r->file, REC_CONFIG_SIGNALS, ts, sizeof *sigs, (void **)&sigs, &ns);
    H5Tclose(tm);
    H5Tclose(tw);
    H5Tclose(ts);
    char why[768] = "";
    if (rc) {
        snprintf(why, sizeof why, "the recording has no readable module, wire or signal tables");
        goto out;
    }
    hermes_execution_t ex;
    hermes_config_execution(cfg, &ex);
    double rate = 0, end = NAN;
    hermes_recording_attr_number(r, "rate_hz", &rate);
    hermes_recording_attr_number(r, "end_time", &end);
    if (!same_num(rate, ex.rate_hz)) {
        snprintf(why, sizeof why, "execution.rate_hz is %g in the recording, %g in the config", rate, ex.rate_hz);
        goto out;
    }
    double cend = ex.has_end_time ? ex.end_time : NAN;
    if (!same_num(end, cend)) {
        snprintf(why, sizeof why, "execution.end_time is %g in the recording, %g in the config", end, cend);
        goto out;
    }
    uint32_t cm = hermes_config_module_count(cfg);
    if (cm != nm) {
        snprintf(why, sizeof why, "the recording has %llu modules, the config %u", (unsigned long long)nm, cm);
        goto out;
    }
    uint32_t sched_pos[1024];
    uint32_t nsched = hermes_config_schedule_count(cfg);
    for (uint32_t k = 0; k < nsched && k < 1024; k++) {
        uint32_t mi = 0;
        if (hermes_config_schedule_at(cfg, k, &mi) == 0 && mi < 1024)
            sched_pos[mi] = k;
    }
    uint64_t si = 0;
    for (uint32_t i = 0; i < cm && !why[0]; i++) {
        hermes_module_info_t mi;
        hermes_config_module(cfg, i, &mi);
        mods[i].name[REC_MODNAME_LEN - 1] = mods[i].type[REC_EVENT_LEN - 1] = '\0';
        if (strcmp(mods[i].name, mi.name))
            snprintf(why, sizeof why, "module %u is '%s' in the recording, '%s' in the config", i + 1,
                     mods[i].name, mi.name);
        else if (strcmp(mods[i].type, hermes_module_type_name(mi.type)))
            snprintf(why, sizeof why, "module '%s' is of type %s in the recording, %s in the config", mi.name,
                     mods[i].type, hermes_module_type_name(mi.type));
        else if (i < 1024 && mods[i].schedule != sched_pos[i])
            snprintf(why, sizeof why, "module '%s' is at schedule position %u in the recording, %u in the config",
                     mi.name, mods[i].schedule + 1, sched_pos[i] + 1);
        else if (mods[i].config_hash != hermes__file_hash(mi.config_path))
            snprintf(why, sizeof why, "module '%s': its config file %s differs from the recorded run's", mi.name,
                     mi.config_path ? mi.config_path : "(none)");
        for (uint32_t j = 0; j < mi.signal_count && !why[0]; j++, si++) {
            hermes_signal_spec_t sp;
            hermes_config_signal(cfg, i, j, &sp);
            char qn[HERMES_MAX_NAME + 2];
            snprintf(qn, sizeof qn, "%s.%s", sp.module, sp.name);
            const char *ct = hermes_type_name(sp.type ? sp.type : HERMES_TYPE_F64);
            const char *cu = sp.unit ? sp.unit : "";
            if (si >= ns) {
                snprintf(why, sizeof why, "signal '%s' is not in the recorded run", qn);
                break;
            }
            struct rec_signal_row *s = &sigs[si];
            s->name[REC_NAME_LEN - 1] = s->type[REC_TYPE_LEN - 1] = s->unit[REC_UNIT_LEN - 1] = '\0';
            if (strcmp(s->name, qn))
                snprintf(why, sizeof why, "signal %llu is '%s' in the recording, '%s' in the config",
                         (unsigned long long)si + 1, s->name, qn);
            else if (strcmp(s->type, ct))
                snprintf(why, sizeof why, "signal '%s' is %s in the recording, %s in the config", qn, s->type, ct);
            else if (strcmp(s->unit, cu))
                snprintf(why, sizeof why, "signal '%s' has unit '%s' in the recording, '%s' in the config", qn,
                         s->unit, cu);
            else if ((s->writable != 0) != sp.writable)
                snprintf(why, sizeof why, "signal '%s' is %s in the recording, %s in the config", qn,
                         s->writable ? "writable" : "read-only", sp.writable ? "writable" : "read-only");
            else if (!same_num(s->initial, sp.initial))
                snprintf(why, sizeof why, "signal '%s' starts at %.17g in the recording, %.17g in the config", qn,
                         s->initial, sp.initial);
        }
    }
    if (!why[0] && si != ns)
        snprintf(why, sizeof why, "the recording has %llu signals, the config %llu", (unsigned long long)ns,
                 (unsigned long long)si);
    uint32_t cw = hermes_config_wire_count(cfg);
    if (!why[0] && cw != nw)
        snprintf(why, sizeof why, "the recording has %llu wires, the config %u", (unsigned long long)nw, cw);
    for (uint32_t i = 0; i < cw && !why[0]; i++) {
        hermes_wire_info_t wi;
        hermes_config_wire(cfg, i, &wi);
        struct rec_wire_row *w = &wires[i];
        w->src[REC_NAME_LEN - 1] = w->dst[REC_NAME_LEN - 1] = '\0';
        if (strcmp(w->src, wi.src) || strcmp(w->dst, wi.dst) || !same_num(w->gain, wi.gain) ||
            !same_num(w->offset, wi.offset))
            snprintf(why, sizeof why,
                     "wire %u is %s -> %s (gain %.17g, offset %.17g) in the recording, %s -> %s (gain %.17g, "
                     "offset %.17g) in the config",
                     i + 1, w->src, w->dst, w->gain, w->offset, wi.src, wi.dst, wi.gain, wi.offset);
    }
    if (!why[0])
        check_rates(r, cfg, why, sizeof why);
out:
    free(mods);
    free(wires);
    free(sigs);
    if (why[0])
        return hermes__fail(HERMES_ECONFIG, "the config does not match the recorded run: %s", why);
    return 0;
}

/* ---- rerun --------------------------------------------------------------------------- */

struct rerun_entry {
    hermes_journal_entry_t e;
    hermes_run_command_t   cmd;
};

struct hermes_rerun {
    hermes_scheduler_t *s;
    struct rerun_entry *entries;
    uint64_t            n, next;
    uint64_t            final_tick;   /* stop here once the journal is done */
    uint64_t            step_until;   /* tick a pending step reaches */
    uint64_t            end_frame;    /* the scheduler stops by itself here (UINT64_MAX: no end_time) */
};

static int boundary(void *ctx, hermes_scheduler_t *s, uint64_t frame, uint64_t tick)
{
    hermes_rerun_t *rr = ctx;
    while (rr->next < rr->n && rr->entries[rr->next].e.tick <= tick) {
        struct rerun_entry *en = &rr->entries[rr->next];
        if (en->e.tick < tick)
            return hermes__fail(HERMES_ESTATE, "rerun diverged: journal entry %llu (frame %llu, tick %llu) was "
                                               "not reached (the run is at tick %llu)",
                                (unsigned long long)rr->next + 1, (unsigned long long)en->e.frame,
                                (unsigned long long)en->e.tick, (unsigned long long)tick);
        int rc = hermes_scheduler_apply(s, &en->cmd);
        if (rc) {
            char m[512];
            hermes__strlcpy(m, hermes_last_error(), sizeof m);
            return hermes__fail(rc, "rerun: journal entry %llu (frame %llu) could not be applied: %s",
                                (unsigned long long)rr->next + 1, (unsigned long long)en->e.frame, m);
        }
        rr->next++;
        if (en->cmd.kind == HERMES_COMMAND_STEP)
            rr->step_until = tick + en->cmd.count;
        else if (en->cmd.kind == HERMES_COMMAND_PAUSE || en->cmd.kind == HERMES_COMMAND_RESET)
            rr->step_until = tick;
        if (en->cmd.kind == HERMES_COMMAND_STOP)
            return 0;
    }
    hermes_state_t st = hermes_scheduler_state(s);
    if (st == HERMES_STATE_STOPPED || st == HERMES_STATE_ERROR)
        return 0;
    bool stuck = st == HERMES_STATE_PAUSED && tick >= rr->step_until;
    /* At end_time the scheduler stops by itself, as the recorded run did. */
    bool ends = frame >= rr->end_frame && (st == HERMES_STATE_RUNNING || tick < rr->step_until);
    if (rr->next == rr->n && !ends && (tick >= rr->final_tick || stuck)) {
        hermes_run_command_t stop = {HERMES_COMMAND_STOP, {0, 0}, 0.0, 0};
        return hermes_scheduler_apply(s, &stop);
    }
    if (stuck)
        return hermes__fail(HERMES_ESTATE, "rerun diverged: paused at tick %llu while the next journal entry is "
                                           "at tick %llu", (unsigned long long)tick,
                            (unsigned long long)rr->entries[rr->next].e.tick);
    return 0;
}

HERMES_API int hermes_rerun_create(hermes_rerun_t **out, hermes_recording_t *rec, hermes_scheduler_t *s)
{
    if (!out || !rec || !s)
        return hermes__fail(HERMES_EINVAL, "hermes_rerun_create: NULL argument");
    *out = NULL;
    int rc = hermes_recording_check_config(rec, hermes_scheduler_config(s));
    if (rc)
        return rc;
    hermes_rerun_t *rr = calloc(1, sizeof *rr);
    if (!rr)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    rr->s = s;
    rr->n = rec->njournal;
    rr->entries = calloc(rr->n ? rr->n : 1, sizeof *rr->entries);
    if (!rr->entries) {
        free(rr);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    for (uint64_t i = 0; i < rr->n; i++) {
        struct rerun_entry *en = &rr->entries[i];
        hermes_recording_journal(rec, i, &en->e);
        en->cmd.kind = en->e.kind;
        en->cmd.count = en->e.count;
        en->cmd.value = en->e.value;
        if (en->e.kind == HERMES_COMMAND_NONE ||
            (en->e.kind == HERMES_COMMAND_SET && hermes_backplane_find(bp, en->e.signal, &en->cmd.signal) != 0) ||
            (i > 0 && en->e.tick < rr->entries[i - 1].e.tick)) {
            free(rr->entries);
            free(rr);
            return hermes__fail(HERMES_ENOENT, "journal entry %llu (%s %s) cannot be replayed on this run",
                                (unsigned long long)i + 1, rec->journal[i].action, en->e.signal);
        }
    }
    double ticks = 0;
    if (hermes_recording_attr_number(rec, "ticks", &ticks) == 0) {
        rr->final_tick = (uint64_t)ticks;
    } else if (rec->rows) {
        /* Killed run: the last recorded frame. */
        hid_t d = H5Dopen2(rec->file, REC_TICK, H5P_DEFAULT);
        uint64_t t = 0;
        if (d >= 0) {
            read_series(d, H5T_NATIVE_UINT64, rec->rows - 1, 1, &t);
            H5Dclose(d);
        }
        rr->final_tick = t;
    }
    hermes_execution_t ex;
    hermes_config_execution(hermes_scheduler_config(s), &ex);
    rr->end_frame = ex.has_end_time ? (uint64_t)ceil(ex.end_time * ex.rate_hz - 1e-9) : UINT64_MAX;
    if ((rc = hermes_scheduler_set_boundary_hook(s, boundary, rr)) != 0) {
        free(rr->entries);
        free(rr);
        return rc;
    }
    *out = rr;
    return 0;
}

HERMES_API uint64_t hermes_rerun_applied(const hermes_rerun_t *rr) { return rr ? rr->next : 0; }

HERMES_API void hermes_rerun_destroy(hermes_rerun_t *rr)
{
    if (!rr)
        return;
    hermes_scheduler_set_boundary_hook(rr->s, NULL, NULL);
    free(rr->entries);
    free(rr);
}
