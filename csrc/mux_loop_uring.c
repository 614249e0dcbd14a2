/* mux_loop_uring.c - the loop core's io_uring backend (mux_loop_uring.h):
 * setup, one iteration, completion dispatch, watchers, the wake-up read
 * and the teardown.
 *
 * One iteration: deliver data held from earlier passes, then one
 * io_uring_enter submits every operation prepared since the last one
 * (re-arms, sends, cancellations) and waits for completions until the next
 * timer; each completion becomes records as on the other backends.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mux_loop_uring.h"
#include "mux_uring_internal.h"

enum {
    MUX__URING_ENTRIES = 1024,       /* SQ slots; the CQ has twice as many */
    /* Provided buffers, shared by every stream: 512 KiB in all, the most
     * one iteration receives. The kernel takes them in turn (FIFO), so all
     * of them are resident once data flowed: kept small. */
    MUX__URING_BUFFERS = 64,
    MUX__URING_BUFFER_SIZE = 8192,
    /* Completions one iteration handles at most (the rest wait in the
     * CQ): a burst of connections then costs no more record memory than
     * the loop starts with. */
    MUX__URING_HARVEST = 1024,
    MUX__URING_OP_READ = 22          /* IORING_OP_READ, for the eventfd */
};

/* Runs a preparation; when the SQ is full, submits what is prepared and
 * tries once more. */
#define MUX__UPREP(u, call) __extension__ ({                              \
        int mux__r = (call);                                               \
        if (mux__r == -EBUSY && mux__uring_submit((u)->ring) >= 0)         \
            mux__r = (call);                                               \
        mux__r;                                                            \
    })

/* --- preparations ---------------------------------------------------------- */

static uint64_t ud_of(const mux_loop_t *loop, int kind, int fd)
{
    return mux__ud(kind, fd, loop->u->owners[fd]);
}

/* fd has a new owner (a stream or listener): its uring state starts empty,
 * and completions of the operations of its earlier owners are stale from
 * now on. */
void mux__unew_owner(mux_loop_t *loop, int fd)
{
    mux__uloop_t *u = loop->u;

    memset(&u->ufds[fd], 0, sizeof(u->ufds[fd]));
    if (++u->last_owner == 0)
        u->last_owner = 1;   /* 0 is the wake-up read's */
    u->owners[fd] = u->last_owner;
}

int mux__uprep_recv(mux_loop_t *loop, int fd)
{
    mux__uloop_t *u = loop->u;
    uint64_t ud = ud_of(loop, MUX__UOP_RECV, fd);

    return MUX__UPREP(u, mux__uring_prep_recv_multishot(u->ring, fd, (int64_t)ud));
}

int mux__uprep_send(mux_loop_t *loop, int fd, const void *buf, size_t len)
{
    mux__uloop_t *u = loop->u;
    uint64_t ud = ud_of(loop, MUX__UOP_SEND, fd);

    if (len > MUX_URING_MAX_IO)
        len = MUX_URING_MAX_IO;   /* the rest goes in the next send */
    return MUX__UPREP(u, mux__uring_prep_io(u->ring, MUX_URING_OP_SEND, fd, buf,
                                            (int64_t)len, MSG_NOSIGNAL, (int64_t)ud));
}

int mux__uprep_accept(mux_loop_t *loop, int fd)
{
    mux__uloop_t *u = loop->u;
    uint64_t ud = ud_of(loop, MUX__UOP_ACCEPT, fd);

    return MUX__UPREP(u, mux__uring_prep_accept(u->ring, fd, SOCK_NONBLOCK, 1, (int64_t)ud));
}

/* Cancels fd's operation of `kind` (its completion reports -ECANCELED). */
int mux__uprep_cancel(mux_loop_t *loop, int kind, int fd)
{
    mux__uloop_t *u = loop->u;
    uint64_t target = ud_of(loop, kind, fd), ud = ud_of(loop, MUX__UOP_CANCEL, fd);

    return MUX__UPREP(u, mux__uring_prep_cancel(u->ring, (int64_t)target, (int64_t)ud));
}

/* Cancels every operation on fd, submitted now: fd is about to be closed,
 * and the kernel finds the operations by fd only while it is open. */
void mux__ucancel_fd_now(mux_loop_t *loop, int fd)
{
    mux__uloop_t *u = loop->u;
    uint64_t ud = ud_of(loop, MUX__UOP_CANCEL, fd);

    if (MUX__UPREP(u, mux__uring_prep_cancel_fd(u->ring, fd, (int64_t)ud)) == 0)
        mux__uring_submit(u->ring);
}

static int arm_wakeup(mux_loop_t *loop)
{
    mux__uloop_t *u = loop->u;
    uint64_t ud = mux__ud(MUX__UOP_WAKE, loop->wakefd, 0);

    return MUX__UPREP(u, mux__uring_prep_io(u->ring, MUX__URING_OP_READ, loop->wakefd,
                                            &u->wake_count, sizeof(u->wake_count), 0,
                                            (int64_t)ud));
}

static int arm_watchers(mux_loop_t *loop);

/* --- setup and teardown ----------------------------------------------------- */

int mux__uloop_reserve(mux_loop_t *loop, size_t n)
{
    mux__uloop_t *u = loop->u;
    size_t old = u->ufds_cap;

    if (n <= old)
        return 0;
    if (MUX__GROW(u->ufds, u->ufds_cap, n) < 0)
        return -ENOMEM;
    memset(u->ufds + old, 0, (u->ufds_cap - old) * sizeof(*u->ufds));
    old = u->owners_cap;
    if (MUX__GROW(u->owners, u->owners_cap, n) < 0)
        return -ENOMEM;
    memset(u->owners + old, 0, (u->owners_cap - old) * sizeof(*u->owners));
    return 0;
}

/* Whether this kernel has multishot recv into provided buffers (Linux
 * 6.0; buffer rings alone came in 5.19, where such a recv fails with
 * EINVAL): one on a socket pair whose peer is closed ends at once, with
 * EOF where it is supported. Run before any other operation, so its
 * completion is the only one. */
static int probe_multishot_recv(mux__uloop_t *u)
{
    int sv[2], n, rc;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    close(sv[1]);
    rc = mux__uring_prep_recv_multishot(u->ring, sv[0], MUX__UOP_CANCEL);
    do
        n = rc < 0 ? rc : mux__uring_wait(u->ring, 1, 1000000, 1);
    while (n == -EINTR);
    close(sv[0]);
    if (n < 0)
        return n;
    if (n == 0 || mux_uring_completions(u->ring)[1] != 0)
        return -EOPNOTSUPP;
    return 0;
}

/* Makes the ring (loop->wakefd must be a blocking eventfd: a read of a
 * non-blocking one would fail at once instead of waiting). */
int mux__uloop_new(mux_loop_t *loop)
{
    mux__uloop_t *u = calloc(1, sizeof(*u));
    int err = 0, rc;

    if (u == NULL)
        return -ENOMEM;
    loop->u = u;
    u->ring = mux_uring_new(MUX__URING_ENTRIES, &err, NULL);
    if (u->ring == NULL)
        return err;
    rc = mux_uring_setup_buffers(u->ring, MUX__URING_BUFFERS, MUX__URING_BUFFER_SIZE);
    if (rc < 0)
        return rc == -EINVAL ? -EOPNOTSUPP : rc;   /* no buffer rings: before 5.19 */
    if ((rc = probe_multishot_recv(u)) < 0)
        return rc;
    u->pool = mux_uring_buffer_pool(u->ring);
    u->buf_size = MUX__URING_BUFFER_SIZE;
    u->buf_count = MUX__URING_BUFFERS;
    if ((rc = mux__uloop_reserve(loop, (size_t)loop->nfds)) < 0)
        return rc;
    if ((rc = arm_wakeup(loop)) < 0)
        return rc;
    return arm_watchers(loop);
}

/* The last completions, harvested while tearing down: fds the kernel
 * accepted are closed, send memory freed; nothing is reported. */
static void dispatch_teardown(mux_loop_t *loop, uint64_t ud, int res, unsigned flags)
{
    if ((ud & 15) == MUX__UOP_ACCEPT && res >= 0)
        close(res);
    else if ((ud & 15) == MUX__UOP_SEND && !(flags & MUX_URING_CQE_F_MORE))
        mux__uorphan_done(loop, ud);
}

static void harvest_teardown(mux_loop_t *loop)
{
    mux__uloop_t *u = loop->u;
    int64_t *out = mux_uring_completions(u->ring);
    int i, n = mux__uring_wait(u->ring, 0, 0, INT_MAX);

    for (i = 0; i < n; i++)
        dispatch_teardown(loop, (uint64_t)out[i * MUX_URING_CQE_INTS],
                          (int)out[i * MUX_URING_CQE_INTS + 1],
                          (unsigned)out[i * MUX_URING_CQE_INTS + 2]);
}

/* Closes every stream and listener, cancels every operation and waits for
 * their completions (mux_uring_close), then frees what they used. In a
 * forked child the ring's operations are the parent's: only this process's
 * copies are released. */
void mux__uloop_free(mux_loop_t *loop)
{
    mux__uloop_t *u = loop->u;
    int fd, forked = mux__forked(loop), missing = 0, i;

    if (u == NULL)
        return;
    if (u->ring != NULL && !forked) {
        /* Listeners first: a connection the kernel accepts meanwhile
         * must reach us to be closed. */
        for (fd = 0; fd < loop->nfds; fd++)
            if (loop->fds[fd].kind == MUX__FD_LISTENER && (loop->fds[fd].flags & MUX__FLAG_ARMED))
                mux__uprep_cancel(loop, MUX__UOP_ACCEPT, fd);
        mux__uring_submit(u->ring);
        harvest_teardown(loop);
    }
    for (fd = 0; fd < loop->nfds; fd++)
        if (loop->fds[fd].kind == MUX__FD_STREAM || loop->fds[fd].kind == MUX__FD_LISTENER)
            mux__uclose_owned(loop, fd, 1);
    if (u->ring != NULL && !forked) {
        harvest_teardown(loop);
        missing = mux_uring_close(u->ring);
    }
    mux_uring_free(u->ring);
    free(u->waiting);
    free(u->ufds);
    free(u->owners);
    loop->u = NULL;
    /* Memory an operation whose completion never came points to (send
     * memory, and u itself: the wake-up read's buffer is u->wake_count)
     * is leaked, not freed under the kernel. */
    if (missing > 0)
        return;
    for (i = 0; i < u->norphans; i++)
        free(u->orphans[i].q);
    free(u->orphans);
    free(u);
}

/* --- watchers ---------------------------------------------------------------- */

/* Watchers live in an epoll instance (loop->backend, level-triggered, as
 * on the epoll backend: mux_watch is the same code on both). The ring
 * polls that instance's fd, which holds no reference to the watched files:
 * a watched fd closed without mux_watch(fd, 0) leaves epoll with its file,
 * so its peer sees the close and it is never reported again. */
static int arm_watchers(mux_loop_t *loop)
{
    mux__uloop_t *u = loop->u;
    int epfd = mux_backend_fileno(loop->backend);
    uint64_t ud = mux__ud(MUX__UOP_POLL, epfd, 0);

    return MUX__UPREP(u, mux__uring_prep_poll(u->ring, epfd, POLLIN, 0, (int64_t)ud));
}

/* The epoll instance became readable: the ready watchers become IO
 * records (epoll_wait without waiting) and the poll is armed again, so a
 * watcher that stays ready is reported each iteration. */
static void watchers_ready(mux_loop_t *loop, int res)
{
    int i, n, *fds;
    uint32_t *events;

    if (res == -ECANCELED)
        return;   /* the loop is being freed */
    n = mux_backend_wait(loop->backend, 0);
    fds = mux_backend_fired_fds(loop->backend);
    events = mux_backend_fired_events(loop->backend);
    for (i = 0; i < n; i++)
        if (fds[i] >= 0 && fds[i] < loop->nfds && loop->fds[fds[i]].kind == MUX__FD_WATCH)
            mux__watcher_ready(loop, fds[i], events[i]);
    if (arm_watchers(loop) < 0)
        loop->record_error = -ENOMEM;
}

/* --- one iteration ------------------------------------------------------------ */

static void wake_done(mux_loop_t *loop, int res)
{
    /* The read took the count: clearing the flag only now keeps every
     * wake-up (see drain_wakeup in mux_loop.c). */
    atomic_store(&loop->wake_pending, 0);
    if ((res >= 0 || res == -EINTR || res == -EAGAIN) && arm_wakeup(loop) < 0)
        loop->record_error = -ENOMEM;
}

/* Whose completion this is, if that owner is still alive; stale ones (the
 * fd was closed, maybe reused, since) are dropped. */
static void dispatch(mux_loop_t *loop, uint64_t ud, int res, unsigned flags)
{
    int kind = (int)(ud & 15), fd = (int)((ud >> 4) & (MUX_MAX_FD - 1));
    uint32_t owner = (uint32_t)(ud >> 24);
    mux_fd_t *e = fd < loop->nfds ? &loop->fds[fd] : NULL;
    int live = e != NULL && loop->u->owners[fd] == owner;

    switch (kind) {
    case MUX__UOP_RECV:
        if (live && e->kind == MUX__FD_STREAM)
            mux__ustream_recv_done(loop, fd, res, flags);
        break;
    case MUX__UOP_SEND:
        if (live && e->kind == MUX__FD_STREAM && loop->u->ufds[fd].sending != NULL)
            mux__ustream_send_done(loop, fd, res);
        else
            mux__uorphan_done(loop, ud);
        break;
    case MUX__UOP_ACCEPT:
        if (live && e->kind == MUX__FD_LISTENER)
            mux__ulistener_accept_done(loop, fd, res, flags);
        else if (res >= 0)
            close(res);   /* accepted for a listener closed since */
        break;
    case MUX__UOP_POLL:
        watchers_ready(loop, res);
        break;
    case MUX__UOP_WAKE:
        wake_done(loop, res);
        break;
    default:
        break;
    }
}

int mux__uloop_run_once(mux_loop_t *loop, int64_t timeout_us)
{
    mux__uloop_t *u = loop->u;
    int64_t timer_us, *out;
    int i, n, rc;

    mux__timers_release_fired(loop);
    loop->nfired = 0;
    loop->record_error = 0;
    loop->rused = 0;
    mux__ustream_deliver_held(loop);

    timer_us = mux__timers_next_us(loop, mux_loop_now_ns());
    if (timer_us >= 0 && (timeout_us < 0 || timer_us < timeout_us))
        timeout_us = timer_us;
    if (loop->nfired > 0)
        timeout_us = 0;
    n = mux__uring_wait(u->ring, timeout_us == 0 ? 0 : 1, timeout_us, MUX__URING_HARVEST);
    if (n == -EINTR || n == -EBUSY || n == -EAGAIN)
        n = 0;   /* a signal (the caller runs its handlers), or the CQ was full */
    if (n < 0)
        return n;
    out = mux_uring_completions(u->ring);
    for (i = 0; i < n; i++)
        dispatch(loop, (uint64_t)out[i * MUX_URING_CQE_INTS],
                 (int)out[i * MUX_URING_CQE_INTS + 1],
                 (unsigned)out[i * MUX_URING_CQE_INTS + 2]);
    if ((rc = mux__timers_expire(loop, mux_loop_now_ns())) < 0)
        return rc;
    return loop->record_error < 0 ? loop->record_error : loop->nfired;
}
