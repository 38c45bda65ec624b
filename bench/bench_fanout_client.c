/* Cheap WebSocket load client for bench_fanout: one process, raw sockets and
 * epoll, N connections. Each connection upgrades, optionally subscribes, then
 * only counts binary frames (payloads are skipped, never copied). After
 * WARMUP seconds it counts for MEASURE seconds and prints one line:
 *   clients=N min_hz=... median_hz=... max_hz=... bytes_per_s=... cpu_pct=...
 * usage: bench_fanout_client PORT N WARMUP MEASURE SUBSCRIBE_JSON|- [SUBPROTOCOL [FIRST_BYTE]]
 * SUBPROTOCOL defaults to hermes; with FIRST_BYTE (a number), only binary
 * messages whose first payload byte is FIRST_BYTE count (Foxglove MessageData
 * is 1, its Time messages 2).                                              */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int           fd;
    int           upgraded;
    char          hs[1024];
    size_t        hs_len;
    /* frame parser */
    unsigned char hdr[14];
    size_t        hdr_len, hdr_need;
    uint64_t      payload_left;
    int           opcode;
    int           check_first;  /* the next payload byte decides whether it counts */
    unsigned long frames;
};

static int first_byte = -1;  /* -1: every binary message counts */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static int send_masked(int fd, const char *text)
{
    size_t len = strlen(text);
    unsigned char f[4096];
    size_t h = 0;
    f[h++] = 0x81;
    if (len < 126) {
        f[h++] = (unsigned char)(0x80 | len);
    } else {
        f[h++] = 0x80 | 126;
        f[h++] = (unsigned char)(len >> 8);
        f[h++] = (unsigned char)len;
    }
    memset(f + h, 0, 4);  /* zero mask: payload unchanged */
    h += 4;
    if (h + len > sizeof f)
        return -1;
    memcpy(f + h, text, len);
    return write(fd, f, h + len) == (ssize_t)(h + len) ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Consume @p n bytes of frame stream. */
static void parse(struct conn *c, const unsigned char *p, size_t n, int counting)
{
    while (n) {
        if (c->payload_left) {
            if (c->check_first) {
                c->check_first = 0;
                if (*p == first_byte && counting)
                    c->frames++;
            }
            size_t k = c->payload_left < n ? (size_t)c->payload_left : n;
            c->payload_left -= k;
            p += k;
            n -= k;
            continue;
        }
        c->hdr[c->hdr_len++] = *p++;
        n--;
        if (c->hdr_len == 2) {
            unsigned l = c->hdr[1] & 0x7f;
            c->hdr_need = 2 + (l == 126 ? 2 : l == 127 ? 8 : 0);
        }
        if (c->hdr_len >= 2 && c->hdr_len == c->hdr_need) {
            unsigned l = c->hdr[1] & 0x7f;
            uint64_t len = l;
            if (l == 126)
                len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
            else if (l == 127)
                for (int i = 0; i < 8; i++)
                    len = len << 8 | c->hdr[2 + i];
            c->opcode = c->hdr[0] & 0x0f;
            if (c->opcode == 2 && first_byte >= 0)
                c->check_first = len > 0;
            else if (c->opcode == 2 && counting)
                c->frames++;
            c->payload_left = len;
            c->hdr_len = 0;
            c->hdr_need = 0;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s PORT N WARMUP MEASURE SUBSCRIBE_JSON|-\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), n = atoi(argv[2]);
    double warm = atof(argv[3]), meas = atof(argv[4]);
    const char *sub = strcmp(argv[5], "-") ? argv[5] : NULL;
    const char *subprotocol = argc > 6 ? argv[6] : "hermes";
    if (argc > 7)
        first_byte = atoi(argv[7]);
    struct conn *cs = calloc((size_t)n, sizeof *cs);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            fprintf(stderr, "connect %d: %s\n", i, strerror(errno));
            return 1;
        }
        char req[512];
        int len = snprintf(req, sizeof req,
                           "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Protocol: %s\r\n\r\n", subprotocol);
        if (write(fd, req, (size_t)len) != len)
            return 1;
        cs[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    static unsigned char buf[1 << 18];
    double t0 = now_s(), m0 = t0 + warm, m1 = m0 + meas, cpu0 = 0, cpu1 = 0;
    int counting = 0;
    unsigned long long bytes = 0;
    struct epoll_event evs[256];
    for (;;) {
        double t = now_s();
        if (!counting && t >= m0) {
            counting = 1;
            cpu0 = cpu_s();
        }
        if (t >= m1)
            break;
        int k = epoll_wait(ep, evs, 256, 10);
        for (int e = 0; e < k; e++) {
            struct conn *c = &cs[evs[e].data.u32];
            ssize_t r = read(c->fd, buf, sizeof buf);
            if (r <= 0)
                continue;
            size_t off = 0;
            if (!c->upgraded) {
                while (off < (size_t)r && c->hs_len < sizeof c->hs - 1) {
                    c->hs[c->hs_len++] = (char)buf[off++];
                    if (c->hs_len >= 4 && !memcmp(c->hs + c->hs_len - 4, "\r\n\r\n", 4)) {
                        c->upgraded = 1;
                        if (sub)
                            send_masked(c->fd, sub);
                        break;
                    }
                }
            }
            if (c->upgraded && off < (size_t)r) {
                parse(c, buf + off, (size_t)r - off, counting);
                if (counting)
                    bytes += (size_t)r - off;
            }
        }
    }
    cpu1 = cpu_s();
    double *hz = malloc((size_t)n * sizeof *hz);
    int up = 0;
    for (int i = 0; i < n; i++) {
        hz[i] = (double)cs[i].frames / meas;
        up += cs[i].upgraded;
    }
    qsort(hz, (size_t)n, sizeof *hz, cmp);
    printf("clients=%d upgraded=%d min_hz=%.2f median_hz=%.2f max_hz=%.2f bytes_per_s=%.0f cpu_pct=%.1f\n", n, up,
           hz[0], hz[n / 2], hz[n - 1], (double)bytes / meas, 100.0 * (cpu1 - cpu0) / meas);
    fflush(stdout);
    for (int i = 0; i < n; i++)
        close(cs[i].fd);
    free(hz);
    free(cs);
    return 0;
}
