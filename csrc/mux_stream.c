/* mux_stream.c - TCP streams and listeners owned by the loop.
 *
 * A stream reads into the loop-wide buffer only when the backend says it is
 * readable (one recv per readiness, so level-triggered streams never make a
 * speculative read that hits EAGAIN; edge-triggered ones re-read after a
 * full chunk, which may) and reports (token, offset, nbytes). A write is sent at once; only what
 * the kernel did not take is queued, and write interest is armed only while
 * the queue is non-empty, so a request/response exchange costs one recv and
 * one send and no epoll_ctl. Queues are freed as soon as they drain: an idle
 * connection costs its 24-byte fd-table entry and nothing else here.
 */
#define _GNU_SOURCE   /* accept4 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mux_loop_internal.h"
#include "mux_loop_uring.h"

#define MUX__DEFAULT_HIGH_WATER (64 * 1024)
#define MUX__DEFAULT_LOW_WATER (16 * 1024)
#define MUX__MAX_WRITE ((size_t)1 << 40)   /* refuse absurd sizes outright */

/* A fresh nonzero generation for a table entry. */
static uint16_t next_gen(mux_loop_t *loop)
{
    loop->last_gen = loop->last_gen % MUX__GEN_MAX + 1;
    return loop->last_gen;
}

/* Claims a free table entry for an fd the loop will own. It may grow the
 * fd table (loop->fds and, on io_uring, u->ufds move): callers re-take any
 * entry pointer they held across it. */
int mux__claim(mux_loop_t *loop, int fd, int kind, int interest)
{
    mux_fd_t *e;
    int rc;

    if ((rc = mux__fd_reserve(loop, fd)) < 0)
        return rc;
    if (loop->backend != NULL && mux_backend_max_fd(loop->backend)
            && fd >= mux_backend_max_fd(loop->backend))
        return -EINVAL;   /* e.g. select(2) past FD_SETSIZE */
    e = &loop->fds[fd];
    /* The kernel just handed out this fd number (accept, socket), so a
     * watcher still listed under it watched an fd that was closed without
     * remove_reader/remove_writer: that registration is stale, drop it. */
    if (e->kind == MUX__FD_WATCH)
        mux__forget_fd(loop, fd);
    if (e->kind != MUX__FD_FREE)
        return -EEXIST;
    e->kind = (uint8_t)kind;
    e->gen = next_gen(loop);
    e->flags &= MUX__FLAGS_LISTED;
    e->high = MUX__DEFAULT_HIGH_WATER;
    e->low = MUX__DEFAULT_LOW_WATER;
    e->wq = NULL;
    if (loop->u == NULL)
        mux__want(loop, fd, interest);
    return mux__token_of(loop, fd);
}

int mux__stream_adopt(mux_loop_t *loop, int fd)
{
    int token;

    if (loop->u != NULL)
        return mux__ustream_adopt(loop, fd);
    token = mux__claim(loop, fd, MUX__FD_STREAM, MUX_READ);
    if (token >= 0)
        loop->fds[fd].flags |= MUX__FLAG_READING;
    return token;
}

/* Closes an fd the loop owns and forgets it. */
void mux__close_owned(mux_loop_t *loop, int fd)
{
    if (loop->u != NULL) {
        mux__uclose_owned(loop, fd, 0);
        return;
    }
    mux__forget_fd(loop, fd);
    close(fd);
}

/* Interest a stream needs now: read while wanted, write while queued. */
static int stream_interest(const mux_fd_t *e)
{
    int want = 0;

    if ((e->flags & (MUX__FLAG_READING | MUX__FLAG_EOF)) == MUX__FLAG_READING)
        want |= MUX_READ;
    if (e->wq != NULL)
        want |= MUX_WRITE;
    return want;
}

static void stream_read(mux_loop_t *loop, int fd, mux_fd_t *e)
{
    size_t space = MUX_READ_BUFFER - loop->rused;
    size_t want = space < MUX_READ_CHUNK ? space : MUX_READ_CHUNK;
    int token = mux__token_of(loop, fd);
    ssize_t n;

    assert(e->kind == MUX__FD_STREAM && loop->rused <= MUX_READ_BUFFER);
    if (want < 4096) {
        /* The shared buffer is full for this pass. Served first in the
         * next one, so busy streams late in the kernel's list still get
         * their turn (and edge-triggered ones are not forgotten). */
        e->flags |= MUX__FLAG_STARVED;
        loop->rbuf_filled = 1;
        mux__mark_still_ready(loop, fd);
        return;
    }
    n = recv(fd, loop->rbuf + loop->rused, want, 0);
    if (n > 0) {
        mux__push_record(loop, MUX_REC_DATA, token, (int)loop->rused, (int)n);
        loop->rused += (size_t)n;
        /* Edge-triggered: a full read may leave more; a short one drained
         * the data, but if the peer shut down (RDHUP/HUP/ERR seen) the EOF
         * or error still waits behind it and no new edge will say so. */
        if (loop->edge && ((size_t)n == want || (e->flags & MUX__FLAG_PEER_DONE)))
            mux__mark_still_ready(loop, fd);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    e->flags |= MUX__FLAG_EOF;
    mux__want(loop, fd, stream_interest(e));
    if (n == 0)
        mux__push_record(loop, MUX_REC_EOF, token, 0, 0);
    else
        mux__push_record(loop, MUX_REC_ERROR, token, errno, 0);
}

/* The queue drained: run what was waiting for it. Returns 1 if the stream
 * was closed. */
static int stream_drained(mux_loop_t *loop, int fd, mux_fd_t *e)
{
    int token = mux__token_of(loop, fd);

    assert(e->wq != NULL && e->wq->len == 0);
    free(e->wq);
    e->wq = NULL;
    if (e->flags & MUX__FLAG_CLOSE_PENDING) {
        mux__close_owned(loop, fd);
        mux__push_record(loop, MUX_REC_CLOSED, token, 0, 0);
        return 1;
    }
    if (e->flags & MUX__FLAG_SHUT_PENDING)
        shutdown(fd, SHUT_WR);
    return 0;
}

static void stream_flush(mux_loop_t *loop, int fd, mux_fd_t *e)
{
    mux_wqueue_t *q = e->wq;
    int token = mux__token_of(loop, fd);
    ssize_t n;

    /* A queue exists only while it holds unsent bytes. */
    assert(e->kind == MUX__FD_STREAM && q != NULL && q->len > 0);
    n = send(fd, q->data + q->head, q->len, MSG_NOSIGNAL);
    if (n < 0) {
        int err = errno;

        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
            return;
        if (e->flags & MUX__FLAG_CLOSE_PENDING) {
            /* Nobody is left to tell about the error: just finish closing. */
            mux__close_owned(loop, fd);
            mux__push_record(loop, MUX_REC_CLOSED, token, 0, 0);
            return;
        }
        free(e->wq);
        e->wq = NULL;
        e->flags |= MUX__FLAG_EOF;
        mux__want(loop, fd, stream_interest(e));
        mux__push_record(loop, MUX_REC_ERROR, token, err, 0);
        return;
    }
    q->head += (size_t)n;
    q->len -= (size_t)n;
    if (q->len == 0 && stream_drained(loop, fd, e))
        return;
    if ((e->flags & MUX__FLAG_ABOVE_HIGH) && (e->wq == NULL || e->wq->len <= e->low)) {
        e->flags &= (uint16_t)~MUX__FLAG_ABOVE_HIGH;
        mux__push_record(loop, MUX_REC_RESUME_WRITING, token, 0, 0);
    }
    mux__want(loop, fd, stream_interest(e));
}

void mux__stream_ready(mux_loop_t *loop, int fd, uint32_t events)
{
    mux_fd_t *e = &loop->fds[fd];

    assert(e->kind == MUX__FD_STREAM);
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        e->flags |= MUX__FLAG_PEER_DONE;
    if (e->wq != NULL && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        stream_flush(loop, fd, e);
    if (e->kind == MUX__FD_STREAM
        && (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
        && (e->flags & (MUX__FLAG_READING | MUX__FLAG_EOF)) == MUX__FLAG_READING)
        stream_read(loop, fd, e);
}

mux_fd_t *mux__live_stream(mux_loop_t *loop, int token)
{
    mux_fd_t *e = mux__entry(loop, token, MUX__FD_STREAM);

    return e != NULL && !(e->flags & MUX__FLAG_CLOSE_PENDING) ? e : NULL;
}

/* Appends to the queue *qp, creating or growing it. The queue is one
 * allocation, so it grows as an array of bytes that starts with the
 * header. */
int mux__wqueue_append(mux_wqueue_t **qp, const char *data, size_t len)
{
    mux_wqueue_t *q = *qp;
    size_t used, size;

    if (q != NULL && q->head > 0 && q->head >= q->len) {
        memmove(q->data, q->data + q->head, q->len);   /* reuse the front */
        q->head = 0;
    }
    used = q ? q->head + q->len : 0;
    size = q ? sizeof(*q) + q->cap : 0;
    q = mux__grow(q, &size, sizeof(*q) + used + len, 1);
    if (q == NULL)
        return -ENOMEM;
    if (*qp == NULL)
        q->head = q->len = 0;
    q->cap = size - sizeof(*q);
    *qp = q;
    assert(q->head + q->len + len <= q->cap);
    memcpy(q->data + q->head + q->len, data, len);
    q->len += len;
    return 0;
}

static int64_t stream_write_held(mux_loop_t *loop, int token, const char *data, size_t len)
{
    mux_fd_t *e = mux__live_stream(loop, token);
    int fd = mux__token_fd(token), rc;
    ssize_t n = 0;

    if (e == NULL)
        return -EBADF;
    if ((data == NULL && len > 0) || len > MUX__MAX_WRITE)
        return -EINVAL;
    if (e->flags & MUX__FLAG_SHUT_PENDING)
        return -EPIPE;   /* write_eof() was called */
    if (loop->u != NULL)
        return mux__ustream_write(loop, fd, e, data, len);
    if (e->wq == NULL && len > 0) {
        n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -errno;
            n = 0;
        }
    }
    if ((size_t)n < len) {
        if ((rc = mux__wqueue_append(&e->wq, data + n, len - (size_t)n)) < 0)
            return rc;
        mux__want(loop, fd, stream_interest(e));
        if (e->wq->len > e->high)
            e->flags |= MUX__FLAG_ABOVE_HIGH;
    }
    return e->wq ? (int64_t)e->wq->len : 0;
}

/* Bytes written to a stream and not sent yet (on io_uring: not
 * completed yet, the send in flight included). */
int64_t mux__stream_queued(const mux_loop_t *loop, int fd)
{
    const mux_fd_t *e = &loop->fds[fd];
    int64_t queued = e->wq ? (int64_t)e->wq->len : 0;

    return loop->u != NULL ? queued + mux__ustream_sending(loop, fd) : queued;
}

static int64_t stream_queued_held(mux_loop_t *loop, int token)
{
    if (mux__entry(loop, token, MUX__FD_STREAM) == NULL)
        return -EBADF;
    return mux__stream_queued(loop, mux__token_fd(token));
}

static int stream_set_reading_held(mux_loop_t *loop, int token, int reading)
{
    mux_fd_t *e = mux__live_stream(loop, token);
    int fd = mux__token_fd(token);

    if (e == NULL)
        return -EBADF;
    if (reading)
        e->flags |= MUX__FLAG_READING;
    else
        e->flags &= (uint16_t)~MUX__FLAG_READING;
    if (loop->u != NULL)
        return mux__ustream_reading_changed(loop, fd);
    mux__want(loop, fd, stream_interest(e));
    return 0;
}

static int stream_set_limits_held(mux_loop_t *loop, int token, int64_t high, int64_t low)
{
    mux_fd_t *e = mux__live_stream(loop, token);

    if (e == NULL)
        return -EBADF;
    if (low < 0 || high < low || high > UINT32_MAX)
        return -EINVAL;
    e->high = (uint32_t)high;
    e->low = (uint32_t)low;
    if (mux__stream_queued(loop, mux__token_fd(token)) > (int64_t)e->high)
        e->flags |= MUX__FLAG_ABOVE_HIGH;
    return 0;
}

static int stream_shutdown_held(mux_loop_t *loop, int token)
{
    mux_fd_t *e = mux__live_stream(loop, token);
    int fd = mux__token_fd(token);

    if (e == NULL)
        return -EBADF;
    if (e->flags & MUX__FLAG_SHUT_PENDING)
        return 0;
    e->flags |= MUX__FLAG_SHUT_PENDING;
    if (mux__stream_queued(loop, fd) == 0 && shutdown(fd, SHUT_WR) < 0 && errno != ENOTCONN)
        return -errno;
    return 0;
}

static int stream_close_held(mux_loop_t *loop, int token, int mode)
{
    /* Dropping the queue also ends a close still waiting for it to drain
     * (a peer that never reads would otherwise hold it forever). */
    int drop = mode != MUX_CLOSE_FLUSH;
    mux_fd_t *e;
    int fd = mux__token_fd(token);

    if (mode < MUX_CLOSE_FLUSH || mode > MUX_CLOSE_DROP)
        return -EINVAL;
    e = drop ? mux__entry(loop, token, MUX__FD_STREAM) : mux__live_stream(loop, token);
    if (e == NULL)
        return -EBADF;
    if (drop || mux__stream_queued(loop, fd) == 0
            || (loop->u != NULL && mux__ustream_flush_for_close(loop, fd) < 0)) {
        if (mode == MUX_CLOSE_RESET) {
            /* SO_LINGER 0: the peer sees a reset. */
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        mux__close_owned(loop, fd);
        return 1;
    }
    e->flags |= MUX__FLAG_CLOSE_PENDING;
    e->flags &= (uint16_t)~MUX__FLAG_READING;
    if (loop->u != NULL)
        return mux__ustream_reading_changed(loop, fd);
    mux__want(loop, fd, stream_interest(e));
    return 0;
}

/* --- listeners ------------------------------------------------------------ */

static int listener_open_held(mux_loop_t *loop, int fd, int batch)
{
    int token;

    if (batch < 1 || batch > 65536)
        return -EINVAL;
    token = mux__claim(loop, fd, MUX__FD_LISTENER, MUX_READ);
    if (token >= 0)
        loop->fds[fd].high = (uint32_t)batch;
    if (token >= 0 && loop->u != NULL)
        return mux__ulistener_start(loop, fd, token);
    return token;
}

static mux_fd_t *live_listener(mux_loop_t *loop, int token)
{
    return mux__entry(loop, token, MUX__FD_LISTENER);
}

static int listener_resume_held(mux_loop_t *loop, int token)
{
    mux_fd_t *e = live_listener(loop, token);
    int fd = mux__token_fd(token);

    if (e == NULL)
        return -EBADF;
    e->flags &= (uint16_t)~MUX__FLAG_PAUSED;
    if (loop->u != NULL)
        return mux__ulistener_arm(loop, fd);
    mux__want(loop, fd, MUX_READ);
    return 0;
}

static int listener_close_held(mux_loop_t *loop, int token)
{
    int fd = mux__token_fd(token);

    if (live_listener(loop, token) == NULL)
        return -EBADF;
    mux__close_owned(loop, fd);
    return 0;
}

void mux__pause_listener(mux_loop_t *loop, int fd, int err)
{
    loop->fds[fd].flags |= MUX__FLAG_PAUSED;
    if (loop->u == NULL)
        mux__want(loop, fd, 0);
    mux__push_record(loop, MUX_REC_ACCEPT_ERROR, mux__token_of(loop, fd), err, 0);
}

void mux__listener_ready(mux_loop_t *loop, int fd)
{
    int token = mux__token_of(loop, fd), i, batch = (int)loop->fds[fd].high;
    int one = 1;

    assert(loop->fds[fd].kind == MUX__FD_LISTENER);
    if (loop->fds[fd].flags & MUX__FLAG_PAUSED)
        return;
    for (i = 0; i < batch; i++) {
        int conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), ctoken;

        if (conn < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;   /* that connection is gone; try the next one */
            /* EMFILE and friends: the pending connection stays queued and
             * the listener stays readable, so keep polling it and we spin.
             * Pause it; the caller resumes it later. */
            mux__pause_listener(loop, fd, errno);
            return;
        }
        setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        ctoken = mux__stream_adopt(loop, conn);
        if (ctoken < 0) {
            close(conn);
            mux__pause_listener(loop, fd, -ctoken);
            return;
        }
        mux__push_record(loop, MUX_REC_ACCEPT, token, ctoken, 0);
    }
    if (loop->edge)
        mux__mark_still_ready(loop, fd);   /* batch used up before EAGAIN */
}

/* --- public entry points: each holds the loop (MUX__HOLDING) --------------- */

int mux_listener_open(mux_loop_t *loop, int fd, int batch)
{
    return MUX__HOLDING(loop, listener_open_held(loop, fd, batch));
}

int mux_listener_resume(mux_loop_t *loop, int token)
{
    return MUX__HOLDING(loop, listener_resume_held(loop, token));
}

int mux_listener_close(mux_loop_t *loop, int token)
{
    return MUX__HOLDING(loop, listener_close_held(loop, token));
}

int mux_stream_open(mux_loop_t *loop, int fd)
{
    return MUX__HOLDING(loop, mux__stream_adopt(loop, fd));
}

int64_t mux_stream_write(mux_loop_t *loop, int token, const void *data, size_t len)
{
    return MUX__HOLDING(loop, stream_write_held(loop, token, data, len));
}

int64_t mux_stream_queued(mux_loop_t *loop, int token)
{
    return MUX__HOLDING(loop, stream_queued_held(loop, token));
}

int mux_stream_set_reading(mux_loop_t *loop, int token, int reading)
{
    return MUX__HOLDING(loop, stream_set_reading_held(loop, token, reading));
}

int mux_stream_set_limits(mux_loop_t *loop, int token, int64_t high, int64_t low)
{
    return MUX__HOLDING(loop, stream_set_limits_held(loop, token, high, low));
}

int mux_stream_shutdown(mux_loop_t *loop, int token)
{
    return MUX__HOLDING(loop, stream_shutdown_held(loop, token));
}

int mux_stream_close(mux_loop_t *loop, int token, int mode)
{
    return MUX__HOLDING(loop, stream_close_held(loop, token, mode));
}
