//! Workloads modelled on the classic C allocator benchmarks, written from their published
//! descriptions. Blocks are [`Block`]s (stamped at both ends, checked when freed); each
//! workload returns a checksum of the tags it allocated (or freed), which depends on the
//! parameters only: every thread draws from its own seeded generator, and sums that cross
//! threads are added with wrapping addition, whose order does not matter.

use crate::{mix, Block, Outcome, Params, Rng};
use std::hint::black_box;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::mpsc;
use std::thread::{self, ScopedJoinHandle};

/// A worker's result, with a panic turned into an error.
fn join<T>(h: ScopedJoinHandle<'_, Result<T, String>>) -> Result<T, String> {
    h.join()
        .map_err(|_| "a worker thread panicked".to_string())?
}

/// Joins workers that each return the tags of the blocks they made and freed; every block made
/// must have been freed by someone.
fn tally(hs: Vec<ScopedJoinHandle<'_, Result<(u64, u64), String>>>) -> Outcome {
    let (mut made, mut freed) = (0u64, 0u64);
    for h in hs {
        let (m, f) = join(h)?;
        made = made.wrapping_add(m);
        freed = freed.wrapping_add(f);
    }
    if made != freed {
        return Err(format!(
            "made blocks tagged {made:x} in all, freed {freed:x}"
        ));
    }
    Ok(made)
}

/// A seed for worker `t` of round `round` of workload `salt`.
fn seed(salt: u64, round: usize, t: usize) -> u64 {
    salt ^ (round as u64) << 20 ^ t as u64
}

/// larson: each thread owns an array of blocks (8-1000 bytes) and replaces random ones; after
/// every round its threads end and new threads take the arrays over, rotated by one, so most
/// blocks are freed by a thread other than the one that allocated them (a server handing
/// connections between worker threads).
pub(crate) fn larson(p: &Params) -> Outcome {
    const SLOTS: usize = 1000;
    const ROUNDS: usize = 20;
    let ops = p.n(120_000);
    let mut arrays: Vec<Vec<Option<Block>>> = (0..p.threads)
        .map(|t| {
            let mut rng = Rng::new(seed(1, 0, t));
            (0..SLOTS)
                .map(|_| Some(Block::new(rng.range(8, 1000), rng.next_u64())))
                .collect()
        })
        .collect();
    let mut sum = 0u64;
    for round in 0..ROUNDS {
        let done: Vec<(Vec<Option<Block>>, u64)> = thread::scope(|s| {
            let hs: Vec<_> = arrays
                .into_iter()
                .enumerate()
                .map(|(t, mut arr)| {
                    s.spawn(move || {
                        let mut rng = Rng::new(seed(2, round, t));
                        let mut sum = 0u64;
                        for _ in 0..ops {
                            let i = rng.below(SLOTS as u64) as usize;
                            if let Some(old) = arr[i].take() {
                                sum = sum.wrapping_add(old.check_free()?);
                            }
                            arr[i] = Some(Block::new(rng.range(8, 1000), rng.next_u64()));
                        }
                        Ok((arr, sum))
                    })
                })
                .collect();
            hs.into_iter().map(join).collect::<Result<_, _>>()
        })?;
        arrays = Vec::with_capacity(done.len());
        for (arr, s) in done {
            sum = sum.wrapping_add(s);
            arrays.push(arr);
        }
        arrays.rotate_left(1);
    }
    for b in arrays.into_iter().flatten().flatten() {
        sum = sum.wrapping_add(b.check_free()?);
    }
    Ok(sum)
}

/// xmalloc: half the threads (at least one) allocate blocks of 8-512 bytes and send them in
/// batches of 100 to the other half (at least one), which check and free them. Every free is
/// by a thread that did not allocate; the producers never free anything.
pub(crate) fn xmalloc(p: &Params) -> Outcome {
    const BATCH: usize = 100;
    let producers = (p.threads / 2).max(1);
    let consumers = (p.threads - producers).max(1);
    let batches = p.n(50_000);
    thread::scope(|s| {
        let mut senders = Vec::new();
        let mut consumer_hs = Vec::new();
        for _ in 0..consumers {
            let (tx, rx) = mpsc::sync_channel::<Vec<Block>>(64);
            senders.push(tx);
            consumer_hs.push(s.spawn(move || {
                let mut sum = 0u64;
                for batch in rx {
                    for b in batch {
                        sum = sum.wrapping_add(b.check_free()?);
                    }
                }
                Ok(sum)
            }));
        }
        let producer_hs: Vec<_> = (0..producers)
            .map(|t| {
                let senders = senders.clone();
                s.spawn(move || {
                    let mut rng = Rng::new(seed(3, 0, t));
                    let mut sum = 0u64;
                    for i in 0..batches {
                        let batch: Vec<Block> = (0..BATCH)
                            .map(|_| {
                                let b = Block::new(rng.range(8, 512), rng.next_u64());
                                sum = sum.wrapping_add(b.tag());
                                b
                            })
                            .collect();
                        senders[(t + i) % senders.len()]
                            .send(batch)
                            .map_err(|_| "a consumer stopped early".to_string())?;
                    }
                    Ok(sum)
                })
            })
            .collect();
        drop(senders);
        let made = producer_hs
            .into_iter()
            .map(join)
            .try_fold(0u64, |a, r| r.map(|s| a.wrapping_add(s)))?;
        let freed = consumer_hs
            .into_iter()
            .map(join)
            .try_fold(0u64, |a, r| r.map(|s| a.wrapping_add(s)))?;
        if made != freed {
            return Err(format!(
                "made blocks tagged {made:x} in all, freed {freed:x}"
            ));
        }
        Ok(made)
    })
}

/// cache-scratch with `threads` threads: the main thread allocates one 8-byte object per
/// thread, side by side; each thread frees its object, then `iterations` times allocates an
/// object, writes it many times and frees it. An allocator that hands a thread the block
/// another thread just freed puts two threads' hot objects in one cache line (passive false
/// sharing), and the N-thread run slows down by far more than the 1-thread run.
fn cache_scratch(p: &Params, threads: usize) -> Outcome {
    const WRITES: usize = 50_000;
    let iterations = p.n(4000);
    let firsts: Vec<Box<[u8; 8]>> = (0..threads).map(|t| Box::new([t as u8; 8])).collect();
    // Per object: byte `i` is incremented once for every `j < WRITES` with `j % 8 == i`.
    let want: u64 = (0..8).map(|i| ((WRITES + 7 - i) / 8 % 256) as u64).sum();
    thread::scope(|s| {
        let hs: Vec<_> = firsts
            .into_iter()
            .enumerate()
            .map(|(t, first)| {
                s.spawn(move || {
                    if first.iter().any(|&b| b != t as u8) {
                        return Err("the first object arrived damaged".to_string());
                    }
                    drop(first);
                    let mut sum = 0u64;
                    for _ in 0..iterations {
                        let mut obj = Box::new([0u8; 8]);
                        for j in 0..WRITES {
                            let o = black_box(&mut *obj);
                            o[j % 8] = o[j % 8].wrapping_add(1);
                        }
                        let got: u64 = obj.iter().map(|&b| b as u64).sum();
                        if got != want {
                            return Err(format!("an object holds {got}, not {want}"));
                        }
                        sum += got;
                    }
                    Ok(sum)
                })
            })
            .collect();
        hs.into_iter()
            .map(join)
            .try_fold(0u64, |a, r| r.map(|s| a.wrapping_add(s)))
    })
}

/// cache-scratch on one thread.
pub(crate) fn cache_scratch1(p: &Params) -> Outcome {
    cache_scratch(p, 1)
}

/// cache-scratch on [`Params::threads`] threads.
pub(crate) fn cache_scratch_n(p: &Params) -> Outcome {
    cache_scratch(p, p.threads)
}

/// A request size for alloc-test: mostly small, sometimes up to 256 KiB.
fn alloc_test_size(rng: &mut Rng) -> usize {
    match rng.below(1000) {
        0..=699 => rng.range(8, 128),
        700..=949 => rng.range(129, 2048),
        950..=994 => rng.range(2049, 32 * 1024),
        _ => rng.range(32 * 1024 + 1, 256 * 1024),
    }
}

/// alloc-test on `threads` threads: each replaces random blocks of a live set of 4096 with
/// blocks of random sizes, millions of times in all.
fn alloc_test(p: &Params, threads: usize) -> Outcome {
    const SLOTS: usize = 4096;
    let ops = p.n(1_500_000);
    thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut rng = Rng::new(seed(4, 0, t));
                    let mut live: Vec<Option<Block>> = (0..SLOTS).map(|_| None).collect();
                    let mut sum = 0u64;
                    for _ in 0..ops {
                        let i = rng.below(SLOTS as u64) as usize;
                        if let Some(old) = live[i].take() {
                            sum = sum.wrapping_add(old.check_free()?);
                        }
                        live[i] = Some(Block::new(alloc_test_size(&mut rng), rng.next_u64()));
                    }
                    for b in live.into_iter().flatten() {
                        sum = sum.wrapping_add(b.check_free()?);
                    }
                    Ok(sum)
                })
            })
            .collect();
        hs.into_iter()
            .map(join)
            .try_fold(0u64, |a, r| r.map(|s| a.wrapping_add(s)))
    })
}

/// alloc-test on one thread.
pub(crate) fn alloc_test1(p: &Params) -> Outcome {
    alloc_test(p, 1)
}

/// alloc-test on [`Params::threads`] threads.
pub(crate) fn alloc_test_n(p: &Params) -> Outcome {
    alloc_test(p, p.threads)
}

/// sh6bench: every thread allocates batches of blocks whose sizes cycle through 1-1000
/// bytes, frees one batch in reverse order of allocation, then allocates another and frees
/// its first half forwards and its second half backwards from the end.
pub(crate) fn sh6bench(p: &Params) -> Outcome {
    const BATCH: usize = 4000;
    let rounds = p.n(150);
    thread::scope(|s| {
        let hs: Vec<_> = (0..p.threads)
            .map(|t| {
                s.spawn(move || {
                    let mut rng = Rng::new(seed(5, 0, t));
                    let mut sum = 0u64;
                    let mut blocks: Vec<Block> = Vec::with_capacity(BATCH);
                    let mut size = 1;
                    let mut fill = |blocks: &mut Vec<Block>, rng: &mut Rng| {
                        for _ in 0..BATCH {
                            size = size % 1000 + 7;
                            blocks.push(Block::new(size, rng.next_u64()));
                        }
                    };
                    for _ in 0..rounds {
                        fill(&mut blocks, &mut rng);
                        while let Some(b) = blocks.pop() {
                            sum = mix(sum, b.check_free()?);
                        }
                        fill(&mut blocks, &mut rng);
                        let back = blocks.split_off(BATCH / 2);
                        for b in blocks.drain(..) {
                            sum = mix(sum, b.check_free()?);
                        }
                        for b in back.into_iter().rev() {
                            sum = mix(sum, b.check_free()?);
                        }
                    }
                    Ok(sum)
                })
            })
            .collect();
        hs.into_iter()
            .map(join)
            .try_fold(0u64, |a, r| r.map(|s| a.wrapping_add(s)))
    })
}

/// The shared pool of mstress: each slot owns the block it points to (or is null).
struct Pool(Vec<AtomicPtr<Block>>);

impl Pool {
    /// Puts `b` in slot `i` and returns what was there.
    fn swap(&self, i: usize, b: Option<Block>) -> Option<Block> {
        let new = b.map_or(ptr::null_mut(), |b| Box::into_raw(Box::new(b)));
        let old = self.0[i].swap(new, Ordering::AcqRel);
        // SAFETY: every non-null pointer in the pool came from `Box::into_raw` above, and the
        // swap took it out, so this thread is its only owner.
        (!old.is_null()).then(|| *unsafe { Box::from_raw(old) })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for i in 0..self.0.len() {
            drop(self.swap(i, None));
        }
    }
}

/// mstress: rounds of short-lived threads, four per core, that swap blocks in and out of a
/// shared pool, keep a local list of their own, and on exit leave half their list in the
/// pool: objects outlive the thread that made them and are freed by threads started later.
/// One block in a hundred is large (4-64 KiB).
pub(crate) fn mstress(p: &Params) -> Outcome {
    let workers = 4 * p.threads;
    let slots = 500 * p.threads;
    let rounds = p.n(25);
    let ops = 20_000;
    let pool = Pool(
        (0..slots)
            .map(|_| AtomicPtr::new(ptr::null_mut()))
            .collect(),
    );
    let (mut made, mut freed) = (0u64, 0u64);
    for round in 0..rounds {
        let sums = thread::scope(|s| {
            let pool = &pool;
            let hs: Vec<_> = (0..workers)
                .map(|t| {
                    s.spawn(move || {
                        let mut rng = Rng::new(seed(6, round, t));
                        let (mut made, mut freed) = (0u64, 0u64);
                        let mut local: Vec<Block> = Vec::new();
                        let mut new_block = |rng: &mut Rng| {
                            let len = if rng.below(100) == 0 {
                                rng.range(4096, 64 * 1024)
                            } else {
                                rng.range(8, 256)
                            };
                            let b = Block::new(len, rng.next_u64());
                            made = made.wrapping_add(b.tag());
                            b
                        };
                        for _ in 0..ops {
                            match rng.below(10) {
                                0..=3 => {
                                    let i = rng.below(slots as u64) as usize;
                                    if let Some(old) = pool.swap(i, Some(new_block(&mut rng))) {
                                        freed = freed.wrapping_add(old.check_free()?);
                                    }
                                }
                                4..=7 if local.len() < 200 => local.push(new_block(&mut rng)),
                                _ => {
                                    if !local.is_empty() {
                                        let i = rng.below(local.len() as u64) as usize;
                                        freed =
                                            freed.wrapping_add(local.swap_remove(i).check_free()?);
                                    }
                                }
                            }
                        }
                        for (k, b) in local.into_iter().enumerate() {
                            if k % 2 == 0 {
                                let i = rng.below(slots as u64) as usize;
                                if let Some(old) = pool.swap(i, Some(b)) {
                                    freed = freed.wrapping_add(old.check_free()?);
                                }
                            } else {
                                freed = freed.wrapping_add(b.check_free()?);
                            }
                        }
                        Ok((made, freed))
                    })
                })
                .collect();
            hs.into_iter().map(join).collect::<Result<Vec<_>, _>>()
        })?;
        for (m, f) in sums {
            made = made.wrapping_add(m);
            freed = freed.wrapping_add(f);
        }
    }
    for i in 0..slots {
        if let Some(b) = pool.swap(i, None) {
            freed = freed.wrapping_add(b.check_free()?);
        }
    }
    if made != freed {
        return Err(format!(
            "made blocks tagged {made:x} in all, freed {freed:x}"
        ));
    }
    Ok(made)
}

/// thread churn: rounds of 32 threads that each live for one round. A thread allocates mixed
/// sizes (mostly 16 B-8 KiB, some 32-256 KiB, a few 1 MiB), frees most of them itself, and
/// leaves a quarter in a shared pool, where threads of later rounds swap them out and free
/// them: every round starts threads with empty heaps and ends them with live blocks, so each
/// round takes segments from and gives them back to the process (the pattern of issue 15).
pub(crate) fn thread_churn(p: &Params) -> Outcome {
    const THREADS: usize = 32;
    let rounds = p.n(60);
    let per_thread = 1500;
    let slots = THREADS * 200;
    let pool = Pool(
        (0..slots)
            .map(|_| AtomicPtr::new(ptr::null_mut()))
            .collect(),
    );
    let (mut made, mut freed) = (0u64, 0u64);
    for round in 0..rounds {
        let sums = thread::scope(|s| {
            let pool = &pool;
            let hs: Vec<_> = (0..THREADS)
                .map(|t| {
                    s.spawn(move || {
                        let mut rng = Rng::new(seed(15, round, t));
                        let (mut made, mut freed) = (0u64, 0u64);
                        let mut live: Vec<Block> = Vec::with_capacity(per_thread);
                        for _ in 0..per_thread {
                            let len = match rng.below(200) {
                                0 => 1 << 20,
                                1..=8 => rng.range(32 * 1024, 256 * 1024),
                                _ => rng.range(16, 8 * 1024),
                            };
                            let b = Block::new(len, rng.next_u64());
                            made = made.wrapping_add(b.tag());
                            live.push(b);
                        }
                        for (k, b) in live.into_iter().enumerate() {
                            if k % 4 == 0 {
                                let i = rng.below(slots as u64) as usize;
                                if let Some(old) = pool.swap(i, Some(b)) {
                                    freed = freed.wrapping_add(old.check_free()?);
                                }
                            } else {
                                freed = freed.wrapping_add(b.check_free()?);
                            }
                        }
                        Ok((made, freed))
                    })
                })
                .collect();
            hs.into_iter().map(join).collect::<Result<Vec<_>, _>>()
        })?;
        for (m, f) in sums {
            made = made.wrapping_add(m);
            freed = freed.wrapping_add(f);
        }
    }
    for i in 0..slots {
        if let Some(b) = pool.swap(i, None) {
            freed = freed.wrapping_add(b.check_free()?);
        }
    }
    if made != freed {
        return Err(format!(
            "made blocks tagged {made:x} in all, freed {freed:x}"
        ));
    }
    Ok(made)
}

/// A request size for rptest: weighted towards small blocks, 16 B to 64 KiB.
fn rptest_size(rng: &mut Rng) -> usize {
    match rng.below(1000) {
        0..=399 => rng.range(16, 64),
        400..=699 => rng.range(65, 256),
        700..=849 => rng.range(257, 1024),
        850..=949 => rng.range(1025, 4096),
        950..=989 => rng.range(4097, 16 * 1024),
        _ => rng.range(16 * 1024 + 1, 64 * 1024),
    }
}

/// rptest: every thread keeps a working set of 2000 blocks of realistic sizes and replaces
/// random ones; after each cycle of 1000 replacements it hands a tenth of its working set to
/// the next thread (in a ring), which frees those blocks as they arrive.
pub(crate) fn rptest(p: &Params) -> Outcome {
    const SET: usize = 2000;
    const CYCLE: usize = 1000;
    let cycles = p.n(600);
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..p.threads)
        .map(|_| mpsc::channel::<Vec<Block>>())
        .unzip();
    thread::scope(|s| {
        let hs: Vec<_> = receivers
            .into_iter()
            .enumerate()
            .map(|(t, rx)| {
                let tx = senders[(t + 1) % senders.len()].clone();
                s.spawn(move || {
                    let mut rng = Rng::new(seed(7, 0, t));
                    let (mut made, mut freed) = (0u64, 0u64);
                    let mut new_block = |rng: &mut Rng| {
                        let b = Block::new(rptest_size(rng), rng.next_u64());
                        made = made.wrapping_add(b.tag());
                        b
                    };
                    let mut set: Vec<Block> = (0..SET).map(|_| new_block(&mut rng)).collect();
                    for _ in 0..cycles {
                        for _ in 0..CYCLE {
                            let i = rng.below(SET as u64) as usize;
                            let old = std::mem::replace(&mut set[i], new_block(&mut rng));
                            freed = freed.wrapping_add(old.check_free()?);
                        }
                        let handoff: Vec<Block> = (0..SET / 10)
                            .map(|_| {
                                let i = rng.below(SET as u64) as usize;
                                std::mem::replace(&mut set[i], new_block(&mut rng))
                            })
                            .collect();
                        tx.send(handoff)
                            .map_err(|_| "the next thread stopped early".to_string())?;
                        freed = check_free_all(freed, rx.try_iter().flatten())?;
                    }
                    drop(tx);
                    let freed = check_free_all(freed, set.into_iter().chain(rx.iter().flatten()))?;
                    Ok((made, freed))
                })
            })
            .collect();
        drop(senders);
        tally(hs)
    })
}

/// Checks and frees every block of `blocks`, adding their tags to `freed`.
fn check_free_all(freed: u64, blocks: impl IntoIterator<Item = Block>) -> Result<u64, String> {
    blocks
        .into_iter()
        .try_fold(freed, |f, b| Ok(f.wrapping_add(b.check_free()?)))
}

/// A request size for rptest-cross: 8 B to 16 KiB, log-uniform (each power-of-two range is
/// equally likely), so most requests are small yet every small and medium size class is hit.
fn rptest_cross_size(rng: &mut Rng) -> usize {
    let k = rng.range(3, 13);
    rng.range(1 << k, (2 << k) - 1)
}

/// rptest with a cross-thread rate: every thread keeps a live set of 1024 blocks of random
/// sizes (8 B-16 KiB) and replaces random ones; one replaced block in eight is not freed by
/// its thread but put in an outbox for a random other thread, and a full outbox (64 blocks)
/// is sent. Threads free what they receive between replacements, so remote frees arrive in
/// bursts on pages whose owner is busy allocating, the shape of rpmalloc's rptest.
pub(crate) fn rptest_cross(p: &Params) -> Outcome {
    const SET: usize = 1024;
    const RATE: u64 = 8;
    const BATCH: usize = 64;
    const DRAIN: usize = 256;
    let ops = p.n(2_000_000);
    let threads = p.threads;
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..threads).map(|_| mpsc::channel::<Vec<Block>>()).unzip();
    thread::scope(|s| {
        let hs: Vec<_> = receivers
            .into_iter()
            .enumerate()
            .map(|(t, rx)| {
                let txs = senders.clone();
                s.spawn(move || {
                    let mut rng = Rng::new(seed(16, 0, t));
                    let (mut made, mut freed) = (0u64, 0u64);
                    let mut new_block = |rng: &mut Rng| {
                        let b = Block::new(rptest_cross_size(rng), rng.next_u64());
                        made = made.wrapping_add(b.tag());
                        b
                    };
                    let mut set: Vec<Block> = (0..SET).map(|_| new_block(&mut rng)).collect();
                    let mut outbox: Vec<Vec<Block>> = (0..threads).map(|_| Vec::new()).collect();
                    let send = |to: usize, batch: Vec<Block>| {
                        txs[to]
                            .send(batch)
                            .map_err(|_| "a receiving thread stopped early".to_string())
                    };
                    for op in 0..ops {
                        let i = rng.below(SET as u64) as usize;
                        let old = std::mem::replace(&mut set[i], new_block(&mut rng));
                        if rng.below(RATE) == 0 {
                            // Another thread: one of the others, chosen at random.
                            let to = if threads == 1 {
                                t
                            } else {
                                (t + 1 + rng.below(threads as u64 - 1) as usize) % threads
                            };
                            outbox[to].push(old);
                            if outbox[to].len() == BATCH {
                                send(to, std::mem::take(&mut outbox[to]))?;
                            }
                        } else {
                            freed = freed.wrapping_add(old.check_free()?);
                        }
                        if op % DRAIN == 0 {
                            freed = check_free_all(freed, rx.try_iter().flatten())?;
                        }
                    }
                    for (to, batch) in outbox.into_iter().enumerate() {
                        if !batch.is_empty() {
                            send(to, batch)?;
                        }
                    }
                    drop(txs);
                    let freed = check_free_all(freed, set.into_iter().chain(rx.iter().flatten()))?;
                    Ok((made, freed))
                })
            })
            .collect();
        drop(senders);
        tally(hs)
    })
}

/// malloc-large: a live set of 8 blocks of 5-25 MiB; each step frees a random one and
/// allocates a new one of a random size, writing every page of it. An allocator that keeps
/// and reuses large spans saves the page faults and zeroing of fresh memory.
pub(crate) fn large(p: &Params) -> Outcome {
    const LIVE: usize = 8;
    const MIB: usize = 1 << 20;
    let steps = p.n(100);
    let mut rng = Rng::new(seed(8, 0, 0));
    let mut live: Vec<Option<Block>> = (0..LIVE).map(|_| None).collect();
    let mut sum = 0u64;
    for _ in 0..steps {
        let i = rng.below(LIVE as u64) as usize;
        if let Some(old) = live[i].take() {
            sum = mix(sum, old.check_free()?);
        }
        let mut b = Block::new(rng.range(5 * MIB, 25 * MIB), rng.next_u64());
        b.touch_pages();
        live[i] = Some(b);
    }
    for b in live.into_iter().flatten() {
        sum = mix(sum, b.check_free()?);
    }
    Ok(sum)
}

/// glibc's bench-malloc-simple shape: one thread allocates a small live set of blocks of one
/// small size and frees them all, over and over. Every allocation after the first round finds
/// a page whose blocks were all just freed, so what is measured is the round trip of the fast
/// paths alone: malloc, free, and whatever the allocator does when a page empties and fills.
pub(crate) fn tight_loop(p: &Params) -> Outcome {
    const LIVE: usize = 100;
    const SIZE: usize = 48;
    let rounds = p.n(150_000);
    let mut live: Vec<Block> = Vec::with_capacity(LIVE);
    let mut sum = 0u64;
    for r in 0..rounds {
        for i in 0..LIVE {
            live.push(Block::new(SIZE, mix(r as u64, i as u64)));
        }
        for b in live.drain(..) {
            let b = black_box(b);
            if !b.intact() {
                return Err(format!("a block of round {r} was damaged"));
            }
            sum = sum.wrapping_add(b.tag());
        }
    }
    Ok(sum)
}
