/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32() and the MCAP
 * specification's CRC fields): start with crc = 0, feed pieces in order.
 * Thread-safe. Private. */
#ifndef HERMES_LIB_COMMON_CRC32_H
#define HERMES_LIB_COMMON_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t hermes__crc32(uint32_t crc, const void *data, size_t n);

#endif
