// SPDX-License-Identifier: MIT
// C++ through the override library (or, built with MI_TEST_NEW_DELETE_HEADER=1, through
// mimalloc-new-delete.h over the static library): operator new and delete in all their forms
// are ours, the new handler is called in a loop and std::bad_alloc thrown when memory runs out
// (mi_new too), the nothrow forms return nullptr, and the STL allocators of mimalloc.h keep
// containers in our heaps.
#include <cstdint>
#include <cstdio>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "mimalloc.h"
#if MI_TEST_NEW_DELETE_HEADER
// this program's own replacements, over the static (non-overriding) library
#include "mimalloc-new-delete.h"
#endif

static int passed, failed;
#define CHECK(cond)                                                               \
  do {                                                                            \
    if (cond) passed++;                                                           \
    else {                                                                        \
      failed++;                                                                   \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                             \
  } while (0)

// far more than any address space holds, yet not an overflowing size (volatile: the compiler
// must not see the impossible request coming)
static volatile std::size_t too_much = SIZE_MAX / 2;

// frees what an allocation that should have failed returned anyway
static void sink(void* p) { mi_free(p); }

struct alignas(256) Aligned {
  char bytes[300];
};

static void test_operators_are_ours() {
  int* one = new int(7);
  CHECK(mi_is_in_heap_region(one) && *one == 7);
  delete one;
  int* many = new int[1000];
  CHECK(mi_is_in_heap_region(many) && mi_usable_size(many) >= 4000);
  delete[] many;
  Aligned* a = new Aligned;
  CHECK(mi_is_in_heap_region(a) && reinterpret_cast<std::uintptr_t>(a) % 256 == 0);
  delete a;
  Aligned* as = new Aligned[5];
  CHECK(mi_is_in_heap_region(as) && reinterpret_cast<std::uintptr_t>(as) % 256 == 0);
  delete[] as;
  void* raw = ::operator new(100, std::align_val_t(4096));
  CHECK(mi_is_in_heap_region(raw) && reinterpret_cast<std::uintptr_t>(raw) % 4096 == 0);
  ::operator delete(raw, 100, std::align_val_t(4096));
  int* nt = new (std::nothrow) int[10];
  CHECK(nt != nullptr && mi_is_in_heap_region(nt));
  delete[] nt;
  // the C++ runtime's own allocations come here too
  std::string s(1000, 'x');
  CHECK(mi_is_in_heap_region(s.data()));
}

static int handler_calls;
static void handler_gives_up_on_third_call() {
  if (++handler_calls == 3) std::set_new_handler(nullptr);
}
static void handler_throws() {
  handler_calls++;
  throw std::bad_alloc();
}

template <class F> static bool throws_bad_alloc(F f) {
  try {
    f();
  } catch (const std::bad_alloc&) {
    return true;
  }
  return false;
}

static void test_out_of_memory() {
  // no handler: straight to std::bad_alloc
  CHECK(throws_bad_alloc([] { sink(mi_new(too_much)); }));
  CHECK(throws_bad_alloc([] { sink(::operator new(too_much)); }));
  CHECK(throws_bad_alloc([] { sink(mi_new_aligned(too_much, 64)); }));
  CHECK(throws_bad_alloc([] { sink(::operator new[](too_much, std::align_val_t(64))); }));
  CHECK(new (std::nothrow) char[too_much] == nullptr);
  CHECK(mi_new_nothrow(too_much) == nullptr);
  CHECK(mi_new_aligned_nothrow(too_much, 128) == nullptr);

  // a handler runs until it removes itself, then std::bad_alloc
  handler_calls = 0;
  std::set_new_handler(handler_gives_up_on_third_call);
  CHECK(throws_bad_alloc([] { sink(mi_new(too_much)); }));
  CHECK(handler_calls == 3);
  handler_calls = 0;
  std::set_new_handler(handler_gives_up_on_third_call);
  CHECK(throws_bad_alloc([] { sink(::operator new(too_much)); }));
  CHECK(handler_calls == 3);
  handler_calls = 0;
  std::set_new_handler(handler_gives_up_on_third_call);
  void* keep = mi_malloc(16);
  CHECK(throws_bad_alloc([&] { keep = mi_new_realloc(keep, too_much); }));
  CHECK(handler_calls == 3 && mi_is_in_heap_region(keep)); // the block survives
  mi_free(keep);

  // a handler that throws: the nothrow forms still return nullptr
  handler_calls = 0;
  std::set_new_handler(handler_throws);
  CHECK(mi_new_nothrow(too_much) == nullptr);
  CHECK(new (std::nothrow) char[too_much] == nullptr);
  CHECK(handler_calls == 2);
  std::set_new_handler(nullptr);

  // requests that can never succeed: std::bad_alloc without asking the handler
  handler_calls = 0;
  std::set_new_handler(handler_gives_up_on_third_call);
  CHECK(throws_bad_alloc([] { sink(mi_new_n(SIZE_MAX / 2, 3)); }));
  CHECK(throws_bad_alloc([] { sink(mi_new_reallocn(nullptr, SIZE_MAX / 2, 3)); }));
  CHECK(throws_bad_alloc([] { sink(mi_new_aligned(64, 48)); }));
  CHECK(mi_new_aligned_nothrow(64, 48) == nullptr);
  CHECK(handler_calls == 0);
  std::set_new_handler(nullptr);
}

static void test_stl_allocators() {
  std::vector<int, mi_stl_allocator<int>> v;
  for (int i = 0; i < 10000; i++) v.push_back(i);
  CHECK(mi_is_in_heap_region(v.data()) && v[9999] == 9999);

  mi_heap_stl_allocator<int> alloc;
  std::vector<int, mi_heap_stl_allocator<int>> hv(alloc);
  for (int i = 0; i < 10000; i++) hv.push_back(i);
  CHECK(mi_heap_contains_block(alloc.heap.get(), hv.data()));
  CHECK(!mi_heap_contains_block(mi_heap_get_default(), hv.data()));
  std::vector<int, mi_heap_stl_allocator<int>> copy(hv); // shares the heap
  CHECK(copy.get_allocator() == hv.get_allocator() && mi_heap_contains_block(alloc.heap.get(), copy.data()));
  CHECK(!(mi_heap_stl_allocator<int>() == alloc));

  typedef std::pair<const int, std::string> entry;
  {
    mi_heap_destroy_stl_allocator<entry> dalloc;
    std::map<int, std::string, std::less<int>, mi_heap_destroy_stl_allocator<entry>> m(dalloc);
    for (int i = 0; i < 1000; i++) m[i] = "value";
    CHECK(m.size() == 1000 && m[500] == "value");
    mi_heap_t* h = dalloc.heap.get();
    CHECK(mi_heap_contains_block(h, &*m.begin()));
  } // the heap and every node go at once

  CHECK(throws_bad_alloc([] {
    mi_stl_allocator<double> a;
    a.deallocate(a.allocate(SIZE_MAX / 4), 0); // count * size overflows
  }));
}

int main() {
  test_operators_are_ours();
  test_out_of_memory();
  test_stl_allocators();
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
