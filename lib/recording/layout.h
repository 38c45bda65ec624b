/* Recording file layout (layout.c): object names, table rows and their HDF5 types, shared by the recorder,
 * the reader, export and campaign tables (HDF5 only). */
#ifndef HERMES_LIB_RECORDING_INTERNAL_H
#define HERMES_LIB_RECORDING_INTERNAL_H

#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>

#include "hermes/replay.h"

/* Root-level objects; a module may not use one of these names. */
#define REC_DATA    "data"     /* f64 [rows, signals]: every value; column k is row k of signals */
#define REC_FRAME   "frame"    /* u64 [rows] */
#define REC_TIME    "time"     /* f64 [rows] seconds */
#define REC_TICK    "tick"     /* u64 [rows] frames computed since stage (monotonic across resets) */
#define REC_SIGNALS "signals"  /* table, row k describes column k of data */
#define REC_CONFIG_SIGNALS "config_signals"  /* table: every signal the config declares */
#define REC_MODULES "modules"  /* table */
#define REC_WIRES   "wires"    /* table */
#define REC_EVENTS  "events"   /* table */
#define REC_JOURNAL "journal"  /* table */
#define REC_MODULE_RATES "module_rates"  /* table (since 0.4): each module's rate; absent in older files */

#define REC_NAME_LEN   128
#define REC_TYPE_LEN   8
#define REC_UNIT_LEN   32
#define REC_MODNAME_LEN 64
#define REC_DETAIL_LEN 256
#define REC_ACTION_LEN 8
/* The journal's "action" word of each command kind: X(KIND, word), one table
 * for the recorder (writes) and the reader (parses). */
#define REC_ACTION_TABLE(X) \
    X(SET, "set")           \
    X(PAUSE, "pause")       \
    X(RESUME, "resume")     \
    X(STEP, "step")         \
    X(RESET, "reset")       \
    X(STOP, "stop")
#define REC_EVENT_LEN  16

struct rec_signal_row {
    char     name[REC_NAME_LEN];   /* qualified */
    char     type[REC_TYPE_LEN];
    char     unit[REC_UNIT_LEN];
    uint8_t  writable;
    double   initial;
};

struct rec_module_row {
    char     name[REC_MODNAME_LEN];
    char     type[REC_EVENT_LEN];
    uint32_t schedule;          /* position in the schedule */
    uint64_t config_hash;       /* FNV-1a of the module's config file, 0 when none */
};

struct rec_rate_row {
    char     name[REC_MODNAME_LEN];
    double   rate_hz;
    uint32_t divisor;           /* steps on frames f with (f - offset) % divisor == 0 */
    uint32_t offset;
};

struct rec_wire_row {
    char   src[REC_NAME_LEN];
    char   dst[REC_NAME_LEN];
    double gain;
    double offset;
};

struct rec_event_row {
    uint64_t tick;
    uint64_t frame;
    char     event[REC_EVENT_LEN];
    char     detail[REC_DETAIL_LEN];
};

struct rec_journal_row {
    uint64_t tick;
    uint64_t frame;
    char     action[REC_ACTION_LEN];
    char     signal[REC_NAME_LEN];
    double   value;
    uint64_t count;
};

/* An opened recording (replay.c); replay_serve.c reads it too. */
struct hermes_recording {
    char    *path;
    hid_t    file, d_data, d_frame, d_time;
    uint32_t n;
    struct rec_signal_row     *sigs;
    struct hermes_recording_signal *views;
    uint64_t rows;
    struct rec_journal_row    *journal;
    uint64_t njournal;
    bool     complete;
    double   rate_hz;
    char    *attr_buf;
    struct hermes__mcap_mem *mem;  /* an MCAP file, read into memory (mcap_read.c); else NULL */
};

/* MCAP files as recordings (mcap_read.c). */
bool hermes__mcap_is(const char *path);
/* Fill @p rec (path set) from the MCAP file; on failure the caller closes @p rec. */
int hermes__mcap_load(hermes_recording_t *rec);
void hermes__mcap_unload(hermes_recording_t *rec);
/* A string attribute: the "hermes" and "hermes.end" metadata, "config" and "config_path" from the attachment. */
const char *hermes__mcap_attr(const hermes_recording_t *rec, const char *name);
/* The "module_rates" metadata as rows (malloc'd; none: NULL, 0). 0 or -1 (ENOMEM). */
int hermes__mcap_rates(const hermes_recording_t *rec, struct rec_rate_row **rows, uint64_t *n);
/* Rows [first, first + count) (checked by the caller). */
void hermes__mcap_read(const hermes_recording_t *rec, uint64_t first, uint64_t count, double *values,
                       uint64_t *frames, double *times);

/* Columns of @p patterns (all when none) by the subscribe rules (replay.c),
 * in column order; *cols is malloc'd. 0, HERMES_ENOENT, HERMES_EINVAL, HERMES_ENOMEM. */
int hermes__rec_export_columns(const hermes_recording_t *rec, const char *const *patterns, uint32_t pattern_count,
                               uint32_t **cols, uint32_t *nc);

/* Read a whole table into a new array (caller frees). Returns 0 or -1. */
int hermes__rec_read_table(hid_t file, const char *name, hid_t type, size_t row_size, void **rows, uint64_t *n);

/* Compound types (fixed-length strings) of the tables; caller closes. */
hid_t hermes__rec_signal_type(void);
hid_t hermes__rec_module_type(void);
hid_t hermes__rec_wire_type(void);
hid_t hermes__rec_rate_type(void);
hid_t hermes__rec_event_type(void);
hid_t hermes__rec_journal_type(void);

/* Silence HDF5's automatic error printing on the calling thread (HDF5 keeps
 * one error stack per thread): the library never prints. */
void hermes__h5_quiet(void);
/* Innermost message of the calling thread's HDF5 error stack, into buf. */
void hermes__h5_message(char *buf, size_t cap);

/* FNV-1a of a file's bytes; 0 when path is NULL or unreadable. */
uint64_t hermes__file_hash(const char *path);

/* The root object a module named @p module would collide with, or NULL. */
const char *hermes__rec_reserved(const char *module);

#endif
