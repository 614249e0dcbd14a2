/* test_selector.c - the C half of pymux.selectors (mux_selector.h) and the
 * backend's second-thread wait (mux_backend_wait_into).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

#include "check.h"
#include "mux_selector.h"

#define CODE(fd, ev) ((fd) * 4 + (ev))

static void null_selector_and_bad_flags_are_refused(void)
{
    int err = 0;

    CHECK(mux_selector_new(MUX_BACKEND_POLL, MUX_SEL_EDGE, &err) == NULL);
    CHECK_EQ(err, -EINVAL);
    CHECK(mux_selector_new(MUX_BACKEND_SELECT, MUX_SEL_EDGE, NULL) == NULL);
    CHECK(mux_selector_new(MUX_BACKEND_EPOLL, 4, &err) == NULL);
    CHECK(mux_selector_new(0, 0, &err) == NULL);
    CHECK_EQ(err, -EINVAL);
    CHECK_EQ(mux_selector_register(NULL, CODE(0, 1)), -EINVAL);
    CHECK_EQ(mux_selector_modify(NULL, CODE(0, 1)), -EINVAL);
    CHECK_EQ(mux_selector_unregister(NULL, 0), -EINVAL);
    CHECK_EQ(mux_selector_wait(NULL, 0), -EINVAL);
    CHECK_EQ(mux_selector_poll(NULL), -EINVAL);
    CHECK_EQ(mux_selector_close(NULL, 1), -EINVAL);
    CHECK_EQ(mux_selector_fileno(NULL), -EINVAL);
    CHECK(mux_selector_codes(NULL) == NULL);
    mux_selector_free(NULL);
}

static void selector_reports_one_code_per_ready_fd_masked_by_interest(void)
{
    int k;

    for (k = 0; k < 3; k++) {
        int err = 0, p[2], n;
        mux_selector_t *s = mux_selector_new(all_backends[k], 0, &err);

        REQUIRE(s != NULL);
        make_pipe(p);
        CHECK_EQ(mux_selector_register(s, CODE(p[0], MUX_READ)), 0);
        CHECK_EQ(mux_selector_register(s, CODE(p[0], MUX_READ)), -EEXIST);
        CHECK_EQ(mux_selector_register(s, CODE(p[1], MUX_WRITE)), 0);
        n = mux_selector_poll(s);
        CHECK_EQ(n, 1);
        if (n == 1)
            CHECK_EQ(mux_selector_codes(s)[0], CODE(p[1], MUX_WRITE));
        CHECK_EQ(write(p[1], "x", 1), 1);
        CHECK_EQ(mux_selector_wait(s, 1000000), 2);
        /* Interest 0 on the write end: registered, never reported. */
        CHECK_EQ(mux_selector_modify(s, CODE(p[1], 0)), 0);
        n = mux_selector_wait(s, 0);
        CHECK_EQ(n, 1);
        if (n == 1)
            CHECK_EQ(mux_selector_codes(s)[0], CODE(p[0], MUX_READ));
        CHECK_EQ(mux_selector_unregister(s, p[0]), 0);
        CHECK_EQ(mux_selector_unregister(s, p[0]), -ENOENT);
        CHECK_EQ(mux_selector_modify(s, CODE(p[0], 1)), -ENOENT);
        CHECK_EQ(mux_selector_wait(s, 0), 0);
        say_on_failure("backend %s", kind_name(all_backends[k]));
        mux_selector_free(s);   /* with p[1] still registered */
        close(p[0]);
        close(p[1]);
    }
}

static void selector_refuses_out_of_range_codes_and_select_fds_above_fd_setsize(void)
{
    int err = 0, high;
    mux_selector_t *s = mux_selector_new(MUX_BACKEND_SELECT, 0, &err);

    REQUIRE(s != NULL);
    CHECK_EQ(mux_selector_register(s, -1), -EBADF);
    CHECK_EQ(mux_selector_register(s, INT_MIN), -EBADF);
    CHECK_EQ(mux_selector_register(s, INT_MAX), -EBADF);
    CHECK_EQ(mux_selector_register(s, CODE(MUX_MAX_FD, 1)), -EBADF);
    CHECK_EQ(mux_selector_modify(s, -4), -EBADF);
    CHECK_EQ(mux_selector_unregister(s, -1), -ENOENT);
    CHECK_EQ(mux_selector_unregister(s, INT_MAX), -ENOENT);
    high = dup_high(0);
    REQUIRE(high >= FD_SETSIZE);
    CHECK_EQ(mux_selector_register(s, CODE(high, MUX_READ)), -EINVAL);
    CHECK_EQ(mux_selector_unregister(s, high), -ENOENT);   /* nothing left behind */
    CHECK_EQ(mux_selector_wait(s, 0), 0);
    close(high);
    mux_selector_free(s);
}

static void selector_modify_of_a_closed_fd_fails_and_drops_the_registration(void)
{
    int k;

    for (k = 0; k < 3; k += 2) {   /* epoll and select; poll cannot tell */
        int err = 0, p[2], rc;
        mux_selector_t *s = mux_selector_new(all_backends[k], 0, &err);

        REQUIRE(s != NULL);
        make_pipe(p);
        CHECK_EQ(mux_selector_register(s, CODE(p[0], MUX_READ)), 0);
        close(p[0]);
        rc = mux_selector_modify(s, CODE(p[0], MUX_WRITE));
        if (all_backends[k] == MUX_BACKEND_EPOLL)
            CHECK(rc < 0);
        if (rc < 0)
            CHECK_EQ(mux_selector_unregister(s, p[0]), -ENOENT);
        else
            mux_selector_unregister(s, p[0]);
        close(p[1]);
        mux_selector_free(s);
    }
}

static void selector_close_forgets_everything_and_release_makes_it_ebadf(void)
{
    int err = 0, p[2];
    mux_selector_t *s = mux_selector_new(MUX_BACKEND_EPOLL, MUX_SEL_EDGE, &err);

    REQUIRE(s != NULL);
    make_pipe(p);
    CHECK(mux_selector_fileno(s) >= 0);
    CHECK_EQ(mux_selector_register(s, CODE(p[0], MUX_READ)), 0);
    CHECK_EQ(mux_selector_register(s, CODE(p[1], MUX_WRITE)), 0);
    CHECK_EQ(mux_selector_close(s, 0), 0);
    CHECK_EQ(mux_selector_wait(s, 0), 0);
    CHECK_EQ(mux_selector_register(s, CODE(p[0], MUX_READ)), 0);   /* again */
    CHECK_EQ(mux_selector_close(s, 1), 0);
    CHECK_EQ(mux_selector_fileno(s), -EBADF);
    CHECK_EQ(mux_selector_register(s, CODE(p[1], MUX_WRITE)), -EBADF);
    CHECK_EQ(mux_selector_wait(s, 0), -EBADF);
    mux_selector_free(s);
    close(p[0]);
    close(p[1]);
}

/* --- mux_backend_wait_into -------------------------------------------------- */

struct blocked_wait {
    mux_backend_t *b;
    int rc;
};

static void *wait_long(void *arg)
{
    struct blocked_wait *w = arg;

    w->rc = mux_backend_wait(w->b, 5000000);
    return NULL;
}

static void second_thread_waits_into_its_own_arrays_while_the_first_owns_the_backend(void)
{
    int err = 0, p[2], fds[4], n, i;
    uint32_t ev[4];
    mux_backend_t *b = mux_backend_new(MUX_BACKEND_EPOLL, &err);
    struct blocked_wait w;
    pthread_t th;

    REQUIRE(b != NULL);
    make_pipe(p);
    CHECK_EQ(mux_backend_ctl(b, MUX_CTL_ADD, p[0], EPOLLIN), 0);
    w.b = b;
    w.rc = -1000;
    REQUIRE(pthread_create(&th, NULL, wait_long, &w) == 0);
    /* Until the thread is inside its wait, ours may still win: retry. */
    for (i = 0; i < 200; i++) {
        n = mux_backend_wait(b, 0);
        if (n == -EBUSY)
            break;
        usleep(1000);
    }
    CHECK_EQ(n, -EBUSY);
    CHECK_EQ(mux_backend_wait_into(b, fds, ev, 4, 0), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);   /* wakes both waiters */
    n = mux_backend_wait_into(b, fds, ev, 4, 1000000);
    CHECK_EQ(n, 1);
    if (n == 1)
        CHECK_EQ(fds[0], p[0]);
    pthread_join(th, NULL);
    CHECK_EQ(w.rc, 1);
    mux_backend_free(b);
    close(p[0]);
    close(p[1]);
}

static void wait_into_refuses_bad_arguments_and_poll_select_backends(void)
{
    int err = 0, fds[4], k;
    uint32_t ev[4];

    CHECK_EQ(mux_backend_wait_into(NULL, fds, ev, 4, 0), -EINVAL);
    for (k = 0; k < 3; k++) {
        mux_backend_t *b = mux_backend_new(all_backends[k], &err);

        REQUIRE(b != NULL);
        CHECK_EQ(mux_backend_wait_into(b, NULL, ev, 4, 0), -EINVAL);
        CHECK_EQ(mux_backend_wait_into(b, fds, NULL, 4, 0), -EINVAL);
        CHECK_EQ(mux_backend_wait_into(b, fds, ev, 0, 0), -EINVAL);
        CHECK_EQ(mux_backend_wait_into(b, fds, ev, INT_MIN, 0), -EINVAL);
        if (all_backends[k] == MUX_BACKEND_EPOLL)
            CHECK_EQ(mux_backend_wait_into(b, fds, ev, 4, 0), 0);
        else
            CHECK_EQ(mux_backend_wait_into(b, fds, ev, 4, 0), -EBUSY);
        mux_backend_close(b);
        CHECK_EQ(mux_backend_wait_into(b, fds, ev, 4, 0), -EBADF);
        mux_backend_free(b);
    }
}

const test_t selector_tests[] = {
    TEST(null_selector_and_bad_flags_are_refused),
    TEST(selector_reports_one_code_per_ready_fd_masked_by_interest),
    TEST(selector_refuses_out_of_range_codes_and_select_fds_above_fd_setsize),
    TEST(selector_modify_of_a_closed_fd_fails_and_drops_the_registration),
    TEST(selector_close_forgets_everything_and_release_makes_it_ebadf),
    TEST(second_thread_waits_into_its_own_arrays_while_the_first_owns_the_backend),
    TEST(wait_into_refuses_bad_arguments_and_poll_select_backends),
    {NULL, NULL},
};
