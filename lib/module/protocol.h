/* Module side, private entry: attach speaking an explicit process protocol
 * version. hermes_module_attach() is this with HERMES_MODULE_PROTOCOL; tests
 * (tests/modules/proc_badproto.c) use it to play a module built against
 * another libhermes. Never installed. */
#ifndef HERMES_LIB_MODULE_PROTOCOL_H
#define HERMES_LIB_MODULE_PROTOCOL_H

#include <stdint.h>
#include "hermes/module.h"

int hermes__module_attach_protocol(hermes_module_t **out, const char *run_name, const char *module_name,
                                   uint32_t protocol);

#endif
