/* mux_selector.h - the C half of pymux.selectors: an fd -> interest table on
 * top of one backend, so that a wait hands Python one int per ready fd.
 *
 * Python's selectors speak in selector events (MUX_READ, MUX_WRITE) and in
 * "codes": a code is fd * 4 + mask, mask being two bits of selector
 * events. Registration takes a code (fd and interest in one argument, since
 * every cffi argument costs tens of nanoseconds); a wait leaves one code per
 * ready fd in the codes array, the kernel's events already translated the
 * way the stdlib's selectors module translates them and masked by the
 * registered interest. Python maps each code with one dict index to a
 * prebuilt (key, events) pair.
 *
 * The table follows the registrations exactly: fds it does not hold never
 * produce codes. Every function returns >= 0 or -errno and is safe to call
 * from several threads at once (the GIL is released during cffi calls);
 * overlapping waits on one selector are refused with -EBUSY; registrations
 * may change while a wait runs in another thread.
 *
 * This header is also the cffi declaration (see pymux/_build.py): plain C
 * declarations only.
 */
#ifndef MUX_SELECTOR_H
#define MUX_SELECTOR_H

#include <stdint.h>

#include "mux_common.h"

typedef struct mux_selector mux_selector_t;

/* mux_selector_new flags. */
enum mux_sel_flags {
    MUX_SEL_EDGE = 1        /* edge-triggered registrations: epoll only */
};

/* Creates a selector over a new backend of the given kind (see
 * mux_backend.h); MUX_SEL_EDGE with poll or select gives -EINVAL. On
 * failure returns NULL and stores -errno in *err. */
mux_selector_t *mux_selector_new(int kind, int flags, int *err);

/* Closes (if still open) and frees. NULL is accepted. */
void mux_selector_free(mux_selector_t *s);

/* Forgets every registration; with `release`, also releases the backend's
 * kernel object, after which registering and waiting give -EBADF. */
int mux_selector_close(mux_selector_t *s, int release);

/* The epoll fd, -ENOTSUP for poll/select, -EBADF once released. */
int mux_selector_fileno(mux_selector_t *s);

/* Registers code / 4 with interest code % 4. -EEXIST if already
 * registered, -EBADF for an fd outside [0, MUX_MAX_FD), or the
 * backend's error (nothing is registered then). */
int mux_selector_register(mux_selector_t *s, int code);

/* Changes the interest of a registered fd. -ENOENT if it is not
 * registered. If the backend refuses the change (the fd was closed, say),
 * the registration is dropped and the backend's error returned, as the
 * stdlib's selectors do. */
int mux_selector_modify(mux_selector_t *s, int code);

/* Drops fd's registration. The table entry goes even when the backend
 * fails (the fd may have been closed already); its error is returned for
 * information. -ENOENT if fd was not registered. */
int mux_selector_unregister(mux_selector_t *s, int fd);

/* The codes array a wait fills: its address never changes. */
const int *mux_selector_codes(mux_selector_t *s);

/* Waits up to timeout_us microseconds (-1: forever) and leaves one code per
 * ready registered fd in the codes array. Returns their count or -errno
 * (-EINTR: the caller runs signal handlers and retries). */
int mux_selector_wait(mux_selector_t *s, int64_t timeout_us);

/* mux_selector_wait(s, 0), one argument cheaper: select(0) is the hot call
 * of a busy event loop. */
int mux_selector_poll(mux_selector_t *s);

#endif
