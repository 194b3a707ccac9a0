//! Mapping the daemon's refusals about containers and networks to kiln-core's typed errors.
//!
//! The status alone is ambiguous (a 404 may be the container, the network or the image of a
//! request), so the daemon's message decides; its wording has been stable across versions.

use bollard::errors::Error as BollardError;
use kiln_core::Error;

use crate::errors::map_error;

/// What a refusal of the daemon says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// "No such container: …".
    NoSuchContainer,
    /// "network … not found", "No such network: …".
    NoSuchNetwork,
    /// "No such image: …".
    NoSuchImage,
    /// "The container name "/…" is already in use by container …".
    ContainerNameTaken,
    /// "network with name … already exists" (API 1.44 and later; earlier daemons only warn).
    NetworkNameTaken,
    /// "Pool overlaps with other one on this address space".
    PoolOverlaps,
    /// "… has active endpoints".
    ActiveEndpoints,
    /// "You cannot remove a running container …", "… container is running: stop the container
    /// before removing or force remove".
    ContainerRunning,
    /// "Container … is not running".
    NotRunning,
    /// "removal of container … is already in progress".
    RemovalInProgress,
    /// A request the daemon finds invalid: any HTTP 400 ("Invalid container name …"), and
    /// the 500s of an invalid subnet or an address outside it ("Invalid subnet …", "Requested
    /// address is out of range").
    Invalid,
}

/// Reads the refusal `message` the daemon sent with HTTP `status`.
pub(crate) fn classify(status: u16, message: &str) -> Option<Answer> {
    let text = message.to_ascii_lowercase();
    let answer = if text.contains("pool overlaps") {
        Answer::PoolOverlaps
    } else if text.contains("has active endpoints") {
        Answer::ActiveEndpoints
    } else if text.contains("no such container") {
        Answer::NoSuchContainer
    } else if text.contains("no such image") {
        Answer::NoSuchImage
    } else if status == 404 && text.contains("network") {
        Answer::NoSuchNetwork
    } else if text.contains("is already in use by container") {
        Answer::ContainerNameTaken
    } else if text.contains("network with name") && text.contains("already exists") {
        Answer::NetworkNameTaken
    } else if text.contains("is not running") {
        Answer::NotRunning
    } else if text.contains("already in progress") {
        Answer::RemovalInProgress
    } else if status == 409
        && (text.contains("running container") || text.contains("container is running"))
    {
        Answer::ContainerRunning
    } else if status == 400
        || text.contains("invalid subnet")
        || text.contains("invalid cidr")
        || text.contains("out of range")
    {
        Answer::Invalid
    } else {
        return None;
    };
    Some(answer)
}

/// The answer of a bollard error, when it is a refusal the daemon explained.
pub(crate) fn answer_of(error: &BollardError) -> Option<Answer> {
    match error {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => classify(*status_code, message),
        _ => None,
    }
}

/// What a request was about: the names the mapped errors carry.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct About<'a> {
    pub(crate) container: Option<&'a str>,
    pub(crate) network: Option<&'a str>,
    pub(crate) image: Option<&'a str>,
    pub(crate) subnet: Option<&'a str>,
}

impl<'a> About<'a> {
    /// A request about the container `name`.
    pub(crate) fn container(name: &'a str) -> Self {
        About {
            container: Some(name),
            ..About::default()
        }
    }

    /// A request about the network `name`.
    pub(crate) fn network(name: &'a str) -> Self {
        About {
            network: Some(name),
            ..About::default()
        }
    }

    /// Also about the network `name`.
    pub(crate) fn and_network(mut self, name: Option<&'a str>) -> Self {
        self.network = name;
        self
    }

    /// Also about the image `name`.
    pub(crate) fn and_image(mut self, name: &'a str) -> Self {
        self.image = Some(name);
        self
    }

    /// Also about the subnet `cidr`.
    pub(crate) fn and_subnet(mut self, cidr: Option<&'a str>) -> Self {
        self.subnet = cidr;
        self
    }

    /// `container x`, `network y`, or both, for messages.
    fn describe(&self) -> String {
        let parts: Vec<String> = [("container", self.container), ("network", self.network)]
            .into_iter()
            .filter_map(|(what, name)| name.map(|name| format!("{what} {name}")))
            .collect();
        parts.join(" on ")
    }
}

/// Maps an error of `operation` about `about` from the daemon at `endpoint`.
pub(crate) fn map_runtime_error(
    endpoint: &str,
    operation: &str,
    about: About<'_>,
    error: BollardError,
) -> Error {
    if let BollardError::DockerResponseServerError {
        status_code,
        message,
    } = &error
    {
        let unnamed = || message.clone();
        let container = || about.container.map_or_else(unnamed, str::to_owned);
        let network = || about.network.map_or_else(unnamed, str::to_owned);
        let typed = match classify(*status_code, message) {
            Some(Answer::NoSuchContainer) => Some(Error::ContainerNotFound {
                container: container(),
            }),
            Some(Answer::NoSuchNetwork) => Some(Error::NetworkNotFound { network: network() }),
            Some(Answer::NoSuchImage) => Some(Error::ImageNotFound {
                image: about.image.map_or_else(unnamed, str::to_owned),
            }),
            Some(Answer::ContainerNameTaken) => {
                Some(Error::ContainerNameConflict { name: container() })
            }
            Some(Answer::NetworkNameTaken) => Some(Error::NetworkNameConflict { name: network() }),
            Some(Answer::PoolOverlaps) => Some(Error::PoolOverlap {
                subnet: about.subnet.unwrap_or_default().to_owned(),
                message: message.clone(),
            }),
            Some(Answer::ActiveEndpoints) => Some(Error::InUse {
                what: "network",
                name: network(),
            }),
            Some(Answer::ContainerRunning) => Some(Error::InUse {
                what: "container",
                name: container(),
            }),
            Some(Answer::Invalid) => Some(match about.container {
                Some(name) => Error::invalid_input(
                    "container",
                    name,
                    format!("a container the daemon accepts; it answered: {message}"),
                ),
                None => Error::invalid_input(
                    "network",
                    network(),
                    format!("a network the daemon accepts; it answered: {message}"),
                ),
            }),
            Some(Answer::NotRunning | Answer::RemovalInProgress) => None,
            // A 404 the message does not explain is the request's own subject.
            None if *status_code == 404 => Some(match about.container {
                Some(_) => Error::ContainerNotFound {
                    container: container(),
                },
                None => Error::NetworkNotFound { network: network() },
            }),
            None => None,
        };
        if let Some(typed) = typed {
            return typed;
        }
    }
    map_error(endpoint, operation, &about.describe(), error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::ErrorKind;

    fn refusal(status_code: u16, message: &str) -> BollardError {
        BollardError::DockerResponseServerError {
            status_code,
            message: message.to_owned(),
        }
    }

    #[test]
    fn the_daemons_messages_are_told_apart() {
        let cases = [
            (404, "No such container: kiln-x", Answer::NoSuchContainer),
            (404, "network kiln-net not found", Answer::NoSuchNetwork),
            (404, "No such image: app:1", Answer::NoSuchImage),
            (
                409,
                "Conflict. The container name \"/c\" is already in use by container \"ab\". You \
                 have to remove (or rename) that container to be able to reuse that name.",
                Answer::ContainerNameTaken,
            ),
            (
                409,
                "network with name n already exists",
                Answer::NetworkNameTaken,
            ),
            (
                403,
                "Pool overlaps with other one on this address space",
                Answer::PoolOverlaps,
            ),
            (
                403,
                "error while removing network: network n id ab has active endpoints",
                Answer::ActiveEndpoints,
            ),
            (
                409,
                "You cannot remove a running container ab. Stop the container before \
                 attempting removal or force remove",
                Answer::ContainerRunning,
            ),
            (
                409,
                "Cannot kill container: c: Container ab is not running",
                Answer::NotRunning,
            ),
            (
                409,
                "removal of container ab is already in progress",
                Answer::RemovalInProgress,
            ),
        ];
        let invalid = [
            (
                400,
                "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            ),
            (
                500,
                "Invalid subnet 10.0.0.0/40 : invalid CIDR address: 10.0.0.0/40",
            ),
            (
                500,
                "failed to allocate gateway (10.78.0.1): Requested address is out of range",
            ),
        ];
        for (status, message) in invalid {
            assert_eq!(
                classify(status, message),
                Some(Answer::Invalid),
                "{message}"
            );
        }
        for (status, message, answer) in cases {
            assert_eq!(classify(status, message), Some(answer), "{message}");
        }
        assert_eq!(
            classify(500, "container ab is not connected to network n"),
            None
        );
    }

    #[test]
    fn refusals_become_typed_errors_naming_the_resource() {
        let about = About::container("kiln-c")
            .and_network(Some("kiln-n"))
            .and_image("app:1")
            .and_subnet(Some("10.1.0.0/24"));
        let map =
            |status, message| map_runtime_error("e", "create", about, refusal(status, message));
        assert!(matches!(
            map(404, "network kiln-n not found"),
            Error::NetworkNotFound { network } if network == "kiln-n"
        ));
        assert!(matches!(
            map(404, "No such image: app:1"),
            Error::ImageNotFound { image } if image == "app:1"
        ));
        assert!(matches!(
            map(409, "The container name \"/kiln-c\" is already in use by container \"ab\""),
            Error::ContainerNameConflict { name } if name == "kiln-c"
        ));
        let overlap = map(403, "Pool overlaps with other one on this address space");
        assert!(
            matches!(&overlap, Error::PoolOverlap { subnet, .. } if subnet == "10.1.0.0/24"),
            "{overlap:?}"
        );
        assert_eq!(overlap.kind(), ErrorKind::Conflict);
        let unexplained = map(404, "page not found");
        assert!(
            matches!(unexplained, Error::ContainerNotFound { .. }),
            "{unexplained:?}"
        );
        let other = map(500, "container ab is not connected to network kiln-n");
        assert!(matches!(other, Error::Engine { .. }), "{other:?}");
        assert!(
            other
                .to_string()
                .contains("container kiln-c on network kiln-n"),
            "{other}"
        );
    }
}
