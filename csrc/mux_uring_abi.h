/* mux_uring_abi.h - the part of the kernel's io_uring ABI mux_uring.c uses:
 * structure layouts, flag values and the three system calls.
 *
 * Written out here instead of taken from <linux/io_uring.h>, so that pymux
 * builds with any (or no) kernel header and still uses what the running
 * kernel has: these values and layouts are ABI and never change. Where the
 * installed header exists, the layouts are checked against it at compile
 * time. Only the fields pymux fills or reads are named.
 */
#ifndef MUX_URING_ABI_H
#define MUX_URING_ABI_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* io_uring_setup's parameters and the offsets of the mapped rings' fields. */
struct mux__sqring_offsets {
    uint32_t head, tail, ring_mask, ring_entries, flags, dropped, array, resv1;
    uint64_t resv2;
};

struct mux__cqring_offsets {
    uint32_t head, tail, ring_mask, ring_entries, overflow, cqes, flags, resv1;
    uint64_t resv2;
};

struct mux__uring_params {
    uint32_t sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle;
    uint32_t features, wq_fd, resv[3];
    struct mux__sqring_offsets sq_off;
    struct mux__cqring_offsets cq_off;
};

/* A submission queue entry (64 bytes). op_flags is the per-operation
 * flags word (msg_flags, accept_flags, poll32_events, timeout_flags,
 * cancel_flags, ...). */
struct mux__sqe {
    uint8_t opcode, flags;
    uint16_t ioprio;
    int32_t fd;
    uint64_t off;
    uint64_t addr;
    uint32_t len;
    uint32_t op_flags;
    uint64_t user_data;
    uint16_t buf_index, personality;
    int32_t splice_fd_in;
    uint64_t pad[2];
};

struct mux__cqe {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
};

struct mux__probe_op {
    uint8_t op, resv;
    uint16_t flags;
    uint32_t resv2;
};

struct mux__probe {
    uint8_t last_op, ops_len;
    uint16_t resv;
    uint32_t resv2[3];
    struct mux__probe_op ops[256];
};

struct mux__kernel_timespec {
    int64_t tv_sec;
    long long tv_nsec;
};

/* A provided-buffer ring's entry; the ring's tail overlays the first
 * entry's resv field (IORING_REGISTER_PBUF_RING, 5.19). */
struct mux__buf {
    uint64_t addr;
    uint32_t len;
    uint16_t bid, resv;
};

struct mux__buf_reg {
    uint64_t ring_addr;
    uint32_t ring_entries;
    uint16_t bgid, flags;
    uint64_t resv[3];
};

/* io_uring_enter's argument with IORING_ENTER_EXT_ARG. */
struct mux__getevents_arg {
    uint64_t sigmask;
    uint32_t sigmask_sz, pad;
    uint64_t ts;
};

enum {
    MUX__SETUP_SUBMIT_ALL = 1u << 7,     /* keep submitting past a failed SQE (5.18) */
    MUX__FEAT_SINGLE_MMAP = 1u << 0,
    MUX__FEAT_NODROP = 1u << 1,
    MUX__FEAT_EXT_ARG = 1u << 8,
    MUX__SQ_CQ_OVERFLOW = 1u << 1,       /* sq flags: completions wait in the kernel */
    MUX__ENTER_GETEVENTS = 1u << 0,
    MUX__ENTER_EXT_ARG = 1u << 3,
    MUX__REGISTER_PROBE = 8,
    MUX__OP_SUPPORTED = 1u << 0,
    MUX__POLL_ADD_MULTI = 1u << 0,       /* in sqe.len */
    MUX__ACCEPT_MULTISHOT = 1u << 0,     /* in sqe.ioprio */
    MUX__ASYNC_CANCEL_ALL = 1u << 0,     /* cancel_flags: every match, not the first */
    MUX__ASYNC_CANCEL_FD = 1u << 1,      /* cancel_flags: match by fd (5.19) */
    MUX__ASYNC_CANCEL_ANY = 1u << 2,     /* cancel_flags: every request (5.19) */
    MUX__REGISTER_PBUF_RING = 22,
    MUX__SQE_BUFFER_SELECT = 1u << 5,    /* sqe.flags: take a provided buffer */
    MUX__RECV_MULTISHOT = 1u << 1,       /* in sqe.ioprio (6.0) */
    MUX__CQE_F_BUFFER = 1u << 0,         /* the buffer id is in flags >> 16 */
    MUX__CQE_BUFFER_SHIFT = 16
};

/* mmap offsets of the rings and the SQE array. */
#define MUX__OFF_SQ_RING 0ULL
#define MUX__OFF_CQ_RING 0x8000000ULL
#define MUX__OFF_SQES 0x10000000ULL

/* Checked against the installed header, where there is one. */
#if defined(__has_include)
#if __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
_Static_assert(sizeof(struct mux__uring_params) == sizeof(struct io_uring_params), "params");
_Static_assert(offsetof(struct mux__uring_params, cq_off.cqes)
               == offsetof(struct io_uring_params, cq_off.cqes), "cq_off");
_Static_assert(offsetof(struct mux__uring_params, features)
               == offsetof(struct io_uring_params, features), "features");
_Static_assert(sizeof(struct mux__sqe) == sizeof(struct io_uring_sqe), "sqe");
_Static_assert(offsetof(struct mux__sqe, user_data)
               == offsetof(struct io_uring_sqe, user_data), "sqe.user_data");
_Static_assert(offsetof(struct mux__sqe, op_flags)
               == offsetof(struct io_uring_sqe, msg_flags), "sqe.op_flags");
_Static_assert(sizeof(struct mux__cqe) == sizeof(struct io_uring_cqe), "cqe");
_Static_assert(sizeof(struct mux__buf) == 16 && sizeof(struct mux__buf_reg) == 40, "pbuf");
_Static_assert(MUX__FEAT_EXT_ARG == IORING_FEAT_EXT_ARG, "IORING_FEAT_EXT_ARG");
_Static_assert(MUX__OFF_SQES == IORING_OFF_SQES, "IORING_OFF_SQES");
#endif
#endif

/* The system calls; -ENOSYS where the C library does not know them. */
static inline int mux__io_uring_setup(unsigned entries, struct mux__uring_params *p)
{
#ifdef __NR_io_uring_setup
    long rc = syscall(__NR_io_uring_setup, entries, p);
    return rc < 0 ? -errno : (int)rc;
#else
    return -ENOSYS;
#endif
}

static inline int mux__io_uring_enter(int fd, unsigned to_submit, unsigned min_complete,
                                      unsigned flags, const void *arg, size_t argsz)
{
#ifdef __NR_io_uring_enter
    long rc = syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, argsz);
    return rc < 0 ? -errno : (int)rc;
#else
    return -ENOSYS;
#endif
}

static inline int mux__io_uring_register(int fd, unsigned opcode, void *arg, unsigned nr_args)
{
#ifdef __NR_io_uring_register
    long rc = syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);
    return rc < 0 ? -errno : (int)rc;
#else
    return -ENOSYS;
#endif
}

#endif
