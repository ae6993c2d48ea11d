/* Freestanding shim: memset and memcpy come from merkle.c, memcmp from glue.c. */
#include <stddef.h>
void *memset(void *dst, int c, unsigned long n);
void *memcpy(void *dst, const void *src, unsigned long n);
int memcmp(const void *a, const void *b, size_t n);
