//! Secret build args kept out of everything kiln prints or stores: the values redacted from
//! events, errors and reports (BuildKit writes build args into its step names), and the key
//! that hashes them in the fingerprint.

use std::fmt;
use std::sync::{Arc, OnceLock};

use kiln_core::{
    BuildEvent, BuildReport, BuildSpec, Error, ErrorSource, EventSink, Result, SecretKey,
};

use crate::kiln::Kiln;

/// What a secret value is replaced by.
const MASK: &str = "***";

/// Replaces the values of a spec's secret build args by [`MASK`].
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    /// Non-empty values, longest first (a secret holding another is replaced whole).
    secrets: Arc<Vec<String>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// The redactor of `spec`'s secret build args.
    pub(crate) fn of(spec: &BuildSpec) -> Self {
        let mut secrets: Vec<String> = spec
            .secret_args
            .iter()
            .filter_map(|name| spec.build_args.get(name))
            .filter(|value| !value.is_empty())
            .cloned()
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Redactor {
            secrets: Arc::new(secrets),
        }
    }

    fn leaks(&self, text: &str) -> bool {
        self.secrets
            .iter()
            .any(|secret| text.contains(secret.as_str()))
    }

    /// `text` with every secret replaced.
    pub(crate) fn text(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in self.secrets.iter() {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), MASK);
            }
        }
        text
    }

    /// `texts`, each with every secret replaced.
    pub(crate) fn texts(&self, texts: &[String]) -> Vec<String> {
        texts.iter().map(|text| self.text(text)).collect()
    }

    /// `events`, with every event redacted before it is delivered.
    pub(crate) fn sink(&self, events: EventSink) -> EventSink {
        if self.secrets.is_empty() {
            return events;
        }
        let redactor = self.clone();
        EventSink::new(move |event| events.emit(redactor.event(event)))
    }

    fn event(&self, event: &BuildEvent) -> BuildEvent {
        let mut event = event.clone();
        match &mut event {
            BuildEvent::StepStarted { name, .. } => *name = self.text(name),
            BuildEvent::Output { line } => *line = self.text(line),
            BuildEvent::Layer { id, status, .. } => {
                *id = self.text(id);
                *status = self.text(status);
            }
            BuildEvent::Note { message } | BuildEvent::Warning { message } => {
                *message = self.text(message);
            }
            _ => {}
        }
        event
    }

    /// `report` with its warnings redacted.
    pub(crate) fn report(&self, mut report: BuildReport) -> BuildReport {
        if !self.secrets.is_empty() {
            report.warnings = self.texts(&report.warnings);
            report.reason = self.text(&report.reason);
        }
        report
    }

    /// `error` with every secret replaced, in its fields and in its causes.
    pub(crate) fn error(&self, error: Error) -> Error {
        if self.secrets.is_empty() {
            return error;
        }
        let source = |source: Option<ErrorSource>| source.map(|source| self.source(source));
        match error {
            Error::BuildFailed {
                step,
                message,
                log_tail,
            } => Error::BuildFailed {
                step: step.map(|step| self.text(&step)),
                message: self.text(&message),
                log_tail: self.texts(&log_tail),
            },
            Error::Engine {
                operation,
                message,
                transient,
                source: cause,
            } => Error::Engine {
                operation: self.text(&operation),
                message: self.text(&message),
                transient,
                source: source(cause),
            },
            Error::Internal {
                operation,
                message,
                source: cause,
            } => Error::Internal {
                operation: self.text(&operation),
                message: self.text(&message),
                source: source(cause),
            },
            Error::Registry {
                registry,
                operation,
                message,
                transient,
                source: cause,
            } => Error::Registry {
                registry,
                operation: self.text(&operation),
                message: self.text(&message),
                transient,
                source: source(cause),
            },
            Error::InvalidInput {
                what,
                value,
                expected,
            } => Error::InvalidInput {
                what,
                value: self.text(&value),
                expected: self.text(&expected),
            },
            Error::Unreachable { endpoint, reason } => Error::Unreachable {
                endpoint,
                reason: self.text(&reason),
            },
            Error::Timeout { operation, after } => Error::Timeout {
                operation: self.text(&operation),
                after,
            },
            other if self.chain_leaks(&other) => Error::Engine {
                operation: "build".to_owned(),
                message: self.text(&other.to_string()),
                transient: other.is_transient(),
                source: None,
            },
            other => other,
        }
    }

    fn chain_leaks(&self, error: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(error);
        while let Some(error) = next {
            if self.leaks(&error.to_string()) || self.leaks(&format!("{error:?}")) {
                return true;
            }
            next = error.source();
        }
        false
    }

    /// `source` itself when no secret is in it, else its messages redacted.
    fn source(&self, source: ErrorSource) -> ErrorSource {
        if !self.chain_leaks(&*source) {
            return source;
        }
        let mut messages = Vec::new();
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&*source);
        while let Some(error) = next {
            messages.push(self.text(&error.to_string()));
            next = error.source();
        }
        ErrorSource::new(Redacted::chain(messages))
    }
}

/// A cause whose messages held a secret: the messages, redacted, in their chain.
#[derive(Debug)]
struct Redacted {
    message: String,
    source: Option<Box<Redacted>>,
}

impl Redacted {
    fn chain(messages: Vec<String>) -> Self {
        let mut chain: Option<Box<Redacted>> = None;
        for message in messages.into_iter().rev() {
            chain = Some(Box::new(Redacted {
                message,
                source: chain,
            }));
        }
        *chain.unwrap_or_else(|| {
            Box::new(Redacted {
                message: MASK.to_owned(),
                source: None,
            })
        })
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Redacted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

/// The key to hash `spec`'s secret build args with (`None`: it has none): the cache
/// directory's, made on first use. Without a usable cache directory the key is random for this
/// run (nothing is recorded then that a later run could compare), with a warning when the
/// directory's key file cannot be read or made.
pub(crate) fn secret_key(
    kiln: &Kiln,
    spec: &BuildSpec,
    warnings: &mut Vec<String>,
) -> Result<Option<SecretKey>> {
    if spec.secret_args.is_empty() {
        return Ok(None);
    }
    let loaded = kiln
        .records()
        .map(|records| kiln_cache::secret_key::load_or_create(records.root()));
    match loaded {
        Some(Ok(key)) => return Ok(Some(key)),
        Some(Err(error)) => warnings.push(format!(
            "{error}; secret build args are hashed with a key of this process only, so their \
             builds are not reused"
        )),
        None => {}
    }
    // One key for the whole process, so that its builds of the same inputs still share.
    static PROCESS_KEY: OnceLock<SecretKey> = OnceLock::new();
    if let Some(key) = PROCESS_KEY.get() {
        return Ok(Some(key.clone()));
    }
    let bytes = SecretKey::random_bytes().ok_or_else(|| {
        Error::internal(
            "hash the secret build args",
            "no random bytes from the system",
        )
    })?;
    Ok(Some(
        PROCESS_KEY
            .get_or_init(|| SecretKey::from_bytes(&bytes))
            .clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn redactor() -> Redactor {
        let mut spec = BuildSpec::new("app", "/tmp/ctx");
        for (name, value) in [("TOKEN", "s3cr3t-value"), ("PIN", "42"), ("EMPTY", "")] {
            spec.build_args.insert(name.into(), value.into());
            spec.secret_args.insert(name.into());
        }
        spec.build_args.insert("PLAIN".into(), "visible".into());
        Redactor::of(&spec)
    }

    #[test]
    fn every_secret_value_is_masked_short_ones_too() {
        let text = redactor().text("RUN echo s3cr3t-value 42 visible");
        assert_eq!(text, "RUN echo *** *** visible");
    }

    #[test]
    fn events_are_masked_before_they_are_delivered() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let seen = Arc::clone(&seen);
            redactor().sink(EventSink::new(move |event| {
                seen.lock().unwrap().push(event.clone());
            }))
        };
        sink.emit(BuildEvent::StepStarted {
            index: 1,
            total: None,
            name: "[2/2] RUN test \"s3cr3t-value\" = x".into(),
        });
        sink.emit(BuildEvent::Output {
            line: "s3cr3t-value".into(),
        });
        sink.warn("about s3cr3t-value");
        let seen = format!("{:?}", seen.lock().unwrap());
        assert!(!seen.contains("s3cr3t"), "{seen}");
        assert_eq!(seen.matches("***").count(), 3, "{seen}");
    }

    #[test]
    fn errors_are_masked_in_every_field_and_cause() {
        let redactor = redactor();
        let failed = redactor.error(Error::BuildFailed {
            step: Some("[2/2] RUN test \"s3cr3t-value\" = x".into()),
            message: "process \"/bin/sh -c test \\\"s3cr3t-value\\\" = x\" did not complete".into(),
            log_tail: vec!["s3cr3t-value".into()],
        });
        let engine = redactor.error(Error::Engine {
            operation: "build".into(),
            message: "uri /build?buildargs={\"TOKEN\":\"s3cr3t-value\"}".into(),
            transient: false,
            source: Some(ErrorSource::boxed("request /build?s3cr3t-value failed")),
        });
        for error in [failed, engine] {
            let mut shown = format!("{error} {error:?}");
            let mut cause = std::error::Error::source(&error);
            while let Some(next) = cause {
                shown.push_str(&format!(" {next} {next:?}"));
                cause = next.source();
            }
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
    }

    #[test]
    fn without_secrets_nothing_changes() {
        let redactor = Redactor::of(&BuildSpec::new("app", "/tmp/ctx"));
        let error = Error::engine("build", "42");
        assert_eq!(redactor.error(error).to_string(), "build failed: 42");
        assert_eq!(redactor.text("42"), "42");
    }
}
