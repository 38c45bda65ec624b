/* Load, soak and connection-churn test of the real `hermes run` over 127.0.0.1.
 *
 * Starts `hermes run` on a generated config (module `load`: N f64 signals from
 * libloadgen.so, value = frame * 1000 + index; module `ctrl`: one writable
 * injection signal; realtime at 1 kHz, server on a free port), then from this
 * process, with raw sockets and one epoll loop (the approach of
 * bench_fanout_client.c, extended to reassemble and check every message):
 *
 *   soak   CLIENTS healthy clients subscribed to `load.*` at the server rate
 *          for SECONDS, each checking EVERY frame (magic, length, count, time,
 *          and every value against the frame number in the header: a single
 *          mismatch is a torn frame); STALLED clients that stop reading for
 *          most of the window (their stale frames are dropped by the server
 *          and counted); one monitor client reading hermes.overruns; one storm
 *          client sending STORM commands/s, valid and invalid mixed, checking
 *          that every one is answered, in order, with an ack or an error as
 *          expected;
 *   churn  CHURN connect/disconnect cycles from 4 threads, clean and abrupt
 *          mixed (close frame, RST after upgrade, RST or FIN mid-handshake,
 *          connect-and-drop, subscribe-then-RST, subscribe-check-close);
 *
 * sampling hermes' RSS, open fds, threads and CPU from /proc before and after
 * each phase, then stops it with SIGINT, reads overruns from its summary line
 * and checks that its shared-memory segment is gone. Prints a results table
 * and PASS/FAIL per criterion; exits 0 only if every criterion holds.
 *
 * usage: hermes_load --hermes PATH --module LIBLOADGEN [options]
 *   --seconds S (60)  --clients N (200)  --stalled N (2)  --signals N (1000)
 *   --storm R (1000)  --churn N (10000)  --min-hz HZ (59)  --fd-slack N (2)
 *   --max-rss-growth-kib K (16384)  --keep (keep the work directory)       */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STRIDE       1000.0       /* loadgen.c: value = frame * STRIDE + index */
#define FRAME_MAGIC  0x48455254u
#define CHURN_THREADS 4
#define EXPECT_RING  (1u << 16)

/* ---- options and small helpers -------------------------------------------------- */

static struct {
    const char *hermes, *module;
    double      seconds;
    int         clients, stalled, signals, storm_rate, churn, fd_slack;
    double      min_hz;
    long        max_rss_growth_kib;
    bool        keep;
} opt = {NULL, NULL, 60, 200, 2, 1000, 1000, 10000, 2, 59, 16384, false};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec * 1e-6;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hermes_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        die("out of memory");
    return p;
}

/* ---- the hermes process ----------------------------------------------------------- */

static pid_t    hermes_pid = -1;
static int      hermes_status;  /* wait status, once reaped */
static char     workdir[256], log_path[300], yaml_path[300], run_name[64];
static uint16_t port;

struct sample {
    long   rss_kib, threads;
    int    fds;
    double cpu_s, t;
};

static struct sample sample_hermes(void)
{
    struct sample s = {-1, -1, -1, -1, now_s()};
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)hermes_pid);
    FILE *f = fopen(path, "r");
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "VmRSS:", 6))
                s.rss_kib = strtol(line + 6, NULL, 10);
            else if (!strncmp(line, "Threads:", 8))
                s.threads = strtol(line + 8, NULL, 10);
        }
        fclose(f);
    }
    snprintf(path, sizeof path, "/proc/%d/fd", (int)hermes_pid);
    DIR *d = opendir(path);
    if (d) {
        s.fds = 0;
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                s.fds++;
        closedir(d);
    }
    snprintf(path, sizeof path, "/proc/%d/stat", (int)hermes_pid);
    f = fopen(path, "r");
    if (f) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        char *p = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            s.cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    return s;
}

static bool hermes_alive(void)
{
    if (hermes_pid <= 0)
        return false;
    pid_t r = waitpid(hermes_pid, &hermes_status, WNOHANG);
    if (r == hermes_pid) {
        hermes_pid = -hermes_pid;  /* reaped: remember it for messages */
        return false;
    }
    return true;
}

static void write_config(void)
{
    FILE *f = fopen(yaml_path, "w");
    if (!f)
        die("cannot write %s: %s", yaml_path, strerror(errno));
    fprintf(f, "# generated by hermes_load\nversion: \"0.2\"\nmodules:\n  load:\n    type: inproc\n"
               "    library: %s\n    signals:\n", opt.module);
    for (int i = 0; i < opt.signals; i++)
        fprintf(f, "      - {name: s%04d, type: f64}\n", i);
    fprintf(f, "  ctrl:\n    type: injection\n    signals:\n"
               "      - {name: knob, type: f64, writable: true, initial: 0.0}\n"
               "execution:\n  mode: realtime\n  rate_hz: 1000\n"
               "server:\n  enabled: true\n  host: 127.0.0.1\n  port: 0\n  telemetry_hz: 60\n");
    if (fclose(f) != 0)
        die("cannot write %s", yaml_path);
}

static void start_hermes(void)
{
    snprintf(run_name, sizeof run_name, "hermes-load-%d", (int)getpid());
    pid_t parent = getpid();
    hermes_pid = fork();
    if (hermes_pid < 0)
        die("fork: %s", strerror(errno));
    if (hermes_pid == 0) {
        /* If the load process dies, hermes gets SIGTERM and cleans up after itself. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        execl(opt.hermes, "hermes", "run", yaml_path, "--port", "0", "--run-name", run_name, (char *)NULL);
        _exit(127);
    }
    /* Wait for event=listening ... port=N in its log. */
    double t0 = now_s();
    while (now_s() - t0 < 20) {
        FILE *f = fopen(log_path, "r");
        char line[4096];
        while (f && fgets(line, sizeof line, f)) {
            char *p = strstr(line, "event=listening");
            char *q = p ? strstr(p, " port=") : NULL;
            if (q) {
                port = (uint16_t)strtoul(q + 6, NULL, 10);
                fclose(f);
                return;
            }
        }
        if (f)
            fclose(f);
        if (!hermes_alive())
            die("hermes exited during start-up (status %d); see %s",
                WIFEXITED(hermes_status) ? WEXITSTATUS(hermes_status) : -1,
                log_path);
        sleep_s(0.02);
    }
    kill(hermes_pid, SIGKILL);
    die("hermes did not log event=listening within 20 s; see %s", log_path);
}

/* ---- WebSocket framing (client side) -------------------------------------------- */

static const char UPGRADE[] =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: hermes\r\n\r\n";

/* Encode one masked client frame (zero mask: payload unchanged) into @p out. */
static size_t ws_encode(unsigned char *out, int opcode, const void *payload, size_t len)
{
    size_t h = 0;
    out[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        out[h++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        out[h++] = 0x80 | 126;
        out[h++] = (unsigned char)(len >> 8);
        out[h++] = (unsigned char)len;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    memset(out + h, 0, 4);
    h += 4;
    memcpy(out + h, payload, len);
    return h + len;
}

/* Parse one frame header at @p p (@p n bytes available). Returns the header
 * length, 0 if incomplete. */
static size_t ws_header(const unsigned char *p, size_t n, int *fin, int *opcode, uint64_t *len)
{
    if (n < 2)
        return 0;
    size_t h = 2;
    unsigned l = p[1] & 0x7f;
    if (l == 126)
        h += 2;
    else if (l == 127)
        h += 8;
    if (p[1] & 0x80)
        h += 4;  /* servers never mask, but tolerate it */
    if (n < h)
        return 0;
    uint64_t v = l;
    if (l == 126)
        v = (uint64_t)p[2] << 8 | p[3];
    else if (l == 127)
        for (int i = 0; i < 8; i++)
            v = v << 8 | p[2 + i];
    *fin = p[0] >> 7;
    *opcode = p[0] & 0x0f;
    *len = v;
    return h;
}

struct frame_check {
    unsigned long frames, torn, malformed, backwards;
    uint64_t      last_frame;
};

/* Check one telemetry frame: magic and length always; with @p expect_count >= 0
 * the count; with @p load_values every value against the header's frame. */
static void check_frame(struct frame_check *fc, const unsigned char *p, size_t len, int expect_count,
                        bool load_values)
{
    uint32_t magic, count;
    uint64_t frame;
    double   t;
    if (len < 24) {
        fc->malformed++;
        return;
    }
    memcpy(&magic, p, 4);
    memcpy(&frame, p + 4, 8);
    memcpy(&t, p + 12, 8);
    memcpy(&count, p + 20, 4);
    if (magic != FRAME_MAGIC || len != 24 + 8 * (size_t)count ||
        (expect_count >= 0 && count != (uint32_t)expect_count)) {
        fc->malformed++;
        return;
    }
    fc->frames++;
    if (frame < fc->last_frame)
        fc->backwards++;
    fc->last_frame = frame;
    if (!load_values)
        return;
    bool torn = fabs(t - (double)frame * 1e-3) > 1e-9 * (1.0 + (double)frame);
    const double base = (double)frame * STRIDE;
    for (uint32_t i = 0; i < count && !torn; i++) {
        double v;
        memcpy(&v, p + 24 + 8 * (size_t)i, 8);
        torn = v != base + (double)i;
    }
    if (torn)
        fc->torn++;
}

/* Minimal field readers for the server's compact JSON replies. */
static bool json_str(const char *js, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(js, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < cap)
        out[n++] = *p++;
    out[n] = '\0';
    return true;
}

static bool json_num(const char *js, const char *key, double *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(js, pat);
    if (!p)
        return false;
    char *end;
    *out = strtod(p + strlen(pat), &end);
    return end != p + strlen(pat);
}

/* ---- soak: one epoll loop, every connection non-blocking ------------------------ */

enum role { R_HEALTHY, R_STALLED, R_MONITOR, R_STORM };
enum phase { P_CONNECT, P_SETTLE, P_MEASURE, P_FINAL, P_CLOSE, P_DONE };

struct conn {
    int            fd;
    enum role      role;
    bool           upgraded, schema, subscribed, stalled, sent_close, peer_closed, eof, stats_asked, got_stats;
    unsigned char *in;
    size_t         in_len, in_cap;
    unsigned char *msg;                 /* fragmented message being reassembled */
    size_t         msg_len, msg_cap;
    int            msg_opcode;
    unsigned char *out;
    size_t         out_len, out_cap;
    struct frame_check fc;
    unsigned long  window_frames, texts, unexpected_errors;
    double         srv_sent, srv_dropped, last_value, srv_dropped0;
    int            stats_replies;
};

struct storm {
    unsigned long sent, valid_sent, invalid_sent, backpressure, acks, errors, events;
    unsigned long id_expected, id_answered, idless_expected, idless_got;
    unsigned long wrong_kind, unknown_id, id_out_of_order, fifo_violations, busy;
    long          last_id;
    char          expect[EXPECT_RING];  /* by id: 'A' ack, 'E' error with the id, 0 not pending */
    char          fifo[EXPECT_RING];    /* every message in send order: 'A' or 'E' */
    unsigned long head, tail;
    char          first_mismatch[256], first_fifo[256];
};

static struct conn  *conns;
static int           nconns, ep;
static struct storm  storm = {.last_id = -1};
static enum phase    phase;

static void conn_flush(struct conn *c)
{
    while (c->out_len) {
        ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        memmove(c->out, c->out + w, c->out_len - (size_t)w);
        c->out_len -= (size_t)w;
    }
    struct epoll_event ev = {.events = (c->stalled ? 0u : EPOLLIN) | (c->out_len ? EPOLLOUT : 0u),
                             .data.u32 = (uint32_t)(c - conns)};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Queue one frame; false if the output buffer is full (the peer is not reading). */
static bool conn_send(struct conn *c, int opcode, const void *payload, size_t len)
{
    if (c->fd < 0 || c->sent_close)
        return false;
    if (c->out_len + len + 14 > c->out_cap)
        return false;
    c->out_len += ws_encode(c->out + c->out_len, opcode, payload, len);
    conn_flush(c);
    return true;
}

static bool conn_text(struct conn *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return conn_send(c, 1, buf, (size_t)n);
}

static void send_close(struct conn *c)
{
    if (c->sent_close || c->fd < 0)
        return;
    unsigned char code[2] = {0x03, 0xe8};  /* 1000 */
    conn_send(c, 8, code, 2);
    c->sent_close = true;
}

/* The storm's messages: a fixed cycle of valid and invalid commands. */
static size_t storm_message(unsigned long k, char *buf, size_t cap, int *opcode, char *expect)
{
    unsigned long id = k;
    *opcode = 1;
    switch (k % 20) {
    /* valid */
    case 0: case 5: case 10: case 15:
        *expect = 'A';
        return (size_t)snprintf(buf, cap, "{\"action\":\"set\",\"params\":{\"signal\":\"ctrl.knob\",\"value\":%lu},\"id\":%lu}", k, id);
    case 1: case 11:
        *expect = 'A';
        return (size_t)snprintf(buf, cap, "{\"action\":\"stats\",\"id\":%lu}", id);
    case 2:
        *expect = 'A';
        return (size_t)snprintf(buf, cap, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"ctrl.*\",\"hermes.*\"],\"rate_hz\":10},\"id\":%lu}", id);
    case 12:
        *expect = 'A';
        return (size_t)snprintf(buf, cap, "{\"type\":\"cmd\",\"action\":\"subscribe\",\"params\":{\"signals\":[\"load.s0007\",\"ctrl.knob\"]},\"id\":\"s%lu\"}", id);
    case 7:
        *expect = 'A';
        return (size_t)snprintf(buf, cap, "{\"action\":\"unsubscribe\",\"id\":%lu}", id);
    /* invalid */
    case 3:
        *expect = 'E';
        return (size_t)snprintf(buf, cap, "{\"action\":\"set\",\"params\":{\"signal\":\"load.s%04lu\",\"value\":1},\"id\":%lu}", k % 1000 % (unsigned long)opt.signals, id);  /* read-only */
    case 4:
        *expect = 'N';
        return (size_t)snprintf(buf, cap, "{\"action\":\"set\",\"id\":%lu,\"params\":{\"signal\":\"ctrl.knob\",\"value\":\"x\"", id);  /* truncated JSON */
    case 6:
        *expect = 'E';
        return (size_t)snprintf(buf, cap, "{\"action\":\"fly\",\"id\":%lu}", id);
    case 8:
        *expect = 'N';
        return (size_t)snprintf(buf, cap, "[1,2,%lu]", id);
    case 9:
        *expect = 'E';
        return (size_t)snprintf(buf, cap, "{\"action\":\"step\",\"params\":{\"count\":1.5},\"id\":%lu}", id);
    case 13:
        *expect = 'E';
        return (size_t)snprintf(buf, cap, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"ghost.*\"]},\"id\":%lu}", id);
    case 14:
        *expect = 'N';
        return (size_t)snprintf(buf, cap, "{\"action\":\"set\",\"params\":{\"signal\":\"nope.x\",\"value\":1e400},\"id\":%lu}", id);
    case 16:
        *expect = 'E';
        return (size_t)snprintf(buf, cap, "{\"action\":\"pause\",\"params\":5,\"id\":%lu}", id);
    case 17:
        *expect = 'N';
        return (size_t)snprintf(buf, cap, "{\"action\":\"\xc3\x28\",\"id\":%lu}", id);  /* bad UTF-8 */
    case 18:
        *expect = 'N';
        *opcode = 2;  /* binary */
        return (size_t)snprintf(buf, cap, "binary %lu", id);
    default:
        *expect = 'E';
        return (size_t)snprintf(buf, cap, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"ctrl.*\"],\"rate_hz\":1000},\"id\":%lu}", id);
    }
}

static void storm_send(struct conn *c, unsigned long k)
{
    static char big[70 * 1024];
    char buf[512], expect;
    int opcode;
    size_t len;
    const char *payload = buf;
    if (k % 1000 == 999) {  /* once a second: a message over the 64 KiB limit */
        memset(big, ' ', sizeof big);
        memcpy(big, "{\"action\":\"stats\",\"pad\":\"", 25);
        memcpy(big + sizeof big - 2, "\"}", 2);
        payload = big;
        len = sizeof big;
        opcode = 1;
        expect = 'N';
    } else {
        len = storm_message(k, buf, sizeof buf, &opcode, &expect);
    }
    if (storm.tail - storm.head >= EXPECT_RING / 2 || storm.expect[k % EXPECT_RING] ||
        !conn_send(c, opcode, payload, len)) {
        storm.backpressure++;
        return;
    }
    storm.fifo[storm.tail++ % EXPECT_RING] = expect == 'A' ? 'A' : 'E';
    storm.sent++;
    if (expect == 'N') {
        storm.idless_expected++;
    } else {
        storm.expect[k % EXPECT_RING] = expect;
        storm.id_expected++;
    }
    if (expect == 'A')
        storm.valid_sent++;
    else
        storm.invalid_sent++;
}

static bool storm_pending(void)
{
    return storm.id_answered + storm.idless_got + storm.busy < storm.sent;
}

/* The echoed top-level "id" (a number, or a string "s<number>"), or -1. */
static long reply_id(const char *js)
{
    for (const char *p = strstr(js, "\"id\":"); p; p = strstr(p + 1, "\"id\":")) {
        if (p == js || (p[-1] != ',' && p[-1] != '{'))
            continue;
        p += 5;
        if (*p == '"' && p[1] == 's')
            p += 2;
        if (*p < '0' || *p > '9')
            return -1;
        return strtol(p, NULL, 10);
    }
    return -1;
}

static void storm_mismatch(const char *what, const char *js, size_t len)
{
    if (!storm.first_mismatch[0])
        snprintf(storm.first_mismatch, sizeof storm.first_mismatch, "%s: %.*s", what, (int)(len > 180 ? 180 : len),
                 js);
}

/* Check a reply by its id (kind, and order among replies that carry an id),
 * and against the strict send order (FIFO), which is reported separately. */
static void storm_reply(const char *js, size_t len)
{
    char type[32];
    if (!json_str(js, "type", type, sizeof type))
        return;
    if (!strcmp(type, "event")) {
        storm.events++;
        return;
    }
    if (!strcmp(type, "schema"))
        return;
    bool is_ack = !strcmp(type, "ack");
    if (is_ack)
        storm.acks++;
    else
        storm.errors++;
    if (storm.head < storm.tail) {
        char want = storm.fifo[storm.head++ % EXPECT_RING];
        if ((want == 'A') != is_ack && !storm.first_fifo[0])
            snprintf(storm.first_fifo, sizeof storm.first_fifo, "reply #%lu expected %s, got: %.*s", storm.head - 1,
                     want == 'A' ? "an ack" : "an error", (int)(len > 160 ? 160 : len), js);
        storm.fifo_violations += (want == 'A') != is_ack;
    }
    long id = reply_id(js);
    if (id < 0 && !is_ack && strstr(js, "too many commands waiting")) {
        storm.busy++;  /* documented: > 64 commands behind a control call; the error carries no id */
        return;
    }
    if (id < 0) {
        if (is_ack) {
            storm.wrong_kind++;
            storm_mismatch("ack without id", js, len);
        } else {
            storm.idless_got++;
        }
        return;
    }
    char want = storm.expect[id % EXPECT_RING];
    if (!want) {
        storm.unknown_id++;
        storm_mismatch("reply to no pending command", js, len);
        return;
    }
    storm.expect[id % EXPECT_RING] = 0;
    storm.id_answered++;
    if ((want == 'A') != is_ack) {
        storm.wrong_kind++;
        storm_mismatch(want == 'A' ? "error for a valid command" : "ack for an invalid command", js, len);
    }
    if (id <= storm.last_id) {
        storm.id_out_of_order++;
        storm_mismatch("reply out of order", js, len);
    }
    storm.last_id = id;
}

static void on_message(struct conn *c, int opcode, unsigned char *p, size_t len)
{
    if (opcode == 2) {
        int expect = c->role == R_MONITOR ? 1 : c->role == R_STORM ? -1 : opt.signals;
        unsigned long before = c->fc.frames;
        check_frame(&c->fc, p, len, expect, c->role == R_HEALTHY || c->role == R_STALLED);
        if (phase == P_MEASURE && c->fc.frames > before)
            c->window_frames++;
        if (c->role == R_MONITOR && len == 32)
            memcpy(&c->last_value, p + 24, 8);
        return;
    }
    if (opcode != 1)
        return;
    c->texts++;
    char *js = xmalloc(len + 1);
    memcpy(js, p, len);
    js[len] = '\0';
    if (c->role == R_STORM) {
        if (!c->schema)
            c->schema = strstr(js, "\"type\":\"schema\"") != NULL;
        else
            storm_reply(js, len);
        free(js);
        return;
    }
    char type[32] = "", action[32] = "";
    json_str(js, "type", type, sizeof type);
    json_str(js, "action", action, sizeof action);
    if (!strcmp(type, "schema")) {
        c->schema = true;
        if (c->role == R_MONITOR)
            conn_text(c, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"hermes.overruns\"]}}");
        else
            conn_text(c, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"load.*\"]}}");
    } else if (!strcmp(type, "ack") && !strcmp(action, "subscribe")) {
        double count = 0;
        json_num(js, "count", &count);
        c->subscribed = (int)count == (c->role == R_MONITOR ? 1 : opt.signals);
        if (!c->subscribed)
            c->unexpected_errors++;
    } else if (!strcmp(type, "ack") && !strcmp(action, "stats")) {
        if (c->stats_replies++ == 0) {
            json_num(js, "dropped", &c->srv_dropped0);  /* asked at the start of the window */
        } else {
            json_num(js, "sent", &c->srv_sent);
            json_num(js, "dropped", &c->srv_dropped);
            c->got_stats = true;
        }
    } else if (!strcmp(type, "error")) {
        c->unexpected_errors++;
        fprintf(stderr, "hermes_load: client %d got an error: %s\n", (int)(c - conns), js);
    }
    free(js);
}

static void on_frame(struct conn *c, int fin, int opcode, unsigned char *p, size_t len)
{
    if (opcode == 8) {  /* close: answer it once */
        c->peer_closed = true;
        if (!c->sent_close) {
            conn_send(c, 8, p, len > 2 ? 2 : len);
            c->sent_close = true;
        }
        return;
    }
    if (opcode == 9) {
        conn_send(c, 10, p, len);
        return;
    }
    if (opcode == 10)
        return;
    if (opcode != 0 && fin) {
        on_message(c, opcode, p, len);
        return;
    }
    if (opcode != 0) {
        c->msg_len = 0;
        c->msg_opcode = opcode;
    }
    if (c->msg_len + len > c->msg_cap) {
        c->msg_cap = (c->msg_len + len) * 2;
        c->msg = realloc(c->msg, c->msg_cap);
        if (!c->msg)
            die("out of memory");
    }
    memcpy(c->msg + c->msg_len, p, len);
    c->msg_len += len;
    if (fin) {
        on_message(c, c->msg_opcode, c->msg, c->msg_len);
        c->msg_len = 0;
    }
}

static void conn_read(struct conn *c)
{
    for (int rounds = 0; rounds < 4; rounds++) {
        if (c->in_cap - c->in_len < 65536) {
            c->in_cap *= 2;
            c->in = realloc(c->in, c->in_cap);
            if (!c->in)
                die("out of memory");
        }
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            c->eof = true;
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            return;
        }
        if (r < 0)
            return;
        c->in_len += (size_t)r;
        size_t off = 0;
        if (!c->upgraded) {
            unsigned char *e = memmem(c->in, c->in_len, "\r\n\r\n", 4);
            if (!e)
                continue;
            if (strncmp((char *)c->in, "HTTP/1.1 101", 12) != 0) {
                fprintf(stderr, "hermes_load: upgrade refused: %.*s\n", (int)(e - c->in), c->in);
                c->eof = true;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                return;
            }
            c->upgraded = true;
            off = (size_t)(e + 4 - c->in);
        }
        for (;;) {
            int fin, opcode;
            uint64_t len;
            size_t h = ws_header(c->in + off, c->in_len - off, &fin, &opcode, &len);
            if (!h || c->in_len - off - h < len) {
                if (h && h + len > c->in_cap) {
                    c->in_cap = (size_t)(h + len) * 2;
                    c->in = realloc(c->in, c->in_cap);
                    if (!c->in)
                        die("out of memory");
                }
                break;
            }
            on_frame(c, fin, opcode, c->in + off + h, (size_t)len);
            off += h + (size_t)len;
        }
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
        if ((size_t)r < 65536)
            return;
    }
}

static int connect_loopback(int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

struct soak_result {
    struct sample idle, m0, m1, after;
    double        self_cpu;
    int           subscribed, healthy;
    double        min_hz, median_hz, max_hz;
    unsigned long frames, torn, malformed, backwards, unexpected_errors, healthy_dropped, healthy_sent;
    unsigned long healthy_dropped_window;
    unsigned long stalled_dropped, stalled_sent, stalled_frames;
    int           stalled_reported, monitor_ok;
    double        overruns0, overruns1;
    bool          hermes_died;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool wait_fds(int target, double timeout, struct sample *out)
{
    double t0 = now_s();
    for (;;) {
        *out = sample_hermes();
        if (out->fds >= 0 && out->fds <= target)
            return true;
        if (now_s() - t0 > timeout)
            return false;
        sleep_s(0.05);
    }
}

static void soak(struct soak_result *r)
{
    memset(r, 0, sizeof *r);
    r->idle = sample_hermes();
    nconns = opt.clients + opt.stalled + 2;
    conns = calloc((size_t)nconns, sizeof *conns);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || ep < 0)
        die("out of memory");
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->role = i < opt.clients ? R_HEALTHY : i < opt.clients + opt.stalled ? R_STALLED
                : i == nconns - 2 ? R_MONITOR : R_STORM;
        c->in_cap = 1 << 17;
        c->in = xmalloc(c->in_cap);
        c->out_cap = c->role == R_STORM ? 1 << 20 : 1 << 14;
        c->out = xmalloc(c->out_cap);
        /* A stalled client advertises a small window so that the server's
         * socket fills within seconds rather than after megabytes. */
        c->fd = connect_loopback(c->role == R_STALLED ? 4096 : 0);
        if (c->fd < 0)
            die("connect %d: %s", i, strerror(errno));
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (send(c->fd, UPGRADE, sizeof UPGRADE - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof UPGRADE - 1))
            die("send upgrade %d: %s", i, strerror(errno));
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    phase = P_CONNECT;
    double t = now_s(), t_phase = t, m0 = 0, m1 = 0, stall_end = 0, self0 = 0;
    unsigned long storm_k = 0;
    struct epoll_event evs[512];
    struct conn *stormc = &conns[nconns - 1], *mon = &conns[nconns - 2];
    while (phase != P_DONE) {
        int k = epoll_wait(ep, evs, 512, 1);
        for (int e = 0; e < k; e++) {
            struct conn *c = &conns[evs[e].data.u32];
            if (c->fd < 0)
                continue;
            if (evs[e].events & EPOLLOUT)
                conn_flush(c);
            if (evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                conn_read(c);
        }
        t = now_s();
        if ((phase == P_CONNECT || phase == P_MEASURE) && !hermes_alive()) {
            r->hermes_died = true;
            fprintf(stderr, "hermes_load: hermes exited during the soak (see %s)\n", log_path);
            break;
        }
        switch (phase) {
        case P_CONNECT: {
            int ready = 0;
            for (int i = 0; i < nconns; i++)
                ready += conns[i].role == R_STORM ? conns[i].schema : conns[i].subscribed;
            if (ready == nconns || t - t_phase > 30) {
                if (ready != nconns)
                    fprintf(stderr, "hermes_load: only %d of %d connections ready after 30 s\n", ready, nconns);
                phase = P_SETTLE;
                t_phase = t;
            }
            break;
        }
        case P_SETTLE:
            if (t - t_phase >= 1.0) {
                phase = P_MEASURE;
                t_phase = m0 = t;
                m1 = m0 + opt.seconds;
                stall_end = m0 + opt.seconds * 0.75;
                r->m0 = sample_hermes();
                r->overruns0 = mon->last_value;
                self0 = self_cpu_s();
                for (int i = 0; i < nconns; i++)
                    if (conns[i].role == R_HEALTHY)
                        conn_text(&conns[i], "{\"action\":\"stats\"}");
                for (int i = 0; i < nconns; i++)
                    if (conns[i].role == R_STALLED) {
                        conns[i].stalled = true;
                        conn_flush(&conns[i]);
                    }
            }
            break;
        case P_MEASURE: {
            unsigned long due = (unsigned long)((t - m0) * opt.storm_rate);
            for (int n = 0; storm_k < due && n < 64; n++)
                storm_send(stormc, storm_k++);
            if (t >= stall_end)
                for (int i = 0; i < nconns; i++)
                    if (conns[i].stalled) {
                        conns[i].stalled = false;
                        conn_flush(&conns[i]);
                    }
            if (t >= m1) {
                r->m1 = sample_hermes();
                r->self_cpu = self_cpu_s() - self0;
                r->overruns1 = mon->last_value;
                phase = P_FINAL;
                t_phase = t;
                for (int i = 0; i < nconns; i++)
                    if (conns[i].role != R_STORM && conns[i].fd >= 0 && !conns[i].eof) {
                        if (conns[i].role != R_HEALTHY)
                            conns[i].stats_replies = 1;  /* no stats at the start for them */
                        conns[i].stats_asked = conn_text(&conns[i], "{\"action\":\"stats\"}");
                    }
            }
            break;
        }
        case P_FINAL: {
            int pending = 0;
            for (int i = 0; i < nconns; i++)
                pending += conns[i].stats_asked && !conns[i].got_stats && !conns[i].eof;
            if ((pending == 0 && !storm_pending()) || t - t_phase > 10) {
                phase = P_CLOSE;
                t_phase = t;
                for (int i = 0; i < nconns; i++)
                    send_close(&conns[i]);
            }
            break;
        }
        case P_CLOSE: {
            int open = 0;
            for (int i = 0; i < nconns; i++)
                open += !conns[i].eof && !conns[i].peer_closed;
            if (open == 0 || t - t_phase > 3)
                phase = P_DONE;
            break;
        }
        case P_DONE:
            break;
        }
    }
    if (!r->m1.t) {
        r->m1 = sample_hermes();
        r->self_cpu = self_cpu_s() - self0;
    }
    double *hz = xmalloc((size_t)opt.clients * sizeof *hz);
    double window = m1 > m0 ? m1 - m0 : 1;
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        r->torn += c->fc.torn;
        r->malformed += c->fc.malformed;
        r->backwards += c->fc.backwards;
        r->frames += c->fc.frames;
        r->unexpected_errors += c->unexpected_errors;
        if (c->role == R_HEALTHY) {
            hz[r->healthy++] = (double)c->window_frames / window;
            r->subscribed += c->subscribed;
            r->healthy_dropped += (unsigned long)c->srv_dropped;
            r->healthy_dropped_window += (unsigned long)(c->srv_dropped - c->srv_dropped0);
            r->healthy_sent += (unsigned long)c->srv_sent;
        } else if (c->role == R_STALLED) {
            r->stalled_dropped += (unsigned long)c->srv_dropped;
            r->stalled_sent += (unsigned long)c->srv_sent;
            r->stalled_frames += c->fc.frames;
            r->stalled_reported += c->got_stats;
        } else if (c->role == R_MONITOR) {
            r->monitor_ok = c->subscribed;
        }
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        free(c->in);
        free(c->out);
        free(c->msg);
    }
    qsort(hz, (size_t)r->healthy, sizeof *hz, cmp_double);
    if (r->healthy) {
        r->min_hz = hz[0];
        r->median_hz = hz[r->healthy / 2];
        r->max_hz = hz[r->healthy - 1];
    }
    free(hz);
    free(conns);
    close(ep);
    wait_fds(r->idle.fds, 10, &r->after);
}

/* ---- churn: blocking sockets, several threads ------------------------------------ */

enum churn_kind { K_CLEAN, K_RST_UPGRADED, K_RST_HANDSHAKE, K_FIN_HANDSHAKE, K_DROP, K_SUB_RST, K_SUB_CLEAN, K_COUNT };
static const char *const churn_names[K_COUNT] = {
    "clean close after schema", "RST after upgrade", "RST mid-handshake", "FIN mid-handshake",
    "connect then drop (RST/FIN)", "subscribe then RST", "subscribe, check a frame, clean close"};

struct churn_stats {
    atomic_ulong ok[K_COUNT], failed[K_COUNT], torn, frames;
    char         first_failure[256];
    pthread_mutex_t lock;
};
static struct churn_stats churn_st = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void churn_fail(int kind, const char *what)
{
    atomic_fetch_add(&churn_st.failed[kind], 1);
    pthread_mutex_lock(&churn_st.lock);
    if (!churn_st.first_failure[0])
        snprintf(churn_st.first_failure, sizeof churn_st.first_failure, "%s: %s (%s)", churn_names[kind], what,
                 strerror(errno));
    pthread_mutex_unlock(&churn_st.lock);
}

static void close_rst(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* Blocking reader: the next whole frame (returns opcode, -1 on EOF/timeout). */
struct breader {
    unsigned char buf[1 << 17];
    size_t        len;
};

static int read_until_upgrade(int fd, struct breader *b)
{
    b->len = 0;
    for (;;) {
        ssize_t r = recv(fd, b->buf + b->len, sizeof b->buf - b->len, 0);
        if (r <= 0)
            return -1;
        b->len += (size_t)r;
        unsigned char *e = memmem(b->buf, b->len, "\r\n\r\n", 4);
        if (e) {
            if (strncmp((char *)b->buf, "HTTP/1.1 101", 12) != 0)
                return -1;
            size_t off = (size_t)(e + 4 - b->buf);
            memmove(b->buf, b->buf + off, b->len - off);
            b->len -= off;
            return 0;
        }
    }
}

static int read_frame(int fd, struct breader *b, unsigned char **payload, size_t *plen, size_t *consumed)
{
    for (;;) {
        int fin, opcode;
        uint64_t len;
        size_t h = ws_header(b->buf, b->len, &fin, &opcode, &len);
        if (h && h + len > sizeof b->buf)
            return -1;
        if (h && b->len - h >= len) {
            *payload = b->buf + h;
            *plen = (size_t)len;
            *consumed = h + (size_t)len;
            return opcode;
        }
        ssize_t r = recv(fd, b->buf + b->len, sizeof b->buf - b->len, 0);
        if (r <= 0)
            return -1;
        b->len += (size_t)r;
    }
}

static void consume(struct breader *b, size_t n)
{
    memmove(b->buf, b->buf + n, b->len - n);
    b->len -= n;
}

/* Send a close frame, then read until the server's close frame or EOF. */
static bool clean_close(int fd, struct breader *b)
{
    unsigned char f[16];
    unsigned char code[2] = {0x03, 0xe8};
    size_t n = ws_encode(f, 8, code, 2);
    if (send(fd, f, n, MSG_NOSIGNAL) != (ssize_t)n)
        return false;
    for (;;) {
        unsigned char *p;
        size_t len, used;
        int op = read_frame(fd, b, &p, &len, &used);
        if (op < 0)
            return true;  /* EOF: the server closed */
        consume(b, used);
        if (op == 8)
            return true;  /* the caller closes */
    }
}

static bool churn_one(unsigned long i, int kind, struct breader *b)
{
    int fd = connect_loopback(0);
    if (fd < 0)
        return churn_fail(kind, "connect"), false;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    size_t half = sizeof UPGRADE / 2;
    switch (kind) {
    case K_RST_HANDSHAKE:
    case K_FIN_HANDSHAKE:
        if (send(fd, UPGRADE, half, MSG_NOSIGNAL) != (ssize_t)half)
            return close(fd), churn_fail(kind, "send"), false;
        if (kind == K_RST_HANDSHAKE)
            close_rst(fd);
        else
            close(fd);
        return true;
    case K_DROP:
        if (i & 1)
            close_rst(fd);
        else
            close(fd);
        return true;
    default:
        break;
    }
    if (send(fd, UPGRADE, sizeof UPGRADE - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof UPGRADE - 1) ||
        read_until_upgrade(fd, b) != 0)
        return close(fd), churn_fail(kind, "upgrade"), false;
    if (kind == K_RST_UPGRADED) {
        close_rst(fd);
        return true;
    }
    unsigned char *p;
    size_t len, used;
    int op = read_frame(fd, b, &p, &len, &used);  /* the schema */
    if (op != 1)
        return close(fd), churn_fail(kind, "schema"), false;
    consume(b, used);
    if (kind == K_CLEAN) {
        if (!clean_close(fd, b))
            return close(fd), churn_fail(kind, "close"), false;
        close(fd);
        return true;
    }
    unsigned char f[128];
    const char *sub = "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"load.*\"]}}";
    size_t n = ws_encode(f, 1, sub, strlen(sub));
    if (send(fd, f, n, MSG_NOSIGNAL) != (ssize_t)n)
        return close(fd), churn_fail(kind, "subscribe"), false;
    for (;;) {
        op = read_frame(fd, b, &p, &len, &used);
        if (op < 0)
            return close(fd), churn_fail(kind, "waiting for the subscription"), false;
        if (op == 1 && kind == K_SUB_RST) {
            consume(b, used);
            close_rst(fd);  /* the server may be mid-way through a frame for us */
            return true;
        }
        if (op == 2) {
            struct frame_check fc = {0};
            check_frame(&fc, p, len, opt.signals, true);
            atomic_fetch_add(&churn_st.frames, 1);
            atomic_fetch_add(&churn_st.torn, fc.torn + fc.malformed);
            consume(b, used);
            break;
        }
        consume(b, used);
    }
    bool ok = clean_close(fd, b);
    close(fd);
    if (!ok)
        churn_fail(kind, "close");
    return ok;
}

static atomic_ulong churn_next;

static void *churn_thread(void *arg)
{
    (void)arg;
    struct breader *b = xmalloc(sizeof *b);
    for (;;) {
        unsigned long i = atomic_fetch_add(&churn_next, 1);
        if (i >= (unsigned long)opt.churn)
            break;
        int kind = (int)(i % K_COUNT);
        if (churn_one(i, kind, b))
            atomic_fetch_add(&churn_st.ok[kind], 1);
    }
    free(b);
    return NULL;
}

struct churn_result {
    struct sample before, after;
    double        seconds;
    unsigned long ok, failed;
    bool          fds_settled, hermes_died;
};

static void churn(struct churn_result *r)
{
    memset(r, 0, sizeof *r);
    r->before = sample_hermes();
    double t0 = now_s();
    pthread_t th[CHURN_THREADS];
    for (int i = 0; i < CHURN_THREADS; i++)
        if (pthread_create(&th[i], NULL, churn_thread, NULL) != 0)
            die("pthread_create");
    for (int i = 0; i < CHURN_THREADS; i++)
        pthread_join(th[i], NULL);
    r->seconds = now_s() - t0;
    for (int k = 0; k < K_COUNT; k++) {
        r->ok += churn_st.ok[k];
        r->failed += churn_st.failed[k];
    }
    r->hermes_died = !hermes_alive();
    if (!r->hermes_died) {
        r->fds_settled = wait_fds(r->before.fds + opt.fd_slack, 10, &r->after);
        sleep_s(0.5);  /* let the allocator settle too, then sample once more */
        r->after = sample_hermes();
    }
}

/* ---- stop and report ------------------------------------------------------------ */

struct stop_result {
    int  exit_code, signal;
    bool summary, shm_left;
    char summary_line[512];
    unsigned long overruns, frames, client_dropped_lines, refused_lines, error_lines;
    double rtf, wall;
};

static void stop_hermes(struct stop_result *r)
{
    memset(r, 0, sizeof *r);
    r->exit_code = -1;
    if (hermes_pid > 0) {
        kill(hermes_pid, SIGINT);
        double t0 = now_s();
        while (hermes_alive() && now_s() - t0 < 15)
            sleep_s(0.02);
        if (hermes_pid > 0) {
            fprintf(stderr, "hermes_load: hermes did not stop within 15 s of SIGINT; killing it\n");
            kill(hermes_pid, SIGKILL);
            waitpid(hermes_pid, &hermes_status, 0);
            hermes_pid = -hermes_pid;
        }
    }
    int st = hermes_status;
    if (WIFEXITED(st))
        r->exit_code = WEXITSTATUS(st);
    else if (WIFSIGNALED(st))
        r->signal = WTERMSIG(st);
    FILE *f = fopen(log_path, "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "event=client_dropped"))
            r->client_dropped_lines++;
        if (strstr(line, "event=client_refused"))
            r->refused_lines++;
        if (strstr(line, "level=error") || strstr(line, "ERROR"))
            r->error_lines++;
        char *p = strstr(line, "event=summary");
        if (p) {
            r->summary = true;
            line[strcspn(line, "\n")] = '\0';
            snprintf(r->summary_line, sizeof r->summary_line, "%s", p);
            char *q;
            if ((q = strstr(p, " overruns=")))
                r->overruns = strtoul(q + 10, NULL, 10);
            if ((q = strstr(p, " frames=")))
                r->frames = strtoul(q + 8, NULL, 10);
            if ((q = strstr(p, " rtf=")))
                r->rtf = strtod(q + 5, NULL);
            if ((q = strstr(p, " wall_time=")))
                r->wall = strtod(q + 11, NULL);
        }
    }
    if (f)
        fclose(f);
    char shm[128];
    snprintf(shm, sizeof shm, "/dev/shm/%s", run_name);
    if (access(shm, F_OK) == 0) {
        r->shm_left = true;
        char name[80];
        snprintf(name, sizeof name, "/%s", run_name);
        shm_unlink(name);
    }
}

static int failures;

static void check(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  %s  ", ok ? "PASS" : "FAIL");
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    failures += !ok;
}

static double mib(long kib) { return (double)kib / 1024.0; }

static void usage(FILE *f)
{
    fputs("usage: hermes_load --hermes PATH --module LIBLOADGEN [--seconds S] [--clients N] [--stalled N]\n"
          "                   [--signals N] [--storm RATE] [--churn N] [--min-hz HZ] [--fd-slack N]\n"
          "                   [--max-rss-growth-kib K] [--keep]\n",
          f);
}

static void cleanup_workdir(void)
{
    if (opt.keep || !workdir[0])
        return;
    unlink(yaml_path);
    unlink(log_path);
    rmdir(workdir);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"hermes", required_argument, NULL, 'H'},  {"module", required_argument, NULL, 'M'},
        {"seconds", required_argument, NULL, 's'}, {"clients", required_argument, NULL, 'c'},
        {"stalled", required_argument, NULL, 'S'}, {"signals", required_argument, NULL, 'n'},
        {"storm", required_argument, NULL, 'r'},   {"churn", required_argument, NULL, 'C'},
        {"min-hz", required_argument, NULL, 'z'},  {"fd-slack", required_argument, NULL, 'f'},
        {"max-rss-growth-kib", required_argument, NULL, 'R'}, {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'H': opt.hermes = optarg; break;
        case 'M': opt.module = optarg; break;
        case 's': opt.seconds = atof(optarg); break;
        case 'c': opt.clients = atoi(optarg); break;
        case 'S': opt.stalled = atoi(optarg); break;
        case 'n': opt.signals = atoi(optarg); break;
        case 'r': opt.storm_rate = atoi(optarg); break;
        case 'C': opt.churn = atoi(optarg); break;
        case 'z': opt.min_hz = atof(optarg); break;
        case 'f': opt.fd_slack = atoi(optarg); break;
        case 'R': opt.max_rss_growth_kib = atol(optarg); break;
        case 'k': opt.keep = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!opt.hermes || !opt.module || opt.seconds <= 0 || opt.clients < 1 || opt.stalled < 0 || opt.signals < 1 ||
        opt.signals > 1000 || opt.storm_rate < 0 || opt.churn < 0) {
        usage(stderr);
        return 2;
    }
    char *mod = realpath(opt.module, NULL);
    if (!mod)
        die("module library %s: %s", opt.module, strerror(errno));
    opt.module = mod;
    if (access(opt.hermes, X_OK) != 0)
        die("hermes executable %s: %s", opt.hermes, strerror(errno));
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(workdir, sizeof workdir, "/tmp/hermes-load-XXXXXX");
    if (!mkdtemp(workdir))
        die("mkdtemp: %s", strerror(errno));
    snprintf(yaml_path, sizeof yaml_path, "%s/load.yaml", workdir);
    snprintf(log_path, sizeof log_path, "%s/hermes.log", workdir);
    write_config();
    start_hermes();
    sleep_s(1.0);  /* let it settle in realtime before the idle sample */
    printf("hermes pid %d, port %u, run %s, log %s\n", (int)hermes_pid, (unsigned)port, run_name, log_path);
    printf("soak: %d clients x %d signals at 60 Hz + %d stalled + 1 monitor + 1 storm (%d cmd/s) for %.0f s, "
           "sim realtime 1 kHz\n", opt.clients, opt.signals, opt.stalled, opt.storm_rate, opt.seconds);
    fflush(stdout);

    struct soak_result sr;
    soak(&sr);
    struct churn_result cr = {0};
    if (!sr.hermes_died && hermes_pid > 0) {
        printf("churn: %d cycles from %d threads\n", opt.churn, CHURN_THREADS);
        fflush(stdout);
        churn(&cr);
    }
    struct stop_result xr;
    stop_hermes(&xr);

    double win = sr.m1.t - sr.m0.t;
    double hermes_cpu = win > 0 ? 100.0 * (sr.m1.cpu_s - sr.m0.cpu_s) / win : 0;
    double load_cpu = win > 0 ? 100.0 * sr.self_cpu / win : 0;
    long rss_growth = sr.m1.rss_kib - sr.m0.rss_kib;
    long churn_rss = cr.after.rss_kib - cr.before.rss_kib;

    printf("\n| measure | value |\n|---|---|\n");
    printf("| load | %d clients x %d signals x 60 Hz, %.1f s window, sim realtime 1 kHz |\n", opt.clients,
           opt.signals, win);
    printf("| healthy clients subscribed | %d / %d |\n", sr.subscribed, sr.healthy);
    printf("| per-client rate min / median / max | %.2f / %.2f / %.2f Hz |\n", sr.min_hz, sr.median_hz,
           sr.max_hz);
    printf("| frames checked (all clients) | %lu |\n", sr.frames);
    printf("| torn / malformed / backwards frames | %lu / %lu / %lu |\n", sr.torn, sr.malformed, sr.backwards);
    printf("| healthy clients: server sent / dropped (of which during the window) | %lu / %lu (%lu) |\n",
           sr.healthy_sent, sr.healthy_dropped, sr.healthy_dropped_window);
    printf("| stalled clients (%d): sent / dropped (counted by server) / frames received | %lu / %lu / %lu |\n",
           opt.stalled, sr.stalled_sent, sr.stalled_dropped, sr.stalled_frames);
    printf("| storm commands sent (valid / invalid) | %lu (%lu / %lu), %lu skipped for backpressure |\n", storm.sent,
           storm.valid_sent, storm.invalid_sent, storm.backpressure);
    printf("| storm replies: acks / errors (with id / without id) | %lu / %lu (%lu / %lu) |\n", storm.acks,
           storm.errors, storm.errors - storm.idless_got, storm.idless_got);
    printf("| storm: refused 'too many commands waiting' (limit 64, no id) | %lu |\n", storm.busy);
    printf("| storm: unanswered / wrong kind / unknown id / out of order | %ld / %lu / %lu / %lu |\n",
           (long)storm.sent - (long)(storm.id_answered + storm.idless_got + storm.busy), storm.wrong_kind,
           storm.unknown_id, storm.id_out_of_order);
    printf("| storm: replies not in strict send order (FIFO check) | %lu |\n", storm.fifo_violations);
    printf("| hermes RSS idle / load start / load end / after soak | %.1f / %.1f / %.1f / %.1f MiB |\n",
           mib(sr.idle.rss_kib), mib(sr.m0.rss_kib), mib(sr.m1.rss_kib), mib(sr.after.rss_kib));
    printf("| hermes RSS growth over the load window | %+ld KiB |\n", rss_growth);
    printf("| hermes fds idle / under load / after soak | %d / %d / %d |\n", sr.idle.fds, sr.m1.fds, sr.after.fds);
    printf("| hermes threads idle / under load / after | %ld / %ld / %ld |\n", sr.idle.threads, sr.m1.threads,
           cr.after.threads > 0 ? cr.after.threads : sr.after.threads);
    printf("| hermes CPU during the window (of one core) | %.1f %% |\n", hermes_cpu);
    printf("| load generator CPU during the window | %.1f %% |\n", load_cpu);
    printf("| realtime overruns during the window (hermes.overruns) | %.0f |\n", sr.overruns1 - sr.overruns0);
    printf("| churn cycles ok / failed, wall time | %lu / %lu, %.1f s |\n", cr.ok, cr.failed, cr.seconds);
    printf("| churn frames checked / torn | %lu / %lu |\n", (unsigned long)churn_st.frames,
           (unsigned long)churn_st.torn);
    printf("| hermes fds before / after churn | %d / %d |\n", cr.before.fds, cr.after.fds);
    printf("| hermes RSS before / after churn | %.1f / %.1f MiB (%+ld KiB) |\n", mib(cr.before.rss_kib),
           mib(cr.after.rss_kib), churn_rss);
    printf("| run summary | frames=%lu rtf=%.2f overruns=%lu wall=%.1f s |\n", xr.frames, xr.rtf, xr.overruns,
           xr.wall);
    printf("| hermes exit | %s %d |\n", xr.signal ? "signal" : "status", xr.signal ? xr.signal : xr.exit_code);
    for (int k = 0; k < K_COUNT; k++)
        printf("churn kind %-40s ok %lu failed %lu\n", churn_names[k], (unsigned long)churn_st.ok[k],
               (unsigned long)churn_st.failed[k]);
    if (churn_st.first_failure[0])
        printf("first churn failure: %s\n", churn_st.first_failure);
    if (storm.first_mismatch[0])
        printf("first storm mismatch: %s\n", storm.first_mismatch);
    if (storm.first_fifo[0])
        printf("first reply out of send order: %s\n", storm.first_fifo);
    if (xr.summary)
        printf("hermes: %s\n", xr.summary_line);
    printf("\n");

    check(!sr.hermes_died && !cr.hermes_died && xr.signal == 0 && xr.exit_code == 130 && xr.summary,
          "hermes ran through soak and churn, stopped on SIGINT with status 130 and a summary");
    check(sr.subscribed == opt.clients && sr.monitor_ok, "all %d healthy clients subscribed to %d signals",
          opt.clients, opt.signals);
    check(sr.torn == 0 && sr.malformed == 0 && sr.backwards == 0 && churn_st.torn == 0,
          "no torn, malformed or backwards frame in %lu + %lu checked", sr.frames, (unsigned long)churn_st.frames);
    check(sr.min_hz >= opt.min_hz, "every healthy client >= %.1f Hz (min %.2f)", opt.min_hz, sr.min_hz);
    check(sr.unexpected_errors == 0, "no error reply to a subscriber (%lu)", sr.unexpected_errors);
    check(storm.sent > 0 && storm.id_answered + storm.idless_got + storm.busy == storm.sent &&
              storm.id_answered <= storm.id_expected && storm.idless_got <= storm.idless_expected && storm.wrong_kind == 0 && storm.unknown_id == 0 &&
              storm.id_out_of_order == 0,
          "storm: every command answered once, in order, ack for valid, error for invalid (%lu sent, %lu busy)",
          storm.sent, storm.busy);
    /* Only a refusal beyond the 64 queued messages (busy, carries no id) may
     * overtake; everything else keeps the client's send order. */
    if (storm.busy == 0)
        check(storm.fifo_violations == 0, "storm: replies in strict send order (%lu out of order)",
              storm.fifo_violations);
    else if (storm.fifo_violations)
        printf("  NOTE  %lu replies left the strict send order; %lu busy refusals may overtake by design\n",
               storm.fifo_violations, storm.busy);
    /* A stall only forces drops once it outgrows the kernel socket buffers
     * (up to 4 MiB send + receive on Linux loopback): about 20 s at 8 KiB x 60 Hz. */
    double stall_bytes = opt.seconds * 0.75 * 60.0 * (24.0 + 8.0 * opt.signals);
    if (opt.stalled > 0 && stall_bytes > 12.0 * 1024 * 1024)
        check(sr.stalled_reported == opt.stalled && sr.stalled_dropped > 0,
              "stalled clients' stale frames were dropped and counted (%lu)", sr.stalled_dropped);
    else if (opt.stalled > 0)
        printf("  ----  stalled clients: stall of %.0f KiB fits in the socket buffers; drops not expected (%lu)\n",
               stall_bytes / 1024, sr.stalled_dropped);
    check(rss_growth <= opt.max_rss_growth_kib, "RSS growth over the load window %+ld KiB <= %ld KiB", rss_growth,
          opt.max_rss_growth_kib);
    check(sr.after.fds >= 0 && sr.after.fds <= sr.idle.fds + opt.fd_slack,
          "fds back to idle after the soak (%d vs %d, slack %d)", sr.after.fds, sr.idle.fds, opt.fd_slack);
    check(cr.failed == 0 && cr.ok == (unsigned long)opt.churn, "churn: %lu of %d cycles completed as expected",
          cr.ok, opt.churn);
    check(cr.after.fds >= 0 && cr.after.fds <= cr.before.fds + opt.fd_slack,
          "fds back to baseline after churn (%d vs %d, slack %d)", cr.after.fds, cr.before.fds, opt.fd_slack);
    check(churn_rss <= opt.max_rss_growth_kib, "RSS growth over churn %+ld KiB <= %ld KiB", churn_rss,
          opt.max_rss_growth_kib);
    check(!xr.shm_left, "no shared-memory segment left in /dev/shm");
    printf("%s (%d failed)\n", failures ? "FAIL" : "PASS", failures);
    if (failures)
        opt.keep = true;
    if (opt.keep)
        printf("work directory kept: %s\n", workdir);
    cleanup_workdir();
    free(mod);
    return failures ? 1 : 0;
}
