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
 * d) epoll_wait() takes whole milliseconds. A timeout with a sub-ms part
 *    (the loop's next timer) waits with epoll_pwait2() (Linux 5.11), whose
 *    timespec keeps it: 0.3 ms is not rounded up to 1 ms. Called through
 *    syscall(), with the kernel's 64-bit timespec, so neither the libc's
 *    version nor a 32-bit time_t matters. Where the kernel lacks it (ENOSYS;
 *    EPERM from a seccomp filter that predates it, as old container
 *    runtimes have) the backend remembers that, process-wide, and waits
 *    with epoll_wait() rounded up to the next ms: late, never early.
 */
#include <errno.h>
#include <linux/time_types.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
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

#ifdef SYS_epoll_pwait2
static atomic_int pwait2_missing;   /* the kernel refused it once (note d) */
#endif

/* One wait, exact to the microsecond where the kernel can (note d). */
static int wait_kernel(int epfd, struct epoll_event *buf, int maxevents, int64_t timeout_us)
{
    int n;

#ifdef SYS_epoll_pwait2
    if (timeout_us > 0 && timeout_us % 1000 != 0
        && !atomic_load_explicit(&pwait2_missing, memory_order_relaxed)) {
        struct timespec ts;
        struct __kernel_timespec kts;

        mux__timeout_ts(timeout_us, &ts);
        kts.tv_sec = ts.tv_sec;
        kts.tv_nsec = ts.tv_nsec;
        n = (int)syscall(SYS_epoll_pwait2, epfd, buf, maxevents, &kts, NULL, (size_t)0);
        if (n >= 0)
            return n;
        if (errno != ENOSYS && errno != EPERM)
            return -errno;
        atomic_store_explicit(&pwait2_missing, 1, memory_order_relaxed);
    }
#endif
    n = epoll_wait(epfd, buf, maxevents, mux__timeout_ms(timeout_us));
    return n < 0 ? -errno : n;
}

/* Waits into buf, then copies the (fd, events) pairs out into the arrays. */
static int wait_with(epoll_backend_t *e, struct epoll_event *buf, int *fds,
                     uint32_t *events, int maxevents, int64_t timeout_us)
{
    int n = wait_kernel(e->epfd, buf, maxevents, timeout_us), i;

    if (n < 0)
        return n;
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
