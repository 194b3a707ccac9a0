//! The `[[tier]]`s checked: names and images unique, parents known and acyclic, capabilities
//! (with `+` inheritance), platforms, size limits and probes resolved parents first, contexts
//! and Dockerfiles present.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use kiln_core::{ImageRef, Platform};

use super::place::Source;
use super::raw::{RawTier, Text};
use super::tables::Vocabulary;
use super::{MEGABYTE, Tier};
use crate::error::Result;

/// Every tier checked, smallest first (by size limit, then parents before children, then
/// file order).
pub(super) fn read_all(
    source: &Source<'_>,
    raw: &[RawTier],
    vocabulary: &Vocabulary,
    base: &Path,
) -> Result<Vec<Tier>> {
    if raw.is_empty() {
        return Err(source.error(
            &(0..0),
            "no tier: expected at least one [[tier]] with name, context, capabilities, \
             max_size_mb and platforms",
        ));
    }
    let images = names_and_images(source, raw)?;
    let parents = parents(source, raw)?;
    let depths = depths(source, raw, &parents)?;
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_by_key(|&index| (depths[index], index));
    let mut done: Vec<Option<Tier>> = vec![None; raw.len()];
    for index in order {
        let parent = parents[index].and_then(|parent| done[parent].clone());
        let tier = read(
            source,
            &raw[index],
            images[index].clone(),
            parent.as_ref(),
            vocabulary,
            base,
        )?;
        done[index] = Some(tier);
    }
    let mut tiers: Vec<(u64, usize, usize, Tier)> = done
        .into_iter()
        .enumerate()
        .filter_map(|(index, tier)| Some((tier.as_ref()?.max_size, depths[index], index, tier?)))
        .collect();
    tiers.sort_by_key(|(size, depth, index, _)| (*size, *depth, *index));
    Ok(tiers.into_iter().map(|(_, _, _, tier)| tier).collect())
}

/// Names unique and well formed; each tier's image (`image`, else `base-<name>`) a repository
/// name no other tier has. Returns each tier's image as `<image>:latest`.
fn names_and_images(source: &Source<'_>, raw: &[RawTier]) -> Result<Vec<ImageRef>> {
    let mut names: HashMap<&str, &Text> = HashMap::new();
    let mut images: HashMap<String, usize> = HashMap::new();
    let mut refs = Vec::with_capacity(raw.len());
    for (index, tier) in raw.iter().enumerate() {
        let name = tier.name.get_ref();
        if !is_image_name(name) {
            return Err(source.error(
                &tier.name.span(),
                format!(
                    "tier name {name:?}: expected lower-case letters, digits, '.', '_' and '-', \
                     starting with a letter or digit"
                ),
            ));
        }
        if let Some(first) = names.insert(name, &tier.name) {
            return Err(source.error(
                &tier.name.span(),
                format!(
                    "tier name {name:?}: expected each name once, but the tier at line {} has \
                     it already",
                    source.location(&first.span()).line
                ),
            ));
        }
        let (image, span) = match &tier.image {
            Some(image) => (image.get_ref().clone(), image.span()),
            None => (format!("base-{name}"), tier.name.span()),
        };
        let parsed = match is_image_name(&image) {
            true => ImageRef::parse(&format!("{image}:latest")).ok(),
            false => None,
        };
        let Some(parsed) = parsed else {
            return Err(source.error(
                &span,
                format!(
                    "image {image:?} of tier {name}: expected a repository name (lower-case \
                     letters and digits, separated by '.', '_' or '-')"
                ),
            ));
        };
        if let Some(other) = images.insert(image.clone(), index) {
            return Err(source.error(
                &span,
                format!(
                    "image {image:?} of tier {name}: expected an image of its own, but tier {} \
                     is tagged in it already",
                    raw[other].name.get_ref()
                ),
            ));
        }
        refs.push(parsed);
    }
    Ok(refs)
}

/// Whether `name` can be a tier's name or image: `[a-z0-9][a-z0-9._-]*`.
fn is_image_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// Each tier's parent, by index; an unknown parent is an error at its `from`.
fn parents(source: &Source<'_>, raw: &[RawTier]) -> Result<Vec<Option<usize>>> {
    let by_name: HashMap<&str, usize> = raw
        .iter()
        .enumerate()
        .map(|(index, tier)| (tier.name.get_ref().as_str(), index))
        .collect();
    raw.iter()
        .map(|tier| {
            let Some(from) = &tier.from else {
                return Ok(None);
            };
            match by_name.get(from.get_ref().as_str()) {
                Some(&parent) => Ok(Some(parent)),
                None => {
                    let names: Vec<&str> = raw.iter().map(|t| t.name.get_ref().as_str()).collect();
                    Err(source.error(
                        &from.span(),
                        format!(
                            "from {:?} of tier {}: expected a tier of the catalogue ({})",
                            from.get_ref(),
                            tier.name.get_ref(),
                            names.join(", ")
                        ),
                    ))
                }
            }
        })
        .collect()
}

/// How many ancestors each tier has; a tier that is its own ancestor is an error naming the
/// cycle (`a -> b -> a`) at the `from` that closes it.
fn depths(source: &Source<'_>, raw: &[RawTier], parents: &[Option<usize>]) -> Result<Vec<usize>> {
    let mut depths = Vec::with_capacity(raw.len());
    for start in 0..raw.len() {
        let mut path = vec![start];
        let mut current = start;
        while let Some(parent) = parents[current] {
            if let Some(at) = path.iter().position(|&seen| seen == parent) {
                let names: Vec<&str> = path[at..]
                    .iter()
                    .chain([&parent])
                    .map(|&index| raw[index].name.get_ref().as_str())
                    .collect();
                let closing = raw[current].from.as_ref().map_or(0..0, |from| from.span());
                return Err(source.error(
                    &closing,
                    format!(
                        "a cycle of parents: {}; expected tiers that are not their own ancestors",
                        names.join(" -> ")
                    ),
                ));
            }
            path.push(parent);
            current = parent;
        }
        depths.push(path.len() - 1);
    }
    Ok(depths)
}

/// One tier, its parent (when it has one) already read.
fn read(
    source: &Source<'_>,
    raw: &RawTier,
    image: ImageRef,
    parent: Option<&Tier>,
    vocabulary: &Vocabulary,
    base: &Path,
) -> Result<Tier> {
    let name = raw.name.get_ref();
    let capabilities = capabilities(source, raw, parent, vocabulary)?;
    let platforms = platforms(source, raw, parent)?;
    let max_size = max_size(source, raw, parent)?;
    let mut probes: BTreeMap<String, String> = parent
        .map(|parent| {
            parent
                .probes
                .iter()
                .filter(|(capability, _)| capabilities.contains(*capability))
                .map(|(capability, probe)| (capability.clone(), probe.clone()))
                .collect()
        })
        .unwrap_or_default();
    for (capability, probe) in &raw.probes {
        vocabulary.check(source, capability, &format!("the probes of tier {name}"))?;
        if !capabilities.contains(capability.get_ref()) {
            return Err(source.error(
                &capability.span(),
                format!(
                    "probe {:?} of tier {name}: expected a capability the tier claims ({})",
                    capability.get_ref(),
                    capabilities.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if probe.get_ref().trim().is_empty() {
            return Err(source.error(
                &probe.span(),
                format!(
                    "probe of {} in tier {name}: expected a command (run with /bin/sh -c)",
                    capability.get_ref()
                ),
            ));
        }
        probes.insert(capability.get_ref().clone(), probe.get_ref().clone());
    }
    let context = directory(source, base, &raw.context, name)?;
    let dockerfile = match &raw.dockerfile {
        Some(given) => Some(dockerfile(source, &context, given, name)?),
        None => None,
    };
    Ok(Tier {
        name: name.clone(),
        image,
        context,
        dockerfile,
        from: parent.map(|parent| parent.name.clone()),
        capabilities,
        max_size,
        platforms,
        probes,
        at: source.location(&raw.name.span()),
        from_at: raw.from.as_ref().map(|from| source.location(&from.span())),
    })
}

/// The tier's capabilities: all with `+` (added to its parent's) or all without (the set).
fn capabilities(
    source: &Source<'_>,
    raw: &RawTier,
    parent: Option<&Tier>,
    vocabulary: &Vocabulary,
) -> Result<BTreeSet<String>> {
    let name = raw.name.get_ref();
    let what = format!("the capabilities of tier {name}");
    let added = raw
        .capabilities
        .iter()
        .filter(|capability| capability.get_ref().starts_with('+'))
        .count();
    let mut set = BTreeSet::new();
    if added > 0 {
        if added != raw.capabilities.len() {
            let plain = raw
                .capabilities
                .iter()
                .find(|capability| !capability.get_ref().starts_with('+'))
                .unwrap_or(&raw.name);
            return Err(source.error(
                &plain.span(),
                format!(
                    "capability {:?} of tier {name}: expected every entry with '+' (added to \
                     the parent's) or none (the whole set), not both",
                    plain.get_ref()
                ),
            ));
        }
        let Some(parent) = parent else {
            let first = &raw.capabilities[0];
            return Err(source.error(
                &first.span(),
                format!(
                    "capability {:?} of tier {name}: '+' adds to the parent's capabilities, but \
                     the tier has no `from`; expected the capability without '+'",
                    first.get_ref()
                ),
            ));
        };
        set.extend(parent.capabilities.iter().cloned());
        for capability in &raw.capabilities {
            let bare = capability.get_ref().trim_start_matches('+').to_owned();
            let bare = Text::new(capability.span(), bare);
            vocabulary.check(source, &bare, &what)?;
            set.insert(bare.into_inner());
        }
        return Ok(set);
    }
    if raw.capabilities.is_empty() && parent.is_none() {
        return Err(source.error(
            &raw.name.span(),
            format!("tier {name} claims no capability: expected a capabilities list"),
        ));
    }
    if raw.capabilities.is_empty() {
        return Ok(parent
            .map(|parent| parent.capabilities.clone())
            .unwrap_or_default());
    }
    vocabulary.set(source, &raw.capabilities, &what)
}

/// The tier's platforms: its own (each one its parent has), else its parent's.
fn platforms(source: &Source<'_>, raw: &RawTier, parent: Option<&Tier>) -> Result<Vec<Platform>> {
    let name = raw.name.get_ref();
    if raw.platforms.is_empty() {
        return match parent {
            Some(parent) => Ok(parent.platforms.clone()),
            None => Err(source.error(
                &raw.name.span(),
                format!(
                    "tier {name} has no platforms: expected `platforms = [...]` on a tier \
                     without `from` (such as [\"linux/amd64\"])"
                ),
            )),
        };
    }
    let mut platforms: Vec<Platform> = Vec::with_capacity(raw.platforms.len());
    for given in &raw.platforms {
        let platform = Platform::parse(given.get_ref()).map_err(|error| {
            source.error(&given.span(), format!("platform of tier {name}: {error}"))
        })?;
        if platforms.contains(&platform) {
            return Err(source.error(
                &given.span(),
                format!("platform {platform} of tier {name}: expected each platform once"),
            ));
        }
        if let Some(parent) = parent.filter(|parent| !parent.supports(&platform)) {
            let theirs: Vec<String> = parent.platforms.iter().map(ToString::to_string).collect();
            return Err(source.error(
                &given.span(),
                format!(
                    "platform {platform} of tier {name}: its parent {} is not built for it \
                     (only for {}); expected platforms of the parent",
                    parent.name,
                    theirs.join(", ")
                ),
            ));
        }
        platforms.push(platform);
    }
    Ok(platforms)
}

/// The size limit in bytes: positive, and at least the parent's.
fn max_size(source: &Source<'_>, raw: &RawTier, parent: Option<&Tier>) -> Result<u64> {
    let name = raw.name.get_ref();
    let given = *raw.max_size_mb.get_ref();
    let megabytes = u64::try_from(given)
        .ok()
        .filter(|megabytes| (1..=u64::MAX / MEGABYTE).contains(megabytes))
        .ok_or_else(|| {
            source.error(
                &raw.max_size_mb.span(),
                format!("max_size_mb {given} of tier {name}: expected a positive number of MB"),
            )
        })?;
    let bytes = megabytes * MEGABYTE;
    if let Some(parent) = parent.filter(|parent| parent.max_size > bytes) {
        return Err(source.error(
            &raw.max_size_mb.span(),
            format!(
                "max_size_mb {given} of tier {name}: below the {} MB of its parent {}, which \
                 it is built on; expected at least that",
                parent.max_size / MEGABYTE,
                parent.name
            ),
        ));
    }
    Ok(bytes)
}

/// The context `given` of tier `tier`, resolved against `base`: it must be a directory.
fn directory(source: &Source<'_>, base: &Path, given: &Text, tier: &str) -> Result<PathBuf> {
    let problem = match directory_at(base, given.get_ref(), "the catalogue's directory") {
        Ok(path) => return Ok(path),
        Err(problem) => problem,
    };
    Err(source.error(
        &given.span(),
        format!(
            "context {:?} of tier {tier}: expected a directory, but {problem}",
            given.get_ref()
        ),
    ))
}

/// The Dockerfile `given` of tier `tier`, resolved against its context: it must be a file.
fn dockerfile(source: &Source<'_>, context: &Path, given: &Text, tier: &str) -> Result<PathBuf> {
    let path = resolve_path(context, given.get_ref());
    match std::fs::metadata(&path) {
        Ok(metadata) if metadata.is_file() => Ok(path),
        Ok(_) => Err(source.error(
            &given.span(),
            format!(
                "dockerfile {:?} of tier {tier}: expected a file, but {} is not one",
                given.get_ref(),
                path.display()
            ),
        )),
        Err(error) => Err(source.error(
            &given.span(),
            format!(
                "dockerfile {:?} of tier {tier}: expected a readable file at {}: {error}",
                given.get_ref(),
                path.display()
            ),
        )),
    }
}

/// `given` resolved against `base` when that names a directory, or what is wrong with it
/// (`base_is` says what `base` is, for an empty `given`: "the catalogue's directory").
pub fn directory_at(
    base: &Path,
    given: &str,
    base_is: &str,
) -> std::result::Result<PathBuf, String> {
    if given.is_empty() {
        return Err(format!("it is empty (\".\" is {base_is})"));
    }
    let path = resolve_path(base, given);
    match std::fs::metadata(&path) {
        Ok(metadata) if metadata.is_dir() => Ok(path),
        Ok(_) => Err(format!("{} is not a directory", path.display())),
        Err(error) => Err(format!("{} cannot be read: {error}", path.display())),
    }
}

/// `given` resolved against `base` (kept when absolute), without `.` components (`.` itself
/// when nothing is left).
pub fn resolve_path(base: &Path, given: &str) -> PathBuf {
    let path: PathBuf = base
        .join(given)
        .components()
        .filter(|component| *component != Component::CurDir)
        .collect();
    if path.as_os_str().is_empty() {
        return PathBuf::from(".");
    }
    path
}
