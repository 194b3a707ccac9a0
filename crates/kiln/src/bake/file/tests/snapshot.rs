//! The design's example (`BAKE.md`, "The file") expanded, as a snapshot.
//!
//! One change to the example: as written, `tester` has no matrix, so it has no `version` axis
//! for `same = ["version", ...]`, and one tester cell would match every picoquic cell of its
//! platform (a build arg holds one image). Here `tester` has a `version` × `mode` matrix and
//! also agrees on `mode`.

use super::expansion::assert_parents_first;
use super::fixture::{Project, render};

const EXAMPLE: &str = r#"version = 1

[defaults]
registry     = "reg.example:5000/bench"       # human tags are published here
cache_repo   = "reg.example:5000/bench-cache" # fingerprint tags (kiln-<fp>) go here when built
platforms    = ["linux/amd64"]
jobs         = 2                              # bounded parallelism; -j overrides

[[image]]
name       = "base"
context    = "base"

[[image]]
name       = "picoquic"
context    = "impls/picoquic"                 # Dockerfile: ARG BASE_IMAGE / FROM ${BASE_IMAGE}
requires   = [{ image = "base", as = "BASE_IMAGE" }]
args       = { REPO_URL = "https://example.invalid/picoquic" }
matrix     = { version = ["v1", "v2"], mode = ["", "debug", "rel-lto"],
               platform = ["linux/amd64", "linux/arm64"] }
exclude    = [{ mode = "rel-lto", platform = "linux/arm64" }]
include    = [{ version = "v0", mode = "", platform = "linux/amd64" }]

  [[image.override]]                          # matched on axis values; later entries win
  match = { version = "v2" }
  args  = { COMMIT = "main" }

[[image]]
name     = "tester"
context  = "testers/ivy"
matrix   = { version = ["v1", "v2"], mode = ["", "debug"] }
requires = [{ image = "picoquic", as = "IUT_IMAGE", same = ["version", "mode", "platform"] }]
"#;

#[test]
fn the_design_s_example_expands() {
    let project = Project::new();
    project.context("base", "FROM debian:bookworm-slim\n");
    project.context(
        "impls/picoquic",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG REPO_URL\nARG COMMIT=main\n",
    );
    project.context("testers/ivy", "ARG IUT_IMAGE\nFROM ${IUT_IMAGE}\n");
    project.write("kiln.toml", EXAMPLE);
    let file = crate::bake::BakeFile::load(&project.file())
        .unwrap_or_else(|error| panic!("the example is refused: {error}"));
    assert_parents_first(&file);
    insta::assert_snapshot!(render(&file, project.root()));
}
