/* mux_backend.c - backend selection and the argument checks every backend
 * shares. The backends themselves live in mux_backend_epoll.c,
 * mux_backend_poll.c and mux_backend_select.c.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>

#include "mux_backend_internal.h"

static const mux_backend_ops_t *const ops_by_kind[] = {
    [MUX_BACKEND_EPOLL] = &mux__epoll_ops,
    [MUX_BACKEND_POLL] = &mux__poll_ops,
    [MUX_BACKEND_SELECT] = &mux__select_ops,
};

static const mux_backend_ops_t *ops_for(int kind)
{
    if (kind < 0 || (size_t)kind >= sizeof(ops_by_kind) / sizeof(ops_by_kind[0]))
        return NULL;
    return ops_by_kind[kind];
}

/* Gives a freshly created backend its fired arrays, sized for the largest
 * batch once and for all: they never move, so a caller may keep their
 * addresses, and pages no wait has touched cost no memory. */
static mux_backend_t *with_batch(mux_backend_t *b, int *err)
{
    if (b == NULL)
        return NULL;
    b->fds = malloc(MUX_MAX_BATCH * sizeof(*b->fds));
    b->events = malloc(MUX_MAX_BATCH * sizeof(*b->events));
    if (b->fds == NULL || b->events == NULL) {
        *err = -ENOMEM;
        mux_backend_free(b);
        return NULL;
    }
    b->batch = 16;
    return b;
}

mux_backend_t *mux_backend_new(int kind, int *err)
{
    const mux_backend_ops_t *ops = ops_for(kind);
    int dummy;

    if (err == NULL)
        err = &dummy;
    if (ops == NULL) {
        *err = -EINVAL;
        return NULL;
    }
    return with_batch(ops->create(err), err);
}

mux_backend_t *mux__backend_adopt(int kind, int fd, int *err)
{
    const mux_backend_ops_t *ops = ops_for(kind);
    int dummy;

    if (err == NULL)
        err = &dummy;
    if (ops == NULL)
        *err = -EINVAL;
    else if (ops->adopt == NULL)
        *err = -ENOTSUP;
    else if (fd < 0)
        *err = -EBADF;
    else
        return with_batch(ops->adopt(fd, err), err);
    return NULL;
}

mux_backend_t *mux_backend_adopt_epoll(int epfd, int *err)
{
    return mux__backend_adopt(MUX_BACKEND_EPOLL, epfd, err);
}

int mux_backend_close(mux_backend_t *b)
{
    if (b == NULL)
        return -EINVAL;
    /* Once only, even if two threads close at the same time: a second
     * close(2) could hit an fd number that was reused meanwhile. */
    if (!atomic_exchange(&b->closed, 1))
        b->ops->close(b);
    return 0;
}

void mux_backend_free(mux_backend_t *b)
{
    if (b == NULL)
        return;
    mux_backend_close(b);
    free(b->fds);
    free(b->events);
    b->ops->destroy(b);
}

int mux_backend_fileno(const mux_backend_t *b)
{
    if (b == NULL)
        return -EINVAL;
    if (b->closed)
        return -EBADF;
    return b->ops->fileno == NULL ? -ENOTSUP : b->ops->fileno(b);
}

int mux_backend_max_fd(const mux_backend_t *b)
{
    return b == NULL ? -EINVAL : b->ops->max_fd;
}

const char *mux_backend_name(const mux_backend_t *b)
{
    return b == NULL ? "" : b->ops->name;
}

int mux_backend_ctl(mux_backend_t *b, int op, int fd, uint32_t events)
{
    if (b == NULL)
        return -EINVAL;
    if (b->closed)
        return -EBADF;
    if (fd < 0)
        return -EBADF;
    if (op != MUX_CTL_ADD && op != MUX_CTL_MOD && op != MUX_CTL_DEL)
        return -EINVAL;
    return b->ops->ctl(b, op, fd, events);
}

int mux_backend_set_batch(mux_backend_t *b, int maxevents)
{
    if (b == NULL || maxevents < 1)
        return -EINVAL;
    b->batch = maxevents > MUX_MAX_BATCH ? MUX_MAX_BATCH : maxevents;
    return b->batch;
}

int *mux_backend_fired_fds(mux_backend_t *b)
{
    return b == NULL ? NULL : b->fds;
}

uint32_t *mux_backend_fired_events(mux_backend_t *b)
{
    return b == NULL ? NULL : b->events;
}

int mux_backend_wait(mux_backend_t *b, int64_t timeout_us)
{
    int n;

    if (b == NULL)
        return -EINVAL;
    if (b->closed)
        return -EBADF;
    if (atomic_exchange(&b->busy, 1))
        return -EBUSY;
    n = b->ops->wait(b, b->fds, b->events, b->batch, timeout_us < 0 ? -1 : timeout_us);
    assert(n <= b->batch);
    atomic_store(&b->busy, 0);
    return n;
}

int mux_backend_wait_into(mux_backend_t *b, int *fds, uint32_t *events,
                          int maxevents, int64_t timeout_us)
{
    if (b == NULL || fds == NULL || events == NULL || maxevents < 1)
        return -EINVAL;
    if (b->closed)
        return -EBADF;
    if (b->ops->wait_into == NULL)
        return -EBUSY;
    if (maxevents > MUX_MAX_BATCH)
        maxevents = MUX_MAX_BATCH;
    return b->ops->wait_into(b, fds, events, maxevents, timeout_us < 0 ? -1 : timeout_us);
}

int mux__timeout_ms(int64_t timeout_us)
{
    int64_t ms;

    if (timeout_us < 0)
        return -1;
    ms = timeout_us / 1000 + (timeout_us % 1000 != 0);
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

struct timespec *mux__timeout_ts(int64_t timeout_us, struct timespec *ts)
{
    if (timeout_us < 0)
        return NULL;
    if (timeout_us / 1000000 > INT_MAX) {
        ts->tv_sec = INT_MAX;
        ts->tv_nsec = 0;
    } else {
        ts->tv_sec = (time_t)(timeout_us / 1000000);
        ts->tv_nsec = (long)(timeout_us % 1000000) * 1000;
    }
    return ts;
}
