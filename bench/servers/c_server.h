/* c_server.h: what the hand-written C echo servers (c_epoll_echo.c,
 * c_uring_echo.c) share: the command line of bench/servers/registry.py,
 * the signals that stop them, the listening socket, and --upper's case
 * change. Static functions: each server is one compiled file.
 */
#ifndef C_SERVER_H
#define C_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

typedef struct {
    const char *host;
    int port, upper;
} server_args_t;

/* Parses --port P [--host H] [--upper]; 0, or 2 (the exit status) after
 * saying what is wrong. */
static int parse_args(int argc, char **argv, const char *name, server_args_t *a)
{
    a->host = "127.0.0.1";
    a->port = -1;
    a->upper = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--upper")) a->upper = 1;
        else if (!strcmp(argv[i], "--port") && i + 1 < argc) a->port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc) a->host = argv[++i];
        else { fprintf(stderr, "usage: %s --port P [--host H] [--upper]\n", name); return 2; }
    }
    if (a->port < 0 || a->port > 65535) { fprintf(stderr, "%s: --port required\n", name); return 2; }
    return 0;
}

/* SIGINT and SIGTERM call on_signal (also when SIGINT was ignored, as a
 * shell starts `cmd &`), without SA_RESTART so that a blocked wait returns
 * EINTR; SIGPIPE is ignored; the fd limit is raised to its hard limit. */
static void prepare_process(void (*on_signal)(int))
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* A listening TCP socket on a->host:a->port (extra_type: SOCK_NONBLOCK or
 * 0); stores the port it got in a->port. After saying why it failed: -2
 * for a bad host, -1 for another error (exit statuses 2 and 1). */
static int listen_on(server_args_t *a, int extra_type, const char *name)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)a->port) };
    if (inet_pton(AF_INET, a->host, &addr.sin_addr) != 1) {
        fprintf(stderr, "%s: bad IPv4 host %s\n", name, a->host);
        return -2;
    }
    int one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | extra_type, 0);
    socklen_t alen = sizeof addr;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
        || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, SOMAXCONN) < 0
        || getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
        fprintf(stderr, "%s: listen: %s\n", name, strerror(errno));
        return -1;
    }
    a->port = ntohs(addr.sin_port);
    return lfd;
}

/* ASCII a-z to A-Z, like bytes.upper(). Branch-free and vectorized, so
 * --upper stays a floor (a toupper() loop costs ~10 us per 16 KiB here). */
__attribute__((optimize("tree-vectorize")))
static void upcase(unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(b[i] - (((unsigned char)(b[i] - 'a') < 26) << 5));
}

#endif
