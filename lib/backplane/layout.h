/* Shared-memory layout of the backplane. Private: the module-side code and
 * the scheduler include it; hosts use backplane.h. Everything here crosses a
 * process boundary: fixed-width types, explicit sizes, magic and version. */
#ifndef HERMES_LIB_BACKPLANE_INTERNAL_H
#define HERMES_LIB_BACKPLANE_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include "hermes/backplane.h"
#include "common/names.h"

#define HERMES_SHM_MAGIC   0x424D5248u /* "HRMB" little-endian */
#define HERMES_SHM_VERSION 2u  /* bump on any layout change */

/* Offsets are from the start of the mapping; every region is 64-byte aligned. */
struct hermes_shm_header {
    uint32_t magic;
    uint32_t layout_version;
    uint64_t total_size;
    uint32_t signal_count;
    uint32_t module_count;
    uint64_t dir_offset;
    uint64_t ctrl_offset;
    uint64_t live_offset;
    uint64_t pub_offset;       /* two copies of count slots, each 64-byte aligned */
    int32_t  owner_pid;
    uint32_t tag;
    char     run_name[64];
    /* Double-buffered publication: publish n (n = 1, 2, ...) writes copy
     * n & 1 and then stores seq = n. Readers use copy seq & 1 and accept it
     * only if seq did not move while they copied. Own cache line. */
    _Alignas(64) _Atomic uint64_t seq;
    _Atomic uint64_t frame;    /* latest published frame */
    _Atomic uint64_t time_ns;  /* latest published sim time */
    uint64_t buf_frame[2];     /* frame and time of each copy */
    uint64_t buf_time[2];
};

struct hermes_shm_signal {
    char     name[HERMES_MAX_NAME + 1];  /* qualified */
    char     unit[HERMES_MAX_UNIT + 1];
    double   initial;
    uint32_t module_index;
    uint16_t local_offset;              /* index of the local name in name[] */
    uint8_t  type;
    uint8_t  writable;
    uint8_t  pad[16];
};                                      /* 192 bytes */

/* Per-module control block for the process-module handshake (lib/scheduler/drivers/process.c,
 * lib/module/module.c, lib/scheduler/drivers/process_wake.h). Two single-writer cache lines: the
 * orchestrator writes the command line, the module writes the reply line.
 * Each line starts with its own futex word, so every module has a dedicated
 * wake-up pair and no module can consume another's command. */
#define HERMES_SHM_CTRL_SIZE 512u
struct hermes_shm_ctrl {
    char name[HERMES_MAX_MODULE_NAME + 1];        /* 0: written once by the creator */
    /* One direction of the handshake: a futex word bumped by the poster. */
    struct hermes_shm_wake {
        _Atomic uint32_t seq;       /* futex word; bit 31 of the reply word = child died */
        _Atomic uint32_t sleeping;  /* waiter is (about to be) blocked in FUTEX_WAIT */
        _Atomic int32_t  cpu;       /* CPU of the last poster, for the spin heuristic */
        uint32_t         spin_ns;   /* waiter's spin budget before blocking (0: block) */
    } go;                           /* 64: orchestrator -> module */
    uint32_t cmd;                   /* 80: HERMES_CMD_* of command go.seq */
    uint32_t protocol;              /* orchestrator's process protocol version */
    uint64_t frame;                 /* frame of the command */
    double   dt;                    /* seconds */
    int32_t  orch_pid;              /* orchestrator process */
    uint32_t pad0[5];
    _Alignas(64) struct hermes_shm_wake done;     /* 128: module -> orchestrator; seq = go.seq answered */
    int32_t  status;                /* 144: 0 or the module's error code for that command */
    uint32_t mod_protocol;          /* protocol the module speaks (set with the hello reply) */
    int32_t  mod_pid;
    uint32_t mod_flags;             /* HERMES__MOD_STATE (set before the hello reply) */
    uint32_t pad1[8];
    char     msg[256];              /* 192: module's message for a failed command */
    uint8_t  reserved[HERMES_SHM_CTRL_SIZE - 448];
};

_Static_assert(sizeof(struct hermes_shm_header) % 64 == 0, "header is whole cache lines");
_Static_assert(sizeof(struct hermes_shm_signal) == 192, "directory entry size is part of the layout");
_Static_assert(sizeof(struct hermes_shm_ctrl) == HERMES_SHM_CTRL_SIZE, "control block size");
_Static_assert(offsetof(struct hermes_shm_ctrl, done) == 128 && offsetof(struct hermes_shm_ctrl, msg) == 192,
               "control block layout");

struct hermes_backplane {
    struct hermes_shm_header *hdr;
    struct hermes_shm_signal *dir;
    uint8_t  *ctrl;
    double   *live;
    double   *pub[2];
    size_t    size;
    uint32_t  count;
    uint32_t  tag;
    int       owner;
    char      name[64];
    /* qualified name -> index into dir, for find() (keys point into dir) */
    struct hermes__names index;
};

/* Consistent read of the published frame (lib/backplane/backplane.c): calls
 * copy(published, out, ctx) on the last completed copy, repeating it until no
 * publish overtook the copy, then stores that copy's frame and time (each
 * optional). copy must only read the published slots and write its own
 * output (the writer may race with it; a raced result is discarded), and
 * should be __attribute__((no_sanitize("thread"))).
 * @return 0 or HERMES_EAGAIN after about 10 ms of overtaken attempts. */
int hermes__backplane_read_consistent(const hermes_backplane_t *bp,
                                      void (*copy)(const double *, double *, const void *), const void *ctx,
                                      double *out, uint64_t *frame, uint64_t *time_ns);

/* Control block of module @p i (NULL if out of range). */
static inline void *hermes__bp_ctrl(hermes_backplane_t *bp, uint32_t i)
{
    return i < bp->hdr->module_count ? bp->ctrl + (size_t)i * HERMES_SHM_CTRL_SIZE : NULL;
}

#endif
