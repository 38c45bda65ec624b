/* Private parts of the Foxglove WebSocket protocol (docs/foxglove.md): the
 * mapping of a backplane onto Foxglove channels, parameters and services, the
 * message builders, and the fast number formatter of the JSON payloads. The
 * builders are pure (no sockets, no threads): lib/server/foxglove/foxglove.c plugs them
 * into the server's protocol seam. Never installed. */
#ifndef HERMES_LIB_SERVER_FOXGLOVE_H
#define HERMES_LIB_SERVER_FOXGLOVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hermes/backplane.h"
#include "hermes/config.h"

/* Subprotocol names a Foxglove client may ask for (they differ only by name). */
#define HERMES_FG_PROTOCOL_SDK "foxglove.sdk.v1"
#define HERMES_FG_PROTOCOL_WS  "foxglove.websocket.v1"

/* Binary opcodes (little-endian layouts in docs/foxglove.md). */
#define HERMES_FG_OP_MESSAGE_DATA          0x01u  /* server: u8 op, u32 subscription, u64 ns, payload */
#define HERMES_FG_OP_TIME                  0x02u  /* server: u8 op, u64 ns */
#define HERMES_FG_OP_SERVICE_CALL_RESPONSE 0x03u  /* server: u8 op, u32 service, u32 call, u32 n, enc, payload */
#define HERMES_FG_OP_SERVICE_CALL_REQUEST  0x02u  /* client: same layout as the response */
#define HERMES_FG_MESSAGE_HEADER 13u
#define HERMES_FG_TIME_SIZE      9u

/* Status levels. */
enum { HERMES_FG_INFO = 0, HERMES_FG_WARNING = 1, HERMES_FG_ERROR = 2 };

/* Services, with their ids (1-based, in this order). */
enum hermes__fg_service { HERMES_FG_SVC_PAUSE = 1, HERMES_FG_SVC_RESUME, HERMES_FG_SVC_STEP, HERMES_FG_SVC_RESET,
                          HERMES_FG_SVC_CHECKPOINT, HERMES_FG_SVC_COUNT = HERMES_FG_SVC_CHECKPOINT };

/* Longest text hermes__fg_format_double() writes (no NUL): "-2.2250738585072014e-308". */
#define HERMES_FG_DOUBLE_MAX 25u

/* Write @p v as the shortest-or-nearly JSON number text that reads back as
 * exactly @p v (Grisu2; integers below 2^53 take a fast path); NaN and
 * infinities become "null". Returns the length; @p out needs
 * HERMES_FG_DOUBLE_MAX bytes. Context: any thread, no allocation. */
size_t hermes__fg_format_double(double v, char *out);
/* Write @p v in decimal (no NUL); returns the length, at most 20. Context:
 * any thread, no allocation. */
size_t hermes__fg_format_u64(uint64_t v, char *out);

/* What a tick adds beyond the signal values (the "hermes" channel). */
typedef struct hermes__fg_tick {
    const double *values;  /* every backplane slot, by index, one snapshot */
    uint64_t      frame;
    uint64_t      time_ns;
    const char   *state;   /* "paused", "running", ...; NULL: "unknown" */
} hermes__fg_tick_t;

typedef struct hermes__fg_catalog hermes__fg_catalog_t;

/* Map @p total signals (@p info[k] describes the signal at index k, as the
 * server's catalog lists them): one channel per module (in the order modules
 * first appear), numbers nested by the dotted local names, plus the "hermes"
 * channel of timing health, state, frame and time. Strings are borrowed from
 * @p info, which must outlive the catalog. @return 0, HERMES_ENOMEM. */
int hermes__fg_catalog_create(hermes__fg_catalog_t **out, const hermes_signal_info_t *info, uint32_t total);
void hermes__fg_catalog_destroy(hermes__fg_catalog_t *cat);

uint32_t hermes__fg_channel_count(const hermes__fg_catalog_t *cat);
/* Channel ids are 1..count; NULL for an unknown id. */
const char *hermes__fg_channel_topic(const hermes__fg_catalog_t *cat, uint32_t id);
/* JSON Schema text of channel @p id as advertised, and its schema name in
 * @p name (may be NULL); both borrowed, NULL for an unknown id. The MCAP
 * recordings (recording/mcap_run.c) write the same schemas. */
const char *hermes__fg_channel_schema(const hermes__fg_catalog_t *cat, uint32_t id, const char **name);
/* Largest payload of channel @p id (bytes). */
size_t hermes__fg_channel_bound(const hermes__fg_catalog_t *cat, uint32_t id);
/* JSON path of signal @p index inside its channel's message, e.g.
 * "position.altitude" (borrowed), and its channel id; NULL when unknown. */
const char *hermes__fg_signal_path(const hermes__fg_catalog_t *cat, uint32_t index, uint32_t *channel);

/* Encode the JSON payload of channel @p id for one tick into @p out (at least
 * hermes__fg_channel_bound() bytes). Returns the length (0: unknown id).
 * Context: any thread, no allocation. */
size_t hermes__fg_encode(const hermes__fg_catalog_t *cat, uint32_t id, const hermes__fg_tick_t *tick, char *out);

/* MessageData header (13 bytes) and Time message (9 bytes). */
void hermes__fg_put_message_header(unsigned char *p, uint32_t subscription, uint64_t time_ns);
void hermes__fg_put_time(unsigned char *p, uint64_t time_ns);

/* JSON texts (malloc'd, NUL-terminated, length in @p len; NULL on ENOMEM). */
/* serverInfo; @p rates (optional) is the "module_rates" metadata value. */
char *hermes__fg_server_info(const char *name, const char *session_id, const char *run_id, const char *rates,
                             size_t *len);
/* {"module": {"rate_hz", "divisor", "offset"}, ...} for the modules whose
 * rates[i].divisor is not 0, as JSON text (malloc'd; NULL on ENOMEM). */
char *hermes__fg_module_rates(const hermes_module_rate_t *rates, const char *const *modules, uint32_t n);
char *hermes__fg_advertise(const hermes__fg_catalog_t *cat, size_t *len);
char *hermes__fg_advertise_services(size_t *len);
char *hermes__fg_status(int level, const char *message, const char *id, size_t *len);

/* parameterValues of the signals @p indices[0..n) (the caller picks the
 * parameters: writable signals no wire drives), named by their qualified
 * names, with @p values[index]: a number ("type":"float64" for f64/f32), an
 * integer for i32/i64, true/false for bool; a non-finite value is left out
 * (undefined). @p id (NULL: none) is echoed. */
char *hermes__fg_parameter_values(const hermes_signal_info_t *info, uint32_t total, const double *values,
                                  const uint32_t *indices, size_t n, const char *id, size_t *len);

/* A parsed service call request (borrows from the message). */
typedef struct hermes__fg_call {
    uint32_t             service;
    uint32_t             call;
    const char          *encoding;
    size_t               encoding_len;
    const unsigned char *data;
    size_t               data_len;
} hermes__fg_call_t;

/* Parse a client binary message that is a service call request.
 * @return 0, or HERMES_EINVAL with a message in hermes_last_error(). */
int hermes__fg_parse_call(const unsigned char *msg, size_t len, hermes__fg_call_t *out);

/* Service call response: 13 + 4 ("json") + payload bytes into @p out. */
size_t hermes__fg_call_response_size(size_t payload_len);
void hermes__fg_put_call_response(unsigned char *out, uint32_t service, uint32_t call, const char *payload,
                                  size_t payload_len);
/* serviceCallFailure JSON text (malloc'd). */
char *hermes__fg_call_failure(uint32_t service, uint32_t call, const char *message, size_t *len);

#endif
