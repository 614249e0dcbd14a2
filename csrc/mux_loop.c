/* mux_loop.c - the event-loop core: fd table, coalesced interest changes,
 * one run_once() per iteration, watchers and the eventfd wake-up.
 *
 * The order of one iteration (mux_loop_run_once, steps 1-3) and of the
 * dispatch that follows in Python is written once, in README.md under
 * "One iteration", and pinned by tests/test_reactor_iteration_order.py.
 * The caller then dispatches the records; nothing here calls Python.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mux_loop_internal.h"
#include "mux_loop_uring.h"

/* --- records -------------------------------------------------------------- */

#define MUX__RECORD_SIZE (MUX_RECORD_INTS * sizeof(int))

int mux__push_record(mux_loop_t *loop, int kind, int token, int a, int b)
{
    int *rec;

    assert(kind >= MUX_REC_DATA && kind <= MUX_REC_TIMER);
    if ((size_t)loop->nfired == loop->fired_cap) {
        int *fired = mux__grow(loop->fired, &loop->fired_cap, loop->fired_cap + 1,
                               MUX__RECORD_SIZE);
        if (fired == NULL) {
            /* Sticky: run_once fails rather than silently drop an event. */
            loop->record_error = -ENOMEM;
            return -ENOMEM;
        }
        loop->fired = fired;
    }
    rec = loop->fired + (size_t)loop->nfired++ * MUX_RECORD_INTS;
    rec[0] = kind;
    rec[1] = token;
    rec[2] = a;
    rec[3] = b;
    return 0;
}

int *mux_loop_fired(mux_loop_t *loop)
{
    return loop == NULL ? NULL : loop->fired;
}

char *mux_loop_read_buffer(mux_loop_t *loop)
{
    return loop == NULL ? NULL : loop->rbuf;
}

/* --- fd table ------------------------------------------------------------- */

/* Makes fd a table entry. Growing moves loop->fds (and the io_uring
 * table): no entry pointer survives a call. */
int mux__fd_reserve(mux_loop_t *loop, int fd)
{
    size_t old = (size_t)loop->nfds, n = old;

    if (fd < 0 || fd >= MUX_MAX_FD)
        return -EBADF;
    if (fd < loop->nfds)
        return 0;
    /* Every queued fd is a table entry, so the changes list never outgrows
     * the table. The still-ready list can hold an fd twice: its entry
     * carried from the last pass stays until finish_still_ready(), and
     * serving it may mark it again. Both grow with the table, whose new
     * entries count only once they have, so mux__want() and still-ready
     * marking never need to allocate. */
    if (MUX__GROW(loop->fds, n, (size_t)fd + 1) < 0
        || MUX__GROW(loop->changes, loop->changes_cap, n) < 0
        || MUX__GROW(loop->still, loop->still_cap, 2 * n) < 0
        || (loop->u != NULL && mux__uloop_reserve(loop, n) < 0))
        return -ENOMEM;
    assert(n <= MUX_MAX_FD);   /* a power of two, as MUX_MAX_FD is */
    memset(loop->fds + old, 0, (n - old) * sizeof(*loop->fds));
    loop->nfds = (int)n;
    return 0;
}

int mux__token_of(const mux_loop_t *loop, int fd)
{
    assert(fd >= 0 && fd < loop->nfds);
    return (int)((uint32_t)loop->fds[fd].gen << MUX__FD_BITS) | fd;
}

mux_fd_t *mux__entry(mux_loop_t *loop, int token, int kind)
{
    int fd = mux__token_fd(token);
    mux_fd_t *e;

    if (token < 0 || fd >= loop->nfds)
        return NULL;
    e = &loop->fds[fd];
    if (e->kind != kind || mux__token_of(loop, fd) != token)
        return NULL;
    return e;
}

static int token_fd_held(mux_loop_t *loop, int token)
{
    int fd = mux__token_fd(token);

    if (mux__entry(loop, token, MUX__FD_STREAM) == NULL
        && mux__entry(loop, token, MUX__FD_LISTENER) == NULL)
        return -EBADF;
    return fd;
}

/* Queues a change of fd's interest; applied once, before the next wait. */
void mux__want(mux_loop_t *loop, int fd, int interest)
{
    mux_fd_t *e = &loop->fds[fd];

    assert(!(interest & ~(MUX_READ | MUX_WRITE)));
    e->pending = (uint8_t)interest;
    if (!(e->flags & MUX__FLAG_IN_CHANGES) && e->pending != e->interest) {
        e->flags |= MUX__FLAG_IN_CHANGES;
        assert((size_t)loop->nchanges < loop->changes_cap);   /* see mux__fd_reserve */
        loop->changes[loop->nchanges++] = fd;
    }
}

int mux__mark_still_ready(mux_loop_t *loop, int fd)
{
    mux_fd_t *e = &loop->fds[fd];

    assert(e->kind == MUX__FD_STREAM || e->kind == MUX__FD_LISTENER);
    if (!(e->flags & MUX__FLAG_STILL_READY)) {
        e->flags |= MUX__FLAG_STILL_READY;
        assert((size_t)loop->nstill < loop->still_cap);   /* see mux__fd_reserve */
        loop->still[loop->nstill++] = fd;
    }
    return 0;
}

static uint32_t kernel_events(const mux_loop_t *loop, int kind, int interest)
{
    uint32_t ev = ((interest & MUX_READ) ? EPOLLIN : 0)
                | ((interest & MUX_WRITE) ? EPOLLOUT : 0);

    if (loop->edge && (kind == MUX__FD_STREAM || kind == MUX__FD_LISTENER))
        ev |= EPOLLET;
    /* Edge-triggered streams need to know when the peer is done: FIN may
     * arrive with the last data, and no later edge reports it. */
    if (loop->edge && kind == MUX__FD_STREAM && (interest & MUX_READ))
        ev |= EPOLLRDHUP;
    return ev;
}

/* Makes the backend match `want` for fd: ADD, MOD or DEL (interest 0 means
 * unregistered). */
static int sync_backend(mux_loop_t *loop, int fd, int want)
{
    mux_fd_t *e = &loop->fds[fd];
    int op, rc;

    assert(!(want & ~(MUX_READ | MUX_WRITE)));
    if (want == e->interest)
        return 0;
    op = e->interest == 0 ? MUX_CTL_ADD : want == 0 ? MUX_CTL_DEL : MUX_CTL_MOD;
    rc = mux_backend_ctl(loop->backend, op, fd, kernel_events(loop, e->kind, want));
    if (rc < 0 && op == MUX_CTL_DEL)
        rc = 0;   /* already gone (closed elsewhere): nothing to undo */
    if (rc == 0)
        e->interest = (uint8_t)want;
    return rc;
}

/* Drops fd from the backend and the table (its owner closes it). */
void mux__forget_fd(mux_loop_t *loop, int fd)
{
    mux_fd_t *e = &loop->fds[fd];

    assert(e->kind != MUX__FD_FREE);
    sync_backend(loop, fd, 0);
    free(e->wq);
    e->wq = NULL;
    e->kind = MUX__FD_FREE;
    e->flags &= MUX__FLAGS_LISTED;   /* its list entries are skipped when reached */
    e->pending = 0;
}

/* The backend refused fd's queued change (e.g. EBADF: the fd was closed
 * behind the loop's back): its owner hears of it. Returns 0, or -ENOMEM if
 * the record could not be stored. */
static int report_refused(mux_loop_t *loop, int fd, int err)
{
    mux_fd_t *e = &loop->fds[fd];

    if (e->kind == MUX__FD_STREAM) {
        e->pending = e->interest;
        e->flags |= MUX__FLAG_EOF;
        return mux__push_record(loop, MUX_REC_ERROR, mux__token_of(loop, fd), err, 0);
    }
    if (e->kind == MUX__FD_LISTENER) {
        /* Paused; the caller may resume it (which retries the registration)
         * or close it. */
        e->pending = e->interest;
        e->flags |= MUX__FLAG_PAUSED;
        return mux__push_record(loop, MUX_REC_ACCEPT_ERROR, mux__token_of(loop, fd), err, 0);
    }
    return 0;
}

static int apply_changes(mux_loop_t *loop)
{
    int i, rc = 0;

    for (i = 0; i < loop->nchanges && rc == 0; i++) {
        int fd = loop->changes[i];
        mux_fd_t *e = &loop->fds[fd];

        assert(e->flags & MUX__FLAG_IN_CHANGES);   /* listed once, flagged */
        e->flags &= (uint16_t)~MUX__FLAG_IN_CHANGES;
        rc = sync_backend(loop, fd, e->pending);
        if (rc < 0)
            rc = report_refused(loop, fd, -rc);
    }
    loop->nchanges -= i;
    if (loop->nchanges > 0)   /* not reached: a record could not be stored */
        memmove(loop->changes, loop->changes + i, (size_t)loop->nchanges * sizeof(int));
    return rc;
}

/* --- loop ----------------------------------------------------------------- */

#define MUX__MAX_WAITS_SKIPPED 8

/* The backend and the wake-up eventfd, registered with it. On io_uring
 * the backend is an epoll instance for watchers only (the ring polls its
 * fd), and the ring reads the eventfd with a read operation, which on a
 * non-blocking eventfd would fail at once instead of waiting: a blocking
 * one there. */
static int make_backend(mux_loop_t *loop, int backend_kind)
{
    int uring = backend_kind == MUX_BACKEND_URING, err = 0, rc;

    loop->backend = mux_backend_new(uring ? MUX_BACKEND_EPOLL : backend_kind, &err);
    if (loop->backend == NULL)
        return err;
    if (mux_backend_set_batch(loop->backend, 1024) < 0)
        return -ENOMEM;
    loop->wakefd = eventfd(0, uring ? EFD_CLOEXEC : EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0)
        return -errno;
    if ((rc = mux__fd_reserve(loop, loop->wakefd)) < 0)
        return rc;
    loop->fds[loop->wakefd].kind = MUX__FD_WAKEUP;
    return uring ? mux__uloop_new(loop) : sync_backend(loop, loop->wakefd, MUX_READ);
}

mux_loop_t *mux_loop_new(int backend_kind, int edge_triggered, int *err)
{
    mux_loop_t *loop;
    int dummy, rc;

    if (err == NULL)
        err = &dummy;
    if (edge_triggered && backend_kind != MUX_BACKEND_EPOLL) {
        *err = -EINVAL;
        return NULL;
    }
    /* Without the hook a forked child could not tell that the loop is
     * its parent's: no loop at all, then. */
    rc = mux__fork_watch();
    if (rc < 0) {
        *err = rc;
        return NULL;
    }
    loop = calloc(1, sizeof(*loop));
    if (loop == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    loop->forks = mux__fork_generation();
    loop->wakefd = -1;
    loop->edge = edge_triggered ? 1 : 0;
    loop->rbuf = malloc(MUX_READ_BUFFER);
    loop->fired = mux__grow(NULL, &loop->fired_cap, 1024, MUX__RECORD_SIZE);
    if (loop->rbuf == NULL || loop->fired == NULL) {
        *err = -ENOMEM;
        goto fail;
    }
    if ((rc = make_backend(loop, backend_kind)) < 0) {
        *err = rc;
        goto fail;
    }
    return loop;
fail:
    mux_loop_free(loop);
    return NULL;
}

void mux_loop_free(mux_loop_t *loop)
{
    int fd;

    if (loop == NULL)
        return;
    /* In a forked child the registrations belong to the parent too (one
     * epoll instance): forget them without EPOLL_CTL_DEL, which would
     * unregister the parent's fds. Closing the child's copies of the fds
     * leaves the parent's open file descriptions, and their registrations,
     * alone. */
    if (mux__forked(loop))
        for (fd = 0; fd < loop->nfds; fd++)
            loop->fds[fd].interest = 0;
    mux__uloop_free(loop);   /* closes io_uring's streams and listeners */
    for (fd = 0; fd < loop->nfds; fd++)
        if (loop->fds[fd].kind == MUX__FD_STREAM || loop->fds[fd].kind == MUX__FD_LISTENER)
            mux__close_owned(loop, fd);
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    mux_backend_free(loop->backend);
    mux__timers_free(loop);
    free(loop->fds);
    free(loop->changes);
    free(loop->still);
    free(loop->fired);
    free(loop->rbuf);
    free(loop);
}

int mux_loop_wakeup(mux_loop_t *loop)
{
    uint64_t one = 1;

    if (loop == NULL)
        return -EINVAL;
    if (mux__forked(loop))
        return -ECHILD;   /* the eventfd is the parent's too: it would wake the parent */
    /* Coalesce: only the first wake-up since the last drain writes. */
    if (atomic_exchange(&loop->wake_pending, 1))
        return 0;
    if (write(loop->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return -errno;
    return 0;
}

static void drain_wakeup(mux_loop_t *loop)
{
    uint64_t count;

    /* Read first, then clear. Clearing first loses wake-ups: a waker that
     * sets the flag after the clear and writes before the read has its
     * write swallowed while its flag stays set, and every later wake-up
     * is then coalesced into nothing. This way a waker that sets the flag
     * after the clear writes again (one spurious iteration at worst), and
     * one that found it still set is served by this iteration's return. */
    while (read(loop->wakefd, &count, sizeof(count)) > 0)
        ;
    atomic_store(&loop->wake_pending, 0);
}

static int watch_held(mux_loop_t *loop, int fd, int mask)
{
    mux_fd_t *e;
    int rc;

    if (mask & ~(MUX_READ | MUX_WRITE))
        return -EINVAL;
    if ((rc = mux__fd_reserve(loop, fd)) < 0)
        return rc;
    e = &loop->fds[fd];
    if (e->kind != MUX__FD_FREE && e->kind != MUX__FD_WATCH)
        return -EEXIST;   /* the loop owns this fd as a stream or listener */
    e->kind = MUX__FD_WATCH;
    rc = sync_backend(loop, fd, mask);
    if (rc < 0 && e->interest == 0)
        e->kind = MUX__FD_FREE;
    if (rc == 0 && mask == 0)
        e->kind = MUX__FD_FREE;
    e->pending = e->interest;
    return rc;
}

int mux__watcher_ready(mux_loop_t *loop, int fd, uint32_t events)
{
    mux_fd_t *e = &loop->fds[fd];
    int mask = 0;

    assert(e->kind == MUX__FD_WATCH);
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLPRI))
        mask |= MUX_READ;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        mask |= MUX_WRITE;
    mask &= e->interest;
    return mask ? mux__push_record(loop, MUX_REC_IO, fd, mask, 0) : 0;
}

static void serve(mux_loop_t *loop, int fd, uint32_t events)
{
    mux_fd_t *e = &loop->fds[fd];

    /* poll reports an fd closed behind the loop's back as POLLNVAL (a bit
     * epoll does not use): treat it as the error it is, so its owner hears
     * of it instead of the wait returning at once forever. */
    if (events & POLLNVAL)
        events |= EPOLLERR;

    switch (e->kind) {
    case MUX__FD_STREAM: mux__stream_ready(loop, fd, events); break;
    case MUX__FD_LISTENER:
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            mux__listener_ready(loop, fd);
        break;
    case MUX__FD_WATCH: mux__watcher_ready(loop, fd, events); break;
    case MUX__FD_WAKEUP: drain_wakeup(loop); break;
    default:   /* closed after the kernel reported it */
        assert(e->kind == MUX__FD_FREE);
        break;
    }
}

/* select(2) fails with EBADF for the whole set when one registered fd was
 * closed behind the loop's back, without saying which: find them (as
 * libev's fd_ebadf does) and serve them as errors, so their owners hear of
 * it instead of every later wait failing. Returns how many it found. */
static int serve_closed_fds(mux_loop_t *loop)
{
    int fd, found = 0;

    for (fd = 0; fd < loop->nfds; fd++)
        if (loop->fds[fd].interest != 0 && fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            serve(loop, fd, EPOLLERR);
            found++;
        }
    return found;
}

/* Serves the fds carried over from the last iteration (the shared read
 * buffer filled up, or an edge-triggered fd stopped short of EAGAIN) before
 * anything the wait reports, so every busy fd gets its turn in order.
 * Returns how many list entries it took; see finish_still_ready(). */
static int serve_still_ready(mux_loop_t *loop)
{
    int i, pass, n = loop->nstill;

    /* Pass 0 serves the fds the full buffer skipped last time, pass 1 the
     * edge-triggered ones that were read but not drained: a stream that
     * got nothing is never queued behind one that got a whole chunk.
     * MUX__FLAG_SERVED marks an entry done (an fd may be listed twice). */
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < n; i++) {
            int fd = loop->still[i];
            mux_fd_t *e = &loop->fds[fd];

            if ((e->flags & MUX__FLAG_SERVED)
                || (pass == 0 && !(e->flags & MUX__FLAG_STARVED)))
                continue;
            e->flags &= (uint16_t)~(MUX__FLAG_STILL_READY | MUX__FLAG_STARVED);
            if (e->kind == MUX__FD_STREAM || e->kind == MUX__FD_LISTENER) {
                e->flags |= MUX__FLAG_SERVED;
                serve(loop, fd, EPOLLIN);
            }
        }
    }
    return n;
}

/* Drops the n entries served above; entries marked since then stay. */
static void finish_still_ready(mux_loop_t *loop, int n)
{
    int i;

    assert(n <= loop->nstill);
    for (i = 0; i < n; i++)
        loop->fds[loop->still[i]].flags &= (uint16_t)~MUX__FLAG_SERVED;
    memmove(loop->still, loop->still + n, (size_t)(loop->nstill - n) * sizeof(int));
    loop->nstill -= n;
}

static int loop_run_once_held(mux_loop_t *loop, int64_t timeout_us)
{
    int64_t timer_us;
    int i, n, rc, carried, filled, *fds;
    uint32_t *events;

    mux__timers_release_fired(loop);
    loop->nfired = 0;
    loop->record_error = 0;
    loop->rused = 0;
    filled = loop->rbuf_filled;
    loop->rbuf_filled = 0;
    if ((rc = apply_changes(loop)) < 0)
        return rc;

    timer_us = mux__timers_next_us(loop, mux_loop_now_ns());
    if (timer_us >= 0 && (timeout_us < 0 || timer_us < timeout_us))
        timeout_us = timer_us;
    if (loop->nstill > 0 || loop->nfired > 0)
        timeout_us = 0;

    /* The last pass filled the read buffer and left streams waiting on the
     * still-ready list: serve them before asking the kernel again. A
     * level-triggered epoll_wait would report every one of them again and
     * re-poll each in the kernel, for nothing. A few passes at most, so new
     * fds, writes and wake-ups are not held back for long. */
    if (filled && loop->nstill > 0 && loop->waits_skipped < MUX__MAX_WAITS_SKIPPED) {
        loop->waits_skipped++;
        n = 0;
    } else {
        loop->waits_skipped = 0;
        n = mux_backend_wait(loop->backend, timeout_us);
    }
    if (n == -EINTR)
        n = 0;   /* the caller runs signal handlers and comes back */
    if (n == -EBADF && serve_closed_fds(loop) > 0)
        n = 0;
    if (n < 0)
        return n;
    carried = serve_still_ready(loop);
    fds = mux_backend_fired_fds(loop->backend);
    events = mux_backend_fired_events(loop->backend);
    for (i = 0; i < n; i++) {
        int fd = fds[i];
        uint32_t ev = events[i];

        if (fd < 0 || fd >= loop->nfds)
            continue;
        if (loop->fds[fd].flags & MUX__FLAG_SERVED)
            ev &= ~(uint32_t)EPOLLIN;   /* read above; only flush now */
        serve(loop, fd, ev);
    }
    finish_still_ready(loop, carried);
    if ((rc = mux__timers_expire(loop, mux_loop_now_ns())) < 0)
        return rc;
    return loop->record_error < 0 ? loop->record_error : loop->nfired;
}

/* --- public entry points: each holds the loop (MUX__HOLDING) --------------- */

int mux_watch(mux_loop_t *loop, int fd, int mask)
{
    return MUX__HOLDING(loop, watch_held(loop, fd, mask));
}

int mux_token_fd(mux_loop_t *loop, int token)
{
    return MUX__HOLDING(loop, token_fd_held(loop, token));
}

int mux_loop_run_once(mux_loop_t *loop, int64_t timeout_us)
{
    return MUX__HOLDING(loop, loop->u != NULL ? mux__uloop_run_once(loop, timeout_us)
                                              : loop_run_once_held(loop, timeout_us));
}
