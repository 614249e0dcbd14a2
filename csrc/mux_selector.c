/* mux_selector.c - fd -> interest table and event-to-code translation for
 * pymux.selectors (contract in mux_selector.h).
 *
 * The selector talks to its backend only through mux_backend.h. It keeps
 * one byte per fd (registered flag plus interest), which is what lets a
 * wait turn the kernel's (fd, events) pairs into selector codes without
 * Python touching each event.
 *
 * Threads: cffi releases the GIL around every call, so one thread may
 * register while another waits. `lock` serialises the writers (register,
 * modify, unregister, close) so that the table and the backend's own
 * registrations change together. The wait path takes no lock, because on
 * a select(0) with one ready fd every nanosecond shows: the table is made
 * of chunks that never move or go away before the selector is freed, and
 * its bytes are read and written atomically. `waiting` keeps two waits
 * from overlapping. Registrations may change during a wait on every
 * backend: the poll backend waits on a snapshot of its pollfd array.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "mux_backend.h"
#include "mux_selector.h"

#define MUX__SEL_REGISTERED 0x80u   /* table entry flag; the low 2 bits hold interest */
/* The table is allocated in chunks of 4,096 one-byte entries, on first use. */
#define MUX__CHUNK_SHIFT 12
#define MUX__CHUNK_ENTRIES (1 << MUX__CHUNK_SHIFT)
#define MUX__CHUNKS (MUX_MAX_FD / MUX__CHUNK_ENTRIES)

_Static_assert(MUX_MAX_FD % MUX__CHUNK_ENTRIES == 0, "the chunks cover every fd");
_Static_assert(MUX_MAX_FD <= INT_MAX / 4, "every code fd * 4 + mask is an int");

struct mux_selector {
    mux_backend_t *b;
    uint32_t edge;              /* EPOLLET or 0, or'ed into every kernel mask */
    pthread_mutex_t lock;       /* held by writers only */
    /* fd's entry is chunks[fd / MUX__CHUNK_ENTRIES][fd % MUX__CHUNK_ENTRIES]:
     * 0 or MUX__SEL_REGISTERED | interest; a NULL chunk reads as all 0. */
    uint8_t *chunks[MUX__CHUNKS];
    int count;                  /* registered fds (atomic) */
    int batch;                  /* largest batch the backend was sized for */
    int waiting;                /* 1 while a wait runs (atomic) */
    int *codes;                 /* MUX_MAX_BATCH entries; never moves */
};

/* The table entry of fd (0 <= fd < MUX_MAX_FD); lock-free. */
static unsigned entry_get(const mux_selector_t *s, int fd)
{
    uint8_t *chunk = __atomic_load_n(&s->chunks[fd >> MUX__CHUNK_SHIFT], __ATOMIC_ACQUIRE);

    return chunk == NULL ? 0
         : __atomic_load_n(&chunk[fd & (MUX__CHUNK_ENTRIES - 1)], __ATOMIC_RELAXED);
}

/* Makes fd's chunk exist; called with the lock held. */
static int chunk_reserve(mux_selector_t *s, int fd)
{
    uint8_t **slot = &s->chunks[fd >> MUX__CHUNK_SHIFT], *chunk;

    if (*slot != NULL)
        return 0;
    chunk = calloc(MUX__CHUNK_ENTRIES, 1);
    if (chunk == NULL)
        return -ENOMEM;
    __atomic_store_n(slot, chunk, __ATOMIC_RELEASE);
    return 0;
}

/* Sets fd's entry, whose chunk exists; called with the lock held. */
static void entry_set(mux_selector_t *s, int fd, unsigned entry)
{
    uint8_t *chunk = s->chunks[fd >> MUX__CHUNK_SHIFT];

    assert(chunk != NULL);
    __atomic_store_n(&chunk[fd & (MUX__CHUNK_ENTRIES - 1)], (uint8_t)entry, __ATOMIC_RELAXED);
}

static void count_add(mux_selector_t *s, int delta)
{
    assert(s->count + delta >= 0);
    __atomic_store_n(&s->count, s->count + delta, __ATOMIC_RELAXED);
}

static uint32_t kernel_mask(const mux_selector_t *s, int interest)
{
    return (interest & MUX_READ ? EPOLLIN : 0)
         | (interest & MUX_WRITE ? EPOLLOUT : 0) | s->edge;
}

mux_selector_t *mux_selector_new(int kind, int flags, int *err)
{
    mux_selector_t *s;
    int dummy;

    if (err == NULL)
        err = &dummy;
    if ((flags & ~MUX_SEL_EDGE) || ((flags & MUX_SEL_EDGE) && kind != MUX_BACKEND_EPOLL)) {
        *err = -EINVAL;
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    /* A full batch of codes up front keeps the array's address fixed for
     * Python; pages the kernel never reports into are never touched. */
    s->codes = malloc((size_t)MUX_MAX_BATCH * sizeof(*s->codes));
    if (s->codes == NULL) {
        free(s);
        *err = -ENOMEM;
        return NULL;
    }
    s->b = mux_backend_new(kind, err);
    if (s->b == NULL) {
        free(s->codes);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->edge = (flags & MUX_SEL_EDGE) ? EPOLLET : 0;
    return s;
}

void mux_selector_free(mux_selector_t *s)
{
    int i;

    if (s == NULL)
        return;
    mux_backend_free(s->b);
    pthread_mutex_destroy(&s->lock);
    for (i = 0; i < MUX__CHUNKS; i++)
        free(s->chunks[i]);
    free(s->codes);
    free(s);
}

int mux_selector_close(mux_selector_t *s, int release)
{
    int fd;

    if (s == NULL)
        return -EINVAL;
    pthread_mutex_lock(&s->lock);
    /* Releasing the kernel object drops its registrations with it; a
     * backend that stays open is told about each one. */
    for (fd = 0; fd < MUX_MAX_FD; fd++) {
        if (s->chunks[fd >> MUX__CHUNK_SHIFT] == NULL) {
            fd |= MUX__CHUNK_ENTRIES - 1;    /* skip the whole chunk */
            continue;
        }
        if (entry_get(s, fd)) {
            if (!release)
                mux_backend_ctl(s->b, MUX_CTL_DEL, fd, 0);
            entry_set(s, fd, 0);
        }
    }
    count_add(s, -s->count);
    if (release)
        mux_backend_close(s->b);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int mux_selector_fileno(mux_selector_t *s)
{
    return s == NULL ? -EINVAL : mux_backend_fileno(s->b);
}

/* Splits a code; -EBADF when its fd is out of range. */
static int code_fd(int code)
{
    int fd = code >> 2;

    return code < 0 || fd >= MUX_MAX_FD ? -EBADF : fd;
}

static int register_locked(mux_selector_t *s, int fd, int interest)
{
    int rc;

    if (entry_get(s, fd))
        return -EEXIST;
    if ((rc = chunk_reserve(s, fd)) < 0)
        return rc;
    /* The entry goes in before the kernel call: a wait running in another
     * thread may be woken by the ADD and must find it. */
    entry_set(s, fd, MUX__SEL_REGISTERED | (unsigned)interest);
    rc = mux_backend_ctl(s->b, MUX_CTL_ADD, fd, kernel_mask(s, interest));
    if (rc == 0)
        count_add(s, 1);
    else
        entry_set(s, fd, 0);
    return rc;
}

static int modify_locked(mux_selector_t *s, int fd, int interest)
{
    int rc;

    if (!entry_get(s, fd))
        return -ENOENT;
    rc = mux_backend_ctl(s->b, MUX_CTL_MOD, fd, kernel_mask(s, interest));
    if (rc == 0) {
        /* After the kernel call: until then the old interest is the one
         * that masks events (an event racing the change may be masked to
         * nothing, as with the stdlib). */
        entry_set(s, fd, MUX__SEL_REGISTERED | (unsigned)interest);
    } else {
        /* The stdlib forgets a key whose modify failed. The backend DEL
         * keeps poll's and select's own sets in step with the table; for
         * epoll it fails like the MOD did (the fd is gone). */
        mux_backend_ctl(s->b, MUX_CTL_DEL, fd, 0);
        entry_set(s, fd, 0);
        count_add(s, -1);
    }
    return rc;
}

/* Checks a code, then applies `change` to its fd and interest under the
 * writers' lock. */
static int change_registration(mux_selector_t *s, int code,
                               int (*change)(mux_selector_t *s, int fd, int interest))
{
    int fd = code_fd(code), rc;

    if (s == NULL)
        return -EINVAL;
    if (fd < 0)
        return fd;
    pthread_mutex_lock(&s->lock);
    rc = change(s, fd, code & 3);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int mux_selector_register(mux_selector_t *s, int code)
{
    return change_registration(s, code, register_locked);
}

int mux_selector_modify(mux_selector_t *s, int code)
{
    return change_registration(s, code, modify_locked);
}

int mux_selector_unregister(mux_selector_t *s, int fd)
{
    int rc;

    if (s == NULL)
        return -EINVAL;
    if (fd < 0 || fd >= MUX_MAX_FD)
        return -ENOENT;
    pthread_mutex_lock(&s->lock);
    if (!entry_get(s, fd)) {
        rc = -ENOENT;
    } else {
        entry_set(s, fd, 0);
        count_add(s, -1);
        rc = mux_backend_ctl(s->b, MUX_CTL_DEL, fd, 0);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

const int *mux_selector_codes(mux_selector_t *s)
{
    return s == NULL ? NULL : s->codes;
}

/* Kernel events -> selector events, exactly as Lib/selectors.py maps them:
 * anything but EPOLLIN counts as writable, anything but EPOLLOUT as
 * readable, so EPOLLERR and EPOLLHUP report both. */
static int translate(mux_selector_t *s, const int *fds, const uint32_t *events, int n)
{
    int i, fd, out = 0;
    unsigned entry, ready;

    for (i = 0; i < n; i++) {
        fd = fds[i];
        if (fd < 0 || fd >= MUX_MAX_FD || !(entry = entry_get(s, fd)))
            continue;   /* unregistered meanwhile (another thread) */
        ready = ((events[i] & ~(uint32_t)EPOLLIN) ? MUX_WRITE : 0)
              | ((events[i] & ~(uint32_t)EPOLLOUT) ? MUX_READ : 0);
        s->codes[out++] = fd * 4 + (int)(ready & entry & 3u);
    }
    return out;
}

int mux_selector_wait(mux_selector_t *s, int64_t timeout_us)
{
    int n = 0, want, rc;

    if (s == NULL)
        return -EINVAL;
    rc = __atomic_exchange_n(&s->waiting, 1, __ATOMIC_ACQUIRE);
    if (rc)
        return -EBUSY;
    /* Like the stdlib, let one wait report every registered fd. */
    want = __atomic_load_n(&s->count, __ATOMIC_RELAXED);
    want = want < 1 ? 1 : want > MUX_MAX_BATCH ? MUX_MAX_BATCH : want;
    if (want > s->batch) {
        rc = mux_backend_set_batch(s->b, want);
        if (rc < 0)
            n = rc;
        else
            s->batch = rc;
    }
    if (n == 0)
        n = mux_backend_wait(s->b, timeout_us);
    if (n > 0)
        n = translate(s, mux_backend_fired_fds(s->b), mux_backend_fired_events(s->b), n);
    __atomic_store_n(&s->waiting, 0, __ATOMIC_RELEASE);
    return n;
}

int mux_selector_poll(mux_selector_t *s)
{
    return mux_selector_wait(s, 0);
}
