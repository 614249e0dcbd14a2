/* mux_uring.c - the io_uring ring of mux_uring.h: setup and mapping, the
 * operation probe, submission, waiting, harvesting, and the close that
 * cancels and collects whatever is still in flight. The SQE preparation
 * lives in mux_uring_prep.c, the provided buffers in mux_uring_buffers.c.
 *
 * Notes about io_uring:
 * a) The rings are shared memory; see mux__load_acquire for the ordering.
 *    The SQ array (slot -> SQE index) is filled once as the identity and
 *    never changed: slot i always names SQE i.
 * b) With IORING_FEAT_NODROP a full CQ does not lose completions: the
 *    kernel keeps them and sets IORING_SQ_CQ_OVERFLOW, and the next
 *    io_uring_enter with GETEVENTS moves them into the ring; wait() enters
 *    the kernel whenever that flag is set.
 * c) io_uring_enter returns how many SQEs it consumed when that is > 0,
 *    hiding a timeout or a signal during its wait; so what to report is
 *    always read from the CQ, never from that return value.
 * d) Closing the ring's fd cancels its requests only asynchronously, so a
 *    recv could still write into memory after close(2) returned. Hence
 *    mux_uring_close cancels (IORING_ASYNC_CANCEL_ANY) and reaps first.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mux_common.h"
#include "mux_uring_internal.h"

enum {
    MUX__URING_REQUIRED_FEATURES = MUX__FEAT_NODROP | MUX__FEAT_EXT_ARG,
    MUX__CLOSE_PATIENCE_MS = 1000,   /* how long close waits for cancellations */
    MUX__CLOSE_SLICE_MS = 100
};

static const int required_ops[] = {
    MUX_URING_OP_NOP, MUX_URING_OP_POLL_ADD, MUX_URING_OP_TIMEOUT, MUX_URING_OP_ACCEPT,
    MUX_URING_OP_ASYNC_CANCEL, MUX_URING_OP_SEND, MUX_URING_OP_RECV,
};

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- setup ---------------------------------------------------------------- */

static void *map_ring(int fd, size_t len, unsigned long long offset)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                   (off_t)offset);
    return p == MAP_FAILED ? NULL : p;
}

static void unmap_rings(mux_uring_t *r)
{
    if (r->sqes != NULL)
        munmap(r->sqes, r->sqes_len);
    if (r->cq_map != NULL && r->cq_map != r->sq_map)
        munmap(r->cq_map, r->cq_map_len);
    if (r->sq_map != NULL)
        munmap(r->sq_map, r->sq_map_len);
    r->sqes = NULL;
    r->sq_map = r->cq_map = NULL;
}

static int map_rings(mux_uring_t *r, const struct mux__uring_params *p)
{
    size_t sq_len = p->sq_off.array + p->sq_entries * sizeof(unsigned);
    size_t cq_len = p->cq_off.cqes + p->cq_entries * sizeof(struct mux__cqe);
    char *sq, *cq;
    unsigned i;

    if (p->features & MUX__FEAT_SINGLE_MMAP) {
        sq_len = cq_len = sq_len > cq_len ? sq_len : cq_len;
        r->sq_map = r->cq_map = map_ring(r->fd, sq_len, MUX__OFF_SQ_RING);
    } else {
        r->sq_map = map_ring(r->fd, sq_len, MUX__OFF_SQ_RING);
        r->cq_map = map_ring(r->fd, cq_len, MUX__OFF_CQ_RING);
    }
    r->sq_map_len = sq_len;
    r->cq_map_len = cq_len;
    r->sqes_len = p->sq_entries * sizeof(struct mux__sqe);
    r->sqes = map_ring(r->fd, r->sqes_len, MUX__OFF_SQES);
    if (r->sq_map == NULL || r->cq_map == NULL || r->sqes == NULL)
        return -errno;
    sq = r->sq_map;
    cq = r->cq_map;
    r->sq_khead = (unsigned *)(sq + p->sq_off.head);
    r->sq_ktail = (unsigned *)(sq + p->sq_off.tail);
    r->sq_kflags = (unsigned *)(sq + p->sq_off.flags);
    r->sq_array = (unsigned *)(sq + p->sq_off.array);
    r->sq_mask = *(unsigned *)(sq + p->sq_off.ring_mask);
    r->sq_entries = *(unsigned *)(sq + p->sq_off.ring_entries);
    r->cq_khead = (unsigned *)(cq + p->cq_off.head);
    r->cq_ktail = (unsigned *)(cq + p->cq_off.tail);
    r->cq_mask = *(unsigned *)(cq + p->cq_off.ring_mask);
    r->cq_entries = *(unsigned *)(cq + p->cq_off.ring_entries);
    r->cqes = (struct mux__cqe *)(cq + p->cq_off.cqes);
    assert(r->sq_entries == p->sq_entries && r->cq_entries == p->cq_entries);
    assert(r->sq_mask == r->sq_entries - 1 && r->cq_mask == r->cq_entries - 1);
    for (i = 0; i < r->sq_entries; i++)
        r->sq_array[i] = i;   /* note a) */
    r->sq_tail = r->sq_published = *r->sq_ktail;
    return 0;
}

int mux__uring_probe(int fd, uint8_t ops[32])
{
    /* calloc: the kernel fills it, unseen by valgrind; zeroed, it is
     * defined to valgrind whatever the kernel wrote. */
    struct mux__probe *probe = calloc(1, sizeof(*probe));
    int rc, i;

    if (probe == NULL)
        return -ENOMEM;
    memset(ops, 0, 32);
    rc = mux__io_uring_register(fd, MUX__REGISTER_PROBE, probe, 256);
    for (i = 0; rc >= 0 && i < probe->ops_len && i < 256; i++) {
        int op = probe->ops[i].op;

        if (probe->ops[i].flags & MUX__OP_SUPPORTED)
            ops[op / 8] |= (uint8_t)(1u << (op % 8));
    }
    if (rc >= 0)
        rc = probe->last_op + 1;
    free(probe);
    return rc;
}

/* What the kernel behind r lacks, as enum mux_uring_need bits. */
static unsigned missing_needs(mux_uring_t *r)
{
    unsigned missing = 0;
    size_t i;

    if (!(r->features & MUX__FEAT_NODROP))
        missing |= MUX_URING_NEED_NODROP;
    if (!(r->features & MUX__FEAT_EXT_ARG))
        missing |= MUX_URING_NEED_EXT_ARG;
    if (mux__uring_probe(r->fd, r->ops) < 0)
        return missing | MUX_URING_NEED_PROBE;
    for (i = 0; i < sizeof(required_ops) / sizeof(required_ops[0]); i++)
        if (!mux_uring_supports(r, required_ops[i]))
            missing |= MUX_URING_NEED_OPS;
    return missing;
}

static int setup(mux_uring_t *r, int entries, unsigned *missing)
{
    struct mux__uring_params p;
    int rc;

    memset(&p, 0, sizeof(p));
    p.flags = MUX__SETUP_SUBMIT_ALL;
    r->fd = mux__io_uring_setup((unsigned)entries, &p);
    if (r->fd == -EINVAL) {   /* a kernel older than SUBMIT_ALL */
        memset(&p, 0, sizeof(p));
        r->fd = mux__io_uring_setup((unsigned)entries, &p);
    }
    if (r->fd < 0)
        return r->fd;
    r->features = p.features;
    if ((rc = map_rings(r, &p)) < 0)
        return rc;
    if ((*missing = missing_needs(r)) != 0)
        return -EOPNOTSUPP;
    r->timespecs = calloc(r->sq_entries, sizeof(*r->timespecs));
    r->out = calloc((size_t)r->cq_entries * MUX_URING_CQE_INTS, sizeof(*r->out));
    return r->timespecs == NULL || r->out == NULL ? -ENOMEM : 0;
}

mux_uring_t *mux_uring_new(int entries, int *err, unsigned *missing)
{
    mux_uring_t *r;
    unsigned dummy_missing;
    int dummy, rc;

    if (err == NULL)
        err = &dummy;
    if (missing == NULL)
        missing = &dummy_missing;
    *missing = 0;
    if (entries < 1 || entries > MUX_URING_MAX_ENTRIES) {
        *err = -EINVAL;
        return NULL;
    }
    if ((rc = mux__fork_watch()) < 0) {
        *err = rc;
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    r->forks = mux__fork_generation();
    if ((rc = setup(r, entries, missing)) < 0) {
        *err = rc;
        mux_uring_free(r);
        return NULL;
    }
    return r;
}

/* --- completions ---------------------------------------------------------- */

static unsigned cq_ready(const mux_uring_t *r)
{
    return mux__load_acquire(r->cq_ktail) - *r->cq_khead;
}

/* Moves the ready completions out of the CQ: into out (at most max of them
 * reported), or nowhere when out is NULL. Returns the count reported. */
static int reap(mux_uring_t *r, int64_t *out, int max)
{
    unsigned head = *r->cq_khead;   /* only this process moves the head */
    unsigned tail = mux__load_acquire(r->cq_ktail);
    int n = 0;

    while (head != tail && (out == NULL || n < max)) {
        const struct mux__cqe *cqe = &r->cqes[head & r->cq_mask];

        head++;
        if (cqe->flags & MUX__CQE_F_BUFFER)
            mux__uring_lent(r, cqe->flags >> MUX__CQE_BUFFER_SHIFT);
        if (!(cqe->flags & MUX_URING_CQE_F_MORE)) {
            r->inflight--;
            assert(r->inflight >= 0);
        }
        if (cqe->user_data == MUX__UD_INTERNAL || out == NULL)
            continue;
        out[n * MUX_URING_CQE_INTS] = (int64_t)cqe->user_data;
        out[n * MUX_URING_CQE_INTS + 1] = cqe->res;
        out[n * MUX_URING_CQE_INTS + 2] = cqe->flags;
        n++;
    }
    mux__store_release(r->cq_khead, head);
    return n;
}

/* --- submission ----------------------------------------------------------- */

struct mux__sqe *mux__uring_next_sqe(mux_uring_t *r)
{
    struct mux__sqe *sqe;

    if (r->sq_tail - mux__load_acquire(r->sq_khead) >= r->sq_entries)
        return NULL;
    sqe = &r->sqes[r->sq_tail & r->sq_mask];
    memset(sqe, 0, sizeof(*sqe));
    r->sq_tail++;
    r->inflight++;
    return sqe;
}

/* Hands the prepared SQEs to the kernel (the tail store); returns how many
 * it has not consumed yet, published before or now. */
static unsigned publish(mux_uring_t *r)
{
    if (r->sq_published != r->sq_tail) {
        mux__store_release(r->sq_ktail, r->sq_tail);
        r->sq_published = r->sq_tail;
    }
    return r->sq_published - mux__load_acquire(r->sq_khead);
}

/* io_uring_enter with GETEVENTS and a timeout (< 0: none). */
static int enter_and_wait(mux_uring_t *r, unsigned to_submit, unsigned min_complete,
                          int64_t timeout_us)
{
    struct mux__kernel_timespec ts;
    struct mux__getevents_arg arg;

    memset(&arg, 0, sizeof(arg));
    if (timeout_us >= 0) {
        ts.tv_sec = timeout_us / 1000000;
        ts.tv_nsec = (timeout_us % 1000000) * 1000;
        arg.ts = (uint64_t)(uintptr_t)&ts;
    }
    return mux__io_uring_enter(r->fd, to_submit, min_complete,
                               MUX__ENTER_GETEVENTS | MUX__ENTER_EXT_ARG, &arg, sizeof(arg));
}

int mux__uring_submit(mux_uring_t *r)
{
    unsigned to_submit = publish(r);

    return to_submit ? mux__io_uring_enter(r->fd, to_submit, 0, 0, NULL, 0) : 0;
}

int mux_uring_submit(mux_uring_t *r)
{
    return MUX__URING_HOLDING(r, mux__uring_submit(r));
}

int mux__uring_wait(mux_uring_t *r, int min_complete, int64_t timeout_us, int max)
{
    unsigned to_submit;
    int64_t deadline;
    int rc = 0, n;

    mux__uring_give_back(r);   /* the last wait's buffers: read by now */
    to_submit = publish(r);
    deadline = 0;
    if (timeout_us >= 0 && to_submit) {
        int64_t now = now_us();

        /* Any timeout is accepted: a huge one saturates, never overflows. */
        deadline = timeout_us > INT64_MAX - now ? INT64_MAX : now + timeout_us;
    }

    if ((unsigned)min_complete > cq_ready(r)
            || (mux__load_acquire(r->sq_kflags) & MUX__SQ_CQ_OVERFLOW))
        rc = enter_and_wait(r, to_submit, (unsigned)min_complete, timeout_us);
    else if (to_submit)
        rc = mux__io_uring_enter(r->fd, to_submit, 0, 0, NULL, 0);
    n = reap(r, r->out, max < (int)r->cq_entries ? max : (int)r->cq_entries);
    if (n > 0 || rc == -ETIME || min_complete == 0)
        return n;
    if (rc > 0) {
        /* Note c: the SQE count hid how the wait ended. Not the timeout:
         * then a signal, which the caller must see (PEP 475). */
        return timeout_us >= 0 && now_us() >= deadline ? 0 : -EINTR;
    }
    return rc;   /* 0 (nothing was waited for), -EINTR, or another error */
}

int mux_uring_wait(mux_uring_t *r, int min_complete, int64_t timeout_us)
{
    if (r != NULL && (min_complete < 0 || (unsigned)min_complete > r->cq_entries))
        return -EINVAL;
    return MUX__URING_HOLDING(r, mux__uring_wait(r, min_complete,
                                                 timeout_us < 0 ? -1 : timeout_us,
                                                 (int)r->cq_entries));
}

/* --- close ---------------------------------------------------------------- */

/* Drops the prepared SQEs not yet given to the kernel, cancels every
 * request in flight and reaps until their final completions are in or the
 * patience ran out (note d). Returns how many are still missing. */
static int64_t cancel_and_collect(mux_uring_t *r)
{
    int64_t deadline = now_us() + MUX__CLOSE_PATIENCE_MS * 1000;
    struct mux__sqe *sqe;

    r->inflight -= r->sq_tail - r->sq_published;
    r->sq_tail = r->sq_published;
    if (r->inflight == 0)
        return 0;
    if ((sqe = mux__uring_next_sqe(r)) == NULL) {   /* a full SQ: make room */
        mux__uring_submit(r);
        sqe = mux__uring_next_sqe(r);
    }
    if (sqe != NULL) {
        sqe->opcode = MUX_URING_OP_ASYNC_CANCEL;
        sqe->fd = -1;
        sqe->op_flags = MUX__ASYNC_CANCEL_ANY;
        sqe->user_data = MUX__UD_INTERNAL;
    }
    while (r->inflight > 0) {
        int64_t left = deadline - now_us();
        int rc;

        if (left <= 0)
            break;
        rc = enter_and_wait(r, publish(r), 1,
                            left < MUX__CLOSE_SLICE_MS * 1000 ? left : MUX__CLOSE_SLICE_MS * 1000);
        reap(r, NULL, 0);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
            break;
    }
    return r->inflight;
}

static int release(mux_uring_t *r, int collect)
{
    int64_t missing = collect && r->fd >= 0 ? cancel_and_collect(r) : 0;

    unmap_rings(r);
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->uncollected += missing;
    return missing > 0x7fffffff ? 0x7fffffff : (int)missing;
}

int mux_uring_close(mux_uring_t *r)
{
    int rc;

    if (r == NULL)
        return -EINVAL;
    if (r->forks != mux__fork_generation())
        return release(r, 0);   /* the requests are the parent's */
    if (atomic_exchange(&r->busy, 1))
        return -EINPROGRESS;
    rc = release(r, 1);
    mux__uring_release(r);
    return rc;
}

void mux_uring_free(mux_uring_t *r)
{
    if (r == NULL)
        return;
    release(r, r->forks == mux__fork_generation());
    mux__uring_free_buffers(r, r->uncollected > 0);
    mux__uring_free_registered(r);
    free(r->timespecs);
    free(r->out);
    free(r);
}

/* --- queries -------------------------------------------------------------- */

static int query(const mux_uring_t *r, int value)
{
    if (r == NULL)
        return -EINVAL;
    if (r->forks != mux__fork_generation())
        return -ECHILD;
    return r->fd < 0 ? -EBADF : value;
}

int mux_uring_fileno(const mux_uring_t *r)
{
    return query(r, r == NULL ? 0 : r->fd);
}

int mux_uring_sq_entries(const mux_uring_t *r)
{
    return query(r, r == NULL ? 0 : (int)r->sq_entries);
}

int mux_uring_cq_entries(const mux_uring_t *r)
{
    return query(r, r == NULL ? 0 : (int)r->cq_entries);
}

int64_t mux_uring_features(const mux_uring_t *r)
{
    return query(r, r == NULL ? 0 : (int)r->features);
}

int mux_uring_supports(const mux_uring_t *r, int op)
{
    if (r == NULL)
        return -EINVAL;
    if (op < 0 || op > 255)
        return 0;
    return (r->ops[op / 8] >> (op % 8)) & 1;
}

int64_t *mux_uring_completions(mux_uring_t *r)
{
    return r == NULL ? NULL : r->out;
}
