/* mux_sys.c - the bare system calls behind pymux.sys (see mux_sys.h).
 *
 * Nothing here loops or keeps state: one system call per function, its
 * arguments checked where the kernel would trust them with memory.
 */
#include <errno.h>
#include <stddef.h>

#include "mux_sys.h"

static int result(int rc)
{
    return rc < 0 ? -errno : rc;
}

static int fd_in_set_range(int fd)
{
    return fd >= 0 && fd < FD_SETSIZE;
}

int mux_sys_fd_zero(fd_set *set)
{
    if (set == NULL)
        return -EFAULT;
    FD_ZERO(set);
    return 0;
}

int mux_sys_fd_set(int fd, fd_set *set)
{
    if (set == NULL)
        return -EFAULT;
    if (!fd_in_set_range(fd))
        return -EINVAL;
    FD_SET(fd, set);
    return 0;
}

int mux_sys_fd_clr(int fd, fd_set *set)
{
    if (set == NULL)
        return -EFAULT;
    if (!fd_in_set_range(fd))
        return -EINVAL;
    FD_CLR(fd, set);
    return 0;
}

int mux_sys_fd_isset(int fd, fd_set *set)
{
    if (set == NULL)
        return -EFAULT;
    if (!fd_in_set_range(fd))
        return -EINVAL;
    return FD_ISSET(fd, set) ? 1 : 0;
}

int mux_sys_select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds,
                   int64_t timeout_us)
{
    struct timeval tv;

    if (nfds < 0 || nfds > FD_SETSIZE)
        return -EINVAL;
    if (timeout_us >= 0) {
        tv.tv_sec = (time_t)(timeout_us / 1000000);
        tv.tv_usec = (suseconds_t)(timeout_us % 1000000);
    }
    return result(select(nfds, readfds, writefds, exceptfds, timeout_us >= 0 ? &tv : NULL));
}

int mux_sys_poll(struct pollfd *fds, int capacity, int nfds, int timeout_ms)
{
    if (nfds < 0 || nfds > capacity)
        return -EINVAL;
    if (fds == NULL && nfds > 0)
        return -EFAULT;
    return result(poll(fds, (nfds_t)nfds, timeout_ms));
}

int mux_sys_epoll_create1(int flags)
{
    return result(epoll_create1(flags));
}

int mux_sys_epoll_ctl(int epfd, int op, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};

    return result(epoll_ctl(epfd, op, fd, &ev));
}

int mux_sys_epoll_wait(int epfd, struct epoll_event *events, int *fds, uint32_t *revents,
                       int capacity, int maxevents, int timeout_ms)
{
    int n;

    if (maxevents <= 0 || maxevents > capacity)
        return -EINVAL;
    if (events == NULL || fds == NULL || revents == NULL)
        return -EFAULT;
    n = result(epoll_wait(epfd, events, maxevents, timeout_ms));
    for (int i = 0; i < n; i++) {
        fds[i] = events[i].data.fd;
        revents[i] = events[i].events;
    }
    return n;
}
