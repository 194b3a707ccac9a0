//! What a valid file expands to: cells in matrix order, build args layered, axes set on the
//! build, parents found, images in dependency order.

use std::collections::BTreeMap;

use kiln_core::{BuildMode, ImageRef, Platform, RuntimeMode};

use super::fixture::{Project, cell, ids};
use crate::bake::{BakeFile, CellId, ParentEdge};

fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn edge(parent: &str, arg: &str) -> ParentEdge {
    ParentEdge {
        parent: id_of(parent),
        arg: arg.to_owned(),
        tier: None,
    }
}

/// The id written `text` (an id is its text).
fn id_of(text: &str) -> CellId {
    match text.split_once('[') {
        None => CellId::new(text, &BTreeMap::new()),
        Some((image, rest)) => {
            let axes = rest
                .trim_end_matches(']')
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(axis, value)| (axis.to_owned(), value.to_owned()))
                .collect();
            CellId::new(image, &axes)
        }
    }
}

#[test]
fn the_matrix_is_its_product_without_excludes_then_the_includes() {
    let file = Project::new().expand(
        r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v2", "v1"], mode = ["", "debug"] }
exclude = [{ version = "v1", mode = "debug" }]
include = [{ version = "v0", mode = "" }, { version = "v1", mode = "debug" }]
"#,
    );
    assert_eq!(
        ids(&file),
        [
            "a[mode=,version=v2]",
            "a[mode=,version=v1]",
            "a[mode=debug,version=v2]",
            "a[mode=,version=v0]",
            "a[mode=debug,version=v1]",
        ]
    );
    let cell = cell(&file, "a[mode=debug,version=v2]");
    assert_eq!(cell.image, "a");
    assert_eq!(cell.axes, args(&[("mode", "debug"), ("version", "v2")]));
}

#[test]
fn an_exclude_removes_every_cell_it_partly_matches() {
    let file = Project::new().expand(
        r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { mode = ["", "rel-lto"], platform = ["amd64", "arm64"], version = ["v1", "v2"] }
exclude = [{ mode = "rel-lto", platform = "linux/arm64" }, { mode = "default", version = "v2" }]
"#,
    );
    assert_eq!(
        ids(&file),
        [
            "a[mode=,platform=linux/amd64,version=v1]",
            "a[mode=,platform=linux/arm64,version=v1]",
            "a[mode=rel-lto,platform=linux/amd64,version=v1]",
            "a[mode=rel-lto,platform=linux/amd64,version=v2]",
        ]
    );
}

#[test]
fn build_args_are_layered_defaults_image_axes_then_overrides() {
    let file = Project::new().expand(
        r#"version = 1
[defaults]
args = { A = "defaults", B = "defaults", C = "defaults", D = "defaults", E = "defaults" }
[[image]]
name = "a"
context = "a"
args = { B = "image", C = "image", D = "image", E = "image" }
matrix = { version = ["v1", "v2"], c = ["axis"], d = ["axis"] }
  [[image.override]]
  match = { version = "v2" }
  args = { D = "first", E = "first" }
  [[image.override]]
  match = { version = "v2", c = "axis" }
  args = { E = "second" }
"#,
    );
    let v1 = cell(&file, "a[c=axis,d=axis,version=v1]");
    assert_eq!(
        v1.spec.build_args,
        args(&[
            ("A", "defaults"),
            ("B", "image"),
            ("C", "axis"),
            ("D", "axis"),
            ("E", "image")
        ])
    );
    let v2 = cell(&file, "a[c=axis,d=axis,version=v2]");
    assert_eq!(
        v2.spec.build_args,
        args(&[
            ("A", "defaults"),
            ("B", "image"),
            ("C", "axis"),
            ("D", "first"),
            ("E", "second")
        ])
    );
}

#[test]
fn free_axes_are_build_args_in_upper_case() {
    let file = Project::new().expand(
        r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { flavor = ["x", "y"], Ssl_Lib = ["openssl"] }
"#,
    );
    assert_eq!(
        ids(&file),
        ["a[Ssl_Lib=openssl,flavor=x]", "a[Ssl_Lib=openssl,flavor=y]"]
    );
    let cell = cell(&file, "a[Ssl_Lib=openssl,flavor=y]");
    assert_eq!(
        cell.spec.build_args,
        args(&[("FLAVOR", "y"), ("SSL_LIB", "openssl")])
    );
}

#[test]
fn known_axes_and_keys_set_the_build() {
    let project = Project::new();
    let file = project.expand(
        r#"version = 1
[defaults]
registry = "reg.example:5000/bench"
cache_repo = "reg.example:5000/bench-cache"
jobs = 3
[[image]]
name = "a"
context = "./alt"
dockerfile = "docker/Dockerfile.alt"
target = "runtime"
matrix = { version = ["", "v1"], mode = ["rel-lto"], runtime_mode = ["debug"],
           platform = ["x86_64"], tag_version = ["t1"] }
[[image]]
name = "b"
context = "b"
tag_version = "stable"
[[image]]
name = "c"
context = "c"
"#,
    );
    let root = project.root();
    let unversioned = cell(
        &file,
        "a[mode=rel-lto,platform=linux/amd64,runtime_mode=debug,tag_version=t1,version=]",
    );
    let spec = &unversioned.spec;
    assert_eq!(spec.name, "a");
    assert_eq!(spec.version, None);
    assert_eq!(spec.context, root.join("alt"));
    assert_eq!(
        spec.dockerfile,
        Some(root.join("alt/docker/Dockerfile.alt"))
    );
    assert_eq!(spec.build_mode, BuildMode::RelLto);
    assert_eq!(spec.runtime_mode, RuntimeMode::Debug);
    assert_eq!(spec.platform, Some(Platform::linux_amd64()));
    assert_eq!(spec.tag_version, "t1");
    assert_eq!(spec.target.as_deref(), Some("runtime"));
    assert!(spec.build_args.is_empty(), "{:?}", spec.build_args);
    let cache = ImageRef::parse("reg.example:5000/bench-cache").expect("a reference");
    assert_eq!(spec.cache_repo, Some(cache.clone()));
    let versioned = cell(
        &file,
        "a[mode=rel-lto,platform=linux/amd64,runtime_mode=debug,tag_version=t1,version=v1]",
    );
    assert_eq!(versioned.spec.version.as_deref(), Some("v1"));

    let b = &cell(&file, "b").spec;
    assert_eq!(b.tag_version, "stable");
    assert_eq!(b.dockerfile, None);
    assert_eq!(b.dockerfile_path(), root.join("b/Dockerfile"));
    assert_eq!(b.platform, None);
    assert_eq!(b.build_mode, BuildMode::Default);
    assert_eq!(cell(&file, "c").spec.tag_version, "latest");

    assert_eq!(file.path, project.file());
    assert_eq!(
        file.defaults.registry.as_deref(),
        Some("reg.example:5000/bench")
    );
    assert_eq!(file.defaults.cache_repo, Some(cache));
    assert_eq!(file.defaults.jobs, Some(3));
    assert!(file.defaults.platforms.is_empty());
}

#[test]
fn default_platforms_are_the_platform_axis_of_images_without_one() {
    let file = Project::new().expand(
        r#"version = 1
[defaults]
platforms = ["amd64", "linux/arm64"]
[[image]]
name = "a"
context = "a"
[[image]]
name = "b"
context = "b"
matrix = { platform = ["linux/arm64"], version = ["v1"] }
[[image]]
name = "c"
context = "c"
matrix = { version = ["v1"] }
exclude = [{ platform = "arm64" }]
include = [{ version = "v0", platform = "linux/arm64" }]
"#,
    );
    assert_eq!(
        ids(&file),
        [
            "a[platform=linux/amd64]",
            "a[platform=linux/arm64]",
            "b[platform=linux/arm64,version=v1]",
            "c[platform=linux/amd64,version=v1]",
            "c[platform=linux/arm64,version=v0]",
        ]
    );
    assert_eq!(
        cell(&file, "a[platform=linux/arm64]").spec.platform,
        Some(Platform::linux_arm64())
    );
    assert_eq!(
        file.defaults.platforms,
        [Platform::linux_amd64(), Platform::linux_arm64()]
    );
}

#[test]
fn requires_without_same_takes_the_required_image_s_one_cell() {
    let file = Project::new().expand(
        r#"version = 1
[[image]]
name = "child"
context = "b"
matrix = { version = ["v1", "v2"] }
requires = [{ image = "base", as = "BASE_IMAGE" }]
[[image]]
name = "base"
context = "a"
"#,
    );
    assert_eq!(
        ids(&file),
        ["base", "child[version=v1]", "child[version=v2]"]
    );
    for id in ["child[version=v1]", "child[version=v2]"] {
        assert_eq!(cell(&file, id).parents, [edge("base", "BASE_IMAGE")]);
    }
    assert!(cell(&file, "base").parents.is_empty());
}

#[test]
fn requires_with_same_matches_the_cell_that_agrees() {
    let file = Project::new().expand(
        r#"version = 1
[[image]]
name = "impl"
context = "a"
matrix = { version = ["v1", "v2"], platform = ["amd64", "arm64"] }
[[image]]
name = "tools"
context = "c"
[[image]]
name = "tester"
context = "b"
matrix = { version = ["v1", "v2"], platform = ["amd64", "arm64"], flavor = ["x", "y"] }
requires = [{ image = "impl", as = "IUT_IMAGE", same = ["platform", "version"] },
            { image = "tools", as = "BASE_IMAGE", same = ["version"] }]
"#,
    );
    assert_eq!(file.cells.len(), 4 + 1 + 8);
    let tester = cell(&file, "tester[flavor=y,platform=linux/arm64,version=v2]");
    assert_eq!(
        tester.parents,
        [
            edge("impl[platform=linux/arm64,version=v2]", "IUT_IMAGE"),
            edge("tools", "BASE_IMAGE"),
        ]
    );
    let tester = cell(&file, "tester[flavor=x,platform=linux/amd64,version=v1]");
    assert_eq!(
        tester.parents[0],
        edge("impl[platform=linux/amd64,version=v1]", "IUT_IMAGE")
    );
}

#[test]
fn a_diamond_comes_parents_first_otherwise_in_file_order() {
    let file = Project::new().expand(
        r#"version = 1
[[image]]
name = "d"
context = "d"
matrix = { version = ["v1", "v2"] }
requires = [{ image = "b", as = "P1", same = ["version"] },
            { image = "c", as = "P2", same = ["version"] }]
[[image]]
name = "c"
context = "c"
matrix = { version = ["v1", "v2"] }
requires = [{ image = "a", as = "P0", same = ["version"] }]
[[image]]
name = "b"
context = "b"
matrix = { version = ["v1", "v2"] }
requires = [{ image = "a", as = "P0", same = ["version"] }]
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1", "v2"] }
[[image]]
name = "e"
context = "ctx"
"#,
    );
    assert_eq!(
        ids(&file),
        [
            "a[version=v1]",
            "a[version=v2]",
            "c[version=v1]",
            "c[version=v2]",
            "b[version=v1]",
            "b[version=v2]",
            "d[version=v1]",
            "d[version=v2]",
            "e",
        ]
    );
    assert_eq!(
        cell(&file, "d[version=v2]").parents,
        [edge("b[version=v2]", "P1"), edge("c[version=v2]", "P2")]
    );
    assert_parents_first(&file);
}

/// Every cell comes after each of its parents.
pub(super) fn assert_parents_first(file: &BakeFile) {
    for (index, cell) in file.cells.iter().enumerate() {
        for edge in &cell.parents {
            let parent = file.cells.iter().position(|other| other.id == edge.parent);
            assert!(
                parent.is_some_and(|parent| parent < index),
                "{} comes before its parent {}",
                cell.id,
                edge.parent
            );
        }
    }
}

#[test]
fn load_reads_the_file_and_paths_resolve_against_its_directory() {
    let project = Project::new();
    let absolute = project.root().join("a");
    project.write(
        "sub/kiln.toml",
        &format!(
            "version = 1\n[[image]]\nname = \"x\"\ncontext = \"../b\"\n\
             [[image]]\nname = \"y\"\ncontext = {:?}\n",
            absolute.display().to_string()
        ),
    );
    let path = project.root().join("sub/kiln.toml");
    let file = BakeFile::load(&path).expect("a valid file");
    assert_eq!(file.path, path);
    assert_eq!(
        cell(&file, "x").spec.context,
        project.root().join("sub/../b")
    );
    assert_eq!(cell(&file, "y").spec.context, absolute);
    assert_eq!(file.cell(&id_of("y")).map(|c| c.image.as_str()), Some("y"));
}
