#!/usr/bin/env bash
# The layering check of CI: the C sources talk to the operating system in one place only, the
# OS layer (c_src/src/prim-unix.c, c_src/src/prim-windows.c behind c_src/include/mimalloc/prim.h;
# c_src/README.md, "Layers"). It fails when
#   1. a system call, an OS or threading API, or an OS header appears in any other file of
#      c_src/src or c_src/include/mimalloc (comments and string literals are ignored), unless the
#      allow-list below names that file and that name with the reason;
#   2. prim.h declares an entry that no file outside the OS layer calls (an entry without a
#      caller is code every new platform must still write, and no test runs it), or one that an
#      OS layer file does not define (the other platform would fail only when it links);
#   3. a file outside the OS layer calls a `_mi_prim_` function that prim.h does not declare.
# Needs only bash and perl; takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

ci_leg=layering
# shellcheck source=.ci/lib.sh
source .ci/lib.sh
report() {
  rc=$?
  if [ $rc -ne 0 ]; then printf '\nLAYERING CHECK FAILED (exit %s) in step: %s\n' "$rc" "$current_step" >&2; fi
}
trap report EXIT

SRC=c_src/src
PRIM_H=c_src/include/mimalloc/prim.h
OS_LAYER=("$SRC/prim-unix.c" "$SRC/prim-windows.c")

# Names a file outside the OS layer may use anyway: "file:name reason". Keep the reason true.
ALLOW=(
  "alloc-posix.c:getenv mi_dupenv_s and mi_wdupenv_s are the C library's environment lookup by contract (case-sensitive, the process's own environment), run after start-up and may allocate; the allocator's own option reads go through _mi_prim_getenv"
)

# System calls and OS/threading APIs (as a call: the name followed by "("), and OS headers.
CALLS='mmap|munmap|mremap|madvise|posix_madvise|mprotect|mlock|munlock|msync|mbind|brk|sbrk|syscall|sysctl|sysctlbyname|sysconf|getpagesize|getrandom|getentropy|arc4random\w*|clock_gettime|gettimeofday|getrusage|times|open|openat|read|write|close|ioctl|fcntl|getenv|secure_getenv|realpath|fork|getpid|gettid|sched_yield|sched_getcpu|nanosleep|usleep|sleep|pthread_\w+|dlopen|dlsym|task_info|mach_\w+|_NSGetEnviron|Virtual\w+|DiscardVirtualMemory|OfferVirtualMemory|Fls\w+|Tls(Alloc|Free|GetValue|SetValue)|GetProcAddress|LoadLibrary\w*|GetModuleHandle\w*|GetSystemInfo|GetLargePageMinimum|QueryPerformance\w+|GetTickCount\w*|WriteFile|WriteConsole\w*|GetStdHandle|GetEnvironmentVariable\w*|BCryptGenRandom|RtlGenRandom|GetProcessTimes|GetProcessMemoryInfo|GetLastError|SetLastError|CreateThread|Sleep|SwitchToThread|GetCurrentThreadId|GetCurrentProcess|GetNumaHighestNodeNumber|VirtualAllocExNuma|AdjustTokenPrivileges|OpenProcessToken|LookupPrivilegeValue\w*'
HEADERS='sys/[\w/.]+|unistd\.h|pthread\.h|fcntl\.h|dlfcn\.h|sched\.h|signal\.h|linux/[\w/.]+|mach/[\w/.]+|crt_externs\.h|windows\.h|winternl\.h|winnt\.h|winbase\.h|bcrypt\.h|psapi\.h|ntstatus\.h|processthreadsapi\.h|memoryapi\.h'

# Prints FILE with comments and string/character literals blanked, line numbers kept.
strip_c() {
  perl -0777 -pe '
    s{ (/\*.*?\*/) | (//[^\n]*) | ("(?:\\.|[^"\\\n])*") | ('"'"'(?:\\.|[^'"'"'\\\n])*'"'"') }{
      my $m = $&; ($1 || $2) ? ($m =~ tr/\n//cdr) : ( $3 ? "\"\"" : "0" )
    }gsex' "$1"
}
# `#include <...>` lines survive strip_c whole; `#include "..."` ones lose their name, which is fine:
# only system headers are checked.

step "no system call or OS header outside the OS layer"
bad=0
checked=0
for f in "$SRC"/*.c "$SRC"/*.cpp "$SRC"/*.h c_src/include/mimalloc/*.h; do
  [ -e "$f" ] || continue
  case " ${OS_LAYER[*]} " in *" $f "*) continue ;; esac
  checked=$((checked + 1))
  base=$(basename "$f")
  hits=$(strip_c "$f" | CALLS="$CALLS" HEADERS="$HEADERS" perl -ne '
    my $calls = qr{(?<![\w.>])(?:$ENV{CALLS})(?=\s*\()};
    my $hdrs = qr{^\s*#\s*include\s*<(?:$ENV{HEADERS})>};
    while (/$calls/g) { print "$.:$&\n"; }
    if (/$hdrs/) { my ($h) = /<([^>]+)>/; print "$.:<$h>\n"; }')
  while IFS= read -r hit; do
    [ -n "$hit" ] || continue
    name=${hit#*:}
    allowed=""
    for a in "${ALLOW[@]}"; do
      key=${a%% *}
      if [ "$key" = "$base:$name" ]; then allowed=${a#* }; fi
    done
    if [ -n "$allowed" ]; then
      echo "allowed: $f:${hit%%:*}: $name ($allowed)"
    else
      echo "OS call outside the OS layer: $f:${hit%%:*}: $name" >&2
      bad=$((bad + 1))
    fi
  done <<<"$hits"
done
[ "$bad" -eq 0 ] || { echo "$bad use(s) of the OS outside prim-unix.c/prim-windows.c: move them behind prim.h, or add them to ALLOW in .ci/layering.sh with the reason" >&2; exit 1; }
echo "ok: $checked files use the OS only through prim.h"

step "every prim.h entry is called above the OS layer and defined in every OS layer file"
entries=$(strip_c "$PRIM_H" | perl -ne 'print "$1\n" while /\b(_mi_prim_\w+)\s*\(/g' | sort -u)
[ -n "$entries" ] || { echo "no entries found in $PRIM_H" >&2; exit 1; }
callers_text=$(for f in "$SRC"/*.c "$SRC"/*.cpp "$SRC"/*.h c_src/include/mimalloc/*.h; do
  [ -e "$f" ] || continue
  case " ${OS_LAYER[*]} $PRIM_H " in *" $f "*) continue ;; esac
  strip_c "$f"
done)
bad=0
for e in $entries; do
  if ! grep -qw -- "$e" <<<"$callers_text"; then
    echo "unused OS entry: $e is declared in $PRIM_H but nothing outside the OS layer calls it" >&2
    bad=$((bad + 1))
  fi
  for p in "${OS_LAYER[@]}"; do
    if ! strip_c "$p" | perl -0777 -ne 'exit(/^[\w \t*]*\b'"$e"'\s*\([^;{]*\)\s*\{/m ? 0 : 1)'; then
      echo "missing OS entry: $p does not define $e" >&2
      bad=$((bad + 1))
    fi
  done
done
for used in $(perl -ne 'print "$1\n" while /\b(_mi_prim_\w+)\s*\(/g' <<<"$callers_text" | sort -u); do
  if ! grep -qx -- "$used" <<<"$entries"; then
    echo "undeclared OS entry: $used is called but $PRIM_H does not declare it" >&2
    bad=$((bad + 1))
  fi
done
[ "$bad" -eq 0 ] || exit 1
echo "ok: $(wc -w <<<"$entries") entries, each called and defined for both OS families"

printf '\nLAYERING CHECK PASSED\n'
