/* Recorder writer thread: appends ring slots, events and journal entries to the file, flushes it, reports failures. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recording/recorder_priv.h"
#include "common/util.h"

/* Writer: remember the HDF5 message and errno of the first failing call,
 * before later calls clear the thread's error stack. */
static void note(hermes_recorder_t *r)
{
    if (!r->h5msg[0]) {
        r->h5errno = errno;
        hermes__h5_message(r->h5msg, sizeof r->h5msg);
    }
}

void hermes__rec_writer_fail(hermes_recorder_t *r, const char *what, int err)
{
    char h5[256];
    note(r);
    hermes__strlcpy(h5, r->h5msg, sizeof h5);
    if (r->h5errno)
        err = r->h5errno;
    pthread_mutex_lock(&r->mu);
    if (!atomic_load(&r->failed)) {
        snprintf(r->errmsg, sizeof r->errmsg,
                 "recording to '%s' failed: %s after %llu frames (HDF5: %s%s%s); the file holds the frames up to "
                 "its last flush",
                 r->path, what, (unsigned long long)r->rows, h5, err ? "; system: " : "", err ? strerror(err) : "");
        atomic_store(&r->failed, HERMES_ESYS);
    }
    pthread_cond_broadcast(&r->cv_space);
    pthread_mutex_unlock(&r->mu);
    hermes__log(HERMES_LOG_ERROR, "recorder", "event=write_failed file=%s frames=%llu", r->path,
                (unsigned long long)r->rows);
}

static int extend(hid_t d, hsize_t rows)
{
    return H5Dset_extent(d, &rows) < 0 ? -1 : 0;
}

/* Append ring slots [pos, pos + n) (contiguous). */
static int write_rows(hermes_recorder_t *r, uint64_t pos, uint64_t n)
{
    const hsize_t total = r->rows + n;
    hsize_t ddims[2] = {total, r->n};
    if (H5Dset_extent(r->d_data, ddims) < 0 || extend(r->d_frame, total) || extend(r->d_time, total) ||
        extend(r->d_tick, total)) {
        note(r);
        return -1;
    }
    int rc = 0;
    /* data: n contiguous rows of the value ring */
    if (r->n) {
        hsize_t mcount[2] = {n, r->n};
        hid_t dms = H5Screate_simple(2, mcount, NULL);
        hid_t fs = H5Dget_space(r->d_data);
        hsize_t fstart[2] = {r->rows, 0};
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, fstart, NULL, mcount, NULL);
        if (H5Dwrite(r->d_data, H5T_NATIVE_DOUBLE, dms, fs, H5P_DEFAULT, r->vals + pos * r->n) < 0) {
            note(r);
            rc = -1;
        }
        H5Sclose(fs);
        H5Sclose(dms);
    }
    /* Header ring as a 2-D array [cap, 3] of 8-byte cells. */
    hsize_t mdims[2] = {r->cap, HDR_WORDS};
    hid_t ms = H5Screate_simple(2, mdims, NULL);
    /* header columns: tick, frame, time */
    const hid_t ds[3] = {r->d_tick, r->d_frame, r->d_time};
    const hid_t mt[3] = {H5T_NATIVE_UINT64, H5T_NATIVE_UINT64, H5T_NATIVE_DOUBLE};
    for (int c = 0; c < 3 && rc == 0; c++) {
        hsize_t mstart[2] = {pos, (hsize_t)c}, mcount[2] = {n, 1};
        H5Sselect_hyperslab(ms, H5S_SELECT_SET, mstart, NULL, mcount, NULL);
        hid_t fs = H5Dget_space(ds[c]);
        hsize_t fstart = r->rows, fcount = n;
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &fstart, NULL, &fcount, NULL);
        if (H5Dwrite(ds[c], mt[c], ms, fs, H5P_DEFAULT, r->hdr) < 0) {
            note(r);
            rc = -1;
        }
        H5Sclose(fs);
    }
    H5Sclose(ms);
    if (rc == 0)
        r->rows = total;
    return rc;
}

static int append_table(hermes_recorder_t *r, hid_t d, hid_t type, uint64_t *count, const void *row)
{
    hsize_t total = *count + 1;
    if (H5Dset_extent(d, &total) < 0) {
        note(r);
        return -1;
    }
    hid_t fs = H5Dget_space(d);
    hsize_t start = *count, one = 1;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &one, NULL);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    herr_t rc = H5Dwrite(d, type, ms, fs, H5P_DEFAULT, row);
    if (rc < 0)
        note(r);
    H5Sclose(ms);
    H5Sclose(fs);
    if (rc < 0)
        return -1;
    *count = total;
    return 0;
}

static int write_queue(hermes_recorder_t *r)
{
    pthread_mutex_lock(&r->qmu);
    struct qentry *q = r->q;
    size_t n = r->qlen;
    r->q = NULL;
    r->qlen = r->qcap = 0;
    pthread_mutex_unlock(&r->qmu);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0 && r->h5; i++)
        rc = q[i].is_event ? append_table(r, r->d_events, r->t_event, &r->nevents, &q[i].u.ev)
                           : append_table(r, r->d_journal, r->t_journal, &r->njournal, &q[i].u.jr);
    if (rc == 0 && hermes__rec_mcap_entries(r, q, n) != 0) {
        free(q);
        return -2;
    }
    free(q);
    return rc;
}

static int take_queue(hermes_recorder_t *r);

/* Append the filled slots at the tail, in chunk-aligned pieces (whole-chunk
 * writes stay out of the chunk cache). Returns whether it wrote, -1 on failure. */
static int drain_some(hermes_recorder_t *r)
{
    uint64_t pos, n = hermes__rec_ring_peek(r, &pos);
    if (!n)
        return 0;
    if (r->hold) {  /* test-only: until the ring is full (the producer waits) or 5 s */
        for (int i = 0; i < 5000 && !atomic_load(&r->producer_waiting) && !atomic_load(&r->stopping); i++)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        n = hermes__rec_ring_peek(r, &pos);
    }
    uint64_t to_edge = r->chunk_frames - r->rows % r->chunk_frames;
    if (n > to_edge)
        n = to_edge;
    /* Events and journal entries queued so far, after the peek: every entry
     * of a tick below a peeked frame's is then among them (the MCAP file
     * writes them before that frame). */
    if (take_queue(r) != 0)
        return -1;
    errno = 0;
    uint64_t b0 = hermes__now_ns();
    if (r->h5 && write_rows(r, pos, n) != 0) {
        hermes__rec_writer_fail(r, "cannot write frames", errno);
        return -1;
    }
    if (r->mcap && hermes__rec_mcap_rows(r, pos, n) != 0) {
        hermes__rec_mcap_fail(r);
        return -1;
    }
    if (!r->h5)
        r->rows += n;
    atomic_fetch_add(&r->st_busy_ns, hermes__now_ns() - b0);
    hermes__rec_ring_release(r, n);
    return 1;
}

/* The queue into the HDF5 tables and the MCAP waiting list; -1 on failure (reported). */
static int take_queue(hermes_recorder_t *r)
{
    errno = 0;
    int rc = write_queue(r);
    if (rc == -2)
        hermes__rec_mcap_fail(r);
    else if (rc)
        hermes__rec_writer_fail(r, "cannot append to the event or journal table", errno);
    return rc ? -1 : 0;
}

static bool queue_pending(hermes_recorder_t *r)
{
    pthread_mutex_lock(&r->qmu);
    bool queued = r->qlen > 0;
    pthread_mutex_unlock(&r->qmu);
    return queued;
}

static int flush(hermes_recorder_t *r)
{
    errno = 0;
    uint64_t b0 = hermes__now_ns();
    if (H5Fflush(r->file, H5F_SCOPE_LOCAL) < 0) {
        hermes__rec_writer_fail(r, "cannot flush", errno);
        return -1;
    }
    atomic_fetch_add(&r->st_busy_ns, hermes__now_ns() - b0);
    atomic_fetch_add(&r->st_flushes, 1);
    return 0;
}

void *hermes__rec_writer_main(void *arg)
{
    hermes_recorder_t *r = arg;
    hermes__h5_quiet();
    uint64_t next_flush = hermes__now_ns() + (uint64_t)r->flush_ns;
    bool dirty = false;
    for (;;) {
        int wrote = drain_some(r);
        if (wrote < 0)
            break;
        dirty |= wrote > 0;
        if (queue_pending(r)) {
            if (take_queue(r) != 0)
                break;
            dirty = true;
        }
        if (hermes__rec_mcap_age(r) != 0) {
            hermes__rec_mcap_fail(r);
            break;
        }
        uint64_t now = hermes__now_ns();
        if (now >= next_flush) {
            if (dirty && r->h5 && flush(r) != 0)
                break;
            dirty = false;
            next_flush = now + (uint64_t)r->flush_ns;
        }
        if (wrote)
            continue;
        /* Idle: sleep until data arrives, the next flush or a stop. */
        uint64_t wake = next_flush < now + 50000000u ? next_flush : now + 50000000u;
        if (hermes__rec_ring_idle(r, wake) && !queue_pending(r))
            break;
    }
    return NULL;
}
