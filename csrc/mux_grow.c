/* mux_grow.c - mux__grow, the one array-growth helper (see mux_grow.h). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#include "mux_grow.h"

void *mux__grow(void *array, size_t *cap, size_t need, size_t elem_size)
{
    size_t n = *cap ? *cap : MUX__GROW_FIRST;
    void *moved;

    assert(need > 0 && elem_size > 0);
    if (need <= *cap)
        return array;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return NULL;
        n *= 2;
    }
    if (n > SIZE_MAX / elem_size)
        return NULL;
    moved = realloc(array, n * elem_size);
    if (moved != NULL)
        *cap = n;
    return moved;
}
