/* libFuzzer harness: the Foxglove protocol's message handler, without sockets.
 *
 * The first input byte picks the message kind (even: JSON text, odd: binary,
 * i.e. a service call request); the rest is one complete client message. It
 * goes through the same path as a message read off a connection (rate limit,
 * the shared session layer, every op, parameters, services and their control
 * jobs) via hermes__server_fuzz_message() on a detached server
 * (lib/server/internal.h), against a real shared-memory backplane and a real,
 * staged scheduler (no run() thread: control calls apply in the calling
 * thread). Each message is fed twice, as a controller and as an observer.
 *
 * Checked on every input:
 *  - every text reply is a JSON object whose "op" is one the server sends
 *    (status with level 0..2 and a string message, parameterValues with a
 *    list of parameters, serviceCallFailure with serviceId, callId, message,
 *    serverInfo after a reset);
 *  - every binary reply is a service call response (opcode 0x03, encoding
 *    "json", a JSON object payload with a string "state");
 *  - an observer never gets a service call response, and a setParameters
 *    from an observer sets nothing (its parameterValues is empty);
 *  - no reply exceeds 64 KiB.
 * The scheduler is reset before each input so a crash input replays alone.
 * Step counts are capped at 64 frames in the control table.
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
    rig_up("fuzz_foxglove", "position", 0);
    return 0;
}

struct replies {
    bool observer;
    bool set_parameters;  /* the input is a setParameters op */
};

static void bad(const struct replies *r, const char *why, const char *text, size_t len) __attribute__((noreturn));
static void bad(const struct replies *r, const char *why, const char *text, size_t len)
{
    fprintf(stderr, "fuzz_foxglove: %s (%s): %.*s\n", why, r->observer ? "observer" : "controller",
            (int)(len > 400 ? 400 : len), text);
    abort();
}

static void on_text(void *ctx, const char *text, size_t len)
{
    struct replies *r = ctx;
    if (len == 0 || len > MAX_MESSAGE)
        bad(r, "reply size", text, len);
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!j || !json_is_object(j))
        bad(r, "reply is not a JSON object", text, len);
    const char *op = json_string_value(json_object_get(j, "op"));
    bool ok = false;
    if (!op) {
        ok = false;
    } else if (!strcmp(op, "status")) {
        json_t *lv = json_object_get(j, "level");
        ok = json_is_integer(lv) && json_integer_value(lv) >= 0 && json_integer_value(lv) <= 2 &&
             json_is_string(json_object_get(j, "message"));
    } else if (!strcmp(op, "parameterValues")) {
        json_t *ps = json_object_get(j, "parameters");
        ok = json_is_array(ps);
        if (ok && r->observer && r->set_parameters && json_array_size(ps) != 0)
            bad(r, "an observer's setParameters set something", text, len);
    } else if (!strcmp(op, "serviceCallFailure")) {
        ok = json_is_integer(json_object_get(j, "serviceId")) && json_is_integer(json_object_get(j, "callId")) &&
             json_is_string(json_object_get(j, "message"));
    } else if (!strcmp(op, "serverInfo")) {
        ok = json_is_string(json_object_get(j, "sessionId"));
    }
    if (!ok)
        bad(r, "unexpected reply", text, len);
    json_decref(j);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void on_binary(void *ctx, const char *data, size_t len)
{
    struct replies *r = ctx;
    const unsigned char *p = (const unsigned char *)data;
    if (r->observer)
        bad(r, "an observer got a service call response", data, len);
    if (len < 17 || len > MAX_MESSAGE || p[0] != 0x03 || rd32(p + 9) != 4 || memcmp(p + 13, "json", 4) != 0)
        bad(r, "binary reply is not a json service call response", data, len);
    json_error_t err;
    json_t *j = json_loadb(data + 17, len - 17, JSON_REJECT_DUPLICATES, &err);
    if (!j || !json_is_string(json_object_get(j, "state")))
        bad(r, "service call response payload", data + 17, len - 17);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > MAX_MESSAGE)
        return 0;
    bool binary = data[0] & 1;
    const uint8_t *msg = data + 1;
    size_t len = size - 1;
    bool set_parameters = false;
    if (!binary) {
        json_t *in = json_loadb((const char *)msg, len, JSON_REJECT_DUPLICATES, NULL);
        const char *op = json_string_value(json_object_get(in, "op"));
        set_parameters = op && !strcmp(op, "setParameters");
        json_decref(in);
    }
    (void)hermes_scheduler_reset(sched);
    for (int observer = 0; observer < 2; observer++) {
        struct replies r = {observer != 0, set_parameters};
        int n = hermes__server_fuzz_message(srv, observer & 1 ? "foxglove.sdk.v1" : "foxglove.websocket.v1", msg, len,
                                            binary, r.observer, on_text, on_binary, &r);
        if (n < 0) {
            fprintf(stderr, "fuzz_foxglove: %s\n", hermes_last_error());
            abort();
        }
    }
    return 0;
}
