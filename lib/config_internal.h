/* Private accessors of the configuration for the scheduler. Never installed. */
#ifndef HERMES_LIB_CONFIG_INTERNAL_H
#define HERMES_LIB_CONFIG_INTERNAL_H

#include <stdint.h>
#include "hermes/config.h"

struct hermes_inproc_module;

/* Host callback table of inproc module @p module_index (set with
 * hermes_config_set_module_callbacks()), or NULL when it has none, when the
 * module is not inproc or when the index is out of range. */
const struct hermes_inproc_module *hermes__config_module_callbacks(const hermes_config_t *cfg,
                                                                   uint32_t module_index);

#endif
