//! The file's `[[test]]` tables checked: names, timeouts, subnets, each service's image (a
//! cell of the file or an image reference), readiness, dependencies without cycles, and at
//! least one verdict service per test.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kiln_core::{ImageRef, Result};

use super::place::{Source, Span};
use super::raw::{RawService, RawTest};
use crate::bake::model::Cell;
use crate::bake::test_spec::{
    Readiness, ServiceImage, ServicePort, ServiceSpec, SubnetChoice, TestSpec,
};

/// A test's timeout when it gives none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Checks every test against the file's `cells`.
pub(super) fn read_all(
    source: &Source<'_>,
    raw: &[RawTest],
    cells: &[Cell],
) -> Result<Vec<TestSpec>> {
    let mut names = BTreeSet::new();
    let mut tests = Vec::with_capacity(raw.len());
    for test in raw {
        let name = checked_name(source, "test", &test.name)?;
        if !names.insert(name.clone()) {
            return Err(source.error(
                &test.name.span(),
                format!("test {name:?} is declared twice: expected a name unique in the file"),
            ));
        }
        tests.push(read(source, test, name, cells)?);
    }
    Ok(tests)
}

fn read(source: &Source<'_>, test: &RawTest, name: String, cells: &[Cell]) -> Result<TestSpec> {
    let timeout = match &test.timeout {
        None => DEFAULT_TIMEOUT,
        Some(text) => match kiln_cache::prune::parse_age("timeout", text.get_ref()) {
            Ok(0) | Err(_) => {
                return Err(source.error(
                    &text.span(),
                    format!(
                        "timeout {:?}: expected a duration such as 60s, 5m or 1h",
                        text.get_ref()
                    ),
                ));
            }
            Ok(seconds) => Duration::from_secs(seconds),
        },
    };
    let subnet = match test
        .network
        .as_ref()
        .and_then(|network| network.subnet.as_ref())
    {
        None => SubnetChoice::Daemon,
        Some(text) => match text.get_ref().as_str() {
            "daemon" => SubnetChoice::Daemon,
            "pool" => SubnetChoice::Pool,
            cidr => match cidr.parse::<ipnet::Ipv4Net>() {
                Ok(net) if net.trunc() == net => SubnetChoice::Fixed(net.to_string()),
                _ => {
                    return Err(source.error(
                        &text.span(),
                        format!(
                            "subnet {cidr:?}: expected \"daemon\", \"pool\" or an IPv4 network \
                             such as 10.213.7.0/24"
                        ),
                    ));
                }
            },
        },
    };
    if test.services.is_empty() {
        return Err(source.error(
            &test.name.span(),
            format!("test {name:?} has no services: expected at least one [[test.service]]"),
        ));
    }
    let mut services = Vec::with_capacity(test.services.len());
    let mut seen = BTreeSet::new();
    for raw in &test.services {
        let service = read_service(source, raw, cells)?;
        if !seen.insert(service.name.clone()) {
            return Err(source.error(
                &raw.name.span(),
                format!(
                    "service {:?} is declared twice in test {name:?}: expected unique names",
                    service.name
                ),
            ));
        }
        services.push(service);
    }
    check_dependencies(source, test, &services)?;
    if !services.iter().any(|service| service.verdict) {
        return Err(source.error(
            &test.name.span(),
            format!(
                "test {name:?} has no verdict service: expected `verdict = true` on the \
                 service(s) whose exit decides it"
            ),
        ));
    }
    Ok(TestSpec {
        name,
        timeout,
        subnet,
        services: in_dependency_order(services),
    })
}

fn read_service(source: &Source<'_>, raw: &RawService, cells: &[Cell]) -> Result<ServiceSpec> {
    let name = checked_name(source, "service", &raw.name)?;
    let ready = match raw
        .ready
        .as_ref()
        .map(|ready| (ready.span(), ready.get_ref()))
    {
        None => Readiness::Started,
        Some((_, ready)) if ready.log.is_some() && ready.command.is_none() => {
            Readiness::Log(ready.log.clone().unwrap_or_default())
        }
        Some((_, ready))
            if ready.command.as_ref().is_some_and(|c| !c.is_empty()) && ready.log.is_none() =>
        {
            Readiness::Command(ready.command.clone().unwrap_or_default())
        }
        Some((span, _)) => {
            return Err(source.error(
                &span,
                "ready: expected either { log = \"text\" } or { command = [\"argv\", …] }",
            ));
        }
    };
    let mut ports = Vec::with_capacity(raw.ports.len());
    for port in &raw.ports {
        let parsed = match port.get_ref() {
            toml::Value::Integer(number) => port_number(*number).map(|container| ServicePort {
                container,
                host: None,
            }),
            toml::Value::String(text) => text.split_once(':').and_then(|(host, container)| {
                Some(ServicePort {
                    container: port_number(container.trim().parse().ok()?)?,
                    host: Some(port_number(host.trim().parse().ok()?)?),
                })
            }),
            _ => None,
        };
        match parsed {
            Some(parsed) => ports.push(parsed),
            None => {
                return Err(source.error(
                    &port.span(),
                    format!(
                        "port {}: expected a container port from 1 to 65535 (published on an \
                         ephemeral host port), or \"HOST:CONTAINER\"",
                        match port.get_ref() {
                            toml::Value::Integer(number) => number.to_string(),
                            toml::Value::String(text) => format!("{text:?}"),
                            other => format!("(a TOML {})", other.type_str()),
                        }
                    ),
                ));
            }
        }
    }
    let memory_bytes = match &raw.memory {
        None => None,
        Some(text) => Some(
            kiln_cache::prune::parse_size("memory", text.get_ref())
                .ok()
                .filter(|bytes| *bytes > 0)
                .ok_or_else(|| {
                    source.error(
                        &text.span(),
                        format!("memory {:?}: expected a size such as 64MiB", text.get_ref()),
                    )
                })?,
        ),
    };
    Ok(ServiceSpec {
        image: service_image(source, &raw.image, cells)?,
        command: raw.command.clone(),
        env: raw.env.clone(),
        depends_on: raw.depends_on.iter().map(|d| d.get_ref().clone()).collect(),
        ready,
        verdict: raw.verdict,
        ports,
        tty: raw.tty,
        memory_bytes,
        name,
    })
}

/// `number` as a port, 1 to 65535.
fn port_number(number: i64) -> Option<u16> {
    u16::try_from(number).ok().filter(|port| *port > 0)
}

/// A cell id, an image with one cell, or else an image reference.
fn service_image(
    source: &Source<'_>,
    image: &super::raw::Text,
    cells: &[Cell],
) -> Result<ServiceImage> {
    let text = image.get_ref();
    if let Some(cell) = cells.iter().find(|cell| cell.id.as_str() == text) {
        return Ok(ServiceImage::Cell(cell.id.clone()));
    }
    let of_image: Vec<&Cell> = cells.iter().filter(|cell| &cell.image == text).collect();
    match of_image.as_slice() {
        [one] => return Ok(ServiceImage::Cell(one.id.clone())),
        [first, ..] => {
            return Err(source.error(
                &image.span(),
                format!(
                    "image {text:?} has {} cells: expected one cell id, such as {}",
                    of_image.len(),
                    first.id
                ),
            ));
        }
        [] => {}
    }
    if text.contains('[') {
        return Err(source.error(
            &image.span(),
            format!("image {text:?}: no cell of the file has this id"),
        ));
    }
    ImageRef::parse(text)
        .map(|_| ServiceImage::Reference(text.clone()))
        .map_err(|error| {
            source.error(
                &image.span(),
                format!(
                    "image {text:?}: expected a cell of the file or an image reference ({error})"
                ),
            )
        })
}

/// `depends_on` names services of the same test, never the service itself, without cycles.
fn check_dependencies(source: &Source<'_>, test: &RawTest, services: &[ServiceSpec]) -> Result<()> {
    let known: BTreeSet<&str> = services.iter().map(|s| s.name.as_str()).collect();
    for raw in &test.services {
        for dependency in &raw.depends_on {
            let name = dependency.get_ref();
            if !known.contains(name.as_str()) || name == raw.name.get_ref() {
                return Err(source.error(
                    &dependency.span(),
                    format!(
                        "depends_on {name:?}: expected another service of this test ({})",
                        known.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
    }
    let graph: BTreeMap<&str, Vec<&str>> = services
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.depends_on.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    for start in graph.keys() {
        let mut path = vec![*start];
        if let Some(cycle) = find_cycle(&graph, &mut path) {
            let span: Span = test.name.span();
            return Err(source.error(
                &span,
                format!(
                    "services depend on each other in a cycle: {}",
                    cycle.join(" -> ")
                ),
            ));
        }
    }
    Ok(())
}

fn find_cycle<'a>(
    graph: &BTreeMap<&'a str, Vec<&'a str>>,
    path: &mut Vec<&'a str>,
) -> Option<Vec<&'a str>> {
    let last = *path.last()?;
    for next in graph.get(last).into_iter().flatten() {
        if let Some(position) = path.iter().position(|seen| seen == next) {
            let mut cycle = path[position..].to_vec();
            cycle.push(next);
            return Some(cycle);
        }
        path.push(next);
        if let Some(cycle) = find_cycle(graph, path) {
            return Some(cycle);
        }
        path.pop();
    }
    None
}

/// The services, each after those it depends on (file order otherwise).
fn in_dependency_order(mut services: Vec<ServiceSpec>) -> Vec<ServiceSpec> {
    let mut ordered: Vec<ServiceSpec> = Vec::with_capacity(services.len());
    while !services.is_empty() {
        let ready = services.iter().position(|service| {
            service
                .depends_on
                .iter()
                .all(|d| ordered.iter().any(|done| &done.name == d))
        });
        // The dependencies were checked acyclic; a stuck order cannot happen.
        let Some(index) = ready else { break };
        ordered.push(services.remove(index));
    }
    ordered
}

/// A name that becomes part of container and network names: `[a-z0-9][a-z0-9_.-]*`.
fn checked_name(source: &Source<'_>, what: &str, name: &super::raw::Text) -> Result<String> {
    let text = name.get_ref();
    let valid = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        && text.len() <= 63;
    if valid {
        Ok(text.clone())
    } else {
        Err(source.error(
            &name.span(),
            format!(
                "{what} name {text:?}: expected lower-case letters, digits, '.', '_' or '-', \
                 starting with a letter or digit, at most 63 characters"
            ),
        ))
    }
}
