/* SPDX-License-Identifier: MIT
 * The Windows OS layer behind prim.h: VirtualAlloc/VirtualFree/VirtualProtect for memory, an FLS
 * callback for thread exit, a TEB TLS slot for the default heap, BCrypt randomness, the
 * performance counter, process counters, stderr through WriteFile and the environment through
 * GetEnvironmentVariableA. Nothing here allocates through the allocator, and everything may run
 * before initialisation (inside the first malloc of the process). */
#if !defined(_WIN32)
#error "prim-windows.c is the Windows OS layer: compile it on Windows targets only (static.c picks it)"
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <bcrypt.h>
#include <psapi.h>

#include "mimalloc.h"
#include "mimalloc/internal.h"
#include "mimalloc/prim.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

/* The contract speaks errno values; the caller prints them in warnings, so keep the classes
 * that matter to a reader (out of memory, bad address) and fold the rest into EINVAL. */
static int mi_prim_win_errno(DWORD err) {
  switch (err) {
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_COMMITMENT_MINIMUM:
      return ENOMEM;
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD:
      return EPERM;
    default:
      return EINVAL;
  }
}

static int mi_prim_last_errno(void) { return mi_prim_win_errno(GetLastError()); }

/* ---- Configuration ------------------------------------------------------------------------ */

/* Granularity of reservations (64 KiB): VirtualAlloc rounds every base address down to it. */
static size_t mi_prim_alloc_granularity = 64 * 1024;

void _mi_prim_config(mi_os_config_t* config) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  config->page_size = (si.dwPageSize > 0 ? (size_t)si.dwPageSize : 4096);
  if (si.dwAllocationGranularity > 0) mi_prim_alloc_granularity = (size_t)si.dwAllocationGranularity;
  /* Windows has no transparent huge pages: large pages are explicit, locked in memory and only
   * used on request (below). Nothing should place blocks around a huge page that never comes. */
  config->large_page_size = 0;
  config->thp_off = NULL;
  config->thp_control = 0;
  /* Reserved-and-committed memory counts against the commit limit at once, even untouched. */
  config->has_overcommit = false;
  config->purge_keeps_protection = false; /* a zeroing purge commits the range read-write again */
  /* VirtualProtect splits a VAD but there is no per-process cap like vm.max_map_count; a large
   * figure lets the secure build guard (almost) every page boundary. */
  config->max_map_count = (size_t)64 * 65536;
}

/* ---- Large OS pages ----------------------------------------------------------------------- */
/* Large pages need SeLockMemoryPrivilege in the process token, enabled before use. They are
 * locked: neither purged nor protected, so only a program that asks for them gets them
 * (MIMALLOC_ALLOW_LARGE_OS_PAGES; Linux's "2 = transparent huge pages for huge blocks" has no
 * Windows meaning and is read as "huge blocks on large pages" here). */

static _Atomic(int) mi_prim_large_state;    /* 0: not tried, 1: usable, 2: refused */
static _Atomic(bool) mi_prim_large_used;    /* some mapping was made with large pages */
static size_t mi_prim_large_minimum;

static bool mi_prim_large_enable(void) {
  int state = mi_atomic_load_acquire(&mi_prim_large_state);
  if (state != 0) return state == 1;
  bool ok = false;
  DWORD err = 0;
  HANDLE token = NULL;
  if (OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token)) {
    TOKEN_PRIVILEGES tp;
    tp.PrivilegeCount = 1;
    tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
    if (LookupPrivilegeValueA(NULL, "SeLockMemoryPrivilege", &tp.Privileges[0].Luid)) {
      /* AdjustTokenPrivileges "succeeds" without the privilege: the verdict is in GetLastError */
      ok = AdjustTokenPrivileges(token, FALSE, &tp, 0, NULL, NULL) && GetLastError() == ERROR_SUCCESS;
    }
    if (!ok) err = GetLastError();
    CloseHandle(token);
  } else {
    err = GetLastError();
  }
  mi_prim_large_minimum = GetLargePageMinimum();
  if (ok && mi_prim_large_minimum == 0) ok = false;
  int expected = 0;
  if (mi_atomic_cas_strong_acq_rel(&mi_prim_large_state, &expected, ok ? 1 : 2)) {
    if (ok) {
      _mi_verbose_message("large OS pages enabled (%zu KiB, SeLockMemoryPrivilege held)\n", mi_prim_large_minimum / 1024);
    } else {
      _mi_verbose_message("large OS pages were asked for (MIMALLOC_ALLOW_LARGE_OS_PAGES) but are not available: "
                          "the process needs SeLockMemoryPrivilege (\"Lock pages in memory\" in the local security "
                          "policy) and an OS with large pages (Windows error %lu); using normal pages\n",
                          (unsigned long)err);
    }
  }
  return mi_atomic_load_acquire(&mi_prim_large_state) == 1;
}

/* A large-page mapping is committed whole and must start and end on a large page. */
static void* mi_prim_large_alloc(void* hint, size_t size) {
  if (!mi_prim_large_enable()) return NULL;
  if ((size % mi_prim_large_minimum) != 0 || ((uintptr_t)hint % mi_prim_large_minimum) != 0) return NULL;
  void* p = VirtualAlloc(hint, size, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES, PAGE_READWRITE);
  if (p != NULL) mi_atomic_store_release(&mi_prim_large_used, true);
  return p;
}

/* ---- Memory ------------------------------------------------------------------------------- */

/* Reserve and commit together: the contract hands out read-write memory, and committing
 * (unlike touching) costs commit charge only, not physical pages. */
static void* mi_prim_virtual_alloc(void* hint, size_t size, bool allow_large) {
  void* p = NULL;
  if (allow_large) p = mi_prim_large_alloc(hint, size);
  if (p == NULL) p = VirtualAlloc(hint, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
  return p;
}

int _mi_prim_mmap(void* hint, size_t size, bool allow_large, void** addr) {
  /* VirtualAlloc takes an address as a demand, not a hint: where it is taken, ask anywhere */
  void* p = mi_prim_virtual_alloc(hint, size, allow_large);
  if (p == NULL && hint != NULL) p = mi_prim_virtual_alloc(NULL, size, allow_large);
  *addr = p;
  return (p == NULL ? mi_prim_last_errno() : 0);
}

/* VirtualAlloc2 (Windows 10 1803+) places a reservation at an alignment in one call. Looked up
 * at run time so the binary still loads on older systems (and on Wine versions without it). */
typedef PVOID(WINAPI* mi_virtual_alloc2_t)(HANDLE, PVOID, SIZE_T, ULONG, ULONG, MEM_EXTENDED_PARAMETER*, ULONG);
static mi_virtual_alloc2_t mi_prim_virtual_alloc2_fn;
static _Atomic(int) mi_prim_virtual_alloc2_state; /* 0: not looked up, 1: found, 2: absent */

static mi_virtual_alloc2_t mi_prim_virtual_alloc2(void) {
  int state = mi_atomic_load_acquire(&mi_prim_virtual_alloc2_state);
  if (state == 0) {
    HMODULE kb = GetModuleHandleA("kernelbase.dll");
    FARPROC f = (kb != NULL ? GetProcAddress(kb, "VirtualAlloc2") : NULL);
    /* a FARPROC is a generic function pointer; the cast through void(*)(void) says so to -Wcast-function-type */
    mi_prim_virtual_alloc2_fn = (mi_virtual_alloc2_t)(void (*)(void))f;
    mi_atomic_store_release(&mi_prim_virtual_alloc2_state, f != NULL ? 1 : 2);
    state = (f != NULL ? 1 : 2);
  }
  return (state == 1 ? mi_prim_virtual_alloc2_fn : NULL);
}

/* Windows releases a reservation only whole, so the Unix over-map-and-trim can not be done.
 * Instead: VirtualAlloc2 with an alignment requirement, else reserve size+alignment to find
 * an aligned hole, release it and allocate at the aligned address inside it. Another thread
 * may take the hole in between; then try again (a few times: each try finds a fresh hole). */
int _mi_prim_mmap_aligned(size_t size, size_t alignment, bool allow_large, void** addr) {
  *addr = NULL;
  if (alignment <= mi_prim_alloc_granularity) return _mi_prim_mmap(NULL, size, allow_large, addr);
  if (allow_large && mi_prim_large_enable()) {
    /* large pages are placed at large-page alignment; a segment's larger one is luck */
    void* p = mi_prim_large_alloc(NULL, size);
    if (p != NULL && ((uintptr_t)p & (alignment - 1)) == 0) {
      *addr = p;
      return 0;
    }
    if (p != NULL) (void)VirtualFree(p, 0, MEM_RELEASE);
  }
  mi_virtual_alloc2_t alloc2 = mi_prim_virtual_alloc2();
  if (alloc2 != NULL) {
    MEM_ADDRESS_REQUIREMENTS req;
    memset(&req, 0, sizeof(req));
    req.Alignment = alignment;
    MEM_EXTENDED_PARAMETER param;
    memset(&param, 0, sizeof(param));
    param.Type = MemExtendedParameterAddressRequirements;
    param.Pointer = &req;
    void* p = alloc2(GetCurrentProcess(), NULL, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, &param, 1);
    if (p != NULL && ((uintptr_t)p & (alignment - 1)) == 0) {
      *addr = p;
      return 0;
    }
    if (p != NULL) (void)VirtualFree(p, 0, MEM_RELEASE); /* an OS that ignored the requirement */
  }
  if (size > SIZE_MAX - alignment) return ENOMEM;
  for (int tries = 0; tries < 16; tries++) {
    void* hole = VirtualAlloc(NULL, size + alignment, MEM_RESERVE, PAGE_NOACCESS);
    if (hole == NULL) return mi_prim_last_errno();
    void* aligned = (void*)_mi_align_up((uintptr_t)hole, alignment);
    (void)VirtualFree(hole, 0, MEM_RELEASE);
    void* p = VirtualAlloc(aligned, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (p == aligned) {
      *addr = p;
      return 0;
    }
    if (p != NULL) (void)VirtualFree(p, 0, MEM_RELEASE);
  }
  return ENOMEM;
}

/* `addr` must be the start of a mapping and `size` all of it: Windows releases whole
 * reservations only (os.c never unmaps part of one here, see _mi_prim_mmap_aligned). */
int _mi_prim_munmap(void* addr, size_t size) {
  (void)size;
  return (VirtualFree(addr, 0, MEM_RELEASE) ? 0 : mi_prim_last_errno());
}

/* DiscardVirtualMemory (Windows 8.1+) is the MADV_FREE of Windows: pages leave the working set
 * and their contents may be lost. Where it is missing, MEM_RESET says the same more weakly. */
typedef DWORD(WINAPI* mi_discard_t)(PVOID, SIZE_T);
static mi_discard_t mi_prim_discard_fn;
static _Atomic(int) mi_prim_discard_state; /* 0: not looked up, 1: found, 2: absent */

static mi_discard_t mi_prim_discard(void) {
  int state = mi_atomic_load_acquire(&mi_prim_discard_state);
  if (state == 0) {
    HMODULE k32 = GetModuleHandleA("kernel32.dll");
    FARPROC f = (k32 != NULL ? GetProcAddress(k32, "DiscardVirtualMemory") : NULL);
    mi_prim_discard_fn = (mi_discard_t)(void (*)(void))f;
    mi_atomic_store_release(&mi_prim_discard_state, f != NULL ? 1 : 2);
    state = (f != NULL ? 1 : 2);
  }
  return (state == 1 ? mi_prim_discard_fn : NULL);
}

/* The contract keeps purged memory read-write. With `zeroing` (purge_decommits): decommit, which
 * frees the pages and the commit charge at once, then commit again, which is free until touched
 * and reads as zero. Without: discard. Large pages are locked and can not be purged: zeroing
 * then writes the zeros the caller is promised. */
int _mi_prim_purge(void* addr, size_t size, bool zeroing) {
  int err = 0;
  if (zeroing) {
    if (!VirtualFree(addr, size, MEM_DECOMMIT)) err = mi_prim_last_errno();
    else if (VirtualAlloc(addr, size, MEM_COMMIT, PAGE_READWRITE) != addr) return mi_prim_last_errno();
  } else {
    mi_discard_t discard = mi_prim_discard();
    if (discard == NULL || discard(addr, size) != ERROR_SUCCESS) {
      if (VirtualAlloc(addr, size, MEM_RESET, PAGE_READWRITE) != addr) err = mi_prim_last_errno();
    }
  }
  /* the query API can not tell large pages apart, but they refuse decommit and reset while
   * staying intact: where any exist, a refusal means "locked", not "broken" */
  if (err != 0 && mi_atomic_load_relaxed(&mi_prim_large_used)) {
    if (zeroing) memset(addr, 0, size);
    return 0;
  }
  return err;
}

/* The aligned reservation of _mi_prim_mmap_aligned, without its commit: an arena's address
 * space costs no commit charge until arena.c commits the segments it hands out. */
int _mi_prim_reserve_aligned(size_t size, size_t alignment, void** addr) {
  *addr = NULL;
  mi_virtual_alloc2_t alloc2 = mi_prim_virtual_alloc2();
  if (alloc2 != NULL) {
    MEM_ADDRESS_REQUIREMENTS req;
    memset(&req, 0, sizeof(req));
    req.Alignment = alignment;
    MEM_EXTENDED_PARAMETER param;
    memset(&param, 0, sizeof(param));
    param.Type = MemExtendedParameterAddressRequirements;
    param.Pointer = &req;
    void* p = alloc2(GetCurrentProcess(), NULL, size, MEM_RESERVE, PAGE_NOACCESS, &param, 1);
    if (p != NULL && ((uintptr_t)p & (alignment - 1)) == 0) {
      *addr = p;
      return 0;
    }
    if (p != NULL) (void)VirtualFree(p, 0, MEM_RELEASE);
  }
  if (size > SIZE_MAX - alignment) return ENOMEM;
  for (int tries = 0; tries < 16; tries++) {
    void* hole = VirtualAlloc(NULL, size + alignment, MEM_RESERVE, PAGE_NOACCESS);
    if (hole == NULL) return mi_prim_last_errno();
    void* aligned = (void*)_mi_align_up((uintptr_t)hole, alignment);
    (void)VirtualFree(hole, 0, MEM_RELEASE);
    void* p = VirtualAlloc(aligned, size, MEM_RESERVE, PAGE_NOACCESS);
    if (p == aligned) {
      *addr = p;
      return 0;
    }
    if (p != NULL) (void)VirtualFree(p, 0, MEM_RELEASE);
  }
  return ENOMEM;
}

int _mi_prim_commit(void* addr, size_t size) {
  return (VirtualAlloc(addr, size, MEM_COMMIT, PAGE_READWRITE) == addr ? 0 : mi_prim_last_errno());
}

int _mi_prim_decommit(void* addr, size_t size) {
  if (VirtualFree(addr, size, MEM_DECOMMIT)) return 0;
  int err = mi_prim_last_errno();
  /* large pages refuse decommit while staying intact (see _mi_prim_purge) */
  return (mi_atomic_load_relaxed(&mi_prim_large_used) ? 0 : err);
}

/* 1 GiB pages need VirtualAlloc2 with MEM_EXTENDED_PARAMETER_NONPAGED_HUGE and the lock-pages
 * privilege; not supported here: the caller reports it and the program goes on without them. */
int _mi_prim_alloc_huge_os_pages(size_t size, int numa_node, void** addr) {
  (void)size; (void)numa_node;
  *addr = NULL;
  return ENOTSUP;
}

/* Windows has no transparent huge pages: large pages are allocated as such or not at all. */
int _mi_prim_advise_huge(void* addr, size_t size, bool huge) {
  (void)addr; (void)size; (void)huge;
  return ENOTSUP;
}

size_t _mi_prim_collapse_huge(void* addr, size_t size, size_t huge_size, size_t page_size) {
  (void)addr; (void)size; (void)huge_size; (void)page_size;
  return 0;
}

int _mi_prim_protect(void* addr, size_t size, bool protect) {
  DWORD old = 0;
  return (VirtualProtect(addr, size, protect ? PAGE_NOACCESS : PAGE_READWRITE, &old) ? 0 : mi_prim_last_errno());
}

/* ---- Clock and process information --------------------------------------------------------- */

static LARGE_INTEGER mi_prim_qpc_freq;

mi_msecs_t _mi_prim_clock_now(void) {
  /* the performance counter has sub-microsecond resolution; GetTickCount64 only 10-16 ms,
   * coarser than a short purge delay */
  if (mi_prim_qpc_freq.QuadPart == 0) QueryPerformanceFrequency(&mi_prim_qpc_freq);
  LARGE_INTEGER t;
  QueryPerformanceCounter(&t);
  int64_t freq = (mi_prim_qpc_freq.QuadPart > 0 ? mi_prim_qpc_freq.QuadPart : 1000);
  return (mi_msecs_t)((t.QuadPart / freq) * 1000 + ((t.QuadPart % freq) * 1000) / freq);
}

/* GetTickCount64 would be cheaper, but at 10-16 ms it is coarser than a short purge delay. */
mi_msecs_t _mi_prim_clock_coarse(void) { return _mi_prim_clock_now(); }

/* A FILETIME duration counts 100 ns units. */
static mi_msecs_t mi_prim_filetime_msecs(const FILETIME* ft) {
  ULARGE_INTEGER u;
  u.LowPart = ft->dwLowDateTime;
  u.HighPart = ft->dwHighDateTime;
  return (mi_msecs_t)(u.QuadPart / 10000);
}

void _mi_prim_process_info(mi_process_info_t* pinfo) {
  FILETIME created, exited, kernel, user;
  if (GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user)) {
    pinfo->utime = mi_prim_filetime_msecs(&user);
    pinfo->stime = mi_prim_filetime_msecs(&kernel);
  } else {
    pinfo->utime = pinfo->stime = 0;
  }
  /* K32GetProcessMemoryInfo lives in kernel32 since Windows 7: no psapi.dll to link */
  PROCESS_MEMORY_COUNTERS counters;
  memset(&counters, 0, sizeof(counters));
  counters.cb = sizeof(counters);
  if (K32GetProcessMemoryInfo(GetCurrentProcess(), &counters, sizeof(counters))) {
    pinfo->current_rss = (size_t)counters.WorkingSetSize;
    pinfo->peak_rss = (size_t)counters.PeakWorkingSetSize;
    pinfo->page_faults = (size_t)counters.PageFaultCount;
  } else {
    pinfo->current_rss = pinfo->peak_rss = pinfo->page_faults = 0;
  }
  pinfo->elapsed = 0;
}

/* ---- Output, environment, randomness -------------------------------------------------------- */

void _mi_prim_out_stderr(const char* msg) {
  HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
  if (h == NULL || h == INVALID_HANDLE_VALUE) return; /* a GUI process has no stderr */
  size_t len = strlen(msg);
  while (len > 0) {
    DWORD chunk = (len > 0x40000000 ? 0x40000000 : (DWORD)len);
    DWORD written = 0;
    if (!WriteFile(h, msg, chunk, &written, NULL) || written == 0) return;
    msg += written;
    len -= written;
  }
}

/* The process environment block is matched case-insensitively by Windows itself, and read
 * without allocating. A value longer than the buffer is not copied (the API does not
 * truncate): no MIMALLOC_ value is anywhere near that long, so it reads as absent. */
bool _mi_prim_getenv(const char* name, char* result, size_t result_size) {
  if (name == NULL || result == NULL || result_size == 0) return false;
  DWORD cap = (result_size > 0x7fffffff ? 0x7fffffff : (DWORD)result_size);
  DWORD n = GetEnvironmentVariableA(name, result, cap);
  if (n == 0 || n >= cap) {
    result[0] = 0;
    return false;
  }
  return true;
}

/* GetFullPathName only joins strings; realpath's contract also says the file exists. */
char* _mi_prim_realpath(const char* fname, char* resolved) {
  DWORD n = GetFullPathNameA(fname, PATH_MAX, resolved, NULL);
  if (n == 0 || n >= PATH_MAX) {
    errno = (n == 0 ? ENOENT : ENAMETOOLONG);
    return NULL;
  }
  if (GetFileAttributesA(resolved) == INVALID_FILE_ATTRIBUTES) {
    errno = ENOENT;
    return NULL;
  }
  return resolved;
}

bool _mi_prim_random_buf(void* buf, size_t buf_len) {
  uint8_t* p = (uint8_t*)buf;
  while (buf_len > 0) {
    ULONG chunk = (buf_len > 0x10000000 ? 0x10000000 : (ULONG)buf_len);
    if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, p, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) return false;
    p += chunk;
    buf_len -= chunk;
  }
  return true;
}

/* ---- The default heap's TLS slot ------------------------------------------------------------- */
/* MinGW gcc implements `__thread` with emutls: every access is a call into libgcc that looks a
 * control block up (and allocates it, through the C runtime, on a thread's first access): too
 * slow for the allocation fast path. A TLS slot from TlsAlloc is one load at a fixed offset in
 * the TEB, so the fast path reads it directly (internal.h). Only the first 64 slots live inside
 * the TEB; with none of them free, `_mi_win_tls_offset` stays 0 and the `__thread` variable
 * serves instead. (GCC only: Clang's and MSVC's thread-locals are native; see internal.h.) */
#if MI_WIN_TLS_SLOT
size_t _mi_win_tls_offset;
static DWORD mi_prim_tls_index = TLS_OUT_OF_INDEXES;

static void mi_prim_tls_init(void) {
  if (mi_prim_tls_index != TLS_OUT_OF_INDEXES) return;
  DWORD index = TlsAlloc();
  if (index == TLS_OUT_OF_INDEXES) return;
  mi_prim_tls_index = index;
  if (index < 64) {
    /* this thread's heap so far lives in the `__thread` variable: carry it over first */
    (void)TlsSetValue(index, _mi_heap_default);
    _mi_win_tls_offset = MI_WIN_TEB_TLS_SLOTS + (size_t)index * sizeof(void*);
  }
}
#else
static void mi_prim_tls_init(void) {}
#endif

/* ---- Thread exit ------------------------------------------------------------------------- */
/* An FLS slot whose callback runs `_mi_thread_done` when a thread that allocated ends: every
 * thread, whether Rust, the C runtime or a bare CreateThread started it, and without needing a
 * DLL's DLL_THREAD_DETACH (we are linked statically into the program). At process exit Windows
 * runs the callbacks of the exiting thread too, after the C runtime's atexit handlers: by then
 * the process is going away with all its memory, so the callback does nothing. */

static DWORD mi_prim_fls_index = FLS_OUT_OF_INDEXES;
static _Atomic(bool) mi_prim_process_exiting;

/* Registered with the C runtime's atexit at start-up, so it runs before the runtime tears
 * itself down and before ExitProcess runs the exiting thread's FLS callbacks. */
static void mi_prim_mark_exit(void) { mi_atomic_store_release(&mi_prim_process_exiting, true); }

static void NTAPI mi_prim_fls_done(void* value) {
  if (value == NULL || mi_atomic_load_acquire(&mi_prim_process_exiting)) return;
  _mi_thread_done((mi_heap_t*)value);
}

void _mi_prim_thread_yield(void) { (void)SwitchToThread(); }

void _mi_prim_thread_init_auto_done(void) {
  mi_prim_tls_init();
  if (mi_prim_fls_index == FLS_OUT_OF_INDEXES) {
    mi_prim_fls_index = FlsAlloc(&mi_prim_fls_done);
    (void)atexit(&mi_prim_mark_exit);
  }
}

void _mi_prim_thread_associate_default_heap(void* heap) {
  if (mi_prim_fls_index != FLS_OUT_OF_INDEXES) (void)FlsSetValue(mi_prim_fls_index, heap);
}
