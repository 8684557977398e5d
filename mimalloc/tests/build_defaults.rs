//! Option defaults baked in at build time: a build with `MIMALLOC_DEFAULT_PURGE_DELAY=<n>` in
//! its environment (as `.cargo/config.toml` `[env]` would set it) starts with that default,
//! before any code of the program runs; `MIMALLOC_PURGE_DELAY` at run time still wins. CI runs
//! this once without and once with the build-time variable.

use mimalloc::MiOption;
use mimalloc_testkit::child::rerun;

fn expected_default() -> i64 {
    match option_env!("MIMALLOC_DEFAULT_PURGE_DELAY") {
        Some(v) => v
            .trim()
            .parse()
            .expect("an integer MIMALLOC_DEFAULT_PURGE_DELAY"),
        None => 10,
    }
}

#[test]
fn compiled_in_default_applies_and_environment_overrides_it() {
    if std::env::var_os("BUILD_DEFAULTS_CHILD").is_some() {
        // the child prints what it sees
        println!("purge_delay={}", MiOption::PurgeDelay.get());
        return;
    }
    let run = |env: Option<&str>| {
        let mut cmd = rerun("compiled_in_default_applies_and_environment_overrides_it");
        cmd.env("BUILD_DEFAULTS_CHILD", "1")
            .env_remove("MIMALLOC_PURGE_DELAY");
        if let Some(v) = env {
            cmd.env("MIMALLOC_PURGE_DELAY", v);
        }
        let out = cmd.output().expect("child");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            // (on one test thread libtest's "test … " precedes the line)
            .find_map(|l| l.split_once("purge_delay=").map(|(_, v)| v.to_owned()))
            .expect("child answered")
    };
    assert_eq!(
        run(None),
        expected_default().to_string(),
        "the build-time default did not apply"
    );
    assert_eq!(
        run(Some("7")),
        "7",
        "the environment must override the compiled-in default"
    );
}
