/* mux_backend_poll.c - poll(2) backend (waits with ppoll(2), whose timespec
 * keeps a timeout's microseconds: poll(2) would round them up to a ms).
 *
 * A dense pollfd[] array (what poll(2) wants) plus an fd -> slot map so that
 * ctl is O(1); removal swaps the last entry into the hole. The map stores
 * slot + 1 so that zeroed memory means "absent".
 *
 * poll(2) writes into the array it is given while it waits, and another
 * thread may register or unregister meanwhile (the GIL is released), which
 * can move the array. So the wait polls a snapshot, copied from the
 * registrations under a lock only when they changed since the last wait.
 */
#define _GNU_SOURCE   /* ppoll */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "mux_backend_internal.h"
#include "mux_common.h"
#include "mux_grow.h"

typedef struct {
    mux_backend_t base;
    pthread_mutex_t lock;   /* registrations vs. taking the snapshot */
    struct pollfd *pfds;    /* registrations, dense: pfds[0 .. count) */
    int count;
    size_t cap;
    int *slot_of;           /* slot_of[fd] = slot + 1, 0 when absent */
    size_t slot_of_len;
    int dirty;              /* registrations changed since the snapshot */
    struct pollfd *snap;    /* what poll(2) waits on; the waiter's alone */
    int snap_count;
    size_t snap_cap;
    int cursor;             /* where the next wait starts reporting */
} poll_backend_t;

static mux_backend_t *poll_create(int *err)
{
    poll_backend_t *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    p->base.ops = &mux__poll_ops;
    pthread_mutex_init(&p->lock, NULL);
    return &p->base;
}

/* Makes room for one more registration, fd's, in both arrays. */
static int reserve(poll_backend_t *p, int fd)
{
    size_t old = p->slot_of_len;

    if (MUX__GROW(p->slot_of, p->slot_of_len, (size_t)fd + 1) < 0
        || MUX__GROW(p->pfds, p->cap, (size_t)p->count + 1) < 0)
        return -ENOMEM;
    memset(p->slot_of + old, 0, (p->slot_of_len - old) * sizeof(*p->slot_of));
    return 0;
}

static int poll_ctl_locked(poll_backend_t *p, int op, int fd, uint32_t events)
{
    int slot, rc;

    slot = (size_t)fd < p->slot_of_len ? p->slot_of[fd] - 1 : -1;
    assert(slot < 0 || (slot < p->count && p->pfds[slot].fd == fd));

    if (op == MUX_CTL_ADD) {
        if (slot >= 0)
            return -EEXIST;
        if ((rc = reserve(p, fd)) < 0)
            return rc;
        assert((size_t)p->count < p->cap);
        p->pfds[p->count].fd = fd;
        p->pfds[p->count].events = (short)events;
        p->pfds[p->count].revents = 0;
        p->slot_of[fd] = ++p->count;
        return 0;
    }
    if (slot < 0)
        return -ENOENT;
    if (op == MUX_CTL_MOD) {
        p->pfds[slot].events = (short)events;
        return 0;
    }
    /* MUX_CTL_DEL: move the last entry into the hole. */
    p->pfds[slot] = p->pfds[--p->count];
    p->slot_of[p->pfds[slot].fd] = slot + 1;
    p->slot_of[fd] = 0;
    return 0;
}

static int poll_ctl(mux_backend_t *b, int op, int fd, uint32_t events)
{
    poll_backend_t *p = (poll_backend_t *)b;
    int rc;

    /* No fd this high can be open (nor so registered here). */
    if (fd >= MUX_MAX_FD)
        return op == MUX_CTL_ADD ? -EBADF : -ENOENT;
    if (op != MUX_CTL_DEL && (events & (MUX__EPOLL_ONLY_FLAGS | 0xffff0000u)))
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    rc = poll_ctl_locked(p, op, fd, events);
    if (rc == 0)
        p->dirty = 1;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* Copies the registrations into the snapshot if they changed. */
static int take_snapshot(poll_backend_t *p)
{
    int rc = 0;

    pthread_mutex_lock(&p->lock);
    if (p->dirty) {
        if ((size_t)p->count > p->snap_cap)
            rc = MUX__GROW(p->snap, p->snap_cap, (size_t)p->count);
        if (rc == 0) {
            assert((size_t)p->count <= p->snap_cap);
            if (p->count > 0)
                memcpy(p->snap, p->pfds, (size_t)p->count * sizeof(*p->snap));
            p->snap_count = p->count;
            p->dirty = 0;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static int poll_wait(mux_backend_t *b, int *fds, uint32_t *events,
                     int maxevents, int64_t timeout_us)
{
    poll_backend_t *p = (poll_backend_t *)b;
    struct timespec ts;
    int n, i, k, out = 0, rc = take_snapshot(p);

    if (rc < 0)
        return rc;
    n = ppoll(p->snap, (nfds_t)p->snap_count, mux__timeout_ts(timeout_us, &ts), NULL);
    if (n < 0)
        return -errno;
    /* Reports in registration order; when more fds are ready than one
     * batch holds, the next wait starts after the last one reported, so
     * those late in the array still get their turn. */
    i = p->cursor < p->snap_count ? p->cursor : 0;
    p->cursor = 0;
    for (k = 0; k < p->snap_count && out < n && out < maxevents; k++) {
        if (p->snap[i].revents != 0) {
            fds[out] = p->snap[i].fd;
            events[out] = (uint16_t)p->snap[i].revents;
            if (++out == maxevents && out < n)
                p->cursor = i + 1;
        }
        i = i + 1 < p->snap_count ? i + 1 : 0;
    }
    return out;
}

static void poll_close(mux_backend_t *b)
{
    poll_backend_t *p = (poll_backend_t *)b;

    pthread_mutex_lock(&p->lock);
    p->count = 0;
    p->dirty = 1;
    pthread_mutex_unlock(&p->lock);
}

static void poll_destroy(mux_backend_t *b)
{
    poll_backend_t *p = (poll_backend_t *)b;

    pthread_mutex_destroy(&p->lock);
    free(p->pfds);
    free(p->snap);
    free(p->slot_of);
    free(p);
}

const mux_backend_ops_t mux__poll_ops = {
    .name = "poll",
    .max_fd = MUX_MAX_FD,
    .create = poll_create,
    .ctl = poll_ctl,
    .wait = poll_wait,
    .close = poll_close,
    .destroy = poll_destroy,
};
