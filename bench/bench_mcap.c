/* MCAP recording figures (issue 23; printed, never asserted). For 10^3 and
 * 10^4 signals, one in-process module writing every signal each frame of an
 * afap run, recorded every frame:
 *   - the run without recording (reference), with HDF5, with MCAP (zstd, lz4,
 *     none) and with both: wall seconds from run() to the file closed, the
 *     writer thread's busy seconds, value throughput (8-byte values per
 *     second of writer time), file size and bytes per value;
 *   - write() of the same bytes as each file, in 1 MiB calls, same directory,
 *     same run: the floor any writer of that many bytes has.
 * Usage: bench_mcap [DIR] [VALUES]  (DIR: where files go, default .; VALUES:
 * signal values per size, default 10^7, i.e. 10^4 frames of 10^3 signals). */
#include <fcntl.h>
#include <hermes/hermes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "record_util.h"

#ifndef BUILD_TYPE
#define BUILD_TYPE "unknown"
#endif

struct result {
    double   wall, busy, size;
    uint64_t rows;
};

static double file_size(const char *path)
{
    struct stat sb;
    return path && stat(path, &sb) == 0 ? (double)sb.st_size : 0;
}

/* One run recorded to @p h5 and/or @p mcap (NULL: not that format). */
static struct result record(hermes_config_t *cfg, const char *h5, const char *mcap, hermes_mcap_compression_t c)
{
    hermes_scheduler_t *s;
    CHECK(hermes_scheduler_create(&s, cfg, NULL));
    hermes_recorder_t *r = NULL;
    if (h5 || mcap) {
        hermes_recorder_config_t rc;
        hermes_recorder_config_init(&rc);
        const char *pat[] = {"gen.*"};
        rc.path = h5;
        rc.mcap_path = mcap;
        rc.mcap_compression = c;
        rc.signals = pat;
        rc.signal_count = 1;
        CHECK(hermes_recorder_create(&r, s, &rc));
    }
    CHECK(hermes_scheduler_stage(s));
    double t0 = now();
    CHECK(hermes_scheduler_run(s));
    hermes_recorder_stats_t st;
    memset(&st, 0, sizeof st);
    if (r) {
        CHECK(hermes_recorder_close(r, "finished"));
        hermes_recorder_stats(r, &st);
    }
    struct result res = {now() - t0, st.writer_seconds, file_size(h5) + file_size(mcap), st.rows};
    hermes_recorder_destroy(r);
    hermes_scheduler_destroy(s);
    return res;
}

/* write() of @p bytes in 1 MiB calls; seconds. */
static double write_ref(const char *path, double bytes)
{
    size_t chunk = 1u << 20;
    char *buf = malloc(chunk);
    CHECK(buf ? 0 : -1);
    memset(buf, 0x5a, chunk);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    double w0 = now();
    for (double left = bytes; fd >= 0 && left > 0;) {
        size_t n = left < (double)chunk ? (size_t)left : chunk;
        if (write(fd, buf, n) != (ssize_t)n)
            break;
        left -= (double)n;
    }
    double w = now() - w0;
    if (fd >= 0)
        close(fd);
    unlink(path);
    free(buf);
    return w;
}

static void one_size(const char *dir, uint32_t nsig, double values)
{
    double frames = values / nsig;
    double rate = 1000;
    hermes_config_t *cfg = make(nsig, HERMES_MODE_AFAP, rate, (frames - 1) / rate);
    char h5[512], mc[512], raw[512];
    snprintf(h5, sizeof h5, "%s/bench_mcap.h5", dir);
    snprintf(mc, sizeof mc, "%s/bench_mcap.mcap", dir);
    snprintf(raw, sizeof raw, "%s/bench_mcap.raw", dir);
    struct result off = record(cfg, NULL, NULL, 0);
    printf("%u signals, %.0f frames afap (%.1f MB of values); no recording: %.3f s\n", nsig, frames,
           values * 8 / 1e6, off.wall);
    printf("  %-12s %8s %8s %10s %10s %8s %10s %8s\n", "format", "run s", "writer s", "Mvalues/s", "file MB",
           "B/value", "write() s", "writer/write()");
    static const struct {
        const char               *name;
        int                       h5, mcap;
        hermes_mcap_compression_t c;
    } cases[] = {{"hdf5", 1, 0, 0},
                 {"mcap zstd", 0, 1, HERMES_MCAP_ZSTD},
                 {"mcap lz4", 0, 1, HERMES_MCAP_LZ4},
                 {"mcap none", 0, 1, HERMES_MCAP_NONE},
                 {"hdf5 + zstd", 1, 1, HERMES_MCAP_ZSTD}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (cases[i].mcap && !hermes_mcap_compression_supported(cases[i].c)) {
            printf("  %-12s not built in\n", cases[i].name);
            continue;
        }
        struct result r = record(cfg, cases[i].h5 ? h5 : NULL, cases[i].mcap ? mc : NULL, cases[i].c);
        unlink(h5);
        unlink(mc);
        double w = write_ref(raw, r.size);
        double nv = (double)r.rows * nsig;
        printf("  %-12s %8.3f %8.3f %10.1f %10.1f %8.2f %10.3f %8.2fx\n", cases[i].name, r.wall, r.busy,
               nv / r.busy / 1e6, r.size / 1e6, r.size / nv, w, w / r.busy);
    }
    hermes_config_destroy(cfg);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    double values = argc > 2 ? atof(argv[2]) : 1e7;
    printf("bench_mcap (build type %s; recording %s; writer/write() is write() seconds of the file's bytes over\n"
           "the writer's busy seconds: 1.00x would be a writer as fast as writing its output)\n", BUILD_TYPE,
           hermes_recording_supported() ? "built" : "NOT built");
    if (!hermes_recording_supported())
        return 0;
    one_size(dir, 1000, values);
    one_size(dir, 10000, values);
    return 0;
}
