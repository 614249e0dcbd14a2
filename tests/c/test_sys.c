/* test_sys.c - mux_sys.c, the bare system calls behind pymux.sys: each
 * refuses what would make the kernel (or FD_SET) touch memory outside the
 * caller's arrays, and otherwise reports the system call's own result.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "mux_sys.h"

static void fd_set_bits_are_bounded_by_fd_setsize(void)
{
    fd_set set;

    CHECK_EQ(mux_sys_fd_zero(&set), 0);
    CHECK_EQ(mux_sys_fd_set(-1, &set), -EINVAL);
    CHECK_EQ(mux_sys_fd_set(FD_SETSIZE, &set), -EINVAL);
    CHECK_EQ(mux_sys_fd_isset(FD_SETSIZE, &set), -EINVAL);
    CHECK_EQ(mux_sys_fd_clr(-5, &set), -EINVAL);
    CHECK_EQ(mux_sys_fd_set(FD_SETSIZE - 1, &set), 0);
    CHECK_EQ(mux_sys_fd_isset(FD_SETSIZE - 1, &set), 1);
    CHECK_EQ(mux_sys_fd_clr(FD_SETSIZE - 1, &set), 0);
    CHECK_EQ(mux_sys_fd_isset(FD_SETSIZE - 1, &set), 0);
    CHECK_EQ(mux_sys_fd_set(3, NULL), -EFAULT);
}

static void select_refuses_nfds_beyond_the_sets_and_reports_ready_fds(void)
{
    int sv[2];
    fd_set r;

    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    mux_sys_fd_zero(&r);
    CHECK_EQ(mux_sys_select(FD_SETSIZE + 1, &r, NULL, NULL, 0), -EINVAL);
    CHECK_EQ(mux_sys_select(-1, &r, NULL, NULL, 0), -EINVAL);
    mux_sys_fd_set(sv[0], &r);
    CHECK_EQ(mux_sys_select(sv[0] + 1, &r, NULL, NULL, 0), 0);   /* nothing to read */
    REQUIRE(write(sv[1], "x", 1) == 1);
    mux_sys_fd_set(sv[0], &r);
    CHECK_EQ(mux_sys_select(sv[0] + 1, &r, NULL, NULL, -1), 1);
    CHECK_EQ(mux_sys_fd_isset(sv[0], &r), 1);
    close(sv[0]);
    close(sv[1]);
}

static void poll_refuses_nfds_beyond_the_array(void)
{
    struct pollfd fds[2] = {{.fd = -1}, {.fd = -1}};

    CHECK_EQ(mux_sys_poll(fds, 2, 3, 0), -EINVAL);
    CHECK_EQ(mux_sys_poll(fds, 2, -1, 0), -EINVAL);
    CHECK_EQ(mux_sys_poll(NULL, 0, 1, 0), -EINVAL);
    CHECK_EQ(mux_sys_poll(fds, 2, 2, 0), 0);   /* negative fds are ignored, as in C */
}

static void epoll_checks_its_buffers_and_reports_bad_fds(void)
{
    struct epoll_event events[2];
    int fds[2], epfd, sv[2];
    uint32_t revents[2];

    epfd = mux_sys_epoll_create1(EPOLL_CLOEXEC);
    REQUIRE(epfd >= 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_EQ(mux_sys_epoll_ctl(epfd, EPOLL_CTL_ADD, -1, EPOLLIN), -EBADF);
    CHECK_EQ(mux_sys_epoll_ctl(-1, EPOLL_CTL_ADD, sv[0], EPOLLIN), -EBADF);
    CHECK_EQ(mux_sys_epoll_ctl(epfd, 99, sv[0], EPOLLIN), -EINVAL);
    CHECK_EQ(mux_sys_epoll_ctl(epfd, EPOLL_CTL_ADD, sv[0], EPOLLOUT), 0);
    CHECK_EQ(mux_sys_epoll_wait(epfd, events, fds, revents, 2, 3, 0), -EINVAL);
    CHECK_EQ(mux_sys_epoll_wait(epfd, events, fds, revents, 2, 0, 0), -EINVAL);
    CHECK_EQ(mux_sys_epoll_wait(epfd, NULL, fds, revents, 2, 2, 0), -EFAULT);
    CHECK_EQ(mux_sys_epoll_wait(-1, events, fds, revents, 2, 2, 0), -EBADF);
    CHECK_EQ(mux_sys_epoll_wait(epfd, events, fds, revents, 2, 2, 0), 1);
    CHECK_EQ(fds[0], sv[0]);
    CHECK_EQ(revents[0], EPOLLOUT);
    close(sv[0]);
    close(sv[1]);
    close(epfd);
}

const test_t sys_tests[] = {
    TEST(fd_set_bits_are_bounded_by_fd_setsize),
    TEST(select_refuses_nfds_beyond_the_sets_and_reports_ready_fds),
    TEST(poll_refuses_nfds_beyond_the_array),
    TEST(epoll_checks_its_buffers_and_reports_bad_fds),
    {NULL, NULL},
};
