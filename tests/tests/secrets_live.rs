//! Secret build args against the real daemon: their values never appear in what kiln prints
//! (progress, logs, errors, JSON) with either builder, though BuildKit writes build args into
//! its step names, and the cache keeps only a keyed hash of them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr, stdout};
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};

const SECRET: &str = "s3cr3t-value";

/// The context, and the guard that removes every image its builds make (failed ones too).
fn context(dockerfile: &str) -> (tempfile::TempDir, kiln_tests::fault_proxy::LabelledImages) {
    kiln_tests::labelled_context(dockerfile)
}

/// Every file under `dir`, with its contents, for a search.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push((path.display().to_string(), fs::read(&path).unwrap()));
        }
    }
    found
}

#[test]
fn a_failing_step_never_shows_the_secret_with_either_builder() {
    if live_docker("a_failing_step_never_shows_the_secret_with_either_builder").is_none() {
        return;
    }
    // A unique word in the step keeps BuildKit's own cache from skipping it.
    let word = unique("secret-step");
    let (dir, _images) = context(&format!(
        "FROM {}\nARG TOKEN\nRUN echo {word} \"$TOKEN\" && test \"$TOKEN\" = x\n",
        busybox()
    ));
    let tag = format!("{}:fail", unique("kiln-secret"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let path = dir.path().to_str().unwrap();
    let secret_arg = format!("TOKEN={SECRET}");
    for builder in ["buildkit", "classic"] {
        for json_output in [true, false] {
            let mut args = vec![
                "build",
                path,
                "--tag",
                &tag,
                "--builder",
                builder,
                "--secret-build-arg",
                &secret_arg,
            ];
            if json_output {
                args.push("--json");
            }
            let output = kiln(&args).env("KILN_LOG", "trace").output().unwrap();
            let (out, err) = (stdout(&output), stderr(&output));
            assert_eq!(output.status.code(), Some(4), "{builder}: {err}");
            assert!(!out.contains(SECRET), "{builder} stdout: {out}");
            assert!(!err.contains(SECRET), "{builder} stderr: {err}");
            assert!(err.contains(&word), "{builder}: the step ran: {err}");
            if json_output {
                let error = &json(&output)["error"];
                assert_eq!(error["kind"], "build_failed", "{builder}: {error}");
                let step = error["step"].as_str().unwrap_or_default();
                assert!(step.contains("RUN echo"), "{builder}: {error}");
            }
            if builder == "buildkit" {
                // BuildKit expands the arg in its step name: what kiln shows is masked.
                assert!(err.contains(&format!("{word} \"***\"")), "{builder}: {err}");
            }
        }
    }
}

#[test]
fn the_cache_keeps_a_keyed_hash_only() {
    if live_docker("the_cache_keeps_a_keyed_hash_only").is_none() {
        return;
    }
    let (dir, _images) = context(&format!(
        "FROM {}\nARG TOKEN\nRUN test -n \"$TOKEN\"\n",
        busybox()
    ));
    let cache = tempfile::tempdir().unwrap();
    let tag = format!("{}:ok", unique("kiln-secret"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let path = dir.path().to_str().unwrap();
    let secret_arg = format!("TOKEN={SECRET}");
    let build = || {
        kiln(&[
            "build",
            path,
            "--tag",
            &tag,
            "--secret-build-arg",
            &secret_arg,
            "--json",
        ])
        .env("KILN_CACHE_DIR", cache.path())
        .output()
        .unwrap()
    };
    let first = build();
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(json(&first)["outcome"], "built");
    let again = build();
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(json(&again)["outcome"], "reused", "the key is kept");

    let key = cache.path().join("secret.key");
    let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let manifests = files(cache.path());
    assert!(
        manifests.iter().any(|(name, _)| name.contains("manifests")),
        "a manifest was recorded: {manifests:?}"
    );
    for (name, bytes) in manifests {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SECRET), "{name}: {text}");
        assert!(!text.contains("secret_sha256"), "{name}: {text}");
    }
}
