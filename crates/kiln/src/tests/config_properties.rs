//! Property tests of the configuration: no file text and no `KILN_*` value makes it panic;
//! what it refuses is an invalid-input error, and a syntax error names a place in the file.
//!
//! Each property runs a bounded number of cases (`CASES`); `PROPTEST_CASES=100000` runs more.

use std::collections::BTreeMap;
use std::fs;

use kiln_core::env::{Env, ProcessEnv};
use kiln_core::{ErrorKind, ImageRef, MapEnv};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use crate::Config;

/// Cases per property when `PROPTEST_CASES` is not set (each writes a file).
const CASES: u32 = 128;

/// The configuration of every property here: `CASES` cases unless `PROPTEST_CASES` says more,
/// and failures kept in `proptest-regressions/` (run again first next time).
fn config() -> ProptestConfig {
    let default = ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/config_properties.txt",
        ))),
        ..ProptestConfig::default()
    };
    if ProcessEnv.var("PROPTEST_CASES").is_some() {
        default
    } else {
        ProptestConfig {
            cases: CASES,
            ..default
        }
    }
}

/// A size as a user might write one, well or badly.
fn size() -> impl Strategy<Value = String> {
    (
        "[0-9]{1,24}(\\.[0-9]{1,3})?|off| ?|-1",
        "( |  )?",
        "(B|KiB|MiB|GiB|TiB|KB|kB|MB|GB|TB|k|gb|EiB)?",
    )
        .prop_map(|(number, space, unit)| format!("{number}{space}{unit}"))
}

/// A TOML value of any kind, mostly quoted strings of the kinds kiln's settings take.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        size().prop_map(|size| format!("{size:?}")),
        "[a-z0-9.:/@_-]{0,24}".prop_map(|text| format!("{text:?}")),
        "(linux|windows|Linux)/(amd64|arm64|arm|s390x)(/v[0-9])?".prop_map(|p| format!("{p:?}")),
        Just("true".to_owned()),
        Just("false".to_owned()),
        "-?[0-9]{1,22}",
        Just("1.5".to_owned()),
        Just("[]".to_owned()),
        Just("[\"a\", 1]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        Just("\"unterminated".to_owned()),
        Just("'literal'".to_owned()),
        Just("\"\\u00e9\\t\"".to_owned()),
        Just(String::new()),
    ]
}

/// A line of a configuration file: kiln's keys and tables, others, and broken syntax.
fn line() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "force_build",
        "no_cache",
        "use_buildx",
        "target_platform",
        "cache_dir",
        "cache_ttl_secs",
        "cache_max_size",
        "registry",
        "cache_repo",
        "name",
        "language",
        "region",
        "HTTP_PROXY",
        "\"9LIVES\"",
        "\"with space\"",
        "\"a=b\"",
        "\"\"",
        "unknown_key",
        "scheme.name",
    ]);
    prop_oneof![
        8 => (key, value()).prop_map(|(key, value)| format!("{key} = {value}")),
        1 => prop::sample::select(vec!["[build_args]", "[scheme]", "[other]", "[[x]]", "[", "#"])
            .prop_map(str::to_owned),
        1 => "[^\\n]{0,20}",
    ]
}

fn config_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec(line(), 0..10).prop_map(|lines| lines.join("\n")),
        1 => any::<String>(),
    ]
}

/// The line of a `file:line:column` place in `message`, if it has one.
fn place_line(message: &str, file: &str) -> Option<usize> {
    let after = &message[message.find(&format!("{file}:"))? + file.len() + 1..];
    after.split(':').next().and_then(|line| line.parse().ok())
}

/// The settings of a valid configuration file, and the file's text.
#[derive(Debug, Clone)]
struct Settings {
    force_build: bool,
    cache_ttl_secs: u64,
    cache_max_size: String,
    target_platform: &'static str,
    cache_repo: String,
    build_args: BTreeMap<String, String>,
}

impl Settings {
    fn text(&self) -> String {
        let mut text = format!(
            "force_build = {}\ncache_ttl_secs = {}\ncache_max_size = {:?}\n\
             target_platform = {:?}\ncache_repo = {:?}\n[build_args]\n",
            self.force_build,
            self.cache_ttl_secs,
            self.cache_max_size,
            self.target_platform,
            self.cache_repo
        );
        for (name, value) in &self.build_args {
            // Printable ASCII: Rust's escapes are TOML's.
            text.push_str(&format!("{name} = {value:?}\n"));
        }
        text
    }
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        any::<bool>(),
        0..=i64::MAX.unsigned_abs(),
        "[0-9]{1,6} ?(KiB|MiB|GiB|KB|MB)?|off",
        prop::sample::select(vec!["linux/amd64", "linux/arm64", "linux/arm/v7"]),
        "[a-z0-9]{1,8}(\\.[a-z]{2,4}(:[0-9]{2,5})?)?/[a-z]{1,8}",
        prop::collection::btree_map("[A-Z_][A-Z0-9_]{0,8}", "[ -~]{0,12}", 0..4),
    )
        .prop_map(
            |(
                force_build,
                cache_ttl_secs,
                cache_max_size,
                target_platform,
                cache_repo,
                build_args,
            )| {
                Settings {
                    force_build,
                    cache_ttl_secs,
                    cache_max_size,
                    target_platform,
                    cache_repo,
                    build_args,
                }
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_valid_config_file_loads_with_its_values(settings in settings()) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("config.toml");
        let text = settings.text();
        fs::write(&path, &text).expect("the file is written");
        let config = Config::from_file(&path)
            .map_err(|error| TestCaseError::fail(format!("{text}\nrefused: {error}")))?;
        prop_assert_eq!(config.force_build, settings.force_build);
        prop_assert_eq!(config.cache_ttl_secs, settings.cache_ttl_secs);
        prop_assert_eq!(config.cache_max_size.as_deref(), Some(settings.cache_max_size.as_str()));
        let platform = config.target_platform.as_ref().map(ToString::to_string);
        prop_assert_eq!(platform.as_deref(), Some(settings.target_platform));
        let repo = config.cache_repo().expect("checked when loaded").expect("set");
        prop_assert_eq!(repo, ImageRef::parse(&settings.cache_repo).expect("a valid name"));
        prop_assert_eq!(&config.build_args, &settings.build_args);
        prop_assert_eq!(
            config.cache_max_bytes().expect("checked when loaded").is_none(),
            settings.cache_max_size == "off"
        );
    }

    #[test]
    fn any_config_file_loads_or_is_refused_as_invalid_input(text in config_text()) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("config.toml");
        fs::write(&path, &text).expect("the file is written");
        match Config::from_file(&path) {
            Ok(config) => {
                prop_assert!(config.cache_max_bytes().is_ok());
                prop_assert!(config.cache_repo().is_ok());
            }
            Err(error) => {
                prop_assert_eq!(error.kind(), ErrorKind::InvalidInput, "{}", error);
                let message = error.to_string();
                if let Some(line) = place_line(&message, &path.display().to_string()) {
                    prop_assert!(
                        (1..=text.split('\n').count()).contains(&line),
                        "{} names line {} of {:?}", message, line, text
                    );
                }
            }
        }
        let env = MapEnv::new().with("KILN_CONFIG", path.display().to_string());
        if let Err(error) = Config::load(&env) {
            prop_assert_eq!(error.kind(), ErrorKind::InvalidInput, "{}", error);
        }
    }

    #[test]
    fn any_kiln_variables_load_or_are_refused_as_invalid_input(
        values in prop::collection::vec(
            prop_oneof![size(), "[ -~]{0,12}", Just("linux/arm64".to_owned())],
            7,
        ),
    ) {
        let names = [
            "KILN_FORCE_BUILD",
            "KILN_USE_BUILDX",
            "KILN_NO_CACHE",
            "KILN_TARGET_PLATFORM",
            "KILN_CACHE_MAX_SIZE",
            "KILN_CACHE_REPO",
            "KILN_CACHE_TTL",
        ];
        let env = names
            .iter()
            .zip(&values)
            .fold(MapEnv::new(), |env, (name, value)| env.with(*name, value.clone()));
        match Config::load(&env) {
            Ok(config) => {
                prop_assert!(config.cache_max_bytes().is_ok());
                prop_assert!(config.cache_repo().is_ok());
            }
            Err(error) => prop_assert_eq!(error.kind(), ErrorKind::InvalidInput, "{}", error),
        }
    }
}
