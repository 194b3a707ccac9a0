//! Which BuildKit-only features a Dockerfile uses, each with the line it is written on — what
//! kiln's builder selection needs to choose BuildKit, or to fail saying which line needs it
//! (the builder choice is described in the README).
//!
//! Flags are read the way BuildKit reads them ([`crate::dockerfile::InstructionFlag`]): only
//! the `--name=value` words right after the keyword count, so `RUN echo --mount` and
//! `RUN sh -c "curl --network=none"` use nothing. Flag names are case-sensitive (BuildKit rejects
//! `--MOUNT` as an unknown flag); keywords are not. The flags of an `ONBUILD` trigger
//! (`ONBUILD RUN --mount=…`) are not reported: they only apply to the builds of images made
//! `FROM` this one. A heredoc is reported wherever it is, `ONBUILD` triggers included, since it
//! changes how this file itself is parsed.
//!
//! Versions below are those of the Dockerfile frontend (`docker/dockerfile:<version>`, see the
//! Dockerfile release notes in docker/docs); "labs" is the `docker/dockerfile:<version>-labs`
//! channel. Docker Engine 20.10 embeds BuildKit v0.8, whose built-in frontend is Dockerfile 1.2
//! without labs features (moby v20.10.x `vendor.conf`; moby/moby#41787); Docker Engine 23.0
//! embeds BuildKit v0.10, whose built-in frontend is Dockerfile 1.4.

use crate::dockerfile::{Dockerfile, Instruction, builder_flags, heredoc_offsets, shell_words};

/// The build args BuildKit sets automatically from the build and target platforms. The classic
/// builder does not set them (they are empty unless passed with `--build-arg`).
pub const PLATFORM_ARGS: [&str; 8] = [
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
];

/// One use of a BuildKit-only feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    /// 1-based line where the feature is written (for a flag on a continuation line, that line).
    pub line: usize,
    /// What it is.
    pub kind: FeatureKind,
    /// The keyword of the instruction it is in, uppercased (`RUN`, `COPY`, `ADD`, `FROM`,
    /// `ARG`, …); `None` for the `# syntax=` directive.
    pub instruction: Option<String>,
    /// The flag or construct as written: `--mount=type=cache,target=/root/.cache`, `<<-"EOF"`,
    /// `${TARGETARCH:-amd64}`, `TARGETARCH=amd64` (an `ARG` declaration). The directive is
    /// given as `# syntax=<value>` whatever its spacing.
    pub text: String,
}

/// The BuildKit-only features kiln recognises.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeatureKind {
    /// `RUN --mount=…` (cache, bind, tmpfs, secret, ssh mounts). Stable since Dockerfile 1.2
    /// (experimental channel before), so the frontend built into Docker Engine 20.10 has it; the
    /// classic builder rejects it ("the --mount option requires BuildKit").
    RunMount,
    /// `RUN --network=…`. Labs-only in Dockerfile 1.2 (so Docker Engine 20.10's built-in
    /// frontend rejects it as an unknown flag); stable since Dockerfile 1.3.
    RunNetwork,
    /// `RUN --security=…`. Labs-only since Dockerfile 1.1.2-experimental, stable only since
    /// Dockerfile 1.20; `--security=insecure` also needs the `security.insecure` entitlement.
    RunSecurity,
    /// `COPY --link` / `ADD --link`. Dockerfile 1.4.
    Link,
    /// `COPY --chmod` / `ADD --chmod` (moby/buildkit#1492, in the frontend built into Docker
    /// Engine 20.10). The classic builder rejects it ("the --chmod option requires BuildKit").
    /// Non-octal modes such as `u+x` need a newer frontend; that is not checked here.
    Chmod,
    /// `COPY --parents`. Dockerfile 1.7-labs; stable since Dockerfile 1.20.
    Parents,
    /// `COPY --exclude` / `ADD --exclude`. Dockerfile 1.7-labs; stable since Dockerfile 1.19.
    Exclude,
    /// `ADD --checksum`. Dockerfile 1.5-labs; stable since Dockerfile 1.6.
    Checksum,
    /// A heredoc in `RUN`, `COPY` or `ADD` (see [`crate::dockerfile::Heredoc`]). Dockerfile
    /// 1.3-labs; stable since Dockerfile 1.4.
    Heredoc,
    /// A `# syntax=` parser directive: it makes BuildKit fetch and run that frontend image; the
    /// classic builder treats it as a comment. Only the `#` form among the parser directives at
    /// the top is recognised (the Dockerfile 1.5+ frontend also reads `// syntax=`, a JSON
    /// `{"syntax": …}` file, and a directive after a `#!` first line).
    SyntaxDirective,
    /// One of [`PLATFORM_ARGS`], declared with `ARG` (in any stage or globally) or referenced as
    /// `$NAME`, `${NAME}`, `${NAME:-word}`, … anywhere in an instruction or in the body of a
    /// heredoc whose delimiter is not quoted (text inside single quotes counts too; a `$`
    /// escaped with `\` or the escape character does not).
    PlatformArg {
        /// The arg, e.g. `TARGETARCH`.
        name: String,
    },
}

impl FeatureKind {
    /// A short name: `RUN --mount`, `COPY/ADD --link`, `heredoc`, `# syntax= directive`,
    /// `automatic platform arg TARGETARCH`.
    pub fn name(&self) -> String {
        match self {
            FeatureKind::RunMount => "RUN --mount".to_owned(),
            FeatureKind::RunNetwork => "RUN --network".to_owned(),
            FeatureKind::RunSecurity => "RUN --security".to_owned(),
            FeatureKind::Link => "COPY/ADD --link".to_owned(),
            FeatureKind::Chmod => "COPY/ADD --chmod".to_owned(),
            FeatureKind::Parents => "COPY --parents".to_owned(),
            FeatureKind::Exclude => "COPY/ADD --exclude".to_owned(),
            FeatureKind::Checksum => "ADD --checksum".to_owned(),
            FeatureKind::Heredoc => "heredoc".to_owned(),
            FeatureKind::SyntaxDirective => "# syntax= directive".to_owned(),
            FeatureKind::PlatformArg { name } => format!("automatic platform arg {name}"),
        }
    }

    /// The kind of builder flag `--name` on `keyword`, if it is a BuildKit-only one.
    fn of_flag(keyword: &str, name: &str) -> Option<FeatureKind> {
        Some(match (keyword, name) {
            ("RUN", "mount") => FeatureKind::RunMount,
            ("RUN", "network") => FeatureKind::RunNetwork,
            ("RUN", "security") => FeatureKind::RunSecurity,
            ("COPY" | "ADD", "link") => FeatureKind::Link,
            ("COPY" | "ADD", "chmod") => FeatureKind::Chmod,
            ("COPY", "parents") => FeatureKind::Parents,
            ("COPY" | "ADD", "exclude") => FeatureKind::Exclude,
            ("ADD", "checksum") => FeatureKind::Checksum,
            _ => return None,
        })
    }
}

impl Feature {
    /// A sentence for messages, e.g.
    /// `line 3: RUN --mount=type=cache,target=/root/.cache needs BuildKit`.
    pub fn describe(&self) -> String {
        let line = self.line;
        let text = &self.text;
        let keyword = self.instruction.as_deref().unwrap_or_default();
        match &self.kind {
            FeatureKind::SyntaxDirective => format!("line {line}: {text} needs BuildKit"),
            FeatureKind::Heredoc => format!("line {line}: {keyword} heredoc {text} needs BuildKit"),
            FeatureKind::PlatformArg { name } => format!(
                "line {line}: {keyword} {text}: the automatic platform arg {name} needs BuildKit"
            ),
            _ => format!("line {line}: {keyword} {text} needs BuildKit"),
        }
    }
}

/// Every BuildKit-only feature, in file order (a line may have several, in the order they are
/// written).
pub fn buildkit_features(dockerfile: &Dockerfile) -> Vec<Feature> {
    let mut found: Vec<((usize, usize), Feature)> = Vec::new();
    if let (Some(syntax), Some(line)) = (
        &dockerfile.directives.syntax,
        dockerfile.directives.syntax_line,
    ) {
        let feature = Feature {
            line,
            kind: FeatureKind::SyntaxDirective,
            instruction: None,
            text: format!("# syntax={syntax}"),
        };
        found.push(((line, 0), feature));
    }
    let escape = dockerfile.directives.escape.unwrap_or('\\');
    for instruction in &dockerfile.instructions {
        instruction_features(instruction, escape, &mut found);
    }
    found.sort_by_key(|(position, _)| *position);
    found.into_iter().map(|(_, feature)| feature).collect()
}

fn instruction_features(
    instruction: &Instruction,
    escape: char,
    found: &mut Vec<((usize, usize), Feature)>,
) {
    let keyword = instruction.keyword.as_str();
    let logical = instruction.logical();
    let text = logical.text.as_str();
    let mut push = |position: (usize, usize), kind: FeatureKind, written: &str| {
        let feature = Feature {
            line: position.0,
            kind,
            instruction: Some(keyword.to_owned()),
            text: written.to_owned(),
        };
        found.push((position, feature));
    };

    let (flags, _) = builder_flags(text, logical.after_keyword());
    for (range, word) in flags {
        let body = word.strip_prefix("--").unwrap_or(&word);
        let name = body.split_once('=').map_or(body, |(name, _)| name);
        if let Some(kind) = FeatureKind::of_flag(keyword, name) {
            push(logical.position(range.start), kind, &text[range]);
        }
    }

    for offset in heredoc_offsets(instruction) {
        let (_, word) = shell_words(&text[offset..])
            .into_iter()
            .next()
            .unwrap_or_default();
        push(logical.position(offset), FeatureKind::Heredoc, word);
    }

    if keyword == "ARG" {
        for (start, word) in shell_words(&text[logical.after_keyword()..]) {
            let name = word.split_once('=').map_or(word, |(name, _)| name);
            if PLATFORM_ARGS.contains(&name) {
                let offset = logical.after_keyword() + start;
                let kind = FeatureKind::PlatformArg {
                    name: name.to_owned(),
                };
                push(logical.position(offset), kind, word);
            }
        }
    }
    for (range, name) in platform_references(text, escape) {
        let kind = FeatureKind::PlatformArg {
            name: name.to_owned(),
        };
        push(logical.position(range.start), kind, &text[range]);
    }
    for heredoc in instruction.heredocs.iter().filter(|h| !h.quoted) {
        for (index, line) in heredoc.body.split_inclusive('\n').enumerate() {
            for (range, name) in platform_references(line, escape) {
                let kind = FeatureKind::PlatformArg {
                    name: name.to_owned(),
                };
                push((heredoc.body_line + index, range.start), kind, &line[range]);
            }
        }
    }
}

/// References to [`PLATFORM_ARGS`] in `text`: `$NAME` or `${NAME…}` (up to the closing brace),
/// not preceded by `\` or the escape character.
fn platform_references(text: &str, escape: char) -> Vec<(std::ops::Range<usize>, &'static str)> {
    let bytes = text.as_bytes();
    let is_name = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'\\' || char::from(byte) == escape {
            at += 2;
            continue;
        }
        if byte != b'$' {
            at += 1;
            continue;
        }
        let braced = bytes.get(at + 1) == Some(&b'{');
        let name_start = at + 1 + usize::from(braced);
        let name_len = bytes[name_start.min(bytes.len())..]
            .iter()
            .take_while(|b| is_name(b))
            .count();
        let name_end = name_start + name_len;
        let end = if braced {
            bytes[name_end..]
                .iter()
                .position(|&b| b == b'}')
                .map_or(name_end, |close| name_end + close + 1)
        } else {
            name_end
        };
        let name = &text[name_start.min(text.len())..name_end.min(text.len())];
        if let Some(known) = PLATFORM_ARGS.iter().find(|known| **known == name) {
            found.push((at..end, *known));
        }
        at = end.max(at + 1);
    }
    found
}

/// What the `# syntax=` directive selects, as far as this module can tell.
enum Frontend {
    /// `docker/dockerfile:1.<minor>…` (or the built-in frontend of that version).
    Version { minor: u32, labs: bool },
    /// The newest 1.x (`docker/dockerfile:1`, `:latest`, `:1-labs`, no tag, …).
    Latest,
    /// Another image or tag: nothing can be said.
    Unknown,
}

impl Frontend {
    /// Docker Engine 20.10's built-in frontend: Dockerfile 1.2, no labs features.
    const ENGINE_20_10: Frontend = Frontend::Version {
        minor: 2,
        labs: false,
    };

    fn of_directive(syntax: &str) -> Frontend {
        // BuildKit takes the directive's first word as the image reference.
        let reference = syntax.split_whitespace().next().unwrap_or_default();
        let reference = reference.split('@').next().unwrap_or_default();
        let (repository, tag) = match reference.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag)),
            _ => (reference, None),
        };
        let repository = repository.to_ascii_lowercase();
        if !(repository.ends_with("docker/dockerfile")
            || repository.ends_with("docker/dockerfile-upstream"))
        {
            return Frontend::Unknown;
        }
        let Some(tag) = tag else {
            return Frontend::Latest;
        };
        if matches!(tag, "latest" | "labs" | "master" | "master-labs") {
            return Frontend::Latest;
        }
        let (number, suffix) = tag.split_once('-').unwrap_or((tag, ""));
        let labs = suffix.contains("labs") || suffix.contains("experimental");
        let mut parts = number.split('.').map(str::parse::<u32>);
        match (parts.next(), parts.next()) {
            (Some(Ok(1)), None) => Frontend::Latest,
            (Some(Ok(1)), Some(Ok(minor))) => Frontend::Version { minor, labs },
            (Some(Ok(major)), _) if major > 1 => Frontend::Latest,
            _ => Frontend::Unknown,
        }
    }

    fn supports(&self, requirement: &Requirement) -> bool {
        match *self {
            Frontend::Version { minor, labs } => {
                minor >= requirement.stable || (labs && minor >= requirement.labs)
            }
            Frontend::Latest | Frontend::Unknown => true,
        }
    }
}

/// The Dockerfile 1.x minor versions that have a feature, and what to do without them.
struct Requirement {
    stable: u32,
    labs: u32,
    remedy: &'static str,
}

const NETWORK: Requirement = Requirement {
    stable: 3,
    labs: 2,
    remedy: "put `# syntax=docker/dockerfile:1.3` (or a later 1.x) on the first line, replacing \
             any older `# syntax=` (the daemon must be able to pull docker/dockerfile:1.3), or \
             build with Docker Engine 23 or later, whose built-in Dockerfile frontend is 1.4",
};

const SYNTAX_1_4: Requirement = Requirement {
    stable: 4,
    labs: 3,
    remedy: "put `# syntax=docker/dockerfile:1.4` (or a later 1.x) on the first line, replacing \
             any older `# syntax=` (the daemon must be able to pull docker/dockerfile:1.4), or \
             build with Docker Engine 23 or later, whose built-in Dockerfile frontend is 1.4",
};

const LINK: Requirement = Requirement {
    labs: 4,
    ..SYNTAX_1_4
};

const SECURITY: Requirement = Requirement {
    stable: 20,
    labs: 2,
    remedy: "put `# syntax=docker/dockerfile:1.20` (or a later 1.x, or \
             `docker/dockerfile:1-labs`) on the first line, replacing any older `# syntax=` \
             (the daemon must be able to pull that image); `--security=insecure` also needs a \
             builder that allows the security.insecure entitlement",
};

const PARENTS: Requirement = Requirement {
    stable: 20,
    labs: 7,
    remedy: "put `# syntax=docker/dockerfile:1.20` (or a later 1.x, or \
             `docker/dockerfile:1.7-labs` or a later labs image) on the first line, replacing any \
             older `# syntax=` (the daemon must be able to pull that image)",
};

const EXCLUDE: Requirement = Requirement {
    stable: 19,
    labs: 7,
    remedy: "put `# syntax=docker/dockerfile:1.19` (or a later 1.x, or \
             `docker/dockerfile:1.7-labs` or a later labs image) on the first line, replacing any \
             older `# syntax=` (the daemon must be able to pull that image)",
};

const CHECKSUM: Requirement = Requirement {
    stable: 6,
    labs: 5,
    remedy: "put `# syntax=docker/dockerfile:1.6` (or a later 1.x) on the first line, replacing \
             any older `# syntax=` (the daemon must be able to pull docker/dockerfile:1.6)",
};

fn requirement(kind: &FeatureKind) -> Option<&'static Requirement> {
    match kind {
        FeatureKind::RunNetwork => Some(&NETWORK),
        FeatureKind::RunSecurity => Some(&SECURITY),
        FeatureKind::Link => Some(&LINK),
        FeatureKind::Heredoc => Some(&SYNTAX_1_4),
        FeatureKind::Parents => Some(&PARENTS),
        FeatureKind::Exclude => Some(&EXCLUDE),
        FeatureKind::Checksum => Some(&CHECKSUM),
        _ => None,
    }
}

/// Features that even the BuildKit frontend built into Docker Engine 20.10 (Dockerfile 1.2,
/// without labs features) rejects, each with what would make it work.
///
/// On 20.10's built-in frontend these fail: `RUN --network` and `RUN --security` (labs-only
/// there: "unknown flag"), `COPY/ADD --link` (1.4: "unknown flag"), heredocs (1.3-labs, stable
/// in 1.4: the body lines are parsed as instructions, or `<<EOF` is taken as a file name), and
/// the newer `COPY --parents`, `COPY/ADD --exclude`, `ADD --checksum`. `RUN --mount`,
/// `COPY/ADD --chmod`, the `# syntax=` directive and the automatic platform args work there.
///
/// A `# syntax=` directive replaces the built-in frontend: `docker/dockerfile:1.<n>[-labs]`
/// (also `docker/dockerfile-upstream` and mirrors ending in `docker/dockerfile`) is judged by
/// its version, `docker/dockerfile:1`, `:latest` or no tag as the newest 1.x (nothing
/// reported), and any other frontend or tag is not judged (nothing reported).
pub fn needs_newer_frontend(dockerfile: &Dockerfile) -> Vec<(Feature, &'static str)> {
    let frontend = match &dockerfile.directives.syntax {
        Some(syntax) => Frontend::of_directive(syntax),
        None => Frontend::ENGINE_20_10,
    };
    buildkit_features(dockerfile)
        .into_iter()
        .filter_map(|feature| {
            let requirement = requirement(&feature.kind)?;
            (!frontend.supports(requirement)).then_some((feature, requirement.remedy))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dockerfiles for the snapshots: one feature alone, then the tricky cases.
    const CASES: &[(&str, &str)] = &[
        (
            "run_mount",
            "FROM python:3\nRUN --mount=type=cache,target=/root/.cache pip install -r req.txt\n",
        ),
        ("run_network", "FROM alpine\nRUN --network=none make test\n"),
        (
            "run_security",
            "FROM alpine\nRUN --security=insecure mount -t tmpfs none /mnt\n",
        ),
        (
            "link",
            "FROM alpine\nCOPY --link src/ /app/\nADD --link=true https://example.com/a.tgz /a/\n",
        ),
        (
            "other_copy_flags",
            "FROM alpine AS build\nCOPY --chmod=755 --chown=1:1 run.sh /\nADD --chmod=0644 a /b\n\
             COPY --parents a/b/c /dst/\nCOPY --exclude=*.md . /src/\n\
             ADD --checksum=sha256:0123 https://example.com/x /x\nFROM scratch\n\
             COPY --from=build /app /app\nHEALTHCHECK --interval=5s CMD true\n",
        ),
        (
            "syntax_directive",
            "# syntax=docker/dockerfile:1\nFROM alpine\n",
        ),
        (
            "syntax_directive_after_escape",
            "# escape=\\\n#  syntax = docker/dockerfile:1.4\n\nFROM alpine\n",
        ),
        (
            "continuation_lines",
            "FROM alpine\nRUN --network=host \\\n    --mount=type=ssh \\\n    git clone x\n\
             COPY \\\n  --link \\\n  a /b\n",
        ),
        (
            "flag_split_by_a_continuation",
            "FROM alpine\nRUN --mount=type=cache,\\\ntarget=/root/.cache make\n",
        ),
        (
            "escape_backtick",
            "# escape=`\nFROM mcr.microsoft.com/windows/servercore\nRUN `\n  --mount=type=secret,id=npm `\n  npm ci\nRUN echo \\\nRUN --network=none dir\n",
        ),
        (
            "comments_between_continuations",
            "FROM alpine\nRUN --mount=type=cache,target=/a \\\n# the next flag explains itself\n    \
             --mount=type=cache,target=/b \\\n\n  # and a blank line above\n    make\n",
        ),
        (
            "heredoc_single",
            "# syntax=docker/dockerfile:1\nFROM alpine\nRUN <<EOF\napk add git\nEOF\nRUN true\n",
        ),
        (
            "heredoc_multiple",
            "FROM nginx\nCOPY <<robots.txt <<humans.txt /usr/share/nginx/html/\nUser-agent: *\n\
             robots.txt\nMe\nhumans.txt\nRUN python3 <<EOF > /hello\nprint(1)\nEOF\n",
        ),
        (
            "heredoc_dash",
            "FROM alpine\nRUN <<-EOT\n\techo $TARGETARCH\n\tEOT\nRUN --network=none true\n",
        ),
        (
            "heredoc_quoted",
            "FROM alpine\nRUN <<'EOF'\necho $TARGETARCH\nEOF\nCOPY <<\"A\" <<B /x/\n${BUILDOS}\nA\n${BUILDOS}\nB\n",
        ),
        (
            "heredoc_unterminated",
            "FROM alpine\nRUN <<EOF\nRUN --mount=type=cache,target=/x true\n",
        ),
        (
            "heredoc_with_eof_in_the_body",
            "FROM alpine\nRUN <<EOF\necho EOF\n  EOF\nEOF \nEOF\nRUN --network=none true\n",
        ),
        (
            "heredoc_in_onbuild",
            "FROM alpine\nONBUILD RUN --mount=type=cache,target=/x <<EOF\ntrue\nEOF\n",
        ),
        (
            "platform_args",
            "ARG TARGETARCH\nARG BUILDPLATFORM=linux/amd64 VERSION=1\n\
             FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nARG TARGETOS TARGETARCH\n\
             RUN GOOS=${TARGETOS} GOARCH=${TARGETARCH:-amd64} go build \\\n    \
             -o /out/app-$TARGETVARIANT\nFROM alpine\n\
             ENV P=\"${TARGETPLATFORM}\" A=${BUILDARCH-x} V=${BUILDVARIANT:+v} O=${BUILDOS}\n",
        ),
        (
            "platform_arg_look_alikes",
            "FROM alpine\nARG TARGETARCHX targetarch\nRUN echo $TARGETARCHX $targetarch \\$TARGETOS ${TARGETOSX}\n\
             # ARG TARGETARCH in a comment\n",
        ),
        (
            "false_friends",
            "FROM alpine\nRUN echo --mount=type=cache,target=/x\n\
             RUN sh -c \"docker run --network=host x\" --security=insecure\n\
             ENV X=<<EOF\nLABEL y=\"<<EOF\"\nRUN cat a<<EOF\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\n\
             # syntax=docker/dockerfile:1\nRUN --MOUNT=type=cache,target=/x true\n\
             COPY a b --link\nRUN -- --network=none\nCOPY --mount=type=cache . /\n",
        ),
        (
            "keywords_in_any_case",
            "from alpine\nrun --mount=type=cache,target=/x true\nCopy --link a b\nrun <<eof\nhi\neof\n\
             arg TARGETARCH\n",
        ),
        (
            "nothing_buildkit_only",
            "# escape=\\\nARG BASE=alpine:3.19\nFROM --platform=linux/amd64 ${BASE} AS build\n\
             COPY --chown=app:app . /src\nRUN make \\\n  && make install\nFROM build\n\
             COPY --from=build /out /out\nHEALTHCHECK --interval=5s CMD [\"true\"]\nCMD [\"/out/app\"]\n",
        ),
    ];

    fn render(text: &str) -> String {
        let mut out = String::from("Dockerfile:\n");
        for (index, line) in text.lines().enumerate() {
            out.push_str(&format!("{:>3} | {line}\n", index + 1));
        }
        out.push_str("features:\n");
        let features = buildkit_features(&Dockerfile::parse(text));
        if features.is_empty() {
            out.push_str("(none)\n");
        }
        for feature in features {
            let (line, kind, text) = (feature.line, feature.kind.name(), feature.text);
            out.push_str(&format!("line {line}: {kind}: {text}\n"));
        }
        out
    }

    #[test]
    fn features_snapshots() {
        for (name, text) in CASES {
            insta::assert_snapshot!(*name, render(text));
        }
    }

    #[test]
    fn describe_names_the_line_and_the_construct() {
        let text = "# syntax=docker/dockerfile:1\nFROM --platform=$BUILDPLATFORM alpine\n\
                    RUN --mount=type=cache,target=/root/.cache \\\n  <<EOF\nEOF\nADD --link a b\n";
        let described: Vec<_> = buildkit_features(&Dockerfile::parse(text))
            .iter()
            .map(Feature::describe)
            .collect();
        assert_eq!(
            described,
            [
                "line 1: # syntax=docker/dockerfile:1 needs BuildKit",
                "line 2: FROM $BUILDPLATFORM: the automatic platform arg BUILDPLATFORM needs \
                 BuildKit",
                "line 3: RUN --mount=type=cache,target=/root/.cache needs BuildKit",
                "line 4: RUN heredoc <<EOF needs BuildKit",
                "line 6: ADD --link needs BuildKit",
            ]
        );
    }

    fn newer(text: &str) -> Vec<(usize, String)> {
        needs_newer_frontend(&Dockerfile::parse(text))
            .into_iter()
            .map(|(feature, _)| (feature.line, feature.kind.name()))
            .collect()
    }

    const EVERYTHING: &str = "FROM alpine\nRUN --mount=type=cache,target=/x --network=none \
                              --security=sandbox true\nCOPY --link --chmod=755 --parents a /b\n\
                              ADD --exclude=x --checksum=sha256:00 https://e.com/f /f\n\
                              RUN <<EOF\nEOF\nARG TARGETARCH\n";

    #[test]
    fn what_engine_20_10_rejects() {
        let found = needs_newer_frontend(&Dockerfile::parse(EVERYTHING));
        let mut report = String::new();
        for (feature, remedy) in &found {
            report.push_str(&format!("{}\n  -> {remedy}\n", feature.describe()));
        }
        insta::assert_snapshot!(report);
    }

    #[test]
    fn a_syntax_directive_selects_the_frontend_to_judge() {
        // The features of EVERYTHING that need more than 1.2, in order, with their lines.
        const NEWER: [(usize, &str); 7] = [
            (3, "RUN --network"),
            (3, "RUN --security"),
            (4, "COPY/ADD --link"),
            (4, "COPY --parents"),
            (5, "COPY/ADD --exclude"),
            (5, "ADD --checksum"),
            (6, "heredoc"),
        ];
        let with = |syntax: &str| newer(&format!("# syntax={syntax}\n{EVERYTHING}"));
        let only = |names: &[&str]| -> Vec<(usize, String)> {
            NEWER
                .iter()
                .filter(|(_, name)| names.contains(name))
                .map(|(line, name)| (*line, (*name).to_owned()))
                .collect()
        };
        let all = NEWER.map(|(_, name)| name);
        assert_eq!(with("docker/dockerfile:1.2"), only(&all));
        assert_eq!(
            with("docker/dockerfile:1.3"),
            only(&all[1..]),
            "1.3 has --network"
        );
        assert_eq!(
            with("docker/dockerfile:1.3-labs"),
            only(&all[2..6]),
            "1.3-labs has --network, --security and heredocs"
        );
        assert_eq!(
            with("docker.io/docker/dockerfile:1.4.3@sha256:abc"),
            only(&[all[1], all[3], all[4], all[5]])
        );
        assert_eq!(
            with("docker/dockerfile:1.7-labs"),
            only(&[]),
            "1.7-labs has all"
        );
        assert_eq!(with("docker/dockerfile:1.19"), only(&[all[1], all[3]]));
        for judged_newest_or_unknown in [
            "docker/dockerfile:1",
            "docker/dockerfile",
            "docker/dockerfile:1-labs",
            "docker/dockerfile-upstream:master",
            "docker/dockerfile:1.20",
            "mirror.example.com/docker/dockerfile:1",
            "example.com/my/frontend:1.0",
            "docker/dockerfile:experimental",
        ] {
            assert_eq!(
                with(judged_newest_or_unknown),
                only(&[]),
                "{judged_newest_or_unknown}"
            );
        }
    }

    #[test]
    fn nothing_to_report_without_features() {
        assert!(newer("FROM alpine\nRUN --mount=type=cache,target=/x true\n").is_empty());
        assert!(buildkit_features(&Dockerfile::parse("")).is_empty());
    }
}
