//! Option numbering is upstream v2's (raw integers name the same option), and the cargo
//! features actually reach the C build (a dead feature mapping would pass every other test).

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
        (mi_option_abandoned_page_purge, 12),
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
    ];
    for (option, number) in expected {
        assert_eq!(option, number);
    }
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
fn features_reach_the_c_build() {
    // SAFETY: mi_build_config fills the plain struct it is given.
    let config = unsafe {
        let mut c: mi_build_config_t = core::mem::zeroed();
        mi_build_config(&mut c);
        c
    };
    assert_eq!(config.secure, if cfg!(feature = "secure") { 4 } else { 0 });
    let debug = if cfg!(feature = "debug_full") {
        3
    } else if cfg!(feature = "debug")
        || (cfg!(feature = "debug_in_debug") && cfg!(debug_assertions))
    {
        2
    } else {
        0
    };
    assert_eq!(config.debug, debug);
    assert_eq!(config.override_, cfg!(feature = "override"));
    assert_eq!(
        config.local_dynamic_tls,
        cfg!(feature = "local_dynamic_tls")
    );
}
