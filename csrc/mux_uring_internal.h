/* mux_uring_internal.h - the ring's state and what mux_uring.c and
 * mux_uring_prep.c share. Not a cffi declaration.
 */
#ifndef MUX_URING_INTERNAL_H
#define MUX_URING_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mux_fork.h"
#include "mux_uring.h"
#include "mux_uring_abi.h"

/* The kernel and this process share the rings' head and tail words. The
 * side that publishes stores with release ordering (the SQEs we wrote, the
 * CQEs we finished reading, become visible before the index that hands
 * them over); the side that consumes loads with acquire ordering (what the
 * index covers is read only after the index). */
static inline unsigned mux__load_acquire(const unsigned *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void mux__store_release(unsigned *p, unsigned v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* A user_data the caller cannot give (they are >= 0): the close-time
 * cancellation's, whose completion nobody is told about. */
#define MUX__UD_INTERNAL UINT64_MAX

struct mux_uring {
    int fd;                      /* the ring's fd; -1 once closed */
    atomic_int busy;             /* a thread is inside a call */
    unsigned forks;              /* mux__fork_generation() when made */
    unsigned features;           /* IORING_FEAT_* */
    int64_t inflight;            /* prepared operations without their final completion */
    int64_t uncollected;         /* of those, what close could not collect */

    unsigned *sq_khead, *sq_ktail, *sq_kflags, *sq_array;
    unsigned sq_mask, sq_entries;
    unsigned sq_tail;            /* next slot to prepare */
    unsigned sq_published;       /* the tail the kernel was given */
    struct mux__sqe *sqes;

    unsigned *cq_khead, *cq_ktail;
    unsigned cq_mask, cq_entries;
    struct mux__cqe *cqes;

    void *sq_map, *cq_map;       /* cq_map == sq_map with IORING_FEAT_SINGLE_MMAP */
    size_t sq_map_len, cq_map_len, sqes_len;

    /* One per SQ slot: a timeout's time, which the kernel reads when it
     * consumes the SQE (the slot is not reused before). */
    struct mux__kernel_timespec *timespecs;
    int64_t *out;                /* MUX_URING_CQE_INTS * cq_entries */
    uint8_t ops[32];             /* bitmap of the operations the kernel has */

    /* Provided buffers (mux_uring_buffers.c), once set up: */
    char *pool;                  /* buf_count buffers of buf_size bytes */
    struct mux__buf *buf_ring;   /* shared with the kernel (page-aligned mmap) */
    unsigned buf_count, buf_size;
    uint16_t buf_tail;           /* the tail the kernel was last given */
    uint16_t *lent;              /* ids reported by the last wait: back to the kernel next */
    unsigned nlent;

    /* Registered (fixed) buffers (mux_uring_register.c): the caller's. */
    struct mux_uring_iovec *fixed;
    unsigned nfixed;
};

/* Every public entry point holds the ring while it runs. A NULL ring gives
 * -EINVAL, one made before this process forked -ECHILD, one held by
 * another thread -EINPROGRESS, a closed one -EBADF. */
static inline int mux__uring_hold(mux_uring_t *r)
{
    if (r == NULL)
        return -EINVAL;
    if (r->forks != mux__fork_generation())
        return -ECHILD;
    if (atomic_exchange(&r->busy, 1))
        return -EINPROGRESS;
    if (r->fd < 0) {
        atomic_store(&r->busy, 0);
        return -EBADF;
    }
    return 0;
}

static inline void mux__uring_release(mux_uring_t *r)
{
    atomic_store(&r->busy, 0);
}

#define MUX__URING_HOLDING(r, call) __extension__ ({                    \
        int mux__rc = mux__uring_hold(r);                               \
        if (mux__rc == 0) {                                             \
            mux__rc = (call);                                           \
            mux__uring_release(r);                                      \
        }                                                               \
        mux__rc;                                                        \
    })

/* A zeroed SQE in the next free slot, or NULL when every slot is taken. */
struct mux__sqe *mux__uring_next_sqe(mux_uring_t *r);

/* IORING_REGISTER_PROBE on the ring's fd: the supported operations'
 * bitmap into ops (zeroed first); returns how many opcodes the kernel
 * knows, or -errno. */
int mux__uring_probe(int fd, uint8_t ops[32]);

/* mux_uring_register.c: forgets the registered buffers' table. */
void mux__uring_free_registered(mux_uring_t *r);

/* The unchecked halves of mux_uring.h's functions, for the loop core
 * (mux_loop_uring.c), which checks its own arguments and holds its ring
 * itself. Each returns as its public counterpart does. */
int mux__uring_submit(mux_uring_t *r);
/* Harvests at most max completions; the rest stay in the CQ for the next
 * call. */
int mux__uring_wait(mux_uring_t *r, int min_complete, int64_t timeout_us, int max);
int mux__uring_prep_accept(mux_uring_t *r, int fd, int flags, int multishot,
                           int64_t user_data);
int mux__uring_prep_io(mux_uring_t *r, int opcode, int fd, const void *buf, int64_t len,
                       int flags, int64_t user_data);
int mux__uring_prep_poll(mux_uring_t *r, int fd, int events, int multishot,
                         int64_t user_data);
int mux__uring_prep_cancel(mux_uring_t *r, int64_t target, int64_t user_data);
int mux__uring_prep_cancel_fd(mux_uring_t *r, int fd, int64_t user_data);
int mux__uring_prep_recv_multishot(mux_uring_t *r, int fd, int64_t user_data);

/* mux_uring_buffers.c: a completion took provided buffer `bid`, which goes
 * back to the kernel at the next mux__uring_give_back (the next wait). */
void mux__uring_lent(mux_uring_t *r, unsigned bid);
void mux__uring_give_back(mux_uring_t *r);
/* Frees the pool, unless `kernel_may_write` (close could not collect every
 * operation): then it is left allocated for the life of the process. */
void mux__uring_free_buffers(mux_uring_t *r, int kernel_may_write);

#endif
