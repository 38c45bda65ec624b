/* libFuzzer harness: the WebSocket server's command handler, without sockets.
 *
 * The input is one complete client text message. It goes through the same
 * path as a message read off a connection (rate limit, JSON depth scan,
 * parsing, every command, the control jobs) via hermes__server_fuzz_command()
 * on a detached server (lib/server_internal.h), against a real shared-memory
 * backplane and a real, staged scheduler built from a small programmatic
 * config (no run() thread: control calls apply in the calling thread). Each
 * message is fed twice, as a controller and as an observer.
 *
 * Checked on every input:
 *  - exactly one reply per message, and it is a JSON object whose "type" is
 *    "ack" or "error" with a string "action" when an ack, a string "message"
 *    when an error;
 *  - an observer never gets an ack for pause, resume, reset, step or set;
 *  - a reply never exceeds what the protocol can produce (64 KiB here).
 * The scheduler is reset before each input so a crash input replays alone.
 * Step counts are capped at 64 frames in the control table (a client may ask
 * for 2^63 frames; the real scheduler would then run for a very long time,
 * which is not what this harness is looking for).
 * The backplane's run name comes from $HERMES_FUZZ_RUN (scripts/fuzz.sh sets
 * it and removes the segment if the process dies), else hermes-fuzz-<pid>. */
#include <hermes/hermes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MESSAGE 65536u
#define STEP_CAP    64u

static hermes_config_t    *cfg;
static hermes_scheduler_t *sched;
static hermes_server_t    *srv;

static int f_pause(void *c) { return hermes_scheduler_pause(c); }
static int f_resume(void *c) { return hermes_scheduler_resume(c); }
static int f_reset(void *c) { return hermes_scheduler_reset(c); }
static int f_step(void *c, uint64_t n, uint64_t *t) { return hermes_scheduler_step(c, n > STEP_CAP ? STEP_CAP : n, t); }
static int f_set(void *c, hermes_signal_t sig, double v) { return hermes_scheduler_set(c, sig, v); }
static hermes_state_t f_state(void *c) { return hermes_scheduler_state(c); }

static void cleanup(void)
{
    hermes_server_destroy(srv);
    hermes_scheduler_destroy(sched);
    hermes_config_destroy(cfg);
    srv = NULL;
    sched = NULL;
    cfg = NULL;
}

#define CHECK(expr)                                                                    \
    do {                                                                               \
        if (!(expr)) {                                                                 \
            fprintf(stderr, "fuzz_command: setup failed: %s: %s\n", #expr, hermes_last_error()); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    static char run[96];
    const char *env = getenv("HERMES_FUZZ_RUN");
    if (env && *env)
        snprintf(run, sizeof run, "%s", env);
    else
        snprintf(run, sizeof run, "hermes-fuzz-%ld", (long)getpid());
    CHECK(hermes_config_create(&cfg) == 0);
    CHECK(hermes_config_add_module(cfg, "ctrl", HERMES_MODULE_INJECTION, NULL) == 0);
    CHECK(hermes_config_add_signal(cfg, "ctrl", "throttle", HERMES_TYPE_F64, "", true, 0.5) == 0);
    CHECK(hermes_config_add_signal(cfg, "ctrl", "gear", HERMES_TYPE_I32, "", true, 1) == 0);
    CHECK(hermes_config_add_signal(cfg, "ctrl", "count", HERMES_TYPE_I64, "", true, 0) == 0);
    CHECK(hermes_config_add_signal(cfg, "ctrl", "gain", HERMES_TYPE_F32, "", true, 0.25) == 0);
    CHECK(hermes_config_add_signal(cfg, "ctrl", "armed", HERMES_TYPE_BOOL, "", true, 0) == 0);
    CHECK(hermes_config_add_module(cfg, "plant", HERMES_MODULE_INJECTION, NULL) == 0);
    CHECK(hermes_config_add_signal(cfg, "plant", "position.x", HERMES_TYPE_F64, "m", false, 1) == 0);
    CHECK(hermes_config_add_signal(cfg, "plant", "position.y", HERMES_TYPE_F64, "m", false, 2) == 0);
    CHECK(hermes_config_add_signal(cfg, "plant", "velocity", HERMES_TYPE_F64, "m/s", true, 0) == 0);
    CHECK(hermes_config_add_wire(cfg, "ctrl.throttle", "plant.velocity", 2.0, 1.0) == 0);
    hermes_execution_t ex = {HERMES_MODE_AFAP, 100.0, 0, false, 1.0};
    CHECK(hermes_config_set_execution(cfg, &ex) == 0);
    hermes_scheduler_options_t so;
    hermes_scheduler_options_init(&so);
    so.run_name = run;
    so.start_paused = true;
    CHECK(hermes_scheduler_create(&sched, cfg, &so) == 0);
    CHECK(hermes_scheduler_stage(sched) == 0);

    hermes_server_control_t ctl;
    hermes_server_control_init(&ctl);
    ctl.ctx = sched;
    ctl.pause = f_pause;
    ctl.resume = f_resume;
    ctl.reset = f_reset;
    ctl.step = f_step;
    ctl.set = f_set;
    ctl.state = f_state;
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.max_message = MAX_MESSAGE;
    sc.max_patterns = 16;
    sc.max_json_depth = 8;
    sc.sim_config = cfg;
    CHECK(hermes__server_create_detached(&srv, hermes_scheduler_backplane(sched), &sc, &ctl) == 0);
    atexit(cleanup);
    return 0;
}

struct replies {
    int  n;
    bool observer;
};

static const char *const control_actions[] = {"pause", "resume", "reset", "step", "set", "seek"};

static void on_reply(void *ctx, const char *text, size_t len)
{
    struct replies *r = ctx;
    r->n++;
    if (len == 0 || len > MAX_MESSAGE) {
        fprintf(stderr, "fuzz_command: reply of %zu bytes\n", len);
        abort();
    }
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!j || !json_is_object(j)) {
        fprintf(stderr, "fuzz_command: reply is not a JSON object: %.*s\n", (int)(len > 400 ? 400 : len), text);
        abort();
    }
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *action = json_string_value(json_object_get(j, "action"));
    bool ok = type && ((!strcmp(type, "ack") && action) ||
                       (!strcmp(type, "error") && json_is_string(json_object_get(j, "message"))));
    if (ok && r->observer && !strcmp(type, "ack"))
        for (size_t i = 0; i < sizeof control_actions / sizeof *control_actions; i++)
            if (!strcmp(action, control_actions[i]))
                ok = false;
    if (!ok) {
        fprintf(stderr, "fuzz_command: bad reply (%s): %.*s\n", r->observer ? "observer" : "controller",
                (int)(len > 400 ? 400 : len), text);
        abort();
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_MESSAGE)
        return 0;
    (void)hermes_scheduler_reset(sched);
    for (int observer = 0; observer < 2; observer++) {
        struct replies r = {0, observer != 0};
        int n = hermes__server_fuzz_command(srv, data, size, r.observer, on_reply, &r);
        if (n != 1 || r.n != 1) {
            fprintf(stderr, "fuzz_command: %d replies (%d seen), expected exactly 1 (%s)\n", n, r.n,
                    r.observer ? "observer" : "controller");
            abort();
        }
    }
    return 0;
}
