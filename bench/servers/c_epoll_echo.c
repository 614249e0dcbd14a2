/* c_epoll_echo.c: minimal hand-written epoll echo server, the benchmark floor.
 *
 *   c_epoll_echo --port P [--host H] [--upper]
 *
 * Level-triggered epoll. Reads go into one shared buffer and are sent back
 * at once; only the unsent rest of a partial send is queued (per connection,
 * allocated on demand), and only then is EPOLLOUT armed, with EPOLLIN off
 * until the queue drains (backpressure). First stdout line is
 * "listening on HOST:PORT"; SIGINT/SIGTERM stop it cleanly (exit 0).
 * Build: gcc -O2 -Wall -Wextra -o c_epoll_echo c_epoll_echo.c (the harness does it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c_server.h"

#define BUF_SIZE 65536
#define MAX_EVENTS 256
#define ACCEPT_BUDGET 128           /* accepts per wake-up */

typedef struct {
    size_t off, len;                /* unsent bytes are data[off:len] */
    char data[];
} pending_t;

static pending_t **pend;            /* indexed by fd; NULL = nothing queued */
static size_t npend;
static int ep, upper;
static volatile sig_atomic_t stop;
static char buf[BUF_SIZE];

static void on_signal(int sig) { (void)sig; stop = 1; }

static void ctl(int op, int fd, unsigned ev)
{
    struct epoll_event e = { .events = ev, .data.fd = fd };
    epoll_ctl(ep, op, fd, &e);
}

static void conn_close(int fd)
{
    if ((size_t)fd < npend) { free(pend[fd]); pend[fd] = NULL; }
    close(fd);
}

static void on_accept(int lfd)
{
    for (int i = 0; i < ACCEPT_BUDGET; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;         /* EAGAIN, or EMFILE & co: retry next wake-up */
        if ((size_t)fd >= npend) {
            size_t n = npend ? npend : 1024;
            while (n <= (size_t)fd) n *= 2;
            pending_t **p = realloc(pend, n * sizeof *p);
            if (!p) { close(fd); continue; }
            memset(p + npend, 0, (n - npend) * sizeof *p);
            pend = p;
            npend = n;
        }
        ctl(EPOLL_CTL_ADD, fd, EPOLLIN);
    }
}

/* Send data; queue the unsent rest. Returns 0, or -1 if fd was closed. */
static int send_or_queue(int fd, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n > 0) { off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        conn_close(fd);
        return -1;
    }
    if (off == len) return 0;
    pending_t *p = malloc(sizeof *p + (len - off));
    if (!p) { conn_close(fd); return -1; }
    p->off = 0;
    p->len = len - off;
    memcpy(p->data, data + off, len - off);
    pend[fd] = p;
    ctl(EPOLL_CTL_MOD, fd, EPOLLOUT);
    return 0;
}

static void on_readable(int fd)
{
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) { conn_close(fd); return; }
    if (upper) upcase((unsigned char *)buf, (size_t)n);
    send_or_queue(fd, buf, (size_t)n);
}

static void on_writable(int fd)
{
    pending_t *p = pend[fd];
    if (!p) { ctl(EPOLL_CTL_MOD, fd, EPOLLIN); return; }
    while (p->off < p->len) {
        ssize_t n = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL);
        if (n > 0) { p->off += (size_t)n; continue; }
        if (n < 0 && (errno == EINTR)) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        conn_close(fd);
        return;
    }
    free(p);
    pend[fd] = NULL;
    ctl(EPOLL_CTL_MOD, fd, EPOLLIN);
}

int main(int argc, char **argv)
{
    server_args_t args;
    int rc = parse_args(argc, argv, "c_epoll_echo", &args);
    if (rc) return rc;
    upper = args.upper;
    prepare_process(on_signal);
    int lfd = listen_on(&args, SOCK_NONBLOCK, "c_epoll_echo");
    if (lfd < 0) return lfd == -2 ? 2 : 1;
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) { perror("c_epoll_echo: epoll_create1"); return 1; }
    ctl(EPOLL_CTL_ADD, lfd, EPOLLIN);
    printf("listening on %s:%d\n", args.host, args.port);
    fflush(stdout);

    struct epoll_event evs[MAX_EVENTS];
    while (!stop) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("c_epoll_echo: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) on_accept(lfd);
            else if (pend[fd]) on_writable(fd);   /* EPOLLOUT (or ERR/HUP) while queued */
            else on_readable(fd);
        }
    }
    for (size_t fd = 0; fd < npend; fd++)
        if (pend[fd]) free(pend[fd]);
    free(pend);
    close(lfd);
    close(ep);
    return 0;
}
