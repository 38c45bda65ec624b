/* Recorder file: creates the recording (run metadata, signal/module/wire tables, the series) and writes its end metadata. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hermes/version.h"
#include "recording/recorder_priv.h"
#include "common/util.h"

static int attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char *v = value ? value : "";
    herr_t rc = a < 0 ? -1 : H5Awrite(a, t, &v);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc < 0 ? -1 : 0;
}

static int attr_num(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t a = H5Acreate2(obj, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, mem_type, value);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return rc < 0 ? -1 : 0;
}

static int attr_f64(hid_t o, const char *n, double v) { return attr_num(o, n, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v); }
static int attr_u64(hid_t o, const char *n, uint64_t v) { return attr_num(o, n, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v); }

/* Chunked, unlimited 1-D dataset of @p type with @p chunk rows. */
static hid_t make_series(hid_t loc, const char *name, hid_t type, hsize_t chunk)
{
    hsize_t dims = 0, maxd = H5S_UNLIMITED;
    hid_t sp = H5Screate_simple(1, &dims, &maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return d;
}

/* Fixed table of @p n rows. */
/* Fixed table of @p n rows. Tables over 64 KiB (the signal tables of big
 * configs: fixed-length, mostly padding) are stored deflated in chunks of
 * about 64 KiB when the HDF5 build has zlib; readers see the same rows. */
static int write_table(hid_t loc, const char *name, hid_t type, const void *rows, hsize_t n)
{
    hsize_t dims = n;
    hid_t sp = H5Screate_simple(1, &dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    size_t row = H5Tget_size(type);
    if (row && n * row > 65536 && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
        hsize_t chunk = 65536 / row ? 65536 / row : 1;
        H5Pset_chunk(dcpl, 1, &chunk);
        H5Pset_deflate(dcpl, 1);
    }
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    herr_t rc = d < 0 ? -1 : n ? H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) : 0;
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
    return rc < 0 ? -1 : 0;
}

void hermes__rec_utc_now(char *buf, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

char *hermes__rec_read_text(const char *path)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    if (!path || hermes__read_file(path, SIZE_MAX, &buf, &len) != 0)
        return NULL;
    return (char *)buf;
}

static int create_fail(hermes_recorder_t *r, int code, const char *what)
{
    char h5[256];
    hermes__h5_message(h5, sizeof h5);
    return hermes__fail(code, "recording to '%s': %s (HDF5: %s)", r->path, what, h5);
}

static int write_metadata(hermes_recorder_t *r, const hermes_recorder_config_t *cfg)
{
    const hermes_config_t *hc = hermes_scheduler_config(r->s);
    hermes_execution_t ex;
    hermes_config_execution(hc, &ex);
    const char *start = r->start_utc;
    char *text = cfg->config_text ? NULL : hermes__rec_read_text(hermes_config_path(hc));
    const char *cpath = hermes_config_path(hc);
    int rc = attr_str(r->file, "format", HERMES_RECORDING_FORMAT) |
             attr_u64(r->file, "format_version", HERMES_RECORDING_FORMAT_VERSION) |
             attr_str(r->file, "hermes_version", HERMES_VERSION_STRING) |
             attr_str(r->file, "run_id", hermes_backplane_name(r->bp)) |
             attr_str(r->file, "config", cfg->config_text ? cfg->config_text : text ? text : "") |
             attr_str(r->file, "config_path", cpath ? cpath : "") |
             attr_f64(r->file, "rate_hz", ex.rate_hz) | attr_str(r->file, "mode", hermes_mode_name(ex.mode)) |
             attr_f64(r->file, "end_time", ex.has_end_time ? ex.end_time : NAN) |
             attr_str(r->file, "start_time_utc", start) | attr_u64(r->file, "every", r->every) |
             attr_u64(r->file, "start_paused", cfg->start_paused ? 1 : 0) |
             attr_str(r->file, "end_reason", "running (no end recorded: the run did not close the file)");
    uint64_t seed;
    if (hermes_config_seed(hc, &seed) == 0) {  /* since 0.5 (issue 23): the MCAP export's metadata */
        char sv[24];
        snprintf(sv, sizeof sv, "%llu", (unsigned long long)seed);
        rc |= attr_str(r->file, "seed", sv);
    }
    free(text);
    if (rc)
        return create_fail(r, HERMES_ESYS, "cannot write the run metadata");
    return 0;
}

/* The modules, wires, signals and config_signals tables (also used to check
 * a rerun's config). */
static int write_tables(hermes_recorder_t *r, const uint32_t *idx)
{
    const hermes_config_t *hc = hermes_scheduler_config(r->s);
    uint32_t nm = hermes_config_module_count(hc);
    struct rec_module_row *mods = calloc(nm ? nm : 1, sizeof *mods);
    uint32_t nw = hermes_config_wire_count(hc);
    struct rec_wire_row *wires = calloc(nw ? nw : 1, sizeof *wires);
    struct rec_signal_row *sigs = calloc(r->n ? r->n : 1, sizeof *sigs);
    if (!mods || !wires || !sigs) {
        free(mods);
        free(wires);
        free(sigs);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < nm; i++) {
        hermes_module_info_t mi;
        hermes_config_module(hc, i, &mi);
        hermes__strlcpy(mods[i].name, mi.name, sizeof mods[i].name);
        hermes__strlcpy(mods[i].type, hermes_module_type_name(mi.type), sizeof mods[i].type);
        mods[i].config_hash = hermes__file_hash(mi.config_path);
    }
    for (uint32_t k = 0; k < hermes_config_schedule_count(hc); k++) {
        uint32_t mi = 0;
        if (hermes_config_schedule_at(hc, k, &mi) == 0 && mi < nm)
            mods[mi].schedule = k;
    }
    for (uint32_t i = 0; i < nw; i++) {
        hermes_wire_info_t wi;
        hermes_config_wire(hc, i, &wi);
        hermes__strlcpy(wires[i].src, wi.src, sizeof wires[i].src);
        hermes__strlcpy(wires[i].dst, wi.dst, sizeof wires[i].dst);
        wires[i].gain = wi.gain;
        wires[i].offset = wi.offset;
    }
    for (uint32_t k = 0; k < r->n; k++) {
        hermes_signal_info_t si;
        hermes_backplane_info(r->bp, idx[k], &si);
        hermes__strlcpy(sigs[k].name, si.name, sizeof sigs[k].name);
        hermes__strlcpy(sigs[k].type, hermes_type_name(si.type), sizeof sigs[k].type);
        hermes__strlcpy(sigs[k].unit, si.unit, sizeof sigs[k].unit);
        sigs[k].writable = si.writable;
        sigs[k].initial = si.initial;
    }
    uint32_t ncs = 0;
    for (uint32_t i = 0; i < nm; i++) {
        hermes_module_info_t mi;
        hermes_config_module(hc, i, &mi);
        ncs += mi.signal_count;
    }
    struct rec_signal_row *csigs = calloc(ncs ? ncs : 1, sizeof *csigs);
    if (!csigs) {
        free(mods);
        free(wires);
        free(sigs);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0, k = 0; i < nm; i++) {
        hermes_module_info_t mi;
        hermes_config_module(hc, i, &mi);
        for (uint32_t j = 0; j < mi.signal_count; j++, k++) {
            hermes_signal_spec_t sp;
            hermes_config_signal(hc, i, j, &sp);
            snprintf(csigs[k].name, sizeof csigs[k].name, "%s.%s", sp.module, sp.name);
            hermes__strlcpy(csigs[k].type, hermes_type_name(sp.type ? sp.type : HERMES_TYPE_F64),
                            sizeof csigs[k].type);
            hermes__strlcpy(csigs[k].unit, sp.unit ? sp.unit : "", sizeof csigs[k].unit);
            csigs[k].writable = sp.writable;
            csigs[k].initial = sp.initial;
        }
    }
    hid_t tm = hermes__rec_module_type(), tw = hermes__rec_wire_type(), ts = hermes__rec_signal_type();
    int rc = write_table(r->file, REC_MODULES, tm, mods, nm) | write_table(r->file, REC_WIRES, tw, wires, nw) |
         write_table(r->file, REC_SIGNALS, ts, sigs, r->n) | write_table(r->file, REC_CONFIG_SIGNALS, ts, csigs, ncs);
    free(csigs);
    H5Tclose(tm);
    H5Tclose(tw);
    H5Tclose(ts);
    free(mods);
    free(wires);
    if (rc) {
        free(sigs);
        return create_fail(r, HERMES_ESYS, "cannot write the signal tables");
    }
    free(sigs);
    return 0;
}

struct rec_rate_row *hermes__rec_rate_rows(const hermes_config_t *hc, uint32_t *n)
{
    uint32_t nm = hermes_config_module_count(hc);
    struct rec_rate_row *rows = calloc(nm ? nm : 1, sizeof *rows);
    if (!rows)
        return NULL;
    for (uint32_t i = 0; i < nm; i++) {
        hermes_module_info_t mi;
        hermes_module_rate_t mr;
        hermes_config_module(hc, i, &mi);
        hermes__strlcpy(rows[i].name, mi.name, sizeof rows[i].name);
        if (hermes_config_module_rate(hc, i, &mr) == 0) {
            rows[i].rate_hz = mr.rate_hz;
            rows[i].divisor = mr.divisor;
            rows[i].offset = mr.offset;
        }
    }
    *n = nm;
    return rows;
}

/* The module_rates table: each module's rate, divisor and offset. */
static int write_rates(hermes_recorder_t *r)
{
    uint32_t nm = 0;
    struct rec_rate_row *rows = hermes__rec_rate_rows(hermes_scheduler_config(r->s), &nm);
    if (!rows)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    hid_t t = hermes__rec_rate_type();
    int rc = write_table(r->file, REC_MODULE_RATES, t, rows, nm);
    H5Tclose(t);
    free(rows);
    return rc ? create_fail(r, HERMES_ESYS, "cannot write the module rates") : 0;
}

uint64_t hermes__rec_chunk_frames(uint32_t n)
{
    uint64_t cf = 131072 / (n ? n : 1), p2 = 1;  /* a chunk is allocated whole: at most about 1 MiB is unused at the end */
    while (p2 * 2 <= cf && p2 < 4096)
        p2 *= 2;
    return p2;
}

/* The series: data [rows, n], frame, time, tick, events, journal. */
static int make_storage(hermes_recorder_t *r)
{
    /* The storage: [rows, n] f64 in chunks of whole rows (chunk_frames rows,
     * about 1 MiB): a block of frames in the ring is then one contiguous piece
     * of memory per chunk, which HDF5 writes without gathering it. */
    hsize_t cs = r->n ? r->n : 1;
    hsize_t p2 = hermes__rec_chunk_frames(r->n);
    r->chunk_frames = p2;
    hsize_t dims[2] = {0, r->n}, maxd[2] = {H5S_UNLIMITED, r->n}, chunk[2] = {p2, cs};
    hid_t sp = H5Screate_simple(2, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    /* No chunk cache and no fill values: every write goes straight from the
     * ring to its place in the file (rows past the extent are never read). */
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, 0, 0, 1.0);
    r->d_data = H5Dcreate2(r->file, REC_DATA, H5T_IEEE_F64LE, sp, H5P_DEFAULT, dcpl, dapl);
    H5Pclose(dapl);
    H5Pclose(dcpl);
    hsize_t sc = p2 < 1024 ? 1024 : p2;
    r->d_frame = make_series(r->file, REC_FRAME, H5T_STD_U64LE, sc);
    r->d_time = make_series(r->file, REC_TIME, H5T_IEEE_F64LE, sc);
    r->d_tick = make_series(r->file, REC_TICK, H5T_STD_U64LE, sc);
    r->t_event = hermes__rec_event_type();
    r->t_journal = hermes__rec_journal_type();
    r->d_events = make_series(r->file, REC_EVENTS, r->t_event, 64);
    r->d_journal = make_series(r->file, REC_JOURNAL, r->t_journal, 64);
    if (r->d_data < 0 || r->d_frame < 0 || r->d_time < 0 || r->d_tick < 0 || r->d_events < 0 || r->d_journal < 0) {
        H5Sclose(sp);
        return create_fail(r, HERMES_ESYS, "cannot create the datasets");
    }
    attr_str(r->d_time, "unit", "s");
    attr_str(r->d_data, "description", "column k holds signal k of the 'signals' table; read signals by name");
    H5Sclose(sp);
    return 0;
}

int hermes__rec_file_build(hermes_recorder_t *r, const hermes_recorder_config_t *cfg, const uint32_t *idx)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    r->file = H5Fcreate(r->path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (r->file < 0)
        return create_fail(r, HERMES_ESYS, "cannot create the file");
    int rc = write_metadata(r, cfg);
    if (rc == 0)
        rc = write_tables(r, idx);
    if (rc == 0)
        rc = write_rates(r);
    if (rc == 0)
        rc = make_storage(r);
    if (rc)
        return rc;
    if (H5Fstart_swmr_write(r->file) < 0)
        return create_fail(r, HERMES_ESYS, "cannot start SWMR writing");
    return 0;
}

void hermes__rec_file_close(hermes_recorder_t *r)
{
    hid_t *ids[] = {&r->d_data, &r->d_frame, &r->d_time, &r->d_tick, &r->d_events, &r->d_journal};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (*ids[i] > 0) {
            H5Dclose(*ids[i]);
            *ids[i] = -1;
        }
    if (r->t_event > 0)
        H5Tclose(r->t_event);
    if (r->t_journal > 0)
        H5Tclose(r->t_journal);
    r->t_event = r->t_journal = -1;
    if (r->file > 0) {
        /* After a write error the close may fail too; the id is released anyway. */
        H5Fclose(r->file);
        r->file = -1;
    }
}

/* SWMR writers cannot add attributes: reopen without SWMR. */
int hermes__rec_file_end(hermes_recorder_t *r, const char *reason)
{
    hermes_timing_t t;
    memset(&t, 0, sizeof t);
    hermes_scheduler_timing(r->s, &t);
    hid_t f = H5Fopen(r->path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return create_fail(r, HERMES_ESYS, "cannot reopen to write the end metadata");
    char end[64];
    hermes__rec_utc_now(end, sizeof end);
    int rc = attr_str(f, "end_reason", reason) | attr_str(f, "end_time_utc", end) |
             attr_u64(f, "overruns", t.overruns) | attr_u64(f, "frames", r->rows) |
             attr_u64(f, "ticks", r->last_tick) | attr_u64(f, "ring_stalls", atomic_load(&r->st_stalls));
    if (H5Fclose(f) < 0)
        rc = -1;
    return rc ? create_fail(r, HERMES_ESYS, "cannot write the end metadata") : 0;
}
