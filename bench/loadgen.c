/* loadgen.c: closed-loop TCP echo load generator for the pymux benchmarks.
 *
 * C connections each run request/response in lock-step: send S bytes, read
 * S bytes back, verify them byte for byte, record the latency. All
 * connections are driven from one level-triggered epoll loop in non-blocking
 * mode, so one process can saturate a Python server. Prints one JSON line.
 *
 *   loadgen --host H --port P --connections C --size S
 *           (--requests N | --duration SEC) [--warmup SEC] [--upper | --http]
 *           [--timeout SEC]
 *   loadgen --host H --port P --idle N [--timeout SEC]
 *
 * Payloads are windows of one random lowercase-letter table, at an offset
 * that changes with every request and connection, so stale, mixed or
 * duplicated data is detected. With --upper the expected echo is upper case.
 *
 * With --http each request is `GET / HTTP/1.1` (keep-alive) instead, and the
 * response is read in full (headers to the blank line, then Content-Length
 * bytes) and checked: status 200, body "Hello, World!", nothing more; the
 * connection is then reused. --size is not used.
 * Never hangs: a global deadline (--timeout) ends every run with a report.
 * Build: gcc -O2 -Wall -Wextra -o loadgen loadgen.c (bench/harness/c_build.py does it).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define OFFSETS 4093                /* payload offsets in the pattern table (prime) */
#define MAX_EVENTS 256
#define MAX_PENDING_CONNECTS 256    /* in-flight connects: avoid SYN-queue drops */
#define MAX_LATENCIES (16u << 20)   /* recorded samples cap (64 MiB) */
#define RESPONSE_MAX 4096           /* --http: the longest response accepted */

static const char HTTP_REQUEST[] = "GET / HTTP/1.1\r\nHost: loadgen\r\n\r\n";
static const char HTTP_BODY[] = "Hello, World!";

enum { C_FREE, C_CONNECTING, C_ACTIVE, C_IDLE, C_DEAD };

typedef struct {
    int fd;
    int state;
    int out_armed;           /* EPOLLOUT currently in the interest set */
    int measured;            /* current request started inside the window */
    uint64_t seq;            /* requests started on this connection */
    long long done;          /* measured requests completed (fairness check) */
    size_t off;              /* pattern offset of the current request */
    size_t sent, rcvd;       /* progress of the current request */
    uint64_t t0;             /* start of the current request, ns */
    unsigned char *resp;     /* --http: the response read so far (RESPONSE_MAX bytes) */
} conn_t;

typedef struct {
    const char *host;
    int port, conns, upper, idle, http;
    size_t size;
    double duration, warmup, timeout;
    long long requests;      /* 0 = duration mode */
} opts_t;

static opts_t o = { "127.0.0.1", 0, 1, 0, 0, 0, 64, 0, 0, 0, 0 };
static int ep = -1;
static conn_t *cs;
static unsigned char *pat, *expect, *scratch;
static uint32_t *lat;        /* latencies in ns, measured window only */
static size_t nlat, caplat;
static long long completed, total_completed, issued, errors, connect_errors;
static long long mismatched, mismatched_reqs;
static uint64_t measure_start, measure_end, last_done;
static int measuring, nactive;   /* nactive: connections in C_ACTIVE */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen --host H --port P --connections C --size S "
            "(--requests N | --duration SEC) [--warmup SEC] [--upper | --http] "
            "[--timeout SEC]\n"
            "       loadgen --host H --port P --idle N [--timeout SEC]\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--upper")) { o.upper = 1; continue; }
        if (!strcmp(a, "--http")) { o.http = 1; continue; }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--host")) o.host = v;
        else if (!strcmp(a, "--port")) o.port = atoi(v);
        else if (!strcmp(a, "--connections")) o.conns = atoi(v);
        else if (!strcmp(a, "--size")) o.size = (size_t)atol(v);
        else if (!strcmp(a, "--requests")) o.requests = atoll(v);
        else if (!strcmp(a, "--duration")) o.duration = atof(v);
        else if (!strcmp(a, "--warmup")) o.warmup = atof(v);
        else if (!strcmp(a, "--timeout")) o.timeout = atof(v);
        else if (!strcmp(a, "--idle")) o.idle = atoi(v);
        else usage();
    }
    if (o.port <= 0 || o.port > 65535) usage();
    if (o.idle > 0) { o.conns = o.idle; return; }
    if (o.conns <= 0 || o.size == 0 || o.size > (64u << 20)) usage();
    if ((o.requests > 0) == (o.duration > 0)) usage();  /* exactly one of them */
    if (o.warmup < 0) usage();
    if (o.http && o.upper) usage();
    if (o.http) o.size = sizeof HTTP_REQUEST - 1;   /* what conn_send sends */
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void set_state(conn_t *c, int state)
{
    nactive += (state == C_ACTIVE) - (c->state == C_ACTIVE);
    c->state = state;
}

static void set_interest(conn_t *c, uint32_t ev)
{
    struct epoll_event e = { .events = ev, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void conn_close(conn_t *c, int failed)
{
    if (c->fd >= 0) close(c->fd);   /* close() also removes it from epoll */
    c->fd = -1;
    if (failed) {
        errors++;
        if (c->state == C_CONNECTING) connect_errors++;
    }
    set_state(c, C_DEAD);
}

static int conn_open(conn_t *c, const struct sockaddr_in *sa)
{
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->state = C_CONNECTING;
    if (c->fd < 0) { conn_close(c, 1); return -1; }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (const struct sockaddr *)sa, sizeof *sa) < 0 && errno != EINPROGRESS) {
        conn_close(c, 1);
        return -1;
    }
    struct epoll_event e = { .events = EPOLLOUT, .data.ptr = c };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) < 0) { conn_close(c, 1); return -1; }
    return 0;
}

/* Try to send the rest of the current request; arm EPOLLOUT only if partial. */
static void conn_send(conn_t *c)
{
    while (c->sent < o.size) {
        const unsigned char *req = o.http ? (const unsigned char *)HTTP_REQUEST : pat + c->off;
        ssize_t n = send(c->fd, req + c->sent, o.size - c->sent, MSG_NOSIGNAL);
        if (n > 0) { c->sent += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->out_armed) { set_interest(c, EPOLLIN | EPOLLOUT); c->out_armed = 1; }
            return;
        }
        conn_close(c, 1);
        return;
    }
    if (c->out_armed) { set_interest(c, EPOLLIN); c->out_armed = 0; }
}

static int may_issue(void)
{
    if (o.requests > 0 && measuring) return issued < o.requests;
    return 1;
}

static void conn_start(conn_t *c, size_t idx)
{
    if (!may_issue()) {
        set_state(c, C_IDLE);
        return;
    }
    set_state(c, C_ACTIVE);
    c->seq++;
    /* Offset depends on connection and sequence; never equal to the last one. */
    size_t off = (size_t)((c->seq * 2654435761ull + idx * 40503ull) % OFFSETS);
    if (off == c->off) off = (off + 1) % OFFSETS;
    c->off = off;
    c->sent = c->rcvd = 0;
    c->measured = measuring;
    if (measuring) issued++;
    c->t0 = now_ns();
    conn_send(c);
}

static void record(uint64_t ns)
{
    if (nlat == caplat) {
        if (caplat >= MAX_LATENCIES) return;
        size_t ncap = caplat ? caplat * 2 : 65536;
        uint32_t *p = realloc(lat, ncap * sizeof *p);
        if (!p) return;
        lat = p;
        caplat = ncap;
    }
    lat[nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static void request_done(conn_t *c, size_t idx)
{
    uint64_t t = now_ns();
    total_completed++;
    if (c->measured && measuring) {
        completed++;
        c->done++;
        last_done = t;
        record(t - c->t0);
    }
    conn_start(c, idx);
}

/* --http: the length of a complete response in buf[0:len), 0 if more is
 * needed, -1 if it is not `HTTP/1.1 200` with a Content-Length. */
static long http_response_length(const unsigned char *buf, size_t len)
{
    const char *text = (const char *)buf;
    const char *end = memmem(text, len, "\r\n\r\n", 4);
    if (!end) return len >= RESPONSE_MAX ? -1 : 0;
    size_t head = (size_t)(end - text) + 4;
    if (head < 13 || memcmp(text, "HTTP/1.1 200 ", 13) != 0) return -1;
    for (const char *line = memchr(text, '\n', head); line && line < end;
         line = memchr(line + 1, '\n', (size_t)(end - line))) {
        if (strncasecmp(line + 1, "Content-Length:", 15) == 0) {
            char *stop;
            long body = strtol(line + 16, &stop, 10);
            if (stop == line + 16 || body < 0 || head + (size_t)body > RESPONSE_MAX) return -1;
            return (long)(head + (size_t)body);
        }
    }
    return -1;
}

/* --http: read what is available of the current response; once it is
 * complete, check its body and that nothing follows it. */
static void conn_recv_http(conn_t *c, size_t idx)
{
    while (c->state == C_ACTIVE) {
        ssize_t n = recv(c->fd, c->resp + c->rcvd, RESPONSE_MAX - c->rcvd, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) { conn_close(c, 1); return; }
        c->rcvd += (size_t)n;
        long total = http_response_length(c->resp, c->rcvd);
        if (total == 0 || (total > 0 && (size_t)total > c->rcvd)) continue;
        size_t body = sizeof HTTP_BODY - 1;
        if (total < 0 || (size_t)total != c->rcvd ||
            memcmp(c->resp + total - body, HTTP_BODY, body) != 0) {
            mismatched += (long long)c->rcvd;
            mismatched_reqs++;
            conn_close(c, 1);
            return;
        }
        request_done(c, idx);
    }
}

/* Read what is available of the current response and verify it. */
static void conn_recv(conn_t *c, size_t idx)
{
    if (o.http) { conn_recv_http(c, idx); return; }
    while (c->state == C_ACTIVE && c->rcvd < o.size) {
        ssize_t n = recv(c->fd, scratch, o.size - c->rcvd, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) { conn_close(c, 1); return; }   /* EOF or reset mid-request */
        const unsigned char *want = expect + c->off + c->rcvd;
        if (memcmp(scratch, want, (size_t)n) != 0) {
            long long bad = 0;
            for (ssize_t i = 0; i < n; i++) bad += scratch[i] != want[i];
            mismatched += bad;
            mismatched_reqs++;
            conn_close(c, 1);   /* the stream can no longer be trusted */
            return;
        }
        c->rcvd += (size_t)n;
        if (c->rcvd < o.size) return;   /* level-triggered: wait for the rest */
        request_done(c, idx);
    }
}

static void on_connected(conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
        conn_close(c, 1);
        return;
    }
    set_state(c, C_IDLE);
    set_interest(c, o.idle ? 0 : EPOLLIN);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double pct_us(double p)
{
    if (nlat == 0) return 0.0;
    double rank = p / 100.0 * (double)nlat;     /* nearest rank: ceil(rank) */
    size_t i = (size_t)rank;
    if ((double)i < rank) i++;
    if (i > 0) i--;
    if (i >= nlat) i = nlat - 1;
    return lat[i] / 1000.0;
}

static int wait_ms(uint64_t now, uint64_t until)
{
    if (until <= now) return 0;
    uint64_t ms = (until - now + 999999) / 1000000;   /* round up: never spin */
    return ms > 1000 ? 1000 : (int)ms;
}

/* Connect every connection (bounded concurrency); returns how many succeeded. */
static int connect_all(const struct sockaddr_in *sa, uint64_t deadline)
{
    struct epoll_event evs[MAX_EVENTS];
    int next = 0, pending = 0, done = 0, ok = 0;
    while (done < o.conns && now_ns() < deadline) {
        while (next < o.conns && pending < MAX_PENDING_CONNECTS) {
            if (conn_open(&cs[next++], sa) == 0) pending++;
            else done++;
        }
        int n = epoll_wait(ep, evs, MAX_EVENTS, wait_ms(now_ns(), deadline));
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->state != C_CONNECTING) continue;
            on_connected(c);
            pending--;
            done++;
            ok += c->state == C_IDLE;
        }
    }
    for (int i = 0; i < o.conns; i++)   /* stragglers past the deadline */
        if (cs[i].state == C_CONNECTING || cs[i].state == C_FREE) {
            if (cs[i].state == C_FREE) cs[i].state = C_CONNECTING;
            conn_close(&cs[i], 1);
        }
    return ok;
}

static int run_idle(int ok, uint64_t deadline)
{
    printf("ready connected=%d failed=%lld\n", ok, connect_errors);
    fflush(stdout);
    struct pollfd p = { .fd = 0, .events = POLLIN };
    char buf[256];
    int timed_out = 1;
    while (now_ns() < deadline) {
        int n = poll(&p, 1, wait_ms(now_ns(), deadline));
        if (n < 0 && errno != EINTR) break;
        if (n > 0) {
            ssize_t r = read(0, buf, sizeof buf);
            if (r <= 0 && !(r < 0 && errno == EINTR)) { timed_out = 0; break; }
        }
    }
    printf("{\"idle\": %d, \"connected\": %d, \"connect_errors\": %lld, \"timed_out\": %s}\n",
           o.idle, ok, connect_errors, timed_out ? "true" : "false");
    return 0;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o.port) };
    if (inet_pton(AF_INET, o.host, &sa.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad IPv4 host %s\n", o.host);
        return 2;
    }
    if (o.timeout <= 0)
        o.timeout = o.idle ? 600 : o.warmup + o.duration + 30;
    uint64_t start = now_ns();
    uint64_t deadline = start + (uint64_t)(o.timeout * 1e9);

    size_t tab = o.idle ? 1 : o.size + OFFSETS;
    pat = malloc(tab);
    expect = malloc(tab);
    scratch = malloc(o.idle ? 1 : o.size);
    cs = calloc((size_t)o.conns, sizeof *cs);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!pat || !expect || !scratch || !cs || ep < 0) {
        fprintf(stderr, "loadgen: out of memory or epoll_create1 failed\n");
        return 1;
    }
    uint64_t x = 0x9E3779B97F4A7C15ull;   /* xorshift64: fixed, reproducible table */
    for (size_t i = 0; i < tab; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        pat[i] = (unsigned char)('a' + x % 26);
        expect[i] = o.upper ? (unsigned char)toupper(pat[i]) : pat[i];
    }
    for (int i = 0; i < o.conns; i++) cs[i].fd = -1;
    if (o.http) {
        unsigned char *resp = malloc((size_t)o.conns * RESPONSE_MAX);
        if (!resp) { fprintf(stderr, "loadgen: out of memory\n"); return 1; }
        for (int i = 0; i < o.conns; i++) cs[i].resp = resp + (size_t)i * RESPONSE_MAX;
    }

    double connect_s = 10.0 + o.conns / 500.0;
    uint64_t connect_deadline = start + (uint64_t)((connect_s < o.timeout ? connect_s : o.timeout) * 1e9);
    if (connect_deadline > deadline) connect_deadline = deadline;
    int ok = connect_all(&sa, connect_deadline);
    if (o.idle) return run_idle(ok, deadline);

    /* All connected (or failed): start every connection at once. */
    uint64_t t0 = now_ns();
    uint64_t warm_end = t0 + (uint64_t)(o.warmup * 1e9);
    measuring = o.warmup <= 0;
    measure_start = t0;
    uint64_t run_end = o.duration > 0 ? warm_end + (uint64_t)(o.duration * 1e9) : deadline;
    if (run_end > deadline) run_end = deadline;
    for (int i = 0; i < o.conns; i++)
        if (cs[i].state == C_IDLE) conn_start(&cs[i], (size_t)i);

    struct epoll_event evs[MAX_EVENTS];
    int timed_out = 0;
    for (;;) {
        uint64_t now = now_ns();
        if (!measuring && now >= warm_end) {
            measuring = 1;
            measure_start = now;
            for (int i = 0; i < o.conns; i++)   /* idle ones may start now */
                if (cs[i].state == C_IDLE) conn_start(&cs[i], (size_t)i);
        }
        if (now >= run_end) {
            timed_out = o.duration <= 0 || now >= deadline;
            measure_end = now;
            break;
        }
        if (nactive == 0) {   /* all requests done, or every connection died */
            measure_end = o.requests > 0 && last_done ? last_done : now;
            break;
        }

        uint64_t next = measuring ? run_end : warm_end;
        int n = epoll_wait(ep, evs, MAX_EVENTS, wait_ms(now, next));
        if (n < 0 && errno != EINTR) { perror("loadgen: epoll_wait"); break; }
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            size_t idx = (size_t)(c - cs);
            if (c->state != C_ACTIVE) {
                if (c->state == C_IDLE && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                    conn_close(c, 1);   /* unsolicited data or close: count it */
                continue;
            }
            if (evs[i].events & EPOLLOUT) conn_send(c);
            if (c->state == C_ACTIVE && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                conn_recv(c, idx);
        }
    }
    /* In-flight requests at the end are abandoned, not errors (see in_flight). */
    double elapsed = measure_end > measure_start ? (measure_end - measure_start) / 1e9 : 0.0;
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    double sum = 0;
    for (size_t i = 0; i < nlat; i++) sum += lat[i];
    int connected = ok;
    long long cmin = -1, cmax = 0;   /* per-connection spread: starvation shows here */
    for (int i = 0; i < o.conns; i++) {
        if (cs[i].seq == 0) continue;    /* never got going */
        if (cmin < 0 || cs[i].done < cmin) cmin = cs[i].done;
        if (cs[i].done > cmax) cmax = cs[i].done;
    }
    printf("{\"requests\": %lld, \"errors\": %lld, \"mismatched_bytes\": %lld, "
           "\"mismatched_requests\": %lld, \"elapsed_s\": %.6f, \"rps\": %.1f, "
           "\"p50_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f, "
           "\"max_us\": %.2f, \"mean_us\": %.2f, \"connections\": %d, \"connected\": %d, "
           "\"connect_errors\": %lld, \"size\": %zu, \"upper\": %s, \"http\": %s, "
           "\"total_requests\": %lld, \"in_flight\": %d, \"conn_min_requests\": %lld, "
           "\"conn_max_requests\": %lld, \"timed_out\": %s}\n",
           completed, errors, mismatched, mismatched_reqs, elapsed,
           elapsed > 0 ? completed / elapsed : 0.0,
           pct_us(50), pct_us(90), pct_us(99), pct_us(99.9),
           nlat ? lat[nlat - 1] / 1000.0 : 0.0, nlat ? sum / nlat / 1000.0 : 0.0,
           o.conns, connected, connect_errors, o.size, o.upper ? "true" : "false",
           o.http ? "true" : "false",
           total_completed, nactive, cmin < 0 ? 0 : cmin, cmax, timed_out ? "true" : "false");
    fflush(stdout);
    for (int i = 0; i < o.conns; i++)
        if (cs[i].fd >= 0) close(cs[i].fd);
    return 0;
}
