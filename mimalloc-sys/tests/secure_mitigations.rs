//! Mitigations of the secure build that are not faults (those are in death.rs): the order in
//! which fresh blocks are handed out is random, and a block handed out does not show the
//! encoded free-list link it held, nor the encoded chain word a free from another thread
//! left in its second word (either would give away a function of the page keys).

use core::ffi::c_void;
use mimalloc_sys::*;

fn build() -> mi_build_config_t {
    // SAFETY: fills the plain struct it is given.
    unsafe {
        let mut c: mi_build_config_t = core::mem::zeroed();
        mi_build_config(&mut c);
        c
    }
}

#[test]
fn fresh_blocks_come_in_random_order_in_secure_builds() {
    // 32 B: a small page, its fresh blocks linked 4 KiB's worth at a time; 12 KiB: a medium
    // page, four blocks at a time (shuffled among themselves, each four above the last: about
    // 160 of 255 steps ascend then)
    for size in [32, 12 * 1024] {
        // SAFETY: a heap of this thread, its blocks freed before it is deleted.
        unsafe {
            let heap = mi_heap_new();
            assert!(!heap.is_null());
            let blocks: Vec<usize> = (0..256)
                .map(|_| mi_heap_malloc(heap, size) as usize)
                .collect();
            assert!(blocks.iter().all(|&b| b != 0));
            let ascending = blocks.windows(2).filter(|w| w[1] > w[0]).count();
            if build().secure >= 3 {
                // a shuffled order; sequential linking makes all 255 steps go up
                assert!(
                    (32..=223).contains(&ascending),
                    "{size} B: {ascending} of 255 steps ascend: not a shuffled order"
                );
            } else {
                assert!(
                    ascending >= 200,
                    "{size} B: only {ascending} of 255 steps ascend"
                );
            }
            for b in blocks {
                mi_free(b as *mut c_void);
            }
            mi_heap_delete(heap);
        }
    }
}

#[test]
fn a_block_handed_out_does_not_show_its_free_list_link() {
    if build().secure < 2 || build().debug > 0 {
        return; // debug fills fresh blocks with a pattern instead; the default build keeps links plain
    }
    // SAFETY: blocks of a heap of this thread, each read within its size and freed once.
    unsafe {
        let heap = mi_heap_new();
        let blocks: Vec<*mut usize> = (0..2000)
            .map(|_| mi_heap_malloc(heap, 48) as *mut usize)
            .collect();
        for &b in &blocks {
            mi_free(b as *mut c_void); // each now holds an encoded link
        }
        let mut reused = 0;
        for _ in 0..2000 {
            let b = mi_heap_malloc(heap, 48) as *mut usize;
            reused += usize::from(blocks.contains(&b));
            assert_eq!(
                *b, 0,
                "a block handed out shows the link word it held on a free list"
            );
        }
        assert!(reused >= 1000, "only {reused} freed blocks came back");
        mi_heap_destroy(heap);
    }
}

#[test]
fn a_block_freed_by_another_thread_does_not_show_its_chain_words() {
    // Blocks another thread frees reach their page in chains: a waiting block's second word
    // holds a keyed tag until the chain is pushed, and a chain's first block a descriptor
    // encoded with the page keys until its owner collects it. Neither may still be there
    // when the block is handed out again: each is a function of the keys, with a plaintext
    // (the block's address, a count and an offset) that is easy to guess.
    if !build().encoded_freelist || build().debug > 0 {
        return; // plain words tell nothing; debug fills every block it hands out
    }
    const MARK: usize = 0x5A5A_5A5A_5A5A_5A5A_u64 as usize;
    const N: usize = 2000;
    // SAFETY: blocks of this thread's default heap, 48 bytes each, written and read within
    // their first two words, each freed once (by the other thread, or below).
    unsafe {
        let blocks: Vec<usize> = (0..N)
            .map(|_| {
                let b = mi_malloc(48) as *mut usize;
                assert!(!b.is_null());
                *b = MARK;
                *b.add(1) = MARK;
                b as usize
            })
            .collect();
        let freed = blocks.clone();
        std::thread::spawn(move || {
            for b in freed {
                mi_free(b as *mut c_void); // chained for this thread's owner
            }
        })
        .join()
        .unwrap(); // its exit pushed its chains
        let mut reused = 0;
        let mut again = Vec::with_capacity(2 * N);
        for _ in 0..2 * N {
            let b = mi_malloc(48) as *mut usize;
            assert!(!b.is_null());
            if blocks.contains(&(b as usize)) {
                reused += 1;
                let word1 = *b.add(1);
                assert!(
                    word1 == MARK || word1 == 0,
                    "a block handed out shows {word1:#x} in its second word, which only the \
                     allocator wrote there"
                );
            }
            again.push(b);
        }
        assert!(
            reused >= N / 2,
            "only {reused} blocks freed by the other thread came back"
        );
        for b in again {
            mi_free(b as *mut c_void);
        }
    }
}
