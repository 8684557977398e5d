//! Option numbering is upstream v2's (raw integers name the same option), the hand-written
//! constants agree with the C side, and the cargo features actually reach the C build (a dead
//! feature mapping would pass every other test). Struct sizes and field offsets are checked at
//! compile time by the layout assertions bindgen puts in `src/bindings.rs`.

use core::ffi::c_void;
use mimalloc_sys::*;

#[test]
fn option_numbers_match_upstream_v2() {
    let expected = [
        (mi_option_show_errors, 0),
        (mi_option_show_stats, 1),
        (mi_option_verbose, 2),
        (mi_option_eager_commit, 3),
        (mi_option_arena_eager_commit, 4),
        (mi_option_purge_decommits, 5),
        (mi_option_allow_large_os_pages, 6),
        (mi_option_reserve_huge_os_pages, 7),
        (mi_option_reserve_huge_os_pages_at, 8),
        (mi_option_reserve_os_memory, 9),
        (mi_option_deprecated_segment_cache, 10),
        (mi_option_deprecated_page_reset, 11),
        (mi_option_abandoned_page_purge, 12),
        (mi_option_deprecated_segment_reset, 13),
        (mi_option_eager_commit_delay, 14),
        (mi_option_purge_delay, 15),
        (mi_option_use_numa_nodes, 16),
        (mi_option_disallow_os_alloc, 17),
        (mi_option_os_tag, 18),
        (mi_option_max_errors, 19),
        (mi_option_max_warnings, 20),
        (mi_option_max_segment_reclaim, 21),
        (mi_option_destroy_on_exit, 22),
        (mi_option_arena_reserve, 23),
        (mi_option_arena_purge_mult, 24),
        (mi_option_purge_extend_delay, 25),
        (mi_option_abandoned_reclaim_on_free, 26),
        (mi_option_disallow_arena_alloc, 27),
        (mi_option_retry_on_oom, 28),
        (mi_option_visit_abandoned, 29),
        (mi_option_guarded_min, 30),
        (mi_option_guarded_max, 31),
        (mi_option_guarded_precise, 32),
        (mi_option_guarded_sample_rate, 33),
        (mi_option_guarded_sample_seed, 34),
        (mi_option_target_segments_per_thread, 35),
        (mi_option_generic_collect, 36),
        (mi_option_allow_thp, 37),
    ];
    for (option, number) in expected {
        assert_eq!(option, number);
    }
    // upstream v2.4's count: a table indexed by option number has the same length there
    assert_eq!(_mi_option_last, 38);
    assert_eq!(_mi_option_last as usize, expected.len());
}

#[test]
fn legacy_option_names_alias_their_targets() {
    assert_eq!(mi_option_large_os_pages, mi_option_allow_large_os_pages);
    assert_eq!(mi_option_eager_region_commit, mi_option_arena_eager_commit);
    assert_eq!(mi_option_reset_decommits, mi_option_purge_decommits);
    assert_eq!(mi_option_reset_delay, mi_option_purge_delay);
    assert_eq!(
        mi_option_abandoned_page_reset,
        mi_option_abandoned_page_purge
    );
    assert_eq!(mi_option_limit_os_alloc, mi_option_disallow_os_alloc);
}

#[test]
fn hand_written_constants_agree_with_the_c_side() {
    // MI_SMALL_SIZE_MAX is `MI_SMALL_WSIZE_MAX * sizeof(void*)` in C; bindgen cannot evaluate it.
    assert_eq!(
        MI_SMALL_SIZE_MAX,
        MI_SMALL_WSIZE_MAX as usize * core::mem::size_of::<*mut c_void>()
    );
    // MI_MAX_ALIGN_SIZE is what the plain API guarantees; the Rust GlobalAlloc relies on it.
    const _: () = assert!(MI_MAX_ALIGN_SIZE.is_power_of_two());
    // SAFETY: every block is checked while live and freed once.
    unsafe {
        for size in (1..=4 * MI_SMALL_SIZE_MAX).chain([64 << 10, 1 << 20, 8 << 20]) {
            let p = mi_malloc(size);
            assert!(!p.is_null());
            let promised = if size >= MI_MAX_ALIGN_SIZE {
                MI_MAX_ALIGN_SIZE
            } else {
                1 << size.ilog2()
            };
            assert_eq!(p as usize % promised, 0, "mi_malloc({size}) = {p:p}");
            mi_free(p);
        }
        // the small-size entry point serves every size up to MI_SMALL_SIZE_MAX
        let p = mi_malloc_small(MI_SMALL_SIZE_MAX);
        assert!(mi_usable_size(p) >= MI_SMALL_SIZE_MAX);
        mi_free(p);
    }
    // SAFETY: mi_version has no preconditions.
    assert_eq!(unsafe { mi_version() }, MI_MALLOC_VERSION as i32);
}

#[test]
fn stats_struct_is_versioned() {
    assert_eq!(
        core::mem::size_of::<mi_stats_t>() % core::mem::align_of::<mi_stats_t>(),
        0
    );
    // SAFETY: mi_stats_t is plain integers (all zeroes is valid); mi_stats_get writes at most
    // the size it is given.
    let stats = unsafe {
        let mut s: mi_stats_t = core::mem::zeroed();
        mi_stats_get(core::mem::size_of::<mi_stats_t>(), &mut s);
        s
    };
    assert_eq!(stats.size, core::mem::size_of::<mi_stats_t>());
    assert_eq!(stats.version, MI_STAT_VERSION as usize);
    assert_eq!(stats.normal_bins.len(), MI_STAT_BINS as usize);
}

/// The C build's configuration, as `mi_build_config` reports it.
fn build_config() -> mi_build_config_t {
    // SAFETY: mi_build_config fills the plain struct it is given (all zeroes is valid for it).
    unsafe {
        let mut c: mi_build_config_t = core::mem::zeroed();
        mi_build_config(&mut c);
        c
    }
}

#[test]
fn features_reach_the_c_build() {
    let config = build_config();
    let secure = if cfg!(feature = "secure") { 4 } else { 0 };
    assert_eq!(config.secure, secure, "MI_SECURE");
    let debug = if cfg!(feature = "debug_full") {
        3
    } else if cfg!(feature = "debug")
        || (cfg!(feature = "debug_in_debug") && cfg!(debug_assertions))
    {
        2
    } else {
        0
    };
    assert_eq!(config.debug, debug, "MI_DEBUG");
    assert_eq!(config.override_, cfg!(feature = "override"), "override");
    assert_eq!(
        config.local_dynamic_tls,
        cfg!(feature = "local_dynamic_tls"),
        "local_dynamic_tls"
    );
    assert_eq!(config.valgrind, cfg!(feature = "valgrind"), "valgrind");
    // The mitigations that follow from the levels (their meaning lives in types.h).
    assert_eq!(
        config.padding,
        debug >= 2 || config.valgrind || cfg!(feature = "secure_canary"),
        "padding canaries come with debug and secure_canary, and with valgrind (which needs the requested sizes)"
    );
    assert_eq!(
        config.encoded_freelist,
        secure >= 2 || debug >= 1,
        "encoded free lists come with secure and debug"
    );
}

/// `mi_option_t` is `c_int` in Rust, as crates.io `libmimalloc-sys` declares it (C sees its
/// enum, the same 32-bit integer in every ABI), so `i32` values pass without casts.
#[test]
fn option_type_is_c_int() {
    let as_int: core::ffi::c_int = mi_option_verbose;
    let option: mi_option_t = 2i32;
    assert_eq!(as_int, option);
    assert_eq!(
        core::mem::size_of::<mi_option_t>(),
        core::mem::size_of::<core::ffi::c_int>()
    );
}
