/* mux_backend_epoll.c - Linux epoll(7) backend, level- and edge-triggered.
 *
 * Masks pass through unchanged, so EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE and
 * EPOLLRDHUP work as the kernel defines them. The kernel keeps the interest
 * list; this file keeps only the epoll_event buffer for epoll_wait.
 *
 * Notes about epoll:
 * a) It tracks open file descriptions, not fds: a registered fd that was
 *    dup()ed and then closed keeps firing under its old number. Callers must
 *    unregister before closing (pymux's loop does).
 * b) epoll_ctl() on a regular file fails with EPERM; we report it.
 * c) epoll_wait() rejects maxevents < 1, hence the dispatcher's check.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mux_backend_internal.h"
#include "mux_grow.h"

typedef struct {
    mux_backend_t base;
    int epfd;
    struct epoll_event *buf;    /* epoll_wait() output, grown on demand */
    size_t cap;
} epoll_backend_t;

static mux_backend_t *epoll_adopt(int epfd, int *err)
{
    epoll_backend_t *e = calloc(1, sizeof(*e));

    if (e == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    e->base.ops = &mux__epoll_ops;
    e->epfd = epfd;
    return &e->base;
}

static mux_backend_t *epoll_create_backend(int *err)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    mux_backend_t *b;

    if (epfd < 0) {
        *err = -errno;
        return NULL;
    }
    b = epoll_adopt(epfd, err);
    if (b == NULL)
        close(epfd);
    return b;
}

static int epoll_ctl_backend(mux_backend_t *b, int op, int fd, uint32_t events)
{
    epoll_backend_t *e = (epoll_backend_t *)b;
    struct epoll_event ev = {0};
    int kop = op == MUX_CTL_ADD ? EPOLL_CTL_ADD
            : op == MUX_CTL_MOD ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;

    ev.events = events;
    ev.data.fd = fd;
    return epoll_ctl(e->epfd, kop, fd, &ev) < 0 ? -errno : 0;
}

/* epoll_wait into buf, then the (fd, events) pairs out into the arrays. */
static int wait_with(epoll_backend_t *e, struct epoll_event *buf, int *fds,
                     uint32_t *events, int maxevents, int64_t timeout_us)
{
    int n = epoll_wait(e->epfd, buf, maxevents, mux__timeout_ms(timeout_us)), i;

    if (n < 0)
        return -errno;
    for (i = 0; i < n; i++) {
        fds[i] = buf[i].data.fd;
        events[i] = buf[i].events;
    }
    return n;
}

static int epoll_wait_backend(mux_backend_t *b, int *fds, uint32_t *events,
                              int maxevents, int64_t timeout_us)
{
    epoll_backend_t *e = (epoll_backend_t *)b;

    if ((size_t)maxevents > e->cap && MUX__GROW(e->buf, e->cap, (size_t)maxevents) < 0)
        return -ENOMEM;
    return wait_with(e, e->buf, fds, events, maxevents, timeout_us);
}

/* For a second thread: the backend's buffer belongs to the first. */
static int epoll_wait_private(mux_backend_t *b, int *fds, uint32_t *events,
                              int maxevents, int64_t timeout_us)
{
    struct epoll_event *buf = malloc((size_t)maxevents * sizeof(*buf));
    int n;

    if (buf == NULL)
        return -ENOMEM;
    n = wait_with((epoll_backend_t *)b, buf, fds, events, maxevents, timeout_us);
    free(buf);
    return n;
}

static int epoll_fileno(const mux_backend_t *b)
{
    return ((const epoll_backend_t *)b)->epfd;
}

static void epoll_close(mux_backend_t *b)
{
    epoll_backend_t *e = (epoll_backend_t *)b;

    close(e->epfd);
    e->epfd = -1;
}

static void epoll_destroy(mux_backend_t *b)
{
    epoll_backend_t *e = (epoll_backend_t *)b;

    free(e->buf);
    free(e);
}

const mux_backend_ops_t mux__epoll_ops = {
    .name = "epoll",
    .max_fd = 0,
    .create = epoll_create_backend,
    .ctl = epoll_ctl_backend,
    .wait = epoll_wait_backend,
    .close = epoll_close,
    .destroy = epoll_destroy,
    .fileno = epoll_fileno,
    .adopt = epoll_adopt,
    .wait_into = epoll_wait_private,
};
