#ifndef LIVEGATE_CFILEOPS_SHIM_H
#define LIVEGATE_CFILEOPS_SHIM_H
// Linux file operations Swift's Glibc module does not export: `renameat2` with
// RENAME_EXCHANGE, which `PlaylistFile` uses to replace a live playlist without freeing an
// inode each time (docs/architecture.md "Output threads").
#if defined(__linux__)
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/// Swaps the two names atomically (both must exist); 0 or -1 with errno (EINVAL or ENOSYS
/// where the file system or kernel cannot).
static inline int livegate_rename_exchange(const char *from, const char *to) {
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE);
#else
    errno = ENOSYS;
    return -1;
#endif
}
#endif
#endif
