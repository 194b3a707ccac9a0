//! One cell run: planned, built (or reused, or pulled), pushed to the cache repository when
//! asked, its events tagged with its id and its log written to its file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_base::Verification;
use kiln_core::{
    BuildEvent, BuildReport, BuildSpec, EventSink, ImageEngine, ImageId, ImageRef, Outcome, Result,
};

use super::event::{BakeEvent, BakeEvents};
use super::explain::{self, Changed};
use super::model::{Cell, CellId};
use super::report::{CellOutcome, CellReport, Written};
use crate::kiln::Kiln;
use crate::plan::Action;

/// How often a shard asks the cache repository for a parent another shard builds.
const SHARD_POLL: Duration = Duration::from_secs(2);

/// What a cell run needs besides the cell.
pub(crate) struct CellJob<'a> {
    pub(crate) kiln: &'a Kiln,
    pub(crate) cell: &'a Cell,
    pub(crate) spec: BuildSpec,
    pub(crate) tags: Vec<ImageRef>,
    /// The cache repository, when built cells go there.
    pub(crate) push_to: Option<ImageRef>,
    /// `--push` with the human tags written after all: a cell whose tag the registry already
    /// holds, built from the same inputs, is not built (staged by a registry-side copy).
    pub(crate) found_in_registry: bool,
    /// Whether cells in the bake require it (a cell found in the registry is then pulled).
    pub(crate) has_children: bool,
    /// Run a base tier's probes even when its verification is recorded.
    pub(crate) reprobe: bool,
    /// Another shard owns the cell: wait this long for it in the cache repository.
    pub(crate) wait_for_owner: Option<Duration>,
    pub(crate) parents: BTreeMap<CellId, Changed>,
    pub(crate) events: BakeEvents,
    pub(crate) log: Option<PathBuf>,
}

/// The end of a cell run: its report, and what its dependants need of it.
pub(crate) struct CellEnd {
    pub(crate) report: CellReport,
    pub(crate) changed: Changed,
    /// How its children receive it, pinned, when it succeeded.
    pub(crate) pinned: Option<String>,
}

impl CellJob<'_> {
    /// Runs the cell; a failure is the report's outcome, never an error.
    pub(crate) async fn run(self) -> CellEnd {
        let started = self.kiln.clock().now();
        let log = self
            .log
            .as_deref()
            .and_then(|path| open_log(path, &self.events, &self.cell.id));
        let sink = self.sink(log.clone());
        let mut verification = None;
        // A build that succeeded but failed after (its claims, its pin): its image is named.
        let mut failed_after = None;
        let result = match self.build(sink.clone()).await {
            Ok((built, cached)) => {
                let pinned = match self.verify(&built, &sink, &mut verification).await {
                    Ok(()) => self.pin(&built).await,
                    Err(error) => Err(error),
                };
                match pinned {
                    Ok(pinned) => Ok((built, cached, pinned)),
                    Err(error) => {
                        failed_after = Some(built);
                        Err(error)
                    }
                }
            }
            Err(error) => Err(error),
        };
        let duration_ms = u64::try_from(self.kiln.since(started).as_millis()).unwrap_or(u64::MAX);
        let mut report = self.empty_report(duration_ms);
        report.verification = verification;
        let mut pin = None;
        let changed = match result {
            Ok((built, cached, pinned)) => {
                pin = Some(pinned);
                let (phrases, through_parent) =
                    explain::phrases(self.cell, &built.changes, &self.parents);
                let renewed = matches!(built.outcome, Outcome::Built | Outcome::Pulled);
                report.outcome = built.outcome.into();
                report.reason = match built.outcome {
                    Outcome::Built => explain::reason(&built.reason, &phrases, through_parent),
                    _ => built.reason.clone(),
                };
                report.fingerprint = built.fingerprint.as_ref().map(ToString::to_string);
                report.image_id = Some(built.image_id.clone());
                report.size_bytes = built.size_bytes;
                report.warnings = built.warnings.clone();
                report.cached = cached;
                if let Some(pushed) = &built.pushed {
                    report.pushed.push(Written {
                        reference: pushed.reference.familiar(),
                        digest: pushed.digest.to_string(),
                    });
                }
                Changed {
                    renewed,
                    through_parent,
                    phrases: if renewed { phrases } else { Vec::new() },
                }
            }
            Err(error) => {
                sink.emit(BuildEvent::Output {
                    line: format!("error: {error}"),
                });
                report.outcome = CellOutcome::Failed;
                report.reason = error.to_string();
                report.error_kind = Some(error.kind());
                if let Some(built) = failed_after {
                    report.fingerprint = built.fingerprint.as_ref().map(ToString::to_string);
                    report.image_id = Some(built.image_id);
                    report.size_bytes = built.size_bytes;
                }
                Changed::default()
            }
        };
        report.log = log.map(|log| log.path.clone());
        CellEnd {
            report,
            changed,
            pinned: pin,
        }
    }

    /// A base tier's build checked against its claims (`verification` gets what was found);
    /// a claim that does not hold is an error naming the tier and the claim. Other cells have
    /// nothing to check.
    async fn verify(
        &self,
        built: &BuildReport,
        sink: &EventSink,
        verification: &mut Option<Verification>,
    ) -> Result<()> {
        let Some(tier) = &self.cell.tier else {
            return Ok(());
        };
        *verification = self
            .kiln
            .verify_tier(tier, built, self.reprobe, sink)
            .await?;
        match verification {
            Some(found) if !found.passed() => Err(crate::bases::claim_error(found)),
            _ => Ok(()),
        }
    }

    /// How the cell's children receive its image: `repo@digest` when only the registry has
    /// it (a `remote` cell); else a tag named after its image id, `kiln-pin/<image>:<id>`,
    /// because BuildKit's `FROM` cannot take an image id (the classic builder can) — the tag
    /// is the id, so it pins as the id does.
    async fn pin(&self, built: &BuildReport) -> Result<String> {
        if built.outcome == Outcome::Remote {
            return Ok(format!(
                "{}@{}",
                built.tag.familiar_repository(),
                built.image_id
            ));
        }
        let image_id = ImageId::parse(&built.image_id)?;
        let hex = image_id.as_str().trim_start_matches("sha256:");
        let pin = ImageRef::parse(&format!("kiln-pin/{}:{hex}", self.cell.image))?;
        self.kiln.engine().tag(&image_id, &pin).await?;
        Ok(pin.familiar())
    }

    async fn build(&self, sink: EventSink) -> Result<(BuildReport, Option<Written>)> {
        if let (Some(wait), Some(repo)) = (self.wait_for_owner, &self.push_to) {
            self.wait_for_owner(repo, wait, &sink).await?;
        }
        if self.found_in_registry
            && let Some(found) = self.in_registry(&sink).await?
        {
            return Ok(found);
        }
        let built = self
            .kiln
            .build_one_or_many(&self.spec, sink.clone())
            .await?;
        let cached = match &self.push_to {
            Some(repo) => Some(self.ensure_cached(repo, &built, &sink).await?),
            None => None,
        };
        Ok((built, cached))
    }

    /// Waits (up to `wait`) for the shard that owns the cell to put it in the cache
    /// repository, unless it is there or can be reused here.
    async fn wait_for_owner(
        &self,
        repo: &ImageRef,
        wait: Duration,
        sink: &EventSink,
    ) -> Result<()> {
        let plan = self.kiln.plan(&self.spec).await?;
        if plan.action == Action::Reuse {
            return Ok(());
        }
        let fingerprint = plan.fingerprint.to_string();
        let deadline = tokio::time::Instant::now() + wait;
        let mut said = false;
        while self.kiln.cache_repo_has(repo, &fingerprint).await.is_none() {
            if tokio::time::Instant::now() >= deadline {
                sink.emit(BuildEvent::Note {
                    message: format!(
                        "another shard did not build it within {} s; building it here",
                        wait.as_secs()
                    ),
                });
                return Ok(());
            }
            if !said {
                sink.emit(BuildEvent::Note {
                    message: "another shard owns it: waiting for it in the cache repository"
                        .to_owned(),
                });
                said = true;
            }
            tokio::time::sleep(SHARD_POLL).await;
        }
        Ok(())
    }

    /// When the registry holds the cell's tag built from the same inputs: the report of a
    /// build that need not happen, the tag copied to the cache repository (registry-side), and
    /// the image pulled when children need it locally.
    async fn in_registry(
        &self,
        sink: &EventSink,
    ) -> Result<Option<(BuildReport, Option<Written>)>> {
        let plan = self.kiln.plan(&self.spec).await?;
        if plan.action != Action::Build {
            return Ok(None);
        }
        let Some(report) = crate::publish::already_in_registry(self.kiln, &plan).await? else {
            return Ok(None);
        };
        sink.emit(BuildEvent::Note {
            message: report.reason.clone(),
        });
        let cached = match &self.push_to {
            Some(repo) => {
                let to = repo.with_tag(&format!("kiln-{}", plan.fingerprint))?;
                let credentials = self.kiln.credentials().resolve(to.domain()).await?;
                let digest = self
                    .kiln
                    .registry()
                    .copy(
                        &report.tag,
                        &to,
                        kiln_core::RegistryOptions::new().credentials(credentials),
                    )
                    .await?;
                Some(Written {
                    reference: to.familiar(),
                    digest: digest.to_string(),
                })
            }
            None => None,
        };
        if self.has_children {
            self.kiln.pull(&report.tag, sink.clone()).await?;
        }
        Ok(Some((report, cached)))
    }

    /// The cell's image in the cache repository under `kiln-<fingerprint>`: found there, or
    /// pushed now.
    async fn ensure_cached(
        &self,
        repo: &ImageRef,
        built: &BuildReport,
        sink: &EventSink,
    ) -> Result<Written> {
        let fingerprint = built
            .fingerprint
            .as_ref()
            .ok_or_else(|| kiln_core::Error::internal("share the cell", "no fingerprint"))?
            .to_string();
        let reference = repo.with_tag(&format!("kiln-{fingerprint}"))?;
        let credentials = self.kiln.credentials().resolve(reference.domain()).await?;
        let options = kiln_core::RegistryOptions::new().credentials(credentials);
        if let Some(digest) = self.kiln.registry().head(&reference, options).await? {
            return Ok(Written {
                reference: reference.familiar(),
                digest: digest.to_string(),
            });
        }
        let image_id = ImageId::parse(&built.image_id)?;
        self.kiln.engine().tag(&image_id, &reference).await?;
        let pushed = crate::publish::push_tag(self.kiln, &reference, sink).await?;
        sink.emit(BuildEvent::Note {
            message: format!("shared as {}", reference.familiar()),
        });
        Ok(Written {
            reference: pushed.reference.familiar(),
            digest: pushed.digest.to_string(),
        })
    }

    /// The cell's build events: to the bake's events, tagged with the cell, and to its log.
    fn sink(&self, log: Option<Arc<Log>>) -> EventSink {
        let events = self.events.clone();
        let cell = self.cell.id.clone();
        EventSink::new(move |event| {
            if let Some(log) = &log {
                log.write(event);
            }
            events.emit(BakeEvent::Build {
                cell: cell.clone(),
                event: event.clone(),
            });
        })
    }

    fn empty_report(&self, duration_ms: u64) -> CellReport {
        let tags = self.tags.iter().map(ImageRef::familiar).collect();
        let mut report = CellReport::of(self.cell, tags, CellOutcome::Failed);
        report.duration_ms = duration_ms;
        report
    }
}

/// A cell's log file, written line by line as its events arrive.
pub(crate) struct Log {
    path: PathBuf,
    file: Mutex<File>,
}

impl Log {
    fn write(&self, event: &BuildEvent) {
        let Some(line) = log_line(event) else { return };
        if let Ok(mut file) = self.file.lock() {
            // A log that cannot be written loses lines, never the build.
            let _ = writeln!(file, "{line}");
        }
    }
}

/// The text a build event leaves in a log; progress counters leave none.
pub fn log_line(event: &BuildEvent) -> Option<String> {
    match event {
        BuildEvent::StepStarted { index, total, name } => Some(match total {
            Some(total) => format!("step {index}/{total}: {name}"),
            None => format!("step {index}: {name}"),
        }),
        BuildEvent::StepFinished {
            index,
            cached: true,
            ..
        } => Some(format!("step {index}: cached")),
        BuildEvent::Output { line } => Some(line.clone()),
        BuildEvent::Note { message } => Some(message.clone()),
        BuildEvent::Warning { message } => Some(format!("warning: {message}")),
        _ => None,
    }
}

fn open_log(path: &Path, events: &BakeEvents, cell: &CellId) -> Option<Arc<Log>> {
    match File::create(path) {
        Ok(file) => Some(Arc::new(Log {
            path: path.to_owned(),
            file: Mutex::new(file),
        })),
        Err(error) => {
            events.emit(BakeEvent::Build {
                cell: cell.clone(),
                event: BuildEvent::Warning {
                    message: format!("cannot write the log {}: {error}", path.display()),
                },
            });
            None
        }
    }
}

/// The log file name of a cell: its id with what paths cannot hold replaced.
pub fn log_name(cell: &CellId) -> String {
    let name: String = cell
        .as_str()
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' | '=' | ',' => c,
            _ => '_',
        })
        .collect();
    format!("{name}.log")
}
