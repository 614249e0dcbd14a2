/* mux_loop_uring.h - the loop core on io_uring (internal): streams and
 * listeners served by completions instead of readiness.
 *
 * mux_loop_uring.c holds the iteration (deliver held data, submit + wait
 * in one io_uring_enter, dispatch the completions), watchers (an epoll
 * instance, loop->backend, whose fd the ring polls: the epoll backend's
 * semantics exactly), the wake-up read and the teardown; mux_stream_uring.c the
 * streams (multishot recv into the ring's provided buffers, one send in
 * flight at a time) and listeners (multishot accept).
 *
 * Every operation's user_data names its kind, fd and the fd's owner: a
 * 32-bit number from a loop-wide counter, new for each stream and
 * listener (mux__unew_owner), so a completion for an fd that was
 * closed (and perhaps reused) since is recognised as stale and dropped.
 * Not the token's generation: it has 11 bits, and after 2047 claims a
 * dead stream's unharvested completions would match the new one's. Memory a send
 * points to belongs to the operation until its final completion: the
 * stream's `sending` queue while it lives, an orphan after it closed.
 */
#ifndef MUX_LOOP_URING_H
#define MUX_LOOP_URING_H

#include <stdint.h>

#include "mux_loop_internal.h"
#include "mux_uring.h"

/* What an operation is (the low 4 bits of its user_data). */
enum mux__uop {
    MUX__UOP_RECV = 1,        /* a stream's multishot recv */
    MUX__UOP_SEND = 2,        /* a stream's send */
    MUX__UOP_ACCEPT = 3,      /* a listener's multishot accept */
    MUX__UOP_POLL = 4,        /* the poll of the watchers' epoll instance */
    MUX__UOP_WAKE = 5,        /* the wake-up eventfd's read */
    MUX__UOP_CANCEL = 6       /* a cancellation: nothing to do */
};

/* The io_uring side of one fd-table entry (its flags are in mux_fd_t:
 * MUX__FLAG_ARMED, MUX__FLAG_HELD). */
typedef struct {
    mux_wqueue_t *sending;    /* stream: what the send in flight points into */
    mux_wqueue_t *held;       /* stream: received, not delivered yet */
} mux__ufd_t;

/* A stream with something to deliver later: held data, and/or its end. */
typedef struct {
    int fd;
    int end;                  /* MUX_REC_EOF/ERROR waiting behind held data, or 0 */
    int end_err;              /* with MUX_REC_ERROR: the errno */
} mux__waiting_t;

/* Send memory of a stream closed with its send in flight. */
typedef struct {
    uint64_t user_data;
    mux_wqueue_t *q;
} mux__orphan_t;

typedef struct mux__uloop {
    mux_uring_t *ring;
    char *pool;               /* the ring's provided buffers */
    unsigned buf_size, buf_count;
    mux__ufd_t *ufds;         /* indexed by fd, as loop->fds */
    size_t ufds_cap;
    uint32_t *owners;         /* indexed by fd: its operations' owner */
    size_t owners_cap;
    uint32_t last_owner;
    mux__waiting_t *waiting;  /* streams with held data or end records */
    int nwaiting;
    size_t waiting_cap;
    mux__orphan_t *orphans;
    int norphans;
    size_t orphans_cap;
    uint64_t wake_count;      /* the wake-up read's buffer */
} mux__uloop_t;

static inline uint64_t mux__ud(int kind, int fd, uint32_t owner)
{
    return (uint64_t)owner << 24 | (uint64_t)fd << 4 | (uint64_t)kind;
}

/* mux_loop_uring.c */
int mux__uloop_new(mux_loop_t *loop);
void mux__uloop_free(mux_loop_t *loop);
int mux__uloop_reserve(mux_loop_t *loop, size_t n);
void mux__unew_owner(mux_loop_t *loop, int fd);
int mux__uloop_run_once(mux_loop_t *loop, int64_t timeout_us);
int mux__uprep_send(mux_loop_t *loop, int fd, const void *buf, size_t len);
int mux__uprep_cancel(mux_loop_t *loop, int kind, int fd);
int mux__uprep_accept(mux_loop_t *loop, int fd);
int mux__uprep_recv(mux_loop_t *loop, int fd);
void mux__ucancel_fd_now(mux_loop_t *loop, int fd);

/* mux_stream_uring.c */
int mux__ustream_adopt(mux_loop_t *loop, int fd);
int64_t mux__ustream_write(mux_loop_t *loop, int fd, mux_fd_t *e, const char *data,
                           size_t len);
int64_t mux__ustream_sending(const mux_loop_t *loop, int fd);
int mux__ustream_flush_for_close(mux_loop_t *loop, int fd);
int mux__ustream_reading_changed(mux_loop_t *loop, int fd);
void mux__uclose_owned(mux_loop_t *loop, int fd, int teardown);
void mux__ustream_recv_done(mux_loop_t *loop, int fd, int res, unsigned flags);
void mux__ustream_send_done(mux_loop_t *loop, int fd, int res);
void mux__ustream_deliver_held(mux_loop_t *loop);
void mux__uorphan_done(mux_loop_t *loop, uint64_t user_data);
int mux__ulistener_start(mux_loop_t *loop, int fd, int token);
int mux__ulistener_arm(mux_loop_t *loop, int fd);
void mux__ulistener_accept_done(mux_loop_t *loop, int fd, int res, unsigned flags);

#endif
