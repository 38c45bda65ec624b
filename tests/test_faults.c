/* Fault injection against a real `hermes run` over 127.0.0.1:
 *  - a process module SIGKILLed mid-run while two clients are connected;
 *  - clients that die mid-frame, half-open connections (no upgrade; upgraded
 *    then silent and not reading), a frame header announcing 100 MB.
 * In every case the server stays up, an observing client keeps its telemetry
 * rate, and the run ends with no /dev/shm segment and no child process left.
 * The test process is a child subreaper, so a module orphaned by hermes would
 * be re-parented here and found. Fixtures: tests/data/faults/. */
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "ws_client.h"
#include "hermes_child.h"

#if !defined(HERMES_CLI) || !defined(PROC_MODULE)
#error "HERMES_CLI and PROC_MODULE must be defined by meson"
#endif

/* Telemetry is configured at 60 Hz; below this the server was held up. */
#ifndef MIN_RATE_HZ
#define MIN_RATE_HZ 40.0
#endif
#define RATE_WINDOW_S 2.0

static char run_name[96];
static char cfgpath[256];

static double file_rss_mb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    double mb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            mb = atof(line + 6) / 1024.0;
    if (f)
        fclose(f);
    return mb;
}

/* Start `hermes run CONFIG --port 0 --run-name NAME`, output in a log file;
 * returns the port from the log line event=listening, or -1 within 10 s. */
static int start_hermes(const char *config, const char *what)
{
    static int n;
    snprintf(logpath, sizeof logpath, "%s/faults_%ld_%d.log", HERMES_TEST_BUILDDIR, (long)getpid(), n);
    snprintf(run_name, sizeof run_name, "hermes-faults-%s-%ld-%d", what, (long)getpid(), n++);
    const char *args[] = {config, "--port", "0", "--run-name", run_name, NULL};
    spawn_hermes(args);
    return wait_listening_port(10);
}

static bool hermes_alive(void)
{
    return child > 0 && waitpid(child, NULL, WNOHANG) == 0;
}

/* Children of this process other than hermes itself (which is reaped by the
 * caller first): with the subreaper bit set, modules orphaned by hermes land
 * here. Kills and reaps what it finds; returns how many there were. */
static int reap_leftover_children(char *desc, size_t cap)
{
    int found = 0;
    desc[0] = '\0';
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *rp = strrchr(buf, ')');
        char stc;
        long ppid;
        if (!rp || sscanf(rp + 1, " %c %ld", &stc, &ppid) != 2 || ppid != (long)getpid())
            continue;
        found++;
        size_t l = strlen(desc);
        snprintf(desc + l, cap - l, "%s%.*s state %c", l ? ", " : "", (int)(rp - buf + 1), buf, stc);
        kill((pid_t)pid, SIGKILL);
        waitpid((pid_t)pid, NULL, 0);
    }
    if (d)
        closedir(d);
    return found;
}

static int teardown(void **state)
{
    (void)state;
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    char desc[512];
    reap_leftover_children(desc, sizeof desc);
    if (run_name[0]) {
        char path[160];
        snprintf(path, sizeof path, "/dev/shm/%s", run_name);
        unlink(path);  /* only after a failure: the checks below expect it gone */
    }
    if (cfgpath[0])
        unlink(cfgpath);
    cfgpath[0] = '\0';
    if (logpath[0] && getenv("HERMES_KEEP_LOGS") == NULL)
        unlink(logpath);
    return 0;
}

static const char *datafile(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/data/faults/%s", HERMES_TEST_SRCDIR, name);
    return buf;
}

/* tests/data/faults/kill.yaml.in with the module path filled in. */
static const char *write_kill_config(void)
{
    FILE *in = fopen(datafile("kill.yaml.in"), "r");
    if (!in)
        return NULL;
    snprintf(cfgpath, sizeof cfgpath, "%s/faults_kill_%ld.yaml", HERMES_TEST_BUILDDIR, (long)getpid());
    FILE *out = fopen(cfgpath, "w");
    char line[1024];
    while (out && fgets(line, sizeof line, in)) {
        char *p = strstr(line, "@PROC_MODULE@");
        if (p) {
            *p = '\0';
            fprintf(out, "%s%s%s", line, PROC_MODULE, p + strlen("@PROC_MODULE@"));
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    if (!out)
        return NULL;
    fclose(out);
    return cfgpath;
}

static double value_of(const struct wsc_conn *c, uint32_t i)
{
    hermes_telemetry_header_t h;
    if (!c->last_bin || hermes_telemetry_decode_header(c->last_bin, c->last_bin_len, &h) != 0 || i >= h.count)
        return NAN;
    return hermes_telemetry_value(c->last_bin, i);
}

static bool subscribe(struct wsc *w, struct wsc_conn *c, const char *signals_json)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "{\"action\":\"subscribe\",\"params\":{\"signals\":%s}}", signals_json);
    json_t *j = wsc_cmd(w, c, cmd, 3);
    bool ok = j && !strcmp(js(j, "type"), "ack");
    json_decref(j);
    return ok;
}

/* Telemetry frames per second the observer receives over @p seconds. */
static double rate_of(struct wsc *w, struct wsc_conn *c, double seconds)
{
    unsigned long n0 = c->nbin;
    double t0 = wsc_now();
    wsc_pump(w, seconds);
    return (double)(c->nbin - n0) / (wsc_now() - t0);
}

/* The "clients" count the server reports to @p c, or -1. */
static long clients_seen_by(struct wsc *w, struct wsc_conn *c)
{
    json_t *j = wsc_cmd(w, c, "{\"action\":\"stats\"}", 3);
    long n = j && !strcmp(js(j, "type"), "ack") ? (long)json_integer_value(json_object_get(j, "clients")) : -1;
    json_decref(j);
    return n;
}

/* Poll stats until the server counts @p want clients (bounded). */
static long wait_clients(struct wsc *w, struct wsc_conn *c, long want, double seconds)
{
    long n = -1;
    double end = wsc_now() + seconds;
    do {
        n = clients_seen_by(w, c);
        if (n != want)
            wsc_pump(w, 0.05);
    } while (n != want && wsc_now() < end);
    return n;
}

/* The end of every network test: Ctrl+C still stops hermes promptly and
 * cleanly (130), the segment is gone, no child is left. */
struct ending {
    int    status;
    double took;
    bool   shm_left;
    int    leftovers;
    char   leftover_desc[512];
};

static void interrupt_and_reap(struct ending *e)
{
    double t0 = test_now();
    if (child > 0)
        kill(child, SIGINT);
    e->status = wait_hermes(10);
    e->took = test_now() - t0;
    e->shm_left = shm_exists(run_name);
    e->leftovers = reap_leftover_children(e->leftover_desc, sizeof e->leftover_desc);
}

static void assert_clean_ending(const struct ending *e)
{
    if (e->status != 130)
        fail_msg("hermes exited with %d after SIGINT (expected 130; log %s)", e->status, logpath);
    if (e->took > 5.0)
        fail_msg("hermes took %.2f s to stop after SIGINT", e->took);
    if (e->shm_left)
        fail_msg("/dev/shm/%s left behind", run_name);
    if (e->leftovers)
        fail_msg("%d child process(es) left: %s", e->leftovers, e->leftover_desc);
}

/* Connect an observer subscribed to every signal and wait for its frames. */
static int observer(struct wsc *w, struct wsc_conn *c, int port)
{
    if (wsc_connect(w, c, port, "hermes") != 0)
        return -1;
    json_t *schema = wsc_wait(w, c, "schema", NULL, 3);
    if (!schema)
        return -1;
    json_decref(schema);
    if (!subscribe(w, c, "[\"*\"]"))
        return -1;
    double end = wsc_now() + 3;
    while (c->nbin < 5 && wsc_now() < end)
        wsc_service(w);
    return c->nbin >= 5 ? 0 : -1;
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Close so that the peer sees a reset rather than a FIN. */
static void close_rst(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* ---- a module killed mid-run --------------------------------------------------- */

static void test_faults_module_killed_mid_run(void **state)
{
    (void)state;
    const char *cfg = write_kill_config();
    assert_non_null(cfg);
    int port = start_hermes(cfg, "kill");
    assert_true(port > 0);
    bool shm_while_running = shm_exists(run_name);

    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn a, b;
    bool connected = wsc_connect(&w, &a, port, "hermes") == 0 && wsc_connect(&w, &b, port, "hermes") == 0;
    bool subscribed = connected && subscribe(&w, &a, "[\"victim.pid\"]") && subscribe(&w, &b, "[\"*\"]");
    /* the module publishes its pid; wait for it and for the run to be running */
    pid_t victim = 0;
    double end = wsc_now() + 5;
    while (subscribed && victim <= 0 && wsc_now() < end) {
        wsc_service(&w);
        double v = value_of(&a, 0);
        if (v > 0 && !isnan(v))
            victim = (pid_t)v;
    }
    unsigned long b_frames = b.nbin;
    bool victim_is_grandchild = false;
    if (victim > 0) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)victim);
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = '\0';
            fclose(f);
            const char *rp = strrchr(buf, ')');
            char st;
            long ppid = 0;
            victim_is_grandchild = rp && sscanf(rp + 1, " %c %ld", &st, &ppid) == 2 && ppid == (long)child;
        }
        wsc_pump(&w, 0.3);  /* mid-run: frames are advancing */
        kill(victim, SIGKILL);
    }

    /* Both clients: an error event naming the module, then a 1001 close. */
    json_t *ev[2] = {NULL, NULL};
    struct wsc_conn *cs[2] = {&a, &b};
    end = wsc_now() + 10;
    while (victim > 0 && (a.state == 1 || b.state == 1) && wsc_now() < end)
        wsc_service(&w);
    for (int i = 0; i < 2; i++)
        ev[i] = wsc_wait(&w, cs[i], "event", "error", 0.2);
    int status = wait_hermes(10);
    bool victim_gone = victim > 0 && kill(victim, 0) != 0 && errno == ESRCH;
    bool shm_left = shm_exists(run_name);
    char leftovers[512];
    int nleft = reap_leftover_children(leftovers, sizeof leftovers);
    char msg[2][512] = {"", ""};
    for (int i = 0; i < 2; i++)
        if (ev[i])
            snprintf(msg[i], sizeof msg[i], "%s", js(ev[i], "message"));
    int code[2] = {a.close_code, b.close_code}, st[2] = {a.state, b.state};
    b_frames = b.nbin - b_frames;
    for (int i = 0; i < 2; i++)
        json_decref(ev[i]);
    wsc_conn_free(&a);
    wsc_conn_free(&b);
    wsc_destroy(&w);

    assert_true(shm_while_running);
    assert_true(connected);
    assert_true(subscribed);
    if (victim <= 0)
        fail_msg("never saw the module's pid in telemetry");
    assert_true(victim_is_grandchild);  /* the pid really is hermes' module */
    for (int i = 0; i < 2; i++) {
        if (!ev[i])
            fail_msg("client %d got no error event (state %d, close %d)", i, st[i], code[i]);
        assert_contains(msg[i], "'victim'");
        assert_contains(msg[i], "killed by signal 9");
        assert_int_equal(st[i], 2);
        assert_int_equal(code[i], 1001);
    }
    if (status != 1)
        fail_msg("hermes exited with %d (expected 1; log %s)", status, logpath);
    assert_true(log_contains("event=run_failed"));
    assert_true(victim_gone);
    if (shm_left)
        fail_msg("/dev/shm/%s left behind", run_name);
    if (nleft)
        fail_msg("%d child process(es) left: %s", nleft, leftovers);
}

/* ---- broken and hostile clients ---------------------------------------------------- */

/* Clients that vanish in the middle of a frame, by FIN and by RST. */
static void test_faults_client_killed_mid_message(void **state)
{
    (void)state;
    int port = start_hermes(datafile("net.yaml"), "midmsg");
    assert_true(port > 0);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn obs;
    int obs_ok = observer(&w, &obs, port);

    int upgraded = 0, sent_half = 0;
    for (int i = 0; obs_ok == 0 && i < 20; i++) {
        int fd = raw_connect(port, 0);
        if (fd < 0)
            continue;
        upgraded++;
        /* a masked text frame announcing 1000 bytes, then 10 of them */
        unsigned char h[8 + 10] = {0x81, 0x80 | 126, 0x03, 0xe8, 0x11, 0x22, 0x33, 0x44};
        memcpy(h + 8, "{\"action\":", 10);
        size_t len = i % 4 == 3 ? 3 : sizeof h;  /* sometimes only half the header */
        if (raw_write_all(fd, h, len) == 0)
            sent_half++;
        wsc_pump(&w, 0.02);  /* let the server take the bytes in */
        if (i % 2)
            close_rst(fd);
        else
            close(fd);
    }
    double rate = obs_ok == 0 ? rate_of(&w, &obs, RATE_WINDOW_S) : 0;
    long clients = obs_ok == 0 ? wait_clients(&w, &obs, 1, 5) : -1;
    bool alive = hermes_alive();
    print_message("observer rate after 20 clients died mid-frame: %.1f Hz, server counts %ld client(s)\n", rate,
                  clients);
    struct ending e;
    interrupt_and_reap(&e);
    unsigned long bad = obs.nbin_bad;
    wsc_conn_free(&obs);
    wsc_destroy(&w);

    assert_int_equal(obs_ok, 0);
    assert_int_equal(upgraded, 20);
    assert_int_equal(sent_half, 20);
    assert_true(alive);
    if (rate < MIN_RATE_HZ)
        fail_msg("observer got %.1f Hz (configured 60, minimum %.0f)", rate, (double)MIN_RATE_HZ);
    assert_true(bad == 0);
    assert_int_equal(clients, 1);  /* every dead connection was released */
    assert_clean_ending(&e);
}

/* TCP connections that never upgrade, and upgraded ones that go silent (one
 * of them subscribed to everything, with a tiny receive buffer, never read). */
static void test_faults_half_open_connections(void **state)
{
    (void)state;
    int port = start_hermes(datafile("net.yaml"), "halfopen");
    assert_true(port > 0);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn obs;
    int obs_ok = observer(&w, &obs, port);

    int plain[10], nplain = 0;
    for (int i = 0; obs_ok == 0 && i < 10; i++)
        if ((plain[nplain] = tcp_connect(port)) >= 0)
            nplain++;
    /* half an upgrade request, then nothing */
    int partial = tcp_connect(port);
    bool partial_ok = partial >= 0 && raw_write_all(partial, "GET / HTTP/1.1\r\nHost: 127.", 26) == 0;
    int silent = raw_connect(port, 0);
    int stalled = raw_connect(port, 2048);
    bool stalled_ok = false;
    if (stalled >= 0) {
        const char *sub = "{\"action\":\"subscribe\",\"params\":{\"signals\":[\"*\"]}}";
        stalled_ok = raw_send(stalled, 1, sub, strlen(sub)) == 0;
    }
    double rate = obs_ok == 0 ? rate_of(&w, &obs, RATE_WINDOW_S) : 0;
    /* The upgraded pair counts as clients; the others never became clients. */
    long clients = obs_ok == 0 ? wait_clients(&w, &obs, 3, 3) : -1;
    double rate2 = obs_ok == 0 ? rate_of(&w, &obs, 1.0) : 0;
    bool alive = hermes_alive();
    print_message("observer rate with 10 idle TCP, 1 partial upgrade, 2 silent clients: %.1f / %.1f Hz, %ld clients\n",
                  rate, rate2, clients);
    /* Shutdown must not wait for peers that never answer. */
    struct ending e;
    interrupt_and_reap(&e);
    for (int i = 0; i < nplain; i++)
        close(plain[i]);
    if (partial >= 0)
        close(partial);
    if (silent >= 0)
        close(silent);
    if (stalled >= 0)
        close(stalled);
    wsc_conn_free(&obs);
    wsc_destroy(&w);

    assert_int_equal(obs_ok, 0);
    assert_int_equal(nplain, 10);
    assert_true(partial_ok);
    assert_true(silent >= 0);
    assert_true(stalled_ok);
    assert_true(alive);
    if (rate < MIN_RATE_HZ || rate2 < MIN_RATE_HZ)
        fail_msg("observer got %.1f then %.1f Hz (configured 60, minimum %.0f)", rate, rate2, (double)MIN_RATE_HZ);
    assert_int_equal(clients, 3);
    assert_clean_ending(&e);
}

/* A client streams a message whose header announces 100 MB. */
struct big_sender {
    int            fd;
    _Atomic int    stop;
    _Atomic int    done;
    uint64_t       announced;
    _Atomic uint64_t sent;
    int            err;
};

static void *big_send_main(void *arg)
{
    struct big_sender *b = arg;
    unsigned char h[14] = {0x81, 0x80 | 127};
    for (int i = 0; i < 8; i++)
        h[2 + i] = (unsigned char)(b->announced >> (8 * (7 - i)));
    memcpy(h + 10, "\x11\x22\x33\x44", 4);
    if (raw_write_all(b->fd, h, sizeof h) != 0)
        b->err = errno ? errno : -1;
    /* The payload: masked spaces, which would be valid JSON whitespace. */
    static unsigned char chunk[65536];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (unsigned char)(' ' ^ "\x11\x22\x33\x44"[i & 3]);
    while (!b->err && !atomic_load(&b->stop) && atomic_load(&b->sent) < b->announced) {
        uint64_t left = b->announced - atomic_load(&b->sent);
        size_t n = left < sizeof chunk ? (size_t)left : sizeof chunk;
        ssize_t k = send(b->fd, chunk, n, MSG_NOSIGNAL);
        if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;  /* SO_SNDTIMEO expired: re-check stop */
        if (k <= 0) {
            b->err = errno ? errno : -1;
            break;
        }
        atomic_fetch_add(&b->sent, (uint64_t)k);
    }
    atomic_store(&b->done, 1);
    return NULL;
}

static void test_faults_huge_frame_header(void **state)
{
    (void)state;
    int port = start_hermes(datafile("net.yaml"), "huge");
    assert_true(port > 0);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn obs;
    int obs_ok = observer(&w, &obs, port);
    double rss0 = file_rss_mb(child);

    struct big_sender b = {.fd = raw_connect(port, 0), .announced = 100ull << 20};
    pthread_t th;
    bool started = false;
    if (obs_ok == 0 && b.fd >= 0) {
        struct timeval tv = {0, 200000};  /* bounded sends, so stop is seen */
        setsockopt(b.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        started = pthread_create(&th, NULL, big_send_main, &b) == 0;
    }
    /* The observer's rate while the big message streams in. */
    double rate = started ? rate_of(&w, &obs, RATE_WINDOW_S) : 0;
    uint64_t sent_in_window = atomic_load(&b.sent);
    /* Let the message finish (bounded), then the server answers it with an error. */
    double end = wsc_now() + 20;
    while (started && !atomic_load(&b.done) && wsc_now() < end)
        wsc_pump(&w, 0.05);
    atomic_store(&b.stop, 1);
    if (started)
        pthread_join(th, NULL);
    double rss1 = file_rss_mb(child);
    json_t *reply = NULL;
    if (started && !b.err && atomic_load(&b.sent) == b.announced) {
        /* raw_next_json reads the reply (skipping the schema) */
        for (int i = 0; i < 3 && !reply; i++) {
            json_t *j = raw_next_json(b.fd, 5);
            if (!j)
                break;
            if (!strcmp(js(j, "type"), "error"))
                reply = j;
            else
                json_decref(j);
        }
    }
    char reply_msg[256] = "";
    if (reply)
        snprintf(reply_msg, sizeof reply_msg, "%s", js(reply, "message"));
    json_decref(reply);
    /* The connection survived the refusal: a command still gets its ack. */
    bool still_served = false;
    if (reply) {
        const char *cmd = "{\"action\":\"stats\"}";
        if (raw_send(b.fd, 1, cmd, strlen(cmd)) == 0) {
            json_t *j = raw_next_json(b.fd, 5);
            still_served = j && !strcmp(js(j, "type"), "ack");
            json_decref(j);
        }
    }
    double rate2 = obs_ok == 0 ? rate_of(&w, &obs, 1.0) : 0;
    bool alive = hermes_alive();
    print_message("observer rate while a 100 MB message streamed: %.1f Hz (%.1f MB in the window), after: %.1f Hz; "
                  "server RSS %.1f -> %.1f MB\n",
                  rate, (double)sent_in_window / 1048576.0, rate2, rss0, rss1);
    if (b.fd >= 0)
        close(b.fd);
    struct ending e;
    interrupt_and_reap(&e);
    wsc_conn_free(&obs);
    wsc_destroy(&w);

    assert_int_equal(obs_ok, 0);
    assert_true(started);
    if (b.err)
        fail_msg("sending the 100 MB message failed: %s after %llu bytes", strerror(b.err),
                 (unsigned long long)atomic_load(&b.sent));
    if (atomic_load(&b.sent) != b.announced)
        fail_msg("only %llu of %llu bytes were taken in 20 s", (unsigned long long)atomic_load(&b.sent),
                 (unsigned long long)b.announced);
    assert_true(alive);
    if (rate < MIN_RATE_HZ || rate2 < MIN_RATE_HZ)
        fail_msg("observer got %.1f then %.1f Hz (configured 60, minimum %.0f)", rate, rate2, (double)MIN_RATE_HZ);
    assert_contains(reply_msg, "exceeds the 65536-byte limit");
    assert_true(still_served);
    /* Refused without being buffered: far less than the 100 MB announced. */
    if (rss0 > 0 && rss1 - rss0 > 32.0)
        fail_msg("server RSS grew by %.1f MB while discarding the message", rss1 - rss0);
    assert_clean_ending(&e);
}

int main(void)
{
    /* Modules orphaned by hermes would be re-parented here, and found. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_faults_module_killed_mid_run, teardown),
        cmocka_unit_test_teardown(test_faults_client_killed_mid_message, teardown),
        cmocka_unit_test_teardown(test_faults_half_open_connections, teardown),
        cmocka_unit_test_teardown(test_faults_huge_frame_header, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
