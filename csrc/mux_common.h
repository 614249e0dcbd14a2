/* mux_common.h - what the loop, the selector and the backends share: the
 * one fd limit and the one READ/WRITE pair of interest bits.
 *
 * This header is also a cffi declaration (see pymux/_build.py): enums only.
 */
#ifndef MUX_COMMON_H
#define MUX_COMMON_H

/* Interest in an fd: the loop's watchers and MUX_REC_IO records, and the
 * two low bits of a selector code (the values of the stdlib's
 * selectors.EVENT_READ and EVENT_WRITE). */
enum mux_interest {
    MUX_READ = 1,
    MUX_WRITE = 2
};

/* fds must be below this, or they get -EBADF: none can be open under the
 * kernel's default fs.nr_open, and the limit bounds every table indexed by
 * fd (the loop's, the selector's, the poll backend's fd -> slot map). */
enum { MUX_MAX_FD = 1048576 };

#endif
