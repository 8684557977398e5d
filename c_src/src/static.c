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

#if defined(_WIN32)
#include "prim-windows.c"
#else
#include "prim-unix.c"
#endif
#include "random.c"
#include "os.c"
#include "segment-map.c"
#include "arena.c"
#include "segment.c"
#include "page-queue.c"
#include "page.c"
#include "alloc.c"
#include "free.c"
#include "alloc-aligned.c"
#include "alloc-posix.c"
#include "heap.c"
#include "limit.c"
#include "options.c"
#include "stats.c"
#include "init.c"
#include "alloc-override.c"
