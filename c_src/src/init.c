/* SPDX-License-Identifier: MIT
 * Process and thread life cycle: the empty heap every thread starts with (so the fast path
 * needs no "initialised?" test), per-thread data, process start-up (options, OS facts, the
 * cookie, the thread-exit key), thread exit (abandonment) and the build configuration report.
 * Start-up must not allocate through the allocator: it may run inside the first malloc. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

#include <stdlib.h> /* atexit */

#define MI_PAGE_EMPTY ((mi_page_t*)&_mi_page_empty)

const mi_page_t _mi_page_empty;

/* Every direct entry points at the empty page, whose `free` is NULL: the first allocation of a
 * thread falls into the slow path, which initialises the thread. */
const mi_heap_t _mi_heap_empty = {
  .tld = NULL,
  .pages_free_direct = {[0 ... MI_PAGES_DIRECT - 1] = MI_PAGE_EMPTY},
};

mi_decl_thread mi_heap_t* _mi_heap_default = (mi_heap_t*)&_mi_heap_empty;

uintptr_t _mi_process_cookie;

/* ---- Thread data ------------------------------------------------------------------------------ */

typedef struct mi_thread_data_s {
  mi_heap_t heap; /* the thread's backing heap */
  mi_tld_t tld;
} mi_thread_data_t;

/* Freed thread-data chunks are kept so that thread churn does not map and unmap. Twice a round
 * of 16 threads: a thread's chunk comes back only when its TLS destructors run, which may be
 * after the program has seen it finish (std::thread::scope) and started the next round. */
#define MI_TD_CACHE_SIZE 32
static _Atomic(mi_thread_data_t*) mi_td_cache[MI_TD_CACHE_SIZE];

static mi_thread_data_t* mi_thread_data_zalloc(void) {
  for (size_t i = 0; i < MI_TD_CACHE_SIZE; i++) {
    if (mi_atomic_load_relaxed(&mi_td_cache[i]) == NULL) continue;
    mi_thread_data_t* td = mi_atomic_exchange_acq_rel(&mi_td_cache[i], NULL);
    if (td != NULL) {
      memset(td, 0, sizeof(*td));
      return td;
    }
  }
  return (mi_thread_data_t*)_mi_os_alloc_meta(sizeof(mi_thread_data_t), &_mi_stats_main);
}

static void mi_thread_data_free(mi_thread_data_t* td) {
  for (size_t i = 0; i < MI_TD_CACHE_SIZE; i++) {
    mi_thread_data_t* expected = NULL;
    if (mi_atomic_cas_strong_acq_rel(&mi_td_cache[i], &expected, td)) return;
  }
  _mi_os_free_meta(td, sizeof(mi_thread_data_t), &_mi_stats_main);
}

/* ---- Process ----------------------------------------------------------------------------------- */

static _Atomic(int) mi_process_state; /* 0: not started, 1: starting, 2: ready */
static uintptr_t mi_main_thread_id;

bool _mi_is_main_thread(void) { return mi_main_thread_id == 0 || mi_main_thread_id == _mi_thread_id(); }

void mi_process_init(void) mi_attr_noexcept {
  int expected = 0;
  if (!mi_atomic_cas_strong_acq_rel(&mi_process_state, &expected, 1)) return;
  mi_main_thread_id = _mi_thread_id();
  _mi_os_init();
  _mi_process_cookie = _mi_random_seed() | 1;
  _mi_clock_start();
  _mi_options_init();
  _mi_limit_init();
  _mi_arenas_init();
  _mi_prim_thread_init_auto_done();
  _mi_verbose_message("mimalloc-rs allocator %d.%d (secure level %d, debug level %d) in use\n",
                      MI_MALLOC_VERSION / 100, MI_MALLOC_VERSION % 100, MI_SECURE, MI_DEBUG);
  size_t thp = _mi_os_large_page_size();
  const char* thp_off = (mi_option_is_enabled(mi_option_verbose) ? _mi_os_thp_off() : NULL);
  if (thp == 0) {
    _mi_verbose_message("OS pages of %zu KiB; segments get no transparent huge pages here\n", _mi_os_page_size() / MI_KiB);
  } else if (thp_off != NULL) {
    _mi_verbose_message("OS pages of %zu KiB; transparent huge pages of %zu KiB, which segments do not get (%s)\n",
                        _mi_os_page_size() / MI_KiB, thp / MI_KiB, thp_off);
  } else {
    _mi_verbose_message("OS pages of %zu KiB; transparent huge pages of %zu KiB\n", _mi_os_page_size() / MI_KiB, thp / MI_KiB);
  }
  mi_atomic_store_release(&mi_process_state, 2);
  mi_thread_init();
}

#if defined(_WIN32)
/* MinGW runs .ctors/.dtors only from a `main` that GCC compiled (its call to __main): a Rust
 * or MSVC-built main never makes it, and the exit statistics would be lost. The C
 * runtime's own initializer table (.CRT$XCU) runs before every program's main, and atexit
 * puts the exit report before the runtime tears itself down. */
#define MI_PROCESS_LOAD_ATTR
#define MI_PROCESS_DONE_ATTR
#else
/* Run as early as possible so the main thread's key and options exist before other threads. */
#define MI_PROCESS_LOAD_ATTR __attribute__((constructor))
#define MI_PROCESS_DONE_ATTR __attribute__((destructor))
#endif

MI_PROCESS_LOAD_ATTR static void mi_process_load(void) {
  mi_process_init();
#if defined(_WIN32)
  (void)atexit(&mi_process_done);
#endif
}

#if defined(_WIN32)
/* A program may also end through ExitProcess, which runs no atexit handler: Rust's
 * std::process::exit does. The image's TLS callbacks still see DLL_PROCESS_DETACH (0), before
 * the DLLs detach; mi_process_done uses nothing of the C runtime (WriteFile, MinGW's own
 * vsnprintf). Whichever of the two comes first reports, the other finds it done. */
typedef void (*mi_tls_callback_t)(void* module, unsigned long reason, void* reserved);
static void mi_process_tls_callback(void* module, unsigned long reason, void* reserved) {
  (void)module;
  (void)reserved;
  if (reason == 0) mi_process_done();
}
#if defined(_MSC_VER)
#pragma section(".CRT$XCU", read)
__declspec(allocate(".CRT$XCU")) static void (*mi_process_load_entry)(void) = &mi_process_load;
#pragma section(".CRT$XLY", read)
__declspec(allocate(".CRT$XLY")) static mi_tls_callback_t mi_process_tls_entry = &mi_process_tls_callback;
#else
__attribute__((section(".CRT$XCU"), used)) static void (*mi_process_load_entry)(void) = &mi_process_load;
__attribute__((section(".CRT$XLY"), used)) static mi_tls_callback_t mi_process_tls_entry = &mi_process_tls_callback;
#endif
#endif

static _Atomic(bool) mi_process_done_ran;

MI_PROCESS_DONE_ATTR void mi_process_done(void) mi_attr_noexcept {
  if (mi_atomic_load_acquire(&mi_process_state) != 2) return;
  bool expected = false;
  if (!mi_atomic_cas_strong_acq_rel(&mi_process_done_ran, &expected, true)) return;
  if (mi_option_is_enabled(mi_option_show_stats) || mi_option_is_enabled(mi_option_verbose)) {
    mi_stats_print_out(NULL, NULL);
  }
#if MI_TRACK_VALGRIND
  _mi_segment_map_track_exit();
#endif
}

/* The child inherits the memory of threads it does not have: the abandoned stack's reader
 * count and the arena-reservation lock may be held by one of them and are released; the other
 * threads' heaps are simply gone with their threads. */
void _mi_process_fork_child(void) {
  _mi_segments_fork_child();
  _mi_arenas_fork_child();
}

/* ---- Threads ---------------------------------------------------------------------------------- */

void mi_thread_init(void) mi_attr_noexcept {
  if (mi_atomic_load_acquire(&mi_process_state) == 0) {
    mi_process_init(); /* initialises this thread too */
    return;
  }
  if (mi_heap_is_initialized(mi_prim_get_default_heap())) return;
  mi_thread_data_t* td = mi_thread_data_zalloc();
  if (td == NULL) {
    _mi_error_message(ENOMEM, "unable to allocate thread-local data (%zu bytes)", sizeof(mi_thread_data_t));
    return;
  }
  mi_tld_t* tld = &td->tld;
  mi_heap_t* heap = &td->heap;
  _mi_heap_init(heap, tld, false);
  tld->heap_backing = heap;
  _mi_stat_increase(&_mi_stats_main.threads, 1); /* process-wide at once: the peak is real */
  _mi_heap_set_default_direct(heap);
  _mi_prim_thread_associate_default_heap(heap);
}

/* Set when the thread's state is torn down. A destructor that runs after ours (a pthread key
 * created later, an FLS callback) and only frees then frees straight into the page instead of
 * bringing the thread state back: the C library runs a bounded number of destructor passes
 * (PTHREAD_DESTRUCTOR_ITERATIONS), so state made in the last one was never torn down, and the
 * blocks in its remote chains never reached their pages. An allocation there still needs it. */
static mi_decl_thread bool mi_thread_ended;
bool _mi_thread_has_ended(void) { return mi_thread_ended; }

void _mi_thread_done(mi_heap_t* heap) {
  if (heap == NULL || !mi_heap_is_initialized(heap)) return;
  if (heap->thread_id != _mi_thread_id()) return; /* never tear down another thread's heap */
  _mi_free_forget_all(); /* its segments are about to be abandoned or shared */
  _mi_remote_batch_flush(heap->tld); /* nothing pushes the chain once the thread is gone */
  mi_tld_t* tld = heap->tld;
  mi_heap_t* backing = tld->heap_backing;
  /* heaps the program did not delete: their live blocks go to the backing heap */
  mi_heap_t* h = tld->heaps;
  while (h != NULL) {
    mi_heap_t* next = h->next;
    if (h != backing) mi_heap_delete(h);
    h = next;
  }
  _mi_heap_collect_abandon(backing);
  _mi_segments_thread_done(tld);
  _mi_stat_decrease(&_mi_stats_main.threads, 1);
  _mi_stats_done(&tld->stats);
  /* a destructor that runs after us and allocates starts a fresh thread state */
  _mi_heap_set_default_direct((mi_heap_t*)&_mi_heap_empty);
  mi_thread_ended = true;
  mi_thread_data_free((mi_thread_data_t*)backing);
}

void mi_thread_done(void) mi_attr_noexcept {
  mi_heap_t* heap = mi_prim_get_default_heap();
  if (!mi_heap_is_initialized(heap)) return;
  _mi_prim_thread_associate_default_heap(NULL);
  _mi_thread_done(heap->tld->heap_backing);
  mi_thread_ended = false; /* the thread goes on: a free-only one gets its state back */
}

/* ---- Version and configuration ------------------------------------------------------------------ */

/* Recorded per thread for the segment policies; none of ours reads it yet. */
static mi_decl_thread bool mi_thread_in_threadpool;
void mi_thread_set_in_threadpool(void) mi_attr_noexcept { mi_thread_in_threadpool = true; }
bool _mi_thread_is_in_threadpool(void) { return mi_thread_in_threadpool; }

int mi_version(void) mi_attr_noexcept { return MI_MALLOC_VERSION; }

bool mi_is_redirected(void) mi_attr_noexcept { return MI_MALLOC_OVERRIDE != 0; }

void mi_build_config(mi_build_config_t* config) mi_attr_noexcept {
  if (config == NULL) return;
  config->secure = MI_SECURE;
  config->debug = MI_DEBUG;
  config->padding = MI_PADDING;
  config->encoded_freelist = MI_ENCODE_FREELIST;
  config->override = MI_MALLOC_OVERRIDE;
  config->local_dynamic_tls = MI_LOCAL_DYNAMIC_TLS;
  config->valgrind = MI_TRACK_VALGRIND;
}
