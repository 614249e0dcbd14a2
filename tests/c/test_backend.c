/* test_backend.c - the readiness backends (mux_backend.h): epoll, poll and
 * select through one interface, their error returns, and mux_select_once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "mux_backend_internal.h"   /* mux__backend_adopt, mux__timeout_* */

static mux_backend_t *new_backend(int kind)
{
    int err = 0;
    mux_backend_t *b = mux_backend_new(kind, &err);

    if (b == NULL)
        fprintf(stderr, "    mux_backend_new(%s) failed: %d\n", kind_name(kind), err);
    return b;
}

static void backend_new_refuses_unknown_kinds(void)
{
    int err = 0;

    CHECK(mux_backend_new(0, &err) == NULL);
    CHECK_EQ(err, -EINVAL);
    err = 0;
    CHECK(mux_backend_new(99, &err) == NULL);
    CHECK_EQ(err, -EINVAL);
    CHECK(mux_backend_new(-1, NULL) == NULL);   /* NULL err is accepted */
}

static void every_backend_reports_pipe_readiness_and_follows_add_mod_del(void)
{
    int k;

    for (k = 0; k < 3; k++) {
        mux_backend_t *b = new_backend(all_backends[k]);
        int p[2], n;

        REQUIRE(b != NULL);
        make_pipe(p);
        CHECK(strcmp(mux_backend_name(b), kind_name(all_backends[k])) == 0);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[0], EPOLLIN), 0);
        CHECK_EQ(mux_backend_wait(b, 0), 0);          /* nothing written yet */
        CHECK_EQ(write(p[1], "x", 1), 1);
        n = mux_backend_wait(b, 1000000);
        CHECK_EQ(n, 1);
        if (n == 1) {
            CHECK_EQ(mux_backend_fired_fds(b)[0], p[0]);
            CHECK(mux_backend_fired_events(b)[0] & EPOLLIN);
        }
        /* MOD to write interest: a pipe's read end is never writable. */
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_MOD, p[0], EPOLLOUT), 0);
        CHECK_EQ(mux_backend_wait(b, 0), 0);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_MOD, p[0], EPOLLIN), 0);
        CHECK_EQ(mux_backend_wait(b, 0), 1);
        /* The write end reports EPOLLOUT. */
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[1], EPOLLOUT), 0);
        CHECK_EQ(mux_backend_wait(b, 0), 2);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_DEL, p[0], 0), 0);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_DEL, p[1], 0), 0);
        CHECK_EQ(mux_backend_wait(b, 0), 0);
        say_on_failure("backend %s", kind_name(all_backends[k]));
        mux_backend_free(b);
        close(p[0]);
        close(p[1]);
    }
}

static void every_backend_returns_eexist_for_a_second_add_and_enoent_for_unknown_fds(void)
{
    int k;

    for (k = 0; k < 3; k++) {
        mux_backend_t *b = new_backend(all_backends[k]);
        int p[2];

        REQUIRE(b != NULL);
        make_pipe(p);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[0], EPOLLIN), 0);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[0], EPOLLIN), -EEXIST);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_MOD, p[1], EPOLLOUT), -ENOENT);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_DEL, p[1], 0), -ENOENT);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_DEL, p[0], 0), 0);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_DEL, p[0], 0), -ENOENT);
        say_on_failure("backend %s", kind_name(all_backends[k]));
        mux_backend_free(b);
        close(p[0]);
        close(p[1]);
    }
}

static void epoll_add_of_a_closed_fd_is_ebadf_and_of_a_regular_file_is_eperm(void)
{
    mux_backend_t *b = new_backend(MUX_BACKEND_EPOLL);
    int p[2], fd;
    char path[] = "/tmp/pymux-test-XXXXXX";

    REQUIRE(b != NULL);
    make_pipe(p);
    close(p[1]);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[1], EPOLLIN), -EBADF);
    fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, fd, EPOLLIN), -EPERM);
    close(fd);
    close(p[0]);
    mux_backend_free(b);
}

static void every_backend_refuses_negative_fds_and_unknown_ops(void)
{
    int k;

    for (k = 0; k < 3; k++) {
        mux_backend_t *b = new_backend(all_backends[k]);

        REQUIRE(b != NULL);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, -1, EPOLLIN), -EBADF);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_MOD, INT_MIN, EPOLLIN), -EBADF);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_DEL, -5, 0), -EBADF);
        CHECK_EQ(mux_backend_ctl(b, 0, 0, EPOLLIN), -EINVAL);
        CHECK_EQ(mux_backend_ctl(b, 4, 0, EPOLLIN), -EINVAL);
        CHECK_EQ(mux_backend_ctl(b, -1, 0, EPOLLIN), -EINVAL);
        mux_backend_free(b);
    }
}

static void null_backend_is_refused_by_every_function(void)
{
    CHECK_EQ(mux_backend_ctl(NULL, MUX_CTL_ADD, 0, EPOLLIN), -EINVAL);
    CHECK_EQ(mux_backend_wait(NULL, 0), -EINVAL);
    CHECK_EQ(mux_backend_set_batch(NULL, 8), -EINVAL);
    CHECK_EQ(mux_backend_fileno(NULL), -EINVAL);
    CHECK_EQ(mux_backend_close(NULL), -EINVAL);
    CHECK(mux_backend_fired_fds(NULL) == NULL);
    CHECK(mux_backend_fired_events(NULL) == NULL);
    CHECK(mux_backend_name(NULL) != NULL);
    mux_backend_free(NULL);
}

static void select_backend_refuses_fds_at_or_above_fd_setsize_with_einval(void)
{
    mux_backend_t *b = new_backend(MUX_BACKEND_SELECT);
    int high;

    REQUIRE(b != NULL);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, FD_SETSIZE, EPOLLIN), -EINVAL);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, 1500, EPOLLIN), -EINVAL);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, INT_MAX, EPOLLIN), -EINVAL);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_MOD, 1500, EPOLLIN), -EINVAL);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_DEL, 1500, 0), -EINVAL);
    /* A real, open fd above the limit is refused the same way. */
    high = dup_high(0);
    if (high >= FD_SETSIZE) {
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, high, EPOLLIN), -EINVAL);
        close(high);
    }
    /* FD_SETSIZE - 1 is the last fd select can watch. */
    CHECK(mux_backend_ctl(b, MUX_CTL_ADD, FD_SETSIZE - 1, EPOLLIN) == 0);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_DEL, FD_SETSIZE - 1, 0), 0);
    mux_backend_free(b);
}

static void poll_backend_refuses_fds_at_or_above_mux_max_fd(void)
{
    mux_backend_t *b = new_backend(MUX_BACKEND_POLL);

    REQUIRE(b != NULL);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, MUX_MAX_FD, EPOLLIN), -EBADF);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, INT_MAX, EPOLLIN), -EBADF);
    /* Never registered, so not found (the stdlib's poll.modify and
     * unregister errors for an unknown fd). */
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_MOD, MUX_MAX_FD, EPOLLIN), -ENOENT);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_DEL, MUX_MAX_FD, 0), -ENOENT);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_DEL, INT_MAX, 0), -ENOENT);
    /* Just below the limit the fd -> slot map grows to fit it (bounded). */
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, MUX_MAX_FD - 1, EPOLLIN), 0);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_DEL, MUX_MAX_FD - 1, 0), 0);
    mux_backend_free(b);
}

static void poll_and_select_refuse_epoll_only_flags(void)
{
    static const uint32_t flags[] = {EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE};
    int k, f, p[2];

    make_pipe(p);
    for (k = 1; k < 3; k++) {
        mux_backend_t *b = new_backend(all_backends[k]);

        REQUIRE(b != NULL);
        for (f = 0; f < 3; f++)
            CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[0], EPOLLIN | flags[f]), -EINVAL);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[0], EPOLLIN), 0);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_MOD, p[0], EPOLLIN | EPOLLET), -EINVAL);
        mux_backend_free(b);
    }
    close(p[0]);
    close(p[1]);
}

static void set_batch_refuses_nonpositive_sizes_and_clamps_large_ones(void)
{
    int k;

    for (k = 0; k < 3; k++) {
        mux_backend_t *b = new_backend(all_backends[k]);

        REQUIRE(b != NULL);
        CHECK_EQ(mux_backend_set_batch(b, 0), -EINVAL);
        CHECK_EQ(mux_backend_set_batch(b, -1), -EINVAL);
        CHECK_EQ(mux_backend_set_batch(b, INT_MIN), -EINVAL);
        CHECK_EQ(mux_backend_set_batch(b, 1), 1);
        CHECK_EQ(mux_backend_set_batch(b, INT_MAX), MUX_MAX_BATCH);
        CHECK_EQ(mux_backend_set_batch(b, MUX_MAX_BATCH + 1), MUX_MAX_BATCH);
        CHECK(mux_backend_fired_fds(b) != NULL);
        CHECK(mux_backend_fired_events(b) != NULL);
        mux_backend_free(b);
    }
}

static void wait_reports_at_most_one_batch_and_epoll_reports_the_rest_next(void)
{
    int k, i, p[5][2];

    for (i = 0; i < 5; i++) {
        make_pipe(p[i]);
        CHECK_EQ(write(p[i][1], "x", 1), 1);
    }
    for (k = 0; k < 3; k++) {
        mux_backend_t *b = new_backend(all_backends[k]);
        int seen[5] = {0}, round, n, j;

        REQUIRE(b != NULL);
        for (i = 0; i < 5; i++)
            CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[i][0], EPOLLIN), 0);
        CHECK_EQ(mux_backend_set_batch(b, 2), 2);
        for (round = 0; round < 3; round++) {
            n = mux_backend_wait(b, 0);
            CHECK_EQ(n, 2);
            for (j = 0; j < n && j < 2; j++)
                for (i = 0; i < 5; i++)
                    if (mux_backend_fired_fds(b)[j] == p[i][0])
                        seen[i] = 1;
        }
        /* epoll moves reported fds to the back of its ready list. */
        if (all_backends[k] == MUX_BACKEND_EPOLL)
            for (i = 0; i < 5; i++)
                CHECK(seen[i]);
        /* A bigger batch reports them all at once. */
        CHECK_EQ(mux_backend_set_batch(b, 64), 64);
        CHECK_EQ(mux_backend_wait(b, 0), 5);
        mux_backend_free(b);
    }
    for (i = 0; i < 5; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
}

static void closed_backend_refuses_everything_with_ebadf(void)
{
    int k, p[2];

    make_pipe(p);
    for (k = 0; k < 3; k++) {
        mux_backend_t *b = new_backend(all_backends[k]);

        REQUIRE(b != NULL);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[0], EPOLLIN), 0);
        CHECK_EQ(mux_backend_close(b), 0);
        CHECK_EQ(mux_backend_close(b), 0);   /* idempotent */
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[1], EPOLLOUT), -EBADF);
        CHECK_EQ(mux_backend_ctl(b, MUX_CTL_DEL, p[0], 0), -EBADF);
        CHECK_EQ(mux_backend_wait(b, 0), -EBADF);
        CHECK_EQ(mux_backend_fileno(b), -EBADF);
        mux_backend_free(b);
    }
    close(p[0]);
    close(p[1]);
}

static void epoll_fd_is_close_on_exec_and_poll_select_have_no_fileno(void)
{
    mux_backend_t *e = new_backend(MUX_BACKEND_EPOLL);
    mux_backend_t *p = new_backend(MUX_BACKEND_POLL);
    mux_backend_t *s = new_backend(MUX_BACKEND_SELECT);
    int fd;

    REQUIRE(e != NULL && p != NULL && s != NULL);
    fd = mux_backend_fileno(e);
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK_EQ(mux_backend_fileno(p), -ENOTSUP);
    CHECK_EQ(mux_backend_fileno(s), -ENOTSUP);
    mux_backend_free(e);
    CHECK(!fd_is_open(fd));
    mux_backend_free(p);
    mux_backend_free(s);
}

static void adopt_epoll_takes_ownership_of_the_fd(void)
{
    int err = 0, epfd = epoll_create1(EPOLL_CLOEXEC), p[2];
    mux_backend_t *b;

    REQUIRE(epfd >= 0);
    CHECK(mux_backend_adopt_epoll(-1, &err) == NULL);
    CHECK_EQ(err, -EBADF);
    CHECK(mux_backend_adopt_epoll(-1, NULL) == NULL);
    b = mux_backend_adopt_epoll(epfd, &err);
    REQUIRE(b != NULL);
    CHECK_EQ(mux_backend_fileno(b), epfd);
    make_pipe(p);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[1], EPOLLOUT), 0);
    CHECK_EQ(mux_backend_wait(b, 0), 1);
    mux_backend_free(b);
    CHECK(!fd_is_open(epfd));
    close(p[0]);
    close(p[1]);
}

static void adopt_is_enotsup_for_poll_and_select_and_leaves_the_fd_alone(void)
{
    int err = 0, p[2], k;

    make_pipe(p);
    for (k = 1; k < 3; k++) {
        err = 0;
        CHECK(mux__backend_adopt(all_backends[k], p[0], &err) == NULL);
        CHECK_EQ(err, -ENOTSUP);
        CHECK(mux__backend_adopt(all_backends[k], p[0], NULL) == NULL);
    }
    CHECK(fd_is_open(p[0]));   /* refused, so not taken over */
    err = 0;
    CHECK(mux__backend_adopt(0, p[0], &err) == NULL);
    CHECK_EQ(err, -EINVAL);
    err = 0;
    CHECK(mux__backend_adopt(99, p[0], &err) == NULL);
    CHECK_EQ(err, -EINVAL);
    close(p[0]);
    close(p[1]);
}

static void epoll_edge_triggered_reports_once_until_new_data(void)
{
    mux_backend_t *b = new_backend(MUX_BACKEND_EPOLL);
    int p[2];

    REQUIRE(b != NULL);
    make_pipe(p);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[0], EPOLLIN | EPOLLET), 0);
    CHECK_EQ(write(p[1], "ab", 2), 2);
    CHECK_EQ(mux_backend_wait(b, 1000000), 1);
    CHECK_EQ(mux_backend_wait(b, 0), 0);   /* not drained, but no new edge */
    CHECK_EQ(write(p[1], "c", 1), 1);
    CHECK_EQ(mux_backend_wait(b, 1000000), 1);
    mux_backend_free(b);
    close(p[0]);
    close(p[1]);
}

static void timeout_ms_rounds_up_so_a_wait_is_never_early_nor_busy(void)
{
    CHECK_EQ(mux__timeout_ms(-1), -1);
    CHECK_EQ(mux__timeout_ms(INT64_MIN), -1);
    CHECK_EQ(mux__timeout_ms(0), 0);
    CHECK_EQ(mux__timeout_ms(1), 1);
    CHECK_EQ(mux__timeout_ms(300), 1);
    CHECK_EQ(mux__timeout_ms(1000), 1);
    CHECK_EQ(mux__timeout_ms(1001), 2);
    CHECK_EQ(mux__timeout_ms((int64_t)INT_MAX * 1000), INT_MAX);
    CHECK_EQ(mux__timeout_ms(INT64_MAX), INT_MAX);
}

static void timeout_ts_keeps_every_microsecond(void)
{
    struct timespec ts;

    CHECK(mux__timeout_ts(-1, &ts) == NULL);
    CHECK(mux__timeout_ts(INT64_MIN, &ts) == NULL);
    REQUIRE(mux__timeout_ts(0, &ts) == &ts);
    CHECK_EQ(ts.tv_sec, 0);
    CHECK_EQ(ts.tv_nsec, 0);
    mux__timeout_ts(1, &ts);
    CHECK_EQ(ts.tv_sec, 0);
    CHECK_EQ(ts.tv_nsec, 1000);
    mux__timeout_ts(300, &ts);
    CHECK_EQ(ts.tv_nsec, 300000);
    mux__timeout_ts(2999999, &ts);
    CHECK_EQ(ts.tv_sec, 2);
    CHECK_EQ(ts.tv_nsec, 999999000);
    /* Past 68 years: clamped, so a 32-bit time_t cannot overflow. */
    mux__timeout_ts(INT64_MAX, &ts);
    CHECK_EQ(ts.tv_sec, INT_MAX);
    CHECK_EQ(ts.tv_nsec, 0);
}

/* Sub-millisecond and odd timeouts, on every backend: the wait never
 * returns before its timeout (how much later is for bench/bench_aio.py). */
static void short_timeouts_never_return_early(void)
{
    static const int64_t timeouts_us[] = {1, 137, 300, 999, 1000, 1001, 1500};
    size_t i;
    int k;

    for (k = 0; k < 3; k++) {
        mux_backend_t *b = new_backend(all_backends[k]);

        REQUIRE(b != NULL);
        for (i = 0; i < sizeof(timeouts_us) / sizeof(timeouts_us[0]); i++) {
            int64_t t0 = now_us();

            CHECK_EQ(mux_backend_wait(b, timeouts_us[i]), 0);
            CHECK(now_us() - t0 >= timeouts_us[i]);
            say_on_failure("backend %s, timeout %lld us", kind_name(all_backends[k]),
                           (long long)timeouts_us[i]);
        }
        mux_backend_free(b);
    }
}

/* A kernel without epoll_pwait2 (or a seccomp filter that refuses it):
 * this forked test installs a filter that makes it fail with ENOSYS, and
 * the epoll backend falls back to epoll_wait rounded up to the ms. */
static int refuse_epoll_pwait2(void)
{
#ifdef SYS_epoll_pwait2
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_epoll_pwait2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0
        || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        return -errno;
#endif
    return 0;
}

static void epoll_without_pwait2_rounds_up_to_the_millisecond_never_early(void)
{
    mux_backend_t *b;
    int k;

    REQUIRE(refuse_epoll_pwait2() == 0);
    b = new_backend(MUX_BACKEND_EPOLL);
    REQUIRE(b != NULL);
    for (k = 0; k < 3; k++) {   /* the first wait finds out, the others remember */
        int64_t t0 = now_us();

        CHECK_EQ(mux_backend_wait(b, 300), 0);
        CHECK(now_us() - t0 >= 1000);   /* rounded up to 1 ms, not down */
    }
    mux_backend_free(b);
}

static void select_once_reports_the_indices_of_ready_entries(void)
{
    int p[2], q[2], ready[8], fds[5], n;

    make_pipe(p);
    make_pipe(q);
    CHECK_EQ(write(p[1], "x", 1), 1);
    /* read: p[0] (ready), q[0] (not), p[0] again; write: q[1]; except: p[0] */
    fds[0] = p[0];
    fds[1] = q[0];
    fds[2] = p[0];
    fds[3] = q[1];
    fds[4] = p[0];
    memset(ready, -1, sizeof(ready));
    n = mux_select_once(fds, 3, 1, 1, ready, 1000000);
    CHECK_EQ(n, 3);
    CHECK_EQ(ready[0], 0);
    CHECK_EQ(ready[1], 2);
    CHECK_EQ(ready[2], 3);
    CHECK_EQ(ready[3], -1);   /* nothing written past the count */
    /* Nothing ready: timeout 0 returns 0. */
    CHECK_EQ(mux_select_once(fds + 1, 1, 0, 0, ready, 0), 0);
    /* No fds at all is a plain (short) sleep. */
    CHECK_EQ(mux_select_once(NULL, 0, 0, 0, NULL, 1000), 0);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

static void select_once_refuses_bad_counts_and_out_of_range_fds(void)
{
    int p[2], ready[4], fds[4];

    make_pipe(p);
    fds[0] = p[0];
    CHECK_EQ(mux_select_once(fds, -1, 0, 0, ready, 0), -EINVAL);
    CHECK_EQ(mux_select_once(fds, 0, -1, 0, ready, 0), -EINVAL);
    CHECK_EQ(mux_select_once(fds, 0, 0, INT_MIN, ready, 0), -EINVAL);
    CHECK_EQ(mux_select_once(fds, INT_MAX, 0, 0, ready, 0), -EINVAL);
    CHECK_EQ(mux_select_once(fds, INT_MAX, INT_MAX, INT_MAX, ready, 0), -EINVAL);
    CHECK_EQ(mux_select_once(NULL, 1, 0, 0, ready, 0), -EINVAL);
    CHECK_EQ(mux_select_once(fds, 1, 0, 0, NULL, 0), -EINVAL);
    /* fds out of [0, FD_SETSIZE) in any of the three sets */
    fds[1] = FD_SETSIZE;
    CHECK_EQ(mux_select_once(fds, 2, 0, 0, ready, 0), -EINVAL);
    fds[1] = 1500;
    CHECK_EQ(mux_select_once(fds, 1, 1, 0, ready, 0), -EINVAL);
    fds[1] = -1;
    CHECK_EQ(mux_select_once(fds, 1, 0, 1, ready, 0), -EINVAL);
    fds[1] = INT_MAX;
    CHECK_EQ(mux_select_once(fds, 0, 2, 0, ready, 0), -EINVAL);
    fds[1] = INT_MIN;
    CHECK_EQ(mux_select_once(fds, 0, 0, 2, ready, 0), -EINVAL);
    close(p[0]);
    close(p[1]);
}

const test_t backend_tests[] = {
    TEST(backend_new_refuses_unknown_kinds),
    TEST(every_backend_reports_pipe_readiness_and_follows_add_mod_del),
    TEST(every_backend_returns_eexist_for_a_second_add_and_enoent_for_unknown_fds),
    TEST(epoll_add_of_a_closed_fd_is_ebadf_and_of_a_regular_file_is_eperm),
    TEST(every_backend_refuses_negative_fds_and_unknown_ops),
    TEST(null_backend_is_refused_by_every_function),
    TEST(select_backend_refuses_fds_at_or_above_fd_setsize_with_einval),
    TEST(poll_backend_refuses_fds_at_or_above_mux_max_fd),
    TEST(poll_and_select_refuse_epoll_only_flags),
    TEST(set_batch_refuses_nonpositive_sizes_and_clamps_large_ones),
    TEST(wait_reports_at_most_one_batch_and_epoll_reports_the_rest_next),
    TEST(closed_backend_refuses_everything_with_ebadf),
    TEST(epoll_fd_is_close_on_exec_and_poll_select_have_no_fileno),
    TEST(adopt_epoll_takes_ownership_of_the_fd),
    TEST(adopt_is_enotsup_for_poll_and_select_and_leaves_the_fd_alone),
    TEST(epoll_edge_triggered_reports_once_until_new_data),
    TEST(timeout_ms_rounds_up_so_a_wait_is_never_early_nor_busy),
    TEST(timeout_ts_keeps_every_microsecond),
    TEST(short_timeouts_never_return_early),
    TEST(epoll_without_pwait2_rounds_up_to_the_millisecond_never_early),
    TEST(select_once_reports_the_indices_of_ready_entries),
    TEST(select_once_refuses_bad_counts_and_out_of_range_fds),
    {NULL, NULL},
};
