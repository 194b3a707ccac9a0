//! Schemes chosen by name: the names each gives, and the errors of incomplete settings.

use std::fmt::Write;

use kiln_core::{ErrorKind, Platform, TagInput};

use super::*;

/// The seed benchmark in language version 3.8 on `arch`.
fn seed(arch: &str) -> TagInput {
    let mut input = TagInput::new("110.dynamic-html");
    input.version = Some("3.8".to_owned());
    input.platform = Some(Platform::parse(arch).unwrap());
    input
}

/// Settings from `key = value` pairs, as the configuration file would give them.
fn settings(pairs: &[(&str, &str)]) -> SchemeConfig {
    let mut text = String::new();
    for (key, value) in pairs {
        writeln!(text, "{key} = {value:?}").unwrap();
    }
    toml::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Complete settings for every scheme.
fn complete() -> Vec<SchemeConfig> {
    vec![
        settings(&[]),
        settings(&[("name", "panther")]),
        settings(&[
            ("name", "sebs-benchmark"),
            ("system", "aws"),
            ("sebs_version", "1.2.1"),
            ("language", "python"),
        ]),
        settings(&[
            ("name", "sebs-infrastructure"),
            ("kind", "build"),
            ("system", "aws"),
            ("sebs_version", "1.2.1"),
            ("language", "python"),
        ]),
        settings(&[
            ("name", "sebs-aws"),
            ("sebs_version", "1.2.1"),
            ("language", "python"),
            ("account", "123456789012"),
            ("region", "us-east-1"),
            ("resources_id", "a1b2c3d4"),
        ]),
        settings(&[
            ("name", "sebs-aws"),
            ("sebs_version", "1.2.1"),
            ("language", "python"),
            ("account", "123456789012"),
            ("region", "us-east-1"),
            ("resources_id", "a1b2c3d4"),
            ("tag_prefix", "dev"),
        ]),
        settings(&[
            ("name", "sebs-gcp"),
            ("sebs_version", "1.2.1"),
            ("language", "python"),
            ("region", "europe-west1"),
            ("project", "my-proj"),
            ("resources_id", "a1b2c3d4"),
        ]),
        settings(&[
            ("name", "sebs-registry"),
            ("sebs_version", "1.2.1"),
            ("language", "nodejs"),
            ("registry_host", "localhost:5000"),
            ("repository", "sebs"),
        ]),
        settings(&[
            ("name", "sebs-docker-hub"),
            ("system", "openwhisk"),
            ("sebs_version", "1.2.1"),
            ("language", "python"),
        ]),
    ]
}

#[test]
fn every_scheme_names_the_seed_benchmark() {
    let mut out = String::new();
    for config in complete() {
        let scheme = config.scheme().unwrap();
        let name = scheme.image_ref(&seed("x86_64")).unwrap();
        writeln!(out, "{:<20} {}", scheme.name(), name.familiar()).unwrap();
    }
    insta::assert_snapshot!(out);
}

#[test]
fn sebs_aws_names_images_as_sebs_does() {
    let scheme = complete()[4].scheme().unwrap();
    assert_eq!(scheme.name(), "sebs-aws");
    assert_eq!(
        scheme.image_ref(&seed("arm64")).unwrap().to_string(),
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/sebs-benchmarks-a1b2c3d4:\
         function.aws.110.dynamic-html.python-3.8-arm64-1.2.1"
    );
}

#[test]
fn the_default_is_panther() {
    let scheme = SchemeConfig::default().scheme().unwrap();
    assert_eq!(scheme.name(), "panther");
    assert_eq!(SchemeConfig::default().scheme_name(), "panther");
}

#[test]
fn each_missing_setting_is_named_with_the_scheme() {
    for config in complete() {
        let name = config.scheme_name().to_owned();
        let (required, _) = fields(&name).unwrap();
        for field in required {
            for missing in [None, Some(String::new())] {
                let mut incomplete = config.clone();
                *field.slot(&mut incomplete) = missing;
                let error = incomplete.scheme().unwrap_err();
                assert_eq!(error.kind(), ErrorKind::InvalidInput);
                let text = error.to_string();
                let flag = format!("--{}", field.key().replace('_', "-"));
                assert!(
                    text.contains(&format!("\"{name}\""))
                        && text.contains(&format!("a value for {} ", field.key()))
                        && text.contains(&flag),
                    "{text}"
                );
            }
        }
    }
}

#[test]
fn settings_errors_read_well() {
    let mut missing = complete()[4].clone();
    missing.account = None;
    let mut unused = complete()[6].clone();
    unused.account = Some("1".into());
    let panther = SchemeConfig {
        language: Some("python".into()),
        ..SchemeConfig::default()
    };
    let mut out = String::new();
    for config in [missing, unused, panther, SchemeConfig::named("sebs-azure")] {
        writeln!(out, "{}", config.scheme().unwrap_err()).unwrap();
    }
    insta::assert_snapshot!(out);
}

#[test]
fn unknown_keys_are_refused() {
    let error = toml::from_str::<SchemeConfig>("acount = \"1\"\n").unwrap_err();
    assert!(error.message().contains("acount"), "{error}");
}

#[test]
fn overlay_replaces_only_what_is_given() {
    let mut base = complete()[4].clone();
    let over = SchemeConfig {
        region: Some("eu-west-1".into()),
        ..SchemeConfig::default()
    };
    base.overlay(&over);
    assert_eq!(base.region.as_deref(), Some("eu-west-1"));
    assert_eq!(base.account.as_deref(), Some("123456789012"));
    assert_eq!(base.scheme_name(), "sebs-aws");
    base.overlay(&SchemeConfig::named("panther"));
    assert_eq!(base.scheme_name(), "panther");
}
