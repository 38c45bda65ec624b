/* Fan-out cost: 200 clients subscribed to 1,000 signals each at 60 Hz for 10 s,
 * clients in a separate cheap process (bench_fanout_client: raw sockets +
 * epoll). Phase 1 serves them with the Hermes server; phase 2, in the same
 * run, with a bare libwebsockets broadcast of the same bytes (one 8,024-byte
 * frame per 60 Hz tick to every client, same tx_packet_size). Prints
 * per-client received rates (min, median) and this process's CPU % for both.
 * Targets: every client >= 59.5 Hz; Hermes CPU <= 1.3x the bare broadcast.
 * usage: bench_fanout CLIENT_EXE [clients] [seconds]                        */
#include <hermes/hermes.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fanout_util.h"

#define NSIG 1000

/* ---- a 100 Hz "simulation" publishing the backplane ------------------------- */
struct pub {
    hermes_backplane_t *bp;
    _Atomic int         stop;
};

static void *publisher(void *arg)
{
    struct pub *p = arg;
    uint64_t f = 0;
    while (!atomic_load(&p->stop)) {
        f++;
        for (uint32_t i = 0; i < NSIG; i++) {
            hermes_signal_t s = {i, 0};
            hermes_signal_info_t in;
            if (hermes_backplane_info(p->bp, i, &in) == 0)
                s = in.id;
            hermes_backplane_write(p->bp, s, (double)f + i);
        }
        hermes_backplane_publish(p->bp, f, f * 10000000u);
        sleep_s(0.01);
    }
    return NULL;
}

/* ---- the bare broadcast --------------------------------------------------- */
struct bare {
    struct lws_context    *ctx;
    lws_sorted_usec_list_t sul;
    lws_usec_t             next;
    unsigned char          buf[LWS_PRE + 24 + 8 * NSIG];
    size_t                 len;
    _Atomic int            stop;
    const struct lws_protocols *proto;
};
static struct bare bare;

static void bare_tick(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    if (bare.proto)
        lws_callback_on_writable_all_protocol(bare.ctx, bare.proto);
    bare.next += LWS_US_PER_SEC / 60;
    lws_usec_t now = lws_now_usecs();
    if (bare.next < now)
        bare.next = now;
    lws_sul_schedule(bare.ctx, 0, &bare.sul, bare_tick, bare.next - now);
}

static int bare_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_PROTOCOL_INIT:
        bare.proto = lws_get_protocol(wsi);
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (lws_write(wsi, bare.buf + LWS_PRE, bare.len, LWS_WRITE_BINARY) < 0)
            return -1;
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void *bare_main(void *arg)
{
    (void)arg;
    bare.next = lws_now_usecs();
    lws_sul_schedule(bare.ctx, 0, &bare.sul, bare_tick, 1000);
    while (!atomic_load(&bare.stop))
        lws_service(bare.ctx, 0);
    lws_sul_cancel(&bare.sul);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CLIENT_EXE [clients] [seconds]\n", argv[0]);
        return 2;
    }
    const char *exe = argv[1];
    int n = argc > 2 ? atoi(argv[2]) : 200;
    double secs = argc > 3 ? atof(argv[3]) : 10.0;

    hermes_signal_spec_t *specs = calloc(NSIG, sizeof *specs);
    char (*names)[16] = calloc(NSIG, sizeof *names);
    for (int i = 0; i < NSIG; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        specs[i] = (hermes_signal_spec_t){"m", names[i], HERMES_TYPE_F64, "", false, 0};
    }
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.signals = specs;
    bc.signal_count = NSIG;
    struct pub pub = {NULL, 0};
    if (hermes_backplane_create(&pub.bp, &bc) != 0) {
        fprintf(stderr, "%s\n", hermes_last_error());
        return 1;
    }
    pthread_t pth;
    pthread_create(&pth, NULL, publisher, &pub);

    /* Phase 1: Hermes server */
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.max_clients = (uint32_t)n + 16;
    hermes_server_t *srv = NULL;
    if (hermes_server_create(&srv, pub.bp, &sc, NULL) != 0 || hermes_server_start(srv) != 0) {
        fprintf(stderr, "server: %s\n", hermes_last_error());
        return 1;
    }
    char line1[512], line2[512];
    double cpu1 = 0, cpu2 = 0;
    run_clients(exe, hermes_server_port(srv), n, secs, "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"*\"]}}", "",
                line1, sizeof line1, &cpu1);
    hermes_server_stats_t st;
    hermes_server_stats(srv, &st);
    hermes_server_destroy(srv);

    /* Phase 2: bare lws broadcast of one Hermes frame */
    const char *star[] = {"*"};
    hermes_encoder_t *enc = NULL;
    hermes_encoder_create(&enc, pub.bp, star, 1);
    hermes_encoder_encode(enc, bare.buf + LWS_PRE, sizeof bare.buf - LWS_PRE, &bare.len, NULL);
    hermes_encoder_destroy(enc);
    static const struct lws_protocols protos[] = {
        {"hermes", bare_cb, 0, 4096, 0, NULL, 65536},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = 0;
    info.iface = "127.0.0.1";
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.protocols = protos;
    bare.ctx = lws_create_context(&info);
    struct lws_vhost *vh = lws_get_vhost_by_name(bare.ctx, "default");
    int bport = vh ? lws_get_vhost_listen_port(vh) : -1;
    pthread_t bth;
    pthread_create(&bth, NULL, bare_main, NULL);
    run_clients(exe, bport, n, secs, "-", "", line2, sizeof line2, &cpu2);
    atomic_store(&bare.stop, 1);
    lws_cancel_service(bare.ctx);
    pthread_join(bth, NULL);
    lws_context_destroy(bare.ctx);

    atomic_store(&pub.stop, 1);
    pthread_join(pth, NULL);
    hermes_backplane_destroy(pub.bp);
    free(specs);
    free(names);

    printf("bench_fanout: %d clients x %d signals (%zu-byte frames) at 60 Hz, %g s measured\n", n, NSIG,
           (size_t)(24 + 8 * NSIG), secs);
    printf("  hermes server : %s | server cpu %.1f%% (dropped %llu)\n", line1, cpu1,
           (unsigned long long)st.frames_dropped);
    printf("  bare lws      : %s | server cpu %.1f%%\n", line2, cpu2);
    printf("  cpu ratio hermes/bare = %.2f (target <= 1.3); every client >= 59.5 Hz is the rate target\n",
           cpu2 > 0 ? cpu1 / cpu2 : 0.0);
    return 0;
}
