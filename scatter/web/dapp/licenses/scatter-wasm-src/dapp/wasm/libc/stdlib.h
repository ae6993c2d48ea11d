/* Freestanding shim: the allocator is in glue.c (a bump heap in the wasm memory). */
#include <stddef.h>
void *malloc(size_t size);
void free(void *ptr);
