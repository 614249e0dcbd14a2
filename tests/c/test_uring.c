/* test_uring.c - the io_uring ring (mux_uring.h): setup, each operation over
 * pipes and loopback TCP, a full SQ, CQ overflow, bad input, close with
 * operations in flight, fork; and io_uring_register: the probe, fixed
 * buffers, fixed files, the eventfd.
 *
 * The kernel writes into the mapped rings and into recv buffers behind the
 * tools' backs. The rings are mmapped memory, which valgrind and ASan take
 * as defined and addressable, so they see nothing to report. Buffers a
 * recv fills are zeroed first: valgrind does not see the kernel's write
 * and would otherwise call the received bytes uninitialised.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "mux_common.h"
#include "mux_uring.h"

typedef struct {
    int64_t user_data, res, flags;
} cqe_t;

/* A ring, or NULL after saying why the kernel refused it (the test then
 * passes: the machine, not the code, lacks io_uring). */
static mux_uring_t *new_ring(int entries)
{
    int err = 0;
    unsigned missing = 0;
    mux_uring_t *r = mux_uring_new(entries, &err, &missing);

    if (r == NULL && (err == -ENOSYS || err == -EPERM || err == -EOPNOTSUPP))
        fprintf(stderr, "    skipped: io_uring refused by this kernel (%s, missing 0x%x)\n",
                strerror(-err), missing);
    else if (r == NULL)
        fprintf(stderr, "    mux_uring_new(%d) failed: %d\n", entries, err), t_failures++;
    return r;
}

/* mux_uring_wait with the completions copied into out[0 .. max). */
static int wait_into(mux_uring_t *r, int min_complete, int64_t timeout_us, cqe_t *out, int max)
{
    int n = mux_uring_wait(r, min_complete, timeout_us), i;
    const int64_t *c = mux_uring_completions(r);

    memset(out, 0, (size_t)max * sizeof(*out));
    for (i = 0; i < n && i < max; i++) {
        out[i].user_data = c[i * MUX_URING_CQE_INTS];
        out[i].res = c[i * MUX_URING_CQE_INTS + 1];
        out[i].flags = c[i * MUX_URING_CQE_INTS + 2];
    }
    return n;
}

/* Completions harvested while waiting for another one (each test runs in
 * its own process). */
static cqe_t stash[256];
static int nstash;

static int take_stashed(int64_t user_data, cqe_t *out)
{
    int i;

    for (i = 0; i < nstash; i++) {
        if (stash[i].user_data == user_data) {
            *out = stash[i];
            stash[i] = stash[--nstash];
            return 1;
        }
    }
    return 0;
}

/* Waits (up to 5 s in all) until the completion with user_data arrives;
 * the others harvested meanwhile are kept for later calls. */
static cqe_t wait_for(mux_uring_t *r, int64_t user_data)
{
    cqe_t got[64], found = {-1, 0, 0};
    int64_t deadline = now_us() + 5000000;
    int n, i;

    while (!take_stashed(user_data, &found) && now_us() < deadline) {
        n = wait_into(r, 1, 100000, got, 64);
        for (i = 0; i < n && i < 64 && nstash < 256; i++)
            stash[nstash++] = got[i];
    }
    if (found.user_data != user_data) {
        fprintf(stderr, "    no completion for user_data %lld\n", (long long)user_data);
        t_failures++;
    }
    return found;
}

static void uring_new_refuses_entries_out_of_range(void)
{
    int err = 0;

    CHECK(mux_uring_new(0, &err, NULL) == NULL);
    CHECK_EQ(err, -EINVAL);
    CHECK(mux_uring_new(-1, &err, NULL) == NULL);
    CHECK(mux_uring_new(MUX_URING_MAX_ENTRIES + 1, NULL, NULL) == NULL);
}

static void uring_nop_round_trip_reports_user_data_and_probe_knows_the_ops(void)
{
    mux_uring_t *r = new_ring(8);
    cqe_t c[4];

    if (r == NULL)
        return;
    CHECK_EQ(mux_uring_sq_entries(r), 8);
    CHECK_EQ(mux_uring_cq_entries(r), 16);
    CHECK(mux_uring_fileno(r) >= 0);
    CHECK_EQ(mux_uring_supports(r, MUX_URING_OP_NOP), 1);
    CHECK_EQ(mux_uring_supports(r, MUX_URING_OP_RECV), 1);
    CHECK_EQ(mux_uring_supports(r, -1), 0);
    CHECK_EQ(mux_uring_supports(r, 256), 0);
    CHECK_EQ(mux_uring_wait(r, 0, 0), 0);                 /* nothing yet */
    CHECK_EQ(mux_uring_prep_nop(r, 42), 0);
    CHECK_EQ(mux_uring_prep_nop(r, INT64_MAX), 0);
    CHECK_EQ(wait_into(r, 2, 1000000, c, 4), 2);
    CHECK_EQ(c[0].user_data, 42);
    CHECK_EQ(c[0].res, 0);
    CHECK_EQ(c[0].flags, 0);
    CHECK_EQ(c[1].user_data, INT64_MAX);
    CHECK_EQ(mux_uring_wait(r, 0, 0), 0);                 /* harvested once only */
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
}

static void uring_accepts_receives_and_sends_over_loopback(void)
{
    mux_uring_t *r = new_ring(8);
    int port, lfd, client, conn;
    char buf[64];
    cqe_t c;

    if (r == NULL)
        return;
    lfd = tcp_listener(&port);
    CHECK_EQ(mux_uring_prep_accept(r, lfd, SOCK_NONBLOCK, 0, 1), 0);
    CHECK_EQ(mux_uring_submit(r), 1);
    client = tcp_connect(port);
    c = wait_for(r, 1);
    conn = (int)c.res;
    REQUIRE(conn >= 0);
    CHECK_EQ(c.flags & MUX_URING_CQE_F_MORE, 0);

    memset(buf, 0, sizeof(buf));   /* see the top of this file */
    CHECK_EQ(mux_uring_prep_recv(r, conn, buf, sizeof(buf), 0, 2), 0);
    CHECK_EQ(mux_uring_submit(r), 1);
    CHECK_EQ(mux_uring_wait(r, 0, 0), 0);                 /* nothing sent yet */
    CHECK_EQ(send(client, "hello", 5, 0), 5);
    c = wait_for(r, 2);
    CHECK_EQ(c.res, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);

    CHECK_EQ(mux_uring_prep_send(r, conn, "world!", 6, 0, 3), 0);
    c = wait_for(r, 3);
    CHECK_EQ(c.res, 6);
    usleep(10000);
    memset(buf, 0, sizeof(buf));
    CHECK_EQ(drain_fd(client, buf, sizeof(buf), NULL, NULL), 6);
    CHECK(memcmp(buf, "world!", 6) == 0);

    close(client);                                         /* recv then sees EOF */
    CHECK_EQ(mux_uring_prep_recv(r, conn, buf, sizeof(buf), 0, 4), 0);
    c = wait_for(r, 4);
    CHECK_EQ(c.res, 0);
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
    close(conn);
    close(lfd);
}

static void uring_multishot_accept_reports_each_connection_until_cancelled(void)
{
    mux_uring_t *r = new_ring(8);
    int port, lfd, clients[3], i;
    cqe_t c;

    if (r == NULL)
        return;
    lfd = tcp_listener(&port);
    CHECK_EQ(mux_uring_prep_accept(r, lfd, 0, 1, 7), 0);
    CHECK_EQ(mux_uring_submit(r), 1);
    for (i = 0; i < 3; i++) {
        clients[i] = tcp_connect(port);
        c = wait_for(r, 7);
        CHECK(c.res >= 0);
        CHECK(c.flags & MUX_URING_CQE_F_MORE);
        if (c.res >= 0)
            close((int)c.res);
    }
    CHECK_EQ(mux_uring_prep_cancel(r, 7, 8), 0);
    c = wait_for(r, 7);                                   /* the final one */
    CHECK_EQ(c.res, -ECANCELED);
    CHECK_EQ(c.flags & MUX_URING_CQE_F_MORE, 0);
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
    for (i = 0; i < 3; i++)
        close(clients[i]);
    close(lfd);
}

static void uring_poll_reports_readiness_once_or_each_time_with_multishot(void)
{
    mux_uring_t *r = new_ring(8);
    int p[2];
    char junk[8];
    cqe_t c[4];

    if (r == NULL)
        return;
    make_pipe(p);
    CHECK_EQ(mux_uring_prep_poll(r, p[0], POLLIN, 0, 5), 0);
    CHECK_EQ(mux_uring_wait(r, 1, 20000), 0);             /* timed out: not readable */
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(wait_into(r, 1, 1000000, c, 4), 1);
    CHECK_EQ(c[0].user_data, 5);
    CHECK(c[0].res & POLLIN);
    CHECK_EQ(c[0].flags & MUX_URING_CQE_F_MORE, 0);

    CHECK_EQ(read(p[0], junk, sizeof(junk)), 1);
    CHECK_EQ(mux_uring_prep_poll(r, p[0], POLLIN, 1, 6), 0);
    CHECK_EQ(mux_uring_wait(r, 1, 20000), 0);
    CHECK_EQ(write(p[1], "y", 1), 1);
    CHECK_EQ(wait_into(r, 1, 1000000, c, 4), 1);
    CHECK(c[0].flags & MUX_URING_CQE_F_MORE);
    CHECK_EQ(read(p[0], junk, sizeof(junk)), 1);
    CHECK_EQ(write(p[1], "z", 1), 1);                     /* ready again: reported again */
    CHECK_EQ(wait_into(r, 1, 1000000, c, 4), 1);
    CHECK_EQ(c[0].user_data, 6);
    CHECK(c[0].flags & MUX_URING_CQE_F_MORE);
    CHECK_EQ(mux_uring_close(r), 0);                      /* cancels the multishot poll */
    mux_uring_free(r);
    close(p[0]);
    close(p[1]);
}

static void uring_timeout_expires_or_completes_after_count_operations(void)
{
    mux_uring_t *r = new_ring(8);
    int64_t started;
    cqe_t c;

    if (r == NULL)
        return;
    started = now_us();
    CHECK_EQ(mux_uring_prep_timeout(r, 20000000, 0, 9), 0);   /* 20 ms */
    c = wait_for(r, 9);
    CHECK_EQ(c.res, -ETIME);
    CHECK(now_us() - started >= 20000);

    CHECK_EQ(mux_uring_prep_timeout(r, 10000000000LL, 1, 10), 0);  /* 10 s or 1 op */
    CHECK_EQ(mux_uring_prep_nop(r, 11), 0);
    started = now_us();
    c = wait_for(r, 10);
    CHECK_EQ(c.res, 0);
    CHECK(now_us() - started < 5000000);
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* io_uring_enter returns the count of SQEs it took even when its wait then
 * timed out or was interrupted: the ring must tell the two apart. */
static void uring_wait_that_also_submits_reports_its_timeout_and_its_signal(void)
{
    mux_uring_t *r = new_ring(8);
    struct sigaction sa, old;
    struct itimerval tv;
    int a, b;
    char buf[8];
    int64_t started;

    if (r == NULL)
        return;
    tcp_pair(&a, &b);
    CHECK_EQ(mux_uring_prep_recv(r, a, buf, sizeof(buf), 0, 1), 0);
    started = now_us();
    CHECK_EQ(mux_uring_wait(r, 1, 20000), 0);              /* timed out */
    CHECK(now_us() - started >= 20000);

    /* valgrind restarts an io_uring_enter a signal interrupted (seen with
     * 3.19: the wait ran its full timeout), so the signal half runs in the
     * sanitizer pass only. */
    if (under_valgrind())
        goto done;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;                              /* no SA_RESTART */
    sigaction(SIGALRM, &sa, &old);
    memset(&tv, 0, sizeof(tv));
    tv.it_value.tv_usec = 20000;
    CHECK_EQ(mux_uring_prep_recv(r, b, buf, sizeof(buf), 0, 2), 0);
    setitimer(ITIMER_REAL, &tv, NULL);
    started = now_us();
    CHECK_EQ(mux_uring_wait(r, 1, 5000000), -EINTR);       /* the signal, not the 5 s */
    CHECK(now_us() - started < 4000000);
    sigaction(SIGALRM, &old, NULL);
done:
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
    close(a);
    close(b);
}

static void uring_cancel_ends_a_pending_recv_and_reports_unknown_targets(void)
{
    mux_uring_t *r = new_ring(8);
    int a, b;
    char buf[16];
    cqe_t c;

    if (r == NULL)
        return;
    tcp_pair(&a, &b);
    CHECK_EQ(mux_uring_prep_recv(r, a, buf, sizeof(buf), 0, 1), 0);
    CHECK_EQ(mux_uring_submit(r), 1);
    CHECK_EQ(mux_uring_prep_cancel(r, 1, 2), 0);
    c = wait_for(r, 1);
    CHECK_EQ(c.res, -ECANCELED);
    c = wait_for(r, 2);
    CHECK_EQ(c.res, 0);
    CHECK_EQ(mux_uring_prep_cancel(r, 12345, 3), 0);
    c = wait_for(r, 3);
    CHECK_EQ(c.res, -ENOENT);
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
    close(a);
    close(b);
}

static void uring_full_sq_gives_ebusy_until_submitted(void)
{
    mux_uring_t *r = new_ring(4);
    cqe_t c[8];
    int i;

    if (r == NULL)
        return;
    for (i = 0; i < 4; i++)
        CHECK_EQ(mux_uring_prep_nop(r, i), 0);
    CHECK_EQ(mux_uring_prep_nop(r, 4), -EBUSY);
    CHECK_EQ(mux_uring_submit(r), 4);
    CHECK_EQ(mux_uring_prep_nop(r, 4), 0);
    CHECK_EQ(wait_into(r, 5, 1000000, c, 8), 5);
    for (i = 0; i < 5; i++)
        CHECK_EQ(c[i].user_data, i);
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
}

static void uring_keeps_completions_beyond_a_full_cq(void)
{
    mux_uring_t *r = new_ring(4);     /* CQ: 8 */
    cqe_t c[8];
    int round, i, seen = 0;

    if (r == NULL)
        return;
    for (round = 0; round < 3; round++) {
        for (i = 0; i < 4; i++)
            CHECK_EQ(mux_uring_prep_nop(r, round * 4 + i), 0);
        CHECK_EQ(mux_uring_submit(r), 4);
    }
    while (seen < 12) {
        int n = wait_into(r, 1, 1000000, c, 8);

        REQUIRE(n > 0);
        CHECK(n <= 8);
        for (i = 0; i < n; i++)
            CHECK_EQ(c[i].user_data, seen + i);
        seen += n;
    }
    CHECK_EQ(mux_uring_wait(r, 0, 0), 0);
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
}

static void uring_refuses_bad_arguments(void)
{
    mux_uring_t *r = new_ring(4);
    char buf[8];
    int fd;
    cqe_t c;

    if (r == NULL)
        return;
    CHECK_EQ(mux_uring_prep_recv(r, -1, buf, 8, 0, 1), -EBADF);
    CHECK_EQ(mux_uring_prep_recv(r, MUX_MAX_FD, buf, 8, 0, 1), -EBADF);
    CHECK_EQ(mux_uring_prep_recv(r, 0, buf, -1, 0, 1), -EINVAL);
    CHECK_EQ(mux_uring_prep_send(r, 0, buf, (int64_t)MUX_URING_MAX_IO + 1, 0, 1), -EINVAL);
    CHECK_EQ(mux_uring_prep_send(r, 0, NULL, 8, 0, 1), -EFAULT);
    CHECK_EQ(mux_uring_prep_nop(r, -1), -EINVAL);
    CHECK_EQ(mux_uring_prep_accept(r, 0, 12345, 0, 1), -EINVAL);
    CHECK_EQ(mux_uring_prep_accept(r, -5, 0, 0, 1), -EBADF);
    CHECK_EQ(mux_uring_prep_poll(r, 0, 0x10000, 0, 1), -EINVAL);
    CHECK_EQ(mux_uring_prep_timeout(r, -1, 0, 1), -EINVAL);
    CHECK_EQ(mux_uring_prep_timeout(r, 1, -1, 1), -EINVAL);
    CHECK_EQ(mux_uring_prep_cancel(r, -2, 1), -EINVAL);
    CHECK_EQ(mux_uring_wait(r, -1, 0), -EINVAL);
    CHECK_EQ(mux_uring_wait(r, mux_uring_cq_entries(r) + 1, 0), -EINVAL);
    CHECK_EQ(mux_uring_wait(r, 0, 0), 0);                 /* none of those took a slot */
    CHECK_EQ(mux_uring_prep_nop(NULL, 1), -EINVAL);
    CHECK_EQ(mux_uring_wait(NULL, 0, 0), -EINVAL);
    CHECK_EQ(mux_uring_close(NULL), -EINVAL);
    mux_uring_free(NULL);

    /* An fd in range that is not open fails in its completion. */
    fd = lowest_free_fd();
    memset(buf, 0, sizeof(buf));
    CHECK_EQ(mux_uring_prep_recv(r, fd, buf, sizeof(buf), 0, 9), 0);
    c = wait_for(r, 9);
    CHECK_EQ(c.res, -EBADF);
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
}

static void uring_closed_ring_refuses_everything(void)
{
    mux_uring_t *r = new_ring(4);
    char buf[4];

    if (r == NULL)
        return;
    CHECK_EQ(mux_uring_prep_nop(r, 1), 0);                /* dropped: never submitted */
    CHECK_EQ(mux_uring_close(r), 0);
    CHECK_EQ(mux_uring_prep_nop(r, 1), -EBADF);
    CHECK_EQ(mux_uring_prep_recv(r, 0, buf, 4, 0, 1), -EBADF);
    CHECK_EQ(mux_uring_submit(r), -EBADF);
    CHECK_EQ(mux_uring_wait(r, 0, 0), -EBADF);
    CHECK_EQ(mux_uring_fileno(r), -EBADF);
    CHECK_EQ(mux_uring_sq_entries(r), -EBADF);
    CHECK_EQ(mux_uring_close(r), 0);                      /* again: nothing to do */
    mux_uring_free(r);
}

static void uring_close_collects_every_operation_in_flight(void)
{
    mux_uring_t *r = new_ring(8);
    int a, b, port, lfd, p[2];
    int64_t started;
    char buf[32];

    if (r == NULL)
        return;
    tcp_pair(&a, &b);
    lfd = tcp_listener(&port);
    make_pipe(p);
    memset(buf, 0, sizeof(buf));
    CHECK_EQ(mux_uring_prep_recv(r, a, buf, sizeof(buf), 0, 1), 0);
    CHECK_EQ(mux_uring_prep_accept(r, lfd, 0, 1, 2), 0);
    CHECK_EQ(mux_uring_prep_poll(r, p[0], POLLIN, 1, 3), 0);
    CHECK_EQ(mux_uring_prep_timeout(r, 60000000000LL, 0, 4), 0);
    CHECK_EQ(mux_uring_submit(r), 4);
    started = now_us();
    CHECK_EQ(mux_uring_close(r), 0);                      /* all four collected */
    CHECK(now_us() - started < 900000);
    /* The recv is gone: data sent now stays in the socket, not in buf. */
    CHECK_EQ(send(b, "late", 4, 0), 4);
    usleep(20000);
    CHECK_EQ(buf[0], 0);
    CHECK_EQ(drain_fd(a, buf, sizeof(buf), NULL, NULL), 4);
    mux_uring_free(r);
    close(a);
    close(b);
    close(lfd);
    close(p[0]);
    close(p[1]);
}

static void uring_made_before_fork_refuses_use_in_the_child(void)
{
    mux_uring_t *r = new_ring(4);
    pid_t pid;
    int status = -1;
    cqe_t c;

    if (r == NULL)
        return;
    fflush(stderr);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        uint8_t probe[8];
        int bad = 0;

        bad |= mux_uring_prep_nop(r, 1) != -ECHILD;
        bad |= mux_uring_submit(r) != -ECHILD;
        bad |= mux_uring_wait(r, 0, 0) != -ECHILD;
        bad |= mux_uring_fileno(r) != -ECHILD;
        bad |= mux_uring_register(r, MUX_URING_REGISTER_PROBE, probe, 8) != -ECHILD;
        bad |= mux_uring_sqe_set_flags(r, 0) != -ECHILD;
        bad |= mux_uring_close(r) != 0;                   /* the child's copies only */
        mux_uring_free(r);
        _exit(bad ? 1 : 0);   /* _exit: the parent's leak checks are not the child's */
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(mux_uring_prep_nop(r, 5), 0);                /* the parent's ring works on */
    c = wait_for(r, 5);
    CHECK_EQ(c.res, 0);
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
}

static void uring_setup_buffers_refuses_bad_sizes_and_a_second_setup(void)
{
    mux_uring_t *r = new_ring(4);

    if (r == NULL)
        return;
    CHECK(mux_uring_buffer_pool(r) == NULL);
    CHECK_EQ(mux_uring_prep_recv_multishot(r, 0, 1), -EINVAL);   /* no buffers yet */
    CHECK_EQ(mux_uring_setup_buffers(r, 0, 64), -EINVAL);
    CHECK_EQ(mux_uring_setup_buffers(r, 3, 64), -EINVAL);        /* not a power of two */
    CHECK_EQ(mux_uring_setup_buffers(r, MUX_URING_MAX_BUFFERS * 2, 64), -EINVAL);
    CHECK_EQ(mux_uring_setup_buffers(r, 4, 0), -EINVAL);
    CHECK_EQ(mux_uring_setup_buffers(r, 4096, MUX_URING_MAX_IO / 2048), -EINVAL);
    CHECK_EQ(mux_uring_setup_buffers(NULL, 4, 64), -EINVAL);
    CHECK_EQ(mux_uring_setup_buffers(r, 4, 64), 0);
    CHECK(mux_uring_buffer_pool(r) != NULL);
    CHECK_EQ(mux_uring_setup_buffers(r, 4, 64), -EEXIST);
    CHECK_EQ(mux_uring_prep_recv_multishot(r, -1, 1), -EBADF);
    CHECK_EQ(mux_uring_prep_recv_multishot(r, 0, -1), -EINVAL);
    CHECK_EQ(mux_uring_close(r), 0);
    CHECK_EQ(mux_uring_setup_buffers(r, 4, 64), -EBADF);
    mux_uring_free(r);
}

/* The data of a provided-buffer completion: where its flags say. */
static const char *provided(mux_uring_t *r, cqe_t c, int size)
{
    return mux_uring_buffer_pool(r) + (c.flags >> MUX_URING_CQE_BUFFER_SHIFT) * size;
}

static void uring_multishot_recv_fills_provided_buffers_and_gets_them_back(void)
{
    mux_uring_t *r = new_ring(8);
    int a, b, i;
    char msg[16];
    cqe_t c;

    if (r == NULL)
        return;
    tcp_pair(&a, &b);
    CHECK_EQ(mux_uring_setup_buffers(r, 2, 64), 0);
    CHECK_EQ(mux_uring_prep_recv_multishot(r, a, 5), 0);
    CHECK_EQ(mux_uring_submit(r), 1);
    for (i = 0; i < 6; i++) {   /* 6 messages through 2 buffers: each wait gives one back */
        int n = snprintf(msg, sizeof(msg), "message %d", i);

        CHECK_EQ(send(b, msg, (size_t)n, 0), n);
        c = wait_for(r, 5);
        CHECK_EQ(c.res, n);
        CHECK(c.flags & MUX_URING_CQE_F_BUFFER);
        CHECK(c.flags & MUX_URING_CQE_F_MORE);
        CHECK((c.flags >> MUX_URING_CQE_BUFFER_SHIFT) < 2);
        CHECK(c.res == n && memcmp(provided(r, c, 64), msg, (size_t)n) == 0);
    }
    shutdown(b, SHUT_WR);
    c = wait_for(r, 5);
    CHECK_EQ(c.res, 0);                                   /* end of stream ends it */
    CHECK_EQ(c.flags & MUX_URING_CQE_F_MORE, 0);
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
    close(a);
    close(b);
}

static void uring_multishot_recv_ends_with_enobufs_when_every_buffer_is_taken(void)
{
    mux_uring_t *r = new_ring(8);
    int a, b;
    cqe_t c;

    if (r == NULL)
        return;
    tcp_pair(&a, &b);
    CHECK_EQ(mux_uring_setup_buffers(r, 1, 64), 0);
    CHECK_EQ(mux_uring_prep_recv_multishot(r, a, 5), 0);
    CHECK_EQ(mux_uring_submit(r), 1);
    CHECK_EQ(send(b, "one", 3, 0), 3);
    c = wait_for(r, 5);                                   /* the only buffer, lent to us */
    CHECK_EQ(c.res, 3);
    CHECK(c.flags & MUX_URING_CQE_F_MORE);
    CHECK_EQ(send(b, "two", 3, 0), 3);
    usleep(50000);                                        /* the kernel finds no buffer */
    c = wait_for(r, 5);
    CHECK_EQ(c.res, -ENOBUFS);
    CHECK_EQ(c.flags & MUX_URING_CQE_F_MORE, 0);
    CHECK_EQ(mux_uring_prep_recv_multishot(r, a, 5), 0);  /* the buffer is back: again */
    c = wait_for(r, 5);
    CHECK_EQ(c.res, 3);
    CHECK(c.res == 3 && memcmp(provided(r, c, 64), "two", 3) == 0);
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
    close(a);
    close(b);
}


/* --- io_uring_register (mux_uring_register.c) ----------------------------- */

static void uring_register_probe_agrees_with_supports(void)
{
    mux_uring_t *r = new_ring(4);
    uint8_t ops[MUX_URING_MAX_PROBE_OPS];
    int known, op;

    if (r == NULL)
        return;
    memset(ops, 0xff, sizeof(ops));
    known = mux_uring_register(r, MUX_URING_REGISTER_PROBE, ops, MUX_URING_MAX_PROBE_OPS);
    CHECK(known > MUX_URING_OP_RECV);
    for (op = 0; op < MUX_URING_MAX_PROBE_OPS; op++)
        CHECK_EQ(ops[op], mux_uring_supports(r, op));
    CHECK_EQ(ops[MUX_URING_OP_READ_FIXED], 1);
    memset(ops, 0xff, sizeof(ops));                       /* a shorter array: only it */
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_PROBE, ops, 4), known);
    CHECK_EQ(ops[0], 1);
    CHECK_EQ(ops[4], 0xff);
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
}

static void uring_fixed_buffers_are_read_and_written_until_unregistered(void)
{
    mux_uring_t *r = new_ring(8);
    /* malloc, not the stack: the kernel registers anonymous memory only
     * as whole pages, and pins them; zeroed for valgrind (see the top). */
    char *in = calloc(1, 64), *out = calloc(1, 32);
    struct mux_uring_iovec bufs[2] = {{in, 64}, {out, 32}};
    int a, b;
    cqe_t c;

    REQUIRE(in != NULL && out != NULL);
    if (r == NULL)
        goto done;
    tcp_pair(&a, &b);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_BUFFERS, bufs, 2), 0);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_BUFFERS, bufs, 2), -EBUSY);
    memcpy(out, "hello fixed", 11);
    CHECK_EQ(mux_uring_prep_write_fixed(r, a, 1, 6, 5, -1, 1), 0);   /* "fixed" */
    c = wait_for(r, 1);
    CHECK_EQ(c.res, 5);
    CHECK_EQ(mux_uring_prep_read_fixed(r, b, 0, 10, 54, -1, 2), 0);
    c = wait_for(r, 2);
    CHECK_EQ(c.res, 5);
    CHECK(memcmp(in + 10, "fixed", 5) == 0);
    CHECK_EQ(in[9], 0);

    CHECK_EQ(mux_uring_prep_read_fixed(r, b, 0, 10, 55, -1, 3), -EINVAL);  /* past its end */
    CHECK_EQ(mux_uring_prep_read_fixed(r, b, 2, 0, 1, -1, 3), -EINVAL);    /* no buffer 2 */
    CHECK_EQ(mux_uring_prep_read_fixed(r, b, -1, 0, 1, -1, 3), -EINVAL);
    CHECK_EQ(mux_uring_prep_read_fixed(r, b, 0, -1, 1, -1, 3), -EINVAL);
    CHECK_EQ(mux_uring_prep_read_fixed(r, b, 0, 0, -1, -1, 3), -EINVAL);
    CHECK_EQ(mux_uring_prep_read_fixed(r, b, 0, 0, 1, -2, 3), -EINVAL);
    CHECK_EQ(mux_uring_prep_read_fixed(r, -1, 0, 0, 1, -1, 3), -EBADF);
    CHECK_EQ(mux_uring_prep_write_fixed(r, b, 0, 0, 1, -1, -3), -EINVAL);
    CHECK_EQ(mux_uring_wait(r, 0, 0), 0);                 /* none of those took a slot */

    CHECK_EQ(mux_uring_register(r, MUX_URING_UNREGISTER_BUFFERS, NULL, 0), 0);
    CHECK_EQ(mux_uring_register(r, MUX_URING_UNREGISTER_BUFFERS, NULL, 0), -ENXIO);
    CHECK_EQ(mux_uring_prep_read_fixed(r, b, 0, 0, 1, -1, 4), -EINVAL);   /* forgotten */
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
    close(a);
    close(b);
done:
    free(in);
    free(out);
}

static void uring_fixed_files_are_used_by_index_with_the_sqe_flag(void)
{
    mux_uring_t *r = new_ring(8);
    int a, b, files[2];
    char buf[16];
    cqe_t c;

    if (r == NULL)
        return;
    tcp_pair(&a, &b);
    files[0] = -1;                                        /* an empty slot */
    files[1] = dup(b);
    CHECK_EQ(mux_uring_sqe_set_flags(r, MUX_URING_SQE_FIXED_FILE), -EINVAL);  /* none prepared */
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_FILES, files, 2), 0);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_FILES, files, 2), -EBUSY);
    close(files[1]);                                      /* the kernel has its own reference */
    memset(buf, 0, sizeof(buf));
    CHECK_EQ(mux_uring_prep_recv(r, 1, buf, sizeof(buf), 0, 1), 0);
    CHECK_EQ(mux_uring_sqe_set_flags(r, 0x80), -EINVAL);
    CHECK_EQ(mux_uring_sqe_set_flags(r, MUX_URING_SQE_FIXED_FILE), 0);
    CHECK_EQ(send(a, "file", 4, 0), 4);
    c = wait_for(r, 1);
    CHECK_EQ(c.res, 4);
    CHECK(memcmp(buf, "file", 4) == 0);
    CHECK_EQ(mux_uring_sqe_set_flags(r, MUX_URING_SQE_FIXED_FILE), -EINVAL);  /* submitted */

    CHECK_EQ(mux_uring_prep_recv(r, 0, buf, sizeof(buf), 0, 2), 0);
    CHECK_EQ(mux_uring_sqe_set_flags(r, MUX_URING_SQE_FIXED_FILE), 0);
    c = wait_for(r, 2);
    CHECK_EQ(c.res, -EBADF);                              /* the empty slot */

    CHECK_EQ(mux_uring_register(r, MUX_URING_UNREGISTER_FILES, NULL, 0), 0);
    CHECK_EQ(mux_uring_register(r, MUX_URING_UNREGISTER_FILES, NULL, 0), -ENXIO);
    CHECK_EQ(mux_uring_prep_recv(r, 1, buf, sizeof(buf), 0, 3), 0);
    CHECK_EQ(mux_uring_sqe_set_flags(r, MUX_URING_SQE_FIXED_FILE), 0);
    c = wait_for(r, 3);
    CHECK_EQ(c.res, -EBADF);
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
    close(a);
    close(b);
}

static void uring_registered_eventfd_counts_completions(void)
{
    mux_uring_t *r = new_ring(4);
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    uint64_t count = 0;
    cqe_t c;

    REQUIRE(efd >= 0);
    if (r == NULL)
        goto done;
    CHECK_EQ(mux_uring_register(r, MUX_URING_UNREGISTER_EVENTFD, NULL, 0), -ENXIO);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_EVENTFD, &efd, 1), 0);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_EVENTFD, &efd, 1), -EBUSY);
    CHECK_EQ(read(efd, &count, sizeof(count)), -1);       /* nothing completed yet */
    CHECK_EQ(mux_uring_prep_nop(r, 1), 0);
    c = wait_for(r, 1);
    CHECK_EQ(c.res, 0);
    CHECK_EQ(read(efd, &count, sizeof(count)), sizeof(count));
    CHECK(count >= 1);
    CHECK_EQ(mux_uring_register(r, MUX_URING_UNREGISTER_EVENTFD, NULL, 0), 0);
    CHECK_EQ(mux_uring_prep_nop(r, 2), 0);
    c = wait_for(r, 2);
    CHECK_EQ(read(efd, &count, sizeof(count)), -1);       /* no longer signalled */
    CHECK_EQ(mux_uring_close(r), 0);
    mux_uring_free(r);
done:
    close(efd);
}

static void uring_register_refuses_bad_arguments(void)
{
    mux_uring_t *r = new_ring(4);
    uint8_t ops[MUX_URING_MAX_PROBE_OPS + 1];
    char mem[8];
    struct mux_uring_iovec iov = {mem, 8};
    int fds[1] = {0}, bad;

    if (r == NULL)
        return;
    CHECK_EQ(mux_uring_register(r, 6, NULL, 0), -EINVAL);      /* not bound */
    CHECK_EQ(mux_uring_register(r, 9, NULL, 0), -EINVAL);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_PBUF_RING, &iov, 1), -EINVAL);
    CHECK_EQ(mux_uring_register(r, -1, NULL, 0), -EINVAL);
    CHECK_EQ(mux_uring_register(r, 256, NULL, 0), -EINVAL);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_PROBE, ops, 0), -EINVAL);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_PROBE, ops, MUX_URING_MAX_PROBE_OPS + 1),
             -EINVAL);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_PROBE, NULL, 8), -EFAULT);
    CHECK_EQ(mux_uring_register(r, MUX_URING_UNREGISTER_FILES, fds, 0), -EINVAL);
    CHECK_EQ(mux_uring_register(r, MUX_URING_UNREGISTER_EVENTFD, NULL, 1), -EINVAL);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_EVENTFD, fds, 2), -EINVAL);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_BUFFERS, &iov,
                                MUX_URING_MAX_FIXED_BUFFERS + 1), -EINVAL);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_FILES, fds, MUX_URING_MAX_FIXED_FILES + 1),
             -EINVAL);
    iov.base = NULL;
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_BUFFERS, &iov, 1), -EFAULT);
    iov.base = mem;
    iov.len = 0;
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_BUFFERS, &iov, 1), -EINVAL);
    iov.len = (int64_t)MUX_URING_MAX_IO + 1;
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_BUFFERS, &iov, 1), -EINVAL);
    for (bad = 0; bad < 3; bad++) {
        fds[0] = bad == 0 ? -2 : bad == 1 ? MUX_MAX_FD : INT32_MIN;
        CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_FILES, fds, 1), -EBADF);
        CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_EVENTFD, fds, 1), -EBADF);
    }
    fds[0] = lowest_free_fd();                            /* in range, not open */
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_EVENTFD, fds, 1), -EBADF);
    CHECK_EQ(mux_uring_register(NULL, MUX_URING_REGISTER_PROBE, ops, 8), -EINVAL);
    CHECK_EQ(mux_uring_sqe_set_flags(NULL, 0), -EINVAL);
    CHECK_EQ(mux_uring_prep_read_fixed(NULL, 0, 0, 0, 1, -1, 1), -EINVAL);
    /* Nothing was registered by any of those. */
    CHECK_EQ(mux_uring_register(r, MUX_URING_UNREGISTER_BUFFERS, NULL, 0), -ENXIO);
    CHECK_EQ(mux_uring_register(r, MUX_URING_UNREGISTER_FILES, NULL, 0), -ENXIO);
    CHECK_EQ(mux_uring_close(r), 0);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_PROBE, ops, 8), -EBADF);
    CHECK_EQ(mux_uring_register(r, MUX_URING_UNREGISTER_BUFFERS, NULL, 0), -EBADF);
    CHECK_EQ(mux_uring_sqe_set_flags(r, 0), -EBADF);
    mux_uring_free(r);
}

/* Buffers registered and never unregistered are released with the ring
 * (valgrind and LeakSanitizer check the table), and a fixed read in
 * flight is collected by close before the caller frees the memory. */
static void uring_close_releases_registrations_and_collects_fixed_reads(void)
{
    mux_uring_t *r = new_ring(4);
    char *in = calloc(1, 16);
    struct mux_uring_iovec iov = {in, 16};
    int a, b, files[2];

    REQUIRE(in != NULL);
    if (r == NULL)
        goto done;
    tcp_pair(&a, &b);
    files[0] = a;
    files[1] = b;
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_BUFFERS, &iov, 1), 0);
    CHECK_EQ(mux_uring_register(r, MUX_URING_REGISTER_FILES, files, 2), 0);
    CHECK_EQ(mux_uring_prep_read_fixed(r, b, 0, 0, 16, -1, 1), 0);
    CHECK_EQ(mux_uring_submit(r), 1);
    CHECK_EQ(mux_uring_close(r), 0);                      /* the read: cancelled, collected */
    free(in);
    in = NULL;
    CHECK_EQ(send(a, "after", 5, 0), 5);                  /* stays in the socket */
    usleep(20000);
    {
        char buf[8];

        CHECK_EQ(drain_fd(b, buf, sizeof(buf), NULL, NULL), 5);
    }
    mux_uring_free(r);
    close(a);
    close(b);
done:
    free(in);
}

const test_t uring_tests[] = {
    TEST(uring_new_refuses_entries_out_of_range),
    TEST(uring_nop_round_trip_reports_user_data_and_probe_knows_the_ops),
    TEST(uring_accepts_receives_and_sends_over_loopback),
    TEST(uring_multishot_accept_reports_each_connection_until_cancelled),
    TEST(uring_poll_reports_readiness_once_or_each_time_with_multishot),
    TEST(uring_timeout_expires_or_completes_after_count_operations),
    TEST(uring_wait_that_also_submits_reports_its_timeout_and_its_signal),
    TEST(uring_cancel_ends_a_pending_recv_and_reports_unknown_targets),
    TEST(uring_full_sq_gives_ebusy_until_submitted),
    TEST(uring_keeps_completions_beyond_a_full_cq),
    TEST(uring_refuses_bad_arguments),
    TEST(uring_closed_ring_refuses_everything),
    TEST(uring_close_collects_every_operation_in_flight),
    TEST(uring_made_before_fork_refuses_use_in_the_child),
    TEST(uring_setup_buffers_refuses_bad_sizes_and_a_second_setup),
    TEST(uring_multishot_recv_fills_provided_buffers_and_gets_them_back),
    TEST(uring_multishot_recv_ends_with_enobufs_when_every_buffer_is_taken),
    TEST(uring_register_probe_agrees_with_supports),
    TEST(uring_fixed_buffers_are_read_and_written_until_unregistered),
    TEST(uring_fixed_files_are_used_by_index_with_the_sqe_flag),
    TEST(uring_registered_eventfd_counts_completions),
    TEST(uring_register_refuses_bad_arguments),
    TEST(uring_close_releases_registrations_and_collects_fixed_reads),
    {NULL, NULL},
};
