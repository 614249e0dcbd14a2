/* mux_backend_internal.h - what a backend implements (internal).
 *
 * Each backend allocates a struct whose first member is mux_backend_t and
 * fills in an ops table; mux_backend.c dispatches through it, checks the
 * arguments every backend shares, and never makes a syscall itself.
 */
#ifndef MUX_BACKEND_INTERNAL_H
#define MUX_BACKEND_INTERNAL_H

#include <stdatomic.h>
#include <time.h>

#include "mux_backend.h"

typedef struct mux_backend_ops {
    const char *name;
    int max_fd;                         /* fds must be below this; 0: any */
    mux_backend_t *(*create)(int *err);
    int (*ctl)(mux_backend_t *b, int op, int fd, uint32_t events);
    int (*wait)(mux_backend_t *b, int *fds, uint32_t *events,
                int maxevents, int64_t timeout_us);
    void (*close)(mux_backend_t *b);    /* release kernel objects only */
    void (*destroy)(mux_backend_t *b);  /* free memory (already closed) */

    /* Optional ops: NULL where the backend cannot (poll and select can do
     * none of them), and mux_backend.c returns the error named here. */

    /* The kernel object's fd. NULL: -ENOTSUP. */
    int (*fileno)(const mux_backend_t *b);
    /* Wraps an existing kernel object's fd, owned from now on. NULL:
     * -ENOTSUP. */
    mux_backend_t *(*adopt)(int fd, int *err);
    /* Waits into the caller's arrays, for a second thread while another
     * wait owns the fired arrays. NULL: -EBUSY. */
    int (*wait_into)(mux_backend_t *b, int *fds, uint32_t *events,
                     int maxevents, int64_t timeout_us);
} mux_backend_ops_t;

struct mux_backend {
    const mux_backend_ops_t *ops;
    atomic_int busy;        /* a wait owns the fired arrays */
    atomic_int closed;
    int batch;              /* events one wait may report */
    int *fds;               /* fired arrays, MUX_MAX_BATCH entries each */
    uint32_t *events;
};

extern const mux_backend_ops_t mux__epoll_ops;
extern const mux_backend_ops_t mux__poll_ops;
extern const mux_backend_ops_t mux__select_ops;

/* Flags only epoll understands; poll and select refuse them. */
#define MUX__EPOLL_ONLY_FLAGS (EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP)

/* Microseconds to poll(2)/epoll_wait(2) milliseconds, rounded up so that a
 * short positive timeout never becomes a busy 0 ms wait (nor an early
 * return). For kernels without a finer wait: it costs up to 1 ms of delay. */
int mux__timeout_ms(int64_t timeout_us);

/* Microseconds to the exact timespec of ppoll(2)/epoll_pwait2(2)/pselect
 * (tv_sec clamped to INT_MAX, 68 years, so a 32-bit time_t cannot
 * overflow). Returns ts, or NULL for a negative timeout (forever). */
struct timespec *mux__timeout_ts(int64_t timeout_us, struct timespec *ts);

/* Wraps an existing kernel fd in a backend of the given kind, which owns
 * it from now on: NULL with -EINVAL in *err for an unknown kind, -ENOTSUP
 * for a kind without an adopt op, -EBADF for a negative fd.
 * mux_backend_adopt_epoll is this for MUX_BACKEND_EPOLL. */
mux_backend_t *mux__backend_adopt(int kind, int fd, int *err);

#endif
