//! Errors located in the file: a byte span becomes `path:line:column`.

use std::ops::Range;
use std::path::Path;

use kiln_core::Error;

use kiln_core::text::line_and_column;

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
    /// An [`Error::InvalidFile`] at the start of `span`.
    pub(super) fn error(&self, span: &Span, problem: impl Into<String>) -> Error {
        let (line, column) = line_and_column(self.text, span.start);
        Error::InvalidFile {
            path: self.path.to_owned(),
            line,
            column,
            problem: problem.into(),
        }
    }

    /// The line `span` starts on.
    pub(super) fn line(&self, span: &Span) -> usize {
        line_and_column(self.text, span.start).0
    }

    /// An [`Error::InvalidFile`] at the file's start, for what has no better place.
    pub(super) fn error_at_start(&self, problem: impl Into<String>) -> Error {
        self.error(&(0..0), problem)
    }

    /// TOML's own error (syntax, an unknown key, a value of the wrong type) at its place.
    pub(super) fn toml_error(&self, error: &toml::de::Error) -> Error {
        let span = error.span().unwrap_or(0..0);
        self.error(&span, error.message().trim_end())
    }
}
