/* mux_grow.h - the one array-growth helper of the C core (internal).
 *
 * Every array that grows (the loop's fd table, lists and fired records, the
 * timer heap, the poll backend's arrays, epoll's event buffer, a stream's
 * write queue) grows through mux__grow: capacities double, sizes are
 * checked for overflow, and a failure leaves the array as it was.
 */
#ifndef MUX_GROW_H
#define MUX_GROW_H

#include <errno.h>
#include <stddef.h>

/* Capacity of an array's first allocation, in elements. */
#define MUX__GROW_FIRST 16

/* Makes room for need (>= 1) elements of elem_size bytes in array, which
 * has room for *cap: the capacity doubles (from MUX__GROW_FIRST) until it
 * holds need, and the array is reallocated. Returns the array (moved,
 * perhaps) and updates *cap; or returns NULL, leaving the array and *cap
 * unchanged, when memory runs out or the size in bytes would overflow.
 * New elements are not initialised. */
void *mux__grow(void *array, size_t *cap, size_t need, size_t elem_size);

/* mux__grow for an array variable: grows `array` (an lvalue of pointer
 * type, assigned the moved array) to hold need elements of its own type;
 * `cap` is the size_t lvalue that holds its capacity. 0 or -ENOMEM. */
#define MUX__GROW(array, cap, need) __extension__ ({                      \
        __typeof__(array) mux__moved =                                    \
            mux__grow((array), &(cap), (need), sizeof(*(array)));        \
        mux__moved == NULL ? -ENOMEM : ((array) = mux__moved, 0);        \
    })

#endif
