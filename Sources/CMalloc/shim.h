#ifndef LIVEGATE_CMALLOC_SHIM_H
#define LIVEGATE_CMALLOC_SHIM_H
// glibc's heap counters and trim (malloc.h is not part of Swift's Glibc module): what
// `MemoryTrimmer` reads and calls (docs/architecture.md "Memory after a burst").
#include <stddef.h>
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>

/// Bytes the heap has in use: arena chunks in use plus mmap'ed chunks.
static inline size_t livegate_heap_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

/// Returns free memory of every arena to the system; 1 when some was returned.
static inline int livegate_malloc_trim(void) {
    return malloc_trim(0);
}
#endif
#endif
