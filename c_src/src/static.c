/* SPDX-License-Identifier: MIT
 * The unity translation unit the builds compile: every source file included once, so the
 * compiler sees the fast paths and their callees together and inlines across files. Defines
 * nothing itself. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#define MI_IN_STATIC_C 1

/* In layer order, from the OS up (c_src/README.md, "Layers"): the OS layer, the services any
 * layer may call, then memory from the OS, segments, pages, blocks, heaps, process and thread
 * start, and last the posix and standard names. Each file also compiles on its own (CI checks
 * that), so the order documents the layering; the build does not depend on it. */
#if defined(_WIN32)
#include "prim-windows.c"
#else
#include "prim-unix.c"
#endif
#include "options.c"
#include "random.c"
#include "stats.c"
#include "os.c"
#include "arena.c"
#include "segment-map.c"
#include "segment.c"
#include "segment-guard.c"
#include "segment-purge.c"
#include "segment-cache.c"
#include "segment-abandon.c"
#include "limit.c"
#include "page-queue.c"
#include "page.c"
#include "alloc.c"
#include "free.c"
#include "alloc-aligned.c"
#include "heap.c"
#include "init.c"
#include "alloc-posix.c"
#include "alloc-override.c"
