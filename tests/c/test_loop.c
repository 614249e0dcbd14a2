/* test_loop.c - the loop core (mux_loop.h) apart from streams: creation,
 * argument checks, timers, watchers, wake-ups from other threads, and
 * mux_loop_free releasing everything.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MS 1000000LL   /* nanoseconds */

static void loop_new_refuses_unknown_backends_and_edge_trigger_without_epoll(void)
{
    int err = 0;

    CHECK(mux_loop_new(0, 0, &err) == NULL);
    CHECK_EQ(err, -EINVAL);
    CHECK(mux_loop_new(42, 0, NULL) == NULL);
    err = 0;
    CHECK(mux_loop_new(MUX_BACKEND_POLL, 1, &err) == NULL);
    CHECK_EQ(err, -EINVAL);
    err = 0;
    CHECK(mux_loop_new(MUX_BACKEND_SELECT, 1, &err) == NULL);
    CHECK_EQ(err, -EINVAL);
    mux_loop_free(NULL);
}

static void null_loop_is_refused_by_every_function(void)
{
    char c = 0;

    CHECK_EQ(mux_loop_run_once(NULL, 0), -EINVAL);
    CHECK(mux_loop_fired(NULL) == NULL);
    CHECK(mux_loop_read_buffer(NULL) == NULL);
    CHECK_EQ(mux_loop_wakeup(NULL), -EINVAL);
    CHECK_EQ(mux_watch(NULL, 0, MUX_READ), -EINVAL);
    CHECK_EQ(mux_timer_add(NULL, 0), -EINVAL);
    CHECK_EQ(mux_timer_cancel(NULL, 0), -EINVAL);
    CHECK_EQ(mux_listener_open(NULL, 0, 1), -EINVAL);
    CHECK(mux_listener_resume(NULL, 1) < 0);
    CHECK(mux_listener_close(NULL, 1) < 0);
    CHECK_EQ(mux_stream_open(NULL, 0), -EINVAL);
    CHECK(mux_stream_write(NULL, 1, &c, 1) < 0);
    CHECK(mux_stream_queued(NULL, 1) < 0);
    CHECK(mux_stream_set_reading(NULL, 1, 1) < 0);
    CHECK(mux_stream_set_limits(NULL, 1, 10, 1) < 0);
    CHECK(mux_stream_shutdown(NULL, 1) < 0);
    CHECK(mux_stream_close(NULL, 1, 0) < 0);
    CHECK(mux_token_fd(NULL, 1) < 0);
}

static void bad_fds_masks_and_sizes_are_refused(void)
{
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    int p[2];

    REQUIRE(loop != NULL);
    make_pipe(p);
    CHECK_EQ(mux_watch(loop, -1, MUX_READ), -EBADF);
    CHECK_EQ(mux_watch(loop, INT_MIN, MUX_READ), -EBADF);
    CHECK_EQ(mux_watch(loop, MUX_MAX_FD, MUX_READ), -EBADF);
    CHECK_EQ(mux_watch(loop, INT_MAX, MUX_READ), -EBADF);
    CHECK_EQ(mux_watch(loop, p[0], 4), -EINVAL);
    CHECK_EQ(mux_watch(loop, p[0], -1), -EINVAL);
    CHECK_EQ(mux_stream_open(loop, -1), -EBADF);
    CHECK_EQ(mux_stream_open(loop, MUX_MAX_FD), -EBADF);
    CHECK_EQ(mux_stream_open(loop, INT_MAX), -EBADF);
    CHECK_EQ(mux_listener_open(loop, -1, 16), -EBADF);
    CHECK_EQ(mux_listener_open(loop, p[0], 0), -EINVAL);
    CHECK_EQ(mux_listener_open(loop, p[0], -1), -EINVAL);
    CHECK_EQ(mux_listener_open(loop, p[0], 65537), -EINVAL);
    CHECK_EQ(mux_timer_cancel(loop, -1), -EINVAL);
    CHECK_EQ(mux_timer_cancel(loop, INT_MAX), -EINVAL);
    CHECK_EQ(mux_timer_cancel(loop, 0), -EINVAL);   /* no timer was ever made */
    close(p[0]);
    close(p[1]);
    mux_loop_free(loop);
}

static void tokens_that_were_never_handed_out_are_refused_with_ebadf(void)
{
    static const int bad[] = {-1, INT_MIN, 0, 1, 5, (1 << 20) | 5, INT_MAX, 12345};
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    char c = 'x';
    size_t i;

    REQUIRE(loop != NULL);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int t = bad[i];
        CHECK_EQ(mux_stream_write(loop, t, &c, 1), -EBADF);
        CHECK_EQ(mux_stream_queued(loop, t), -EBADF);
        CHECK_EQ(mux_stream_set_reading(loop, t, 0), -EBADF);
        CHECK_EQ(mux_stream_set_limits(loop, t, 10, 1), -EBADF);
        CHECK_EQ(mux_stream_shutdown(loop, t), -EBADF);
        CHECK_EQ(mux_stream_close(loop, t, 0), -EBADF);
        CHECK_EQ(mux_stream_close(loop, t, 1), -EBADF);
        CHECK_EQ(mux_listener_resume(loop, t), -EBADF);
        CHECK_EQ(mux_listener_close(loop, t), -EBADF);
        CHECK_EQ(mux_token_fd(loop, t), -EBADF);
    }
    mux_loop_free(loop);
}

/* --- timers ---------------------------------------------------------------- */

static void timers_fire_in_deadline_order_and_never_early(void)
{
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    int64_t base = mux_loop_now_ns(), deadline[3];
    int id[3], got[3], ngot = 0, i, j;

    REQUIRE(loop != NULL);
    deadline[0] = base + 30 * MS;
    deadline[1] = base + 10 * MS;
    deadline[2] = base + 20 * MS;
    for (i = 0; i < 3; i++)
        id[i] = mux_timer_add(loop, deadline[i]);
    for (i = 0; i < 100 && ngot < 3; i++) {
        rec_t r[8];
        int n = run(loop, -1, r, 8);
        int64_t now = mux_loop_now_ns();

        REQUIRE(n >= 0);
        for (j = 0; j < n && j < 8; j++) {
            int k;
            CHECK_EQ(r[j].kind, MUX_REC_TIMER);
            for (k = 0; k < 3; k++)
                if (r[j].token == id[k]) {
                    CHECK(now >= deadline[k]);   /* never early */
                    if (ngot < 3)
                        got[ngot++] = k;
                }
        }
    }
    REQUIRE(ngot == 3);
    CHECK_EQ(got[0], 1);
    CHECK_EQ(got[1], 2);
    CHECK_EQ(got[2], 0);
    mux_loop_free(loop);
}

/* Every backend waits for a timer under a millisecond away until it is due
 * (a wait rounded down would come back early, with no record) and not
 * before: so each run_once that waits returns a timer, and never early. */
static void sub_millisecond_timers_fire_after_one_wait_never_early(void)
{
    static const int64_t delays_ns[] = {1000, 137000, 300001, 999999, 1000300};
    enum { NDELAYS = sizeof(delays_ns) / sizeof(delays_ns[0]) };
    int k;

    for (k = 0; k < 3; k++) {
        mux_loop_t *loop = new_loop(all_backends[k], 0);
        size_t i;

        REQUIRE(loop != NULL);
        for (i = 0; i < NDELAYS; i++) {
            int64_t deadline = mux_loop_now_ns() + delays_ns[i];
            int id = mux_timer_add(loop, deadline);
            rec_t r[2];
            int n = run(loop, -1, r, 2);

            CHECK_EQ(n, 1);
            CHECK_EQ(r[0].kind, MUX_REC_TIMER);
            CHECK_EQ(r[0].token, id);
            CHECK(mux_loop_now_ns() >= deadline);
            say_on_failure("backend %s, delay %lld ns", kind_name(all_backends[k]),
                           (long long)delays_ns[i]);
        }
        mux_loop_free(loop);
    }
}

static void run_once_sleeps_until_the_nearest_timer(void)
{
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    int64_t t0 = now_us();
    rec_t r[4];
    int id, n;

    REQUIRE(loop != NULL);
    id = mux_timer_add(loop, mux_loop_now_ns() + 50 * MS);
    mux_timer_add(loop, mux_loop_now_ns() + 3600 * 1000 * MS);   /* far away */
    n = run(loop, 5000000, r, 4);   /* the caller's 5 s is longer */
    CHECK_EQ(n, 1);
    CHECK_EQ(r[0].kind, MUX_REC_TIMER);
    CHECK_EQ(r[0].token, id);
    CHECK(now_us() - t0 >= 50000);
    CHECK(now_us() - t0 < 2000000);
    /* The caller's timeout wins when it is shorter than the next timer. */
    t0 = now_us();
    CHECK_EQ(run(loop, 20000, NULL, 0), 0);
    CHECK(now_us() - t0 >= 20000);
    mux_loop_free(loop);
}

static void equal_deadlines_fire_in_fifo_order(void)
{
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    int64_t when = mux_loop_now_ns() - 1;
    int ids[100], i, n;
    const int *f;

    REQUIRE(loop != NULL);
    for (i = 0; i < 100; i++)
        ids[i] = mux_timer_add(loop, when);
    n = mux_loop_run_once(loop, 0);
    REQUIRE(n == 100);
    f = mux_loop_fired(loop);
    for (i = 0; i < 100; i++) {
        CHECK_EQ(f[i * MUX_RECORD_INTS], MUX_REC_TIMER);
        CHECK_EQ(f[i * MUX_RECORD_INTS + 1], ids[i]);
    }
    mux_loop_free(loop);
}

static void many_timers_with_duplicate_deadlines_and_cancels_fire_in_order(void)
{
    enum { N = 3000 };
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    int64_t base = mux_loop_now_ns() - 1000 * MS, *deadline = malloc(N * sizeof(*deadline));
    int *id = malloc(N * sizeof(int)), *order = malloc(N * sizeof(int));
    int *of_id = malloc(N * sizeof(int));
    unsigned seed = 12345;
    int i, n, expected = 0, prev = -1, cancelled_seen = 0;
    const int *f;

    REQUIRE(loop != NULL && deadline && id && order && of_id);
    for (i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        deadline[i] = base + (int64_t)((seed >> 16) % 50) * MS;   /* many ties */
        id[i] = mux_timer_add(loop, deadline[i]);
        REQUIRE(id[i] >= 0 && id[i] < N);
        of_id[id[i]] = i;
    }
    for (i = 0; i < N; i += 7)
        CHECK_EQ(mux_timer_cancel(loop, id[i]), 0);
    for (i = 0; i < N; i++)
        expected += i % 7 != 0;
    n = mux_loop_run_once(loop, 0);
    CHECK_EQ(n, expected);
    f = mux_loop_fired(loop);
    for (i = 0; i < n; i++) {
        int idx = of_id[f[i * MUX_RECORD_INTS + 1]];
        if (idx % 7 == 0)
            cancelled_seen++;
        /* (deadline, insertion) never goes backwards */
        if (prev >= 0 && (deadline[idx] < deadline[prev]
                          || (deadline[idx] == deadline[prev] && idx < prev))) {
            CHECK(!"timer records out of (deadline, insertion) order");
            break;
        }
        prev = idx;
    }
    CHECK_EQ(cancelled_seen, 0);
    free(deadline);
    free(id);
    free(order);
    free(of_id);
    mux_loop_free(loop);
}

static void cancelled_timer_never_fires_and_cancel_twice_is_enoent(void)
{
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    int a, b, n;
    rec_t r[4];

    REQUIRE(loop != NULL);
    a = mux_timer_add(loop, mux_loop_now_ns() + 5 * MS);
    b = mux_timer_add(loop, mux_loop_now_ns() + 10 * MS);
    CHECK_EQ(mux_timer_cancel(loop, a), 0);
    CHECK_EQ(mux_timer_cancel(loop, a), -ENOENT);
    n = run(loop, 1000000, r, 4);
    CHECK_EQ(n, 1);
    CHECK_EQ(r[0].token, b);
    CHECK_EQ(mux_timer_cancel(loop, b), -ENOENT);   /* already fired */
    CHECK_EQ(run(loop, 20000, NULL, 0), 0);
    mux_loop_free(loop);
}

static void fired_timer_id_is_reused_only_after_the_next_run_once(void)
{
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    int a, b, c, n;
    rec_t r[4];

    REQUIRE(loop != NULL);
    a = mux_timer_add(loop, mux_loop_now_ns() - 1);
    n = run(loop, 0, r, 4);
    REQUIRE(n == 1);
    CHECK_EQ(r[0].token, a);
    /* The record naming `a` may not be dispatched yet: `a` stays taken. */
    b = mux_timer_add(loop, mux_loop_now_ns() + 3600 * 1000 * MS);
    CHECK(b != a);
    CHECK_EQ(run(loop, 0, NULL, 0), 0);
    c = mux_timer_add(loop, mux_loop_now_ns() + 3600 * 1000 * MS);
    CHECK_EQ(c, a);   /* released by that run_once, so ids do not leak */
    mux_loop_free(loop);
}

static void timers_with_extreme_deadlines_neither_overflow_nor_spin(void)
{
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    int64_t t0;
    int lo, hi, n;
    rec_t r[4];

    REQUIRE(loop != NULL);
    hi = mux_timer_add(loop, INT64_MAX);
    t0 = now_us();
    CHECK_EQ(run(loop, 10000, NULL, 0), 0);
    CHECK(now_us() - t0 >= 10000);
    lo = mux_timer_add(loop, INT64_MIN);   /* long past: fires at once */
    t0 = now_us();
    n = run(loop, 2000000, r, 4);
    CHECK(now_us() - t0 < 1000000);
    CHECK_EQ(n, 1);
    CHECK_EQ(r[0].token, lo);
    CHECK_EQ(mux_timer_cancel(loop, hi), 0);
    mux_loop_free(loop);
}

/* --- watchers --------------------------------------------------------------- */

static void watcher_on_a_pipe_reports_io_records_until_removed(void)
{
    int k;

    for (k = 0; k < 3; k++) {
        mux_loop_t *loop = new_loop(all_backends[k], 0);
        int p[2], n;
        rec_t r[8];
        char c;

        REQUIRE(loop != NULL);
        make_pipe(p);
        CHECK_EQ(mux_watch(loop, p[0], MUX_READ), 0);
        CHECK_EQ(run(loop, 0, NULL, 0), 0);
        CHECK_EQ(write(p[1], "x", 1), 1);
        n = run(loop, 1000000, r, 8);
        CHECK_EQ(n, 1);
        CHECK_EQ(r[0].kind, MUX_REC_IO);
        CHECK_EQ(r[0].token, p[0]);
        CHECK_EQ(r[0].a, MUX_READ);
        /* Level-triggered: still readable until read. */
        CHECK_EQ(run(loop, 0, NULL, 0), 1);
        CHECK_EQ(read(p[0], &c, 1), 1);
        CHECK_EQ(run(loop, 0, NULL, 0), 0);
        /* Write interest on the write end, both at once. */
        CHECK_EQ(mux_watch(loop, p[1], MUX_WRITE), 0);
        CHECK_EQ(write(p[1], "y", 1), 1);
        n = run(loop, 1000000, r, 8);
        CHECK_EQ(n, 2);
        CHECK_EQ(count_recs(r, n < 8 ? n : 8, MUX_REC_IO, p[0]), 1);
        CHECK_EQ(count_recs(r, n < 8 ? n : 8, MUX_REC_IO, p[1]), 1);
        /* mask 0 removes; removing twice is harmless. */
        CHECK_EQ(mux_watch(loop, p[0], 0), 0);
        CHECK_EQ(mux_watch(loop, p[1], 0), 0);
        CHECK_EQ(mux_watch(loop, p[1], 0), 0);
        CHECK_EQ(run(loop, 0, NULL, 0), 0);
        say_on_failure("backend %s", kind_name(all_backends[k]));
        close(p[0]);
        close(p[1]);
        mux_loop_free(loop);
    }
}

static void watcher_on_a_closed_fd_is_ebadf_with_epoll(void)
{
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    int p[2];

    REQUIRE(loop != NULL);
    make_pipe(p);
    close(p[0]);
    CHECK_EQ(mux_watch(loop, p[0], MUX_READ), -EBADF);
    /* The failed watch left nothing behind: the fd can be a stream later. */
    CHECK_EQ(mux_watch(loop, p[0], 0), 0);
    close(p[1]);
    mux_loop_free(loop);
}

static void select_loop_refuses_watchers_and_streams_at_or_above_fd_setsize(void)
{
    mux_loop_t *loop = new_loop(MUX_BACKEND_SELECT, 0);
    int sv[2], high;

    REQUIRE(loop != NULL);
    make_socketpair(sv);
    high = dup_high(sv[0]);
    REQUIRE(high >= 1024);
    CHECK_EQ(mux_watch(loop, high, MUX_READ), -EINVAL);
    CHECK_EQ(mux_stream_open(loop, high), -EINVAL);
    CHECK_EQ(mux_listener_open(loop, high, 4), -EINVAL);
    CHECK_EQ(run(loop, 0, NULL, 0), 0);
    close(high);
    close(sv[0]);
    close(sv[1]);
    mux_loop_free(loop);
}

/* --- wake-up --------------------------------------------------------------- */

struct waker {
    mux_loop_t *loop;
    int delay_us, count, failures;
    atomic_int *stop;         /* NULL, or set to end the storm early */
};

static void *wake_later(void *arg)
{
    struct waker *w = arg;
    int i;

    usleep((useconds_t)w->delay_us);
    for (i = 0; i < w->count && !(w->stop && atomic_load(w->stop)); i++)
        if (mux_loop_wakeup(w->loop) < 0)
            w->failures++;
    return NULL;
}

static void wakeup_from_another_thread_returns_a_blocked_run_once(void)
{
    int k;

    for (k = 0; k < 3; k++) {
        mux_loop_t *loop = new_loop(all_backends[k], 0);
        struct waker w;
        pthread_t th;
        int64_t t0;

        REQUIRE(loop != NULL);
        w.loop = loop;
        w.delay_us = 50000;
        w.count = 1;
        w.failures = 0;
        w.stop = NULL;
        t0 = now_us();
        REQUIRE(pthread_create(&th, NULL, wake_later, &w) == 0);
        CHECK_EQ(run(loop, -1, NULL, 0), 0);   /* would block forever */
        CHECK(now_us() - t0 < 5000000);
        pthread_join(th, NULL);
        CHECK_EQ(w.failures, 0);
        /* Drained: the next wait blocks again (until its timeout). */
        t0 = now_us();
        CHECK_EQ(run(loop, 20000, NULL, 0), 0);
        CHECK(now_us() - t0 >= 20000);
        mux_loop_free(loop);
    }
}

static void wakeup_before_run_once_is_not_lost(void)
{
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    int64_t t0;

    REQUIRE(loop != NULL);
    CHECK_EQ(mux_loop_wakeup(loop), 0);
    CHECK_EQ(mux_loop_wakeup(loop), 0);   /* coalesced */
    t0 = now_us();
    CHECK_EQ(run(loop, -1, NULL, 0), 0);
    CHECK(now_us() - t0 < 1000000);
    mux_loop_free(loop);
}

static void many_wakeups_from_many_threads_neither_deadlock_nor_get_lost(void)
{
    enum { THREADS = 4 };
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    struct waker w[THREADS];
    pthread_t th[THREADS];
    atomic_int stop = 0;
    int i, round;
    int64_t t0;

    REQUIRE(loop != NULL);
    /* The storm: threads call wakeup nonstop while the loop keeps draining,
     * so wake-ups race with the drain thousands of times. */
    for (i = 0; i < THREADS; i++) {
        w[i].loop = loop;
        w[i].delay_us = 0;
        w[i].count = 50000000;
        w[i].failures = 0;
        w[i].stop = &stop;
        REQUIRE(pthread_create(&th[i], NULL, wake_later, &w[i]) == 0);
    }
    t0 = now_us();
    for (i = 0; i < 100000 && now_us() - t0 < 300000; i++)
        CHECK(run(loop, 1000, NULL, 0) >= 0);
    atomic_store(&stop, 1);
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(w[i].failures, 0);
    }
    /* After the storm, a wake-up must still make a blocked wait return. */
    for (round = 0; round < 1; round++) {
        w[0].delay_us = 20000;
        w[0].count = 1;
        w[0].stop = NULL;
        REQUIRE(pthread_create(&th[0], NULL, wake_later, &w[0]) == 0);
        t0 = now_us();
        for (i = 0; i < 10 && now_us() - t0 < 20000; i++)
            run(loop, 2000000, NULL, 0);   /* stale wake-ups may end a few early */
        CHECK(now_us() - t0 >= 20000);
        CHECK(now_us() - t0 < 1500000);    /* else the wake-up was lost */
        pthread_join(th[0], NULL);
    }
    mux_loop_free(loop);
}

/* --- one thread at a time --------------------------------------------------- */

struct blocked_run {
    mux_loop_t *loop;
    int rc;
};

static void *run_until_woken(void *arg)
{
    struct blocked_run *w = arg;

    w->rc = mux_loop_run_once(w->loop, 5000000);
    return NULL;
}

static void every_entry_point_but_wakeup_is_ebusy_while_another_thread_runs_the_loop(void)
{
    mux_loop_t *loop = new_loop(MUX_BACKEND_EPOLL, 0);
    int sv[2], p[2], port, lfd = tcp_listener(&port), tok, lt, id, i, rc = 0;
    struct blocked_run w;
    pthread_t th;
    char c = 'x';

    REQUIRE(loop != NULL);
    make_socketpair(sv);
    make_pipe(p);
    tok = mux_stream_open(loop, sv[0]);
    lt = mux_listener_open(loop, lfd, 4);
    id = mux_timer_add(loop, mux_loop_now_ns() + 3600 * 1000 * MS);
    REQUIRE(tok >= 0 && lt >= 0 && id >= 0);
    w.loop = loop;
    w.rc = -1000;
    REQUIRE(pthread_create(&th, NULL, run_until_woken, &w) == 0);
    /* Until the thread is inside run_once, ours may still get in: retry. */
    for (i = 0; i < 2000 && rc != -EBUSY; i++) {
        rc = mux_token_fd(loop, tok);
        if (rc != -EBUSY)
            usleep(1000);
    }
    CHECK_EQ(rc, -EBUSY);
    CHECK_EQ(mux_loop_run_once(loop, 0), -EBUSY);
    CHECK_EQ(mux_watch(loop, p[0], MUX_READ), -EBUSY);
    CHECK_EQ(mux_timer_add(loop, 0), -EBUSY);
    CHECK_EQ(mux_timer_cancel(loop, id), -EBUSY);
    CHECK_EQ(mux_listener_open(loop, sv[1], 4), -EBUSY);
    CHECK_EQ(mux_listener_resume(loop, lt), -EBUSY);
    CHECK_EQ(mux_listener_close(loop, lt), -EBUSY);
    CHECK_EQ(mux_stream_open(loop, sv[1]), -EBUSY);
    CHECK_EQ(mux_stream_write(loop, tok, &c, 1), -EBUSY);
    CHECK_EQ(mux_stream_queued(loop, tok), -EBUSY);
    CHECK_EQ(mux_stream_set_reading(loop, tok, 0), -EBUSY);
    CHECK_EQ(mux_stream_set_limits(loop, tok, 10, 1), -EBUSY);
    CHECK_EQ(mux_stream_shutdown(loop, tok), -EBUSY);
    CHECK_EQ(mux_stream_close(loop, tok, 1), -EBUSY);
    CHECK_EQ(mux_loop_wakeup(loop), 0);   /* the one call any thread may make */
    pthread_join(th, NULL);
    CHECK_EQ(w.rc, 0);
    /* Nothing the refused calls asked for happened, and the loop is free. */
    CHECK_EQ(mux_token_fd(loop, tok), sv[0]);
    CHECK_EQ(mux_stream_queued(loop, tok), 0);
    CHECK_EQ(recv(sv[1], &c, 1, MSG_DONTWAIT), -1);
    CHECK_EQ(mux_timer_cancel(loop, id), 0);
    CHECK_EQ(mux_listener_close(loop, lt), 0);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
    mux_loop_free(loop);
}

/* --- freeing ---------------------------------------------------------------- */

static void loop_free_releases_streams_queues_listeners_timers_and_watchers(void)
{
    int k;

    for (k = 0; k < 3; k++) {
        mux_loop_t *loop = new_loop(all_backends[k], 0);
        int sv[2], tv[2], p[2], port, lfd, i, s1, s2, lt;

        REQUIRE(loop != NULL);
        make_socketpair(sv);
        make_pipe(p);
        lfd = tcp_listener(&port);
        s1 = mux_stream_open(loop, sv[0]);
        s2 = open_flooded_stream(loop, &tv[0], &tv[1]);
        lt = mux_listener_open(loop, lfd, 8);
        REQUIRE(s1 >= 0 && s2 >= 0 && lt >= 0);
        CHECK_EQ(mux_watch(loop, p[0], MUX_READ), 0);
        for (i = 0; i < 100; i++)
            mux_timer_add(loop, mux_loop_now_ns() + (int64_t)i * MS);
        CHECK(run(loop, 0, NULL, 0) >= 0);
        CHECK_EQ(mux_stream_write(loop, s1, "hello", 5), 0);
        CHECK(mux_stream_write(loop, s2, "more", 4) > 0);
        CHECK_EQ(mux_stream_close(loop, s2, 0), 0);  /* close pending, queue kept */
        mux_loop_free(loop);
        /* The loop closed what it owned and nothing else. */
        CHECK(!fd_is_open(sv[0]));
        CHECK(!fd_is_open(tv[0]));
        CHECK(!fd_is_open(lfd));
        CHECK(fd_is_open(p[0]));
        close(sv[1]);
        close(tv[1]);
        close(p[0]);
        close(p[1]);
    }
}

/* --- fork ------------------------------------------------------------------- */

/* In a child forked after mux_loop_new: every entry point but free is
 * refused, and free closes the child's copies of the fds. Returns a
 * nonzero exit status naming the first thing that did not hold. */
static int child_finds_the_loop_refused(mux_loop_t *loop, int tok, int lt, int lfd, int sfd,
                                        int spare)
{
    char c = 'x';

    if (mux_loop_run_once(loop, 0) != -ECHILD) return 10;
    if (mux_watch(loop, spare, MUX_READ) != -ECHILD) return 11;
    if (mux_timer_add(loop, 0) != -ECHILD) return 12;
    if (mux_timer_cancel(loop, 0) != -ECHILD) return 13;
    if (mux_listener_open(loop, spare, 4) != -ECHILD) return 14;
    if (mux_listener_resume(loop, lt) != -ECHILD) return 15;
    if (mux_listener_close(loop, lt) != -ECHILD) return 16;
    if (mux_stream_open(loop, spare) != -ECHILD) return 17;
    if (mux_stream_write(loop, tok, &c, 1) != -ECHILD) return 18;
    if (mux_stream_queued(loop, tok) != -ECHILD) return 19;
    if (mux_stream_set_reading(loop, tok, 0) != -ECHILD) return 20;
    if (mux_stream_set_limits(loop, tok, 10, 1) != -ECHILD) return 21;
    if (mux_stream_shutdown(loop, tok) != -ECHILD) return 22;
    if (mux_stream_close(loop, tok, 1) != -ECHILD) return 23;
    if (mux_token_fd(loop, tok) != -ECHILD) return 24;
    if (mux_loop_wakeup(loop) != -ECHILD) return 25;
    mux_loop_free(loop);
    if (fd_is_open(lfd) || fd_is_open(sfd)) return 26;
    return 0;
}

static void forked_child_is_refused_and_its_free_leaves_the_parent_served(void)
{
    int k;

    for (k = 0; k < 3; k++) {
        mux_loop_t *loop = new_loop(all_backends[k], 0);
        int a, b, p[2], port, lfd = tcp_listener(&port), tok, lt, status, i, client;
        int data = 0, accepted = 0;
        pid_t pid;
        rec_t r[16];

        say_on_failure("backend %s", kind_name(all_backends[k]));
        REQUIRE(loop != NULL);
        tcp_pair(&a, &b);
        make_pipe(p);
        tok = mux_stream_open(loop, a);
        lt = mux_listener_open(loop, lfd, 8);
        REQUIRE(tok >= 0 && lt >= 0);
        CHECK(run(loop, 0, NULL, 0) >= 0);   /* registers both with the backend */
        pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0)
            _exit(child_finds_the_loop_refused(loop, tok, lt, lfd, a, p[0]));
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK_EQ(WEXITSTATUS(status), 0);
        /* The parent's loop still hears from its stream and its listener. */
        CHECK_EQ(send(b, "hi", 2, 0), 2);
        client = tcp_connect(port);
        for (i = 0; i < 50 && !(data && accepted); i++) {
            int n = run(loop, 100000, r, 16);

            CHECK(n >= 0);
            data += count_recs(r, n, MUX_REC_DATA, tok);
            accepted += count_recs(r, n, MUX_REC_ACCEPT, lt);
        }
        CHECK(data > 0);
        CHECK(accepted > 0);
        close(client);
        close(b);
        close(p[0]);
        close(p[1]);
        mux_loop_free(loop);
    }
}

const test_t loop_tests[] = {
    TEST(loop_new_refuses_unknown_backends_and_edge_trigger_without_epoll),
    TEST(null_loop_is_refused_by_every_function),
    TEST(bad_fds_masks_and_sizes_are_refused),
    TEST(tokens_that_were_never_handed_out_are_refused_with_ebadf),
    TEST(timers_fire_in_deadline_order_and_never_early),
    TEST(sub_millisecond_timers_fire_after_one_wait_never_early),
    TEST(run_once_sleeps_until_the_nearest_timer),
    TEST(equal_deadlines_fire_in_fifo_order),
    TEST(many_timers_with_duplicate_deadlines_and_cancels_fire_in_order),
    TEST(cancelled_timer_never_fires_and_cancel_twice_is_enoent),
    TEST(fired_timer_id_is_reused_only_after_the_next_run_once),
    TEST(timers_with_extreme_deadlines_neither_overflow_nor_spin),
    TEST(watcher_on_a_pipe_reports_io_records_until_removed),
    TEST(watcher_on_a_closed_fd_is_ebadf_with_epoll),
    TEST(select_loop_refuses_watchers_and_streams_at_or_above_fd_setsize),
    TEST(wakeup_from_another_thread_returns_a_blocked_run_once),
    TEST(wakeup_before_run_once_is_not_lost),
    TEST(many_wakeups_from_many_threads_neither_deadlock_nor_get_lost),
    TEST(every_entry_point_but_wakeup_is_ebusy_while_another_thread_runs_the_loop),
    TEST(loop_free_releases_streams_queues_listeners_timers_and_watchers),
    TEST(forked_child_is_refused_and_its_free_leaves_the_parent_served),
    {NULL, NULL},
};
