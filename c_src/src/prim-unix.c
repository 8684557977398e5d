/* SPDX-License-Identifier: MIT
 * The only file that talks to the operating system: mappings, purging, protection, clocks,
 * process information, stderr, the environment, randomness and the thread-exit hook.
 * Nothing here allocates through the allocator; everything may run before initialisation. */
#include "mimalloc.h"
#include "mimalloc/internal.h"
#include "mimalloc/prim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

/* vm.max_map_count, read with raw syscalls so that no stdio buffer is allocated; 0 if unknown. */
static size_t mi_prim_max_map_count(void) {
  int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  size_t count = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) count = count * 10 + (size_t)(buf[i] - '0');
  return count;
}

void _mi_prim_config(mi_os_config_t* config) {
  long psize = sysconf(_SC_PAGESIZE);
  config->page_size = (psize > 0 ? (size_t)psize : 4096);
  config->large_page_size = 2 * MI_MiB;
  config->has_overcommit = true;
  config->max_map_count = mi_prim_max_map_count();
}

int _mi_prim_mmap(void* hint, size_t size, bool allow_large, void** addr) {
  void* p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    *addr = NULL;
    return errno;
  }
#if defined(MADV_HUGEPAGE)
  if (allow_large) (void)madvise(p, size, MADV_HUGEPAGE);
#else
  (void)allow_large;
#endif
  *addr = p;
  return 0;
}

int _mi_prim_munmap(void* addr, size_t size) { return (munmap(addr, size) == 0 ? 0 : errno); }

int _mi_prim_purge(void* addr, size_t size, bool zeroing) {
#if defined(MADV_FREE)
  if (!zeroing) {
    /* MADV_FREE keeps the pages until the kernel needs them: cheaper, but contents linger */
    if (madvise(addr, size, MADV_FREE) == 0) return 0;
  }
#endif
  (void)zeroing;
  return (madvise(addr, size, MADV_DONTNEED) == 0 ? 0 : errno);
}

int _mi_prim_protect(void* addr, size_t size, bool protect) {
  return (mprotect(addr, size, protect ? PROT_NONE : (PROT_READ | PROT_WRITE)) == 0 ? 0 : errno);
}

int _mi_prim_hugepage_hint(void* addr, size_t size) {
#if defined(MADV_HUGEPAGE)
  return (madvise(addr, size, MADV_HUGEPAGE) == 0 ? 0 : errno);
#else
  (void)addr; (void)size;
  return ENOTSUP;
#endif
}

mi_msecs_t _mi_prim_clock_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return ((mi_msecs_t)t.tv_sec * 1000) + ((mi_msecs_t)t.tv_nsec / 1000000);
}

static mi_msecs_t mi_prim_timeval_msecs(const struct timeval* tv) {
  return ((mi_msecs_t)tv->tv_sec * 1000) + ((mi_msecs_t)tv->tv_usec / 1000);
}

/* Current RSS from /proc/self/statm, read with raw syscalls so that no stdio buffer is allocated. */
static size_t mi_prim_current_rss(void) {
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
}

void _mi_prim_process_info(mi_process_info_t* pinfo) {
  struct rusage rusage;
  getrusage(RUSAGE_SELF, &rusage);
  pinfo->utime = mi_prim_timeval_msecs(&rusage.ru_utime);
  pinfo->stime = mi_prim_timeval_msecs(&rusage.ru_stime);
  pinfo->page_faults = (size_t)rusage.ru_majflt + (size_t)rusage.ru_minflt;
  pinfo->peak_rss = (size_t)rusage.ru_maxrss * 1024; /* Linux reports KiB */
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

/* Scan `environ` directly: libc's getenv is fine too, but this also matches case-insensitively. */
extern char** environ;

static char mi_prim_toupper(char c) { return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c; }

bool _mi_prim_getenv(const char* name, char* result, size_t result_size) {
  if (name == NULL || result == NULL || result_size == 0 || environ == NULL) return false;
  size_t len = strlen(name);
  for (char** env = environ; *env != NULL; env++) {
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
#else
  (void)buf; (void)buf_len;
  return false;
#endif
}

/* ---- Thread exit ------------------------------------------------------------------------- */
/* A pthread key whose destructor runs `_mi_thread_done` for every thread that allocated.
 * The value stored is the thread's default heap; glibc calls the destructor again if a later
 * destructor of another key allocates and so sets the value anew. */

static pthread_key_t mi_prim_heap_key = (pthread_key_t)(-1);

static void mi_prim_thread_done(void* value) {
  if (value != NULL) _mi_thread_done((mi_heap_t*)value);
}

static void mi_prim_fork_child(void) { _mi_process_fork_child(); }

void _mi_prim_thread_init_auto_done(void) {
  if (mi_prim_heap_key == (pthread_key_t)(-1)) {
    (void)pthread_key_create(&mi_prim_heap_key, &mi_prim_thread_done);
    (void)pthread_atfork(NULL, NULL, &mi_prim_fork_child);
  }
}

void _mi_prim_thread_done_auto_done(void) {
  if (mi_prim_heap_key != (pthread_key_t)(-1)) {
    (void)pthread_key_delete(mi_prim_heap_key);
    mi_prim_heap_key = (pthread_key_t)(-1);
  }
}

void _mi_prim_thread_associate_default_heap(void* heap) {
  if (mi_prim_heap_key != (pthread_key_t)(-1)) {
    (void)pthread_setspecific(mi_prim_heap_key, heap);
  }
}
