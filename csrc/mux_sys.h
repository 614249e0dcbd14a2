/* mux_sys.h - select, poll and epoll as the bare system calls (pymux.sys).
 *
 * Each function makes its system call once: no retry on EINTR, no
 * deadline bookkeeping, as in C. It returns the call's result (>= 0) or
 * -errno, and checks what the kernel would otherwise read or write out of
 * bounds: fd_set bits (fd in 0 .. FD_SETSIZE-1, nfds <= FD_SETSIZE), the
 * pollfd and event arrays' lengths against their capacity.
 *
 * This header is also the cffi declaration (see pymux/_build.py); the
 * system's fd_set, struct pollfd and struct epoll_event are declared for
 * cffi there.
 */
#ifndef MUX_SYS_H
#define MUX_SYS_H

#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>

/* FD_ZERO/FD_SET/FD_CLR/FD_ISSET: -EINVAL for fd outside 0 .. FD_SETSIZE-1. */
int mux_sys_fd_zero(fd_set *set);
int mux_sys_fd_set(int fd, fd_set *set);
int mux_sys_fd_clr(int fd, fd_set *set);
int mux_sys_fd_isset(int fd, fd_set *set);

/* select(2); each set may be NULL; timeout_us < 0: no timeout. -EINVAL
 * for nfds outside 0 .. FD_SETSIZE (the kernel would read past the sets). */
int mux_sys_select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds,
                   int64_t timeout_us);

/* poll(2) on the first nfds of an array of `capacity` (-EINVAL if more). */
int mux_sys_poll(struct pollfd *fds, int capacity, int nfds, int timeout_ms);

/* epoll_create1(2): the new fd. */
int mux_sys_epoll_create1(int flags);

/* epoll_ctl(2) with data.fd = fd (ignored for EPOLL_CTL_DEL). */
int mux_sys_epoll_ctl(int epfd, int op, int fd, uint32_t events);

/* epoll_wait(2) into `events` (capacity entries, maxevents <= capacity,
 * else -EINVAL), then split into the flat arrays fds (each event's data.fd)
 * and revents, which must hold capacity entries too: one call per wait. */
int mux_sys_epoll_wait(int epfd, struct epoll_event *events, int *fds, uint32_t *revents,
                       int capacity, int maxevents, int timeout_ms);

#endif
