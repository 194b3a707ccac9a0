//! Unit tests of the Dockerfile reader: directives, continuations, heredocs, flags and FROM lines.

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
    let lines = Dockerfile::parse(text).base_image_lines(&BTreeMap::new());
    assert_eq!(
        lines,
        [("golang:1.22".to_owned(), 2), ("alpine:3".to_owned(), 5)]
    );
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

/// A heredoc as `(opening line, delimiter, body, terminated)`.
type Doc = (usize, String, String, bool);

fn heredocs(text: &str) -> Vec<(usize, String, Vec<Doc>)> {
    Dockerfile::parse(text)
        .instructions
        .into_iter()
        .map(|i| {
            let docs = i
                .heredocs
                .into_iter()
                .map(|h| (h.line, h.delimiter, h.body, h.terminated))
                .collect();
            (i.line, i.keyword, docs)
        })
        .collect()
}

fn doc(line: usize, delimiter: &str, body: &str) -> Doc {
    (line, delimiter.into(), body.into(), true)
}

#[test]
fn heredoc_bodies_are_not_instructions() {
    let text = "FROM alpine\nRUN <<EOF\nFROM evil\n# not a comment\n\nEOF\nCOPY a b\n";
    let parsed = Dockerfile::parse(text);
    assert_eq!(
        keywords(text),
        [
            (1, "FROM".into(), "alpine".into()),
            (2, "RUN".into(), "<<EOF".into()),
            (7, "COPY".into(), "a b".into()),
        ]
    );
    let heredoc = &parsed.instructions[1].heredocs[0];
    assert_eq!(heredoc.body, "FROM evil\n# not a comment\n\n");
    assert_eq!((heredoc.line, heredoc.body_line), (2, 3));
    assert!(heredoc.terminated && !heredoc.quoted && !heredoc.strip_tabs);
}

#[test]
fn several_heredocs_take_their_bodies_in_turn() {
    let text = "COPY <<a.txt <<b.txt /dest/\none\na.txt\ntwo\nthree\nb.txt\nRUN true\n";
    assert_eq!(
        heredocs(text),
        [
            (
                1,
                "COPY".into(),
                vec![doc(1, "a.txt", "one\n"), doc(1, "b.txt", "two\nthree\n")]
            ),
            (7, "RUN".into(), vec![]),
        ]
    );
    let parsed = Dockerfile::parse(text);
    assert_eq!(parsed.instructions[0].heredocs[1].body_line, 4);
}

#[test]
fn heredoc_after_other_words_and_on_a_continuation_line() {
    let text = "RUN python3 <<EOF > /out\nprint(1)\nEOF\nRUN set -e; \\\n  cat \\\n  <<'END'\n$x\nEND\nRUN done\n";
    assert_eq!(
        heredocs(text),
        [
            (1, "RUN".into(), vec![doc(1, "EOF", "print(1)\n")]),
            (4, "RUN".into(), vec![doc(6, "END", "$x\n")]),
            (9, "RUN".into(), vec![]),
        ]
    );
    let parsed = Dockerfile::parse(text);
    assert!(parsed.instructions[1].heredocs[0].quoted);
    assert_eq!(parsed.instructions[1].heredocs[0].body_line, 7);
    assert_eq!(parsed.instructions[1].arguments, "set -e; cat <<'END'");
}

#[test]
fn dash_strips_leading_tabs_from_body_and_terminator() {
    let text = "RUN <<-EOT\n\techo a\n\t\techo b\n  echo c\n\tEOT\nRUN x\n";
    assert_eq!(
        heredocs(text),
        [
            (
                1,
                "RUN".into(),
                vec![doc(1, "EOT", "echo a\necho b\n  echo c\n")]
            ),
            (6, "RUN".into(), vec![]),
        ]
    );
    // Without `-`, an indented terminator is body text.
    let unterminated = heredocs("RUN <<EOT\n\tEOT\n");
    assert_eq!(
        unterminated[0].2,
        [(1, "EOT".into(), "\tEOT\n".into(), false)]
    );
}

#[test]
fn quoted_delimiters() {
    for (opening, quoted) in [
        ("<<\"EOF\"", true),
        ("<<'EOF'", true),
        ("<<E\"O\"F", true),
        ("<<-'EOF'", true),
        ("<<EOF", false),
        ("3<<EOF", false),
    ] {
        let parsed = Dockerfile::parse(&format!("RUN cat {opening}\nbody\nEOF\nRUN x\n"));
        assert_eq!(parsed.instructions.len(), 2, "{opening}");
        let heredoc = &parsed.instructions[0].heredocs[0];
        assert_eq!(heredoc.delimiter, "EOF", "{opening}");
        assert_eq!(heredoc.body, "body\n", "{opening}");
        assert_eq!(heredoc.quoted, quoted, "{opening}");
    }
}

#[test]
fn the_delimiter_must_be_a_whole_line() {
    let text = "RUN <<EOF\necho EOF\nEOF \n EOF\nEOFX\nEOF\nRUN x\n";
    assert_eq!(
        heredocs(text),
        [
            (
                1,
                "RUN".into(),
                vec![doc(1, "EOF", "echo EOF\nEOF \n EOF\nEOFX\n")]
            ),
            (7, "RUN".into(), vec![]),
        ]
    );
}

#[test]
fn unterminated_heredoc_runs_to_the_end() {
    let text = "FROM a\nRUN <<EOF <<TWO\nRUN b\nCOPY c d";
    let parsed = Dockerfile::parse(text);
    assert_eq!(parsed.instructions.len(), 2);
    let docs = &parsed.instructions[1].heredocs;
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].body, "RUN b\nCOPY c d");
    assert!(!docs[0].terminated && !docs[1].terminated);
    assert_eq!(docs[1].body, "");
}

#[test]
fn what_does_not_open_a_heredoc() {
    for text in [
        "ENV X=<<EOF\nFROM y\n",
        "LABEL a=<<EOF\nFROM y\n",
        "RUN cat a<<EOF\nFROM y\n",
        "RUN echo \"<<EOF\"\nFROM y\n",
        "RUN echo '<<EOF'\nFROM y\n",
        "RUN cat <<<EOF\nFROM y\n",
        "RUN cat <<\nFROM y\n",
        "RUN [\"sh\", \"-c\", \"cat <<EOF\"]\nFROM y\n",
        "COPY --chown=1 [\"<<EOF\", \"/x\"]\nFROM y\n",
        "ONBUILD ENV a=<<EOF\nFROM y\n",
    ] {
        let parsed = Dockerfile::parse(text);
        assert_eq!(parsed.instructions.len(), 2, "{text}");
        assert!(parsed.instructions[0].heredocs.is_empty(), "{text}");
        assert_eq!(parsed.instructions[1].line, 2, "{text}");
    }
}

#[test]
fn onbuild_triggers_open_heredocs() {
    let text = "onbuild run --network=none <<EOF\necho\nEOF\nFROM y\n";
    assert_eq!(
        heredocs(text),
        [
            (1, "ONBUILD".into(), vec![doc(1, "EOF", "echo\n")]),
            (4, "FROM".into(), vec![]),
        ]
    );
}

#[test]
fn crlf_bodies_keep_their_line_endings() {
    let text = "RUN <<EOF\r\na\r\nEOF\r\nRUN b\r\n";
    let parsed = Dockerfile::parse(text);
    assert_eq!(parsed.instructions[0].heredocs[0].body, "a\r\n");
    assert_eq!(parsed.instructions[1].line, 4);
    assert_eq!(parsed.instructions[1].arguments, "b");
}

#[test]
fn blank_lines_inside_a_continuation_are_skipped() {
    let text = "RUN a \\\n\n   \n  b\nRUN c\n";
    assert_eq!(
        keywords(text),
        [
            (1, "RUN".into(), "a b".into()),
            (5, "RUN".into(), "c".into()),
        ]
    );
}

#[test]
fn an_escaped_escape_does_not_continue() {
    let text = "RUN echo a\\\\\nRUN b\n";
    assert_eq!(
        keywords(text),
        [
            (1, "RUN".into(), "echo a\\\\".into()),
            (2, "RUN".into(), "b".into()),
        ]
    );
}

#[test]
fn unknown_directives_end_the_directives() {
    let parsed = Dockerfile::parse("# foo=bar\n# syntax=docker/dockerfile:1\nFROM x\n");
    assert_eq!(parsed.directives.syntax, None);
    let parsed = Dockerfile::parse(
        "\u{feff}# check=skip=all\n#Syntax = docker/dockerfile:1.4\n# escape=`\nFROM x\n",
    );
    assert_eq!(
        parsed.directives.syntax.as_deref(),
        Some("docker/dockerfile:1.4")
    );
    assert_eq!(parsed.directives.syntax_line, Some(2));
    assert_eq!(parsed.directives.escape, Some('`'));
    assert_eq!(
        Dockerfile::parse("# syntax=\nFROM x\n").directives.syntax,
        None
    );
}

#[test]
fn flags_come_with_their_lines() {
    let text = "RUN --mount=type=cache,target=/a \\\n    --network=\"no ne\" \\\n  \
                    # comment\n    --security=insecure -- --mount=x echo --mount\n";
    let parsed = Dockerfile::parse(text);
    let flags: Vec<_> = parsed.instructions[0]
        .flags()
        .into_iter()
        .map(|f| (f.line, f.name, f.value, f.text))
        .collect();
    assert_eq!(
        flags,
        [
            (
                1,
                "mount".into(),
                Some("type=cache,target=/a".into()),
                "--mount=type=cache,target=/a".into()
            ),
            (
                2,
                "network".into(),
                Some("no ne".into()),
                "--network=\"no ne\"".into()
            ),
            (
                4,
                "security".into(),
                Some("insecure".into()),
                "--security=insecure".into()
            ),
        ]
    );
    // A value is only ever given with `=`, and flags stop at the first other word.
    let parsed = Dockerfile::parse("RUN --mount type=cache,target=/x --network=none make\n");
    let flags: Vec<_> = parsed.instructions[0]
        .flags()
        .into_iter()
        .map(|f| (f.name, f.value))
        .collect();
    assert_eq!(flags, [("mount".to_owned(), None)]);
}

#[test]
fn a_flag_split_by_a_continuation_is_one_flag() {
    let text = "# escape=`\nCOPY --chmod=755 `\n--link=true src dst\n";
    let parsed = Dockerfile::parse(text);
    let flags: Vec<_> = parsed.instructions[0]
        .flags()
        .into_iter()
        .map(|f| (f.line, f.text))
        .collect();
    assert_eq!(
        flags,
        [(2, "--chmod=755".into()), (3, "--link=true".into())]
    );
    let parsed = Dockerfile::parse("RUN --mount=type=cache,\\\ntarget=/x make\n");
    let flags = parsed.instructions[0].flags();
    assert_eq!(flags[0].text, "--mount=type=cache,target=/x");
    assert_eq!(flags[0].line, 1);
}

#[test]
fn json_arrays() {
    assert!(is_json_string_array(" [\"a\", \"b\\\"\\u00e9\"] trailing"));
    assert!(is_json_string_array("[]"));
    assert!(!is_json_string_array("[a]"));
    assert!(!is_json_string_array("[\"a\" \"b\"]"));
    assert!(!is_json_string_array("[1]"));
    assert!(!is_json_string_array("echo [\"a\"]"));
}
