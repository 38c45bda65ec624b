/* libFuzzer harness: the WebSocket server's command handler, without sockets.
 *
 * The input is one complete client text message. It goes through the same
 * path as a message read off a connection (rate limit, JSON depth scan,
 * parsing, every command, the control jobs) via hermes__server_fuzz_command()
 * on a detached server (lib/server/internal.h), against a real shared-memory
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

#include "fuzz_server_rig.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    rig_up("fuzz_command", "position.y", 16);
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
