/* SPDX-License-Identifier: MIT
 * Guard pages of the secure builds (MI_GUARD_PAGES): the no-access page after a segment's
 * metadata and at its end, the ones between pages within os.c's process-wide budget (reserved
 * with the segment, placed when their page is first used), and moving a reused huge segment's
 * end guard. Calls only os.c's protection functions; segment-internal.h has the no-op versions
 * the other builds use. */
#include "segment-internal.h"

#if MI_GUARD_PAGES
/* Guard pages between pages in place in the whole process, against _mi_os_guard_budget(). */
static _Atomic(size_t) mi_guards_interior;

/* Which boundaries between pages a new segment guards: all of them while more than half of
 * the budget is left, every 2nd while more than a quarter is, every 4th, ... */
static size_t mi_segment_guard_stride(void) {
  size_t budget = _mi_os_guard_budget();
  size_t used = mi_atomic_load_relaxed(&mi_guards_interior);
  size_t left = (used < budget ? budget - used : 0);
  size_t stride = 1;
  for (size_t bar = budget / 2; stride < MI_SMALL_PAGES_PER_SEGMENT && left <= bar; bar /= 2) stride *= 2;
  return stride;
}

/* No-access pages after the metadata and at the end of the last page, always: a linear overflow
 * out of the segment, or back into its metadata, faults instead of corrupting a neighbour.
 * Between pages, each guard splits a mapping, so those come out of a process-wide budget:
 * unbounded, a secure heap of a few GiB (130 mappings per small segment) would exhaust the
 * kernel's vm.max_map_count and make every mmap in the process fail. As the budget runs low,
 * new segments guard fewer boundaries, at an offset that differs per segment; a boundary left
 * unguarded keeps its guard page unused (and never touched), so the layout is the same.
 * Interior guards are reserved here and placed when their page is first used: a guard costs an
 * mprotect, 63 of them a fresh small segment, and a short program touches only
 * some of its pages. */
mi_decl_segment void _mi_segment_protect_guards(mi_segment_t* segment) {
  _mi_assert(segment->capacity >= 1 && segment->capacity <= MI_SMALL_PAGES_PER_SEGMENT);
  size_t ps = _mi_os_page_size();
  segment->interior_guards = 0;
  segment->guards_pending = 0;
  if (!_mi_os_protect((uint8_t*)segment + mi_segment_info_size(segment->capacity) - ps, ps)) return;
  size_t last = segment->capacity - 1;
  size_t area;
  uint8_t* start = mi_segment_page_area(segment, &segment->pages[last], &area);
  if (!_mi_os_protect(start + area, ps) || last == 0) return;
  size_t stride = mi_segment_guard_stride();
  size_t offset = (size_t)((segment->cookie >> MI_SEGMENT_SHIFT) % stride);
  size_t count = 0;
  for (size_t i = offset; i < last; i += stride) count++;
  if (count == 0) return;
  if (mi_atomic_add_relaxed(&mi_guards_interior, count) + count > _mi_os_guard_budget()) {
    mi_atomic_sub_relaxed(&mi_guards_interior, count);
    return;
  }
  for (size_t i = offset; i < last; i += stride) segment->guards_pending |= (uint64_t)1 << i;
  segment->interior_guards = count;
}

/* The guard at the end of `page`, if one was reserved and is not in place yet. */
mi_decl_segment void _mi_segment_page_guard(mi_segment_t* segment, mi_page_t* page) {
  _mi_assert(page->segment_idx < segment->capacity);
  uint64_t bit = (uint64_t)1 << page->segment_idx;
  if (mi_likely((segment->guards_pending & bit) == 0)) return;
  segment->guards_pending &= ~bit;
  size_t area;
  uint8_t* start = mi_segment_page_area(segment, page, &area);
  if (!_mi_os_protect(start + area, _mi_os_page_size())) { /* refused (warned once): give it back */
    segment->interior_guards--;
    mi_atomic_sub_relaxed(&mi_guards_interior, 1);
  }
}

/* A segment given back takes its interior guards out of the process-wide count. */
mi_decl_segment void _mi_segment_guards_release(mi_segment_t* segment) { mi_atomic_sub_relaxed(&mi_guards_interior, segment->interior_guards); }

/* Where a huge block starts: so that it ends on a huge OS page boundary, with padding (address
 * space only, never touched) between the metadata's guard and the block. The end guard then
 * opens a huge page the block does not use. An mprotect inside a transparent huge page splits
 * it into 4 KiB pages, and each reuse of a cached segment by a block of another size moves the
 * end guard: placed right after the block, it split one of the block's huge pages each time. */
mi_decl_segment size_t _mi_segment_huge_block_offset(size_t info_size, size_t huge_size) {
  size_t lps = _mi_os_large_page_size();
  if (lps == 0 || lps >= MI_SEGMENT_SIZE) return info_size; /* the block must start in the first MI_SEGMENT_SIZE */
  size_t block = _mi_align_up(huge_size, _mi_os_page_size());
  return _mi_align_up(info_size + block, lps) - block;
}

/* A cached huge segment has its guard after its metadata (which stays) and one at its old end.
 * Where the new block's end moves that one, the old guard page turns read-write first; false
 * when the OS refuses, and the segment is not reused. */
mi_decl_segment bool _mi_segment_huge_unguard(mi_segment_t* segment, size_t segment_size) {
  size_t ps = _mi_os_page_size();
  return segment->segment_size == segment_size || _mi_os_unprotect((uint8_t*)segment + segment->segment_size - ps, ps);
}

mi_decl_segment void _mi_segment_huge_reguard(mi_segment_t* segment, size_t old_segment_size) {
  size_t ps = _mi_os_page_size();
  if (segment->segment_size != old_segment_size) (void)_mi_os_protect((uint8_t*)segment + segment->segment_size - ps, ps);
}
#endif
