/* The process-module wake-up primitive: one futex word per direction in the
 * module's control block (struct hermes_shm_wake), with an optional bounded
 * spin before blocking. Private; shared by lib/scheduler/drivers/process.c (orchestrator),
 * lib/module/module.c (module) and bench/bench_process.c (the reference round trip),
 * so the benchmark measures exactly the code the library runs.
 *
 * Why a raw futex rather than a process-shared sem_t: both cost the same
 * when they block (see docs/modules.md for the figures), but the futex word
 * can carry the sequence number of the command it answers and a "child
 * died" bit set by the orchestrator's supervisor, which wakes the scheduler
 * without a separate channel and without a lost-wake-up window; the explicit
 * `sleeping` flag lets the poster skip the FUTEX_WAKE system call while the
 * waiter is still spinning. Semaphores have no owner and no recovery, so a
 * killed module could leave one at an arbitrary count.
 *
 * Memory order: poster stores seq then loads sleeping; waiter stores sleeping
 * then loads seq; both seq_cst (Dekker), so either the waiter sees the new
 * seq or the poster sees the sleeper and wakes it. */
#ifndef HERMES_LIB_PROCESS_WAKE_H
#define HERMES_LIB_PROCESS_WAKE_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backplane/layout.h"
#include "common/util.h"

#define HERMES__WAKE_DEAD 0x80000000u  /* reply word: the module's process is gone */
#define HERMES__WAKE_SEQ  0x7fffffffu
#define HERMES__CMD_HELLO 0x48u     /* first command word: the start-up handshake (never returned by wait) */
/* Checkpoints: save the module's state to / load it from the file
 * hermes__state_path() names (handled inside hermes_module_wait(), never
 * returned by it; sent only to modules whose hello set HERMES__MOD_STATE). */
#define HERMES__CMD_SAVE  0x53u
#define HERMES__CMD_LOAD  0x4Cu
#define HERMES__MOD_STATE 1u        /* mod_flags: hermes_module_set_state() was called */
/* ctrl->status of a STEP answered with hermes_module_finish(): the step
 * succeeded and the module asks the run to end after this frame (msg: why).
 * A value no error code takes (those are small); protocol 1 modules that
 * never call it are unaffected. */
#define HERMES__STATUS_FINISH 0x46494e48  /* "FINH" */

/* The state file of @p module in run @p run: in /dev/shm (both sides see
 * it; the orchestrator removes it after each exchange). */
static inline int hermes__state_path(char *buf, size_t cap, const char *run, const char *module)
{
    return snprintf(buf, cap, "/dev/shm/hermes-state.%s.%s", run, module);
}

static inline uint64_t hermes__wake_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spin budget when spinning is allowed: about the cost of one blocking
 * wake-up across CPUs on the machines we measured (docs/modules.md). */
#define HERMES__SPIN_NS     20000u
#define HERMES__MAX_SPIN_NS 1000000u

/* CPUs this process may run on. */
static inline int hermes__cpu_count(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

/* Spinning pays only while spinners + the one working side fit the cores:
 * the poster spins for replies when there are two CPUs or more; the
 * @p idle_waiters (module processes or worker threads waiting for their
 * next command) spin only when each of them plus the poster has a CPU of
 * its own (idle spinners would otherwise steal the working one's core).
 * HERMES_SPIN_US overrides both budgets (0: never spin). */
static inline void hermes__spin_budget(uint32_t idle_waiters, uint32_t *poster_ns, uint32_t *waiter_ns)
{
    const char *env = getenv("HERMES_SPIN_US");
    if (env && *env) {
        char *end;
        unsigned long us = strtoul(env, &end, 10);
        uint64_t ns = *end == '\0' ? (uint64_t)us * 1000u : HERMES__SPIN_NS;
        *poster_ns = *waiter_ns = (uint32_t)(ns > HERMES__MAX_SPIN_NS ? HERMES__MAX_SPIN_NS : ns);
        return;
    }
    int cpus = hermes__cpu_count();
    *poster_ns = cpus >= 2 ? HERMES__SPIN_NS : 0;
    *waiter_ns = (uint32_t)cpus >= idle_waiters + 1 && cpus >= 2 ? HERMES__SPIN_NS : 0;
}

static inline void hermes__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Publish @p value in @p w and wake its waiter if it sleeps. */
static inline void hermes__wake_post(struct hermes_shm_wake *w, uint32_t value)
{
    atomic_store_explicit(&w->cpu, (int32_t)sched_getcpu(), memory_order_relaxed);
    atomic_store_explicit(&w->seq, value, memory_order_seq_cst);
    if (atomic_load_explicit(&w->sleeping, memory_order_seq_cst))
        syscall(SYS_futex, &w->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Set bits in the word and wake unconditionally (used by the supervisor,
 * which is not the word's normal writer and must never lose the wake-up). */
static inline void hermes__wake_or(struct hermes_shm_wake *w, uint32_t bits)
{
    atomic_fetch_or_explicit(&w->seq, bits, memory_order_seq_cst);
    syscall(SYS_futex, &w->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Wait until the word differs from @p old or until @p deadline_ns
 * (CLOCK_MONOTONIC; UINT64_MAX: none). Spins for up to @p spin ns first,
 * unless the last poster ran on this CPU (it would have to preempt the
 * spinner to answer). Returns the new value, or @p old on timeout. */
static inline uint32_t hermes__wake_wait_spin(struct hermes_shm_wake *w, uint32_t old, uint64_t deadline_ns,
                                              uint32_t spin)
{
    uint32_t v = atomic_load_explicit(&w->seq, memory_order_acquire);
    if (v != old)
        return v;
    if (spin && atomic_load_explicit(&w->cpu, memory_order_relaxed) != sched_getcpu()) {
        uint64_t end = hermes__now_ns() + spin;
        for (uint32_t i = 1;; i++) {
            hermes__cpu_relax();
            v = atomic_load_explicit(&w->seq, memory_order_acquire);
            if (v != old)
                return v;
            if ((i & 63u) == 0 && hermes__now_ns() >= end)
                break;
        }
    }
    for (;;) {
        atomic_store_explicit(&w->sleeping, 1u, memory_order_seq_cst);
        v = atomic_load_explicit(&w->seq, memory_order_seq_cst);
        if (v != old)
            break;
        struct timespec ts, *tp = NULL;
        if (deadline_ns != UINT64_MAX) {
            if (hermes__now_ns() >= deadline_ns)
                break;
            ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
            ts.tv_nsec = (long)(deadline_ns % 1000000000u);
            tp = &ts;
        }
        /* BITSET takes an absolute CLOCK_MONOTONIC deadline: immune to
         * wall-clock jumps and to the drift of re-armed relative timeouts. */
        syscall(SYS_futex, &w->seq, FUTEX_WAIT_BITSET, old, tp, NULL, FUTEX_BITSET_MATCH_ANY);
        v = atomic_load_explicit(&w->seq, memory_order_acquire);
        if (v != old)
            break;
    }
    atomic_store_explicit(&w->sleeping, 0u, memory_order_relaxed);
    return v;
}

/* hermes__wake_wait_spin() with the waiter's budget, w->spin_ns. */
static inline uint32_t hermes__wake_wait(struct hermes_shm_wake *w, uint32_t old, uint64_t deadline_ns)
{
    return hermes__wake_wait_spin(w, old, deadline_ns, w->spin_ns);
}

#endif
