/** @file hermes.h  Umbrella header: hosts include only this.
 * Each component header states its own threading and ownership rules. */
#ifndef HERMES_HERMES_H
#define HERMES_HERMES_H

#include "common.h"
#include "error.h"
#include "hermes/version.h"
#include "backplane.h"
#include "config.h"
#include "inproc.h"
#include "scheduler.h"
#include "module.h"
#include "encoder.h"
#include "server.h"
#include "campaign.h"
#include "recorder.h"
#include "replay.h"
#include "h5table.h"
#include "fmu.h"

#endif
