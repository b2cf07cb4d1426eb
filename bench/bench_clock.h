/* bench_clock.h - the clocks every C benchmark client reads (each client is one .c file
 * built on its own with cc; this header is all they share). */
#ifndef BENCH_CLOCK_H
#define BENCH_CLOCK_H
#include <sys/resource.h>
#include <time.h>

/* Monotonic seconds. */
static inline double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* This process's CPU seconds, user and system. */
static inline double
cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	    ru.ru_stime.tv_usec / 1e6;
}
#endif
