/* SPDX-License-Identifier: GPL-2.0 */
/* Clocks shared by the dplab guest tools: wall (monotonic) seconds, and this process's CPU seconds
 * (guest instructions x 1e-9 under QEMU icount shift=0), plus the pacing sleep. */
#ifndef LAB_CLOCK_H
#define LAB_CLOCK_H
#include <time.h>

static inline double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double now(void) { return clock_s(CLOCK_MONOTONIC); }
static inline double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

/* Markers for the lab's instruction profiler (tools/insn_plugin.c, a QEMU TCG plugin): no-ops on any x86
 * CPU; the plugin counts the instructions executed between them, per translation block. */
static inline void profile_open(void) { __asm__ volatile("xchg %%bx, %%bx" ::: "memory"); }
static inline void profile_close(void) { __asm__ volatile("xchg %%cx, %%cx" ::: "memory"); }

static inline void pace(int usec)
{
	struct timespec ts = { .tv_sec = usec / 1000000, .tv_nsec = (usec % 1000000) * 1000L };

	if (usec)
		nanosleep(&ts, NULL);
}
#endif
