/* SPDX-License-Identifier: MIT
 * One bit per MI_SEGMENT_SIZE slot of the address space, set while a segment of ours starts
 * there. It answers "is this pointer ours?" without touching the pointed-to memory, which may
 * not be mapped at all. The bitmap lives in zero-initialised static memory, so only the parts
 * that cover addresses we use ever get backed by physical pages. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

/* The address bits user space can have: 48 on the 64-bit targets we build for (4-level page
 * tables on x86-64 and aarch64), all 32 on 32-bit ones. Map words are machine words, so no
 * target needs 64-bit atomics for them: 8 MiB of bits (backed only where used) with 64-bit
 * pointers, 128 bytes with 32-bit ones. */
#if MI_INTPTR_SIZE == 8
#define MI_MAP_ADDRESS_BITS 48
#else
#define MI_MAP_ADDRESS_BITS 32
#endif
#define MI_MAP_SLOTS ((size_t)1 << (MI_MAP_ADDRESS_BITS - MI_SEGMENT_SHIFT))
#define MI_MAP_WORD_BITS MI_INTPTR_BITS
#define MI_MAP_WORDS (MI_MAP_SLOTS / MI_MAP_WORD_BITS)

_Static_assert(MI_MAP_ADDRESS_BITS <= MI_INTPTR_BITS, "the map covers no more than the address space");
_Static_assert(MI_MAP_SLOTS % MI_MAP_WORD_BITS == 0, "the map is whole words");

static _Atomic(uintptr_t) mi_segment_map[MI_MAP_WORDS];

static bool mi_segment_map_index(const void* segment, size_t* word, uintptr_t* bit) {
  uintptr_t slot = (uintptr_t)segment >> MI_SEGMENT_SHIFT;
  if (slot >= MI_MAP_SLOTS) return false;
  *word = slot / MI_MAP_WORD_BITS;
  *bit = (uintptr_t)1 << (slot % MI_MAP_WORD_BITS);
  return true;
}

void _mi_segment_map_allocated_at(const mi_segment_t* segment) {
  size_t word;
  uintptr_t bit;
  if (mi_segment_map_index(segment, &word, &bit)) atomic_fetch_or_explicit(&mi_segment_map[word], bit, memory_order_release);
}

void _mi_segment_map_freed_at(const mi_segment_t* segment) {
  size_t word;
  uintptr_t bit;
  if (mi_segment_map_index(segment, &word, &bit)) atomic_fetch_and_explicit(&mi_segment_map[word], ~bit, memory_order_release);
}

#if MI_TRACK_VALGRIND
/* Process exit, just before memcheck's leak check. Memcheck warns about address ranges still
 * hidden at exit, so the segment headers come back into view, and only the words that point at
 * a page's first block turn undefined instead: the leak checker follows no undefined word, and
 * the fast paths never read them. */
void _mi_segment_map_track_exit(void) {
  for (size_t word = 0; word < MI_MAP_WORDS; word++) {
    uintptr_t bits = mi_atomic_load_acquire(&mi_segment_map[word]);
    while (bits != 0) {
      size_t bit = (size_t)__builtin_ctzll((unsigned long long)bits);
      bits &= bits - 1;
      mi_segment_t* segment = (mi_segment_t*)((word * MI_MAP_WORD_BITS + bit) << MI_SEGMENT_SHIFT);
      mi_track_meta_unhide(segment, segment->segment_info_size);
      for (size_t i = 0; i < segment->capacity; i++) {
        mi_track_mem_undefined(&segment->pages[i].page_start, sizeof(segment->pages[i].page_start));
      }
    }
  }
}
#endif

/* On every checked free: the word index doubles as the range check (an address above the map,
 * NULL's p-1 included, is never ours), and the bit test takes its index modulo the word width.
 * With 32-bit pointers the map covers everything, and NULL's p-1 lands in the top slot, which
 * may hold a segment: callers there test NULL themselves. */
bool _mi_segment_map_contains(const void* p) {
  uintptr_t slot = ((uintptr_t)p - 1) >> MI_SEGMENT_SHIFT;
  size_t word = slot / MI_MAP_WORD_BITS;
  if (mi_unlikely(word >= MI_MAP_WORDS)) return false;
  return ((mi_atomic_load_acquire(&mi_segment_map[word]) >> (slot % MI_MAP_WORD_BITS)) & 1) != 0;
}
