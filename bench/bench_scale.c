/* 10^4 and 10^5 signals with everything on (issue 18). Figures printed,
 * never asserted, each beside a reference measured in the same run:
 *   1. `hermes run` start to frame 0 with the server (hermes + Foxglove) and
 *      --record on, beside the same config with --no-server and no record;
 *   2. greeting bytes and time of 10 clients connecting at once (hermes
 *      schema; Foxglove serverInfo + advertise), beside a 10-signal run;
 *   3. recording: the run without/with recording, writer throughput beside
 *      write() of the same bytes, file size over value bytes (record_util.h,
 *      shared with bench_record);
 *   4. idle CPU and thread wakeups per second of a realtime 100 Hz run with
 *      the server on and no client (1, 10^4 and 10^5 signals), beside the
 *      same run with --no-server.
 * Usage: bench_scale HERMES_EXE [DIR] */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "record_util.h"

#ifndef BUILD_TYPE
#define BUILD_TYPE "unknown"
#endif

static const char *exe, *dir;
static char logf[600];

static void write_config(const char *path, uint32_t n, const char *exec)
{
    FILE *f = fopen(path, "w");
    CHECK(f ? 0 : -1);
    fprintf(f, "version: \"0.2\"\nmodules:\n  m0:\n    type: injection\n    signals:\n");
    for (uint32_t k = 0; k < n; k++)
        fprintf(f, "      - {name: s%u, type: f64, unit: m, initial: 0.5}\n", k);
    fprintf(f, "execution:\n%sserver:\n  enabled: true\n  port: 0\n", exec);
    CHECK(fclose(f));
}

static pid_t spawn(const char *const *args)
{
    unlink(logf);  /* no line of the previous child is read as this one's */
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logf, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd < 0)
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        char *argv[24];
        int k = 0;
        argv[k++] = (char *)exe;
        argv[k++] = (char *)"run";
        for (int i = 0; args[i] && k < 23; i++)
            argv[k++] = (char *)args[i];
        argv[k] = NULL;
        execv(exe, argv);
        _exit(127);
    }
    return pid;
}

/* Seconds until the log has @p needle (and the port after "port=" in *port), or -1. */
static double wait_line(pid_t pid, const char *needle, double t0, double seconds, int *port)
{
    while (now() - t0 < seconds) {
        FILE *f = fopen(logf, "r");
        char line[2048];
        while (f && fgets(line, sizeof line, f)) {
            const char *p = strstr(line, needle);
            if (!p)
                continue;
            double t = now() - t0;
            if (port && (p = strstr(p, " port=")))
                *port = atoi(p + 6);
            fclose(f);
            return t;
        }
        if (f)
            fclose(f);
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        usleep(1000);
    }
    return -1;
}

static void stop(pid_t pid)
{
    kill(pid, SIGINT);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* ---- 1. start-up ------------------------------------------------------------- */

static void startup(uint32_t n)
{
    char cfg[600], h5[600];
    snprintf(cfg, sizeof cfg, "%s/bench_scale_afap.yaml", dir);
    snprintf(h5, sizeof h5, "%s/bench_scale_start.h5", dir);
    write_config(cfg, n, "  mode: afap\n  rate_hz: 100\n  end_time: 0.05\n");
    double best_on = 1e9, best_off = 1e9;
    for (int round = 0; round < 3; round++) {
        const char *on[] = {cfg, "--port", "0", "--record", h5, NULL};
        const char *off[] = {cfg, "--no-server", NULL};
        for (int v = 0; v < 2; v++) {
            double t0 = now();
            pid_t pid = spawn(v ? off : on);
            double t = wait_line(pid, "event=running frame=0", t0, 120, NULL);
            waitpid(pid, NULL, 0);
            double *best = v ? &best_off : &best_on;
            *best = t >= 0 && t < *best ? t : *best;
        }
        unlink(h5);
    }
    printf("  %6u signals: exec to the frame 0 log line with server + Foxglove + recording %.3f s; "
           "reference --no-server, no recording: %.3f s (best of 3)\n",
           n, best_on, best_off);
    unlink(cfg);
}

/* ---- 2. greetings -------------------------------------------------------------- */

/* Connect and send the upgrade without waiting for the answer, so the 10
 * clients' greetings are measured concurrently (read_texts() skips it). */
static int ws_connect(int port, const char *protocol)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char req[512];
    int len = snprintf(req, sizeof req,
                       "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Protocol: %s\r\n\r\n",
                       port, protocol);
    if (write(fd, req, (size_t)len) != len) {
        close(fd);
        return -1;
    }
    return fd;
}

static int read_full(int fd, void *buf, size_t n, double end)
{
    size_t got = 0;
    while (got < n && now() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return got == n ? 0 : -1;
}

/* Skip the HTTP response, then read frames until @p count text messages;
 * their total bytes, or -1. */
static long read_texts(int fd, int count, double end)
{
    char c[4] = {0};
    while (memcmp(c, "\r\n\r\n", 4) != 0) {
        memmove(c, c + 1, 3);
        if (read_full(fd, c + 3, 1, end))
            return -1;
    }
    long total = 0;
    static char tmp[1 << 16];
    while (count > 0) {
        unsigned char h[2];
        if (read_full(fd, h, 2, end))
            return -1;
        uint64_t len = h[1] & 0x7f;
        unsigned char e[8];
        if (len == 126 || len == 127) {
            int k = len == 126 ? 2 : 8;
            if (read_full(fd, e, (size_t)k, end))
                return -1;
            len = 0;
            for (int i = 0; i < k; i++)
                len = len << 8 | e[i];
        }
        for (uint64_t left = len; left;) {
            size_t n = left < sizeof tmp ? (size_t)left : sizeof tmp;
            if (read_full(fd, tmp, n, end))
                return -1;
            left -= n;
        }
        if ((h[0] & 0x0f) == 1) {
            total += (long)len;
            count--;
        }
    }
    return total;
}

/* 10 clients at once; seconds until the last has its greeting, bytes of one. */
static double greet(int port, const char *protocol, int texts, long *bytes)
{
    int fds[10];
    double t0 = now();
    for (int i = 0; i < 10; i++)
        fds[i] = ws_connect(port, protocol);
    *bytes = 0;
    for (int i = 0; i < 10; i++) {
        long b = fds[i] >= 0 ? read_texts(fds[i], texts, t0 + 60) : -1;
        *bytes = b > *bytes ? b : *bytes;
        if (b < 0)
            *bytes = -1;
    }
    double t = now() - t0;
    for (int i = 0; i < 10; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return *bytes < 0 ? -1 : t;
}

struct greet_fig {
    double th, tf;  /* seconds for 10 clients, -1 on failure */
    long   hb, fb;  /* greeting bytes of one client */
};

static struct greet_fig greetings(uint32_t n)
{
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/bench_scale_rt.yaml", dir);
    write_config(cfg, n, "  mode: realtime\n  rate_hz: 20\n");
    const char *args[] = {cfg, "--port", "0", "--paused", NULL};
    pid_t pid = spawn(args);
    int port = -1;
    struct greet_fig g = {-1, -1, 0, 0};
    if (wait_line(pid, "event=listening", now(), 120, &port) >= 0) {
        g.th = greet(port, "hermes", 1, &g.hb);
        g.tf = greet(port, "foxglove.websocket.v1", 2, &g.fb);
    }
    stop(pid);
    unlink(cfg);
    return g;
}

/* ---- 4. idle CPU ----------------------------------------------------------------- */

static double cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Context switches (voluntary + involuntary) of all of @p pid's threads:
 * every wakeup of a sleeping thread is one. -1 when unreadable. */
static double wakeups(pid_t pid)
{
    char path[96], line[256];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    double sum = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/status", (int)pid, e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long v;
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "voluntary_ctxt_switches: %lu", &v) == 1 ||
                sscanf(line, "nonvoluntary_ctxt_switches: %lu", &v) == 1)
                sum += (double)v;
        if (f)
            fclose(f);
    }
    closedir(d);
    return sum;
}

struct idle_fig {
    double cpu;   /* percent of a core */
    double wake;  /* thread wakeups per second */
};

/* CPU and wakeups over @p seconds once running, server on or off. */
static struct idle_fig idle(uint32_t n, bool server, double seconds)
{
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/bench_scale_idle.yaml", dir);
    write_config(cfg, n, "  mode: realtime\n  rate_hz: 100\n");
    const char *on[] = {cfg, "--port", "0", NULL}, *off[] = {cfg, "--no-server", NULL};
    pid_t pid = spawn(server ? on : off);
    struct idle_fig fig = {-1, -1};
    if (wait_line(pid, "event=running frame=0", now(), 120, NULL) >= 0) {
        usleep(500000);  /* past start-up */
        double c0 = cpu_seconds(pid), w0 = wakeups(pid), t0 = now();
        usleep((useconds_t)(seconds * 1e6));
        double c1 = cpu_seconds(pid), w1 = wakeups(pid), t1 = now();
        fig.cpu = c0 >= 0 && c1 >= 0 ? 100 * (c1 - c0) / (t1 - t0) : -1;
        fig.wake = w0 >= 0 && w1 >= 0 ? (w1 - w0) / (t1 - t0) : -1;
    }
    stop(pid);
    unlink(cfg);
    return fig;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_scale HERMES_EXE [DIR]\n");
        return 2;
    }
    exe = argv[1];
    dir = argc > 2 ? argv[2] : ".";
    snprintf(logf, sizeof logf, "%s/bench_scale.log", dir);
    printf("bench_scale (build type %s; one injection module, signals s0..sN-1, f64)\n", BUILD_TYPE);
    const uint32_t sizes[] = {10000, 100000};
    printf("1. start-up\n");
    for (int i = 0; i < 2; i++)
        startup(sizes[i]);
    printf("2. greetings, 10 clients connecting at once (per connection: the 10 clients' time / 10)\n");
    struct greet_fig ref = greetings(10);
    for (int i = 0; i < 2; i++) {
        struct greet_fig g = greetings(sizes[i]);
        printf("  %6u signals: hermes schema %.2f MB, 10 clients %.3f s (%.1f ms per connection); Foxglove "
               "serverInfo + advertise %.2f MB, 10 clients %.3f s (%.1f ms per connection); reference 10-signal "
               "run: %.1f ms hermes, %.1f ms Foxglove per connection\n",
               sizes[i], g.hb / 1e6, g.th, g.th * 100, g.fb / 1e6, g.tf, g.tf * 100, ref.th * 100, ref.tf * 100);
    }
    printf("3. recording, 101 frames afap (record_util.h, as bench_record)\n");
    if (hermes_recording_supported()) {
        char h5[600], raw[600];
        snprintf(h5, sizeof h5, "%s/bench_scale.h5", dir);
        snprintf(raw, sizeof raw, "%s/bench_scale.raw", dir);
        for (int i = 0; i < 2; i++)
            scale(sizes[i], h5, raw);
    } else {
        printf("  hdf5 recording not built\n");
    }
    printf("4. idle CPU, realtime 100 Hz, no client, 5 s (target <= 0.5 %% of a core with the server on; wakeups: "
           "context switches of all threads per second, the scheduler's 100 Hz frame pacing included)\n");
    const uint32_t isizes[] = {1, 10000, 100000};
    for (int i = 0; i < 3; i++) {
        struct idle_fig on = idle(isizes[i], true, 5), off = idle(isizes[i], false, 5);
        printf("  %6u signals: server on %.2f %% of a core, %.0f wakeups/s; reference --no-server %.2f %%, "
               "%.0f wakeups/s\n",
               isizes[i], on.cpu, on.wake, off.cpu, off.wake);
    }
    unlink(logf);
    return 0;
}
