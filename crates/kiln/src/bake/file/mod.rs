//! Reading `kiln.toml`: the file is parsed, checked and expanded into cells in dependency order.
//!
//! The format is described in `BAKE.md`; what this reader decides beyond it:
//!
//! - **Paths.** `context` is relative to the file's directory; `dockerfile` is relative to the
//!   *context* directory, as with Compose and `docker buildx bake` (absolute paths are kept).
//!   Both must exist when the file is read: the Dockerfile is read to check the `as` of each
//!   `requires` against its `ARG`s.
//! - **Axis values** are strings, spelled canonically in ids and when matching: a platform as
//!   `os/arch[/variant]` (`amd64` is `linux/amd64`), the mode `default` as `""`. No value may
//!   hold `,`, `=`, `[`, `]` or control characters, so an id reads back one way. Each value is
//!   listed once per axis, and an axis has at least one value. `version = ""` is no version,
//!   `mode = ""` the default mode; `tag_version` may not be empty.
//! - **Free axes** (any name but `version`, `mode`, `runtime_mode`, `platform`, `tag_version`)
//!   are letters, digits and `_`, not starting with a digit; each is passed as the build arg
//!   of its name in upper case, so two may not differ only in case.
//! - **Implicit platforms.** An image whose matrix has no `platform` axis gets `[defaults]
//!   platforms` (when given) as its `platform` axis: its ids show the platform, and its
//!   `exclude`, `include`, overrides and `same` may name it.
//! - **Order of cells.** Images in dependency order (each after the images it requires,
//!   otherwise in file order), each image's cells together in matrix order.
//! - **Matrix order.** The cartesian product in axis-name order (the first axis varies
//!   slowest), values in the order given; `exclude` removes cells of that product (a partial
//!   match), and each exclude must remove at least one; `include` adds cells after it, each
//!   giving a value for every axis (the implicit `platform` too), each a new cell — an
//!   include may bring back an excluded cell. A cell must remain.
//! - **Build args**, lowest first: `[defaults] args`, the image's `args`, its free axes, then
//!   each `[[image.override]]` whose `match` the cell has, in file order. An override must
//!   match at least one cell (a typo never silently does nothing), and so must an exclude.
//! - **`requires`.** Every `same` axis must be an axis of the requiring image; the required
//!   image must have all of them (its cells then match on them) or none (every one of its
//!   cells matches). Each child cell must match exactly one parent cell per entry.
//! - **Bases.** `[bases]` names a catalogue of base tiers (relative to the file's directory;
//!   the format is `kiln_base::catalogue`'s), the strategy chain (`strategies`, outermost
//!   first, default `["plugin-aware", "platform-aware", "tiered"]`) and `allow_fallback`. An
//!   image's `base = { needs = [...], plugins = [...], max_size_mb = N, as = "ARG" }` has each
//!   of its cells' tiers chosen for the cell's platform and build mode; the tier arrives in
//!   `as` (default `BASE_IMAGE`, which the Dockerfile must declare), pinned like a `requires`
//!   parent. The tiers chosen and their parents become cells (`base-dev[platform=linux/amd64]`,
//!   tagged with the catalogue's reference), placed before every image's cells; a tier's
//!   parent arrives in its `BASE_IMAGE`.
//! - **Limits.** At most 10 000 cells in a file (a guard against a matrix that would exhaust
//!   memory).
//!
//! - **Tests** (`[[test]]`): a service's `image` is a cell id, the name of an image with one
//!   cell, or else an image reference; `timeout` defaults to 300 s, `network.subnet` to the
//!   daemon's choice (`"pool"` or a CIDR otherwise).
//!
//! Every problem is an [`Error::InvalidFile`] at the line and column of the value (or key) at
//! fault; reading never panics.

mod axes;
pub(crate) mod bases;
mod cells;
mod cycles;
mod defaults;
mod images;
mod matrix;
mod order;
mod place;
mod raw;
mod requires;
mod test_specs;
#[cfg(test)]
mod tests;

use std::path::Path;

use kiln_core::{Error, Result};
use toml::Spanned;

use super::model::BakeFile;
use place::Source;
use raw::RawFile;

/// The one version of the format this reader knows.
const VERSION: i64 = 1;

impl BakeFile {
    /// Reads, checks and expands the bake file at `path`.
    pub fn load(path: &Path) -> Result<BakeFile> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::InvalidPath {
            what: "bake file",
            path: path.to_owned(),
            problem: format!("cannot be read: {error}"),
        })?;
        BakeFile::parse(&text, path)
    }

    /// Checks and expands the bake file text `text`, read from `path`: relative paths in it
    /// resolve against `path`'s directory. Every problem is an [`Error::InvalidFile`] naming
    /// its line and column.
    pub fn parse(text: &str, path: &Path) -> Result<BakeFile> {
        let source = Source { path, text };
        let raw: RawFile = toml::from_str(text).map_err(|error| source.toml_error(&error))?;
        check_version(&source, raw.version.as_ref())?;
        let defaults = defaults::read(&source, &raw.defaults)?;
        let base = path.parent().unwrap_or(Path::new(""));
        let bases = bases::read(&source, raw.bases.as_ref(), base)?;
        let images = images::read_all(&source, &raw.images, &defaults, base)?;
        let base_requests = images
            .iter()
            .map(|image| bases::request(&source, image, bases.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let requirements = requires::check(&source, &images)?;
        let mut budget = matrix::MAX_CELLS;
        let mut all = Vec::new();
        let mut ranges = Vec::with_capacity(images.len());
        for image in &images {
            let combinations = matrix::expand(&source, image.raw, &image.axes, &mut budget)?;
            let start = all.len();
            all.extend(cells::build(&source, image, &defaults, combinations)?);
            ranges.push(start..all.len());
        }
        requires::link(&source, &images, &requirements, &ranges, &mut all)?;
        if let Some(bases) = &bases {
            for (request, range) in base_requests.iter().zip(&ranges) {
                if let Some(request) = request {
                    bases::choose(&source, bases, request, &mut all[range.clone()])?;
                }
            }
        }
        let order = order::images_in_order(&requirements)?;
        let mut cells = order::cells_in_order(all, &ranges, &order);
        if let Some(bases) = &bases {
            let cache_repo = defaults.model.cache_repo.as_ref();
            let mut tiers = bases::tier_cells(&source, bases, &cells, &images, cache_repo)?;
            tiers.append(&mut cells);
            cells = tiers;
        }
        let tests = test_specs::read_all(&source, &raw.tests, &cells)?;
        Ok(BakeFile {
            path: path.to_owned(),
            defaults: defaults.model,
            cells,
            tests,
            bases: bases.map(|bases| bases.model),
        })
    }
}

/// The file says `version = 1`.
fn check_version(source: &Source<'_>, version: Option<&Spanned<toml::Value>>) -> Result<()> {
    let Some(version) = version else {
        return Err(source.error_at_start(format!(
            "no version: expected `version = {VERSION}` at the top of the file"
        )));
    };
    let shown = match version.get_ref() {
        toml::Value::Integer(VERSION) => return Ok(()),
        toml::Value::Integer(number) => number.to_string(),
        toml::Value::Float(number) => number.to_string(),
        toml::Value::Boolean(yes) => yes.to_string(),
        toml::Value::String(text) => format!("{text:?}"),
        other => format!("(a TOML {})", other.type_str()),
    };
    Err(source.error(
        &version.span(),
        format!(
            "version {shown}: expected {VERSION}, the only version of the bake file format \
             this kiln reads"
        ),
    ))
}
