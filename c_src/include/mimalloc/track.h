/* SPDX-License-Identifier: MIT
 * Annotations that tell a memory checker which bytes the program may use. MI_TRACK_VALGRIND is
 * a level set by the build (cargo feature `valgrind`, CMake option MI_TRACK_VALGRIND); with it
 * off every macro here expands to nothing, so the default build's code is unchanged. Only
 * memcheck's client requests live here: no allocation, no OS calls, no state of our own.
 *
 * The model memcheck is given:
 * - a live block is exactly the bytes the program asked for, starting at the pointer it got
 *   (an aligned block's interior pointer included); with tracking on, MI_PADDING is on, so the
 *   requested size is known at free and mi_usable_size() returns exactly that size;
 * - every other byte of a page's block area (free blocks, their links, the tail after a live
 *   block's requested bytes, the padding) is no-access to the program;
 * - the allocator itself opens the few bytes it must touch (a free block's link word, a block
 *   it is handing out or taking back) for the duration of the access and closes them again;
 * - segment headers are hidden from the leak checker, so only the program's own pointers
 *   keep a block reachable. */
#ifndef MI_TRACK_H
#define MI_TRACK_H

#include "types.h" /* the MI_TRACK_VALGRIND level and the MI_PADDING it implies */

#if MI_TRACK_VALGRIND
#include <valgrind/memcheck.h>

/* `p` now holds a live block of `size` bytes; zeroed blocks count as initialised. */
#define mi_track_malloc(p, size, zero) VALGRIND_MALLOCLIKE_BLOCK((p), (size), 0, (zero) ? 1 : 0)
/* The block the program knows by `p` is gone; memcheck reports a pointer that is no live block. */
#define mi_track_free(p) VALGRIND_FREELIKE_BLOCK((p), 0)
#define mi_track_mem_defined(p, size) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (size)))
#define mi_track_mem_undefined(p, size) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (size)))
#define mi_track_mem_noaccess(p, size) ((void)VALGRIND_MAKE_MEM_NOACCESS((p), (size)))
/* Allocator metadata (segment headers) is no root for the leak checker: `page_start` points at
 * a page's first block, and would make a leaked first block look "still reachable". Memcheck
 * reports no access to these bytes either; none are the program's. */
#define mi_track_meta_hide(p, size) ((void)VALGRIND_DISABLE_ADDR_ERROR_REPORTING_IN_RANGE((p), (size)))
#define mi_track_meta_unhide(p, size) ((void)VALGRIND_ENABLE_ADDR_ERROR_REPORTING_IN_RANGE((p), (size)))
#else
#define mi_track_malloc(p, size, zero) ((void)0)
#define mi_track_free(p) ((void)0)
#define mi_track_mem_defined(p, size) ((void)0)
#define mi_track_mem_undefined(p, size) ((void)0)
#define mi_track_mem_noaccess(p, size) ((void)0)
#define mi_track_meta_hide(p, size) ((void)0)
#define mi_track_meta_unhide(p, size) ((void)0)
#endif

#endif /* MI_TRACK_H */
