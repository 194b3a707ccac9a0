//! What the axes mean: the five kiln knows, the free ones that become build args, and the one
//! spelling of each value that ids and matching use.

use kiln_core::{BuildMode, Platform, RuntimeMode};

/// What an axis sets in a cell's build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AxisKind {
    /// `version`: the implementation's version (`""`: none).
    Version,
    /// `mode`: the build mode (`""`: the default mode).
    Mode,
    /// `runtime_mode`: the runtime mode.
    RuntimeMode,
    /// `platform`: the target platform.
    Platform,
    /// `tag_version`: the tag's version part.
    TagVersion,
    /// Any other axis: a build arg named as the axis in upper case.
    Free {
        /// The build arg's name.
        arg: String,
    },
}

impl AxisKind {
    /// The kind of axis `name`.
    pub(super) fn of(name: &str) -> AxisKind {
        match name {
            "version" => AxisKind::Version,
            "mode" => AxisKind::Mode,
            "runtime_mode" => AxisKind::RuntimeMode,
            "platform" => AxisKind::Platform,
            "tag_version" => AxisKind::TagVersion,
            free => AxisKind::Free {
                arg: free.to_ascii_uppercase(),
            },
        }
    }
}

/// Why `name` cannot name an axis, if it cannot: a free axis becomes a build arg, so it is
/// letters, digits and `_`, not starting with a digit.
pub(super) fn axis_name_problem(name: &str, image: &str) -> Option<String> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (!valid).then(|| {
        format!(
            "axis {name:?} of image {image}: expected letters, digits and '_', not starting \
             with a digit (an axis other than version, mode, runtime_mode, platform and \
             tag_version is passed as a build arg)"
        )
    })
}

/// The characters a value may not hold: they separate a cell id's axes.
const SEPARATORS: [char; 4] = [',', '=', '[', ']'];

/// Value `value` of axis `axis` spelled as ids and matching use it (`amd64` is
/// `linux/amd64`, the mode `default` is `""`), or the problem with it.
pub(super) fn canonical_value(axis: &str, value: &str) -> Result<String, String> {
    if value.contains(SEPARATORS) || value.contains(char::is_control) {
        return Err(format!(
            "value {value:?} of axis {axis}: expected no ',', '=', '[', ']' or control \
             characters (they would make cell ids ambiguous)"
        ));
    }
    let problem = |error: kiln_core::Error| format!("axis {axis}: {error}");
    match AxisKind::of(axis) {
        AxisKind::Mode => BuildMode::parse(value)
            .map(|mode| mode.as_str().to_owned())
            .map_err(problem),
        AxisKind::RuntimeMode => RuntimeMode::parse(value)
            .map(|mode| mode.as_str().to_owned())
            .map_err(problem),
        AxisKind::Platform => Platform::parse(value)
            .map(|platform| platform.to_string())
            .map_err(problem),
        AxisKind::TagVersion if value.is_empty() => Err(
            "value \"\" of axis tag_version: expected a tag version such as \"latest\"".to_owned(),
        ),
        AxisKind::Version | AxisKind::TagVersion | AxisKind::Free { .. } => Ok(value.to_owned()),
    }
}
