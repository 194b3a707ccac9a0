//! `[[test]]` tables: what a valid one becomes, and each refusal at its line.

use std::time::Duration;

use kiln_core::Error;

use super::fixture::Project;
use crate::bake::{Readiness, ServiceImage, SubnetChoice};

const IMAGES: &str = r#"version = 1
[[image]]
name = "srv"
context = "a"
matrix = { version = ["v1", "v2"] }
[[image]]
name = "cli"
context = "b"
"#;

#[test]
fn a_test_reads_into_services_in_dependency_order() {
    let project = Project::new();
    let file = project.expand(&format!(
        r#"{IMAGES}
[[test]]
name = "handshake"
timeout = "90s"
network = {{ subnet = "pool" }}
  [[test.service]]
  name = "client"
  image = "cli"
  depends_on = ["server"]
  verdict = true
  env = {{ TARGET = "server:4443" }}
  [[test.service]]
  name = "server"
  image = "srv[version=v1]"
  command = ["serve", "--port", "4443"]
  ready = {{ log = "listening" }}
  ports = [4443, "18443:8443"]
  memory = "64MiB"
  [[test.service]]
  name = "sidecar"
  image = "registry.example:5000/tools/sidecar:1"
  tty = true
"#
    ));
    let [test] = file.tests.as_slice() else {
        panic!("one test: {:?}", file.tests)
    };
    assert_eq!(test.timeout, Duration::from_secs(90));
    assert_eq!(test.subnet, SubnetChoice::Pool);
    let names: Vec<&str> = test.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["server", "client", "sidecar"]);
    let server = &test.services[0];
    assert_eq!(server.image, ServiceImage::Cell(file.cells[0].id.clone()));
    assert_eq!(server.ready, Readiness::Log("listening".to_owned()));
    assert_eq!(server.memory_bytes, Some(64 * 1024 * 1024));
    assert_eq!(
        server.ports,
        [
            crate::bake::ServicePort {
                container: 4443,
                host: None
            },
            crate::bake::ServicePort {
                container: 8443,
                host: Some(18443)
            }
        ]
    );
    assert!(test.services[1].verdict);
    assert_eq!(
        test.services[1].image,
        ServiceImage::Cell(crate::bake::CellId::new("cli", &Default::default()))
    );
    assert_eq!(
        test.services[2].image,
        ServiceImage::Reference("registry.example:5000/tools/sidecar:1".to_owned())
    );
    assert_eq!(test.cells().len(), 2);
}

#[test]
fn each_refusal_names_its_line() {
    let project = Project::new();
    let service = "  [[test.service]]\n  name = \"s\"\n  image = \"cli\"\n  verdict = true\n";
    // (the test's text after IMAGES, the line of the fault, a needle of the message)
    let cases: &[(&str, usize, &str)] = &[
        (
            "[[test]]\nname = \"t\"\n  [[test.service]]\n  name = \"s\"\n  image = \"cli\"\n",
            11,
            "no verdict",
        ),
        ("[[test]]\nname = \"t\"\n", 11, "no services"),
        (
            &format!("[[test]]\nname = \"t\"\ntimeout = \"soon\"\n{service}"),
            12,
            "soon",
        ),
        (
            &format!("[[test]]\nname = \"t\"\nnetwork = {{ subnet = \"10.0.0.1/33\" }}\n{service}"),
            12,
            "10.0.0.1/33",
        ),
        (&format!("[[test]]\nname = \"T!\"\n{service}"), 11, "T!"),
        (
            "[[test]]\nname = \"t\"\n  [[test.service]]\n  name = \"s\"\n  image = \"srv\"\n  verdict = true\n",
            14,
            "2 cells",
        ),
        (
            "[[test]]\nname = \"t\"\n  [[test.service]]\n  name = \"s\"\n  image = \"srv[version=v9]\"\n  verdict = true\n",
            14,
            "no cell",
        ),
        (
            "[[test]]\nname = \"t\"\n  [[test.service]]\n  name = \"s\"\n  image = \"cli\"\n  verdict = true\n  depends_on = [\"ghost\"]\n",
            16,
            "ghost",
        ),
        (
            "[[test]]\nname = \"t\"\n  [[test.service]]\n  name = \"a\"\n  image = \"cli\"\n  depends_on = [\"b\"]\n  verdict = true\n  [[test.service]]\n  name = \"b\"\n  image = \"cli\"\n  depends_on = [\"a\"]\n",
            11,
            "a -> b -> a",
        ),
        (
            "[[test]]\nname = \"t\"\n  [[test.service]]\n  name = \"s\"\n  image = \"cli\"\n  verdict = true\n  ready = { log = \"x\", command = [\"true\"] }\n",
            16,
            "either",
        ),
        (
            "[[test]]\nname = \"t\"\n  [[test.service]]\n  name = \"s\"\n  image = \"cli\"\n  verdict = true\n  ports = [70000]\n",
            16,
            "70000",
        ),
        (
            "[[test]]\nname = \"t\"\n  [[test.service]]\n  name = \"s\"\n  image = \"cli\"\n  verdict = true\n  colour = \"red\"\n",
            16,
            "colour",
        ),
        (
            &format!("[[test]]\nname = \"t\"\n{service}[[test]]\nname = \"t\"\n{service}"),
            17,
            "twice",
        ),
    ];
    let mut failures = Vec::new();
    for (tests, line, needle) in cases {
        let text = format!("{IMAGES}\n{tests}");
        match project.parse(&text) {
            Err(Error::InvalidFile {
                line: at, problem, ..
            }) if at == *line && problem.contains(needle) => {}
            Err(error) => failures.push(format!("{needle}: expected line {line}: {error}")),
            Ok(_) => failures.push(format!("{needle}: accepted")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
