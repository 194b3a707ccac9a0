//! Errors located in the catalogue: a byte span becomes `path:line:column`.

use std::ops::Range;
use std::path::Path;

use kiln_core::text::line_and_column;

use super::Location;
use crate::error::Error;

/// A byte range in the file's text.
pub(super) type Span = Range<usize>;

/// The file being read: where errors in it are reported.
#[derive(Debug, Clone, Copy)]
pub(super) struct Source<'a> {
    /// The file's path, as given.
    pub(super) path: &'a Path,
    /// Its text.
    pub(super) text: &'a str,
}

impl Source<'_> {
    /// An [`Error::InvalidCatalogue`] at the start of `span`.
    pub(super) fn error(&self, span: &Span, problem: impl Into<String>) -> Error {
        let Location { line, column } = self.location(span);
        Error::InvalidCatalogue {
            path: self.path.to_owned(),
            line,
            column,
            problem: problem.into(),
        }
    }

    /// Where `span` starts.
    pub(super) fn location(&self, span: &Span) -> Location {
        let (line, column) = line_and_column(self.text, span.start);
        Location { line, column }
    }

    /// TOML's own error (syntax, an unknown key, a value of the wrong type) at its place.
    pub(super) fn toml_error(&self, error: &toml::de::Error) -> Error {
        let span = error.span().unwrap_or(0..0);
        self.error(&span, error.message().trim_end())
    }
}
