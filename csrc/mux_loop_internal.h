/* mux_loop_internal.h - the loop's internal state, shared by mux_loop.c
 * (iteration, fd table, watchers, wake-up), mux_stream.c (streams and
 * listeners) and mux_timer.c (timer heap).
 */
#ifndef MUX_LOOP_INTERNAL_H
#define MUX_LOOP_INTERNAL_H

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mux_backend.h"
#include "mux_fork.h"
#include "mux_grow.h"
#include "mux_loop.h"

/* What the loop holds an fd as (mux_fd_t.kind). */
enum mux__fd_kind {
    MUX__FD_FREE = 0,
    MUX__FD_WATCH,                  /* watcher: plain readiness records */
    MUX__FD_STREAM,                 /* connected socket the loop owns */
    MUX__FD_LISTENER,               /* listening socket the loop accepts on */
    MUX__FD_WAKEUP                  /* the loop's eventfd */
};

/* mux_fd_t.flags */
enum mux__fd_flag {
    MUX__FLAG_IN_CHANGES = 1 << 0,    /* queued in loop->changes */
    MUX__FLAG_READING = 1 << 1,       /* stream: the caller wants data */
    MUX__FLAG_EOF = 1 << 2,           /* stream: peer shut down, or read error */
    MUX__FLAG_ABOVE_HIGH = 1 << 3,    /* stream: queue went above high water */
    MUX__FLAG_SHUT_PENDING = 1 << 4,  /* stream: shutdown(SHUT_WR) once drained */
    MUX__FLAG_CLOSE_PENDING = 1 << 5, /* stream: close once drained */
    MUX__FLAG_STILL_READY = 1 << 6,   /* edge-triggered: not drained, in loop->still */
    MUX__FLAG_PAUSED = 1 << 7,        /* listener: accepting paused after an error */
    MUX__FLAG_SERVED = 1 << 8,        /* read from the still-ready list this pass */
    MUX__FLAG_PEER_DONE = 1 << 9,     /* edge-triggered: RDHUP/HUP/ERR seen,
                                         read to the end */
    MUX__FLAG_STARVED = 1 << 10,      /* in loop->still because the read buffer was full */
    MUX__FLAG_ARMED = 1 << 11,        /* io_uring: the fd's multishot recv or accept,
                                         or its watcher's poll, is in flight */
    MUX__FLAG_HELD = 1 << 12          /* io_uring stream: in u->waiting (data or its
                                         end waits to be delivered) */
};

/* The flags that say where an fd is listed (loop->changes, loop->still).
 * Like the list entries, they outlive the fd's owner (mux__forget_fd) and
 * pass to the next one, so no fd is listed more often than the lists have
 * room for. */
#define MUX__FLAGS_LISTED (MUX__FLAG_IN_CHANGES | MUX__FLAG_STILL_READY \
                           | MUX__FLAG_STARVED | MUX__FLAG_SERVED)

/* Bytes a stream could not send yet; exists only while a send is partial. */
typedef struct {
    size_t head, len, cap;   /* unsent bytes are data[head .. head+len) */
    char data[];
} mux_wqueue_t;

/* One per fd number; 24 bytes, so 10,000 idle connections cost ~240 KB. */
typedef struct {
    uint8_t kind;            /* enum mux__fd_kind */
    uint8_t interest;        /* MUX_READ|MUX_WRITE applied to the backend */
    uint8_t pending;         /* wanted at the next apply_changes() */
    uint16_t flags;          /* enum mux__fd_flag */
    uint16_t gen;            /* generation: high bits of the token */
    uint32_t high, low;      /* stream watermarks; listener: high = batch */
    mux_wqueue_t *wq;        /* stream write queue, NULL when empty */
} mux_fd_t;

typedef struct {
    int64_t deadline;        /* CLOCK_MONOTONIC ns */
    uint64_t seq;            /* insertion order: FIFO among equal deadlines */
    int heap_pos;            /* index in loop->heap, -1 when not armed */
} mux_timer_t;

struct mux__uloop;   /* mux_loop_uring.h */

struct mux_loop {
    mux_backend_t *backend;  /* on io_uring: an epoll instance for watchers */
    struct mux__uloop *u;    /* the io_uring backend's state, or NULL */
    int edge;                /* epoll edge-triggered streams and listeners */
    uint16_t last_gen;
    mux_fd_t *fds;           /* indexed by fd */
    int nfds;
    int *changes;            /* fds whose pending interest differs */
    int nchanges;
    size_t changes_cap;
    int *still;              /* edge-triggered fds with more to read/accept */
    int nstill;
    size_t still_cap;
    int *fired;              /* MUX_RECORD_INTS ints per record */
    int nfired;
    size_t fired_cap;        /* counted in records */
    int record_error;        /* -ENOMEM if a record could not be stored */
    char *rbuf;              /* MUX_READ_BUFFER bytes, shared by all streams */
    size_t rused;
    int rbuf_filled;         /* a stream found the buffer full this pass */
    int waits_skipped;       /* consecutive passes that skipped the wait */
    int wakefd;
    atomic_int wake_pending;
    atomic_int busy;         /* an entry point is running: see mux__enter */
    unsigned forks;          /* mux__fork_generation() when made: differs in a forked child */
    /* timers */
    mux_timer_t *timers;     /* indexed by id */
    int ntimers;
    int *heap;               /* timer ids, min-heap by (deadline, seq) */
    int heap_len;
    int *free_ids, nfree;    /* reusable ids */
    int *fired_ids, nfired_ids; /* fired this iteration, reusable next */
    uint64_t timer_seq;
};

/* Token layout: fd in the low MUX__FD_BITS bits, a nonzero generation
 * (at most MUX__GEN_MAX) above. */
#define MUX__FD_BITS 20
#define MUX__GEN_MAX 2047

_Static_assert(MUX_MAX_FD == 1 << MUX__FD_BITS,
               "a token's fd bits hold every fd below MUX_MAX_FD, and only those");
_Static_assert(((long long)MUX__GEN_MAX << MUX__FD_BITS | (MUX_MAX_FD - 1)) <= INT_MAX,
               "every token is a non-negative int");
_Static_assert(MUX__GEN_MAX <= UINT16_MAX, "a generation fits mux_fd_t.gen");

static inline int mux__token_fd(int token)
{
    return token & ((1 << MUX__FD_BITS) - 1);
}

/* A loop made before a fork belongs to the parent: its epoll instance,
 * eventfd and sockets are shared with it (mux_fork.h counts the forks). */
static inline int mux__forked(const mux_loop_t *loop)
{
    return loop->forks != mux__fork_generation();
}

/* Every public entry point but mux_loop_wakeup holds the loop while it
 * runs (run_once across its wait, too): a thread that calls in meanwhile
 * gets -EBUSY instead of racing on the loop's state. An entry point's body
 * is MUX__HOLDING(loop, call): `call` runs with the loop held and its value
 * is returned; a NULL loop gives -EINVAL, a loop held elsewhere -EBUSY, a
 * loop made before this process was forked -ECHILD. */
#define MUX__HOLDING(loop, call) __extension__ ({                       \
        __typeof__(call) mux__rc = mux__enter(loop);                    \
        if (mux__rc == 0) {                                             \
            mux__rc = (call);                                           \
            mux__leave(loop);                                           \
        }                                                               \
        mux__rc;                                                        \
    })

static inline int mux__enter(mux_loop_t *loop)
{
    if (loop == NULL)
        return -EINVAL;
    if (mux__forked(loop))
        return -ECHILD;
    return atomic_exchange(&loop->busy, 1) ? -EBUSY : 0;
}

static inline void mux__leave(mux_loop_t *loop)
{
    atomic_store(&loop->busy, 0);
}

int mux__push_record(mux_loop_t *loop, int kind, int token, int a, int b);
int mux__fd_reserve(mux_loop_t *loop, int fd);
void mux__want(mux_loop_t *loop, int fd, int interest);
int mux__mark_still_ready(mux_loop_t *loop, int fd);
int mux__token_of(const mux_loop_t *loop, int fd);
mux_fd_t *mux__entry(mux_loop_t *loop, int token, int kind);
void mux__forget_fd(mux_loop_t *loop, int fd);
int mux__watcher_ready(mux_loop_t *loop, int fd, uint32_t events);

/* mux_stream.c */
int mux__claim(mux_loop_t *loop, int fd, int kind, int interest);
mux_fd_t *mux__live_stream(mux_loop_t *loop, int token);
int mux__wqueue_append(mux_wqueue_t **qp, const char *data, size_t len);
int64_t mux__stream_queued(const mux_loop_t *loop, int fd);
int mux__stream_adopt(mux_loop_t *loop, int fd);
void mux__pause_listener(mux_loop_t *loop, int fd, int err);
void mux__stream_ready(mux_loop_t *loop, int fd, uint32_t events);
void mux__listener_ready(mux_loop_t *loop, int fd);
void mux__close_owned(mux_loop_t *loop, int fd);

/* mux_timer.c */
int64_t mux__timers_next_us(const mux_loop_t *loop, int64_t now);
int mux__timers_expire(mux_loop_t *loop, int64_t now);
void mux__timers_release_fired(mux_loop_t *loop);
void mux__timers_free(mux_loop_t *loop);

#endif
