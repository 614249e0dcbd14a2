/* c_uring_echo.c: minimal hand-written io_uring echo server, the
 * asynchronous model's floor (c_epoll_echo.c is the readiness one).
 *
 *   c_uring_echo --port P [--host H] [--upper]
 *
 * Completions, not readiness: one multishot accept reports every new
 * connection; each connection then has exactly one operation in flight,
 * a recv into its own buffer, then a send of what came (again for the rest
 * after a partial send), then the next recv. So a peer that does not read
 * stops its own reads (backpressure) and a connection is closed only when
 * nothing of it is in flight. One io_uring_enter per loop pass submits the
 * new SQEs and waits for at least one completion. The ring is made with the
 * raw system calls and the kernel ABI of csrc/mux_uring_abi.h (no liburing),
 * with SINGLE_ISSUER|DEFER_TASKRUN where the kernel has them (6.1). First
 * stdout line is "listening on HOST:PORT"; SIGINT/SIGTERM stop it cleanly
 * (exit 0). Build: gcc -O2 -Wall -Wextra (the harness does it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../csrc/mux_uring_abi.h"
#include "c_server.h"

#define BUF_SIZE 65536
#define SQ_ENTRIES 1024
#define CQ_ENTRIES 8192
#define SETUP_CQSIZE (1u << 3)
#define SETUP_SINGLE_ISSUER (1u << 12)
#define SETUP_DEFER_TASKRUN (1u << 13)
#define OP_ACCEPT 13
#define OP_SEND 26
#define OP_RECV 27
#define CQE_F_MORE (1u << 1)

enum { ACCEPT, RECV, SEND };        /* user_data = fd << 2 | kind */

typedef struct {
    size_t off, len;                /* a send in flight covers data[off:len] */
    char data[BUF_SIZE];
} conn_t;

static struct {
    int fd;
    unsigned *sq_head, *sq_tail, sq_mask, tail;
    unsigned *cq_head, *cq_tail, cq_mask;
    struct mux__sqe *sqes;
    struct mux__cqe *cqes;
} ring;

static conn_t **conns;              /* indexed by fd */
static size_t nconns;
static int lfd, upper, accept_paused, nopen;
static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

static int ring_setup(void)
{
    unsigned tries[] = { SETUP_CQSIZE | SETUP_SINGLE_ISSUER | SETUP_DEFER_TASKRUN, SETUP_CQSIZE };
    struct mux__uring_params p;
    for (size_t i = 0; i < 2; i++) {
        memset(&p, 0, sizeof p);
        p.flags = tries[i];
        p.cq_entries = CQ_ENTRIES;
        ring.fd = mux__io_uring_setup(SQ_ENTRIES, &p);
        if (ring.fd != -EINVAL) break;
    }
    if (ring.fd < 0) { errno = -ring.fd; return -1; }
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct mux__cqe);
    if (!(p.features & MUX__FEAT_SINGLE_MMAP)) { errno = ENOSYS; return -1; }   /* 5.4+ */
    size_t len = sq_len > cq_len ? sq_len : cq_len;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring.fd,
                   (off_t)MUX__OFF_SQ_RING);
    ring.sqes = mmap(NULL, p.sq_entries * sizeof(struct mux__sqe), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_POPULATE, ring.fd, (off_t)MUX__OFF_SQES);
    if (m == MAP_FAILED || ring.sqes == MAP_FAILED) return -1;
    ring.sq_head = (unsigned *)(m + p.sq_off.head);
    ring.sq_tail = (unsigned *)(m + p.sq_off.tail);
    ring.sq_mask = *(unsigned *)(m + p.sq_off.ring_mask);
    ring.cq_head = (unsigned *)(m + p.cq_off.head);
    ring.cq_tail = (unsigned *)(m + p.cq_off.tail);
    ring.cq_mask = *(unsigned *)(m + p.cq_off.ring_mask);
    ring.cqes = (struct mux__cqe *)(m + p.cq_off.cqes);
    unsigned *array = (unsigned *)(m + p.sq_off.array);
    for (unsigned i = 0; i < p.sq_entries; i++) array[i] = i;   /* slot i is SQE i */
    ring.tail = *ring.sq_tail;
    return 0;
}

/* Hands the new SQEs over (release: their contents before the tail) and
 * enters the kernel, waiting for min_complete completions. */
static int submit_and_wait(unsigned min_complete)
{
    __atomic_store_n(ring.sq_tail, ring.tail, __ATOMIC_RELEASE);
    unsigned to_submit = ring.tail - __atomic_load_n(ring.sq_head, __ATOMIC_ACQUIRE);
    return mux__io_uring_enter(ring.fd, to_submit, min_complete,
                               min_complete ? MUX__ENTER_GETEVENTS : 0, NULL, 0);
}

static struct mux__sqe *next_sqe(void)
{
    while (ring.tail - __atomic_load_n(ring.sq_head, __ATOMIC_ACQUIRE) > ring.sq_mask)
        submit_and_wait(0);         /* a full SQ: hand it over first */
    struct mux__sqe *sqe = &ring.sqes[ring.tail++ & ring.sq_mask];
    memset(sqe, 0, sizeof *sqe);
    return sqe;
}

static void prep(int op, int fd, void *buf, size_t len, int kind)
{
    struct mux__sqe *sqe = next_sqe();
    sqe->opcode = (uint8_t)op;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)buf;
    sqe->len = (uint32_t)len;
    sqe->user_data = (uint64_t)fd << 2 | (uint64_t)kind;
    if (op == OP_SEND) sqe->op_flags = MSG_NOSIGNAL;
    if (op == OP_ACCEPT) {
        sqe->op_flags = SOCK_CLOEXEC;
        sqe->ioprio = MUX__ACCEPT_MULTISHOT;
    }
}

static void arm_accept(void) { prep(OP_ACCEPT, lfd, NULL, 0, ACCEPT); }

static void conn_close(int fd)
{
    free(conns[fd]);
    conns[fd] = NULL;
    close(fd);
    nopen--;
    if (accept_paused) {            /* an fd is free again: accept again */
        accept_paused = 0;
        arm_accept();
    }
}

static void on_accept(int res, unsigned flags)
{
    if (res >= 0) {
        int fd = res;
        if ((size_t)fd >= nconns) {
            size_t n = nconns ? nconns : 1024;
            while (n <= (size_t)fd) n *= 2;
            conn_t **c = realloc(conns, n * sizeof *c);
            if (!c) { close(fd); goto rearm; }
            memset(c + nconns, 0, (n - nconns) * sizeof *c);
            conns = c;
            nconns = n;
        }
        conns[fd] = malloc(sizeof(conn_t));
        if (!conns[fd]) { close(fd); goto rearm; }
        nopen++;
        prep(OP_RECV, fd, conns[fd]->data, BUF_SIZE, RECV);
    }
rearm:
    if (flags & CQE_F_MORE) return;
    /* The multishot accept ended: re-arm, unless out of fds (then after
     * the next close, so that EMFILE does not spin). */
    if ((res == -EMFILE || res == -ENFILE) && nopen > 0) accept_paused = 1;
    else arm_accept();
}

static void on_recv(int fd, int res)
{
    conn_t *c = conns[fd];
    if (res <= 0) { conn_close(fd); return; }   /* EOF (all echoed by then), reset, error */
    if (upper) upcase((unsigned char *)c->data, (size_t)res);
    c->off = 0;
    c->len = (size_t)res;
    prep(OP_SEND, fd, c->data, c->len, SEND);
}

static void on_send(int fd, int res)
{
    conn_t *c = conns[fd];
    if (res < 0) { conn_close(fd); return; }
    c->off += (size_t)res;
    if (c->off < c->len) prep(OP_SEND, fd, c->data + c->off, c->len - c->off, SEND);
    else prep(OP_RECV, fd, c->data, BUF_SIZE, RECV);
}

/* Reads the ready CQEs (acquire on the tail, then the entries), handles
 * each, then gives the slots back (release on the head). */
static void reap(void)
{
    unsigned head = *ring.cq_head;
    unsigned tail = __atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE);
    for (; head != tail; head++) {
        struct mux__cqe cqe = ring.cqes[head & ring.cq_mask];
        int fd = (int)(cqe.user_data >> 2);
        switch (cqe.user_data & 3) {
        case ACCEPT: on_accept(cqe.res, cqe.flags); break;
        case RECV: on_recv(fd, cqe.res); break;
        case SEND: on_send(fd, cqe.res); break;
        }
    }
    __atomic_store_n(ring.cq_head, head, __ATOMIC_RELEASE);
}

int main(int argc, char **argv)
{
    server_args_t args;
    int rc = parse_args(argc, argv, "c_uring_echo", &args);
    if (rc) return rc;
    upper = args.upper;
    prepare_process(on_signal);
    lfd = listen_on(&args, 0, "c_uring_echo");
    if (lfd < 0) return lfd == -2 ? 2 : 1;
    if (ring_setup() < 0) { perror("c_uring_echo: io_uring_setup"); return 1; }
    arm_accept();
    printf("listening on %s:%d\n", args.host, args.port);
    fflush(stdout);

    while (!stop) {
        rc = submit_and_wait(1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
            fprintf(stderr, "c_uring_echo: io_uring_enter: %s\n", strerror(-rc));
            return 1;
        }
        reap();
    }
    /* Closing the ring cancels what is in flight, but asynchronously: the
     * buffers are left to the exit, after which nothing can write into them. */
    close(ring.fd);
    for (size_t fd = 0; fd < nconns; fd++)
        if (conns[fd]) close((int)fd);
    close(lfd);
    return 0;
}
