/* Schedule groups, the scheduler's side: members of one group step
 * concurrently within a frame (lib/scheduler/group.c). Private. */
#ifndef HERMES_LIB_SCHED_GROUP_H
#define HERMES_LIB_SCHED_GROUP_H

#include <stdbool.h>
#include <stdint.h>
#include "scheduler/drivers/driver.h"

struct hermes__group;

/* A group of @p n >= 2 members (borrowed, opened). Members with step_begin
 * (process modules) are woken together; the others (inproc) are dealt
 * round-robin into min(inproc members, CPUs) lanes, the last stepped by the
 * calling thread and each other one by a worker thread created here, once
 * (the caller also steps a lane its worker has not claimed yet). @p bp is the run's backplane (check mode reads its
 * live region and names) and @p owner tags the workers
 * (hermes__group_thread_owner()). Returns 0 or a hermes__fail() code. */
int hermes__group_create(struct hermes__group **out, struct hermes__module *const *members, uint32_t n,
                         const hermes_backplane_t *bp, const void *owner);

/* Stops and joins the workers. NULL is fine. */
void hermes__group_destroy(struct hermes__group *g);

/* Number of worker threads of @p g. */
uint32_t hermes__group_workers(const struct hermes__group *g);

/* Step every member due in @p frame (rate_due, set by the caller with
 * hermes__rates_take_members(); each is told its own rate_dt, @p dt is the
 * base frame's). Every member finishes (answers, fails or
 * times out) before this returns, so none is left mid-step. Returns -1 when
 * all succeeded, else the index of the first failing member in member
 * order (its errbuf says why); a failure ends its lane's frame, so later
 * members of that lane do not step. With @p sample, members' step_time slots are
 * written (for process members: from the group's wake-up to the answer). */
int hermes__group_step(struct hermes__group *g, uint64_t frame, double dt, bool sample);

/* check_groups: step the members one at a time in reverse order and, after
 * each, check that no signal of another member changed. Returns as
 * hermes__group_step(); a violation fails the offending member with the
 * signal named in its errbuf. */
int hermes__group_check_step(struct hermes__group *g, uint64_t frame, double dt, bool sample);

/* The owner given to hermes__group_create() when called on one of its
 * worker threads, else NULL. */
const void *hermes__group_thread_owner(void);

#endif
