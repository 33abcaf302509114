/*
 * test_mem: core/mem's growth helper and hash.
 *
 * mem_hash is FNV-1a (64-bit): checked against the published test vectors
 * (Fowler, Noll, Vo: "", "a", "foobar"), and on bytes past a NUL.
 */
#include "core/mem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_hash_vectors(void **state)
{
	(void)state;
	assert_true(mem_hash("", 0) == 0xcbf29ce484222325ULL);
	assert_true(mem_hash("a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(mem_hash("foobar", 6) == 0x85944171f73967e8ULL);
	/* every byte counts, a NUL too: the action memo's keys hold them */
	assert_true(mem_hash("a\0b", 3) != mem_hash("a\0c", 3));
	assert_true(mem_hash("a\0b", 3) != mem_hash("a", 1));
}

static void test_grow(void **state)
{
	int *v = NULL;
	size_t alloc = 0;

	(void)state;
	XGROW(v, alloc, 1);
	assert_true(alloc >= 1);
	XGROW(v, alloc, 100);
	assert_true(alloc >= 100);
	for (int i = 0; i < 100; i++)
		v[i] = i;
	XGROW(v, alloc, 3); /* never shrinks */
	assert_true(alloc >= 100);
	assert_int_equal(v[99], 99);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_vectors),
		cmocka_unit_test(test_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
