/* The telemetry frame layout's writer (encoder.c), shared with the other
 * telemetry sources (replay_serve.c) so the layout is written in one place.
 * Private; never installed. */
#ifndef HERMES_LIB_ENCODER_INTERNAL_H
#define HERMES_LIB_ENCODER_INTERNAL_H

#include <stdint.h>

#include "hermes/encoder.h"

/* Write the HERMES_TELEMETRY_HEADER_SIZE-byte header of a frame of @p count
 * values at @p p; the values follow it as little-endian f64
 * (hermes__put_lef64 of util.h). Any thread, no allocation. */
void hermes__telemetry_put_header(unsigned char *p, uint64_t frame, double time, uint32_t count);

#endif
