/* mux_timer.c - the loop's timers: a binary min-heap of timer ids ordered
 * by (deadline, seq), so equal deadlines fire in insertion (FIFO) order.
 *
 * Ids index loop->timers; each timer knows its heap position, so cancel is
 * O(log n). A fired id is only reused from the next iteration, so a record
 * the caller has not dispatched yet can never name a newer timer.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "mux_loop_internal.h"

#define MUX__MAX_TIMERS (1 << 28)   /* ids stay far below INT_MAX */

int64_t mux_loop_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int before(const mux_loop_t *loop, int a, int b)
{
    const mux_timer_t *x = &loop->timers[a], *y = &loop->timers[b];

    return x->deadline < y->deadline
        || (x->deadline == y->deadline && x->seq < y->seq);
}

static void place(mux_loop_t *loop, int pos, int id)
{
    assert(pos >= 0 && pos < loop->heap_len && id >= 0 && id < loop->ntimers);
    loop->heap[pos] = id;
    loop->timers[id].heap_pos = pos;
}

static void sift_up(mux_loop_t *loop, int pos)
{
    int id = loop->heap[pos];

    while (pos > 0) {
        int parent = (pos - 1) / 2;
        if (!before(loop, id, loop->heap[parent]))
            break;
        place(loop, pos, loop->heap[parent]);
        pos = parent;
    }
    place(loop, pos, id);
}

static void sift_down(mux_loop_t *loop, int pos)
{
    int id = loop->heap[pos];

    for (;;) {
        int child = 2 * pos + 1;
        if (child >= loop->heap_len)
            break;
        if (child + 1 < loop->heap_len && before(loop, loop->heap[child + 1], loop->heap[child]))
            child++;
        if (!before(loop, loop->heap[child], id))
            break;
        place(loop, pos, loop->heap[child]);
        pos = child;
    }
    place(loop, pos, id);
}

static void heap_remove(mux_loop_t *loop, int id)
{
    int pos = loop->timers[id].heap_pos;
    int last;

    /* The position a timer stores is its slot in the heap. */
    assert(pos >= 0 && pos < loop->heap_len && loop->heap[pos] == id);
    last = loop->heap[--loop->heap_len];
    loop->timers[id].heap_pos = -1;
    if (pos == loop->heap_len)
        return;
    place(loop, pos, last);
    sift_down(loop, pos);
    sift_up(loop, loop->timers[last].heap_pos);
}

/* Grows the id slab and the three arrays sized by it to one new capacity;
 * ntimers counts the new ids only once all four have grown. */
static int grow_timers(mux_loop_t *loop)
{
    size_t old = (size_t)loop->ntimers, n = old;
    size_t heap_cap = old, free_cap = old, fired_cap = old;
    int i;

    if (loop->ntimers >= MUX__MAX_TIMERS)
        return -ENOMEM;
    if (MUX__GROW(loop->timers, n, old + 1) < 0
        || MUX__GROW(loop->heap, heap_cap, n) < 0
        || MUX__GROW(loop->free_ids, free_cap, n) < 0
        || MUX__GROW(loop->fired_ids, fired_cap, n) < 0)
        return -ENOMEM;
    /* New ids go on the free list highest first, so low ids are used first. */
    for (i = (int)n - 1; i >= loop->ntimers; i--) {
        loop->timers[i].heap_pos = -1;
        loop->free_ids[loop->nfree++] = i;
    }
    loop->ntimers = (int)n;
    return 0;
}

static int timer_add_held(mux_loop_t *loop, int64_t deadline_ns)
{
    int id, rc;

    if (loop->nfree == 0 && (rc = grow_timers(loop)) < 0)
        return rc;
    id = loop->free_ids[--loop->nfree];
    assert(loop->timers[id].heap_pos == -1 && loop->heap_len < loop->ntimers);
    loop->timers[id].deadline = deadline_ns;
    loop->timers[id].seq = loop->timer_seq++;
    loop->heap_len++;
    place(loop, loop->heap_len - 1, id);
    sift_up(loop, loop->heap_len - 1);
    return id;
}

static int timer_cancel_held(mux_loop_t *loop, int id)
{
    if (id < 0 || id >= loop->ntimers)
        return -EINVAL;
    if (loop->timers[id].heap_pos < 0)
        return -ENOENT;   /* already fired or cancelled */
    heap_remove(loop, id);
    assert(loop->nfree < loop->ntimers);
    loop->free_ids[loop->nfree++] = id;
    return 0;
}

int64_t mux__timers_next_us(const mux_loop_t *loop, int64_t now)
{
    int64_t wait_ns;

    if (loop->heap_len == 0)
        return -1;
    /* Compare before subtracting: deadline - now overflows for deadlines
     * far in the past (INT64_MIN) or future. now >= 0 (CLOCK_MONOTONIC),
     * so deadline > now makes the difference fit. */
    if (loop->timers[loop->heap[0]].deadline <= now)
        return 0;
    wait_ns = loop->timers[loop->heap[0]].deadline - now;
    return wait_ns / 1000 + (wait_ns % 1000 != 0);  /* round up: never early */
}

int mux__timers_expire(mux_loop_t *loop, int64_t now)
{
    int rc;

    while (loop->heap_len > 0 && loop->timers[loop->heap[0]].deadline <= now) {
        int id = loop->heap[0];
        if ((rc = mux__push_record(loop, MUX_REC_TIMER, id, 0, 0)) < 0)
            return rc;
        heap_remove(loop, id);
        assert(loop->nfired_ids < loop->ntimers);
        loop->fired_ids[loop->nfired_ids++] = id;
    }
    return 0;
}

void mux__timers_release_fired(mux_loop_t *loop)
{
    assert(loop->nfree + loop->nfired_ids <= loop->ntimers);
    while (loop->nfired_ids > 0)
        loop->free_ids[loop->nfree++] = loop->fired_ids[--loop->nfired_ids];
}

void mux__timers_free(mux_loop_t *loop)
{
    free(loop->timers);
    free(loop->heap);
    free(loop->free_ids);
    free(loop->fired_ids);
}

/* --- public entry points: each holds the loop (MUX__HOLDING) --------------- */

int mux_timer_add(mux_loop_t *loop, int64_t deadline_ns)
{
    return MUX__HOLDING(loop, timer_add_held(loop, deadline_ns));
}

int mux_timer_cancel(mux_loop_t *loop, int id)
{
    return MUX__HOLDING(loop, timer_cancel_held(loop, id));
}
