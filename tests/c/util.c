/* util.c - sockets, pipes and record helpers shared by the C tests. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* accept4, pipe2 */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

const int all_backends[3] = {MUX_BACKEND_EPOLL, MUX_BACKEND_POLL, MUX_BACKEND_SELECT};

const char *kind_name(int kind)
{
    switch (kind) {
    case MUX_BACKEND_EPOLL: return "epoll";
    case MUX_BACKEND_POLL: return "poll";
    case MUX_BACKEND_SELECT: return "select";
    default: return "?";
    }
}

/* Setup failures are not what is under test: stop the test loudly. */
static void die(const char *what)
{
    fprintf(stderr, "    setup failed: %s: %s\n", what, strerror(errno));
    exit(4);
}

int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        die("fcntl O_NONBLOCK");
}

void make_pipe(int p[2])
{
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
        die("pipe2");
}

void make_socketpair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        die("socketpair");
}

int tcp_listener(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
        die("bind/listen");
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        die("getsockname");
    *port = ntohs(sa.sin_port);
    return fd;
}

int tcp_connect(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket");
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect");
    set_nonblocking(fd);
    return fd;
}

void tcp_pair(int *a, int *b)
{
    int port, lfd = tcp_listener(&port), i;

    *a = tcp_connect(port);
    *b = -1;
    for (i = 0; i < 1000 && *b < 0; i++) {
        *b = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (*b < 0 && errno != EAGAIN)
            die("accept4");
        if (*b < 0)
            usleep(1000);
    }
    if (*b < 0)
        die("accept4 timed out");
    close(lfd);
}

static void shrink_buffers(int fd)
{
    int small = 65536;

    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
}

void tcp_pair_small(int *a, int *b)
{
    tcp_pair(a, b);
    shrink_buffers(*a);
    shrink_buffers(*b);
}

void reset_peer(int fd)
{
    struct linger lg = {1, 0};   /* SO_LINGER 0: close sends RST */

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

int fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

int lowest_free_fd(void)
{
    int fd = dup(0);

    if (fd < 0)
        die("dup");
    close(fd);
    return fd;
}

/* valgrind preloads its vgpreload_*.so into the program it runs. */
int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");

    return p != NULL && strstr(p, "vgpreload") != NULL;
}

void say_on_failure(const char *fmt, ...)
{
    va_list ap;

    if (!t_failures)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "    (");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, ")\n");
    va_end(ap);
}

int dup_high(int fd)
{
    return fcntl(fd, F_DUPFD_CLOEXEC, 1500);
}

size_t fill_socket(int fd)
{
    static char junk[65536];
    size_t total = 0;
    int i;

    for (i = 0; i < 100000; i++) {
        ssize_t n = send(fd, junk, sizeof(junk), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    return total;
}

size_t drain_fd(int fd, char *dst, size_t cap, int *eof, int *err)
{
    static char scratch[65536];
    size_t total = 0;
    int i;

    for (i = 0; i < 100000; i++) {
        char *to = dst ? dst + total : scratch;
        size_t room = dst ? cap - total : sizeof(scratch);
        ssize_t n;

        if (room == 0)
            break;
        n = recv(fd, to, room, MSG_DONTWAIT);
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        if (n == 0) {
            if (eof)
                *eof = 1;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            if (err)
                *err = errno;
        }
        break;
    }
    return total;
}

void fill_pattern(char *buf, size_t off, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        buf[i] = pattern_byte(off + i);
}

int check_pattern(const char *buf, size_t off, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (buf[i] != pattern_byte(off + i))
            return 0;
    return 1;
}

mux_loop_t *new_loop(int kind, int edge)
{
    int err = 0;
    mux_loop_t *loop = mux_loop_new(kind, edge, &err);

    if (loop == NULL)
        fprintf(stderr, "    mux_loop_new(%s, %d) failed: %d\n", kind_name(kind), edge, err);
    return loop;
}

int open_pair_stream(mux_loop_t *loop, int sv[2])
{
    make_socketpair(sv);
    return mux_stream_open(loop, sv[0]);
}

int open_flooded_stream(mux_loop_t *loop, int *a, int *b)
{
    static char big[FLOOD_BYTES];
    int token;

    fill_pattern(big, 0, sizeof(big));
    tcp_pair_small(a, b);
    token = mux_stream_open(loop, *a);
    if (token >= 0)
        CHECK(mux_stream_write(loop, token, big, sizeof(big)) > 0);   /* queued */
    return token;
}

int run(mux_loop_t *loop, int64_t timeout_us, rec_t *out, int max)
{
    int n = mux_loop_run_once(loop, timeout_us), i;
    const int *f = mux_loop_fired(loop);

    if (out != NULL && max > 0)
        memset(out, 0, (size_t)max * sizeof(*out));   /* no stale reads on failure */
    for (i = 0; out != NULL && i < n && i < max; i++) {
        out[i].kind = f[i * MUX_RECORD_INTS];
        out[i].token = f[i * MUX_RECORD_INTS + 1];
        out[i].a = f[i * MUX_RECORD_INTS + 2];
        out[i].b = f[i * MUX_RECORD_INTS + 3];
    }
    return n;
}

int count_recs(const rec_t *r, int n, int kind, int token)
{
    int i, c = 0;

    for (i = 0; i < n; i++)
        if (r[i].kind == kind && r[i].token == token)
            c++;
    return c;
}
