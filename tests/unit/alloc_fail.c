/* Allocation failure injection: see alloc_fail.h. The __wrap_* functions are what the
 * linker's --wrap makes every malloc, calloc, realloc, free and strdup call of the test
 * binary's own objects resolve to; __real_* is the allocator those names had before.
 *
 * strdup is wrapped for the count alone: Check, linked statically, frees the strdup copy
 * it makes of a file name at every passing assertion, and a free of a block the count
 * never saw would make every test's count drift. */
#include "tests/unit/alloc_fail.h"

#include "base/hash.h"

#include <stddef.h>

struct alloc_fail alloc_fail;

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
void __real_free(void *pointer);
char *__real_strdup(const char *text);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *pointer, size_t size);
void __wrap_free(void *pointer);
char *__wrap_strdup(const char *text);

void alloc_fail_at(uint64_t fail_at)
{
    alloc_fail.armed = false;
    alloc_fail.one_in = 0;
    alloc_fail.fail_at = fail_at;
    alloc_fail.armed_count = 0;
    alloc_fail.failed_count = 0;
}

void alloc_fail_random(uint32_t one_in, uint64_t seed)
{
    alloc_fail_at(0);
    alloc_fail.one_in = one_in;
    alloc_fail.random_state = seed;
}

static bool alloc_should_fail(void)
{
    if (!alloc_fail.armed) {
        return false;
    }
    alloc_fail.armed_count++;
    bool fail = alloc_fail.fail_at != 0
                    ? alloc_fail.armed_count == alloc_fail.fail_at
                    : alloc_fail.one_in != 0 &&
                          hash_sequence_next(&alloc_fail.random_state) % alloc_fail.one_in == 0;
    alloc_fail.failed_count += fail;
    return fail;
}

void *__wrap_malloc(size_t size)
{
    void *block = alloc_should_fail() ? NULL : __real_malloc(size);
    alloc_fail.live_count += block != NULL;
    return block;
}

void *__wrap_calloc(size_t count, size_t size)
{
    void *block = alloc_should_fail() ? NULL : __real_calloc(count, size);
    alloc_fail.live_count += block != NULL;
    return block;
}

/* A failed realloc leaves the old block as it was, as the real one does. */
void *__wrap_realloc(void *pointer, size_t size)
{
    if (alloc_should_fail()) {
        return NULL;
    }
    void *block = __real_realloc(pointer, size);
    if (pointer == NULL) {
        alloc_fail.live_count += block != NULL;
    } else if (size == 0 && block == NULL) {
        alloc_fail.live_count--; /* glibc and ASan free the block and return NULL */
    }
    return block;
}

void __wrap_free(void *pointer)
{
    alloc_fail.live_count -= pointer != NULL;
    __real_free(pointer);
}

char *__wrap_strdup(const char *text)
{
    char *copy = alloc_should_fail() ? NULL : __real_strdup(text);
    alloc_fail.live_count += copy != NULL;
    return copy;
}
