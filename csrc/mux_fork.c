/* mux_fork.c - the fork counter of mux_fork.h. */
#include <pthread.h>
#include <stdatomic.h>

#include "mux_fork.h"

static atomic_uint forks;
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static int watch_rc;

static void count_fork(void)
{
    atomic_fetch_add_explicit(&forks, 1, memory_order_relaxed);
}

static void install(void)
{
    watch_rc = -pthread_atfork(NULL, NULL, count_fork);
}

int mux__fork_watch(void)
{
    pthread_once(&watch_once, install);
    return watch_rc;
}

unsigned mux__fork_generation(void)
{
    return atomic_load_explicit(&forks, memory_order_relaxed);
}
