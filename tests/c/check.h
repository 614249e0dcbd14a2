/* check.h - the tiny harness behind the C-level tests of csrc/.
 *
 * No framework: a test is a void function; CHECK() prints the failing
 * expression and line and counts the failure; REQUIRE() does the same and
 * leaves the test, for checks whose failure would make the rest crash.
 * main.c runs every test in its own forked child under an alarm, so a crash
 * or hang in C shows up as one failed test instead of hiding the others,
 * and valgrind or LeakSanitizer checks each test's leaks at its exit.
 */
#ifndef PYMUX_TEST_CHECK_H
#define PYMUX_TEST_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mux_backend.h"
#include "mux_loop.h"

extern int t_failures;   /* failed checks in the running test */

#define CHECK(expr) do { \
    if (!(expr)) { \
        t_failures++; \
        fprintf(stderr, "    %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #expr); \
    } \
} while (0)

/* Integer comparison that prints both values. */
#define CHECK_EQ(a, b) do { \
    long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ != b_) { \
        t_failures++; \
        fprintf(stderr, "    %s:%d: CHECK_EQ(%s, %s) failed: %lld != %lld\n", \
                __FILE__, __LINE__, #a, #b, a_, b_); \
    } \
} while (0)

#define REQUIRE(expr) do { \
    if (!(expr)) { \
        t_failures++; \
        fprintf(stderr, "    %s:%d: REQUIRE(%s) failed, test abandoned\n", \
                __FILE__, __LINE__, #expr); \
        return; \
    } \
} while (0)

typedef struct {
    const char *name;
    void (*fn)(void);
} test_t;

#define TEST(fn) { #fn, fn }

extern const test_t grow_tests[], backend_tests[], selector_tests[], loop_tests[],
    stream_tests[], uring_tests[], sys_tests[], loop_uring_tests[];

/* --- helpers (util.c) --------------------------------------------------- */

/* Backends every backend-generic test runs against. */
extern const int all_backends[3];
const char *kind_name(int kind);

int64_t now_us(void);
void set_nonblocking(int fd);
void make_pipe(int p[2]);                   /* non-blocking, close-on-exec */
void make_socketpair(int sv[2]);            /* AF_UNIX stream, non-blocking */
int tcp_listener(int *port);                /* 127.0.0.1, port 0, non-blocking */
int tcp_connect(int port);                  /* blocking connect, then non-blocking */
void tcp_pair(int *a, int *b);              /* connected loopback pair, non-blocking */
void tcp_pair_small(int *a, int *b);        /* the same with 64 KiB socket buffers */
void reset_peer(int fd);                    /* close fd so that its peer sees a reset */
int fd_is_open(int fd);
int lowest_free_fd(void);
int dup_high(int fd);
int under_valgrind(void);                       /* a copy numbered >= 1500 */

/* After a failed check, names what the failing round of a test ran with,
 * e.g. say_on_failure("backend %s", kind_name(kind)). */
void say_on_failure(const char *fmt, ...);

/* Fills fd's send path until the kernel takes no more; returns bytes sent. */
size_t fill_socket(int fd);
/* Reads everything currently available; returns bytes read (sets *eof /
 * *err when recv returned 0 / failed with something else than EAGAIN). */
size_t drain_fd(int fd, char *dst, size_t cap, int *eof, int *err);

/* The byte at offset i of the test pattern (not periodic in 256). */
static inline char pattern_byte(size_t i)
{
    return (char)((i * 7 + (i >> 9)) & 0xff);
}
void fill_pattern(char *buf, size_t off, size_t len);
int check_pattern(const char *buf, size_t off, size_t len);  /* 1 if equal */

/* One fired record, copied out of the loop's array. */
typedef struct {
    int kind, token, a, b;
} rec_t;

/* mux_loop_new that says why it failed (then NULL). */
mux_loop_t *new_loop(int kind, int edge);

/* A stream on sv[0] of a new socketpair (sv[1] is the peer); its token. */
int open_pair_stream(mux_loop_t *loop, int sv[2]);

/* A stream on a small-buffered loopback pair (*a the loop's end, *b the
 * peer's) with FLOOD_BYTES of the test pattern written to it, most of which
 * is queued: the peer has not read yet. Returns the stream's token. */
enum { FLOOD_BYTES = 1 << 20 };
int open_flooded_stream(mux_loop_t *loop, int *a, int *b);

/* mux_loop_run_once, with the records copied into out[0 .. max) (may be
 * NULL). Returns the record count or -errno. */
int run(mux_loop_t *loop, int64_t timeout_us, rec_t *out, int max);

/* Counts the records of `kind` for `token` among r[0 .. n). */
int count_recs(const rec_t *r, int n, int kind, int token);

#endif
