/* mux_uring_prep.c - filling SQEs (mux_uring.h's mux_uring_prep_*): each
 * checks its arguments, takes the next free slot and describes one
 * operation in it. Nothing reaches the kernel before a submit or a wait.
 */
#include <poll.h>
#include <sys/socket.h>

#include "mux_common.h"
#include "mux_uring_internal.h"

static int check_user_data(int64_t user_data)
{
    return user_data < 0 ? -EINVAL : 0;
}

/* An operation on fd: both in range. */
static int check_fd_op(int fd, int64_t user_data)
{
    return fd < 0 || fd >= MUX_MAX_FD ? -EBADF : check_user_data(user_data);
}

static int check_buffer(const void *buf, int64_t len)
{
    if (len < 0 || len > MUX_URING_MAX_IO)
        return -EINVAL;
    return buf == NULL && len > 0 ? -EFAULT : 0;
}

/* The SQE for one operation on fd, or -errno. */
static int take(mux_uring_t *r, int opcode, int fd, int64_t user_data,
                struct mux__sqe **out)
{
    struct mux__sqe *sqe = mux__uring_next_sqe(r);

    if (sqe == NULL)
        return -EBUSY;
    sqe->opcode = (uint8_t)opcode;
    sqe->fd = fd;
    sqe->user_data = (uint64_t)user_data;
    *out = sqe;
    return 0;
}

int mux__uring_prep_nop(mux_uring_t *r, int64_t user_data)
{
    struct mux__sqe *sqe;

    return take(r, MUX_URING_OP_NOP, -1, user_data, &sqe);
}

int mux_uring_prep_nop(mux_uring_t *r, int64_t user_data)
{
    int rc = check_user_data(user_data);

    return rc < 0 ? rc : MUX__URING_HOLDING(r, mux__uring_prep_nop(r, user_data));
}

int mux__uring_prep_accept(mux_uring_t *r, int fd, int flags, int multishot,
                           int64_t user_data)
{
    struct mux__sqe *sqe;
    int rc = take(r, MUX_URING_OP_ACCEPT, fd, user_data, &sqe);

    if (rc == 0) {
        sqe->op_flags = (uint32_t)(flags | SOCK_CLOEXEC);
        sqe->ioprio = multishot ? MUX__ACCEPT_MULTISHOT : 0;
    }
    return rc;
}

int mux_uring_prep_accept(mux_uring_t *r, int fd, int flags, int multishot,
                          int64_t user_data)
{
    int rc = check_fd_op(fd, user_data);

    if (rc == 0 && (flags & ~SOCK_NONBLOCK) != 0)
        rc = -EINVAL;
    return rc < 0 ? rc
        : MUX__URING_HOLDING(r, mux__uring_prep_accept(r, fd, flags, multishot, user_data));
}

int mux__uring_prep_io(mux_uring_t *r, int opcode, int fd, const void *buf, int64_t len,
                   int flags, int64_t user_data)
{
    struct mux__sqe *sqe;
    int rc = take(r, opcode, fd, user_data, &sqe);

    if (rc == 0) {
        sqe->addr = (uint64_t)(uintptr_t)buf;
        sqe->len = (uint32_t)len;
        sqe->op_flags = (uint32_t)flags;
    }
    return rc;
}

static int check_io(int fd, const void *buf, int64_t len, int64_t user_data)
{
    int rc = check_fd_op(fd, user_data);

    return rc < 0 ? rc : check_buffer(buf, len);
}

int mux_uring_prep_recv(mux_uring_t *r, int fd, void *buf, int64_t len, int flags,
                        int64_t user_data)
{
    int rc = check_io(fd, buf, len, user_data);

    return rc < 0 ? rc
        : MUX__URING_HOLDING(r, mux__uring_prep_io(r, MUX_URING_OP_RECV, fd, buf, len, flags,
                                                   user_data));
}

int mux_uring_prep_send(mux_uring_t *r, int fd, const void *buf, int64_t len, int flags,
                        int64_t user_data)
{
    int rc = check_io(fd, buf, len, user_data);

    return rc < 0 ? rc
        : MUX__URING_HOLDING(r, mux__uring_prep_io(r, MUX_URING_OP_SEND, fd, buf, len,
                                                   flags | MSG_NOSIGNAL, user_data));
}

int mux__uring_prep_poll(mux_uring_t *r, int fd, int events, int multishot,
                         int64_t user_data)
{
    struct mux__sqe *sqe;
    int rc = take(r, MUX_URING_OP_POLL_ADD, fd, user_data, &sqe);
    uint32_t mask = (uint32_t)events;

    if (rc == 0) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        mask = (mask << 16) | (mask >> 16);   /* poll32_events is word-swapped there */
#endif
        sqe->op_flags = mask;
        sqe->len = multishot ? MUX__POLL_ADD_MULTI : 0;
    }
    return rc;
}

int mux_uring_prep_poll(mux_uring_t *r, int fd, int events, int multishot,
                        int64_t user_data)
{
    int rc = check_fd_op(fd, user_data);

    if (rc == 0 && events & ~0xffff)   /* poll(2)'s events are a short */
        rc = -EINVAL;
    return rc < 0 ? rc
        : MUX__URING_HOLDING(r, mux__uring_prep_poll(r, fd, events, multishot, user_data));
}

int mux__uring_prep_timeout(mux_uring_t *r, int64_t timeout_ns, int count,
                            int64_t user_data)
{
    struct mux__sqe *sqe;
    int rc = take(r, MUX_URING_OP_TIMEOUT, -1, user_data, &sqe);
    struct mux__kernel_timespec *ts;

    if (rc == 0) {
        ts = &r->timespecs[sqe - r->sqes];
        ts->tv_sec = timeout_ns / 1000000000;
        ts->tv_nsec = timeout_ns % 1000000000;
        sqe->addr = (uint64_t)(uintptr_t)ts;
        sqe->len = 1;               /* one timespec */
        sqe->off = (uint64_t)count;
    }
    return rc;
}

int mux_uring_prep_timeout(mux_uring_t *r, int64_t timeout_ns, int count,
                           int64_t user_data)
{
    int rc = check_user_data(user_data);

    if (rc == 0 && (timeout_ns < 0 || count < 0))
        rc = -EINVAL;
    return rc < 0 ? rc
        : MUX__URING_HOLDING(r, mux__uring_prep_timeout(r, timeout_ns, count, user_data));
}

int mux__uring_prep_cancel(mux_uring_t *r, int64_t target, int64_t user_data)
{
    struct mux__sqe *sqe;
    int rc = take(r, MUX_URING_OP_ASYNC_CANCEL, -1, user_data, &sqe);

    if (rc == 0)
        sqe->addr = (uint64_t)target;
    return rc;
}

int mux_uring_prep_cancel(mux_uring_t *r, int64_t target, int64_t user_data)
{
    int rc = check_user_data(user_data);

    if (rc == 0)
        rc = check_user_data(target);
    return rc < 0 ? rc : MUX__URING_HOLDING(r, mux__uring_prep_cancel(r, target, user_data));
}

/* Cancels every operation on fd (IORING_ASYNC_CANCEL_FD|ALL, Linux 5.19).
 * The kernel finds them by the file fd names when it consumes this SQE, so
 * fd must still be open then: submit before closing it. */
int mux__uring_prep_cancel_fd(mux_uring_t *r, int fd, int64_t user_data)
{
    struct mux__sqe *sqe;
    int rc = take(r, MUX_URING_OP_ASYNC_CANCEL, fd, user_data, &sqe);

    if (rc == 0)
        sqe->op_flags = MUX__ASYNC_CANCEL_FD | MUX__ASYNC_CANCEL_ALL;
    return rc;
}

int mux__uring_prep_recv_multishot(mux_uring_t *r, int fd, int64_t user_data)
{
    struct mux__sqe *sqe;
    int rc;

    if (r->pool == NULL)
        return -EINVAL;   /* no provided buffers to take */
    if ((rc = take(r, MUX_URING_OP_RECV, fd, user_data, &sqe)) == 0) {
        sqe->flags = MUX__SQE_BUFFER_SELECT;
        sqe->buf_index = 0;   /* as buf_group: group 0 */
        sqe->ioprio = MUX__RECV_MULTISHOT;
    }
    return rc;
}

int mux_uring_prep_recv_multishot(mux_uring_t *r, int fd, int64_t user_data)
{
    int rc = check_fd_op(fd, user_data);

    return rc < 0 ? rc : MUX__URING_HOLDING(r, mux__uring_prep_recv_multishot(r, fd, user_data));
}
