/* test_loop_uring.c - the loop core on io_uring (MUX_BACKEND_URING): the
 * paths the readiness backends do not have. Completions of a closed stream
 * whose fd was reused are dropped; send memory outlives the caller's
 * buffer; data that arrives while reading is paused is held and delivered
 * in order, EOF after it; closing sends the FIN at once although the
 * kernel's operations held the socket; freeing a loop with operations in
 * flight releases every fd and byte; watchers are level-triggered, and a
 * watched fd closed without removing its watcher is closed for its peer
 * and never reported (as on epoll); a forked child's free leaves the
 * parent's ring alone; completions never reach a later owner of their fd,
 * even once the token generation has wrapped.
 *
 * The kernel writes received data into the ring's provided buffers and
 * the ring's CQ, which valgrind does not see: both are calloc'ed or mapped
 * (defined from the start), so it reports no false uninitialised reads;
 * ASan sees only this process's own accesses.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "mux_loop_internal.h"   /* loop->u->ring: fault injection */
#include "mux_loop_uring.h"

/* A uring loop, or NULL with "skipped" said where the kernel refuses
 * io_uring (the test then passes vacuously, saying so). */
static mux_loop_t *uring_loop(void)
{
    int err = 0;
    mux_loop_t *loop = mux_loop_new(MUX_BACKEND_URING, 0, &err);

    if (loop == NULL && (err == -ENOSYS || err == -EPERM || err == -EOPNOTSUPP))
        fprintf(stderr, "    skipped: io_uring refused by this kernel (%d)\n", err);
    else if (loop == NULL)
        fprintf(stderr, "    mux_loop_new(URING) failed: %d\n", err), t_failures++;
    return loop;
}

/* What the records of several iterations said about one token. */
typedef struct {
    int token;
    char data[1 << 16];
    size_t got;
    int eofs, errors, closes, resumes, others;
} seen_t;

/* One run_once; records of s->token are gathered, any other token's are
 * counted in *foreign (NULL: not allowed). */
static int pump(mux_loop_t *loop, int64_t timeout_us, seen_t *s, int *foreign)
{
    int n = mux_loop_run_once(loop, timeout_us), i;
    const int *f = mux_loop_fired(loop);
    const char *rb = mux_loop_read_buffer(loop);

    for (i = 0; i < n; i++) {
        int kind = f[i * 4], tok = f[i * 4 + 1], a = f[i * 4 + 2], b = f[i * 4 + 3];

        if (kind == MUX_REC_TIMER || kind == MUX_REC_IO)
            continue;
        if (s == NULL || tok != s->token) {
            if (foreign != NULL)
                (*foreign)++;
            else
                CHECK(!"a record for an unexpected token");
            continue;
        }
        if (kind == MUX_REC_DATA) {
            CHECK(a >= 0 && b > 0 && (size_t)a + (size_t)b <= MUX_READ_BUFFER);
            CHECK(s->eofs == 0);   /* never data after EOF */
            if (s->got + (size_t)b <= sizeof(s->data))
                memcpy(s->data + s->got, rb + a, (size_t)b);
            s->got += (size_t)b;
        } else if (kind == MUX_REC_EOF) {
            s->eofs++;
        } else if (kind == MUX_REC_ERROR) {
            s->errors++;
        } else if (kind == MUX_REC_CLOSED) {
            s->closes++;
        } else if (kind == MUX_REC_RESUME_WRITING) {
            s->resumes++;
        } else {
            s->others++;
        }
    }
    return n;
}

/* Pumps until s has `want` bytes (or 5 s passed). */
static void pump_until_bytes(mux_loop_t *loop, seen_t *s, size_t want)
{
    int64_t end = now_us() + 5000000;

    while (s->got < want && now_us() < end)
        CHECK(pump(loop, 100000, s, NULL) >= 0);
}

/* 1 if fd's peer closed (recv returns 0 or a reset) within 2 s. */
static int peer_sees_end(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    char buf[4096];
    int64_t end = now_us() + 2000000;

    while (now_us() < end) {
        ssize_t n;

        if (poll(&p, 1, 100) <= 0)
            continue;
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 1;
    }
    return 0;
}

/* A uring loop with one stream on a loopback TCP pair (small socket
 * buffers if `small`): its records go to *s (allocated), its peer is *peer.
 * NULL where io_uring is refused, or on failure (counted). */
static mux_loop_t *loop_with_stream(seen_t **s, int *peer, int small)
{
    mux_loop_t *loop = uring_loop();
    int a;

    *s = NULL;
    if (loop == NULL)
        return NULL;
    *s = calloc(1, sizeof(**s));
    if (small)
        tcp_pair_small(&a, peer);
    else
        tcp_pair(&a, peer);
    if (*s != NULL)
        (*s)->token = mux_stream_open(loop, a);
    if (*s == NULL || (*s)->token < 0) {
        CHECK(!"a stream on a loopback pair");
        mux_loop_free(loop);
        close(a);
        close(*peer);
        free(*s);
        return NULL;
    }
    return loop;
}

static void free_all(mux_loop_t *loop, seen_t *s, int peer)
{
    mux_loop_free(loop);
    close(peer);
    free(s);
}

static void round_trip_delivers_data_then_eof(void)
{
    seen_t *s;
    int b, it;
    mux_loop_t *loop = loop_with_stream(&s, &b, 0);
    char buf[16];

    if (loop == NULL)
        return;
    CHECK_EQ(send(b, "hello", 5, 0), 5);
    pump_until_bytes(loop, s, 5);
    CHECK(s->got == 5 && memcmp(s->data, "hello", 5) == 0);
    /* A small write leaves with the next iteration's io_uring_enter. */
    CHECK_EQ(mux_stream_write(loop, s->token, "world", 5), 5);
    CHECK_EQ(recv(b, buf, sizeof(buf), MSG_DONTWAIT), -1);
    for (it = 0; it < 50 && mux_stream_queued(loop, s->token) > 0; it++)
        pump(loop, 100000, s, NULL);
    CHECK_EQ(mux_stream_queued(loop, s->token), 0);
    CHECK_EQ(recv(b, buf, sizeof(buf), MSG_WAITALL), 5);
    CHECK(memcmp(buf, "world", 5) == 0);
    shutdown(b, SHUT_WR);
    for (it = 0; it < 50 && s->eofs == 0; it++)
        pump(loop, 100000, s, NULL);
    CHECK_EQ(s->eofs, 1);
    CHECK_EQ(s->errors, 0);
    free_all(loop, s, b);
}

static void completions_of_a_closed_stream_are_dropped_even_when_its_fd_is_reused(void)
{
    seen_t *s;
    int a, b, c, d, old, foreign = 0, it;
    mux_loop_t *loop = loop_with_stream(&s, &b, 0);

    if (loop == NULL)
        return;
    old = s->token;
    a = mux_token_fd(loop, old);
    CHECK(pump(loop, 0, s, NULL) >= 0);      /* its recv reaches the kernel */
    CHECK_EQ(send(b, "stale", 5, 0), 5);
    usleep(20000);                           /* completed, not harvested */
    CHECK_EQ(mux_stream_close(loop, old, MUX_CLOSE_DROP), 1);
    CHECK(peer_sees_end(b));                 /* FIN now, despite the recv */
    /* The next connection gets the same fd number. */
    tcp_pair(&c, &d);
    if (c != a) {
        CHECK(dup2(c, a) == a);
        close(c);
    }
    s->token = mux_stream_open(loop, a);
    REQUIRE(s->token >= 0);
    CHECK(s->token != old);
    CHECK_EQ(send(d, "fresh", 5, 0), 5);
    pump_until_bytes(loop, s, 5);
    for (it = 0; it < 3; it++)
        pump(loop, 10000, s, &foreign);
    CHECK(s->got == 5 && memcmp(s->data, "fresh", 5) == 0);
    CHECK_EQ(foreign, 0);                    /* nothing for the old token */
    CHECK_EQ(mux_stream_write(loop, old, "x", 1), -EBADF);
    free_all(loop, s, b);
    close(d);
}

static void queued_bytes_are_copied_and_sent_in_order_after_the_caller_reuses_its_buffer(void)
{
    enum { CHUNK = 256 * 1024, CHUNKS = 8 };
    seen_t *s;
    int b, i;
    mux_loop_t *loop = loop_with_stream(&s, &b, 1);
    char *buf = malloc(CHUNK), *got = malloc((size_t)CHUNK * CHUNKS);
    size_t have = 0;
    int64_t queued = 0, end;

    if (loop == NULL || buf == NULL || got == NULL) {
        if (loop != NULL)
            free_all(loop, s, b);
        free(buf), free(got);
        return;
    }
    for (i = 0; i < CHUNKS; i++) {
        memset(buf, 'a' + i, CHUNK);   /* the caller's buffer changes after each write */
        queued = mux_stream_write(loop, s->token, buf, CHUNK);
        CHECK(queued >= 0);
    }
    CHECK(queued > 0);                 /* the peer has not read: most is queued */
    free(buf);                         /* the loop keeps its own copy */
    end = now_us() + 10000000;
    while (have < (size_t)CHUNK * CHUNKS && now_us() < end) {
        ssize_t n = recv(b, got + have, (size_t)CHUNK * CHUNKS - have, MSG_DONTWAIT);

        if (n > 0)
            have += (size_t)n;
        pump(loop, 1000, s, NULL);
    }
    CHECK_EQ(have, (size_t)CHUNK * CHUNKS);
    for (i = 0; i < CHUNKS && have == (size_t)CHUNK * CHUNKS; i++)
        CHECK(got[(size_t)i * CHUNK] == 'a' + i && got[(size_t)(i + 1) * CHUNK - 1] == 'a' + i);
    pump(loop, 10000, s, NULL);
    CHECK_EQ(mux_stream_queued(loop, s->token), 0);
    CHECK_EQ(s->resumes, 1);           /* it went above high water and drained */
    free_all(loop, s, b);
    free(got);
}

static void close_with_a_send_in_flight_keeps_its_memory_until_the_completion(void)
{
    seen_t *s;
    int b, it, foreign = 0;
    mux_loop_t *loop = loop_with_stream(&s, &b, 1);
    char *big = malloc(4 << 20);

    if (loop == NULL || big == NULL) {
        if (loop != NULL)
            free_all(loop, s, b);
        free(big);
        return;
    }
    memset(big, 'z', 4 << 20);
    CHECK(mux_stream_write(loop, s->token, big, 4 << 20) > 0);
    CHECK(pump(loop, 10000, s, NULL) >= 0);   /* the send is now in the kernel */
    CHECK(mux_stream_queued(loop, s->token) > 0);
    CHECK_EQ(mux_stream_close(loop, s->token, MUX_CLOSE_RESET), 1);
    free(big);
    CHECK(peer_sees_end(b));
    for (it = 0; it < 5; it++)                 /* the cancelled send's completion */
        CHECK(pump(loop, 10000, NULL, &foreign) >= 0);
    CHECK_EQ(foreign, 0);
    free_all(loop, s, b);                      /* valgrind/LSan: nothing leaked */
}

static void paused_reading_holds_data_and_delivers_it_in_order_then_eof(void)
{
    seen_t *s;
    int b, it;
    mux_loop_t *loop = loop_with_stream(&s, &b, 0);

    if (loop == NULL)
        return;
    CHECK(pump(loop, 0, s, NULL) >= 0);        /* the recv is armed */
    CHECK_EQ(send(b, "one,", 4, 0), 4);
    usleep(20000);                             /* completed before the pause */
    CHECK_EQ(mux_stream_set_reading(loop, s->token, 0), 0);
    CHECK_EQ(send(b, "two,", 4, 0), 4);
    shutdown(b, SHUT_WR);
    for (it = 0; it < 5; it++)
        CHECK(pump(loop, 20000, s, NULL) >= 0);
    CHECK_EQ(s->got, 0);                       /* nothing while paused */
    CHECK_EQ(s->eofs, 0);
    CHECK_EQ(mux_stream_set_reading(loop, s->token, 1), 0);
    for (it = 0; it < 50 && s->eofs == 0; it++)
        pump(loop, 100000, s, NULL);
    CHECK(s->got == 8 && memcmp(s->data, "one,two,", 8) == 0);
    CHECK_EQ(s->eofs, 1);
    free_all(loop, s, b);
}

static void a_fast_sender_is_delivered_in_chunk_sized_records_in_order(void)
{
    enum { TOTAL = 4 << 20 };
    seen_t *s;
    int b, it, biggest = 0;
    mux_loop_t *loop = loop_with_stream(&s, &b, 0);
    char *want = malloc(TOTAL), *got = malloc(TOTAL);
    size_t sent = 0, have = 0;
    int64_t end = now_us() + 20000000;

    if (loop == NULL || want == NULL || got == NULL) {
        if (loop != NULL)
            free_all(loop, s, b);
        free(want), free(got);
        return;
    }
    for (it = 0; it < TOTAL; it++)
        want[it] = (char)(it * 7 + it / 4096);
    while (have < TOTAL && now_us() < end) {
        int n, i;
        const int *f;
        const char *rb;

        if (sent < TOTAL) {
            ssize_t w = send(b, want + sent, TOTAL - sent, MSG_DONTWAIT);

            if (w > 0)
                sent += (size_t)w;
        }
        n = mux_loop_run_once(loop, 1000);
        f = mux_loop_fired(loop);
        rb = mux_loop_read_buffer(loop);
        for (i = 0; i < n; i++) {
            if (f[i * 4] != MUX_REC_DATA)
                continue;
            CHECK(f[i * 4 + 1] == s->token && f[i * 4 + 3] <= MUX_READ_CHUNK);
            if (f[i * 4 + 3] > biggest)
                biggest = f[i * 4 + 3];
            if (have + (size_t)f[i * 4 + 3] <= TOTAL)
                memcpy(got + have, rb + f[i * 4 + 2], (size_t)f[i * 4 + 3]);
            have += (size_t)f[i * 4 + 3];
        }
    }
    CHECK_EQ(have, TOTAL);
    CHECK(have == TOTAL && memcmp(got, want, TOTAL) == 0);
    CHECK(biggest > 0 && biggest <= MUX_READ_CHUNK);
    free_all(loop, s, b);
    free(want);
    free(got);
}

static void freeing_a_loop_with_operations_in_flight_releases_every_fd(void)
{
    mux_loop_t *loop = uring_loop();
    int a, b, c, d, lfd, port, client, p[2], ctok, foreign = 0;
    char *big = malloc(1 << 20);

    if (loop == NULL || big == NULL) {
        free(big);
        return;
    }
    memset(big, 'q', 1 << 20);
    tcp_pair(&a, &b);
    tcp_pair_small(&c, &d);
    lfd = tcp_listener(&port);
    make_pipe(p);
    REQUIRE(mux_stream_open(loop, a) >= 0);
    ctok = mux_stream_open(loop, c);
    REQUIRE(ctok >= 0);
    REQUIRE(mux_listener_open(loop, lfd, 16) >= 0);
    CHECK_EQ(mux_watch(loop, p[0], MUX_READ), 0);
    CHECK(mux_timer_add(loop, mux_loop_now_ns() + 1000000000LL) >= 0);
    CHECK(mux_stream_write(loop, ctok, big, 1 << 20) > 0);   /* d never reads */
    CHECK(pump(loop, 0, NULL, &foreign) >= 0);    /* recvs, send, accept and poll armed */
    client = tcp_connect(port);                   /* accepted by the kernel, unreported */
    usleep(20000);
    mux_loop_free(loop);
    CHECK(!fd_is_open(a) && !fd_is_open(c) && !fd_is_open(lfd));
    CHECK(peer_sees_end(b));
    CHECK(peer_sees_end(d));
    CHECK(peer_sees_end(client));                 /* the kernel's accepted fd was closed too */
    CHECK(fd_is_open(p[0]));                      /* a watcher's fd stays the caller's */
    close(b), close(d), close(client), close(p[0]), close(p[1]);
    free(big);
}

static void freeing_a_loop_with_a_send_in_flight_frees_its_memory(void)
{
    mux_loop_t *loop = uring_loop();
    char *big = malloc(4 << 20);
    int a, b, tok;

    if (loop == NULL || big == NULL) {
        free(big);
        return;
    }
    memset(big, 'q', 4 << 20);
    tcp_pair_small(&a, &b);
    tok = mux_stream_open(loop, a);
    REQUIRE(tok >= 0);
    CHECK(mux_stream_write(loop, tok, big, 4 << 20) > 0);
    CHECK(mux_loop_run_once(loop, 10000) >= 0);   /* submitted; the peer never reads */
    CHECK(mux_stream_write(loop, tok, big, 1000) > 0);  /* queued behind it */
    free(big);
    mux_loop_free(loop);   /* cancels the send, then frees it: valgrind/LSan check */
    CHECK(!fd_is_open(a));
    CHECK(peer_sees_end(b));
    close(b);
}

static void a_watcher_is_reported_every_iteration_until_its_fd_is_read(void)
{
    mux_loop_t *loop = uring_loop();
    int p[2], it, n, reports = 0;
    char c;

    if (loop == NULL)
        return;
    make_pipe(p);
    CHECK_EQ(mux_watch(loop, p[0], MUX_READ), 0);
    CHECK_EQ(mux_loop_run_once(loop, 10000), 0);   /* nothing to read yet */
    CHECK_EQ(write(p[1], "x", 1), 1);
    for (it = 0; it < 4; it++) {
        const int *f;

        n = mux_loop_run_once(loop, 1000000);
        f = mux_loop_fired(loop);
        if (n == 1 && f[0] == MUX_REC_IO && f[1] == p[0] && f[2] == MUX_READ)
            reports++;
    }
    CHECK_EQ(reports, 4);                          /* level-triggered */
    CHECK_EQ(read(p[0], &c, 1), 1);
    mux_loop_run_once(loop, 10000);                /* the re-armed poll may still report */
    CHECK_EQ(mux_loop_run_once(loop, 20000), 0);
    CHECK_EQ(mux_watch(loop, p[0], 0), 0);
    CHECK_EQ(mux_watch(loop, p[1], MUX_WRITE), 0);
    n = mux_loop_run_once(loop, 1000000);
    CHECK(n == 1 && mux_loop_fired(loop)[1] == p[1] && mux_loop_fired(loop)[2] == MUX_WRITE);
    CHECK_EQ(mux_watch(loop, p[1], 0), 0);
    CHECK_EQ(mux_watch(loop, p[0], 0), 0);
    mux_loop_run_once(loop, 10000);                /* cancellations complete */
    CHECK_EQ(mux_loop_run_once(loop, 20000), 0);
    CHECK_EQ(mux_watch(loop, 1 << 25, MUX_READ), -EBADF);
    mux_loop_free(loop);
    close(p[0]);
    close(p[1]);
}

static void a_removed_watchers_fd_closes_at_once(void)
{
    mux_loop_t *loop = uring_loop();
    int a, b;

    if (loop == NULL)
        return;
    tcp_pair(&a, &b);
    CHECK_EQ(mux_watch(loop, a, MUX_READ), 0);
    CHECK_EQ(mux_loop_run_once(loop, 0), 0);   /* the ring polls the watchers */
    CHECK_EQ(mux_watch(loop, a, 0), 0);
    close(a);
    CHECK(peer_sees_end(b));                   /* no iteration needed for the FIN */
    mux_loop_free(loop);
    close(b);
}

static void a_forked_childs_free_leaves_the_parents_ring_serving(void)
{
    seen_t *s;
    int b, status = -1;
    mux_loop_t *loop = loop_with_stream(&s, &b, 0);
    pid_t pid;

    if (loop == NULL)
        return;
    CHECK(pump(loop, 0, s, NULL) >= 0);
    pid = fork();
    if (pid == 0) {
        int ok = mux_loop_run_once(loop, 0) == -ECHILD
                 && mux_stream_write(loop, s->token, "x", 1) == -ECHILD;

        free_all(loop, s, b);
        _exit(ok ? 0 : 1);
    }
    REQUIRE(pid > 0);
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(send(b, "still", 5, 0), 5);
    pump_until_bytes(loop, s, 5);
    CHECK(s->got == 5 && memcmp(s->data, "still", 5) == 0);
    free_all(loop, s, b);
}

/* Opens and drops n streams (on socket pairs): each claims a table entry,
 * so the token generation (11 bits) wraps after MUX__GEN_MAX of them, on
 * every backend. */
static void use_up_generations(mux_loop_t *loop, int n)
{
    int i, s[2], tok;

    for (i = 0; i < n; i++) {
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s) == 0);
        tok = mux_stream_open(loop, s[0]);
        REQUIRE(tok >= 0);
        CHECK_EQ(mux_stream_close(loop, tok, MUX_CLOSE_DROP), 1);
        close(s[1]);
    }
}

/* A burst of connections whose accepted fds outgrow the fd table: the
 * table moves (realloc) while a completion is handled, and the listener's
 * entry must be read at its new address (ASan, valgrind). */
static void a_burst_of_accepts_that_grows_the_fd_table_is_served(void)
{
    enum { CLIENTS = 40 };
    mux_loop_t *loop = uring_loop();
    int lfd, port, ltok, clients[CLIENTS], i, accepted = 0, it;

    if (loop == NULL)
        return;
    lfd = tcp_listener(&port);
    ltok = mux_listener_open(loop, lfd, 64);
    REQUIRE(ltok >= 0);
    CHECK(mux_loop_run_once(loop, 0) >= 0);       /* the accept is in the kernel */
    for (i = 0; i < CLIENTS; i++)
        clients[i] = tcp_connect(port);             /* low fd numbers: accepted ones are >= 16 */
    for (it = 0; it < 50 && accepted < CLIENTS; it++) {
        int n = mux_loop_run_once(loop, 100000), k;
        const int *f = mux_loop_fired(loop);

        for (k = 0; k < n; k++)
            if (f[k * 4] == MUX_REC_ACCEPT && f[k * 4 + 1] == ltok)
                accepted++;
    }
    CHECK_EQ(accepted, CLIENTS);
    mux_loop_free(loop);
    for (i = 0; i < CLIENTS; i++)
        close(clients[i]);
}

/* run_once's timeout is any int64_t >= 0: with a prepared operation (here
 * a small write) the wait's deadline saturates instead of overflowing
 * (UBSan). */
static void a_huge_timeout_with_a_prepared_write_returns_the_ready_data(void)
{
    mux_loop_t *loop = uring_loop();
    int a, b, tok;

    if (loop == NULL)
        return;
    tcp_pair(&a, &b);
    tok = mux_stream_open(loop, a);
    REQUIRE(tok >= 0);
    CHECK_EQ(mux_loop_run_once(loop, 0), 0);
    CHECK_EQ(send(b, "ping", 4, 0), 4);
    usleep(10000);
    CHECK_EQ(mux_stream_write(loop, tok, "pong", 4), 4);   /* prepared, not submitted */
    CHECK(mux_loop_run_once(loop, INT64_MAX) >= 1);        /* the ping is ready */
    mux_loop_free(loop);
    close(b);
}

/* A closed stream's unharvested completions (here received data) never
 * reach a new stream on the same fd, even once the token generation has
 * wrapped and the new stream's token is the dead one's again (2047 claims
 * later: the same on epoll). */
static void a_closed_streams_data_never_reaches_a_new_stream_after_the_generation_wraps(void)
{
    mux_loop_t *loop = uring_loop();
    int a, b, c, d, old, tok, it, n, k;
    char got[64];
    size_t have = 0;

    if (loop == NULL)
        return;
    tcp_pair(&a, &b);
    old = mux_stream_open(loop, a);
    REQUIRE(old >= 0);
    CHECK(mux_loop_run_once(loop, 0) >= 0);           /* recv armed */
    CHECK_EQ(send(b, "stale", 5, 0), 5);
    usleep(20000);                                   /* completed, not harvested */
    CHECK_EQ(mux_stream_close(loop, old, MUX_CLOSE_DROP), 1);
    use_up_generations(loop, 2046);
    tcp_pair(&c, &d);
    if (c != a) {
        CHECK(dup2(c, a) == a);
        close(c);
    }
    tok = mux_stream_open(loop, a);
    REQUIRE(tok >= 0);
    CHECK_EQ(tok, old);                              /* the generation wrapped */
    CHECK_EQ(send(d, "fresh", 5, 0), 5);
    for (it = 0; it < 30 && have < 5; it++) {
        const int *f;
        const char *rb;

        n = mux_loop_run_once(loop, 100000);
        f = mux_loop_fired(loop);
        rb = mux_loop_read_buffer(loop);
        for (k = 0; k < n; k++)
            if (f[k * 4] == MUX_REC_DATA && f[k * 4 + 1] == tok && have + (size_t)f[k * 4 + 3] <= sizeof(got)) {
                memcpy(got + have, rb + f[k * 4 + 2], (size_t)f[k * 4 + 3]);
                have += (size_t)f[k * 4 + 3];
            }
    }
    CHECK(have == 5 && memcmp(got, "fresh", 5) == 0);  /* not "stale" first */
    mux_loop_free(loop);
    close(b), close(d);
}

/* The same wrap with a send: the old stream's cancelled send completes
 * (-ECANCELED) after the new stream's send is in the kernel; it must free
 * the old send's memory, not the new one's (nor report the new broken). */
static void a_closed_streams_cancelled_send_never_ends_a_new_streams_send_after_the_wrap(void)
{
    enum { BIG = 1 << 20 };
    mux_loop_t *loop = uring_loop();
    int a, b, c, d, old, tok, it, k, n, errors = 0;
    char *big = calloc(1, BIG);

    if (loop == NULL || big == NULL) {
        free(big);
        if (loop != NULL)
            mux_loop_free(loop);
        return;
    }
    tcp_pair_small(&a, &b);
    old = mux_stream_open(loop, a);
    REQUIRE(old >= 0);
    CHECK(mux_stream_write(loop, old, big, BIG) > 0);     /* b never reads */
    CHECK(mux_loop_run_once(loop, 10000) >= 0);            /* the send waits in the kernel */
    CHECK_EQ(mux_stream_close(loop, old, MUX_CLOSE_DROP), 1);  /* cancelled: -ECANCELED queued */
    use_up_generations(loop, 2046);
    tcp_pair_small(&c, &d);
    if (c != a) {
        CHECK(dup2(c, a) == a);
        close(c);
    }
    tok = mux_stream_open(loop, a);
    REQUIRE(tok == old);                                   /* the generation wrapped */
    CHECK(mux_stream_write(loop, tok, big, BIG) > 0);      /* d does not read yet */
    for (it = 0; it < 5; it++) {
        const int *f;

        n = mux_loop_run_once(loop, 10000);
        f = mux_loop_fired(loop);
        for (k = 0; k < n; k++)
            if (f[k * 4] == MUX_REC_ERROR && f[k * 4 + 1] == tok) {
                fprintf(stderr, "    new stream %#x: ERROR %d\n", tok, f[k * 4 + 2]);
                errors++;
            }
    }
    CHECK_EQ(errors, 0);
    CHECK(mux_stream_queued(loop, tok) > 0);               /* its bytes are still owed */
    mux_loop_free(loop);
    free(big);
    close(b), close(d);
}

/* A loop of `kind` (NULL where refused) watching one end of a TCP pair,
 * which is then closed without removing its watcher: *closed is its old
 * fd number, *peer the other end. */
static mux_loop_t *watch_then_close(int kind, int *closed, int *peer)
{
    int err = 0;
    mux_loop_t *loop = mux_loop_new(kind, 0, &err);

    if (loop == NULL)
        return NULL;
    tcp_pair(closed, peer);
    CHECK_EQ(mux_watch(loop, *closed, MUX_READ), 0);
    CHECK_EQ(mux_loop_run_once(loop, 0), 0);
    close(*closed);                                /* no remove_reader first */
    return loop;
}

/* A watched socket closed without removing its watcher: the registration
 * goes with the file, so the peer sees the FIN (on uring too: nothing the
 * ring holds refers to the watched file). Compared with epoll. */
static void closing_a_watched_socket_without_removing_its_watcher_sends_its_fin(void)
{
    static const int kinds[] = {MUX_BACKEND_EPOLL, MUX_BACKEND_URING};
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        int a, b;
        mux_loop_t *loop = watch_then_close(kinds[i], &a, &b);

        if (loop == NULL)
            continue;
        CHECK_EQ(mux_loop_run_once(loop, 10000), 0);
        if (!peer_sees_end(b)) {
            fprintf(stderr, "    backend %d: the peer saw no FIN\n", kinds[i]);
            t_failures++;
        }
        mux_loop_free(loop);
        close(b);
    }
}

/* A watched socket closed without removing its watcher is never reported,
 * even when data reaches its old file (the registration goes with the
 * file). Compared with epoll. */
static void a_watched_fd_closed_without_removing_its_watcher_is_never_reported(void)
{
    static const int kinds[] = {MUX_BACKEND_EPOLL, MUX_BACKEND_URING};
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        int a, b, it, reports = 0;
        mux_loop_t *loop = watch_then_close(kinds[i], &a, &b);

        if (loop == NULL)
            continue;
        CHECK_EQ(send(b, "x", 1, MSG_NOSIGNAL), 1);
        for (it = 0; it < 3; it++) {
            int n = mux_loop_run_once(loop, 20000), k;
            const int *f = mux_loop_fired(loop);

            for (k = 0; k < n; k++)
                if (f[k * 4] == MUX_REC_IO && f[k * 4 + 1] == a)
                    reports++;
        }
        if (reports != 0) {
            fprintf(stderr, "    backend %d: closed fd %d reported %d times\n", kinds[i], a, reports);
            t_failures++;
        }
        mux_loop_free(loop);
        close(b);
    }
}

/* A write whose send cannot be handed to the kernel (its SQ full and the
 * submission failing: the ring's fd is swapped for /dev/null meanwhile)
 * fails and keeps its bytes queued with nothing in flight. A FLUSH close
 * then tries the send again, and when it still cannot, closes at once
 * (nothing else would ever finish it): never a close that never ends. */
static void a_flush_close_after_a_failed_write_finishes(void)
{
    mux_loop_t *loop = uring_loop();
    seen_t *s = calloc(1, sizeof(*s));
    int a, b, tok, ringfd, saved, devnull, closed, it;

    REQUIRE(s != NULL);
    if (loop == NULL) {
        free(s);
        return;
    }
    tcp_pair(&a, &b);
    tok = mux_stream_open(loop, a);
    REQUIRE(tok >= 0);
    s->token = tok;
    CHECK(pump(loop, 0, s, NULL) >= 0);
    ringfd = mux_uring_fileno(loop->u->ring);
    REQUIRE(ringfd >= 0);
    while (mux_uring_prep_nop(loop->u->ring, MUX__UOP_CANCEL) == 0)
        ;   /* the SQ is full: the next preparation must submit */
    saved = dup(ringfd);
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(saved >= 0 && devnull >= 0 && dup2(devnull, ringfd) == ringfd);
    CHECK(mux_stream_write(loop, tok, "bye", 3) < 0);
    closed = mux_stream_close(loop, tok, MUX_CLOSE_FLUSH);
    CHECK(dup2(saved, ringfd) == ringfd);
    close(saved);
    close(devnull);
    CHECK(closed == 0 || closed == 1);
    for (it = 0; it < 20 && closed == 0 && s->closes == 0; it++)
        CHECK(pump(loop, 10000, s, NULL) >= 0);
    CHECK(closed == 1 || s->closes == 1);
    CHECK_EQ(mux_stream_queued(loop, tok), -EBADF);
    free_all(loop, s, b);
}

const test_t loop_uring_tests[] = {
    TEST(round_trip_delivers_data_then_eof),
    TEST(completions_of_a_closed_stream_are_dropped_even_when_its_fd_is_reused),
    TEST(queued_bytes_are_copied_and_sent_in_order_after_the_caller_reuses_its_buffer),
    TEST(close_with_a_send_in_flight_keeps_its_memory_until_the_completion),
    TEST(paused_reading_holds_data_and_delivers_it_in_order_then_eof),
    TEST(a_fast_sender_is_delivered_in_chunk_sized_records_in_order),
    TEST(freeing_a_loop_with_operations_in_flight_releases_every_fd),
    TEST(freeing_a_loop_with_a_send_in_flight_frees_its_memory),
    TEST(a_watcher_is_reported_every_iteration_until_its_fd_is_read),
    TEST(a_removed_watchers_fd_closes_at_once),
    TEST(a_forked_childs_free_leaves_the_parents_ring_serving),
    TEST(a_burst_of_accepts_that_grows_the_fd_table_is_served),
    TEST(a_huge_timeout_with_a_prepared_write_returns_the_ready_data),
    TEST(a_closed_streams_data_never_reaches_a_new_stream_after_the_generation_wraps),
    TEST(a_closed_streams_cancelled_send_never_ends_a_new_streams_send_after_the_wrap),
    TEST(closing_a_watched_socket_without_removing_its_watcher_sends_its_fin),
    TEST(a_watched_fd_closed_without_removing_its_watcher_is_never_reported),
    TEST(a_flush_close_after_a_failed_write_finishes),
    {NULL, NULL},
};
