//! Unit tests and snapshots of the SeBS naming schemes.

use super::*;
use std::fmt::Write;
use std::sync::Arc;

use kiln_core::ErrorKind;

const REPOSITORY: &str = "spcleth/serverless-benchmarks";
const BENCHMARK: &str = "110.dynamic-html";

fn platform(spelling: &str) -> Platform {
    Platform::parse(spelling).unwrap_or_else(|e| panic!("{spelling}: {e}"))
}

/// A reference as Docker shows it, after checking that it parses back, or the error.
fn show(result: Result<ImageRef, Error>) -> String {
    match result {
        Ok(reference) => {
            assert_eq!(
                ImageRef::parse(&reference.to_string()),
                Ok(reference.clone())
            );
            reference.familiar()
        }
        Err(error) => format!("ERROR {error}"),
    }
}

fn table(rows: Vec<(&str, Result<ImageRef, Error>)>) -> String {
    let mut out = String::new();
    for (label, result) in rows {
        writeln!(out, "{label:<34} {}", show(result)).unwrap();
    }
    out
}

fn aws() -> SebsNaming {
    let registry = SebsRegistry::aws("123456789012", "us-east-1", "a1b2c3d4");
    SebsNaming::new("aws", "1.2.1", registry)
}

fn gcp() -> SebsNaming {
    let registry = SebsRegistry::gcp("europe-west1", "my-proj", "a1b2c3d4");
    SebsNaming::new("gcp", "1.2.1", registry)
}

fn openwhisk() -> SebsNaming {
    let registry = SebsRegistry::plain("localhost:5000", "sebs");
    SebsNaming::new("openwhisk", "1.2.1", registry)
}

fn docker_hub() -> SebsNaming {
    SebsNaming::new("openwhisk", "1.2.1", SebsRegistry::docker_hub(REPOSITORY))
}

/// The four naming set-ups the tests compare, labelled.
fn every_registry() -> [(&'static str, SebsNaming); 4] {
    [
        ("aws", aws()),
        ("gcp", gcp()),
        ("openwhisk", openwhisk()),
        ("docker hub", docker_hub()),
    ]
}

/// The input of benchmark `name` in language version `version` on `arch`.
fn input(name: &str, version: Option<&str>, arch: Option<&str>) -> TagInput {
    let mut input = TagInput::new(name);
    input.version = version.map(str::to_owned);
    input.platform = arch.map(platform);
    input
}

/// The seed benchmark, (Python) 3.8, on `arch`.
fn seed(arch: &str) -> TagInput {
    input(BENCHMARK, Some("3.8"), Some(arch))
}

#[test]
fn infrastructure_images() {
    let build = InfrastructureScheme::new(REPOSITORY, "build", "aws", "1.2.1");
    let kind = |kind: &str, system: &str| InfrastructureScheme {
        kind: kind.to_owned(),
        system: system.to_owned(),
        ..build.clone()
    };
    let stored_in = |repository: &str| InfrastructureScheme {
        docker_repository: repository.to_owned(),
        ..build.clone()
    };
    let no_version = InfrastructureScheme {
        sebs_version: String::new(),
        ..build.clone()
    };
    let rows = vec![
        (
            "build aws python 3.11",
            build.image_name(Some("python"), Some("3.11")),
        ),
        (
            "run gcp nodejs 16",
            kind("run", "gcp").image_name(Some("nodejs"), Some("16")),
        ),
        (
            "manage, no language",
            kind("manage", "aws").image_name(None, None),
        ),
        (
            "language without version",
            build.image_name(Some("python"), None),
        ),
        (
            "version without language",
            build.image_name(None, Some("3.11")),
        ),
        (
            "empty parts are absent",
            build.image_name(Some(""), Some("")),
        ),
        (
            "uppercase tag parts kept",
            kind("Build", "AWS").image_name(Some("Python"), None),
        ),
        (
            "uppercase repository",
            stored_in("SPCLeth/SeBS").image_name(None, None),
        ),
        (
            "repository in a registry",
            stored_in("localhost:5000/sebs").image_name(None, None),
        ),
        ("ERR empty kind", kind("", "aws").image_name(None, None)),
        (
            "ERR kind with a space",
            kind("build image", "aws").image_name(None, None),
        ),
        (
            "ERR kind starting with '.'",
            kind(".build", "aws").image_name(None, None),
        ),
        (
            "ERR language with '/'",
            build.image_name(Some("py/thon"), None),
        ),
        (
            "ERR version with ':'",
            build.image_name(Some("python"), Some("3:11")),
        ),
        ("ERR empty SeBS version", no_version.image_name(None, None)),
        (
            "ERR repository with a tag",
            stored_in("sebs:latest").image_name(None, None),
        ),
        (
            "ERR repository with a space",
            stored_in("my sebs").image_name(None, None),
        ),
        ("ERR empty repository", stored_in("").image_name(None, None)),
    ];
    insta::assert_snapshot!(table(rows));
}

#[test]
fn infrastructure_scheme_reads_tag_input() {
    let scheme =
        InfrastructureScheme::new(REPOSITORY, "build", "aws", "1.2.1").with_language("python");
    let input = input("ignored", Some("3.11"), Some("arm64"));
    let reference = scheme.image_ref(&input).unwrap();
    assert_eq!(
        reference.familiar(),
        "spcleth/serverless-benchmarks:build.aws.python.3.11-1.2.1"
    );
    assert_eq!(scheme.name(), "sebs-infrastructure");
}

#[test]
fn benchmark_images() {
    let no_language = BenchmarkScheme::new(REPOSITORY, "aws", "1.2.1");
    let aws = no_language.clone().with_language("python");
    let dev = aws.clone().with_prefix("dev");
    let gcp = BenchmarkScheme::new(REPOSITORY, "gcp", "1.2.1").with_language("nodejs");
    let python = |name: &str| input(name, Some("3.8"), Some("x64"));
    let long = "b".repeat(100);
    let rows = vec![
        ("x64", aws.image_ref(&seed("x64"))),
        ("x64 with prefix", dev.image_ref(&seed("x64"))),
        ("arm64", aws.image_ref(&seed("arm64"))),
        ("arm64 with prefix", dev.image_ref(&seed("arm64"))),
        (
            "empty prefix is absent",
            aws.clone().with_prefix("").image_ref(&seed("x64")),
        ),
        ("arm/v7", aws.image_ref(&seed("linux/arm/v7"))),
        ("s390x", aws.image_ref(&seed("s390x"))),
        ("amd64/v3", aws.image_ref(&seed("linux/amd64/v3"))),
        ("windows/amd64", aws.image_ref(&seed("windows/amd64"))),
        (
            "nodejs 16 on gcp",
            gcp.image_ref(&input("311.compression", Some("16"), Some("arm64"))),
        ),
        (
            "uppercase kept in the tag",
            aws.image_ref(&python("110.Dynamic-HTML")),
        ),
        ("ERR missing language", no_language.image_ref(&seed("x64"))),
        (
            "ERR empty language",
            no_language.with_language("").image_ref(&seed("x64")),
        ),
        (
            "ERR missing version",
            aws.image_ref(&input(BENCHMARK, None, Some("x64"))),
        ),
        (
            "ERR missing platform",
            aws.image_ref(&input(BENCHMARK, Some("3.8"), None)),
        ),
        ("ERR empty benchmark", aws.image_ref(&python(""))),
        (
            "ERR benchmark with a space",
            aws.image_ref(&python("110 dynamic html")),
        ),
        (
            "ERR benchmark with '/'",
            aws.image_ref(&python("110/dynamic-html")),
        ),
        (
            "ERR benchmark not ASCII",
            aws.image_ref(&python("110.dynamïc")),
        ),
        (
            "ERR prefix with '@'",
            aws.clone().with_prefix("a@b").image_ref(&seed("x64")),
        ),
        ("ERR tag over 128 characters", aws.image_ref(&python(&long))),
    ];
    insta::assert_snapshot!(table(rows));
}

fn show_registry(result: Result<RegistryName, Error>) -> String {
    match result {
        Ok(name) => {
            assert_eq!(name.uri.tag(), Some(name.tag.as_str()), "{name:?}");
            let RegistryName {
                registry,
                repository,
                tag,
                uri,
            } = name;
            let uri = uri.familiar();
            let mut out = String::new();
            for (part, value) in [
                ("registry", registry.as_str()),
                ("repository", &repository),
                ("tag", &tag),
                ("uri", &uri),
            ] {
                write!(out, "\n  {part:<10} {value}").unwrap();
            }
            out
        }
        Err(error) => format!("\n  ERROR {error}"),
    }
}

#[test]
fn registry_names() {
    let x64 = Platform::linux_amd64();
    let arm = Platform::linux_arm64();
    // The seed benchmark on x64 with `registry` in place of the usual one.
    let seed_in = |naming: SebsNaming, registry: SebsRegistry| {
        SebsNaming { registry, ..naming }.registry_name(BENCHMARK, "python", "3.8", &x64)
    };
    let named = |naming: SebsNaming, benchmark: &str, language: &str, version: &str| {
        naming.registry_name(benchmark, language, version, &x64)
    };
    let long_id = "r".repeat(230);
    let rows = vec![
        ("aws x64", named(aws(), BENCHMARK, "python", "3.8")),
        (
            "aws arm64 with prefix",
            aws()
                .with_prefix("dev")
                .registry_name(BENCHMARK, "python", "3.8", &arm),
        ),
        ("gcp x64", named(gcp(), BENCHMARK, "python", "3.8")),
        (
            "gcp uppercase benchmark",
            named(gcp(), "110.Dynamic-HTML", "python", "3.8"),
        ),
        (
            "openwhisk arm64",
            openwhisk().registry_name(BENCHMARK, "nodejs", "16", &arm),
        ),
        (
            "plain, uppercase",
            seed_in(
                openwhisk(),
                SebsRegistry::plain("Reg.Example.com", "Team/SeBS"),
            ),
        ),
        (
            "docker hub",
            named(docker_hub(), BENCHMARK, "python", "3.8"),
        ),
        (
            "docker hub, one component",
            seed_in(docker_hub(), SebsRegistry::docker_hub("sebs")),
        ),
        (
            "ERR aws account with '.'",
            seed_in(aws(), SebsRegistry::aws("1234.5678", "us-east-1", "a1")),
        ),
        (
            "ERR aws region with '/'",
            seed_in(aws(), SebsRegistry::aws("1", "us-east-1/x", "a1")),
        ),
        (
            "ERR aws region ending in '-'",
            seed_in(aws(), SebsRegistry::aws("1", "us-east-", "a1")),
        ),
        (
            "ERR aws empty resources id",
            seed_in(aws(), SebsRegistry::aws("1", "us-east-1", "")),
        ),
        (
            "ERR aws resources id '.x'",
            seed_in(aws(), SebsRegistry::aws("1", "us-east-1", ".x")),
        ),
        (
            "ERR gcp project with ':'",
            seed_in(gcp(), SebsRegistry::gcp("eu", "example.com:p", "a1")),
        ),
        (
            "ERR gcp benchmark with '..'",
            named(gcp(), "110..html", "python", "3.8"),
        ),
        (
            "ERR gcp name over 255 characters",
            seed_in(gcp(), SebsRegistry::gcp("eu", "p", &long_id)),
        ),
        (
            "ERR plain registry read as a namespace",
            seed_in(openwhisk(), SebsRegistry::plain("myhost", "sebs")),
        ),
        (
            "ERR plain registry with a path",
            seed_in(openwhisk(), SebsRegistry::plain("localhost:5000/a", "sebs")),
        ),
        (
            "ERR plain repository with '@'",
            seed_in(openwhisk(), SebsRegistry::plain("localhost:5000", "sebs@x")),
        ),
        (
            "ERR plain port not a number",
            seed_in(openwhisk(), SebsRegistry::plain("localhost:50a", "sebs")),
        ),
        (
            "ERR docker hub repository elsewhere",
            seed_in(docker_hub(), SebsRegistry::docker_hub("ghcr.io/spcl/sebs")),
        ),
        (
            "ERR language with a space",
            named(aws(), BENCHMARK, "py thon", "3.8"),
        ),
        ("ERR empty version", named(aws(), BENCHMARK, "python", "")),
        (
            "ERR system with '+'",
            named(
                SebsNaming {
                    system: "aws+gcp".into(),
                    ..aws()
                },
                BENCHMARK,
                "python",
                "3.8",
            ),
        ),
        (
            "ERR aws tag over 128 characters",
            named(aws(), &"b".repeat(100), "python", "3.8"),
        ),
    ];
    let mut out = String::new();
    for (label, result) in rows {
        writeln!(out, "{label}{}", show_registry(result)).unwrap();
    }
    insta::assert_snapshot!(out);
}

#[test]
fn platform_spellings_give_the_same_names() {
    let local = BenchmarkScheme::new(REPOSITORY, "aws", "1.2.1");
    let mut out = String::new();
    for spellings in [
        &["x86_64", "amd64", "x64", "linux/amd64", "X86_64"][..],
        &["aarch64", "arm64", "linux/arm64", "linux/arm64/v8"][..],
    ] {
        let platforms: Vec<Platform> = spellings.iter().map(|s| platform(s)).collect();
        for (label, naming) in every_registry() {
            let names: Vec<RegistryName> = platforms
                .iter()
                .map(|p| naming.registry_name(BENCHMARK, "python", "3.8", p).unwrap())
                .collect();
            assert!(names.iter().all(|name| name == &names[0]), "{names:#?}");
            let uri = names[0].uri.familiar();
            writeln!(out, "{:<8} {label:<10} {uri}", spellings[0]).unwrap();
        }
        let names: Vec<String> = platforms
            .iter()
            .map(|p| show(local.image_name(BENCHMARK, "python", "3.8", p)))
            .collect();
        assert!(names.iter().all(|name| name == &names[0]), "{names:#?}");
        writeln!(out, "{:<8} {:<10} {}", spellings[0], "local", names[0]).unwrap();
    }
    insta::assert_snapshot!(out);
}

fn check_arch(spelling: &str, expected: &str) {
    assert_eq!(sebs_arch(&platform(spelling)), expected, "{spelling}");
}

#[test]
fn sebs_architecture_names() {
    for spelling in ["x64", "x86_64", "amd64", "linux/amd64", "amd64/v1"] {
        check_arch(spelling, "x64");
    }
    for spelling in ["arm64", "aarch64", "linux/arm64", "arm64/v8"] {
        check_arch(spelling, "arm64");
    }
    check_arch("linux/arm/v7", "armv7");
    check_arch("armel", "armv6");
    check_arch("linux/s390x", "s390x");
    check_arch("ppc64le", "ppc64le");
    check_arch("i386", "386");
    check_arch("linux/amd64/v3", "x64v3");
    check_arch("windows/amd64", "windows-x64");
}

#[test]
fn sebs_architecture_names_read_back() {
    for spelling in [
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
        "linux/arm/v6",
        "s390x",
    ] {
        let platform = platform(spelling);
        let name = sebs_arch(&platform);
        assert_eq!(parse_sebs_arch(&name).unwrap(), platform, "{name}");
    }
    assert_eq!(parse_sebs_arch("x64").unwrap(), Platform::linux_amd64());
    let error = parse_sebs_arch("x128").unwrap_err().to_string();
    assert!(error.contains("\"x128\""), "{error}");
}

#[test]
fn benchmark_tag_is_the_sebs_format_on_every_registry() {
    let x64 = Platform::linux_amd64();
    let arm = Platform::linux_arm64();
    assert_eq!(
        aws().benchmark_tag(BENCHMARK, "python", "3.8", &x64),
        "function.aws.110.dynamic-html.python-3.8-x64-1.2.1"
    );
    assert_eq!(
        gcp()
            .with_prefix("dev")
            .benchmark_tag(BENCHMARK, "python", "3.8", &arm),
        "function.gcp.110.dynamic-html.python-3.8-arm64-dev-1.2.1"
    );
    for (_, naming) in every_registry() {
        let name = naming
            .registry_name(BENCHMARK, "python", "3.8", &x64)
            .unwrap();
        assert_eq!(
            name.tag,
            naming.benchmark_tag(BENCHMARK, "python", "3.8", &x64)
        );
    }
    // Docker Hub holds the very image SeBS builds locally.
    let local = BenchmarkScheme::new(REPOSITORY, "openwhisk", "1.2.1");
    let local = local.image_name(BENCHMARK, "python", "3.8", &x64).unwrap();
    let hub = docker_hub()
        .registry_name(BENCHMARK, "python", "3.8", &x64)
        .unwrap();
    assert_eq!(local, hub.uri);
}

#[test]
fn tag_scheme_names_the_registry_uri() {
    let names = ["sebs-aws", "sebs-gcp", "sebs-registry", "sebs-docker-hub"];
    for ((label, naming), name) in every_registry().into_iter().zip(names) {
        let scheme: Arc<dyn TagScheme> = Arc::new(naming.clone().with_language("python"));
        let by_scheme = scheme.image_ref(&seed("aarch64")).unwrap();
        let arm = Platform::linux_arm64();
        let by_name = naming
            .registry_name(BENCHMARK, "python", "3.8", &arm)
            .unwrap();
        assert_eq!(by_scheme, by_name.uri, "{label}");
        assert_eq!(scheme.name(), name);
    }
    let no_platform = input(BENCHMARK, Some("3.8"), None);
    let python = aws().with_language("python");
    let error = python.image_ref(&no_platform).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    let text = error.to_string();
    assert!(
        text.contains("an architecture") && text.contains("sebs-aws"),
        "{text}"
    );
}

#[test]
fn registry_name_serializes() {
    let x64 = Platform::linux_amd64();
    let name = gcp()
        .registry_name(BENCHMARK, "python", "3.8", &x64)
        .unwrap();
    insta::assert_snapshot!(serde_json::to_string_pretty(&name).unwrap());
}

#[test]
fn odd_inputs_give_valid_names_or_errors() {
    let mut odd: Vec<String> = [
        "",
        "a",
        "A",
        ".",
        "-",
        "_",
        "..",
        "a..b",
        "a__b",
        "a___b",
        "a--b",
        "-a",
        "a-",
        "é",
        "a b",
        "a/b",
        "a:b",
        "a@b",
        "localhost",
        "x:1",
        "UPPER",
    ]
    .map(str::to_owned)
    .to_vec();
    odd.extend([
        "x".repeat(64),
        "x".repeat(130),
        "0123456789abcdef".repeat(4),
    ]);
    let x64 = Platform::linux_amd64();
    let parses_back = |reference: &ImageRef| {
        assert_eq!(
            ImageRef::parse(&reference.to_string()).as_ref(),
            Ok(reference)
        );
    };
    for odd in odd.iter().map(String::as_str) {
        let namings = [
            SebsNaming::new(odd, odd, SebsRegistry::aws("1", "r", "id")),
            SebsNaming::new("aws", "1", SebsRegistry::aws(odd, odd, odd)),
            SebsNaming::new("gcp", "1", SebsRegistry::gcp(odd, odd, odd)),
            SebsNaming::new("ow", "1", SebsRegistry::plain(odd, odd)),
            SebsNaming::new("ow", "1", SebsRegistry::plain("localhost", odd)),
            SebsNaming::new("ow", "1", SebsRegistry::docker_hub(odd)).with_prefix(odd),
        ];
        for naming in &namings {
            for (benchmark, language, version) in [(odd, "py", "3"), ("b", odd, odd)] {
                if let Ok(name) = naming.registry_name(benchmark, language, version, &x64) {
                    parses_back(&name.uri);
                    assert_eq!(name.uri.tag(), Some(name.tag.as_str()), "{naming:?}");
                }
            }
        }
        let infrastructure = InfrastructureScheme::new(odd, odd, odd, "1");
        if let Ok(reference) = infrastructure.image_name(Some(odd), Some(odd)) {
            parses_back(&reference);
        }
        let benchmark = BenchmarkScheme::new(odd, odd, "1").with_prefix(odd);
        if let Ok(reference) = benchmark.image_name(odd, odd, odd, &x64) {
            parses_back(&reference);
        }
    }
}
