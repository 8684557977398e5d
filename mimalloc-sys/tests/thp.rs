//! `mi_option_allow_thp` (and the `no_thp` feature, which makes 0 its default): with it off, no
//! memory of ours gets a transparent huge page, whatever the system's THP setting; huge blocks,
//! which ask for THP by default, included. Checked in `/proc/self/smaps`: the block's mapping
//! carries `nh` (MADV_NOHUGEPAGE) in its VmFlags and has no `AnonHugePages`.
#![cfg(target_os = "linux")]

use core::ffi::c_void;
use mimalloc_sys::*;

/// The smaps entry (header line to VmFlags) of the mapping holding `p`.
fn smaps_entry(p: *const c_void) -> String {
    let addr = p as usize;
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("read /proc/self/smaps");
    let mut entry = String::new();
    let mut inside = false;
    for line in smaps.lines() {
        let range = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = range.split_once('-') {
            if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                if inside {
                    break;
                }
                inside = lo <= addr && addr < hi;
            }
        }
        if inside {
            entry.push_str(line);
            entry.push('\n');
        }
    }
    assert!(!entry.is_empty(), "no mapping holds {addr:#x}");
    entry
}

fn vm_flags(entry: &str) -> Vec<&str> {
    entry
        .lines()
        .find_map(|l| l.strip_prefix("VmFlags:"))
        .map(|f| f.split_whitespace().collect())
        .unwrap_or_default()
}

fn anon_huge_kib(entry: &str) -> u64 {
    entry
        .lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Allocates a huge block (well above the 2 MiB THP size), touches all of it and returns the
/// smaps entry of its mapping; the block is freed afterwards.
fn huge_block_mapping() -> String {
    const SIZE: usize = 16 << 20;
    // SAFETY: the block is written within its size and freed once.
    unsafe {
        let p = mi_malloc(SIZE) as *mut u8;
        assert!(!p.is_null());
        p.write_bytes(0x5A, SIZE);
        let entry = smaps_entry(p as *const c_void);
        mi_free(p as *mut c_void);
        entry
    }
}

#[test]
fn allow_thp_off_means_no_huge_pages_for_any_block() {
    // SAFETY: a query without preconditions.
    if unsafe { mi_is_redirected() } {
        // The override build allocated through us before main (the C runtime, std's start),
        // so the first arena was mapped under the default; a setting made now governs later
        // mappings only. MIMALLOC_ALLOW_THP=0 or the no_thp feature cover everything.
        eprintln!(
            "skipped: with the override, memory was mapped before this test could set the option"
        );
        return;
    }
    // SAFETY: plain option calls.
    unsafe { mi_option_set(mi_option_allow_thp, 0) };
    // small blocks: the segment holding them
    // SAFETY: freed once, right after the look.
    let small = unsafe { mi_malloc(64) };
    let entry = smaps_entry(small);
    // SAFETY: allocated above, freed once.
    unsafe { mi_free(small) };
    assert!(
        vm_flags(&entry).contains(&"nh"),
        "segment mapping without MADV_NOHUGEPAGE:\n{entry}"
    );
    assert!(!vm_flags(&entry).contains(&"hg"), "{entry}");

    let entry = huge_block_mapping();
    assert!(
        vm_flags(&entry).contains(&"nh"),
        "huge block without MADV_NOHUGEPAGE:\n{entry}"
    );
    assert!(!vm_flags(&entry).contains(&"hg"), "{entry}");
    assert_eq!(
        anon_huge_kib(&entry),
        0,
        "transparent huge pages in:\n{entry}"
    );
}

/// The `no_thp` feature: off from the first allocation, without any call.
#[cfg(feature = "no_thp")]
#[test]
fn no_thp_feature_makes_it_the_default() {
    // SAFETY: plain option call.
    assert_eq!(unsafe { mi_option_get(mi_option_allow_thp) }, 0);
}

/// Without the feature the default is upstream's: allowed (huge blocks ask for THP).
#[cfg(not(feature = "no_thp"))]
#[test]
fn allow_thp_defaults_to_on() {
    // Read in a child process, so the other test's mi_option_set cannot race it.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "print_allow_thp", "--nocapture", "--ignored"])
        .env_remove("MIMALLOC_ALLOW_THP")
        .output()
        .expect("run the child test");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("allow_thp=1"), "{text}");
}

/// The huge-page size is the kernel's (`hpage_pmd_size`): 2 MiB with 4 KiB pages, but 32 or
/// 512 MiB on aarch64 kernels with 16 or 64 KiB pages, where a 4 MiB segment holds none and so
/// nothing is advised or collapsed. The verbose start-up report says which, and says so when
/// segments get none of them all the same (`allow_thp=0`, or the system setting "never").
#[test]
fn verbose_report_names_the_kernels_huge_page_size() {
    let report = |allow_thp: Option<&str>| {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "print_allow_thp", "--nocapture", "--ignored"])
            .env("MIMALLOC_VERBOSE", "1")
            .env_remove("MIMALLOC_ALLOW_THP")
            .env_remove("MIMALLOC_ALLOW_LARGE_OS_PAGES")
            .env_remove("MIMALLOC_LARGE_OS_PAGES");
        if let Some(v) = allow_thp {
            cmd.env("MIMALLOC_ALLOW_THP", v);
        }
        let out = cmd.output().expect("run the child test");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        err
    };
    let pmd: Option<usize> =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
            .ok()
            .and_then(|s| s.trim().parse().ok());
    let never = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .map(|s| s.contains("[never]"))
        .unwrap_or(true);
    let (wanted, wanted_off) = match pmd {
        Some(size) if size <= 2 << 20 => {
            let line = format!("transparent huge pages of {} KiB", size >> 10);
            let off = format!("{line}, which segments do not get (allow_thp=0)");
            (line, off)
        }
        Some(_) => {
            let line = "segments get no transparent huge pages here".to_string();
            (line.clone(), line)
        }
        None => ("OS pages of ".to_string(), "OS pages of ".to_string()), // no THP in this kernel
    };
    let err = report(None);
    assert!(
        err.contains(&wanted),
        "wanted {wanted:?} in the verbose report (hpage_pmd_size {pmd:?}):\n{err}"
    );
    if pmd.is_some() {
        assert_eq!(
            err.contains("which segments do not get"),
            (never || cfg!(feature = "no_thp")) && matches!(pmd, Some(size) if size <= 2 << 20),
            "the report says huge pages are off only where the system setting is never (or \
             with the no_thp feature):\n{err}"
        );
    }
    let err = report(Some("0"));
    if !never {
        assert!(
            err.contains(&wanted_off),
            "wanted {wanted_off:?} in the verbose report with allow_thp=0:\n{err}"
        );
    }
}

/// `allow_large_os_pages=0` keeps every segment on base pages where the kernel backs only what
/// asks (the setting "madvise"): the report says so too.
#[test]
fn verbose_report_says_large_os_pages_off() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "print_allow_thp", "--nocapture", "--ignored"])
        .env("MIMALLOC_VERBOSE", "1")
        .env("MIMALLOC_ALLOW_LARGE_OS_PAGES", "0")
        .env_remove("MIMALLOC_LARGE_OS_PAGES")
        .env_remove("MIMALLOC_ALLOW_THP")
        .output()
        .expect("run the child test");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .is_some_and(|size| size <= 2 << 20);
    let madvise = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .map(|s| s.contains("[madvise]"))
        .unwrap_or(false);
    if thp && madvise && !cfg!(feature = "no_thp") {
        assert!(
            err.contains("which segments do not get (allow_large_os_pages=0)"),
            "the report does not say allow_large_os_pages=0 keeps huge pages off:\n{err}"
        );
    }
}

#[test]
#[ignore = "helper of allow_thp_defaults_to_on, run in a child process"]
fn print_allow_thp() {
    // SAFETY: plain option call.
    println!("allow_thp={}", unsafe {
        mi_option_get(mi_option_allow_thp)
    });
}

/// Runs the ignored helper test `name` in a child process (so no other test's option change
/// reaches it) and returns what it printed; the child must pass.
#[cfg(target_arch = "x86_64")]
fn child_output(name: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--ignored"])
        .output()
        .expect("run the child test");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

/// The default mode (2): a thread's first small- and medium-object segments (16 of them, or 4
/// when they are packed with live blocks, as here) are not advised when made, the ones it
/// takes after that ask for transparent huge pages (VmFlags `hg`). Off in
/// builds with guard pages between pages and wherever THP is not allowed. The advice goes
/// (`hg` no longer set) once the segment purges a page, while one block keeps it in use, and
/// stays gone once that block is freed too: a purged range the kernel's background collapse
/// would fill back in with whole huge pages, or a small program reusing the arena slot, must
/// not keep it. Checked in a child process, so the
/// other tests' option changes cannot reach it.
#[cfg(target_arch = "x86_64")]
#[test]
fn a_thread_with_a_big_heap_gets_huge_pages_for_its_later_segments() {
    let text = child_output("print_segment_thp_flags");
    let first = text.contains("first=hg");
    let last = text.contains("last=hg");
    let purged = text.contains("purged=hg");
    let after = text.contains("after=hg");
    let expected = text.contains("expect=1");
    if !text.contains("mode=2") {
        eprintln!("skipped: MIMALLOC_ALLOW_LARGE_OS_PAGES chose another mode:\n{text}");
        return;
    }
    assert!(
        !first,
        "a thread's first segment asked for huge pages:\n{text}"
    );
    assert_eq!(last, expected, "{text}");
    assert!(
        !purged,
        "a segment in use kept the advice after purging its empty pages:\n{text}"
    );
    assert!(
        !after,
        "the advice outlived the segment's blocks (freed and collected):\n{text}"
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
#[ignore = "helper of a_thread_with_a_big_heap_gets_huge_pages_for_its_later_segments, run in a child process"]
fn print_segment_thp_flags() {
    // SAFETY: plain option calls.
    let (mode, thp) = unsafe {
        (
            mi_option_get(mi_option_allow_large_os_pages),
            mi_option_is_enabled(mi_option_allow_thp),
        )
    };
    let thp_kernel = std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists();
    let expected = mode == 2 && thp && thp_kernel && !cfg!(feature = "secure");
    std::thread::spawn(move || {
        // 96 MiB of 1 KiB blocks: 24 small-object segments' worth, the first one's flags read
        // while it is the thread's only segment (later, once the thread is dense, it may be
        // collapsed into huge pages and advised with them)
        const N: usize = 96 * 1024;
        const FIRST: usize = 2 * 1024;
        let flag = |p: usize| {
            if vm_flags(&smaps_entry(p as *const c_void)).contains(&"hg") {
                "hg"
            } else {
                "-"
            }
        };
        let mut first = "";
        // SAFETY: each block is written within its 1 KiB and freed once below.
        let blocks: Vec<usize> = (0..N)
            .map(|i| unsafe {
                let p = mi_malloc(1024) as *mut u8;
                assert!(!p.is_null());
                p.write(i as u8);
                if i == FIRST {
                    first = flag(p as usize);
                }
                p as usize
            })
            .collect();
        print!(
            "mode={mode} expect={} first={first} last={}",
            expected as u8,
            flag(blocks[N - 1])
        );
        let last = blocks[N - 1];
        // every block but the last: its segment stays in use, with its other pages empty
        for &p in &blocks[..N - 1] {
            // SAFETY: allocated above, freed once.
            unsafe { mi_free(p as *mut c_void) };
        }
        // SAFETY: plain call; purges the empty pages and releases the empty segments.
        unsafe { mi_collect(true) };
        print!(" purged={}", flag(last));
        // SAFETY: allocated above, freed once (the loop above stopped short of it).
        unsafe { mi_free(last as *mut c_void) };
        // SAFETY: plain call, as above.
        unsafe { mi_collect(true) };
        // the range stays mapped (arena memory): its flags are still there to read
        println!(" after={}", flag(last));
    })
    .join()
    .unwrap();
}

/// The default mode (2) again: a thread whose first segments are packed with live blocks (every
/// page in use, 7/8 of the bytes) gets huge pages from its fifth segment on, and each new one
/// brings one of the first four, all resident, along into huge pages (Linux 6.1's
/// MADV_COLLAPSE) instead of leaving them on 4 KiB pages. `AnonHugePages` of the mapping
/// holding the thread's first block is 0 before and at least one 2 MiB page after. Checked
/// where the kernel collapses a plain mapping of the test's own (the probe), THP is allowed
/// and the system setting is not "never"; in a child process, as above. Not with the
/// override, whose program allocations (this test's vectors and strings) share the thread's
/// segments.
#[cfg(target_arch = "x86_64")]
#[test]
fn a_packed_heap_collapses_its_first_segments_into_huge_pages() {
    let text = child_output("print_early_segment_huge_kib");
    let field = |name: &str| -> u64 {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in the child's output:\n{text}"))
    };
    let (expect, probe, before, after) = (
        field("expect="),
        field("probe="),
        field("before="),
        field("after="),
    );
    if expect == 0 || probe == 0 || before != 0 {
        eprintln!(
            "skipped: no huge pages expected here, the kernel does not collapse, or the \
             system gave huge pages unasked:\n{text}"
        );
        return;
    }
    assert!(
        after >= 2048,
        "the thread's first segment stayed on 4 KiB pages:\n{text}"
    );
}

/// Can this kernel collapse 2 MiB of resident memory into a huge page now?
#[cfg(target_arch = "x86_64")]
fn kernel_collapses() -> bool {
    const MADV_COLLAPSE: libc::c_int = 25;
    const HUGE: usize = 2 << 20;
    // SAFETY: a private anonymous mapping of the test's own, written within its bounds and
    // unmapped before returning.
    unsafe {
        let p = libc::mmap(
            core::ptr::null_mut(),
            2 * HUGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return false;
        }
        let run = ((p as usize + HUGE - 1) & !(HUGE - 1)) as *mut u8;
        run.write_bytes(1, HUGE);
        let ok = libc::madvise(run as *mut c_void, HUGE, MADV_COLLAPSE) == 0;
        libc::munmap(p, 2 * HUGE);
        ok
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
#[ignore = "helper of a_packed_heap_collapses_its_first_segments_into_huge_pages, run in a child process"]
fn print_early_segment_huge_kib() {
    // SAFETY: plain option calls.
    let (mode, thp) = unsafe {
        (
            mi_option_get(mi_option_allow_large_os_pages),
            mi_option_is_enabled(mi_option_allow_thp),
        )
    };
    let thp_never = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .map_or(true, |s| s.contains("[never]"));
    // SAFETY: a query without preconditions.
    let redirected = unsafe { mi_is_redirected() };
    let expected = mode == 2 && thp && !thp_never && !redirected && !cfg!(feature = "secure");
    let probe = kernel_collapses();
    std::thread::spawn(move || {
        // 1 KiB blocks, written whole: first 10 MiB (three segments), then 36 MiB in all (nine:
        // huge pages from the fifth on, each bringing one of the first four along)
        const BLOCK: usize = 1024;
        let alloc = |n: usize| -> Vec<usize> {
            // SAFETY: each block is written within its size and freed once below.
            (0..n)
                .map(|i| unsafe {
                    let p = mi_malloc(BLOCK) as *mut u8;
                    assert!(!p.is_null());
                    p.write_bytes(i as u8, BLOCK);
                    p as usize
                })
                .collect()
        };
        let mut blocks = alloc(10 << 10);
        let first = blocks[0] as *const c_void;
        let before = anon_huge_kib(&smaps_entry(first));
        blocks.extend(alloc(26 << 10));
        let after = anon_huge_kib(&smaps_entry(first));
        println!(
            "mode={mode} expect={} probe={} before={before} after={after}",
            expected as u8, probe as u8
        );
        for &p in &blocks {
            // SAFETY: allocated above, freed once.
            unsafe { mi_free(p as *mut c_void) };
        }
    })
    .join()
    .unwrap();
}

/// A small block aligned beyond what a page can serve gets a huge segment of its own, but no
/// huge pages: its mapping is not advised (no `hg`), and 32 such 64-byte blocks at 2 MiB
/// alignment, written, add far less than 32 * 2 MiB to the resident set (with huge pages
/// each held 4 MiB: 2 MiB for the segment's header, 2 MiB for the block). Checked in a child
/// process, where no other test allocates meanwhile.
#[cfg(target_arch = "x86_64")]
#[test]
fn an_over_aligned_small_block_gets_no_huge_pages() {
    let text = child_output("print_over_aligned_footprint");
    if text.contains("mode=1") {
        eprintln!(
            "skipped: MIMALLOC_ALLOW_LARGE_OS_PAGES=1 asks for huge pages everywhere:\n{text}"
        );
        return;
    }
    let field = |name: &str| -> u64 {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in the child's output:\n{text}"))
    };
    assert_eq!(
        field("hg="),
        0,
        "the block's mapping asks for huge pages:\n{text}"
    );
    assert!(
        field("rss_kib=") < 8 * 1024,
        "32 over-aligned 64-byte blocks added this much resident memory:\n{text}"
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
#[ignore = "helper of an_over_aligned_small_block_gets_no_huge_pages, run in a child process"]
fn print_over_aligned_footprint() {
    const N: usize = 32;
    const ALIGN: usize = 2 << 20;
    let rss_kib = || -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .expect("statm's resident field");
        pages * 4
    };
    let before = rss_kib();
    // SAFETY: each block is written within its 64 bytes and freed once below.
    let blocks: Vec<*mut u8> = (0..N)
        .map(|i| unsafe {
            let p = mi_malloc_aligned(64, ALIGN) as *mut u8;
            assert!(!p.is_null() && p as usize % ALIGN == 0);
            p.write_bytes(i as u8, 64);
            p
        })
        .collect();
    let grown = rss_kib().saturating_sub(before);
    let hg = blocks
        .iter()
        .filter(|&&p| vm_flags(&smaps_entry(p as *const c_void)).contains(&"hg"))
        .count();
    // SAFETY: plain option call.
    let mode = unsafe { mi_option_get(mi_option_allow_large_os_pages) };
    println!("mode={mode} hg={hg} rss_kib={grown}");
    for p in blocks {
        // SAFETY: allocated above, freed once.
        unsafe { mi_free(p as *mut c_void) };
    }
}
