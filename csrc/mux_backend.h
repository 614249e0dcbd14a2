/* mux_backend.h - the readiness backends (epoll, poll, select) behind one
 * small interface.
 *
 * A backend holds (fd, interest) registrations and waits for readiness,
 * reporting ready fds into caller-provided arrays. Event masks use the
 * kernel's epoll bit values everywhere (EPOLLIN == POLLIN, EPOLLOUT ==
 * POLLOUT, ...): epoll passes them through, poll and select translate.
 * Every function returns >= 0 on success or -errno; none prints, exits or
 * aborts on bad input.
 *
 * This header is also the cffi declaration: pymux/_build.py feeds it to
 * ffi.cdef() with the preprocessor lines stripped, so it must stay plain C
 * declarations (no macros, no inline code).
 */
#ifndef MUX_BACKEND_H
#define MUX_BACKEND_H

#include <stdint.h>

typedef struct mux_backend mux_backend_t;

enum mux_backend_kind {
    MUX_BACKEND_EPOLL = 1,
    MUX_BACKEND_POLL = 2,
    MUX_BACKEND_SELECT = 3,
    MUX_BACKEND_URING = 4     /* the loop core only (mux_loop_new): io_uring completions */
};

enum mux_ctl_op {
    MUX_CTL_ADD = 1,    /* -EEXIST if fd is already registered */
    MUX_CTL_MOD = 2,    /* -ENOENT if fd is not registered */
    MUX_CTL_DEL = 3     /* -ENOENT if fd is not registered */
};

/* Largest batch one wait reports; a bigger maxevents is clamped to it
 * (the rest stay ready and are reported by the next wait). */
enum { MUX_MAX_BATCH = 65536 };

/* Creates a backend of the given kind; on failure returns NULL and stores
 * -errno in *err. The epoll fd is created with EPOLL_CLOEXEC. */
mux_backend_t *mux_backend_new(int kind, int *err);

/* Wraps an existing epoll fd (epoll.fromfd); the backend owns it from now. */
mux_backend_t *mux_backend_adopt_epoll(int epfd, int *err);

/* Releases the kernel object; later calls return -EBADF. Idempotent. */
int mux_backend_close(mux_backend_t *b);

/* Closes (if still open) and frees. NULL is accepted. */
void mux_backend_free(mux_backend_t *b);

/* The epoll fd, -ENOTSUP for poll/select, -EBADF once closed. */
int mux_backend_fileno(const mux_backend_t *b);

const char *mux_backend_name(const mux_backend_t *b);

/* fds this backend can watch are below this (select: FD_SETSIZE); 0 means
 * no limit of its own. */
int mux_backend_max_fd(const mux_backend_t *b);

/* Adds, modifies or removes the registration of fd. Flags a backend cannot
 * honour (EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE on poll/select) give
 * -EINVAL; select refuses fds outside [0, FD_SETSIZE) with -EINVAL; poll
 * refuses to add fds >= MUX_MAX_FD with -EBADF (and so finds none to
 * modify or remove: -ENOENT). */
int mux_backend_ctl(mux_backend_t *b, int op, int fd, uint32_t events);

/* Sets how many events one wait may report (1 .. MUX_MAX_BATCH; larger
 * values are clamped). Returns the batch size. */
int mux_backend_set_batch(mux_backend_t *b, int maxevents);

/* The fired arrays: after a wait returning n, fds[i] and events[i] for
 * i < n are the ready fds and their events. They have MUX_MAX_BATCH entries
 * and never move. */
int *mux_backend_fired_fds(mux_backend_t *b);
uint32_t *mux_backend_fired_events(mux_backend_t *b);

/* Waits up to timeout_us microseconds (-1: forever; never less, and to the
 * microsecond: epoll rounds up to whole ms only on kernels before 5.11)
 * and fills the fired arrays with at most one batch.
 * Returns the count, or -errno (-EINTR included: the caller runs signal
 * handlers and retries; -EBUSY if another thread is waiting on this backend
 * and so owns the fired arrays). Two arguments because each cffi argument
 * costs tens of nanoseconds on the hot path. Registrations may change from
 * other threads during a wait. */
int mux_backend_wait(mux_backend_t *b, int64_t timeout_us);

/* For a second thread waiting on the same epoll backend (the kernel allows
 * it; the stdlib's epoll.poll() does too): waits into the caller's arrays.
 * poll and select backends give -EBUSY. */
int mux_backend_wait_into(mux_backend_t *b, int *fds, uint32_t *events,
                          int maxevents, int64_t timeout_us);

/* One-shot select(2) for select.select(): fds[] holds nread read fds, then
 * nwrite write fds, then nexcept exceptional fds (duplicates allowed).
 * Writes the indices of the ready entries, ascending, into ready[] (which
 * must have room for all entries) and returns their count, or -errno. */
int mux_select_once(const int *fds, int nread, int nwrite, int nexcept,
                    int *ready, int64_t timeout_us);

#endif
