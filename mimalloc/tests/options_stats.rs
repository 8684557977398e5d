//! Typed options round-trip and match their C values and environment names; statistics move as
//! expected after known allocations; process information is plausible; the output hook works.
//! One binary, one test at a time (process-wide state): every test takes LOCK.

use mimalloc::{MiMalloc, MiOption};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

static LOCK: Mutex<()> = Mutex::new(());

#[test]
fn options_round_trip() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for opt in MiOption::ALL {
        let old = opt.get();
        opt.set(old + 3);
        assert_eq!(opt.get(), old + 3, "{opt:?}");
        opt.set(old);
        assert_eq!(opt.get(), old);
        assert!(opt.env_var().starts_with("MIMALLOC_"));
    }
    MiOption::ShowStats.enable();
    assert!(MiOption::ShowStats.is_enabled());
    MiOption::ShowStats.disable();
    assert!(!MiOption::ShowStats.is_enabled());
    // a default does not override a value that was set
    MiOption::MaxWarnings.set(5);
    MiOption::MaxWarnings.set_default(99);
    assert_eq!(MiOption::MaxWarnings.get(), 5);
    assert_eq!(
        MiOption::PurgeDelay.raw(),
        mimalloc_sys::mi_option_purge_delay
    );
}

#[test]
fn statistics_follow_known_allocations() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    mimalloc::collect(true);
    let before = mimalloc::stats();
    let huge: Vec<u8> = vec![1; 16 << 20];
    let small: Vec<Box<[u8; 48]>> = (0..100_000).map(|_| Box::new([2u8; 48])).collect();
    let during = mimalloc::stats();
    assert!(
        during.huge_bytes.current >= before.huge_bytes.current + (16 << 20),
        "huge block not counted"
    );
    assert!(
        during.pages.current > before.pages.current,
        "pages not counted"
    );
    assert!(during.reserved.current >= during.normal_bytes.current);
    // 48-byte blocks (64-byte ones in debug builds, which add padding) fill whole pages
    let pages_48: i64 = during
        .used_size_classes()
        .filter(|c| (48..=64).contains(&c.block_size))
        .map(|c| c.pages.current)
        .sum();
    assert!(
        pages_48 >= 100_000 * 48 / (64 * 1024),
        "only {pages_48} pages for 100,000 small boxes"
    );
    drop(huge);
    drop(small);
    mimalloc::collect(true);
    let after = mimalloc::stats();
    assert_eq!(after.huge_bytes.current, before.huge_bytes.current);
    if cfg!(any(feature = "debug", feature = "debug_full")) {
        // debug builds keep exact request statistics (the padding records each request)
        let asked = (16 << 20) + 100_000 * 48;
        assert!(
            during.requested_bytes.current >= before.requested_bytes.current + asked,
            "requests not counted"
        );
        assert!(
            after.requested_bytes.current <= before.requested_bytes.current + (64 << 10),
            "frees not subtracted"
        );
    }
    assert!(after.pages.current <= before.pages.current + 1);
    assert!(after.threads.current >= 1);
}

#[test]
fn process_info_is_plausible() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let v: Vec<u8> = vec![3; 32 << 20];
    let info = mimalloc::process_info();
    assert!(
        info.current_rss >= 32 << 20,
        "rss {} below a live 32 MiB",
        info.current_rss
    );
    assert!(info.peak_rss >= info.current_rss / 2);
    assert!(info.current_commit >= 32 << 20);
    assert!(info.peak_commit >= info.current_commit);
    // Wine leaves PageFaultCount at 0; Windows itself and every Unix count faults.
    if !under_wine() {
        assert!(info.page_faults > 0);
    }
    drop(v);
}

/// Whether this Windows build runs under Wine (its ntdll exports `wine_get_version`).
#[cfg(windows)]
fn under_wine() -> bool {
    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn GetModuleHandleA(name: *const u8) -> *mut core::ffi::c_void;
        fn GetProcAddress(
            module: *mut core::ffi::c_void,
            name: *const u8,
        ) -> *mut core::ffi::c_void;
    }
    // SAFETY: both names are NUL-terminated; a null module makes GetProcAddress fail, not fault.
    unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        !ntdll.is_null() && !GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_null()
    }
}

#[cfg(not(windows))]
fn under_wine() -> bool {
    false
}

static LINES: AtomicUsize = AtomicUsize::new(0);

fn count_lines(msg: &str) {
    LINES.fetch_add(msg.matches('\n').count(), Ordering::Relaxed);
}

#[test]
fn output_goes_to_the_registered_function() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    mimalloc::set_output(Some(count_lines));
    mimalloc::stats_print();
    mimalloc::set_output(None);
    assert!(
        LINES.load(Ordering::Relaxed) > 10,
        "the report did not reach the output function"
    );
    mimalloc::stats_reset();
    let st = mimalloc::stats();
    assert_eq!(st.mmap_calls, 0, "reset restarts counters");
}

/// `mi_options_print` lines, kept in a fixed buffer: the output function runs inside the
/// allocator, so it does not allocate.
static LISTING: Mutex<([u8; 8192], usize)> = Mutex::new(([0; 8192], 0));

fn keep_listing(msg: &str) {
    let mut l = LISTING.lock().unwrap_or_else(|e| e.into_inner());
    let (buf, len) = &mut *l;
    let n = msg.len().min(buf.len() - *len);
    buf[*len..*len + n].copy_from_slice(&msg.as_bytes()[..n]);
    *len += n;
}

#[test]
fn typed_options_name_the_c_table_entry_of_their_number() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    mimalloc::set_output(Some(keep_listing));
    // SAFETY: prints every option through the registered output, in mi_option_t order.
    unsafe { mimalloc_sys::mi_options_print() };
    mimalloc::set_output(None);
    let l = LISTING.lock().unwrap_or_else(|e| e.into_inner());
    let text = std::str::from_utf8(&l.0[..l.1]).expect("ASCII listing");
    // "mimalloc: option 'purge_delay': 10 (default)": the C table's names, by number
    let names: Vec<&str> = text
        .lines()
        .filter_map(|line| line.split('\'').nth(1))
        .collect();
    assert_eq!(
        names.len(),
        mimalloc_sys::_mi_option_last as usize,
        "one line per option: {text}"
    );
    let mut last = None;
    for opt in MiOption::ALL {
        let n = opt.raw() as usize;
        assert_eq!(
            opt.env_var(),
            format!("MIMALLOC_{}", names[n].to_ascii_uppercase()),
            "{opt:?} is option {n}"
        );
        assert!(last < Some(n), "MiOption::ALL is in numbering order");
        last = Some(n);
    }
}
