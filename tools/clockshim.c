/* Shifts the wall clock of a process and its children by FAKE_OFFSET_SECONDS (signed, whole
 * seconds): CLOCK_REALTIME and its variants, gettimeofday, time and timespec_get (their pointers
 * are non-null by glibc's declarations, so only a success is shifted). The monotonic
 * clocks are left alone, so timeouts and sleeps behave. Loaded with LD_PRELOAD by
 * tools/midnight.py, which is how the suite runs across a UTC midnight on purpose. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long long shift;
static int (*next_clock_gettime)(clockid_t, struct timespec *);
static int (*next_gettimeofday)(struct timeval *, void *);
static int (*next_timespec_get)(struct timespec *, int);
static pthread_once_t loaded = PTHREAD_ONCE_INIT;

static void load(void) {
    const char *text = getenv("FAKE_OFFSET_SECONDS");
    shift = text ? strtoll(text, NULL, 10) : 0;
    next_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    next_gettimeofday = dlsym(RTLD_NEXT, "gettimeofday");
    next_timespec_get = dlsym(RTLD_NEXT, "timespec_get");
}

static int wall(clockid_t clock) {
    if (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE) return 1;
#ifdef CLOCK_TAI
    if (clock == CLOCK_TAI) return 1;
#endif
#ifdef CLOCK_REALTIME_ALARM
    if (clock == CLOCK_REALTIME_ALARM) return 1;
#endif
    return 0;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    pthread_once(&loaded, load);
    int result = next_clock_gettime(clock, ts);
    if (result == 0 && wall(clock)) ts->tv_sec += shift;
    return result;
}

int __clock_gettime(clockid_t clock, struct timespec *ts) { return clock_gettime(clock, ts); }

int gettimeofday(struct timeval *tv, void *tz) {
    pthread_once(&loaded, load);
    int result = next_gettimeofday(tv, tz);
    if (result == 0) tv->tv_sec += shift;
    return result;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}

int timespec_get(struct timespec *ts, int base) {
    pthread_once(&loaded, load);
    int result = next_timespec_get(ts, base);
    if (result == TIME_UTC) ts->tv_sec += shift;
    return result;
}
