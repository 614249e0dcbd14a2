/* test_grow.c - mux__grow, the one array-growth helper (mux_grow.h):
 * doubling, keeping the elements, and refusing sizes that overflow.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "mux_grow.h"

static void grow_doubles_from_16_and_keeps_the_elements(void)
{
    size_t cap = 0, i;
    int *a = mux__grow(NULL, &cap, 1, sizeof(int)), *same;

    REQUIRE(a != NULL);
    CHECK_EQ(cap, MUX__GROW_FIRST);
    for (i = 0; i < cap; i++)
        a[i] = (int)i * 3;
    same = mux__grow(a, &cap, 16, sizeof(int));   /* room already: no move */
    CHECK(same == a);
    CHECK_EQ(cap, 16);
    a = mux__grow(a, &cap, 17, sizeof(int));
    REQUIRE(a != NULL);
    CHECK_EQ(cap, 32);
    a = mux__grow(a, &cap, 100, sizeof(int));
    REQUIRE(a != NULL);
    CHECK_EQ(cap, 128);
    for (i = 0; i < 16; i++)
        CHECK_EQ(a[i], (int)i * 3);
    a[127] = 7;   /* the whole capacity is there (valgrind/ASan check) */
    free(a);
}

static void grow_refuses_sizes_that_overflow_and_leaves_the_array_alone(void)
{
    size_t cap = 0;
    int *a = mux__grow(NULL, &cap, 10, sizeof(int));

    REQUIRE(a != NULL);
    a[0] = 42;
    /* The capacity itself would overflow when doubled. */
    CHECK(mux__grow(a, &cap, SIZE_MAX / 2 + 2, 1) == NULL);
    CHECK(mux__grow(a, &cap, SIZE_MAX, 1) == NULL);
    /* The capacity fits, its size in bytes does not. */
    CHECK(mux__grow(a, &cap, (size_t)1 << 40, (size_t)1 << 30) == NULL);
    CHECK(mux__grow(a, &cap, SIZE_MAX / 4 + 1, sizeof(int)) == NULL);
    CHECK_EQ(cap, 16);
    CHECK_EQ(a[0], 42);   /* still the caller's, unmoved */
    /* The typed form reports -ENOMEM and leaves the variable as it was. */
    CHECK_EQ(MUX__GROW(a, cap, SIZE_MAX / 2), -ENOMEM);
    CHECK_EQ(cap, 16);
    CHECK_EQ(a[0], 42);
    CHECK_EQ(MUX__GROW(a, cap, 40), 0);
    CHECK_EQ(cap, 64);
    CHECK_EQ(a[0], 42);
    free(a);
}

const test_t grow_tests[] = {
    TEST(grow_doubles_from_16_and_keeps_the_elements),
    TEST(grow_refuses_sizes_that_overflow_and_leaves_the_array_alone),
    {NULL, NULL},
};
