//! Reading a Dockerfile's instructions: parser directives, comments, line continuations.
//!
//! This is not a full Dockerfile parser; it splits the file into logical instructions with the
//! line each starts on, which is what kiln needs to find `ARG` declarations, `FROM` lines and
//! builder-specific features.

use std::collections::BTreeMap;

/// One logical instruction: continuation lines joined, comments inside it dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line number where the instruction starts.
    pub line: usize,
    /// The instruction keyword, uppercased (`RUN`, `FROM`, ...).
    pub keyword: String,
    /// Everything after the keyword, continuation lines joined with a space.
    pub arguments: String,
}

/// Parser directives found at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Directives {
    /// `# syntax=...`, if present.
    pub syntax: Option<String>,
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: Option<char>,
}

/// A Dockerfile split into directives and instructions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dockerfile {
    /// Parser directives.
    pub directives: Directives,
    /// Instructions in order.
    pub instructions: Vec<Instruction>,
}

impl Dockerfile {
    /// Splits `text` into directives and logical instructions.
    pub fn parse(text: &str) -> Dockerfile {
        let mut directives = Directives::default();
        let mut lines = text.lines().enumerate().peekable();

        // Directives: `# key=value` lines before anything else; the first other line ends them.
        while let Some((_, line)) = lines.peek() {
            let Some((key, value)) = directive(line) else {
                break;
            };
            match key.as_str() {
                "syntax" if directives.syntax.is_none() => directives.syntax = Some(value),
                "escape" if directives.escape.is_none() => {
                    directives.escape = value.chars().next().filter(|c| matches!(c, '\\' | '`'));
                }
                _ => {}
            }
            lines.next();
        }
        let escape = directives.escape.unwrap_or('\\');

        let mut instructions = Vec::new();
        let mut current: Option<(usize, String)> = None;
        for (index, raw) in lines {
            let line = raw.trim_end_matches('\r');
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') {
                continue;
            }
            if current.is_none() && trimmed.is_empty() {
                continue;
            }
            let (content, continues) = match trimmed.trim_end().strip_suffix(escape) {
                Some(head) => (head, true),
                None => (trimmed, false),
            };
            let (_, text) = current.get_or_insert_with(|| (index + 1, String::new()));
            if !text.is_empty() && !content.trim().is_empty() {
                text.push(' ');
            }
            text.push_str(content.trim());
            if !continues && let Some((line, text)) = current.take() {
                instructions.extend(instruction(line, &text));
            }
        }
        if let Some((line, text)) = current {
            instructions.extend(instruction(line, &text));
        }
        Dockerfile {
            directives,
            instructions,
        }
    }

    /// Names declared by `ARG` instructions anywhere in the file.
    pub fn declared_args(&self) -> Vec<String> {
        let mut names = Vec::new();
        for instruction in self.instructions.iter().filter(|i| i.keyword == "ARG") {
            for declaration in instruction.arguments.split_whitespace() {
                let name = declaration.split('=').next().unwrap_or_default();
                if !name.is_empty() && !names.iter().any(|known| known == name) {
                    names.push(name.to_owned());
                }
            }
        }
        names
    }
}

impl Dockerfile {
    /// The images named by `FROM` lines that the builder would look up: `ARG`s declared before
    /// the first `FROM` are substituted (their defaults, overridden by `build_args`), flags such
    /// as `--platform` are skipped, and `scratch` and earlier stages (`AS name`) are left out.
    /// Each image appears once, in order.
    pub fn base_images(&self, build_args: &BTreeMap<String, String>) -> Vec<String> {
        let mut globals: BTreeMap<String, String> = BTreeMap::new();
        let mut stages: Vec<String> = Vec::new();
        let mut images: Vec<String> = Vec::new();
        let mut seen_from = false;
        for instruction in &self.instructions {
            match instruction.keyword.as_str() {
                "ARG" if !seen_from => {
                    for declaration in instruction.arguments.split_whitespace() {
                        let (name, default) = match declaration.split_once('=') {
                            Some((name, default)) => (name, Some(unquote(default))),
                            None => (declaration, None),
                        };
                        let value = match (build_args.get(name), default) {
                            (Some(given), _) => given.clone(),
                            (None, Some(default)) => substitute(&default, &globals),
                            (None, None) => String::new(),
                        };
                        globals.insert(name.to_owned(), value);
                    }
                }
                "FROM" => {
                    seen_from = true;
                    let mut words = instruction
                        .arguments
                        .split_whitespace()
                        .filter(|word| !word.starts_with("--"));
                    let Some(image) = words.next() else { continue };
                    let image = substitute(image, &globals);
                    let lowered = image.to_ascii_lowercase();
                    let is_stage = stages.contains(&lowered);
                    if let (Some(keyword), Some(stage)) = (words.next(), words.next())
                        && keyword.eq_ignore_ascii_case("as")
                    {
                        stages.push(stage.to_ascii_lowercase());
                    }
                    if lowered == "scratch" || is_stage || images.contains(&image) {
                        continue;
                    }
                    images.push(image);
                }
                _ => {}
            }
        }
        images
    }
}

fn unquote(value: &str) -> String {
    let quoted = value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')));
    if quoted {
        value[1..value.len() - 1].to_owned()
    } else {
        value.to_owned()
    }
}

/// Substitutes `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}` and
/// `${NAME+word}` from `values`, as the Dockerfile frontend does for `FROM` lines.
fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find('$') {
        out.push_str(&rest[..position]);
        let after = &rest[position + 1..];
        if let Some(braced) = after.strip_prefix('{') {
            let Some(end) = braced.find('}') else {
                out.push_str(&rest[position..]);
                return out;
            };
            out.push_str(&expand(&braced[..end], values));
            rest = &braced[end + 1..];
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if end == 0 {
                out.push('$');
            } else {
                out.push_str(values.get(&after[..end]).map_or("", String::as_str));
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

fn expand(expression: &str, values: &BTreeMap<String, String>) -> String {
    let operator = expression.find([':', '-', '+']);
    let Some(at) = operator else {
        return values.get(expression).cloned().unwrap_or_default();
    };
    let name = &expression[..at];
    let value = values.get(name);
    let (colon, operation, word) = match expression[at..].strip_prefix(':') {
        Some(tail) => (true, tail.chars().next(), tail.get(1..).unwrap_or_default()),
        None => (
            false,
            expression[at..].chars().next(),
            &expression[at + 1..],
        ),
    };
    let set = match value {
        Some(value) => !(colon && value.is_empty()),
        None => false,
    };
    match operation {
        Some('-') if set => value.cloned().unwrap_or_default(),
        Some('-') => substitute(word, values),
        Some('+') if set => substitute(word, values),
        Some('+') => String::new(),
        _ => value.cloned().unwrap_or_default(),
    }
}

fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix('#')?;
    let (key, value) = rest.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some((key.to_ascii_lowercase(), value.trim().to_owned()))
}

fn instruction(line: usize, text: &str) -> Option<Instruction> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let (keyword, arguments) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    Some(Instruction {
        line,
        keyword: keyword.to_ascii_uppercase(),
        arguments: arguments.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keywords(text: &str) -> Vec<(usize, String, String)> {
        Dockerfile::parse(text)
            .instructions
            .into_iter()
            .map(|i| (i.line, i.keyword, i.arguments))
            .collect()
    }

    #[test]
    fn continuations_and_comments() {
        let text = "FROM scratch\n\n# comment\nRUN a \\\n  # inside\n  b \\\n  c\ncopy . /x\n";
        assert_eq!(
            keywords(text),
            [
                (1, "FROM".into(), "scratch".into()),
                (4, "RUN".into(), "a b c".into()),
                (8, "COPY".into(), ". /x".into()),
            ]
        );
    }

    #[test]
    fn escape_directive_changes_the_continuation() {
        let text = "# escape=`\n# syntax=docker/dockerfile:1\nFROM scratch\nRUN a `\n b\n";
        let parsed = Dockerfile::parse(text);
        assert_eq!(parsed.directives.escape, Some('`'));
        assert_eq!(
            parsed.directives.syntax.as_deref(),
            Some("docker/dockerfile:1")
        );
        assert_eq!(parsed.instructions[1].arguments, "a b");
        assert_eq!(parsed.instructions[1].line, 4);
    }

    #[test]
    fn directives_end_at_the_first_other_line() {
        let parsed = Dockerfile::parse("FROM scratch\n# syntax=x\n");
        assert_eq!(parsed.directives.syntax, None);
    }

    fn bases(text: &str, args: &[(&str, &str)]) -> Vec<String> {
        let args = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Dockerfile::parse(text).base_images(&args)
    }

    #[test]
    fn base_images_skip_scratch_and_stages() {
        let text = "FROM scratch AS empty\nFROM --platform=$BUILDPLATFORM golang:1.22 AS build\n\
                    FROM build AS test\nFROM Build\nFROM alpine:3\nFROM golang:1.22\nFROM empty\n";
        assert_eq!(bases(text, &[]), ["golang:1.22", "alpine:3"]);
    }

    #[test]
    fn base_images_substitute_global_args() {
        let text = "ARG REGISTRY=local\nARG TAG\nARG IMAGE=${REGISTRY}/base\n\
                    FROM ${IMAGE}:${TAG:-1}\nARG LATE=x\nFROM $REGISTRY/other:${LATE:-late}\n";
        assert_eq!(bases(text, &[]), ["local/base:1", "local/other:late"]);
        assert_eq!(
            bases(text, &[("TAG", "2"), ("REGISTRY", "reg:5000")]),
            ["reg:5000/base:2", "reg:5000/other:late"]
        );
        assert_eq!(
            bases("ARG V=\"3.19\"\nFROM alpine:${V:+$V}\n", &[]),
            ["alpine:3.19"]
        );
    }

    #[test]
    fn declared_args() {
        let parsed = Dockerfile::parse("ARG A=1 B\nFROM scratch\nARG TARGETARCH\nARG A\n");
        assert_eq!(parsed.declared_args(), ["A", "B", "TARGETARCH"]);
    }
}
