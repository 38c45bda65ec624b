/* Recorder figures (printed, never asserted):
 *   1. writer throughput: bytes of signal data per second while recording
 *      10,000 signals every frame of an afap run (run start to file closed),
 *      beside write() of the same bytes in 1 MiB calls to the same directory;
 *   2. scheduler cost: overruns of a 1 kHz realtime run of 100 signals,
 *      without and with recording every frame, same length;
 *   3. scale: 10^4 and 10^5 signals, 101 frames afap (1 s at 100 Hz): whole
 *      run (scheduler create to destroy) without and with recording, the
 *      recording's throughput beside write() of the same bytes, and the file
 *      size over the value bytes.
 * Usage: bench_record [DIR] [FRAMES] [SECONDS]  (DIR: where files go, default .) */
#include <fcntl.h>
#include <hermes/hermes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "record_util.h"

#ifndef BUILD_TYPE
#define BUILD_TYPE "unknown"
#endif

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    int frames = argc > 2 ? atoi(argv[2]) : 2000;
    double seconds = argc > 3 ? atof(argv[3]) : 5.0;
    printf("bench_record (build type %s, hdf5 recording %s)\n", BUILD_TYPE,
           hermes_recording_supported() ? "built" : "NOT built");
    if (!hermes_recording_supported())
        return 0;
    char h5[512], raw[512];
    snprintf(h5, sizeof h5, "%s/bench_record.h5", dir);
    snprintf(raw, sizeof raw, "%s/bench_record.raw", dir);

    /* 1. throughput, 10,000 signals, every frame, afap; three rounds of
     * (recording, write() of the same bytes in 1 MiB calls to the same
     * directory), alternated so both see the same machine; best of each. */
    const uint32_t nsig = 10000;
    hermes_config_t *cfg = make(nsig, HERMES_MODE_AFAP, 1000, frames / 1000.0);
    size_t chunk = 1u << 20;
    char *buf = malloc(chunk);
    memset(buf, 0x5a, chunk);
    double best_e2e = 0, best_busy = 0, best_raw = 0, bytes = 0, best_dur = 0, best_rawdur = 0;
    hermes_recorder_stats_t st;
    for (int round = 0; round < 3; round++) {
        uint64_t ov = 0;
        memset(&st, 0, sizeof st);
        double t = run(cfg, h5, &ov, &st);
        bytes = (double)st.bytes;
        /* durable: the recording's bytes on disk, as with write() + fsync below */
        double f0 = now();
        int hfd = open(h5, O_RDONLY);
        if (hfd >= 0) {
            fsync(hfd);
            close(hfd);
        }
        double tf = t + now() - f0;
        best_dur = bytes / tf > best_dur ? bytes / tf : best_dur;
        unlink(h5);
        printf("  round %d: recording %.1f MB in %.3f s (writer busy %.3f s, ring stalls %llu)", round + 1,
               bytes / 1e6, t, st.writer_seconds, (unsigned long long)st.stalls);
        best_e2e = bytes / t > best_e2e ? bytes / t : best_e2e;
        best_busy = bytes / st.writer_seconds > best_busy ? bytes / st.writer_seconds : best_busy;
        int fd = open(raw, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        double w0 = now();
        double left = bytes;
        while (fd >= 0 && left > 0) {
            size_t n = left < (double)chunk ? (size_t)left : chunk;
            if (write(fd, buf, n) != (ssize_t)n)
                break;
            left -= (double)n;
        }
        double w = now() - w0;
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        double wf = now() - w0;
        unlink(raw);
        printf("; write() %.3f s, + fsync %.3f s; recording + fsync %.3f s\n", w, wf, tf);
        best_raw = bytes / w > best_raw ? bytes / w : best_raw;
        best_rawdur = bytes / wf > best_rawdur ? bytes / wf : best_rawdur;
    }
    free(buf);
    hermes_config_destroy(cfg);
    printf("writer throughput, %u signals x %llu frames every frame of an afap run (best of 3):\n", nsig,
           (unsigned long long)st.rows);
    printf("  writer thread (writing + flushing): %.0f MB/s; end to end (run start to file closed, the scheduler\n"
           "  computing and copying every frame on the same 2 cores): %.0f MB/s\n", best_busy / 1e6, best_e2e / 1e6);
    printf("  reference write() of the same bytes, same directory, same run: %.0f MB/s\n", best_raw / 1e6);
    printf("  ratio writer / write(): %.2fx (target >= 0.5x); end to end / write(): %.2fx\n", best_busy / best_raw,
           best_e2e / best_raw);
    printf("  durable (both followed by fsync): recording end to end %.0f MB/s, write() %.0f MB/s: %.2fx\n",
           best_dur / 1e6, best_rawdur / 1e6, best_dur / best_rawdur);

    /* 3. scale (first, on a quiet machine): 10^4 and 10^5 signals */
    printf("scale, afap 1 s at 100 Hz, one in-process module writing every signal (build type %s):\n", BUILD_TYPE);
    scale(10000, h5, raw);
    scale(100000, h5, raw);

    /* 2. scheduler cost at 1 kHz realtime, 100 signals */
    uint64_t ov_off = 0, ov_on = 0;
    cfg = make(100, HERMES_MODE_REALTIME, 1000, seconds);
    run(cfg, NULL, &ov_off, NULL);
    memset(&st, 0, sizeof st);
    run(cfg, h5, &ov_on, &st);
    hermes_config_destroy(cfg);
    unlink(h5);
    uint64_t nframes = (uint64_t)(seconds * 1000);
    printf("scheduler cost, 100 signals at 1 kHz realtime, %llu frames each: overruns without recording %llu "
           "(%.2f %%), with recording %llu (%.2f %%), recorded rows %llu, ring stalls %llu\n",
           (unsigned long long)nframes, (unsigned long long)ov_off, 100.0 * (double)ov_off / (double)nframes,
           (unsigned long long)ov_on, 100.0 * (double)ov_on / (double)nframes, (unsigned long long)st.rows,
           (unsigned long long)st.stalls);
    printf("overrun increase: %+.2f %% of frames; %s (target <= +10 %%)\n",
           100.0 * ((double)ov_on - (double)ov_off) / (double)nframes,
           ov_off ? "relative change printed next" : "no overruns without recording");
    if (ov_off)
        printf("relative change of overruns: %+.1f %%\n", 100.0 * ((double)ov_on - (double)ov_off) / (double)ov_off);
    return 0;
}
