/* A C telemetry client for the Python package's tests (tests/python/pkg/test_client.py):
 * connects to a hermes server on 127.0.0.1, subscribes to the patterns given, and prints
 * what it receives, decoded with the library's own decoder (hermes_telemetry_*):
 *   names N1 N2 ...                   the subscription ack's signal list
 *   frame F TIMEBITS V1BITS ...       one line per telemetry frame, every double as its
 *                                     64 bits in hex (compared bit for bit)
 * until a frame >= LAST_FRAME arrived, SECONDS passed or the server closed.
 * usage: frame_client PORT SECONDS LAST_FRAME PATTERN...   exit 0 when LAST_FRAME was seen. */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include <hermes/hermes.h>
/* ws_client.h's HTTP helpers (unused here) report through cmocka's fail_msg */
#define fail_msg(...) (fprintf(stderr, __VA_ARGS__), exit(1))
#include "ws_client.h"

static uint64_t bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static int subscribe(int fd, char **patterns, int n)
{
    json_t *sigs = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(sigs, json_string(patterns[i]));
    json_t *msg = json_pack("{s:s, s:i, s:{s:o}}", "action", "subscribe", "id", 1, "params", "signals", sigs);
    char *text = json_dumps(msg, JSON_COMPACT);
    int rc = text ? raw_send(fd, 1, text, strlen(text)) : -1;
    free(text);
    json_decref(msg);
    return rc;
}

/* The ack of the subscription (id 1), printed as the names line. 0 or -1. */
static int print_names(int fd, double seconds)
{
    double end = wsc_now() + seconds;
    while (wsc_now() < end) {
        json_t *m = raw_next_json(fd, end - wsc_now());
        if (!m)
            return -1;
        json_t *names = json_object_get(m, "signals");
        if (!strcmp(js(m, "type"), "ack") && json_integer_value(json_object_get(m, "id")) == 1 && names) {
            printf("names");
            for (size_t i = 0; i < json_array_size(names); i++)
                printf(" %s", json_string_value(json_array_get(names, i)));
            printf("\n");
            fflush(stdout);
            json_decref(m);
            return 0;
        }
        json_decref(m);
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: frame_client PORT SECONDS LAST_FRAME PATTERN...\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double seconds = atof(argv[2]);
    uint64_t last = strtoull(argv[3], NULL, 10);
    int fd = raw_connect(port, 0);
    if (fd < 0 || subscribe(fd, argv + 4, argc - 4) != 0 || print_names(fd, seconds) != 0) {
        fprintf(stderr, "frame_client: cannot connect or subscribe on port %d\n", port);
        return 1;
    }
    static unsigned char buf[1 << 20];
    double end = wsc_now() + seconds;
    int seen = 0;
    while (!seen && wsc_now() < end) {
        int op = 0;
        long n = raw_recv(fd, &op, buf, sizeof buf, end - wsc_now());
        if (n < 0 || op == 8)
            break;
        hermes_telemetry_header_t h;
        if (op != 2 || (size_t)n > sizeof buf || hermes_telemetry_decode_header(buf, (size_t)n, &h) != 0)
            continue;
        printf("frame %" PRIu64 " %016" PRIx64, h.frame, bits(h.time));
        for (uint32_t i = 0; i < h.count; i++)
            printf(" %016" PRIx64, bits(hermes_telemetry_value(buf, i)));
        printf("\n");
        fflush(stdout);
        seen = h.frame >= last;
    }
    close(fd);
    return seen ? 0 : 1;
}
