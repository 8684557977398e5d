//! The arena and sub-process API (issue 15): reserving arenas, managing a caller's region
//! (with the regions it must refuse), heaps pinned to an arena, exclusive arenas that no other
//! heap allocates from and whose heaps allocate from nowhere else, huge OS page reservations
//! where the kernel has none set aside, and sub-processes that never adopt each other's
//! abandoned segments. Each test makes its own arenas, so they may run concurrently.
#![cfg(unix)]

use core::ffi::c_void;
use mimalloc_sys::*;

const MIB: usize = 1024 * 1024;
/// The slot size arenas are carved in (MI_SEGMENT_SIZE).
const SLOT: usize = 4 * MIB;

fn area(id: mi_arena_id_t) -> (usize, usize) {
    let mut size = 0usize;
    // SAFETY: `size` is a valid out-pointer.
    let start = unsafe { mi_arena_area(id, &mut size) } as usize;
    (start, size)
}

fn inside(p: *mut c_void, (start, size): (usize, usize)) -> bool {
    (p as usize) >= start && (p as usize) < start + size
}

/// Sizes from every page kind: small, medium, large and huge.
const SIZES: [usize; 6] = [16, 1000, 40_000, 300_000, 1_500_000, 3 * MIB];

#[test]
fn reserved_exclusive_arena_serves_only_its_heap() {
    let mut id: mi_arena_id_t = 0;
    // SAFETY: out-pointer valid.
    let rc = unsafe { mi_reserve_os_memory_ex(64 * MIB, false, false, true, &mut id) };
    assert_eq!(rc, 0, "mi_reserve_os_memory_ex failed");
    assert!(id > 0, "no arena id returned");
    let a = area(id);
    assert!(
        a.0 != 0 && a.0 % SLOT == 0,
        "arena start {:#x} not slot aligned",
        a.0
    );
    assert!(a.1 >= 64 * MIB, "arena is {} bytes, asked for 64 MiB", a.1);

    // SAFETY: the heap is used on this thread only, its blocks freed before it is deleted.
    unsafe {
        let heap = mi_heap_new_in_arena(id);
        assert!(!heap.is_null());
        let mut in_arena = Vec::new();
        for &n in SIZES.iter() {
            let p = mi_heap_malloc(heap, n);
            assert!(!p.is_null(), "pinned heap could not allocate {n} bytes");
            assert!(
                inside(p, a),
                "a {n}-byte block of the pinned heap is outside its arena"
            );
            core::ptr::write_bytes(p as *mut u8, 0x5a, n);
            in_arena.push(p);
        }
        // the default heap (and a plain mi_heap_new heap) never takes memory of an exclusive arena
        let other = mi_heap_new();
        let mut outside = Vec::new();
        for round in 0..20 {
            for &n in SIZES.iter() {
                let p = mi_malloc(n + round);
                let q = mi_heap_malloc(other, n + round);
                assert!(!p.is_null() && !q.is_null());
                assert!(
                    !inside(p, a),
                    "mi_malloc({n}) returned memory of an exclusive arena"
                );
                assert!(
                    !inside(q, a),
                    "another heap got memory of an exclusive arena"
                );
                outside.push(p);
                outside.push(q);
            }
        }
        for p in outside {
            mi_free(p);
        }
        for p in in_arena {
            assert_eq!(*(p as *mut u8), 0x5a);
            mi_free(p);
        }
        mi_heap_delete(other);
        mi_heap_delete(heap);
    }
}

#[test]
fn a_full_exclusive_arena_fails_instead_of_falling_back() {
    let mut id: mi_arena_id_t = 0;
    // SAFETY: out-pointer valid.
    assert_eq!(
        unsafe { mi_reserve_os_memory_ex(2 * SLOT, true, false, true, &mut id) },
        0
    );
    let a = area(id);
    assert_eq!(a.1, 2 * SLOT);
    // SAFETY: as above; every non-null block is freed.
    unsafe {
        let heap = mi_heap_new_in_arena(id);
        assert!(!heap.is_null());
        // a 3 MiB block takes a slot of its own (two in secure builds, whose guard page and
        // huge-page placement push it past one): the arena fills after at most two, and then
        // allocation fails rather than falling back to other memory
        let mut got = Vec::new();
        loop {
            let p = mi_heap_malloc(heap, 3 * MIB);
            if p.is_null() {
                break;
            }
            assert!(inside(p, a), "{p:?} not in {a:x?}");
            got.push(p);
            assert!(got.len() <= 2, "more 3 MiB blocks than the arena holds");
        }
        assert!(!got.is_empty(), "the arena served nothing");
        // a freed block's slots are the arena's again
        mi_free(got.pop().unwrap());
        let p = mi_heap_malloc(heap, 3 * MIB);
        assert!(inside(p, a), "the freed slots were not reused");
        mi_free(p);
        for p in got {
            mi_free(p);
        }
        mi_heap_delete(heap);
    }
}

#[test]
fn unknown_arena_ids_are_refused() {
    // SAFETY: plain calls with out-of-range ids.
    unsafe {
        assert!(mi_heap_new_in_arena(100_000).is_null());
        assert!(mi_heap_new_ex(0, true, -3).is_null());
        let mut size = 1usize;
        assert!(mi_arena_area(100_000, &mut size).is_null());
        assert_eq!(size, 0);
        assert!(mi_arena_area(0, core::ptr::null_mut()).is_null());
    }
}

fn map(len: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    p as *mut u8
}

#[test]
fn managed_region_is_used_and_bad_regions_are_refused() {
    let len = 24 * MIB;
    let region = map(len);
    // SAFETY: region is ours, mapped read-write for `len` bytes and never unmapped while the
    // allocator may use it (this test binary leaks it on purpose).
    unsafe {
        // bad input: NULL, a misaligned start, and a region without a whole aligned slot
        let mut id: mi_arena_id_t = 7;
        assert!(!mi_manage_os_memory_ex(
            core::ptr::null_mut(),
            len,
            true,
            false,
            true,
            -1,
            true,
            &mut id
        ));
        assert_eq!(id, 0, "a refused region left an arena id behind");
        assert!(!mi_manage_os_memory_ex(
            region.add(1).cast(),
            len - 1,
            true,
            false,
            true,
            -1,
            true,
            &mut id
        ));
        assert!(!mi_manage_os_memory(
            region.cast(),
            MIB,
            true,
            false,
            true,
            -1
        ));
        assert!(!mi_manage_os_memory_ex(
            region.cast(),
            0,
            true,
            false,
            true,
            -1,
            false,
            &mut id
        ));

        // a good one (not slot aligned: the whole slots inside it are used)
        assert!(mi_manage_os_memory_ex(
            region.cast(),
            len,
            true,
            false,
            true,
            -1,
            true,
            &mut id
        ));
        assert!(id > 0);
        let a = area(id);
        assert!(
            a.0 >= region as usize && a.0 + a.1 <= region as usize + len,
            "arena {a:x?} outside the region"
        );
        assert!(a.1 >= 4 * SLOT && a.1 % SLOT == 0, "arena of {} bytes", a.1);
        let heap = mi_heap_new_in_arena(id);
        assert!(!heap.is_null());
        let mut blocks = Vec::new();
        for &n in SIZES.iter().take(5) {
            let p = mi_heap_zalloc(heap, n);
            assert!(!p.is_null());
            assert!(
                inside(p, a),
                "block of {n} bytes outside the managed region"
            );
            assert!(
                (0..n).step_by(997).all(|i| *(p as *mut u8).add(i) == 0),
                "zalloc not zero"
            );
            blocks.push(p);
        }
        for p in blocks {
            mi_free(p);
        }
        mi_heap_delete(heap);
    }
}

#[test]
fn managed_region_that_is_not_zero_gives_zeroed_calloc() {
    let len = 3 * SLOT;
    let region = map(len);
    // SAFETY: as above; the region is filled with garbage first and said to be not zero.
    unsafe {
        core::ptr::write_bytes(region, 0xee, len);
        let mut id: mi_arena_id_t = 0;
        assert!(mi_manage_os_memory_ex(
            region.cast(),
            len,
            true,
            false,
            false,
            -1,
            true,
            &mut id
        ));
        let heap = mi_heap_new_in_arena(id);
        for n in [64usize, 5000, 100_000, 700_000] {
            let p = mi_heap_calloc(heap, 1, n) as *mut u8;
            assert!(!p.is_null());
            assert!(inside(p.cast(), area(id)));
            assert!(
                (0..n).all(|i| *p.add(i) == 0),
                "calloc({n}) in non-zero managed memory is not zero"
            );
            mi_free(p.cast());
        }
        mi_heap_delete(heap);
    }
}

fn huge_pages_reserved() -> usize {
    std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn huge_os_pages_without_any_reserved_fail_cleanly() {
    if huge_pages_reserved() > 0 {
        eprintln!("this machine has 1 GiB pages set aside: the failure path is not exercised");
        return;
    }
    // SAFETY: out-pointers valid; with no pages set aside every call must fail with ENOMEM.
    unsafe {
        let mut id: mi_arena_id_t = 5;
        assert_eq!(
            mi_reserve_huge_os_pages_at_ex(1, 0, 100, true, &mut id),
            libc::ENOMEM
        );
        assert_eq!(id, 0);
        assert_eq!(mi_reserve_huge_os_pages_at(2, 0, 100), libc::ENOMEM);
        assert_eq!(mi_reserve_huge_os_pages_interleave(1, 2, 100), libc::ENOMEM);
        let mut got = 9usize;
        assert_eq!(mi_reserve_huge_os_pages(1, 0.1, &mut got), libc::ENOMEM);
        assert_eq!(got, 0);
        assert_eq!(
            mi_reserve_huge_os_pages_at(0, 0, 0),
            0,
            "zero pages is a no-op"
        );
        // and the allocator goes on as before
        let p = mi_malloc(100);
        assert!(!p.is_null());
        mi_free(p);
    }
}

#[test]
fn shared_reserved_arena_and_printing() {
    let mut id: mi_arena_id_t = 0;
    // SAFETY: out-pointer valid; printing writes to the output hook (stderr).
    unsafe {
        assert_eq!(
            mi_reserve_os_memory_ex(8 * MIB, true, false, false, &mut id),
            0
        );
        assert!(id > 0);
        assert_eq!(mi_reserve_os_memory(4 * MIB, false, false), 0);
        let heap = mi_heap_new_ex(3, false, id);
        assert!(!heap.is_null());
        let p = mi_heap_malloc(heap, 100);
        assert!(
            inside(p, area(id)),
            "a heap pinned to a shared arena allocated outside it"
        );
        mi_free(p);
        mi_heap_delete(heap);
        mi_debug_show_arenas();
        mi_arenas_print();
    }
}

fn abandoned_now() -> i64 {
    // SAFETY: mi_stats_t is plain data.
    unsafe {
        let mut st: mi_stats_t = core::mem::zeroed();
        mi_stats_get(core::mem::size_of::<mi_stats_t>(), &mut st);
        st.segments_abandoned.current
    }
}

struct SendPtr(*mut c_void);
// SAFETY: the block is only freed by the receiving thread.
unsafe impl Send for SendPtr {}

#[test]
fn sub_processes_do_not_adopt_each_others_segments() {
    // SAFETY: the sub-process lives until the end of the test; blocks are freed once.
    unsafe {
        if mi_is_redirected() {
            // as in abandoned_blocks_of_a_sub_process_are_visited: threads cannot join late
            eprintln!("skipped: with the override, a new thread allocates before it can join a sub-process");
            return;
        }
        let sp = mi_subproc_new();
        assert!(!sp.is_null());
        assert!(
            mi_subproc_main().is_null(),
            "the main sub-process is NULL, as upstream's"
        );
        let spp = SendPtr(sp);
        // a thread of the sub-process leaves a live block behind: its segment is abandoned there
        let block = std::thread::spawn(move || {
            let spp = spp;
            mi_subproc_add_current_thread(spp.0);
            let p = mi_malloc(1000);
            assert!(!p.is_null());
            SendPtr(p)
        })
        .join()
        .unwrap();
        assert!(abandoned_now() >= 1);
        let before = abandoned_now();
        // threads of the main sub-process collect everything they may adopt: not that one
        for _ in 0..3 {
            std::thread::spawn(|| mi_collect(true)).join().unwrap();
        }
        mi_collect(true);
        assert!(
            abandoned_now() >= 1,
            "the main sub-process adopted another's segment"
        );
        // the block is still usable and freeable from anywhere
        *(block.0 as *mut u8) = 1;
        mi_free(block.0);
        // a thread of that sub-process adopts (and here frees) it
        let spp = SendPtr(sp);
        std::thread::spawn(move || {
            let spp = spp;
            mi_subproc_add_current_thread(spp.0);
            mi_collect(true);
        })
        .join()
        .unwrap();
        assert!(
            abandoned_now() < before,
            "the sub-process did not adopt its own segment"
        );
        mi_subproc_delete(sp);
    }
}

unsafe extern "C" fn collect_blocks(
    heap: *const mi_heap_t,
    _area: *const mi_heap_area_t,
    block: *mut c_void,
    _size: usize,
    arg: *mut c_void,
) -> bool {
    assert!(heap.is_null(), "abandoned blocks have no heap");
    if !block.is_null() {
        // SAFETY: arg is the Vec passed below, used on this thread only.
        unsafe { (*(arg as *mut Vec<usize>)).push(block as usize) };
    }
    true
}

#[test]
fn abandoned_blocks_of_a_sub_process_are_visited() {
    // SAFETY: a sub-process of this test only; its blocks are freed once, after the visit.
    unsafe {
        if mi_is_redirected() {
            // The override build: std's thread start already allocated through us, so the new
            // thread owns segments of the main sub-process and may not move (as upstream asks,
            // a thread joins a sub-process before its first allocation).
            eprintln!("skipped: with the override, a new thread allocates before it can join a sub-process");
            return;
        }
        let sp = mi_subproc_new();
        let spp = SendPtr(sp);
        let blocks: Vec<usize> = std::thread::spawn(move || {
            let spp = spp;
            mi_subproc_add_current_thread(spp.0);
            (0..3).map(|i| mi_malloc(100 + i * 5000) as usize).collect()
        })
        .join()
        .unwrap();
        let mut seen: Vec<usize> = Vec::new();
        assert!(mi_abandoned_visit_blocks(
            sp,
            -1,
            true,
            Some(collect_blocks),
            (&mut seen as *mut Vec<usize>).cast()
        ));
        for b in &blocks {
            assert!(
                seen.contains(b),
                "live block {b:#x} of an exited thread was not visited ({seen:x?})"
            );
        }
        // the main sub-process's walk does not see them
        let mut main_seen: Vec<usize> = Vec::new();
        assert!(mi_abandoned_visit_blocks(
            mi_subproc_main(),
            -1,
            true,
            Some(collect_blocks),
            (&mut main_seen as *mut Vec<usize>).cast()
        ));
        assert!(blocks.iter().all(|b| !main_seen.contains(b)));
        // a walk that stops early says so
        unsafe extern "C" fn stop(
            _: *const mi_heap_t,
            _: *const mi_heap_area_t,
            _: *mut c_void,
            _: usize,
            _: *mut c_void,
        ) -> bool {
            false
        }
        assert!(!mi_abandoned_visit_blocks(
            sp,
            -1,
            false,
            Some(stop),
            core::ptr::null_mut()
        ));
        for b in blocks {
            mi_free(b as *mut c_void);
        }
    }
}

/// What mi_arenas_print wrote, gathered by `arena_text`; a lock because another test's
/// messages may arrive from its thread while the hook is registered.
static ARENA_TEXT: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

unsafe extern "C" fn arena_text(msg: *const core::ffi::c_char, _arg: *mut c_void) {
    // SAFETY: `msg` is a C string, valid for the call.
    let s = unsafe { core::ffi::CStr::from_ptr(msg) }.to_string_lossy();
    ARENA_TEXT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push_str(&s);
}

/// Slots of arena `id` in use, read from its line of mi_arenas_print ("arena N: ..., K in use").
fn slots_in_use(id: mi_arena_id_t) -> usize {
    ARENA_TEXT.lock().unwrap_or_else(|e| e.into_inner()).clear();
    // SAFETY: the hook is a plain function; it is unregistered before the text is read.
    unsafe {
        mi_register_output(Some(arena_text), core::ptr::null_mut());
        mi_arenas_print();
        mi_register_output(None, core::ptr::null_mut());
    }
    let text = ARENA_TEXT.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let tag = format!("arena {id}: ");
    let line = text
        .lines()
        .find(|l| l.contains(&tag))
        .unwrap_or_else(|| panic!("no line for arena {id} in:\n{text}"));
    let before = line
        .split(" in use")
        .next()
        .and_then(|s| s.rsplit(' ').next());
    before
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no slot count in {line:?}"))
}

/// A thread that exits with blocks of a heap pinned to an exclusive arena leaves that segment
/// abandoned, and only a heap of the arena may adopt it. Once another thread has freed every
/// block, the segment goes back to the arena when any thread comes across it (here a forced
/// collect): it must not hold its slot until a heap of the arena comes, which may be never.
#[test]
fn exclusive_arena_segment_emptied_after_its_thread_exited_is_released() {
    let mut id: mi_arena_id_t = 0;
    // SAFETY: out-pointer valid.
    let rc = unsafe { mi_reserve_os_memory_ex(32 * MIB, false, false, true, &mut id) };
    assert_eq!(rc, 0, "mi_reserve_os_memory_ex failed");
    assert_eq!(slots_in_use(id), 0, "a fresh arena has a slot in use");
    let blocks: Vec<SendPtr> = std::thread::spawn(move || {
        // SAFETY: the heap lives on this thread; its blocks outlive the thread, freed by the
        // test thread after it exited.
        unsafe {
            let heap = mi_heap_new_in_arena(id);
            assert!(!heap.is_null());
            (0..200)
                .map(|i| {
                    let p = mi_heap_malloc(heap, 100 + i);
                    assert!(!p.is_null());
                    SendPtr(p)
                })
                .collect()
        }
    })
    .join()
    .expect("the allocating thread");
    assert!(
        slots_in_use(id) >= 1,
        "the exited thread's segment is not in use"
    );
    for b in blocks {
        // SAFETY: each block is live and freed once.
        unsafe { mi_free(b.0) };
    }
    // SAFETY: a block allocated and freed (this thread's heap gets set up: a thread that never
    // allocated has nothing to collect with).
    unsafe { mi_free(mi_malloc(16)) };
    // A forced collect pops every abandoned segment. Another test here may hold this one off
    // the stack for a moment (a walk of the abandoned blocks takes them all), so a few tries.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // SAFETY: no preconditions.
        unsafe { mi_collect(true) };
        let used = slots_in_use(id);
        if used == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "an emptied segment of an exclusive arena stayed abandoned ({used} slots in use)"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
