/* mux_uring_buffers.c - the ring's provided buffers (mux_uring.h's
 * mux_uring_setup_buffers): one pool the ring owns, lent to the kernel
 * through a buffer ring (IORING_REGISTER_PBUF_RING), so that a multishot
 * recv picks a buffer only when data arrives.
 *
 * A buffer the kernel filled is reported by one wait and given back to the
 * kernel at the start of the next one: its data is the caller's to read in
 * between. The buffer ring is shared memory like the SQ: entries are
 * written first, then its tail is stored with release ordering (the tail
 * overlays the first entry's last field, which entries never write).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mux_uring_internal.h"

static uint16_t *buf_ring_tail(mux_uring_t *r)
{
    return &r->buf_ring[0].resv;
}

/* Queues buffer `bid` at the ring's tail (published by publish_buffers). */
static void offer(mux_uring_t *r, unsigned bid)
{
    struct mux__buf *b = &r->buf_ring[r->buf_tail & (r->buf_count - 1)];

    b->addr = (uint64_t)(uintptr_t)(r->pool + (size_t)bid * r->buf_size);
    b->len = r->buf_size;
    b->bid = (uint16_t)bid;
    r->buf_tail++;
}

static void publish_buffers(mux_uring_t *r)
{
    __atomic_store_n(buf_ring_tail(r), r->buf_tail, __ATOMIC_RELEASE);
}

static void release_buffers(mux_uring_t *r)
{
    if (r->buf_ring != NULL)
        munmap(r->buf_ring, r->buf_count * sizeof(*r->buf_ring));
    free(r->pool);
    free(r->lent);
    r->buf_ring = NULL;
    r->pool = NULL;
    r->lent = NULL;
}

static int setup_buffers(mux_uring_t *r, int count, int size)
{
    struct mux__buf_reg reg;
    void *ring;
    unsigned i;
    int rc;

    if (r->pool != NULL)
        return -EEXIST;
    ring = mmap(NULL, (size_t)count * sizeof(struct mux__buf), PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    r->buf_ring = ring == MAP_FAILED ? NULL : ring;
    r->buf_count = (unsigned)count;
    r->buf_size = (unsigned)size;
    /* calloc: the kernel's writes are unseen by valgrind; zeroed, the pool
     * is defined to it whatever the kernel wrote. */
    r->pool = calloc((size_t)count, (size_t)size);
    r->lent = malloc((size_t)count * sizeof(*r->lent));
    if (r->buf_ring == NULL || r->pool == NULL || r->lent == NULL) {
        release_buffers(r);
        return -ENOMEM;
    }
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)r->buf_ring;
    reg.ring_entries = (uint32_t)count;
    reg.bgid = 0;
    if ((rc = mux__io_uring_register(r->fd, MUX__REGISTER_PBUF_RING, &reg, 1)) < 0) {
        release_buffers(r);
        return rc;
    }
    r->buf_tail = 0;
    r->nlent = 0;
    for (i = 0; i < r->buf_count; i++)
        offer(r, i);
    publish_buffers(r);
    return 0;
}

int mux_uring_setup_buffers(mux_uring_t *r, int count, int size)
{
    if (count < 1 || count > MUX_URING_MAX_BUFFERS || (count & (count - 1)) != 0
            || size < 1 || (int64_t)count * size > MUX_URING_MAX_IO)
        return -EINVAL;
    return MUX__URING_HOLDING(r, setup_buffers(r, count, size));
}

char *mux_uring_buffer_pool(mux_uring_t *r)
{
    return r == NULL ? NULL : r->pool;
}

void mux__uring_lent(mux_uring_t *r, unsigned bid)
{
    if (r->pool == NULL || bid >= r->buf_count)
        return;   /* not ours: nothing to give back */
    assert(r->nlent < r->buf_count);
    r->lent[r->nlent++] = (uint16_t)bid;
}

void mux__uring_give_back(mux_uring_t *r)
{
    unsigned i;

    if (r->nlent == 0)
        return;
    for (i = 0; i < r->nlent; i++)
        offer(r, r->lent[i]);
    r->nlent = 0;
    publish_buffers(r);
}

void mux__uring_free_buffers(mux_uring_t *r, int kernel_may_write)
{
    if (!kernel_may_write)
        release_buffers(r);
}
