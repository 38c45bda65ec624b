/** @file error.h  Error codes shared by every component.
 * Fallible calls return 0 on success or a negative HERMES_E* code; the
 * detailed message of the last failure is hermes_last_error().
 * Codes are append-only: never renumbered, never reused.
 * Threading: all functions here are pure and safe from any thread. */
#ifndef HERMES_ERROR_H
#define HERMES_ERROR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HERMES_ERROR_TABLE(X)                                                     \
    X(EINVAL,      -1,  "invalid argument")                                       \
    X(ENOMEM,      -2,  "out of memory")                                          \
    X(ENOENT,      -3,  "no such signal, module or object")                       \
    X(ESTATE,      -4,  "not allowed in the current state")                       \
    X(ETYPE,       -5,  "value does not fit the signal's type")                   \
    X(EREADONLY,   -6,  "signal is not writable from outside its module")         \
    X(ECONFIG,     -7,  "invalid configuration")                                  \
    X(ESYS,        -8,  "operating system call failed")                           \
    X(EMODULE,     -9,  "a module failed")                                        \
    X(EABI,        -10, "incompatible ABI or protocol version")                   \
    X(EEXIST,      -11, "name already in use")                                    \
    X(ETIMEDOUT,   -12, "timed out")                                              \
    X(EAGAIN,      -13, "resource temporarily unavailable, try again")            \
    X(EADDRINUSE,  -14, "address already in use")                                 \
    X(ENET,        -15, "network error")                                          \
    X(ERANGE,      -16, "value out of range")                                     \
    X(ESTOPPED,    -17, "the run was stopped")                                    \
    X(EFORMAT,     -18, "malformed, truncated or corrupted file")                 \
    X(ENOTSUP,     -19, "not supported by this module or build")

#define HERMES_X_ENUM_(name, value, text) HERMES_##name = (value),
/** Error codes (negative). HERMES_OK is 0. */
typedef enum hermes_error_code {
    HERMES_OK = 0,
    HERMES_ERROR_TABLE(HERMES_X_ENUM_)
    HERMES_ERROR_MIN_ = -20
} hermes_error_code_t;
#undef HERMES_X_ENUM_

/** Short English description of @p code; never NULL ("unknown error" for an unknown code). */
HERMES_API const char *hermes_strerror(int code);
/** Symbolic name of @p code ("HERMES_ENOENT"); never NULL. */
HERMES_API const char *hermes_err_name(int code);

/** Position and text of a configuration error (see hermes_config_load()). */
typedef struct hermes_error {
    int  code;          /**< HERMES_E* */
    int  line;          /**< 1-based line in @ref file, 0 when unknown */
    int  column;        /**< 1-based column, 0 when unknown */
    char file[512];     /**< file the error is in ("" for in-memory text) */
    char field[128];    /**< dotted field path, e.g. "execution.rate_hz" ("" when none) */
    char message[512];  /**< full human message, "file:line:col: field: text" */
} hermes_error_t;

#ifdef __cplusplus
}
#endif
#endif
