/* mux_backend_select.c - select(2) backend and the one-shot select() behind
 * pymux.select.select().
 *
 * An fd_set is a FD_SETSIZE-bit bitmap: FD_SET() on a larger fd writes past
 * it. Every fd is checked by fd_selectable() before it reaches an fd_set:
 * select_ctl() refuses fds outside [0, FD_SETSIZE) with -EINVAL, and so does
 * fdset_add_checked() for mux_select_once().
 *
 * The backend's sets change under a lock and a wait copies them under it,
 * so registrations may change from another thread while select(2) runs.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include "mux_backend_internal.h"

static int fd_selectable(int fd)
{
    return fd >= 0 && fd < FD_SETSIZE;
}

static int fdset_add_checked(fd_set *set, int fd, int *maxfd)
{
    if (!fd_selectable(fd))
        return -EINVAL;
    FD_SET(fd, set);
    if (fd > *maxfd)
        *maxfd = fd;
    return 0;
}

/* select(2) with a microsecond timeout (-1: forever). */
static int select_us(int maxfd, fd_set *r, fd_set *w, fd_set *x, int64_t timeout_us)
{
    struct timeval tv, *tvp = NULL;
    int n;

    if (timeout_us >= 0) {
        tv.tv_sec = (time_t)(timeout_us / 1000000);
        tv.tv_usec = (suseconds_t)(timeout_us % 1000000);
        tvp = &tv;
    }
    n = select(maxfd + 1, r, w, x, tvp);
    return n < 0 ? -errno : n;
}

typedef struct {
    mux_backend_t base;
    pthread_mutex_t lock;
    fd_set registered, rset, wset, xset;
    int maxfd;          /* highest registered fd, -1 when empty */
} select_backend_t;

/* Drops every registration (callers hold the lock, or own s alone). */
static void forget_all(select_backend_t *s)
{
    FD_ZERO(&s->registered);
    FD_ZERO(&s->rset);
    FD_ZERO(&s->wset);
    FD_ZERO(&s->xset);
    s->maxfd = -1;
}

static mux_backend_t *select_create(int *err)
{
    select_backend_t *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    s->base.ops = &mux__select_ops;
    pthread_mutex_init(&s->lock, NULL);
    forget_all(s);
    return &s->base;
}

static void set_interest(select_backend_t *s, int fd, uint32_t events)
{
    assert(fd_selectable(fd));
    FD_CLR(fd, &s->rset);
    FD_CLR(fd, &s->wset);
    FD_CLR(fd, &s->xset);
    if (events & EPOLLIN)
        FD_SET(fd, &s->rset);
    if (events & EPOLLOUT)
        FD_SET(fd, &s->wset);
    if (events & EPOLLPRI)
        FD_SET(fd, &s->xset);
}

static int select_ctl_locked(select_backend_t *s, int op, int fd, uint32_t events)
{
    int present;

    assert(fd_selectable(fd));   /* checked by select_ctl */
    present = FD_ISSET(fd, &s->registered);

    if (op == MUX_CTL_ADD) {
        if (present)
            return -EEXIST;
        fdset_add_checked(&s->registered, fd, &s->maxfd);
        set_interest(s, fd, events);
        return 0;
    }
    if (!present)
        return -ENOENT;
    if (op == MUX_CTL_MOD) {
        set_interest(s, fd, events);
        return 0;
    }
    set_interest(s, fd, 0);
    FD_CLR(fd, &s->registered);
    while (s->maxfd >= 0 && !FD_ISSET(s->maxfd, &s->registered))
        s->maxfd--;
    return 0;
}

static int select_ctl(mux_backend_t *b, int op, int fd, uint32_t events)
{
    select_backend_t *s = (select_backend_t *)b;
    int rc;

    if (!fd_selectable(fd))
        return -EINVAL;
    if (op != MUX_CTL_DEL && (events & MUX__EPOLL_ONLY_FLAGS))
        return -EINVAL;
    pthread_mutex_lock(&s->lock);
    rc = select_ctl_locked(s, op, fd, events);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int select_wait(mux_backend_t *b, int *fds, uint32_t *events,
                       int maxevents, int64_t timeout_us)
{
    select_backend_t *s = (select_backend_t *)b;
    fd_set r, w, x;
    int fd, n, maxfd, out = 0;

    pthread_mutex_lock(&s->lock);
    r = s->rset;
    w = s->wset;
    x = s->xset;
    maxfd = s->maxfd;
    pthread_mutex_unlock(&s->lock);
    n = select_us(maxfd, &r, &w, &x, timeout_us);
    if (n <= 0)
        return n;
    for (fd = 0; fd <= maxfd && out < maxevents; fd++) {
        uint32_t ev = (FD_ISSET(fd, &r) ? EPOLLIN : 0)
                    | (FD_ISSET(fd, &w) ? EPOLLOUT : 0)
                    | (FD_ISSET(fd, &x) ? EPOLLPRI : 0);
        if (ev) {
            fds[out] = fd;
            events[out] = ev;
            out++;
        }
    }
    return out;
}

static void select_close(mux_backend_t *b)
{
    select_backend_t *s = (select_backend_t *)b;

    pthread_mutex_lock(&s->lock);
    forget_all(s);
    pthread_mutex_unlock(&s->lock);
}

static void select_destroy(mux_backend_t *b)
{
    pthread_mutex_destroy(&((select_backend_t *)b)->lock);
    free(b);
}

const mux_backend_ops_t mux__select_ops = {
    .name = "select",
    .max_fd = FD_SETSIZE,
    .create = select_create,
    .ctl = select_ctl,
    .wait = select_wait,
    .close = select_close,
    .destroy = select_destroy,
};

int mux_select_once(const int *fds, int nread, int nwrite, int nexcept,
                    int *ready, int64_t timeout_us)
{
    fd_set sets[3];
    const int counts[3] = {nread, nwrite, nexcept};
    int maxfd = -1, i, k, idx, n, out = 0;

    if (nread < 0 || nwrite < 0 || nexcept < 0
        || nread > FD_SETSIZE * 64 || nwrite > FD_SETSIZE * 64
        || nexcept > FD_SETSIZE * 64)
        return -EINVAL;
    if ((nread + nwrite + nexcept) > 0 && (fds == NULL || ready == NULL))
        return -EINVAL;
    for (k = 0, idx = 0; k < 3; k++) {
        FD_ZERO(&sets[k]);
        for (i = 0; i < counts[k]; i++, idx++)
            if (fdset_add_checked(&sets[k], fds[idx], &maxfd) < 0)
                return -EINVAL;
    }
    n = select_us(maxfd, &sets[0], &sets[1], &sets[2], timeout_us);
    if (n <= 0)
        return n;
    for (k = 0, idx = 0; k < 3; k++)
        for (i = 0; i < counts[k]; i++, idx++)
            if (FD_ISSET(fds[idx], &sets[k]))
                ready[out++] = idx;
    return out;
}
