/* Recording file layout: the tables' HDF5 row types, table reading, HDF5 error quieting and messages, the file hash, reserved names. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recording/layout.h"
#include "common/util.h"

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *ctx)
{
    (void)n;
    char *buf = ctx;
    if (!buf[0] && e->desc)
        snprintf(buf, 256, "%s", e->desc);
    return 0;
}

static void no_atexit(void)
{
    /* HDF5's exit handler crashes on a file whose close failed (disk full):
     * Hermes closes what it opens itself. Must precede every other HDF5 call. */
    H5dont_atexit();
}

void hermes__h5_quiet(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, no_atexit);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void hermes__h5_message(char *buf, size_t cap)
{
    char first[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, first);
    snprintf(buf, cap, "%s", first[0] ? first : "unknown HDF5 error");
    for (char *p = buf; *p; p++)   /* HDF5 messages may span lines */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    H5Eclear2(H5E_DEFAULT);
}

static hid_t str_type(size_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, n);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    return t;
}

/* One member of a compound row type: a native number, or a NUL-terminated
 * string of `len` bytes. */
enum member_kind { M_U8, M_U32, M_U64, M_F64, M_STR };
struct member {
    const char      *name;
    size_t           off;
    enum member_kind kind;
    size_t           len;  /* M_STR */
};

static hid_t compound(size_t size, const struct member *m, size_t n)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, size);
    for (size_t i = 0; i < n; i++) {
        hid_t mt;
        switch (m[i].kind) {
        case M_U8: mt = H5T_NATIVE_UINT8; break;
        case M_U32: mt = H5T_NATIVE_UINT32; break;
        case M_U64: mt = H5T_NATIVE_UINT64; break;
        case M_F64: mt = H5T_NATIVE_DOUBLE; break;
        default: mt = str_type(m[i].len); break;
        }
        H5Tinsert(t, m[i].name, m[i].off, mt);
        if (m[i].kind == M_STR)
            H5Tclose(mt);
    }
    return t;
}

#define COMPOUND(row, members) compound(sizeof(struct row), members, sizeof members / sizeof members[0])

hid_t hermes__rec_signal_type(void)
{
    static const struct member m[] = {
        {"name", HOFFSET(struct rec_signal_row, name), M_STR, REC_NAME_LEN},
        {"type", HOFFSET(struct rec_signal_row, type), M_STR, REC_TYPE_LEN},
        {"unit", HOFFSET(struct rec_signal_row, unit), M_STR, REC_UNIT_LEN},
        {"writable", HOFFSET(struct rec_signal_row, writable), M_U8, 0},
        {"initial", HOFFSET(struct rec_signal_row, initial), M_F64, 0},
    };
    return COMPOUND(rec_signal_row, m);
}

hid_t hermes__rec_module_type(void)
{
    static const struct member m[] = {
        {"name", HOFFSET(struct rec_module_row, name), M_STR, REC_MODNAME_LEN},
        {"type", HOFFSET(struct rec_module_row, type), M_STR, REC_EVENT_LEN},
        {"schedule", HOFFSET(struct rec_module_row, schedule), M_U32, 0},
        {"config_hash", HOFFSET(struct rec_module_row, config_hash), M_U64, 0},
    };
    return COMPOUND(rec_module_row, m);
}

hid_t hermes__rec_rate_type(void)
{
    static const struct member m[] = {
        {"name", HOFFSET(struct rec_rate_row, name), M_STR, REC_MODNAME_LEN},
        {"rate_hz", HOFFSET(struct rec_rate_row, rate_hz), M_F64, 0},
        {"divisor", HOFFSET(struct rec_rate_row, divisor), M_U32, 0},
        {"offset", HOFFSET(struct rec_rate_row, offset), M_U32, 0},
    };
    return COMPOUND(rec_rate_row, m);
}

hid_t hermes__rec_wire_type(void)
{
    static const struct member m[] = {
        {"src", HOFFSET(struct rec_wire_row, src), M_STR, REC_NAME_LEN},
        {"dst", HOFFSET(struct rec_wire_row, dst), M_STR, REC_NAME_LEN},
        {"gain", HOFFSET(struct rec_wire_row, gain), M_F64, 0},
        {"offset", HOFFSET(struct rec_wire_row, offset), M_F64, 0},
    };
    return COMPOUND(rec_wire_row, m);
}

hid_t hermes__rec_event_type(void)
{
    static const struct member m[] = {
        {"tick", HOFFSET(struct rec_event_row, tick), M_U64, 0},
        {"frame", HOFFSET(struct rec_event_row, frame), M_U64, 0},
        {"event", HOFFSET(struct rec_event_row, event), M_STR, REC_EVENT_LEN},
        {"detail", HOFFSET(struct rec_event_row, detail), M_STR, REC_DETAIL_LEN},
    };
    return COMPOUND(rec_event_row, m);
}

hid_t hermes__rec_journal_type(void)
{
    static const struct member m[] = {
        {"tick", HOFFSET(struct rec_journal_row, tick), M_U64, 0},
        {"frame", HOFFSET(struct rec_journal_row, frame), M_U64, 0},
        {"action", HOFFSET(struct rec_journal_row, action), M_STR, REC_ACTION_LEN},
        {"signal", HOFFSET(struct rec_journal_row, signal), M_STR, REC_NAME_LEN},
        {"value", HOFFSET(struct rec_journal_row, value), M_F64, 0},
        {"count", HOFFSET(struct rec_journal_row, count), M_U64, 0},
    };
    return COMPOUND(rec_journal_row, m);
}

uint64_t hermes__file_hash(const char *path)
{
    if (!path)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint64_t h = HERMES__FNV64_INIT;
    unsigned char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        h = hermes__fnv64(h, buf, n);
    fclose(f);
    return h;
}

int hermes__rec_read_table(hid_t file, const char *name, hid_t type, size_t row_size, void **rows, uint64_t *n)
{
    *rows = NULL;
    *n = 0;
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t sp = H5Dget_space(d);
    hsize_t dims = 0;
    H5Sget_simple_extent_dims(sp, &dims, NULL);
    H5Sclose(sp);
    void *buf = calloc(dims ? dims : 1, row_size);
    herr_t rc = buf ? (dims ? H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0) : -1;
    H5Dclose(d);
    if (rc < 0) {
        free(buf);
        return -1;
    }
    *rows = buf;
    *n = dims;
    return 0;
}

static const char *const reserved[] = {REC_DATA,    REC_FRAME, REC_TIME,   REC_TICK,    REC_SIGNALS, REC_CONFIG_SIGNALS,
                                       REC_MODULES, REC_WIRES, REC_EVENTS, REC_JOURNAL, REC_MODULE_RATES, NULL};

const char *hermes__rec_reserved(const char *module)
{
    for (int j = 0; reserved[j]; j++)
        if (!strcmp(module, reserved[j]))
            return reserved[j];
    return NULL;
}
