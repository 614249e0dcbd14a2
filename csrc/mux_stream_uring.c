/* mux_stream_uring.c - streams and listeners on io_uring (see
 * mux_loop_uring.h): the completion-driven halves of mux_stream.c.
 *
 * Reading: one multishot recv per stream takes a provided buffer each time
 * data arrives. Its bytes are copied into the loop's read buffer as a DATA
 * record, as on the other backends; what cannot be delivered this pass
 * (reading paused, read buffer full, older data still held) is held per
 * stream and delivered first later, so nothing is lost and order is kept.
 * Pausing cancels the recv, so the kernel's socket buffer, not this
 * process, absorbs a peer that keeps sending.
 *
 * Writing: a write is copied and goes out by a send operation, submitted
 * with the next iteration's wait (so a reply costs no system call of its
 * own, and the bytes leave when the caller runs the loop again, not during
 * the write); a large write to an idle stream is sent at once with send(2)
 * instead, and only what the kernel did not take is copied. At most one
 * send is in flight per stream, so bytes stay in order. Its memory
 * (`sending`) is never moved or freed before its completion; what is
 * written meanwhile goes to the stream's write queue, which becomes the
 * next send. The queued count is every byte not sent yet.
 *
 * Closing: io_uring operations hold a reference to the socket, so close(2)
 * alone would leave it open (no FIN). The stream's operations are
 * cancelled by fd in a submission made at once, before close(2).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mux_loop_uring.h"

/* Writes of at least this many bytes to an idle stream are sent at once;
 * smaller ones wait for the next iteration's io_uring_enter, which submits
 * every stream's sends together: no system call of their own. */
#define MUX__DIRECT_SEND 65536

/* Received bytes held for a stream before its recv is cancelled. */
#define MUX__HELD_MAX (4 * MUX_READ_CHUNK)

/* A stream wants its recv armed while it is read and has not too much
 * held already (the kernel's socket buffer then holds the rest, and the
 * peer is slowed down as on the other backends). */
static int wants_recv(const mux_loop_t *loop, int fd)
{
    const mux_fd_t *e = &loop->fds[fd];
    const mux_wqueue_t *held = loop->u->ufds[fd].held;

    return (e->flags & (MUX__FLAG_READING | MUX__FLAG_EOF | MUX__FLAG_CLOSE_PENDING))
           == MUX__FLAG_READING && (held == NULL || held->len < MUX__HELD_MAX);
}

static int arm_recv(mux_loop_t *loop, int fd)
{
    int rc = mux__uprep_recv(loop, fd);

    if (rc == 0)
        loop->fds[fd].flags |= MUX__FLAG_ARMED;
    return rc;
}

int mux__ustream_adopt(mux_loop_t *loop, int fd)
{
    int token = mux__claim(loop, fd, MUX__FD_STREAM, MUX_READ), rc;

    if (token < 0)
        return token;
    loop->fds[fd].flags |= MUX__FLAG_READING;
    mux__unew_owner(loop, fd);
    if ((rc = arm_recv(loop, fd)) < 0) {
        mux__forget_fd(loop, fd);
        return rc;
    }
    return token;
}

/* --- reading -------------------------------------------------------------- */

/* Copies up to len bytes into the read buffer as a DATA record, extending
 * the last record when it is this stream's and ends where these start.
 * A record holds at most MUX_READ_CHUNK, as one read on the other
 * backends: what does not fit waits for the next pass (so a caller that
 * pauses reading after one record overshoots its limits by as little).
 * Returns the count copied. */
static size_t deliver(mux_loop_t *loop, int fd, const char *data, size_t len)
{
    size_t space = MUX_READ_BUFFER - loop->rused, room = MUX_READ_CHUNK;
    int token = mux__token_of(loop, fd);
    int *last = loop->nfired > 0 ? loop->fired + (loop->nfired - 1) * MUX_RECORD_INTS : NULL;
    int extend = last != NULL && last[0] == MUX_REC_DATA && last[1] == token
                 && (size_t)last[2] + (size_t)last[3] == loop->rused;

    if (extend)
        room -= (size_t)last[3];
    if (len > space)
        len = space;
    if (len > room)
        len = room;
    if (len == 0)
        return 0;
    memcpy(loop->rbuf + loop->rused, data, len);
    if (extend)
        last[3] += (int)len;
    else if (mux__push_record(loop, MUX_REC_DATA, token, (int)loop->rused, (int)len) < 0)
        return 0;
    loop->rused += len;
    return len;
}

/* fd's entry in u->waiting, made if need be; NULL when memory ran out
 * (run_once then fails rather than lose data). */
static mux__waiting_t *waiting_entry(mux_loop_t *loop, int fd)
{
    mux__uloop_t *u = loop->u;
    int i;

    if (loop->fds[fd].flags & MUX__FLAG_HELD) {
        for (i = 0; i < u->nwaiting; i++)
            if (u->waiting[i].fd == fd)
                return &u->waiting[i];
        assert(!"a stream flagged as waiting is listed");
    }
    if (MUX__GROW(u->waiting, u->waiting_cap, (size_t)u->nwaiting + 1) < 0) {
        loop->record_error = -ENOMEM;
        return NULL;
    }
    loop->fds[fd].flags |= MUX__FLAG_HELD;
    u->waiting[u->nwaiting].fd = fd;
    u->waiting[u->nwaiting].end = u->waiting[u->nwaiting].end_err = 0;
    return &u->waiting[u->nwaiting++];
}

static void stop_waiting(mux_loop_t *loop, int fd)
{
    mux__uloop_t *u = loop->u;
    int i;

    if (!(loop->fds[fd].flags & MUX__FLAG_HELD))
        return;
    loop->fds[fd].flags &= (uint16_t)~MUX__FLAG_HELD;
    for (i = 0; i < u->nwaiting; i++)
        if (u->waiting[i].fd == fd) {
            u->waiting[i] = u->waiting[--u->nwaiting];
            return;
        }
}

/* Received bytes: delivered now if they can be, else held (in order). */
static void take_data(mux_loop_t *loop, int fd, const char *data, size_t len)
{
    mux__ufd_t *uf = &loop->u->ufds[fd];
    size_t n = 0, before = uf->held != NULL ? uf->held->len : 0;

    if (uf->held == NULL && (loop->fds[fd].flags & MUX__FLAG_READING))
        n = deliver(loop, fd, data, len);
    if (n == len)
        return;
    if (waiting_entry(loop, fd) == NULL || mux__wqueue_append(&uf->held, data + n, len - n) < 0) {
        loop->record_error = -ENOMEM;
        return;
    }
    /* Enough held now: stop the kernel reading for this stream until it
     * is delivered (the recv is armed again then). */
    if ((loop->fds[fd].flags & MUX__FLAG_ARMED) && before < MUX__HELD_MAX
            && uf->held->len >= MUX__HELD_MAX)
        mux__uprep_cancel(loop, MUX__UOP_RECV, fd);
}

/* The peer's end of the stream (EOF or an error), reported after any data
 * still held, and only while reading (as the other backends see it). */
static void take_end(mux_loop_t *loop, int fd, int kind, int err)
{
    mux__waiting_t *w;

    loop->fds[fd].flags |= MUX__FLAG_EOF;
    if (loop->u->ufds[fd].held == NULL && (loop->fds[fd].flags & MUX__FLAG_READING)) {
        mux__push_record(loop, kind, mux__token_of(loop, fd), err, 0);
        return;
    }
    if ((w = waiting_entry(loop, fd)) != NULL) {
        w->end = kind;
        w->end_err = err;
    }
}

void mux__ustream_deliver_held(mux_loop_t *loop)
{
    mux__uloop_t *u = loop->u;
    int i = 0;

    while (i < u->nwaiting) {
        mux__waiting_t *w = &u->waiting[i];
        int fd = w->fd;
        mux_fd_t *e = &loop->fds[fd];
        mux__ufd_t *uf = &u->ufds[fd];

        assert(e->kind == MUX__FD_STREAM && (e->flags & MUX__FLAG_HELD));
        if (!(e->flags & MUX__FLAG_READING)) {
            i++;
            continue;
        }
        if (uf->held != NULL) {
            size_t n = deliver(loop, fd, uf->held->data + uf->held->head, uf->held->len);

            uf->held->head += n;
            uf->held->len -= n;
            if (uf->held->len == 0) {
                free(uf->held);
                uf->held = NULL;
            }
            if (!(e->flags & MUX__FLAG_ARMED) && wants_recv(loop, fd) && arm_recv(loop, fd) < 0)
                loop->record_error = -ENOMEM;
            if (uf->held != NULL) {
                i++;
                continue;
            }
        }
        if (w->end != 0)
            mux__push_record(loop, w->end, mux__token_of(loop, fd), w->end_err, 0);
        stop_waiting(loop, fd);   /* moves the last entry here: look at i again */
    }
}

void mux__ustream_recv_done(mux_loop_t *loop, int fd, int res, unsigned flags)
{
    mux__uloop_t *u = loop->u;
    mux_fd_t *e = &loop->fds[fd];

    if (!(flags & MUX_URING_CQE_F_MORE))
        e->flags &= (uint16_t)~MUX__FLAG_ARMED;
    if (res > 0) {
        unsigned bid = flags >> MUX_URING_CQE_BUFFER_SHIFT;

        if ((flags & MUX_URING_CQE_F_BUFFER) && bid < u->buf_count
                && (unsigned)res <= u->buf_size && !(e->flags & MUX__FLAG_CLOSE_PENDING))
            take_data(loop, fd, u->pool + (size_t)bid * u->buf_size, (size_t)res);
    } else if (res == 0) {
        if (!(e->flags & MUX__FLAG_EOF))
            take_end(loop, fd, MUX_REC_EOF, 0);
    } else if (res != -ENOBUFS && res != -ECANCELED && res != -EINTR && res != -EAGAIN) {
        if (!(e->flags & MUX__FLAG_EOF))
            take_end(loop, fd, MUX_REC_ERROR, -res);
    }
    /* The multishot recv ended (buffers ran out, it was cancelled by a
     * pause since undone, ...): arm another while reading is wanted. */
    if (!(e->flags & MUX__FLAG_ARMED) && wants_recv(loop, fd) && arm_recv(loop, fd) < 0)
        take_end(loop, fd, MUX_REC_ERROR, ENOMEM);
}

/* set_reading or a pending close changed what the stream wants. */
int mux__ustream_reading_changed(mux_loop_t *loop, int fd)
{
    mux_fd_t *e = &loop->fds[fd];
    mux__ufd_t *uf = &loop->u->ufds[fd];

    if (e->flags & MUX__FLAG_CLOSE_PENDING) {
        free(uf->held);   /* nobody is left to read it */
        uf->held = NULL;
        stop_waiting(loop, fd);
    }
    if (wants_recv(loop, fd))
        return e->flags & MUX__FLAG_ARMED ? 0 : arm_recv(loop, fd);
    /* Stop the kernel reading for us; what it already took arrives as
     * completions and is held until reading resumes. */
    return e->flags & MUX__FLAG_ARMED ? mux__uprep_cancel(loop, MUX__UOP_RECV, fd) : 0;
}

/* --- writing -------------------------------------------------------------- */

int64_t mux__ustream_sending(const mux_loop_t *loop, int fd)
{
    const mux_wqueue_t *q = loop->u->ufds[fd].sending;

    return q != NULL ? (int64_t)q->len : 0;
}

static int start_send(mux_loop_t *loop, int fd)
{
    const mux_wqueue_t *q = loop->u->ufds[fd].sending;

    return mux__uprep_send(loop, fd, q->data + q->head, q->len);
}

/* With nothing in flight, the write queue becomes the send in flight.
 * When it cannot be prepared (no SQ slot, say), the bytes stay queued. */
static int send_queue(mux_loop_t *loop, int fd, mux_fd_t *e)
{
    mux__ufd_t *uf = &loop->u->ufds[fd];
    int rc;

    if (uf->sending != NULL || e->wq == NULL)
        return 0;
    uf->sending = e->wq;
    e->wq = NULL;
    if ((rc = start_send(loop, fd)) < 0) {
        e->wq = uf->sending;
        uf->sending = NULL;
    }
    return rc;
}

/* A FLUSH close finishes with the completion of the last send: a stream
 * whose send could not be prepared (its bytes still queued, nothing in
 * flight) tries again now. < 0: it cannot, and is closed at once. */
int mux__ustream_flush_for_close(mux_loop_t *loop, int fd)
{
    return send_queue(loop, fd, &loop->fds[fd]);
}

int64_t mux__ustream_write(mux_loop_t *loop, int fd, mux_fd_t *e, const char *data,
                           size_t len)
{
    mux__ufd_t *uf = &loop->u->ufds[fd];
    int64_t queued;
    int rc;

    if (len >= MUX__DIRECT_SEND && uf->sending == NULL && e->wq == NULL) {
        /* A large write to an idle stream: sent at once, as on the other
         * backends, so that only what the kernel did not take is copied
         * and counted as queued. */
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
    }
    if (len > 0) {
        if ((rc = mux__wqueue_append(&e->wq, data, len)) < 0)
            return rc;
        if ((rc = send_queue(loop, fd, e)) < 0)
            return rc;   /* kept: the caller may close with FLUSH */
    }
    queued = mux__stream_queued(loop, fd);
    if (queued > (int64_t)e->high)
        e->flags |= MUX__FLAG_ABOVE_HIGH;
    return queued;
}

/* The stream cannot write any more: report it (or finish a pending close). */
static void send_failed(mux_loop_t *loop, int fd, int err)
{
    mux_fd_t *e = &loop->fds[fd];
    mux__ufd_t *uf = &loop->u->ufds[fd];
    int token = mux__token_of(loop, fd);

    free(uf->sending);
    uf->sending = NULL;
    free(e->wq);
    e->wq = NULL;
    if (e->flags & MUX__FLAG_CLOSE_PENDING) {
        mux__uclose_owned(loop, fd, 0);
        mux__push_record(loop, MUX_REC_CLOSED, token, 0, 0);
        return;
    }
    e->flags |= MUX__FLAG_EOF;
    mux__push_record(loop, MUX_REC_ERROR, token, err, 0);
}

void mux__ustream_send_done(mux_loop_t *loop, int fd, int res)
{
    mux_fd_t *e = &loop->fds[fd];
    mux__ufd_t *uf = &loop->u->ufds[fd];
    mux_wqueue_t *q = uf->sending;
    int token = mux__token_of(loop, fd), rc;

    if (q == NULL)
        return;
    if (res == -EAGAIN || res == -EINTR)
        res = 0;   /* nothing sent: send the same bytes again */
    if (res < 0) {
        send_failed(loop, fd, -res);
        return;
    }
    assert((size_t)res <= q->len);
    q->head += (size_t)res;
    q->len -= (size_t)res;
    if (q->len == 0) {
        free(q);
        uf->sending = e->wq;   /* what was written meanwhile goes next */
        e->wq = NULL;
    }
    if (uf->sending != NULL) {
        if ((rc = start_send(loop, fd)) < 0)
            send_failed(loop, fd, -rc);
    } else if (e->flags & MUX__FLAG_CLOSE_PENDING) {
        mux__uclose_owned(loop, fd, 0);
        mux__push_record(loop, MUX_REC_CLOSED, token, 0, 0);
        return;
    } else if (e->flags & MUX__FLAG_SHUT_PENDING) {
        shutdown(fd, SHUT_WR);
    }
    if (e->kind == MUX__FD_STREAM && (e->flags & MUX__FLAG_ABOVE_HIGH)
            && mux__stream_queued(loop, fd) <= (int64_t)e->low) {
        e->flags &= (uint16_t)~MUX__FLAG_ABOVE_HIGH;
        mux__push_record(loop, MUX_REC_RESUME_WRITING, token, 0, 0);
    }
}

void mux__uorphan_done(mux_loop_t *loop, uint64_t user_data)
{
    mux__uloop_t *u = loop->u;
    int i;

    for (i = 0; i < u->norphans; i++)
        if (u->orphans[i].user_data == user_data) {
            free(u->orphans[i].q);
            u->orphans[i] = u->orphans[--u->norphans];
            return;
        }
}

/* --- closing -------------------------------------------------------------- */

/* Closes a stream or listener fd the loop owns and forgets it. Unless
 * `teardown` (mux_loop_free, which cancels everything itself), its
 * operations are cancelled first, in a submission made now: they hold the
 * socket open. A send in flight keeps its memory, as an orphan, until its
 * completion. */
void mux__uclose_owned(mux_loop_t *loop, int fd, int teardown)
{
    mux__uloop_t *u = loop->u;
    mux_fd_t *e = &loop->fds[fd];
    mux__ufd_t *uf = &u->ufds[fd];
    int busy = (e->flags & MUX__FLAG_ARMED) || uf->sending != NULL;

    if (uf->sending != NULL) {
        if (MUX__GROW(u->orphans, u->orphans_cap, (size_t)u->norphans + 1) == 0) {
            u->orphans[u->norphans].user_data = mux__ud(MUX__UOP_SEND, fd, u->owners[fd]);
            u->orphans[u->norphans++].q = uf->sending;
        }
        /* else: no room to remember it, so it is leaked rather than freed
         * under the kernel. */
    }
    if (busy && !teardown)
        mux__ucancel_fd_now(loop, fd);
    free(uf->held);
    stop_waiting(loop, fd);
    memset(uf, 0, sizeof(*uf));
    mux__forget_fd(loop, fd);
    close(fd);
}

/* --- listeners ------------------------------------------------------------ */

int mux__ulistener_arm(mux_loop_t *loop, int fd)
{
    mux_fd_t *e = &loop->fds[fd];
    int rc;

    if (e->flags & MUX__FLAG_ARMED)
        return 0;
    if ((rc = mux__uprep_accept(loop, fd)) == 0)
        e->flags |= MUX__FLAG_ARMED;
    return rc;
}

int mux__ulistener_start(mux_loop_t *loop, int fd, int token)
{
    int rc;

    mux__unew_owner(loop, fd);
    if ((rc = mux__ulistener_arm(loop, fd)) < 0) {
        mux__forget_fd(loop, fd);
        return rc;
    }
    return token;
}

/* A multishot accept reports each connection as it comes; the listener's
 * batch bounds nothing here (the kernel accepts as connections arrive). */
void mux__ulistener_accept_done(mux_loop_t *loop, int fd, int res, unsigned flags)
{
    mux_fd_t *e = &loop->fds[fd];
    int token = mux__token_of(loop, fd), one = 1;

    if (!(flags & MUX_URING_CQE_F_MORE))
        e->flags &= (uint16_t)~MUX__FLAG_ARMED;
    if (res >= 0) {
        int ctoken;

        setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        ctoken = mux__ustream_adopt(loop, res);
        e = &loop->fds[fd];   /* adopting may have moved the table */
        if (ctoken < 0) {
            close(res);
            mux__pause_listener(loop, fd, -ctoken);
        } else {
            mux__push_record(loop, MUX_REC_ACCEPT, token, ctoken, 0);
        }
    } else if (res != -ECANCELED && res != -ECONNABORTED && res != -EPROTO
               && res != -EINTR && res != -EAGAIN) {
        /* EMFILE and friends (or a socket that cannot accept): paused
         * until the caller resumes it, so a full fd table is not retried
         * in a spin. */
        mux__pause_listener(loop, fd, -res);
    }
    if (e->flags & MUX__FLAG_PAUSED) {
        if (e->flags & MUX__FLAG_ARMED)
            mux__uprep_cancel(loop, MUX__UOP_ACCEPT, fd);
    } else if (mux__ulistener_arm(loop, fd) < 0) {
        mux__pause_listener(loop, fd, ENOMEM);
    }
}
