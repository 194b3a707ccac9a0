//! Reading a Dockerfile's instructions: parser directives, comments, line continuations.
//!
//! This is not a full Dockerfile parser; it splits the file into logical instructions with the
//! line each starts on, which is what kiln needs to find `ARG` declarations, `FROM` lines and
//! builder-specific features.

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

    #[test]
    fn declared_args() {
        let parsed = Dockerfile::parse("ARG A=1 B\nFROM scratch\nARG TARGETARCH\nARG A\n");
        assert_eq!(parsed.declared_args(), ["A", "B", "TARGETARCH"]);
    }
}
