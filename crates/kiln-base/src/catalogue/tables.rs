//! The catalogue's closed vocabulary, its `[plugins]` table and its `[modes]` table, each
//! value checked against the vocabulary.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kiln_core::BuildMode;
use toml::Spanned;

use super::place::Source;
use super::raw::{Text, TextList};
use crate::error::Result;

/// What build modes need when the catalogue has no `[modes]` table.
pub(super) const DEFAULT_MODE_NEEDS: [(BuildMode, &str); 3] = [
    (BuildMode::Debug, "debugging"),
    (BuildMode::DebugAsan, "debugging"),
    (BuildMode::ReleaseStaticPgo, "profiling"),
];

/// The vocabulary: in file order, and each capability's place.
#[derive(Debug)]
pub(super) struct Vocabulary {
    pub(super) in_order: Vec<String>,
    places: HashMap<String, usize>,
}

impl Vocabulary {
    /// `capability`, checked to be in the vocabulary; `what` says where it is used.
    pub(super) fn check(&self, source: &Source<'_>, capability: &Text, what: &str) -> Result<()> {
        if self.places.contains_key(capability.get_ref()) {
            return Ok(());
        }
        Err(source.error(
            &capability.span(),
            format!(
                "capability {:?} in {what}: expected one of the catalogue's capabilities ({})",
                capability.get_ref(),
                self.in_order.join(", ")
            ),
        ))
    }

    /// Each of `capabilities` checked, as a set.
    pub(super) fn set(
        &self,
        source: &Source<'_>,
        capabilities: &[Text],
        what: &str,
    ) -> Result<BTreeSet<String>> {
        let mut set = BTreeSet::new();
        for capability in capabilities {
            self.check(source, capability, what)?;
            set.insert(capability.get_ref().clone());
        }
        Ok(set)
    }
}

/// The `capabilities` list: at least one, each a name, each once.
pub(super) fn vocabulary(source: &Source<'_>, list: Option<&TextList>) -> Result<Vocabulary> {
    let Some(list) = list else {
        return Err(source.error(
            &(0..0),
            "no capabilities: expected `capabilities = [...]`, the closed vocabulary every tier, \
             plugin and build mode draws from",
        ));
    };
    if list.get_ref().is_empty() {
        return Err(source.error(
            &list.span(),
            "capabilities = []: expected at least one capability",
        ));
    }
    let mut in_order = Vec::new();
    let mut places = HashMap::new();
    for capability in list.get_ref() {
        let name = capability.get_ref();
        if !is_capability_name(name) {
            return Err(source.error(
                &capability.span(),
                format!(
                    "capability {name:?}: expected lower-case letters, digits, '-' and '_', \
                     starting with a letter"
                ),
            ));
        }
        if places.insert(name.clone(), in_order.len()).is_some() {
            return Err(source.error(
                &capability.span(),
                format!("capability {name:?}: expected each capability once in the list"),
            ));
        }
        in_order.push(name.clone());
    }
    Ok(Vocabulary { in_order, places })
}

/// Whether `name` can be a capability: `[a-z][a-z0-9_-]*`.
fn is_capability_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
}

/// `[plugins]`: each plugin's needs, each a capability of the vocabulary.
pub(super) fn plugins(
    source: &Source<'_>,
    raw: &BTreeMap<Text, TextList>,
    vocabulary: &Vocabulary,
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut plugins = BTreeMap::new();
    for (name, needs) in raw {
        if name.get_ref().trim().is_empty() {
            return Err(source.error(&name.span(), "plugin \"\": expected a name"));
        }
        let set = vocabulary.set(
            source,
            needs.get_ref(),
            &format!("the needs of plugin {}", name.get_ref()),
        )?;
        plugins.insert(name.get_ref().clone(), set);
    }
    Ok(plugins)
}

/// `[modes]`: each build mode's needs; absent, the defaults (each of which the vocabulary must
/// have, so that a default never silently needs nothing).
pub(super) fn modes(
    source: &Source<'_>,
    raw: Option<&Spanned<BTreeMap<Text, TextList>>>,
    vocabulary: &Vocabulary,
) -> Result<BTreeMap<BuildMode, BTreeSet<String>>> {
    let Some(raw) = raw else {
        let mut needs: BTreeMap<BuildMode, BTreeSet<String>> = BTreeMap::new();
        for (mode, capability) in DEFAULT_MODE_NEEDS {
            if !vocabulary.places.contains_key(capability) {
                return Err(source.error(
                    &(0..0),
                    format!(
                        "no [modes] table, and the default needs of build mode {} name \
                         {capability:?}, which capabilities lacks; expected {capability:?} in \
                         capabilities, or a [modes] table saying what each build mode needs",
                        mode.as_str()
                    ),
                ));
            }
            needs.entry(mode).or_default().insert(capability.to_owned());
        }
        return Ok(needs);
    };
    let mut needs = BTreeMap::new();
    for (name, list) in raw.get_ref() {
        let mode = match BuildMode::parse(name.get_ref()) {
            Ok(BuildMode::Default) | Err(_) => {
                let modes: Vec<&str> = BuildMode::ALL
                    .iter()
                    .filter(|mode| **mode != BuildMode::Default)
                    .map(|mode| mode.as_str())
                    .collect();
                return Err(source.error(
                    &name.span(),
                    format!(
                        "build mode {:?} in [modes]: expected one of {}",
                        name.get_ref(),
                        modes.join(", ")
                    ),
                ));
            }
            Ok(mode) => mode,
        };
        let set = vocabulary.set(
            source,
            list.get_ref(),
            &format!("the needs of build mode {}", mode.as_str()),
        )?;
        needs.insert(mode, set);
    }
    Ok(needs)
}
