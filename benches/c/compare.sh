#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs the C workload loops of wl.c against several malloc implementations through LD_PRELOAD,
# one process per run: min wall time of N runs and max peak RSS (KiB), then ratios against
# upstream mimalloc and their geometric means. With CALLGRIND=1 it prints instruction counts
# instead (valgrind --tool=callgrind; repeatable on a loaded machine).
#
#   cmake -S c_src -B /tmp/b -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/b -j2
#   benches/c/compare.sh 5 glibc up ours          # ours = /tmp/b/libmimalloc.so (OURS=... to change)
#   WLS="cfrac realloc" CALLGRIND=1 benches/c/compare.sh 1 up ours
#
# Allocators: glibc (nothing preloaded), up (UPSTREAM, default Debian's libmimalloc.so.2),
# ours (OURS), sec (SEC, e.g. a -DMI_SECURE=4 build).
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${TMPDIR:-/tmp}/mi-bench-c; mkdir -p "$OUT"
gcc -O2 -pthread -fno-builtin-malloc -o "$OUT/wl" "$HERE/wl.c"
N=${1:-5}; shift
UPSTREAM=${UPSTREAM:-/usr/lib/x86_64-linux-gnu/libmimalloc.so.2}
lib() { case $1 in glibc) echo "";; up) echo "$UPSTREAM";; ours) echo "${OURS:-/tmp/b/libmimalloc.so}";; sec) echo "${SEC:-/tmp/bs/libmimalloc.so}";; *) echo "$1";; esac; }
RES="$OUT/results.txt"; : > "$RES"
for w in ${WLS:-cfrac alloctest sh6 realloc large calloc xmalloc larson churn mstress}; do
  for a in "$@"; do
    P=$(lib "$a")
    if [ -n "$CALLGRIND" ]; then
      ir=$(LD_PRELOAD=$P valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.$w.$a" "$OUT/wl" "$w" 2>&1 | awk '/Collected/ {print $4}')
      echo "$w $a $ir" | tee -a "$RES"
      continue
    fi
    best=999; rss=0
    for i in $(seq "$N"); do
      out=$( { LD_PRELOAD=$P /usr/bin/time -f "%M" "$OUT/wl" "$w"; } 2>&1 | tr '\n' ' ')
      t=$(echo "$out" | awk '{print $2}'); m=$(echo "$out" | awk '{print $3}')
      best=$(echo "$t $best" | awk '{print ($1<$2)?$1:$2}'); rss=$(( m > rss ? m : rss ))
    done
    echo "$w $a $best $rss" | tee -a "$RES"
  done
done
python3 - "$RES" <<'PY'
import sys, math, collections
d = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 3: d[f[0]][f[1]] = [float(x) for x in f[2:]]
names = ["time (s)", "peak RSS (KiB)"]
cols = min(len(v) for w in d.values() for v in w.values())
for c in range(cols):
    print(f"-- {names[c] if cols > 1 else 'instructions'}: value (ratio to up)")
    logs = collections.defaultdict(list)
    for w, row in d.items():
        cells = []
        for a, v in row.items():
            r = v[c] / row["up"][c] if "up" in row and row["up"][c] > 0 else float("nan")
            if "up" in row: logs[a].append(math.log(r))
            cells.append(f"{a}={v[c]:g} ({r:.2f})")
        print(f"  {w:10s} " + "  ".join(cells))
    print("  geomean vs up: " + "  ".join(f"{a}={math.exp(sum(l)/len(l)):.3f}" for a, l in logs.items()))
PY
