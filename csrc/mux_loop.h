/* mux_loop.h - the C event-loop core: one loop per thread.
 *
 * The loop owns a backend (epoll LT/ET, poll, select, or an io_uring ring:
 * mux_loop_uring.h), a table indexed by fd, the fired-record array, a
 * timer heap, an eventfd for wake-ups from other threads, one loop-wide
 * read buffer, and C-side TCP streams that read and write without calling
 * back into Python.
 *
 * Pull, not push: mux_loop_run_once() does one whole iteration (apply the
 * coalesced interest changes, wait, read/accept/flush, expire timers) and
 * returns n; the caller then reads 4*n ints from mux_loop_fired(): records
 * of (kind, token, a, b) described by enum mux_record_kind.
 *
 * Streams, listeners and timers are named by tokens the loop hands out; a
 * stream or listener token encodes its fd and a generation, so a stale
 * token (its fd closed, maybe reused) is refused with -EBADF instead of
 * touching someone else's connection. Every function returns >= 0 or
 * -errno and checks every fd, token and size it is given.
 *
 * fork: a loop belongs to the process that made it. In a child forked
 * after mux_loop_new, every function but mux_loop_free returns -ECHILD
 * (the epoll instance, the eventfd and the sockets are shared with the
 * parent, so any change would be the parent's); mux_loop_free closes the
 * child's copies of the fds without touching the backend's registrations.
 *
 * This header is also the cffi declaration (see pymux/_build.py).
 */
#ifndef MUX_LOOP_H
#define MUX_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "mux_common.h"

typedef struct mux_loop mux_loop_t;

enum mux_record_kind {
    MUX_REC_DATA = 1,         /* token, offset into the read buffer, nbytes */
    MUX_REC_EOF = 2,          /* token: the peer shut down its side */
    MUX_REC_ERROR = 3,        /* token, errno: the stream is unusable */
    MUX_REC_RESUME_WRITING = 4, /* token: write queue fell to low water */
    MUX_REC_CLOSED = 5,       /* token: a deferred close finished */
    MUX_REC_ACCEPT = 6,       /* listener token, new stream token */
    MUX_REC_ACCEPT_ERROR = 7, /* listener token, errno: listener paused */
    MUX_REC_IO = 8,           /* fd, MUX_READ/MUX_WRITE mask (watchers) */
    MUX_REC_TIMER = 9         /* timer id */
};

enum {
    MUX_RECORD_INTS = 4,      /* ints per fired record */
    MUX_READ_BUFFER = 2097152, /* loop-wide read buffer, bytes: 32 full
                                  chunks, so many busy streams are served
                                  in few passes (pages untouched while
                                  idle cost no memory) */
    MUX_READ_CHUNK = 65536    /* most bytes read from one stream per pass */
};

/* backend_kind: MUX_BACKEND_EPOLL, MUX_BACKEND_POLL, MUX_BACKEND_SELECT,
 * MUX_BACKEND_URING (-ENOSYS, -EPERM or -EOPNOTSUPP where the kernel
 * refuses io_uring or lacks multishot recv into buffer rings, Linux 6.0);
 * edge_triggered: only with epoll (else -EINVAL). */
mux_loop_t *mux_loop_new(int backend_kind, int edge_triggered, int *err);

/* Closes every stream and listener fd the loop owns, the wake-up fd and the
 * backend, then frees the loop. NULL is accepted. */
void mux_loop_free(mux_loop_t *loop);

/* One iteration; timeout_us < 0 waits until an event or the next timer.
 * Returns the number of fired records (0 on EINTR), or -errno. */
int mux_loop_run_once(mux_loop_t *loop, int64_t timeout_us);

/* The records of the last run_once. The array grows (moves) when one
 * iteration fires more records than ever before: fetch the address again
 * after a run_once that returned more records than any earlier one. */
int *mux_loop_fired(mux_loop_t *loop);
char *mux_loop_read_buffer(mux_loop_t *loop);

/* Makes a blocked (or the next) run_once return; any thread, any time.
 * Every other function belongs to the loop's thread: a call from another
 * thread while one is running returns -EBUSY instead of racing. */
int mux_loop_wakeup(mux_loop_t *loop);

/* Watchers: plain readiness for arbitrary fds (add_reader/add_writer).
 * Applied at once so that errors reach the caller; events become
 * MUX_REC_IO records. mask 0 removes the watcher. */
int mux_watch(mux_loop_t *loop, int fd, int mask);

/* Timers: a heap ordered by (deadline, insertion), so equal deadlines fire
 * in FIFO order. Deadlines are CLOCK_MONOTONIC nanoseconds. Returns the
 * timer id; a fired or cancelled id may be reused from the next iteration. */
int mux_timer_add(mux_loop_t *loop, int64_t deadline_ns);
int mux_timer_cancel(mux_loop_t *loop, int id);
int64_t mux_loop_now_ns(void);

/* Listeners: the loop accepts (non-blocking, close-on-exec, TCP_NODELAY)
 * up to `batch` connections per readiness and reports each new stream in a
 * MUX_REC_ACCEPT record. On EMFILE/ENFILE/ENOBUFS/ENOMEM the listener is
 * paused and MUX_REC_ACCEPT_ERROR is reported; resume it later. */
int mux_listener_open(mux_loop_t *loop, int fd, int batch);
int mux_listener_resume(mux_loop_t *loop, int token);
int mux_listener_close(mux_loop_t *loop, int token);  /* closes the fd */

/* Streams: a connected non-blocking socket the loop now owns. */
int mux_stream_open(mux_loop_t *loop, int fd);

/* Sends at once with MSG_NOSIGNAL and queues only what the kernel did not
 * take; write interest is armed only while something is queued. Returns
 * the bytes queued afterwards (0: all sent), or -errno (the stream is then
 * unusable: close it). data is a void pointer so that cffi takes only bytes
 * or a cdata pointer for it (as a char pointer it would also take a list of
 * one-byte bytes, building the array). */
int64_t mux_stream_write(mux_loop_t *loop, int token, const void *data, size_t len);

int64_t mux_stream_queued(mux_loop_t *loop, int token);
int mux_stream_set_reading(mux_loop_t *loop, int token, int reading);

/* Write-queue watermarks: a MUX_REC_RESUME_WRITING record is reported when
 * the queue, after rising above `high`, drains to `low` or below. */
int mux_stream_set_limits(mux_loop_t *loop, int token, int64_t high, int64_t low);

/* shutdown(SHUT_WR) once the queue has drained. */
int mux_stream_shutdown(mux_loop_t *loop, int token);

/* How mux_stream_close treats the write queue. */
enum mux_close_mode {
    MUX_CLOSE_FLUSH = 0,      /* send the queue first */
    MUX_CLOSE_RESET = 1,      /* drop it; SO_LINGER 0: the peer sees a reset */
    MUX_CLOSE_DROP = 2        /* drop it; a plain close (asyncio's abort()) */
};

/* Closes the stream. RESET, DROP, or nothing queued: closed now, returns 1.
 * Otherwise the queue is flushed first and a MUX_REC_CLOSED record reports
 * the close; returns 0. (On io_uring, a FLUSH close whose queue cannot be
 * handed to the kernel, its last write having failed to, closes at once
 * and returns 1: nothing else would ever finish it.) Either way the token is dead for the caller's
 * writes from now on; only RESET or DROP still reaches a close waiting for
 * its queue to drain (a peer that never reads would otherwise keep it).
 * Another mode: -EINVAL. */
int mux_stream_close(mux_loop_t *loop, int token, int mode);

/* The fd behind a live stream or listener token. */
int mux_token_fd(mux_loop_t *loop, int token);

#endif
