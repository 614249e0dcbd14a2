/* mux_backend_internal.h - what a backend implements (internal).
 *
 * Each backend allocates a struct whose first member is mux_backend_t and
 * fills in an ops table; mux_backend.c dispatches through it, checks the
 * arguments every backend shares, and never makes a syscall itself.
 */
#ifndef MUX_BACKEND_INTERNAL_H
#define MUX_BACKEND_INTERNAL_H

#include <stdatomic.h>

#include "mux_backend.h"

typedef struct mux_backend_ops {
    const char *name;
    int max_fd;                         /* fds must be below this; 0: any */
    mux_backend_t *(*create)(int *err);
    int (*ctl)(mux_backend_t *b, int op, int fd, uint32_t events);
    int (*wait)(mux_backend_t *b, int *fds, uint32_t *events,
                int maxevents, int64_t timeout_us);
    int (*fileno)(const mux_backend_t *b);
    void (*close)(mux_backend_t *b);    /* release kernel objects only */
    void (*destroy)(mux_backend_t *b);  /* free memory (already closed) */
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
 * short positive timeout never becomes a busy 0 ms wait. */
int mux__timeout_ms(int64_t timeout_us);

/* Adopts an epoll fd (shared by mux_backend_adopt_epoll and create). */
mux_backend_t *mux__epoll_wrap(int epfd, int *err);

/* epoll_wait into the caller's arrays through a private kernel buffer, for
 * a thread that finds the backend's own arrays taken. */
int mux__epoll_wait_private(mux_backend_t *b, int *fds, uint32_t *events,
                            int maxevents, int64_t timeout_us);

#endif
