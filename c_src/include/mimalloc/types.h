/* SPDX-License-Identifier: MIT
 * Every internal structure of the allocator and the build-mode "variants": MI_SECURE and
 * MI_DEBUG are levels set by the build (cargo features or CMake); the concrete switches the
 * code tests (MI_PADDING, MI_ENCODE_FREELIST, ...) are derived here and nowhere else.
 * Nothing in this header has code; layout facts the code relies on are static-asserted. */
#ifndef MI_TYPES_H
#define MI_TYPES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../mimalloc.h"

/* ---- Variants ------------------------------------------------------------------------- */

#ifndef MI_SECURE
#define MI_SECURE 0 /* 1: guard pages, 2: + encoded free lists, 3: + randomised lists, 4: + double-free checks */
#endif
#ifndef MI_DEBUG
/* 1: cheap assertions at function entry and exit (_mi_assert), encoded free lists and the
 *    ownership check on free;
 * 2: + each structure's consistency checks (_mi_assert_internal, MI_INVARIANTS), padding with
 *    a checked canary, fill patterns, double-free and interior-pointer checks, exact statistics;
 * 3: + walks over whole queues and lists: each page queue after every change, a page's free
 *    lists whenever they are collected (_mi_assert_expensive, MI_INVARIANTS_EXPENSIVE). */
#define MI_DEBUG 0
#endif
#ifndef MI_MALLOC_OVERRIDE
#define MI_MALLOC_OVERRIDE 0
#endif
#ifndef MI_LOCAL_DYNAMIC_TLS
#define MI_LOCAL_DYNAMIC_TLS 0
#endif
#ifndef MI_TRACK_VALGRIND
#define MI_TRACK_VALGRIND 0 /* 1: tell valgrind's memcheck about every block (annotations in track.h) */
#endif
/* Named mitigations, each switched on by a level; the code tests these, never the levels. */
#define MI_GUARD_PAGES (MI_SECURE >= 1)        /* no-access OS pages after metadata, at segment end, between pages (budgeted) */
#define MI_CHECK_OWNED (MI_SECURE >= 1 || MI_DEBUG >= 1) /* free refuses pointers we never handed out */
#define MI_ENCODE_FREELIST (MI_SECURE >= 2 || MI_DEBUG >= 1) /* links encoded with per-page keys, checked on decode */
#define MI_RANDOM_FREELIST (MI_SECURE >= 3)    /* fresh blocks up to MI_EXTEND_SEVERAL_MAX are linked in a random order */
#define MI_CHECK_DOUBLE_FREE (MI_SECURE >= 4 || MI_DEBUG >= 2) /* a block already free is refused */
#ifndef MI_CHECK_INTERIOR
#define MI_CHECK_INTERIOR (MI_SECURE >= 4 || MI_DEBUG >= 2) /* a free of a pointer inside a block is refused */
#endif
/* a checked canary after every block; with valgrind it also records the requested size, so
 * memcheck's block, mi_usable_size and realloc's copy all agree on the bytes the program owns */
/* The canary after each block in secure builds: opt-in (feature `secure_canary`), since its 8
 * bytes per block move most requests up a size class and it is written on every allocation and
 * checked on every free (README, "Secure mode: mitigations and error policy"). */
#ifndef MI_SECURE_CANARY
#define MI_SECURE_CANARY 0
#endif
#if MI_SECURE_CANARY && MI_SECURE < 4
#error "MI_SECURE_CANARY needs MI_SECURE=4"
#endif
#define MI_PADDING (MI_DEBUG >= 2 || MI_SECURE_CANARY || MI_TRACK_VALGRIND)
#define MI_PAGE_KEYS (MI_ENCODE_FREELIST || MI_PADDING) /* pages carry keys (links, canaries) */
#define MI_CHECK_PADDING (MI_DEBUG >= 2 || MI_SECURE_CANARY) /* the canary is checked at free: heap overflows are reported */
/* bytes after the request filled with MI_DEBUG_PADDING and checked: debug's (and valgrind's)
 * 256 catch a write anywhere in the slack; secure's one word, a short overflow at its start */
#define MI_PADDING_FILL (MI_DEBUG >= 2 || MI_TRACK_VALGRIND ? 256 : 8)
#define MI_FILL (MI_DEBUG >= 2)                /* fill patterns for fresh and freed memory */
#define MI_INVARIANTS (MI_DEBUG >= 2)          /* the check functions _mi_assert_internal asserts (slow paths) */
#define MI_INVARIANTS_EXPENSIVE (MI_DEBUG >= 3) /* + whole-queue walks after every queue change, every page on collect */
#define MI_STAT (MI_DEBUG >= 2 ? 2 : 1)        /* 2: exact per-allocation statistics */

#define MI_DEBUG_UNINIT 0xD0  /* fresh, not zeroed memory */
#define MI_DEBUG_FREED 0xDF   /* freed memory */
#define MI_DEBUG_PADDING 0xDE /* between the requested size and the canary */

/* ---- Sizes ------------------------------------------------------------------------------ */

/* The machine word: a free block's link, the encoded-link keys and the direct-lookup word size.
 * Taken from the pointer width itself (not from `long`, which is 32 bits on 64-bit Windows). */
#if UINTPTR_MAX == UINT64_MAX
#define MI_INTPTR_SHIFT 3
#elif UINTPTR_MAX == UINT32_MAX
#define MI_INTPTR_SHIFT 2
#else
#error "pointers must be 32 or 64 bits wide"
#endif
#define MI_INTPTR_SIZE (1 << MI_INTPTR_SHIFT)
#define MI_INTPTR_BITS (8 * MI_INTPTR_SIZE)
#define MI_MAX_ALIGN_SIZE 16 /* what the plain API guarantees for sizes >= 16 */
#define MI_KiB ((size_t)1024)
#define MI_MiB (MI_KiB * MI_KiB)

/* 4 MiB segments with both pointer widths. A 32-bit process has 3 to 4 GiB of address space,
 * room for about 700 of them; smaller segments would mean smaller pages (more segments per
 * heap, more headers) or fewer pages per segment, and 4 MiB already spends only 0.1 % of the
 * address space per segment. The segment map (segment-map.c) is 128 bytes there. */
#define MI_SEGMENT_SHIFT 22
#define MI_SEGMENT_SIZE ((size_t)1 << MI_SEGMENT_SHIFT)
#define MI_SEGMENT_MASK (MI_SEGMENT_SIZE - 1)
#define MI_SMALL_PAGE_SHIFT 16  /* 64 KiB */
#define MI_MEDIUM_PAGE_SHIFT 19 /* 512 KiB */
#define MI_SMALL_PAGE_SIZE ((size_t)1 << MI_SMALL_PAGE_SHIFT)
#define MI_MEDIUM_PAGE_SIZE ((size_t)1 << MI_MEDIUM_PAGE_SHIFT)
#define MI_SMALL_PAGES_PER_SEGMENT (MI_SEGMENT_SIZE / MI_SMALL_PAGE_SIZE)
#define MI_MEDIUM_PAGES_PER_SEGMENT (MI_SEGMENT_SIZE / MI_MEDIUM_PAGE_SIZE)

/* A medium page holds blocks up to a quarter of its size, so at most 25 % of it is lost to the
 * tail that no block fits into (a large page, a whole segment, loses up to half). Small pages
 * stop at an eighth: with 4-7 blocks to a page, a thread whose 8-16 KiB blocks are freed by
 * others keeps many such pages half used, and claims new ones (rptest-cross, with those sizes
 * on medium pages: 2.4 times fewer page claims, 26 % less memory, 2.9 % fewer instructions and
 * 6 % fewer D1 misses). */
#define MI_SMALL_OBJ_SIZE_MAX (MI_SMALL_PAGE_SIZE / 8)  /* 8 KiB */
#define MI_MEDIUM_OBJ_SIZE_MAX (MI_MEDIUM_PAGE_SIZE / 4) /* 128 KiB */
#define MI_LARGE_OBJ_SIZE_MAX (MI_SEGMENT_SIZE / 2)     /* 2 MiB; larger is "huge" */
#define MI_LARGE_OBJ_WSIZE_MAX (MI_LARGE_OBJ_SIZE_MAX / MI_INTPTR_SIZE)

/* Requests above this are refused before any arithmetic can overflow. */
#define MI_MAX_ALLOC_SIZE ((size_t)PTRDIFF_MAX)

/* Alignments up to this are served by over-allocating in an ordinary page; larger ones get a
 * huge segment placed so the block lands on the alignment. */
#define MI_ALIGN_OVERALLOC_MAX (64 * MI_KiB)

/* Size classes: bin 1 is 8 bytes, bins 2..17 step by 16 bytes up to 256, then eight classes
 * per power of two, which bounds internal waste to 1/9 of the block (< 12.5 %). The classes
 * are the same with 4-byte words: every class from 16 bytes up is a multiple of 16, which is
 * how blocks keep MI_MAX_ALIGN_SIZE, and bin 1 stays 8 bytes so 5..8-byte requests are not
 * rounded up to 16. */
#define MI_MIN_BLOCK_SIZE 8 /* bin 1: room for a link word, and for 8-byte alignment */
#define MI_BIN_LINEAR_MAX 256
#define MI_BIN_LARGE_LAST 121 /* the bin of MI_LARGE_OBJ_SIZE_MAX */
#define MI_BIN_HUGE (MI_BIN_LARGE_LAST + 1)
#define MI_BIN_FULL (MI_BIN_HUGE + 1)
#define MI_BIN_COUNT (MI_BIN_FULL + 1)

#define MI_PAGES_DIRECT (MI_SMALL_WSIZE_MAX + 1) /* direct lookup by word size 0..128 (up to MI_SMALL_SIZE_MAX bytes) */

/* Free lists of a fresh page grow by at most this many bytes per step (bounded work). */
#define MI_MAX_EXTEND_SIZE (4 * MI_KiB)
#define MI_EXTEND_SEVERAL_MAX (16 * MI_KiB) /* larger blocks are linked one at a time (page.c) */
#define MI_MIN_EXTEND 4

/* ---- Atomic thread-free state ---------------------------------------------------------- */

/* The two low bits of a page's `xthread_free` say how a free from another thread proceeds. */
typedef enum mi_delayed_e {
  MI_USE_DELAYED_FREE = 0,   /* page is full: push the block on the owning heap's delayed list */
  MI_DELAYED_FREEING = 1,    /* transient: a thread is pushing on that heap list right now */
  MI_NO_DELAYED_FREE = 2,    /* ordinary: push on the page's thread_free list */
  MI_NEVER_DELAYED_FREE = 3  /* abandoned or moving page: thread_free only, never the heap */
} mi_delayed_t;

typedef uintptr_t mi_thread_free_t; /* block pointer | mi_delayed_t */
typedef uintptr_t mi_encoded_t;

/* A free block: only its first word is ours while it is free. */
typedef struct mi_block_s {
  mi_encoded_t next; /* next free block, through mi_block_next/mi_block_set_next only */
} mi_block_t;

/* Debug padding at the very end of each block: the canary and the distance from the end of
 * the requested bytes to the canary (bytes in between hold MI_DEBUG_PADDING). */
typedef struct mi_padding_s {
  uint32_t canary; /* derived from the page keys and the block address */
  uint32_t delta;  /* block_size - sizeof(mi_padding_t) - requested size */
#if MI_TRACK_VALGRIND
  uint32_t track_offset; /* the pointer memcheck knows is block + track_offset (aligned blocks) */
#endif
} mi_padding_t;

#if MI_PADDING
#define MI_PADDING_SIZE (sizeof(mi_padding_t))
#else
#define MI_PADDING_SIZE 0
#endif

/* Two flags tested together by the free fast path with one byte compare. Only the owner
 * writes them; a remote free reads `has_aligned` (stable while the block is live) in the same
 * byte the owner may be updating, so the byte is accessed with relaxed atomics. */
#define MI_PAGE_IN_FULL ((uint8_t)0x01)     /* page sits in the heap's full queue */
#define MI_PAGE_HAS_ALIGNED ((uint8_t)0x02) /* a block was handed out at an interior (aligned) address */
/* A free list of the page failed its check and was dropped (a handler chose to go on): the page
 * hands out nothing more and frees into it are refused, so its blocks leak instead of being
 * handed out twice. Nonzero flags send every free to the generic path, which refuses them. */
#define MI_PAGE_CORRUPT ((uint8_t)0x04)
typedef uint8_t mi_page_flags_t;

typedef enum mi_page_kind_e {
  MI_PAGE_SMALL,  /* 64 KiB pages, 64 per segment */
  MI_PAGE_MEDIUM, /* 512 KiB pages, 8 per segment */
  MI_PAGE_LARGE,  /* one page spanning the segment */
  MI_PAGE_HUGE    /* one page, one block, segment sized to fit */
} mi_page_kind_t;

struct mi_heap_s;
struct mi_tld_s;

/* Page descriptor (lives in the segment header, not in the page it describes).
 * Invariant: used = capacity - |free| - |local_free| (blocks in thread_free still count as used).
 * Owner-only fields are touched by the owning thread alone; `xthread_free` and `xheap` are
 * shared. Three cache lines by who writes them: fields set when the page is set up (and read
 * by every free, from any thread), the owner's lists and counters (written on every malloc and
 * free), and the list other threads push on. A free from another thread then reads the first
 * line and writes the third, and never takes the owner's line away from it. */
typedef struct mi_page_s {
  /* set up once per use; read by everyone */
  _Alignas(64) uint8_t segment_idx; /* index in segment->pages */
  uint8_t segment_in_use : 1;/* handed to a heap */
  uint8_t is_zero_init : 1;  /* memory of never-extended blocks is known zero */
  uint8_t purge_pending : 1; /* empty, and its memory should be purged at purge_expire */
  uint8_t is_purged : 1;     /* memory was given back to the OS (and so reads as zero with DONTNEED) */
  uint8_t heap_may_destroy : 1; /* set up by a heap that mi_heap_destroy may free with blocks live: other threads never hold its blocks back (free.c) */
  mi_page_flags_t flags;
#if MI_CHECK_INTERIOR
  uint8_t block_shift;       /* trailing zero bits of block_size (interior-pointer test, free.c) */
#endif
  uint32_t capacity;         /* blocks whose free-list links have been written */
  uint32_t reserved;         /* blocks that fit in the page */
#if MI_CHECK_INTERIOR
  uint32_t block_inv;        /* inverse of block_size's odd part modulo 2^32 (in holes of the first line) */
#endif
  size_t block_size;         /* bytes per block */
  uint8_t* page_start;       /* first block */
  size_t block_area;         /* reserved * block_size: bytes from page_start that hold blocks; 0 while not in use */
#if MI_PAGE_KEYS
  uintptr_t keys[2];         /* per-page keys of the encoded free list and the canaries */
#endif
  _Atomic(uintptr_t) xheap;  /* owning heap; NULL while abandoned */
  /* the owner's */
  _Alignas(64) mi_block_t* free; /* allocation list */
  mi_block_t* local_free;    /* frees by the owner */
  uint32_t used;             /* blocks in use (including those on thread_free) */
  uint8_t free_is_zero;      /* every block on `free` is zero except its link word */
  uint8_t retire_expire;     /* heartbeats left before an empty retired page is freed */
  uint8_t last_bin;          /* while free: the size class it served last, 0: none (segment.c) */
  int64_t purge_expire;      /* msecs timestamp for a pending purge; once purged, when (0: not known) */
  struct mi_page_s* next;    /* in the heap's page queue */
  struct mi_page_s* prev;
  /* other threads' */
  _Alignas(64) _Atomic(mi_thread_free_t) xthread_free; /* frees by other threads, plus mi_delayed_t */
} mi_page_t;

/* Segment: MI_SEGMENT_SIZE-aligned memory whose header describes its pages. Any block pointer p
 * (other than one at the very start, which never happens) finds its segment as (p-1) & ~MASK. */
typedef struct mi_segment_s {
  size_t mem_size;            /* bytes mapped (unmapped together) */
  void* mem_base;             /* start of the mapping (== segment except for huge alignment) */
  bool mem_is_large;          /* backed by huge OS pages */
  bool mem_thp;               /* advised transparent huge pages, until its first purge or release */
  bool mem_is_committed;      /* committed whole; else header and `commit_mask` pages only (eager_commit) */
  int mem_arena;              /* arena id the memory is from, 0: its own OS mapping */
  uint64_t commit_mask;       /* while not committed whole: pages committed, bit i = page i */
  size_t mem_committed;       /* while not committed whole: bytes counted as committed */
  size_t segment_size;        /* bytes spanned by the pages */
  size_t segment_info_size;   /* header bytes before page 0's blocks */
  uintptr_t cookie;           /* segment ^ process cookie: checks a pointer is ours */
  struct mi_segment_s* next;  /* in a tld free-page queue or the cache */
  struct mi_segment_s* prev;
  _Atomic(struct mi_segment_s*) abandoned_next; /* in the global abandoned stack; atomic: a racing pop may read it */
  size_t abandoned;           /* pages in use while abandoned */
  size_t abandoned_unpurged;  /* while abandoned: bytes of its empty pages left for the next owner to purge */
  size_t used;                /* pages in use */
  size_t capacity;            /* pages in the segment */
  size_t page_shift;          /* log2 of page size (page index of p = offset >> page_shift) */
  int64_t cache_expire;       /* when sitting in a cache: when to unmap */
  int64_t tail_expire;        /* huge, in use, with written bytes past segment_size: when to purge them (0: none) */
  size_t zero_from;           /* offset from which no byte was written since the mapping (or last zeroing purge) */
  mi_page_kind_t page_kind;
  bool in_free_queue;         /* linked in its tld's small/medium free queue */
  bool guarded;               /* huge, holding one sampled block that ends on its no-access last OS page */
  size_t interior_guards;     /* guard pages between its pages reserved from the budget (secure) */
  uint64_t guards_pending;    /* of those, the ones placed when their page is first used: bit i ends page i */
  _Atomic(uintptr_t) thread_id; /* owning thread, 0 while abandoned */
  struct mi_subproc_s* subproc; /* the sub-process whose threads own it and may adopt it */
  mi_page_t pages[1];         /* `capacity` descriptors */
} mi_segment_t;

typedef struct mi_page_queue_s {
  mi_page_t* first;
  mi_page_t* last;
  size_t block_size;
} mi_page_queue_t;

/* A heap: owned by one thread. `pages_free_direct[w]` is the page that serves word size w,
 * i.e. the first page of the queue of that size class. */
typedef struct mi_heap_s {
  struct mi_tld_s* tld;
  mi_page_t* pages_free_direct[MI_PAGES_DIRECT];
  mi_page_queue_t pages[MI_BIN_COUNT];
  _Atomic(mi_block_t*) thread_delayed_free; /* blocks freed by other threads into full pages */
  uintptr_t thread_id;
  uintptr_t cookie;
  uintptr_t keys[2];           /* seeds per-page free-list keys */
#if MI_ENCODE_FREELIST
  uintptr_t delayed_keys[2];   /* encode thread_delayed_free links; fixed for the heap's life (other threads read them) */
#endif
  size_t page_count;           /* pages in the queues */
  uint64_t page_retired[2];    /* one bit per bin that may hold a retired page */
  struct mi_heap_s* next;      /* list of the thread's heaps */
  bool no_reclaim;             /* a first-class heap never takes abandoned segments */
  size_t mem_limit;            /* bytes of pages this heap may hold, 0: no limit (limit.c) */
  size_t mem_used;             /* bytes of pages it holds, as limit.c counts them */
  int arena_id;                /* pinned to this (exclusive) arena, 0: any shared arena or the OS */
  size_t guarded_sample_rate;  /* 1 in this many allocations in [min, max] sits before a guard page, 0: none */
  size_t guarded_sample_count; /* allocations in range left until the next sampled one */
  size_t guarded_size_min;
  size_t guarded_size_max;
} mi_heap_t;

/* A sub-process: a set of threads whose abandoned segments only they adopt (each has its own
 * abandoned stack, ABA-tagged in the low bits). */
/* Abandoned segments wait on one stack per kind of page they hold: small, medium, and large
 * with huge (segment-abandon.c). */
#define MI_ABANDONED_STACKS 3
typedef struct mi_subproc_s {
  _Atomic(uintptr_t) abandoned[MI_ABANDONED_STACKS];     /* tops of the abandoned stacks | tag */
  _Atomic(size_t) abandoned_count[MI_ABANDONED_STACKS];
  bool is_main;                       /* the process's own: never deleted */
} mi_subproc_t;

typedef struct mi_segment_queue_s {
  mi_segment_t* first;
  mi_segment_t* last;
} mi_segment_queue_t;

/* Dense segments a thread holds before its next ones get transparent huge pages (segment.c). */
#ifndef MI_THP_SEGMENTS_MIN
#define MI_THP_SEGMENTS_MIN 16
#endif
#define MI_THP_EARLY_MAX (MI_THP_SEGMENTS_MIN > 0 ? MI_THP_SEGMENTS_MIN : 1)

/* Per-thread segment bookkeeping. */
typedef struct mi_segments_tld_s {
  mi_segment_queue_t small_free;  /* small-page segments with a free page */
  mi_segment_queue_t medium_free; /* medium-page segments with a free page */
  mi_segment_queue_t cache;       /* empty segments kept for reuse (standard, and huge up to MI_HUGE_CACHE_MAX) */
  mi_segment_queue_t huge_tails;  /* huge segments in use whose tail past the block holds written pages */
  size_t cache_count;
  size_t count;                   /* segments owned */
  size_t dense_count;             /* of those, small- and medium-page segments */
  size_t early_count;
  bool packed;                    /* its early segments were found packed (segment.c) */
  struct mi_segment_s* early[MI_THP_EARLY_MAX]; /* dense ones on 4 KiB pages (segment.c), up to MI_THP_EARLY_MAX */
  int64_t purge_expire;           /* earliest pending page or tail purge or cache expiry, 0 if none */
  int64_t purge_regret_at;        /* when a page was last taken soon after its purge (segment-purge.c) */
  int64_t purge_raised_at;        /* when purge_shift last went up */
  uint8_t purge_shift;            /* page purges wait purge_delay << purge_shift (segment-purge.c) */
} mi_segments_tld_t;

/* Thread-local data: one per thread that allocates. */
/* Blocks this thread freed into one page owned by another thread and not yet pushed on that
 * page's thread_free list (free.c): a chain from `head` (newest) to `tail` (oldest, its link not
 * yet written), linked with the page's keys. They still count in the page's `used`, so the page
 * stays in use until the chain is pushed. */
typedef struct mi_remote_chain_s {
  struct mi_page_s* page;       /* NULL: empty */
  mi_block_t* head;
  mi_block_t* tail;
  uint32_t count;               /* blocks in the chain */
  uint32_t full_at;             /* the count at which the next block completes the chain (free.c) */
} mi_remote_chain_t;

#define MI_REMOTE_SLOTS MI_INTPTR_BITS /* chains a thread keeps, one per page, slot chosen by the page's address; as many as a segment has small pages, so that frees of many size classes in turn keep their chains */

typedef struct mi_remote_batch_s {
  size_t pending;               /* bit i: slot i holds a chain */
  mi_remote_chain_t slot[MI_REMOTE_SLOTS];
} mi_remote_batch_t;

typedef struct mi_tld_s {
  unsigned long long heartbeat; /* slow-path calls, passed to deferred-free hooks */
  bool recurse;                 /* in a deferred-free hook */
  mi_heap_t* heap_backing;      /* the thread's own heap, freed with the thread */
  mi_heap_t* heaps;             /* every heap of the thread */
  mi_segments_tld_t segments;
  mi_subproc_t* subproc;        /* NULL: the main sub-process */
  mi_stats_t stats;
  mi_remote_batch_t remote;     /* frees into another thread's page, pushed together (free.c) */
} mi_tld_t;

_Static_assert((MI_SEGMENT_SIZE & (MI_SEGMENT_SIZE - 1)) == 0, "segment size must be a power of two");
_Static_assert(sizeof(void*) == MI_INTPTR_SIZE && sizeof(uintptr_t) == MI_INTPTR_SIZE && sizeof(size_t) == MI_INTPTR_SIZE,
               "pointers, uintptr_t and size_t are one word");
_Static_assert(sizeof(mi_block_t) == sizeof(void*), "a free block's link is one word");
_Static_assert(MI_MIN_BLOCK_SIZE >= sizeof(mi_block_t), "the smallest block holds a free-list link");
_Static_assert(MI_MIN_BLOCK_SIZE % MI_INTPTR_SIZE == 0, "links of the smallest blocks are word aligned");
_Static_assert(MI_MAX_ALIGN_SIZE % MI_INTPTR_SIZE == 0 && MI_BIN_LINEAR_MAX % MI_MAX_ALIGN_SIZE == 0,
               "classes from 16 bytes up are multiples of MI_MAX_ALIGN_SIZE");
_Static_assert(MI_SEGMENT_SHIFT < MI_INTPTR_BITS - 8, "a segment is a small part of the address space");
_Static_assert(MI_MAX_EXTEND_SIZE % MI_MIN_BLOCK_SIZE == 0, "a free-list extension is whole smallest blocks");
_Static_assert(_Alignof(mi_page_t) == 64 && sizeof(mi_page_t) % 64 == 0, "page descriptors keep their three cache lines");
_Static_assert(sizeof(mi_page_t) == 192, "page descriptors are three cache lines");
_Static_assert(MI_SMALL_SIZE_MAX == MI_SMALL_WSIZE_MAX * MI_INTPTR_SIZE && MI_PAGES_DIRECT == MI_SMALL_WSIZE_MAX + 1,
               "the direct array has an entry per word size up to MI_SMALL_SIZE_MAX");
_Static_assert(MI_BIN_COUNT <= MI_STAT_BINS, "stats keep one counter per bin");
_Static_assert(MI_BIN_COUNT <= 256, "a free page remembers its last bin in a byte");
_Static_assert(MI_SMALL_PAGES_PER_SEGMENT <= 64, "guards_pending has a bit per page");
_Static_assert(MI_SMALL_SIZE_MAX <= MI_SMALL_OBJ_SIZE_MAX, "direct sizes are small sizes");
_Static_assert(MI_INTPTR_SIZE == 4 || MI_INTPTR_SIZE == 8, "32- or 64-bit pointers only");
_Static_assert(offsetof(mi_page_t, free) == 64 && offsetof(mi_page_t, xthread_free) == 128,
               "the owner's fields and the other threads' list each start a cache line of their own");
_Static_assert(MI_SMALL_PAGES_PER_SEGMENT <= 8 * sizeof(((mi_segment_t*)0)->commit_mask), "commit_mask has a bit per page");
_Static_assert(MI_SMALL_PAGES_PER_SEGMENT <= (size_t)UINT8_MAX + 1, "segment_idx holds every page index");
_Static_assert(MI_SMALL_PAGE_SIZE / MI_MIN_BLOCK_SIZE <= UINT32_MAX && MI_SEGMENT_SIZE / MI_MIN_BLOCK_SIZE <= UINT32_MAX,
               "capacity and reserved count the blocks of any non-huge page in 32 bits");
_Static_assert(MI_MIN_BLOCK_SIZE % 4 == 0 && MI_NEVER_DELAYED_FREE <= 3,
               "block addresses leave the two low bits of xthread_free to the mi_delayed_t state");
_Static_assert((MI_PAGE_IN_FULL | MI_PAGE_HAS_ALIGNED | MI_PAGE_CORRUPT) <= UINT8_MAX, "page flags fit mi_page_flags_t");

#endif /* MI_TYPES_H */
