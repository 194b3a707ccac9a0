//! Mistakes in a Dockerfile that the builder reports only after the context is uploaded: no
//! instructions, no `FROM`, an unknown instruction, an instruction before the first `FROM`, a
//! `FROM` without an image, a target stage that is not there.

use std::fmt;

use super::Dockerfile;

/// The instructions the Dockerfile frontend knows.
pub const INSTRUCTIONS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// A mistake found by [`Dockerfile::check`]. Its `Display` says what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Only blank lines, comments and parser directives.
    Empty,
    /// Instructions, but no `FROM` (only `ARG`s).
    NoFrom,
    /// A keyword the frontend does not know.
    UnknownInstruction {
        /// 1-based line.
        line: usize,
        /// The keyword, uppercased.
        keyword: String,
    },
    /// An instruction other than `ARG` before the first `FROM`.
    BeforeFrom {
        /// 1-based line.
        line: usize,
        /// The keyword, uppercased.
        keyword: String,
    },
    /// A `FROM` that names no image.
    FromWithoutImage {
        /// 1-based line.
        line: usize,
    },
    /// The target stage is not named by any `FROM ... AS`.
    UnknownTarget {
        /// The target as given.
        target: String,
        /// The stages the file names, lowercased, in order.
        stages: Vec<String>,
    },
}

impl Problem {
    /// The line the problem is on, when it is on one.
    pub fn line(&self) -> Option<usize> {
        match self {
            Problem::UnknownInstruction { line, .. }
            | Problem::BeforeFrom { line, .. }
            | Problem::FromWithoutImage { line } => Some(*line),
            Problem::Empty | Problem::NoFrom | Problem::UnknownTarget { .. } => None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => {
                f.write_str("at least one instruction; it has only blank lines and comments")
            }
            Problem::NoFrom => f.write_str("a FROM instruction; it has none"),
            Problem::UnknownInstruction { keyword, .. } => write!(
                f,
                "an instruction ({}), not {keyword:?}",
                INSTRUCTIONS.join(", ")
            ),
            Problem::BeforeFrom { keyword, .. } => write!(
                f,
                "FROM before {keyword}: only ARG may come before the first FROM"
            ),
            Problem::FromWithoutImage { .. } => f.write_str("an image after FROM"),
            Problem::UnknownTarget { stages, .. } if stages.is_empty() => {
                f.write_str("a stage of the Dockerfile, which names none (FROM image AS name)")
            }
            Problem::UnknownTarget { stages, .. } => {
                write!(f, "a stage of the Dockerfile ({})", stages.join(", "))
            }
        }
    }
}

impl Dockerfile {
    /// The stage names given by `FROM ... AS name`, lowercased (the frontend matches them
    /// case-insensitively), in order.
    pub fn stages(&self) -> Vec<String> {
        self.instructions
            .iter()
            .filter(|instruction| instruction.keyword == "FROM")
            .filter_map(|instruction| {
                let mut words = instruction
                    .arguments
                    .split_whitespace()
                    .filter(|word| !word.starts_with("--"))
                    .skip(1);
                match (words.next(), words.next()) {
                    (Some(keyword), Some(stage)) if keyword.eq_ignore_ascii_case("as") => {
                        Some(stage.to_ascii_lowercase())
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// Finds the first mistake the builder would fail on, building `target` (the last stage
    /// when `None`). A file written for another frontend (`# syntax=` naming an image that is
    /// not `docker/dockerfile`) is not checked: its instructions are that frontend's business.
    ///
    /// # Errors
    ///
    /// The first [`Problem`], in file order; a missing target is reported only for an
    /// otherwise sound file.
    pub fn check(&self, target: Option<&str>) -> Result<(), Problem> {
        if self
            .directives
            .syntax
            .as_deref()
            .is_some_and(|syntax| !syntax.contains("docker/dockerfile"))
        {
            return Ok(());
        }
        if self.instructions.is_empty() {
            return Err(Problem::Empty);
        }
        let mut seen_from = false;
        for instruction in &self.instructions {
            let (line, keyword) = (instruction.line, instruction.keyword.as_str());
            if !INSTRUCTIONS.contains(&keyword) {
                return Err(Problem::UnknownInstruction {
                    line,
                    keyword: keyword.to_owned(),
                });
            }
            match keyword {
                "FROM" => {
                    let image = instruction
                        .arguments
                        .split_whitespace()
                        .find(|word| !word.starts_with("--"));
                    if image.is_none() {
                        return Err(Problem::FromWithoutImage { line });
                    }
                    seen_from = true;
                }
                "ARG" => {}
                _ if !seen_from => {
                    return Err(Problem::BeforeFrom {
                        line,
                        keyword: keyword.to_owned(),
                    });
                }
                _ => {}
            }
        }
        if !seen_from {
            return Err(Problem::NoFrom);
        }
        if let Some(target) = target {
            let stages = self.stages();
            if !stages.contains(&target.to_ascii_lowercase()) {
                return Err(Problem::UnknownTarget {
                    target: target.to_owned(),
                    stages,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, target: Option<&str>) -> Result<(), Problem> {
        Dockerfile::parse(text).check(target)
    }

    #[test]
    fn sound_files_pass() {
        let sound = [
            ("FROM scratch\n", None),
            (
                "# syntax=docker/dockerfile:1\nARG BASE=alpine\nfrom $BASE\nrun true\n",
                None,
            ),
            (
                "FROM --platform=$BUILDPLATFORM alpine AS Build\nRUN x\nFROM scratch as out\n",
                Some("build"),
            ),
            ("FROM alpine AS build\nFROM scratch\n", Some("BUILD")),
            ("# syntax=example.com/other-frontend\nFROB thing\n", None),
            ("FROM a\nONBUILD RUN x \\\n  y\n", None),
        ];
        for (text, target) in sound {
            assert_eq!(check(text, target), Ok(()), "{text}");
        }
    }

    #[test]
    fn mistakes_are_found_on_their_line() {
        let cases = [
            ("", None, Problem::Empty),
            ("\n# only a comment\n\n", None, Problem::Empty),
            ("# syntax=docker/dockerfile:1\n", None, Problem::Empty),
            ("ARG A=1\n", None, Problem::NoFrom),
            (
                "FROM alpine\n\nFORM x\n",
                None,
                Problem::UnknownInstruction {
                    line: 3,
                    keyword: "FORM".into(),
                },
            ),
            (
                "# a comment\nARG A\nRUN true\nFROM alpine\n",
                None,
                Problem::BeforeFrom {
                    line: 3,
                    keyword: "RUN".into(),
                },
            ),
            (
                "FROM alpine\nFROM --platform=linux/amd64\n",
                None,
                Problem::FromWithoutImage { line: 2 },
            ),
            (
                "FROM alpine AS build\nFROM scratch\n",
                Some("tset"),
                Problem::UnknownTarget {
                    target: "tset".into(),
                    stages: vec!["build".into()],
                },
            ),
        ];
        for (text, target, expected) in cases {
            assert_eq!(check(text, target), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn problems_say_what_was_expected() {
        let unknown = check("FROM a\nFORM b\n", None).unwrap_err();
        assert_eq!(unknown.line(), Some(2));
        assert!(
            unknown.to_string().starts_with("an instruction (ADD, ARG,"),
            "{unknown}"
        );
        assert!(unknown.to_string().ends_with("not \"FORM\""), "{unknown}");
        let target = check("FROM a\n", Some("x")).unwrap_err();
        assert_eq!(target.line(), None);
        assert!(target.to_string().contains("names none"), "{target}");
    }
}
