//! `[defaults]`: checked into [`BakeDefaults`], the build args every image starts from and the
//! `platform` axis of images whose matrix has none.

use std::collections::BTreeMap;

use kiln_core::{ImageRef, Platform, Result};

use super::super::model::BakeDefaults;
use super::matrix::Axis;
use super::place::Source;
use super::raw::{Args, RawDefaults};

/// `[defaults]`, checked.
#[derive(Debug, Clone, Default)]
pub(super) struct Defaults {
    /// What the model keeps of them.
    pub(super) model: BakeDefaults,
    /// `args`: the build args of every image, below everything else.
    pub(super) args: BTreeMap<String, String>,
    /// `platforms` as the `platform` axis of an image whose matrix has none (`None` when empty).
    pub(super) platform_axis: Option<Axis>,
}

/// Checks `[defaults]`: the cache repository is an image reference, each platform a
/// platform (once), `jobs` at least 1, and build arg names what `--build-arg` takes.
pub(super) fn read(source: &Source<'_>, raw: &RawDefaults) -> Result<Defaults> {
    let cache_repo = match &raw.cache_repo {
        Some(repo) => Some(ImageRef::parse(repo.get_ref()).map_err(|error| {
            source.error(
                &repo.span(),
                format!(
                    "cache_repo {:?}: expected an image repository such as \
                     reg.example:5000/cache ({error})",
                    repo.get_ref()
                ),
            )
        })?),
        None => None,
    };
    let jobs = match &raw.jobs {
        Some(jobs) => Some(
            usize::try_from(*jobs.get_ref())
                .ok()
                .filter(|&jobs| jobs >= 1)
                .ok_or_else(|| {
                    source.error(
                        &jobs.span(),
                        format!(
                            "jobs {}: expected a number of builds at once, at least 1",
                            jobs.get_ref()
                        ),
                    )
                })?,
        ),
        None => None,
    };
    let mut platforms = Vec::new();
    let mut platform_axis = Axis::default();
    for written in &raw.platforms {
        let platform = Platform::parse(written.get_ref()).map_err(|error| {
            source.error(&written.span(), format!("in [defaults] platforms: {error}"))
        })?;
        if platforms.contains(&platform) {
            return Err(source.error(
                &written.span(),
                format!(
                    "platform {:?} in [defaults] platforms: expected each platform once, but \
                     {platform} is already listed",
                    written.get_ref()
                ),
            ));
        }
        platform_axis.push(platform.to_string(), written.span());
        platforms.push(platform);
    }
    let model = BakeDefaults {
        registry: raw
            .registry
            .as_ref()
            .map(|registry| registry.get_ref().clone()),
        cache_repo,
        platforms,
        jobs,
    };
    Ok(Defaults {
        model,
        args: read_args(source, &raw.args, "[defaults] args")?,
        platform_axis: (!platform_axis.values.is_empty()).then_some(platform_axis),
    })
}

/// Build args with their names checked as `--build-arg` checks them.
pub(super) fn read_args(
    source: &Source<'_>,
    args: &Args,
    table: &str,
) -> Result<BTreeMap<String, String>> {
    let mut checked = BTreeMap::new();
    for (name, value) in args {
        if !crate::config::is_build_arg_name(name.get_ref()) {
            return Err(source.error(
                &name.span(),
                format!(
                    "build arg name {:?} in {table}: expected a NAME as --build-arg takes it: \
                     not empty, not starting with a digit, without spaces or '='",
                    name.get_ref()
                ),
            ));
        }
        checked.insert(name.get_ref().clone(), value.clone());
    }
    Ok(checked)
}
