//! `kiln build`: the arguments as a [`SpecInput`] the facade validates, the build, the report.

use std::sync::Arc;

use kiln::{BuildSpec, Env, Error, SchemeConfig, SpecInput};

use crate::args::{BuildArgs, SchemeArgs};
use crate::commands::{close, open_with};
use crate::exit::{CommandKind, SUCCESS};
use crate::output::Io;
use crate::units::human_bytes;

pub(crate) async fn run(args: Box<BuildArgs>, quiet: bool, env: Arc<dyn Env>, io: &Io) -> u8 {
    let spec = match spec_from(&args, env.as_ref()) {
        Ok(spec) => spec,
        Err(error) => return io.error(&error, CommandKind::Mutating, args.json),
    };
    let kiln = match open_with(env, io, &scheme_from(&args.scheme)).await {
        Ok(kiln) => kiln,
        Err(error) => return io.error(&error, CommandKind::Mutating, args.json),
    };
    let result = kiln
        .build_image_with_events(&spec, io.progress(quiet))
        .await;
    close(&kiln, io).await;
    match result {
        Ok(report) => {
            if args.json {
                io.json(&report);
            } else {
                if !quiet {
                    io.err(&format!(
                        "{} {} ({}, {}) in {:.1} s: {}",
                        report.outcome,
                        report.tag.familiar(),
                        short_id(&report.image_id),
                        human_bytes(report.size_bytes),
                        report.duration.as_secs_f64(),
                        report.reason
                    ));
                }
                io.out(&report.tag.familiar());
            }
            SUCCESS
        }
        Err(error) => io.error(&error, CommandKind::Mutating, args.json),
    }
}

pub(crate) fn short_id(image_id: &str) -> &str {
    let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    &hex[..hex.len().min(12)]
}

/// The build the arguments describe, as strings.
pub(crate) fn spec_input(args: &BuildArgs) -> SpecInput {
    let mut input = SpecInput::new(&args.context);
    input.dockerfile = args.dockerfile.clone();
    input.name = args.name.clone();
    input.version = args.version.clone();
    input.tag_version = args.tag_version.clone();
    input.build_mode = args.mode.clone();
    input.runtime_mode = args.runtime_mode.clone();
    input.platform = args.platform.clone();
    input.build_args = args.build_args.clone();
    input.secret_build_args = args.secret_build_args.clone();
    input.labels = args.labels.clone();
    input.target = args.target.clone();
    input.tags = args.tags.clone();
    input.experiment = args.experiment.clone();
    input.builder = args.builder.clone();
    input.force = args.force;
    input.no_cache = args.no_cache;
    input.push = args.push;
    input.cache_repo = args.cache_repo.clone();
    input.cache_from = args.cache_from.clone();
    input
}

/// Validates every argument (in the facade); the first bad one is the error.
pub(crate) fn spec_from(args: &BuildArgs, env: &dyn Env) -> Result<BuildSpec, Error> {
    spec_input(args).validate(env)
}

/// The scheme settings the flags give, to lay over the configuration file's.
pub(crate) fn scheme_from(args: &SchemeArgs) -> SchemeConfig {
    let mut config = SchemeConfig::default();
    config.name = args.scheme.clone();
    config.language = args.language.clone();
    config.system = args.system.clone();
    config.sebs_version = args.sebs_version.clone();
    config.repository = args.repository.clone();
    config.tag_prefix = args.tag_prefix.clone();
    config.kind = args.kind.clone();
    config.account = args.account.clone();
    config.region = args.region.clone();
    config.resources_id = args.resources_id.clone();
    config.project = args.project.clone();
    config.registry_host = args.registry_host.clone();
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use kiln::{BuildMode, BuilderChoice, MapEnv, Platform, TagInput};

    fn args(extra: &[&str]) -> Box<BuildArgs> {
        let mut argv = vec!["kiln", "plan", "/tmp/ctx"];
        argv.extend_from_slice(extra);
        let cli = crate::args::Cli::try_parse_from(argv).unwrap();
        let crate::args::Command::Plan(args) = cli.command else {
            unreachable!()
        };
        Box::new(args.build)
    }

    fn spec(extra: &[&str]) -> Result<BuildSpec, Error> {
        spec_from(&args(extra), &MapEnv::new())
    }

    /// The name `kiln plan` gives the image these arguments describe.
    fn image_name(extra: &[&str]) -> Result<String, Error> {
        let args = args(extra);
        let spec = spec_from(&args, &MapEnv::new())?;
        let scheme = scheme_from(&args.scheme).scheme()?;
        Ok(scheme.image_ref(&TagInput::from_spec(&spec))?.familiar())
    }

    #[test]
    fn every_flag_reaches_the_input() {
        let args = args(&[
            "-f",
            "/tmp/Dockerfile.dev",
            "--name",
            "picoquic",
            "--version",
            "rfc9000",
            "--tag-version",
            "v2",
            "--mode",
            "debug",
            "--runtime-mode",
            "profile",
            "--platform",
            "arm64",
            "--build-arg",
            "A=1",
            "--secret-build-arg",
            "S=2",
            "--label",
            "L=3",
            "--target",
            "runtime",
            "--tag",
            "app:1",
            "--experiment",
            "e1",
            "--builder",
            "buildkit",
            "--force",
            "--no-cache",
            "--push",
            "--cache-repo",
            "localhost:5000/cache",
            "--cache-from",
            "localhost:5000/app:1",
            "--cache-from",
            "localhost:5000/app:0",
        ]);
        insta::assert_debug_snapshot!(spec_input(&args));
    }

    #[test]
    fn bad_values_are_named() {
        let cases: [(&[&str], &str); 4] = [
            (&["--mode", "turbo"], "invalid build mode \"turbo\""),
            (
                &["--platform", "linux/sparc99"],
                "invalid platform \"linux/sparc99\"",
            ),
            (&["--label", "novalue"], "invalid --label \"novalue\""),
            (&["--builder", "fast"], "invalid builder \"fast\""),
        ];
        for (args, expected) in cases {
            let error = spec(args).unwrap_err();
            assert!(error.to_string().starts_with(expected), "{args:?}: {error}");
            assert_eq!(error.kind(), kiln::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn defaults() {
        let spec = spec(&[]).unwrap();
        assert_eq!(spec.name, "ctx");
        assert_eq!(spec.tag_version, "latest");
        assert_eq!(spec.build_mode, BuildMode::Default);
        assert_eq!(spec.builder, BuilderChoice::Auto);
        assert_eq!(scheme_from(&args(&[]).scheme), SchemeConfig::default());
    }

    #[test]
    fn benchmark_and_arch_are_aliases_of_name_and_platform() {
        let spec = spec(&["--benchmark", "110.dynamic-html", "--arch", "x64"]).unwrap();
        assert_eq!(spec.name, "110.dynamic-html");
        assert_eq!(spec.platform, Some(Platform::linux_amd64()));
    }

    /// SeBS's AWS flags, for the seed benchmark in Python 3.8 on `arch`.
    fn sebs_aws(arch: &'static str) -> Vec<&'static str> {
        vec![
            "--scheme",
            "sebs-aws",
            "--benchmark",
            "110.dynamic-html",
            "--language",
            "python",
            "--version",
            "3.8",
            "--architecture",
            arch,
            "--sebs-version",
            "1.2.1",
            "--account",
            "123456789012",
            "--region",
            "us-east-1",
            "--resources-id",
            "a1b2c3d4",
        ]
    }

    #[test]
    fn plan_with_the_sebs_aws_scheme_names_images_as_sebs_does() {
        // The names of kiln-schemes' SeBS tests (and of SeBS's own `registry_name`).
        assert_eq!(
            image_name(&sebs_aws("x64")).unwrap(),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/sebs-benchmarks-a1b2c3d4:\
             function.aws.110.dynamic-html.python-3.8-x64-1.2.1"
        );
        assert_eq!(
            image_name(&sebs_aws("aarch64")).unwrap(),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/sebs-benchmarks-a1b2c3d4:\
             function.aws.110.dynamic-html.python-3.8-arm64-1.2.1"
        );
        let mut prefixed = sebs_aws("x64");
        prefixed.extend(["--tag-prefix", "dev"]);
        assert!(
            image_name(&prefixed)
                .unwrap()
                .ends_with(":function.aws.110.dynamic-html.python-3.8-x64-dev-1.2.1")
        );
    }

    #[test]
    fn other_sebs_schemes_from_flags() {
        let local = [
            "--scheme",
            "sebs-benchmark",
            "--system",
            "aws",
            "--benchmark",
            "110.dynamic-html",
            "--language",
            "python",
            "--version",
            "3.8",
            "--arch",
            "x64",
            "--sebs-version",
            "1.2.1",
        ];
        assert_eq!(
            image_name(&local).unwrap(),
            "spcleth/serverless-benchmarks:function.aws.110.dynamic-html.python-3.8-x64-1.2.1"
        );
        let gcp = [
            "--scheme",
            "sebs-gcp",
            "--benchmark",
            "110.dynamic-html",
            "--language",
            "python",
            "--version",
            "3.8",
            "--arch",
            "x64",
            "--sebs-version",
            "1.2.1",
            "--region",
            "europe-west1",
            "--project",
            "my-proj",
            "--resources-id",
            "a1b2c3d4",
        ];
        assert_eq!(
            image_name(&gcp).unwrap(),
            "europe-west1-docker.pkg.dev/my-proj/sebs-benchmarks-a1b2c3d4/110.dynamic-html:\
             function.gcp.110.dynamic-html.python-3.8-x64-1.2.1"
        );
    }

    #[test]
    fn a_missing_scheme_setting_is_named_with_the_scheme() {
        let mut without_region = sebs_aws("x64");
        let at = without_region
            .iter()
            .position(|a| *a == "--region")
            .unwrap();
        without_region.drain(at..at + 2);
        let error = image_name(&without_region).unwrap_err();
        assert_eq!(error.kind(), kiln::ErrorKind::InvalidInput);
        assert_eq!(crate::exit::code_for(&error, CommandKind::Query), 2);
        let text = error.to_string();
        assert!(
            text.contains("\"sebs-aws\"") && text.contains("region") && text.contains("--region"),
            "{text}"
        );

        let mut without_arch = sebs_aws("x64");
        let at = without_arch
            .iter()
            .position(|a| *a == "--architecture")
            .unwrap();
        without_arch.drain(at..at + 2);
        let error = image_name(&without_arch).unwrap_err().to_string();
        assert!(
            error.contains("--arch") && error.contains("sebs-aws"),
            "{error}"
        );
    }
}
