/* The checkpoint file (docs/checkpoints.md, "The file"): a documented
 * little-endian binary format with a version, the run's identity (modules,
 * signals, rates, config hash), every signal's value bit for bit, each
 * module's own state and a CRC-32 over everything. Written to a temporary
 * name, fsynced and renamed. Knows nothing of the scheduler. Private. */
#ifndef HERMES_LIB_CHECKPOINT_FORMAT_H
#define HERMES_LIB_CHECKPOINT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HERMES__CKPT_MAGIC   "HRMSCKPT"
#define HERMES__CKPT_VERSION 1u
/* Largest checkpoint file read (and largest module state). */
#define HERMES__CKPT_MAX_BYTES (4ull << 30)

struct hermes__ckpt_signal {
    char    *name;    /* qualified */
    uint32_t type;    /* hermes_type_t */
    uint64_t bits;    /* the f64 slot's bits */
};

struct hermes__ckpt_module {
    char          *name;
    uint32_t       type;          /* hermes_module_type_t */
    uint32_t       rate_div, rate_offset;
    uint64_t       rate_next;
    uint32_t       state_kind;    /* 0: none (signals only), 1: state bytes follow */
    unsigned char *state;
    uint64_t       state_len;
};

/* A journal entry of a `restore: replay` run: a set or a reset, applied at
 * the boundary before frame @p frame was computed. */
struct hermes__ckpt_jentry {
    uint32_t kind;   /* hermes_command_kind_t: SET or RESET */
    uint32_t index;  /* SET: signal index */
    double   value;
    uint64_t frame;
};

#define HERMES__CKPT_REPLAY 1u  /* flags: restore by replaying the journal from frame 0 */

struct hermes__ckpt {
    uint32_t flags;
    uint64_t frame, time_ns, ticks;
    double   rate_hz;
    uint32_t has_seed;
    uint64_t seed;
    uint64_t config_hash;        /* hermes__ckpt_identity_hash() of modules + signals */
    uint64_t journal_position;   /* commands applied before this frame */
    struct hermes__ckpt_module *mods;
    uint32_t nmods;
    struct hermes__ckpt_signal *sigs;
    uint32_t nsigs;
    struct hermes__ckpt_jentry *journal;
    uint32_t njournal;
};

/* FNV-1a 64 of the identity: module names, types and rates, signal names and types. */
uint64_t hermes__ckpt_identity_hash(const struct hermes__ckpt *c);

/* Write @p c to @p path through "@p path.tmp-PID": written, fsynced, renamed,
 * the folder fsynced; nothing is left under either name on failure.
 * 0 or a hermes__fail() code (HERMES_ESYS, with the path and the reason). */
int hermes__ckpt_write(const char *path, const struct hermes__ckpt *c);
/* Read and check @p path (magic, version, size, CRC) into @p c (free with
 * hermes__ckpt_free). 0 or a hermes__fail() code: HERMES_ENOENT (cannot
 * open), HERMES_EFORMAT (not a checkpoint, truncated, checksum mismatch,
 * malformed), HERMES_EABI (a newer format version). */
int hermes__ckpt_read(const char *path, struct hermes__ckpt *c);
void hermes__ckpt_free(struct hermes__ckpt *c);
#endif
