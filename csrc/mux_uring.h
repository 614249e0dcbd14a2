/* mux_uring.h - an io_uring ring driven directly: prepare operations,
 * submit them, wait for and harvest their completions.
 *
 * No liburing: the ring is made with the raw io_uring_setup/enter/register
 * system calls and mapped by hand (mux_uring.c), so the build needs nothing
 * beyond a C compiler and the kernel's UAPI header (and without that header
 * every function returns -ENOSYS).
 *
 * Pull, not push, as in the loop core: mux_uring_wait() submits what was
 * prepared, waits, and copies up to one CQ's worth of completions into the
 * ring's output array as MUX_URING_CQE_INTS int64s each: (user_data, res,
 * flags), res being the operation's result or -errno. One call per batch.
 *
 * Memory the kernel reads or writes (recv and send buffers) is the
 * caller's and must stay valid until the operation's final completion: the
 * one without MUX_URING_CQE_F_MORE (single-shot operations have exactly
 * one). mux_uring_close() cancels what is still in flight and waits for
 * those completions, so that nothing writes into the caller's memory after
 * it returns 0; it returns the count it could not collect otherwise.
 *
 * Every function returns >= 0 or -errno and checks every fd, size and
 * pointer it is given; none prints or aborts. A ring belongs to one thread
 * at a time: a call made while another thread is inside one gets
 * -EINPROGRESS. In a child forked after the ring was made every function
 * but mux_uring_close/mux_uring_free returns -ECHILD (the ring is shared
 * with the parent), and those two release only the child's copies.
 *
 * This header is also the cffi declaration (see pymux/_build.py).
 */
#ifndef MUX_URING_H
#define MUX_URING_H

#include <stdint.h>

typedef struct mux_uring mux_uring_t;

/* The operations, numbered as the kernel numbers them (IORING_OP_*: ABI,
 * so mux_uring_supports() takes the same values). */
enum mux_uring_op {
    MUX_URING_OP_NOP = 0,
    MUX_URING_OP_READ_FIXED = 4,
    MUX_URING_OP_WRITE_FIXED = 5,
    MUX_URING_OP_POLL_ADD = 6,
    MUX_URING_OP_TIMEOUT = 11,
    MUX_URING_OP_ACCEPT = 13,
    MUX_URING_OP_ASYNC_CANCEL = 14,
    MUX_URING_OP_SEND = 26,
    MUX_URING_OP_RECV = 27
};

/* What a kernel may lack for mux_uring_new to succeed (its `missing`
 * out-parameter is a mask of these when it fails with -EOPNOTSUPP). */
enum mux_uring_need {
    MUX_URING_NEED_NODROP = 1,     /* IORING_FEAT_NODROP (5.5) */
    MUX_URING_NEED_EXT_ARG = 2,    /* IORING_FEAT_EXT_ARG: wait timeouts (5.11) */
    MUX_URING_NEED_PROBE = 4,      /* IORING_REGISTER_PROBE (5.6) */
    MUX_URING_NEED_OPS = 8         /* one of enum mux_uring_op's operations */
};

enum {
    MUX_URING_CQE_F_BUFFER = 1,    /* IORING_CQE_F_BUFFER: a provided buffer holds the data */
    MUX_URING_CQE_BUFFER_SHIFT = 16, /* its id is flags >> this */
    MUX_URING_MAX_BUFFERS = 32768, /* most provided buffers */
    MUX_URING_CQE_F_MORE = 2,      /* IORING_CQE_F_MORE: more completions follow */
    MUX_URING_CQE_INTS = 3,        /* int64s per harvested completion */
    MUX_URING_MAX_ENTRIES = 4096,  /* most SQ entries (the CQ has twice as many) */
    MUX_URING_MAX_IO = 1073741824  /* most bytes one recv or send may name */
};

/* Makes a ring of `entries` submission slots (1 .. MUX_URING_MAX_ENTRIES,
 * rounded up to a power of two by the kernel) and twice as many completion
 * slots. On failure returns NULL with -errno in *err: -ENOSYS (no io_uring
 * in this kernel), -EPERM (refused: kernel.io_uring_disabled, a seccomp
 * filter or an LSM), -EOPNOTSUPP with *missing telling what the kernel
 * lacks, -EINVAL for entries out of range. */
mux_uring_t *mux_uring_new(int entries, int *err, unsigned *missing);

/* Cancels every operation in flight and waits (about a second at most)
 * for their completions, then unmaps and closes the ring; prepared but
 * unsubmitted operations are dropped. Returns 0, or the number of
 * operations whose completions never came (their memory must then be kept
 * forever), or -EINPROGRESS. Later calls return -EBADF; closing again
 * returns 0. */
int mux_uring_close(mux_uring_t *r);

/* Closes (if still open) and frees. NULL is accepted. */
void mux_uring_free(mux_uring_t *r);

int mux_uring_fileno(const mux_uring_t *r);
int mux_uring_sq_entries(const mux_uring_t *r);
int mux_uring_cq_entries(const mux_uring_t *r);
int64_t mux_uring_features(const mux_uring_t *r);    /* IORING_FEAT_* bits */

/* 1 if the kernel supports the operation (IORING_REGISTER_PROBE), else 0. */
int mux_uring_supports(const mux_uring_t *r, int op);

/* The output array: MUX_URING_CQE_INTS * mux_uring_cq_entries() int64s,
 * filled by mux_uring_wait(). It never moves. */
int64_t *mux_uring_completions(mux_uring_t *r);

/* Preparation: each takes one submission slot and returns 0, or -EBUSY
 * when every slot holds a prepared or not yet consumed operation
 * (submit, then prepare again). user_data (>= 0) comes back in the
 * operation's completions. fds must be in [0, MUX_MAX_FD) (else -EBADF);
 * an fd that is not open gets res -EBADF in its completion. */
int mux_uring_prep_nop(mux_uring_t *r, int64_t user_data);

/* accept4(fd, NULL, NULL, flags | SOCK_CLOEXEC); flags: 0 or SOCK_NONBLOCK.
 * multishot: one completion per connection, res the new fd (kernel 5.19). */
int mux_uring_prep_accept(mux_uring_t *r, int fd, int flags, int multishot,
                          int64_t user_data);

/* recv/send of len bytes (<= MUX_URING_MAX_IO) at buf, which must stay
 * valid until the completion. send always adds MSG_NOSIGNAL. */
int mux_uring_prep_recv(mux_uring_t *r, int fd, void *buf, int64_t len, int flags,
                        int64_t user_data);
int mux_uring_prep_send(mux_uring_t *r, int fd, const void *buf, int64_t len,
                        int flags, int64_t user_data);

/* poll(2) events (POLLIN, ...); res is the ready mask. multishot: a
 * completion each time the fd becomes ready (kernel 5.13). */
int mux_uring_prep_poll(mux_uring_t *r, int fd, int events, int multishot,
                        int64_t user_data);

/* Completes with -ETIME after timeout_ns (>= 0), or with 0 once `count`
 * (> 0) other operations have completed first. */
int mux_uring_prep_timeout(mux_uring_t *r, int64_t timeout_ns, int count,
                           int64_t user_data);

/* Cancels the operation with user_data `target`: res 0 if it was found
 * (it then completes with -ECANCELED), -ENOENT if not, -EALREADY if it is
 * already running. */
int mux_uring_prep_cancel(mux_uring_t *r, int64_t target, int64_t user_data);

/* Provided buffers (Linux 5.19): `count` (a power of two, 1 ..
 * MUX_URING_MAX_BUFFERS) buffers of `size` bytes (count * size <=
 * MUX_URING_MAX_IO) in one pool the ring owns, handed to the kernel as
 * buffer group 0 so that a recv takes one only when data arrives: memory
 * for data in flight, not for every idle connection. Once per ring
 * (-EEXIST after). */
int mux_uring_setup_buffers(mux_uring_t *r, int count, int size);

/* The pool: buffer i is at i * size. NULL before setup; never moves; freed
 * with the ring. */
char *mux_uring_buffer_pool(mux_uring_t *r);

/* Multishot recv into provided buffers (Linux 6.0; -EINVAL before
 * mux_uring_setup_buffers): a completion each time data arrives, res bytes
 * in the buffer whose id is flags >> MUX_URING_CQE_BUFFER_SHIFT (with
 * MUX_URING_CQE_F_BUFFER). The data stays there until the next
 * mux_uring_wait, which gives the buffer back to the kernel. It ends
 * (no MUX_URING_CQE_F_MORE) at end of stream (res 0), on error, and with
 * -ENOBUFS when every buffer is taken: prepare it again then. */
int mux_uring_prep_recv_multishot(mux_uring_t *r, int fd, int64_t user_data);

/* Submits what was prepared; returns how many operations the kernel took. */
int mux_uring_submit(mux_uring_t *r);

/* Submits what was prepared, waits up to timeout_us microseconds (< 0:
 * forever) until at least min_complete (0 .. cq entries) completions are
 * ready, and harvests all that are ready into the output array. Returns
 * their count: fewer than min_complete when the timeout expired or a
 * signal came after some had arrived; -EINTR when a signal interrupted a
 * wait that found none (the caller runs its handlers and retries with the
 * remaining time). */
int mux_uring_wait(mux_uring_t *r, int min_complete, int64_t timeout_us);

/* --- io_uring_register(2) (mux_uring_register.c) --------------------------
 * The opcodes mux_uring_register takes, numbered as the kernel numbers them
 * (IORING_REGISTER_*: ABI). The provided-buffer ring
 * (IORING_REGISTER_PBUF_RING) is mux_uring_setup_buffers: the kernel keeps
 * its address, so the ring owns that memory. */
enum mux_uring_register_op {
    MUX_URING_REGISTER_BUFFERS = 0,
    MUX_URING_UNREGISTER_BUFFERS = 1,
    MUX_URING_REGISTER_FILES = 2,
    MUX_URING_UNREGISTER_FILES = 3,
    MUX_URING_REGISTER_EVENTFD = 4,
    MUX_URING_UNREGISTER_EVENTFD = 5,
    MUX_URING_REGISTER_PROBE = 8,
    MUX_URING_REGISTER_PBUF_RING = 22
};

enum {
    MUX_URING_MAX_FIXED_BUFFERS = 16384,   /* the kernel's IORING_MAX_REG_BUFFERS */
    MUX_URING_MAX_FIXED_FILES = 1048576,   /* the kernel's IORING_MAX_FIXED_FILES */
    MUX_URING_MAX_PROBE_OPS = 256,         /* opcodes are a byte */
    MUX_URING_SQE_FIXED_FILE = 1           /* IOSQE_FIXED_FILE: fd is a registered file's index */
};

/* A fixed buffer for MUX_URING_REGISTER_BUFFERS (struct iovec's job). */
struct mux_uring_iovec {
    void *base;
    int64_t len;
};

/* io_uring_register(2) on the ring's fd, its argument checked first:
 *   REGISTER_PROBE    arg: uint8_t[nr_args] (1 .. MUX_URING_MAX_PROBE_OPS),
 *                     set to 1 where operation i is supported, else 0;
 *                     returns how many opcodes the kernel knows.
 *   REGISTER_BUFFERS  arg: struct mux_uring_iovec[nr_args] (1 ..
 *                     MUX_URING_MAX_FIXED_BUFFERS), each base non-NULL and
 *                     len 1 .. MUX_URING_MAX_IO. The kernel pins their pages
 *                     until UNREGISTER_BUFFERS or close: the caller keeps
 *                     the memory allocated, unmoved, that long, and while
 *                     a fixed operation on it is in flight.
 *   REGISTER_FILES    arg: int[nr_args] (1 .. MUX_URING_MAX_FIXED_FILES):
 *                     fds, or -1 for an empty slot (the kernel takes its
 *                     own references: closing an fd later does not matter).
 *   REGISTER_EVENTFD  arg: int[1], an eventfd, nr_args 1: the kernel adds
 *                     to it on each completion.
 *   UNREGISTER_*      arg NULL, nr_args 0. (Older kernels make
 *                     UNREGISTER_BUFFERS and _FILES wait until the fixed
 *                     operations in flight complete.)
 * Returns the kernel's answer: 0, or -errno (-EBUSY: already registered,
 * -ENXIO: nothing to unregister); -EINVAL for another opcode or a bad
 * nr_args, -EFAULT for a NULL arg, -EBADF for an fd out of range. */
int mux_uring_register(mux_uring_t *r, int opcode, void *arg, int nr_args);

/* IORING_OP_READ_FIXED / WRITE_FIXED: read into / write from registered
 * buffer `index`, len bytes from byte `offset` of it (offset + len within
 * it, else -EINVAL), at file_offset (-1: the file's position, and what
 * sockets and pipes use). */
int mux_uring_prep_read_fixed(mux_uring_t *r, int fd, int index, int64_t offset,
                              int64_t len, int64_t file_offset, int64_t user_data);
int mux_uring_prep_write_fixed(mux_uring_t *r, int fd, int index, int64_t offset,
                               int64_t len, int64_t file_offset, int64_t user_data);

/* liburing's io_uring_sqe_set_flags: adds SQE flags (MUX_URING_SQE_FIXED_FILE
 * only) to the operation prepared last, before it is submitted (-EINVAL if
 * there is none, or for other flags). */
int mux_uring_sqe_set_flags(mux_uring_t *r, int flags);

#endif
