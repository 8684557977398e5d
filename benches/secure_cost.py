#!/usr/bin/env python3
"""Paired cost of build variants (README, "Secure mode: mitigations and error policy").

usage: BINDIR=dir secure_cost.py bin1,bin2,... REPS SCALE workload1,workload2,...
The binaries are copies of the `workload` binary built with different features or
MIMALLOC_SYS_CFLAGS. Every rep runs each workload under each binary, in a shuffled order, with
one thread; prints the median CPU time (user+sys) per workload and binary, the ratio to the
first binary, and the geometric mean of the ratios."""
import os, sys, random, statistics, math, time, subprocess
bindir = os.environ.get('BINDIR', '.')
bins = sys.argv[1].split(',')
reps = int(sys.argv[2]); scale = sys.argv[3]
wls = sys.argv[4].split(',')
res = {(w, b): [] for w in wls for b in bins}
for r in range(reps):
    for w in wls:
        order = bins[:]; random.shuffle(order)
        for b in order:
            p = subprocess.Popen([os.path.join(bindir, b), '--workload', w, '--threads', '1', '--scale', scale],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, ru = os.wait4(p.pid, 0)
            assert status == 0, (w, b, status)
            res[(w, b)].append(ru.ru_utime + ru.ru_stime)
print('workload'.ljust(16) + ''.join(b.rjust(18) for b in bins))
logs = {b: [] for b in bins}
for w in wls:
    base = statistics.median(res[(w, bins[0])])
    row = w.ljust(16) + ('%.3fs' % base).rjust(18)
    for b in bins[1:]:
        m = statistics.median(res[(w, b)]); logs[b].append(math.log(m / base))
        row += ('%.3fs %.3fx' % (m, m / base)).rjust(18)
    print(row)
print('geomean'.ljust(16) + ''.rjust(18) + ''.join(('%.3fx' % math.exp(sum(logs[b]) / len(logs[b]))).rjust(18) for b in bins[1:]))
