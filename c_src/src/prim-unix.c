/* SPDX-License-Identifier: MIT
 * The only file that talks to the operating system: mappings, purging, protection, clocks,
 * process information, stderr, the environment, randomness and the thread-exit hook.
 * Nothing here allocates through the allocator; everything may run before initialisation.
 * One file for Linux (glibc and musl), macOS and the BSDs: where they differ, the branch
 * says which OS and why, and the Linux behaviour is the reference the others match. */
#include "mimalloc.h"
#include "mimalloc/internal.h"
#include "mimalloc/prim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#include <sys/syscall.h> /* SYS_getrandom: older C libraries lack the getrandom wrapper */
#endif
#if defined(__APPLE__)
#include <crt_externs.h>         /* _NSGetEnviron: `environ` is not linkable from a dylib */
#include <mach/mach.h>           /* task_info: resident size without /proc */
#include <mach/vm_statistics.h>  /* VM_MAKE_TAG */
#include <sys/random.h>          /* getentropy */
#endif
#if defined(__FreeBSD__)
#include <sys/sysctl.h>
#include <sys/user.h> /* struct kinfo_proc */
#endif

/* The decimal number a /proc or /sys file starts with, read with raw syscalls so that no stdio
 * buffer is allocated; 0 if the file is missing or holds none. Linux only. */
static size_t mi_prim_read_number(const char* path) {
#if !defined(__linux__)
  (void)path;
  return 0;
#else
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  size_t count = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) count = count * 10 + (size_t)(buf[i] - '0');
  return count;
#endif
}

/* Only Linux caps the mappings of a process (vm.max_map_count); elsewhere os.c assumes Linux's
 * default, which only bounds how many guard pages a secure build places. */
static size_t mi_prim_max_map_count(void) { return mi_prim_read_number("/proc/sys/vm/max_map_count"); }

/* The size of a transparent huge page: one page table's reach, 2 MiB with 4 KiB pages but
 * 32 MiB with 16 KiB and 512 MiB with 64 KiB (aarch64 kernels). 0 where a segment could not
 * hold two, so that nothing advises or collapses what can never become a huge page. */
static size_t mi_prim_thp_size(size_t page_size) {
#if defined(__linux__)
  size_t size = mi_prim_read_number("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
  if (size == 0) size = page_size * (page_size / sizeof(void*)); /* kernels before 4.14 */
  return (size <= MI_SEGMENT_SIZE / 2 && size > page_size ? size : 0);
#elif defined(__FreeBSD__)
  (void)page_size;
  return 2 * MI_MiB; /* superpage promotion, on amd64 and arm64 alike */
#else
  (void)page_size;
  return 0; /* macOS: no page is promoted unless asked for at mapping time */
#endif
}

/* Set when the system's THP setting is "never" (or the kernel has no THP): MADV_COLLAPSE would
 * still make huge pages (it ignores the setting), and an administrator who chose "never" gets
 * none from us. */
static bool mi_prim_thp_never;

#if defined(__linux__)
/* The system's THP setting: "always", "madvise" or "never"; NULL where the kernel has none. */
static const char* mi_prim_read_thp_setting(void) {
  int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  char buf[96];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return NULL;
  buf[n] = 0;
  if (strstr(buf, "[always]") != NULL) return "always";
  if (strstr(buf, "[madvise]") != NULL) return "madvise";
  return "never";
}
#endif

/* Why segments get no huge pages whatever the options say, and which options can keep them
 * off (os.c reports it; see mi_os_config_t). */
static void mi_prim_thp_config(mi_os_config_t* config) {
  config->thp_off = NULL;
  config->thp_control = 0;
#if defined(__linux__)
  const char* setting = mi_prim_read_thp_setting();
  mi_prim_thp_never = (setting == NULL || strcmp(setting, "never") == 0);
  if (setting == NULL) {
    config->thp_off = "no transparent huge pages in this kernel";
  } else if (mi_prim_thp_never) {
    config->thp_off = "the system setting is never";
  } else {
    bool always = (strcmp(setting, "always") == 0); /* the kernel backs every mapping unless told no */
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
    config->thp_control = (always ? 2 : 1);
#else
    if (!always) config->thp_off = "built without MADV_HUGEPAGE"; /* nothing can ask */
#endif
  }
#endif
}

#if defined(CLOCK_MONOTONIC_COARSE)
/* Set where the coarse clock ticks every 4 ms or faster (a kernel with HZ 250 or more): a purge
 * deadline then falls within 4 ms of where it should, against a 10 ms default delay. At HZ 100
 * a tick is the whole delay, so _mi_prim_clock_coarse reads the precise clock there. */
static bool mi_prim_coarse_clock;
#endif

void _mi_prim_config(mi_os_config_t* config) {
  /* Never assumed: Apple silicon has 16 KiB pages, some aarch64 Linux kernels 16 or 64 KiB. */
  long psize = sysconf(_SC_PAGESIZE);
  config->page_size = (psize > 0 ? (size_t)psize : 4096);
  /* transparent huge pages (Linux) and superpage promotion (FreeBSD): os.c and segment.c keep
   * guard pages out of their runs */
  config->large_page_size = mi_prim_thp_size(config->page_size);
  config->has_overcommit = true;
  config->max_map_count = mi_prim_max_map_count();
#if defined(__linux__)
  config->purge_keeps_protection = true; /* madvise only drops pages; other Unix systems map afresh */
#endif
  mi_prim_thp_config(config);
#if defined(CLOCK_MONOTONIC_COARSE)
  struct timespec res;
  mi_prim_coarse_clock = (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_sec == 0 && res.tv_nsec <= 4000000);
#endif
}

/* MAP_NORESERVE: Linux would otherwise count every mapped byte against the commit limit when
 * overcommit is strict. FreeBSD removed the flag (it never reserved swap), macOS ignores it. */
#if defined(__linux__) && defined(MAP_NORESERVE)
#define MI_MAP_FLAGS (MAP_PRIVATE | MAP_ANON | MAP_NORESERVE)
#else
#define MI_MAP_FLAGS (MAP_PRIVATE | MAP_ANON)
#endif

/* The "file descriptor" of an anonymous mapping. On macOS it carries a tag (mi_option_os_tag,
 * 100 by default) that vmmap and Instruments show, so our memory is told apart from the system
 * malloc's; the kernel accepts 1..255. Elsewhere it must be -1. */
static int mi_prim_map_fd(void) {
#if defined(__APPLE__)
  long tag = mi_option_get(mi_option_os_tag);
  if (tag < 1 || tag > 255) tag = 100;
  return VM_MAKE_TAG((int)tag);
#else
  return -1;
#endif
}

int _mi_prim_mmap(void* hint, size_t size, bool allow_large, void** addr) {
  void* p = mmap(hint, size, PROT_READ | PROT_WRITE, MI_MAP_FLAGS, mi_prim_map_fd(), 0);
  if (p == MAP_FAILED) {
    *addr = NULL;
    return errno;
  }
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
  /* With allow_thp=0 every mapping says no: with THP "always" in the system settings the
   * kernel would otherwise back any aligned 2 MiB of it with a huge page unasked. */
  if (!mi_option_is_enabled(mi_option_allow_thp)) (void)madvise(p, size, MADV_NOHUGEPAGE);
  else if (allow_large) (void)madvise(p, size, MADV_HUGEPAGE);
#else
  (void)allow_large;
#endif
  *addr = p;
  return 0;
}

/* munmap releases any part of a mapping, so os.c's over-map-and-trim works everywhere; FreeBSD
 * can do better: MAP_ALIGNED has the kernel pick an aligned address, one mmap and no trim. */
int _mi_prim_mmap_aligned(size_t size, size_t alignment, bool allow_large, void** addr) {
  *addr = NULL;
#if defined(__FreeBSD__) && defined(MAP_ALIGNED)
  (void)allow_large; /* superpages need no request on FreeBSD */
  int shift = 0;
  while (((size_t)1 << shift) < alignment) shift++;
  void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MI_MAP_FLAGS | MAP_ALIGNED(shift), -1, 0);
  if (p == MAP_FAILED) return errno;
  *addr = p;
  return 0;
#else
  (void)size; (void)alignment; (void)allow_large;
  return ENOTSUP;
#endif
}

int _mi_prim_munmap(void* addr, size_t size) { return (munmap(addr, size) == 0 ? 0 : errno); }

/* Debian 12's C library predates the flag; the kernel's number is the same on every Linux
 * architecture we build for. An older kernel answers EINVAL. */
#if defined(__linux__) && !defined(MADV_COLLAPSE)
#define MADV_COLLAPSE 25
#endif

size_t _mi_prim_collapse_huge(void* addr, size_t size, size_t huge_size, size_t page_size) {
  size_t done = 0;
#if defined(__linux__)
  unsigned char resident[512];
  size_t pages = (page_size == 0 ? 0 : huge_size / page_size);
  if (mi_prim_thp_never || pages == 0 || pages > sizeof(resident)) return 0;
  for (uint8_t* run = (uint8_t*)addr; run + huge_size <= (uint8_t*)addr + size; run += huge_size) {
    if (mincore(run, huge_size, resident) != 0) return done;
    size_t n = 0;
    for (size_t i = 0; i < pages; i++) n += (resident[i] & 1);
    if (n < pages - pages / 8) continue;
    /* the advice first: MADV_COLLAPSE refuses a range an earlier segment here left marked
     * MADV_NOHUGEPAGE */
    if (madvise(run, huge_size, MADV_HUGEPAGE) != 0) return done;
    done++;
    if (madvise(run, huge_size, MADV_COLLAPSE) != 0 && errno == EINVAL) return done; /* the kernel predates it */
    /* EAGAIN, ENOMEM: no huge page free just now; the advice stays, as on any segment asked */
  }
#else
  (void)addr; (void)size; (void)huge_size; (void)page_size;
#endif
  return done;
}

int _mi_prim_advise_huge(void* addr, size_t size, bool huge) {
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
  return (madvise(addr, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) == 0 ? 0 : errno);
#else
  (void)addr; (void)size; (void)huge;
  return ENOTSUP;
#endif
}

int _mi_prim_purge(void* addr, size_t size, bool zeroing) {
#if defined(MADV_FREE)
  if (!zeroing) {
    /* MADV_FREE keeps the pages until the kernel needs them: cheaper, but contents linger.
     * macOS has MADV_FREE_REUSABLE, which also takes the pages out of the task's footprint at
     * once; it is not used because the kernel then expects MADV_FREE_REUSE before the pages are
     * written again, and the contract (prim.h) lets the caller touch purged memory unasked:
     * written without it, the pages would stay out of the footprint while in use. */
    if (madvise(addr, size, MADV_FREE) == 0) return 0;
  }
#endif
#if defined(__linux__)
  (void)zeroing;
  return (madvise(addr, size, MADV_DONTNEED) == 0 ? 0 : errno);
#else
  /* Only Linux zeroes private pages on MADV_DONTNEED; macOS and FreeBSD may hand the old
   * contents back. A fresh anonymous mapping over the range frees the pages and reads as zero
   * on every Unix. The range never holds a guard page (segment.c purges page areas and huge
   * tails only), so making it read-write again changes no protection. */
  (void)zeroing;
  void* p = mmap(addr, size, PROT_READ | PROT_WRITE, MI_MAP_FLAGS | MAP_FIXED, mi_prim_map_fd(), 0);
  return (p == MAP_FAILED ? errno : 0);
#endif
}

int _mi_prim_reserve_aligned(size_t size, size_t alignment, void** addr) {
  (void)size; (void)alignment;
  *addr = NULL;
  return ENOTSUP; /* overcommit: os.c maps read-write, and pages are backed on first touch */
}

int _mi_prim_commit(void* addr, size_t size) {
  (void)addr; (void)size;
  return 0;
}

int _mi_prim_decommit(void* addr, size_t size) { return _mi_prim_purge(addr, size, true); }

/* Linux hands out huge pages only from the pool set aside in vm.nr_hugepages (1 GiB pages:
 * hugepages-1048576kB); with an empty pool the mmap fails at once with ENOMEM, which the
 * caller reports. MAP_POPULATE is left out: the pool pages are already reserved, and faulting
 * 1 GiB in here would only move the cost. */
int _mi_prim_alloc_huge_os_pages(size_t size, int numa_node, void** addr) {
  (void)numa_node; /* the kernel places the pages on the faulting thread's node */
  *addr = NULL;
#if defined(__linux__) && defined(MAP_HUGETLB)
  /* never MAP_NORESERVE here: with it the kernel maps pages it does not have, and the first
   * touch of a missing one kills the process with SIGBUS instead of this call failing */
#if defined(MAP_HUGE_SHIFT)
  int flags = MAP_PRIVATE | MAP_ANON | MAP_HUGETLB | (30 << MAP_HUGE_SHIFT);
#else
  int flags = MAP_PRIVATE | MAP_ANON | MAP_HUGETLB;
#endif
  void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) return errno;
  *addr = p;
  return 0;
#else
  (void)size;
  return ENOTSUP;
#endif
}

int _mi_prim_protect(void* addr, size_t size, bool protect) {
  return (mprotect(addr, size, protect ? PROT_NONE : (PROT_READ | PROT_WRITE)) == 0 ? 0 : errno);
}

mi_msecs_t _mi_prim_clock_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return ((mi_msecs_t)t.tv_sec * 1000) + ((mi_msecs_t)t.tv_nsec / 1000000);
}

mi_msecs_t _mi_prim_clock_coarse(void) {
#if defined(CLOCK_MONOTONIC_COARSE)
  struct timespec t;
  if (mi_prim_coarse_clock && clock_gettime(CLOCK_MONOTONIC_COARSE, &t) == 0) {
    return ((mi_msecs_t)t.tv_sec * 1000) + ((mi_msecs_t)t.tv_nsec / 1000000);
  }
#endif
  return _mi_prim_clock_now();
}

static mi_msecs_t mi_prim_timeval_msecs(const struct timeval* tv) {
  return ((mi_msecs_t)tv->tv_sec * 1000) + ((mi_msecs_t)tv->tv_usec / 1000);
}

/* Current RSS in bytes, 0 if unknown. Linux: /proc/self/statm, read with raw syscalls so that
 * no stdio buffer is allocated. macOS and FreeBSD have no /proc to rely on: the kernel answers
 * through task_info and sysctl, into buffers on our stack. */
static size_t mi_prim_current_rss(void) {
#if defined(__APPLE__)
  mach_task_basic_info_data_t info;
  mach_msg_type_number_t count = MACH_TASK_BASIC_INFO_COUNT;
  if (task_info(mach_task_self(), MACH_TASK_BASIC_INFO, (task_info_t)&info, &count) != KERN_SUCCESS) return 0;
  return (size_t)info.resident_size;
#elif defined(__FreeBSD__)
  struct kinfo_proc kp;
  size_t len = sizeof(kp);
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)getpid()};
  if (sysctl(mib, 4, &kp, &len, NULL, 0) != 0 || len < sizeof(kp)) return 0;
  return (size_t)kp.ki_rssize * (size_t)sysconf(_SC_PAGESIZE); /* ki_rssize counts pages */
#elif !defined(__linux__)
  return 0;
#else
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* s = buf;
  while (*s && *s != ' ') s++; /* skip total size */
  while (*s == ' ') s++;
  size_t pages = 0;
  while (*s >= '0' && *s <= '9') pages = pages * 10 + (size_t)(*s++ - '0');
  return pages * (size_t)sysconf(_SC_PAGESIZE);
#endif
}

void _mi_prim_process_info(mi_process_info_t* pinfo) {
  struct rusage rusage;
  getrusage(RUSAGE_SELF, &rusage);
  pinfo->utime = mi_prim_timeval_msecs(&rusage.ru_utime);
  pinfo->stime = mi_prim_timeval_msecs(&rusage.ru_stime);
  pinfo->page_faults = (size_t)rusage.ru_majflt + (size_t)rusage.ru_minflt;
#if defined(__APPLE__)
  pinfo->peak_rss = (size_t)rusage.ru_maxrss; /* macOS reports bytes */
#else
  pinfo->peak_rss = (size_t)rusage.ru_maxrss * 1024; /* Linux and the BSDs report KiB */
#endif
  pinfo->current_rss = mi_prim_current_rss();
  pinfo->elapsed = 0;
}

void _mi_prim_out_stderr(const char* msg) {
  size_t len = strlen(msg);
  while (len > 0) {
    ssize_t n = write(STDERR_FILENO, msg, len);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    msg += n;
    len -= (size_t)n;
  }
}

char* _mi_prim_realpath(const char* fname, char* resolved) { return realpath(fname, resolved); }

/* Scan the environment directly: libc's getenv is fine too, but this also matches
 * case-insensitively. On macOS a dylib cannot link against `environ` (only the main program
 * has it); _NSGetEnviron reaches the same array from anywhere. */
#if defined(__APPLE__)
static char** mi_prim_environ(void) { return *_NSGetEnviron(); }
#else
extern char** environ;
static char** mi_prim_environ(void) { return environ; }
#endif

static char mi_prim_toupper(char c) { return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c; }

bool _mi_prim_getenv(const char* name, char* result, size_t result_size) {
  char** envp = mi_prim_environ();
  if (name == NULL || result == NULL || result_size == 0 || envp == NULL) return false;
  size_t len = strlen(name);
  for (char** env = envp; *env != NULL; env++) {
    const char* s = *env;
    size_t i = 0;
    while (i < len && s[i] != 0 && mi_prim_toupper(s[i]) == mi_prim_toupper(name[i])) i++;
    if (i == len && s[i] == '=') {
      const char* value = s + len + 1;
      size_t vlen = strlen(value);
      if (vlen >= result_size) vlen = result_size - 1;
      memcpy(result, value, vlen);
      result[vlen] = 0;
      return true;
    }
  }
  return false;
}

bool _mi_prim_random_buf(void* buf, size_t buf_len) {
#if defined(__linux__)
  uint8_t* p = (uint8_t*)buf;
  while (buf_len > 0) {
    /* GRND_NONBLOCK: early in boot the pool may not be ready; fall back rather than hang */
    ssize_t n = syscall(SYS_getrandom, p, buf_len, GRND_NONBLOCK);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    p += n;
    buf_len -= (size_t)n;
  }
  return true;
#elif defined(__APPLE__)
  /* getentropy is a plain system call (at most 256 bytes a call): inside the first allocation
   * of the process nothing but the kernel runs, where arc4random_buf would run libc code */
  uint8_t* p = (uint8_t*)buf;
  while (buf_len > 0) {
    size_t n = (buf_len > 256 ? 256 : buf_len);
    if (getentropy(p, n) != 0) return false;
    p += n;
    buf_len -= n;
  }
  return true;
#elif defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || defined(__DragonFly__)
  /* the BSDs' arc4random_buf is seeded by the kernel, cannot fail and never calls malloc */
  arc4random_buf(buf, buf_len);
  return true;
#else
  (void)buf; (void)buf_len;
  return false;
#endif
}

/* ---- Thread exit ------------------------------------------------------------------------- */
/* A pthread key whose destructor runs `_mi_thread_done` for every thread that allocated.
 * The value stored is the thread's default heap; glibc calls the destructor again if a later
 * destructor of another key allocates and so sets the value anew (musl, macOS and FreeBSD
 * repeat the destructor rounds the same way, up to PTHREAD_DESTRUCTOR_ITERATIONS).
 *
 * macOS: `__thread` variables are created lazily, on a thread's first access, and dyld
 * allocates their block with the system malloc. That cannot recurse into us because we never
 * are the system malloc there: build.rs turns the `override` feature off on macOS, so malloc
 * stays libmalloc's and our first access to _mi_heap_default allocates from it, not from us.
 * The thread id (internal.h) reads the thread register, never a thread-local variable. At
 * exit dyld frees that block through a pthread key of its own, created before ours, so it may
 * go first: the destructor therefore takes the heap from its argument, not from
 * _mi_heap_default, and a thread-local variable touched after that is only recreated (again
 * from libmalloc), for dyld's key to free in the next destructor round. Not run on macOS here:
 * CI builds and links the macOS targets only. */

static pthread_key_t mi_prim_heap_key = (pthread_key_t)(-1);

static void mi_prim_thread_done(void* value) {
  if (value != NULL) _mi_thread_done((mi_heap_t*)value);
}

static void mi_prim_fork_child(void) { _mi_process_fork_child(); }

void _mi_prim_thread_yield(void) { (void)sched_yield(); }

void _mi_prim_thread_init_auto_done(void) {
  if (mi_prim_heap_key == (pthread_key_t)(-1)) {
    (void)pthread_key_create(&mi_prim_heap_key, &mi_prim_thread_done);
    (void)pthread_atfork(NULL, NULL, &mi_prim_fork_child);
  }
}

void _mi_prim_thread_associate_default_heap(void* heap) {
  if (mi_prim_heap_key != (pthread_key_t)(-1)) {
    (void)pthread_setspecific(mi_prim_heap_key, heap);
  }
}
