/* mux_uring_register.c - io_uring_register(2) on a ring (mux_uring.h's
 * mux_uring_register): the operation probe, fixed buffers, fixed files and
 * the completion eventfd, each argument checked before the kernel sees it;
 * and what uses them: the fixed-buffer reads and writes and the fixed-file
 * SQE flag.
 *
 * What the kernel keeps after the call returns: the pages of registered
 * buffers (pinned until unregistered or the ring is gone; the caller keeps
 * the memory alive, see mux_uring.h), its own references to registered
 * files and to the eventfd. It copies the fd and iovec arrays, so those
 * are only read during the call.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "mux_common.h"
#include "mux_uring_internal.h"

static int fd_in_range(int fd)
{
    return fd >= 0 && fd < MUX_MAX_FD;
}

static int probe(mux_uring_t *r, uint8_t *supported, int nr_args)
{
    uint8_t ops[32];
    int rc = mux__uring_probe(r->fd, ops), i;

    for (i = 0; rc >= 0 && i < nr_args; i++)
        supported[i] = (ops[i / 8] >> (i % 8)) & 1;
    return rc;
}

static int register_buffers(mux_uring_t *r, const struct mux_uring_iovec *bufs, int n)
{
    struct iovec *iov = calloc((size_t)n, sizeof(*iov));
    struct mux_uring_iovec *table = malloc((size_t)n * sizeof(*table));
    int rc = 0, i;

    for (i = 0; i < n && rc == 0; i++) {
        if (bufs[i].base == NULL)
            rc = -EFAULT;
        else if (bufs[i].len < 1 || bufs[i].len > MUX_URING_MAX_IO)
            rc = -EINVAL;
    }
    if (rc == 0 && (iov == NULL || table == NULL))
        rc = -ENOMEM;
    for (i = 0; i < n && rc == 0; i++) {
        iov[i].iov_base = bufs[i].base;
        iov[i].iov_len = (size_t)bufs[i].len;
        table[i] = bufs[i];
    }
    if (rc == 0)
        rc = mux__io_uring_register(r->fd, MUX_URING_REGISTER_BUFFERS, iov, (unsigned)n);
    free(iov);
    if (rc < 0) {
        free(table);
        return rc;
    }
    free(r->fixed);   /* NULL: the kernel refuses a second set (-EBUSY) */
    r->fixed = table;
    r->nfixed = (unsigned)n;
    return rc;
}

static int unregister_buffers(mux_uring_t *r)
{
    int rc = mux__io_uring_register(r->fd, MUX_URING_UNREGISTER_BUFFERS, NULL, 0);

    if (rc >= 0)
        mux__uring_free_registered(r);
    return rc;
}

static int register_files(mux_uring_t *r, const int *fds, int n)
{
    int i;

    for (i = 0; i < n; i++)
        if (fds[i] != -1 && !fd_in_range(fds[i]))
            return -EBADF;
    return mux__io_uring_register(r->fd, MUX_URING_REGISTER_FILES, (void *)fds, (unsigned)n);
}

static int register_eventfd(mux_uring_t *r, const int *fd)
{
    if (!fd_in_range(*fd))
        return -EBADF;
    return mux__io_uring_register(r->fd, MUX_URING_REGISTER_EVENTFD, (void *)fd, 1);
}

/* The most nr_args each opcode takes (its least is 1; 0 for the
 * unregisters, which take no argument). */
static int max_args(int opcode)
{
    switch (opcode) {
    case MUX_URING_REGISTER_PROBE:
        return MUX_URING_MAX_PROBE_OPS;
    case MUX_URING_REGISTER_BUFFERS:
        return MUX_URING_MAX_FIXED_BUFFERS;
    case MUX_URING_REGISTER_FILES:
        return MUX_URING_MAX_FIXED_FILES;
    case MUX_URING_REGISTER_EVENTFD:
        return 1;
    case MUX_URING_UNREGISTER_BUFFERS:
    case MUX_URING_UNREGISTER_FILES:
    case MUX_URING_UNREGISTER_EVENTFD:
        return 0;
    default:
        return -1;
    }
}

static int register_op(mux_uring_t *r, int opcode, void *arg, int nr_args)
{
    switch (opcode) {
    case MUX_URING_REGISTER_PROBE:
        return probe(r, arg, nr_args);
    case MUX_URING_REGISTER_BUFFERS:
        return register_buffers(r, arg, nr_args);
    case MUX_URING_UNREGISTER_BUFFERS:
        return unregister_buffers(r);
    case MUX_URING_REGISTER_FILES:
        return register_files(r, arg, nr_args);
    case MUX_URING_REGISTER_EVENTFD:
        return register_eventfd(r, arg);
    default:   /* UNREGISTER_FILES, UNREGISTER_EVENTFD: no argument */
        return mux__io_uring_register(r->fd, (unsigned)opcode, NULL, 0);
    }
}

int mux_uring_register(mux_uring_t *r, int opcode, void *arg, int nr_args)
{
    int most = max_args(opcode);

    if (most < 0)
        return -EINVAL;
    if (most == 0 ? nr_args != 0 || arg != NULL : nr_args < 1 || nr_args > most)
        return -EINVAL;
    if (most > 0 && arg == NULL)
        return -EFAULT;
    return MUX__URING_HOLDING(r, register_op(r, opcode, arg, nr_args));
}

void mux__uring_free_registered(mux_uring_t *r)
{
    free(r->fixed);
    r->fixed = NULL;
    r->nfixed = 0;
}

/* --- operations on registered resources ----------------------------------- */

static int prep_fixed(mux_uring_t *r, int opcode, int fd, int index, int64_t offset,
                      int64_t len, int64_t file_offset, int64_t user_data)
{
    struct mux__sqe *sqe;

    if (index < 0 || (unsigned)index >= r->nfixed || offset > r->fixed[index].len - len)
        return -EINVAL;   /* not registered, or beyond the buffer's end */
    if ((sqe = mux__uring_next_sqe(r)) == NULL)
        return -EBUSY;
    sqe->opcode = (uint8_t)opcode;
    sqe->fd = fd;
    sqe->off = (uint64_t)file_offset;
    sqe->addr = (uint64_t)(uintptr_t)((char *)r->fixed[index].base + offset);
    sqe->len = (uint32_t)len;
    sqe->buf_index = (uint16_t)index;
    sqe->user_data = (uint64_t)user_data;
    return 0;
}

static int check_fixed(int fd, int64_t offset, int64_t len, int64_t file_offset,
                       int64_t user_data)
{
    if (!fd_in_range(fd))
        return -EBADF;
    if (offset < 0 || len < 0 || len > MUX_URING_MAX_IO || file_offset < -1 || user_data < 0)
        return -EINVAL;
    return 0;
}

int mux_uring_prep_read_fixed(mux_uring_t *r, int fd, int index, int64_t offset,
                              int64_t len, int64_t file_offset, int64_t user_data)
{
    int rc = check_fixed(fd, offset, len, file_offset, user_data);

    return rc < 0 ? rc : MUX__URING_HOLDING(r, prep_fixed(r, MUX_URING_OP_READ_FIXED, fd, index,
                                                          offset, len, file_offset, user_data));
}

int mux_uring_prep_write_fixed(mux_uring_t *r, int fd, int index, int64_t offset,
                               int64_t len, int64_t file_offset, int64_t user_data)
{
    int rc = check_fixed(fd, offset, len, file_offset, user_data);

    return rc < 0 ? rc : MUX__URING_HOLDING(r, prep_fixed(r, MUX_URING_OP_WRITE_FIXED, fd, index,
                                                          offset, len, file_offset, user_data));
}

static int set_flags(mux_uring_t *r, int flags)
{
    if (r->sq_tail == r->sq_published)
        return -EINVAL;   /* nothing prepared since the last submit */
    r->sqes[(r->sq_tail - 1) & r->sq_mask].flags |= (uint8_t)flags;
    return 0;
}

int mux_uring_sqe_set_flags(mux_uring_t *r, int flags)
{
    if (flags & ~MUX_URING_SQE_FIXED_FILE)
        return -EINVAL;
    return MUX__URING_HOLDING(r, set_flags(r, flags));
}
