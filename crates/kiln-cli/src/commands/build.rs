//! `kiln build`: validate the arguments into a spec, build, print the report.

use std::path::Path;
use std::sync::Arc;

use kiln::{
    BuildMode, BuildSpec, BuilderChoice, Env, Error, ImageRef, Platform, RuntimeMode,
    parse_build_arg,
};
use serde_json::json;

use crate::args::BuildArgs;
use crate::commands::{close, open};
use crate::exit::{CommandKind, SUCCESS};
use crate::output::Io;
use crate::units::human_bytes;

pub(crate) async fn run(args: Box<BuildArgs>, quiet: bool, env: Arc<dyn Env>, io: &Io) -> u8 {
    let spec = match spec_from(&args, env.as_ref()) {
        Ok(spec) => spec,
        Err(error) => return io.error(&error, CommandKind::Mutating, args.json),
    };
    let kiln = match open(env, io).await {
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
                io.json(&json!(report));
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

/// Validates every argument; the first bad one is the error.
pub(crate) fn spec_from(args: &BuildArgs, env: &dyn Env) -> Result<BuildSpec, Error> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(&args.context),
    };
    let mut spec = BuildSpec::new(name, &args.context);
    spec.dockerfile = args.dockerfile.clone();
    spec.version = args.version.clone();
    spec.tag_version = args.tag_version.clone();
    spec.build_mode = BuildMode::parse(&args.mode)?;
    spec.runtime_mode = RuntimeMode::parse(&args.runtime_mode)?;
    if let Some(list) = &args.platform {
        let mut platforms = Platform::parse_list(list)?;
        if platforms.len() == 1 {
            spec.platform = platforms.pop();
        } else {
            spec.platforms = platforms;
        }
    }
    for arg in &args.build_args {
        let (name, value) = parse_build_arg(arg, env)?;
        spec.build_args.insert(name, value);
    }
    for arg in &args.secret_build_args {
        // The error must not repeat the value: it is a secret.
        let (name, value) = parse_build_arg(arg, env).map_err(|_| {
            let shown = match arg.split_once('=') {
                Some((name, _)) => format!("{name}=<redacted>"),
                None => arg.clone(),
            };
            Error::invalid_input(
                "--secret-build-arg",
                shown,
                "NAME=VALUE (or NAME of a set environment variable), NAME without spaces",
            )
        })?;
        spec.secret_args.insert(name.clone());
        spec.build_args.insert(name, value);
    }
    for label in &args.labels {
        let (name, value) = label
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| Error::invalid_input("--label", label, "NAME=VALUE"))?;
        spec.labels.insert(name.to_owned(), value.to_owned());
    }
    spec.target = args.target.clone();
    spec.tags = args
        .tags
        .iter()
        .map(|tag| ImageRef::parse(tag))
        .collect::<Result<_, _>>()?;
    spec.experiment = args.experiment.clone();
    spec.builder = BuilderChoice::parse(&args.builder)?;
    spec.force = args.force;
    spec.no_cache = args.no_cache;
    spec.push = args.push;
    spec.cache_repo = args
        .cache_repo
        .as_deref()
        .map(ImageRef::parse)
        .transpose()?;
    Ok(spec)
}

/// The context directory's name: `examples/hello` → `hello`, `.` → the current directory's.
fn default_name(context: &Path) -> String {
    let resolved = std::fs::canonicalize(context).unwrap_or_else(|_| context.to_path_buf());
    resolved
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use kiln::MapEnv;

    fn spec(extra: &[&str]) -> Result<BuildSpec, Error> {
        let mut argv = vec!["kiln", "build", "/tmp/ctx"];
        argv.extend_from_slice(extra);
        let cli = crate::args::Cli::try_parse_from(argv).unwrap();
        let crate::args::Command::Build(args) = cli.command else {
            unreachable!()
        };
        spec_from(&args, &MapEnv::new())
    }

    #[test]
    fn bad_values_are_named() {
        let cases: [(&[&str], &str); 7] = [
            (&["--mode", "turbo"], "invalid build mode \"turbo\""),
            (&["--runtime-mode", "fast"], "invalid runtime mode \"fast\""),
            (
                &["--platform", "linux/sparc99"],
                "invalid platform \"linux/sparc99\"",
            ),
            (&["--build-arg", "=x"], "invalid --build-arg \"=x\""),
            (
                &["--tag", "bad tag!"],
                "invalid image reference \"bad tag!\"",
            ),
            (
                &["--tag", "library/Upper"],
                "invalid image reference \"library/Upper\"",
            ),
            (&["--builder", "fast"], "invalid builder \"fast\""),
        ];
        for (args, expected) in cases {
            let error = spec(args).unwrap_err();
            assert!(error.to_string().starts_with(expected), "{args:?}: {error}");
            assert_eq!(error.kind(), kiln::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn secret_args_are_marked_and_never_echoed() {
        let spec = spec(&["--secret-build-arg", "TOKEN=hunter2"]).unwrap();
        assert!(spec.secret_args.contains("TOKEN"));
        assert_eq!(
            spec.build_args.get("TOKEN").map(String::as_str),
            Some("hunter2")
        );
        let error = spec_error(&["--secret-build-arg", "1BAD=hunter2"]);
        assert!(!error.contains("hunter2"), "{error}");
        assert!(error.contains("1BAD=<redacted>"), "{error}");
    }

    fn spec_error(extra: &[&str]) -> String {
        spec(extra).unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        let spec = spec(&[]).unwrap();
        assert_eq!(spec.name, "ctx");
        assert_eq!(spec.tag_version, "latest");
        assert_eq!(spec.build_mode, BuildMode::Default);
        assert_eq!(spec.builder, BuilderChoice::Auto);
    }
}
