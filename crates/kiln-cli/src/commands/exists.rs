//! `kiln exists REF`: exit 0 when the image exists, 1 when it does not, 3 when nobody can tell.
//!
//! A fresh cached answer is given without asking the daemon; when the daemon cannot be
//! reached, the cache answers where its rules allow (`"source": "cache"`, `"stale": true`).

use std::sync::Arc;

use kiln::{Env, ImageRef};

use crate::args::ExistsArgs;
use crate::commands::{close, open};
use crate::exit::{CommandKind, NEGATIVE, SUCCESS};
use crate::json::{Exists, RemoteExists};
use crate::output::Io;

pub(crate) async fn run(args: ExistsArgs, env: Arc<dyn Env>, io: &Io) -> u8 {
    let reference = match ImageRef::parse(&args.reference) {
        Ok(reference) => reference,
        Err(error) => return io.error(&error.into(), CommandKind::Query, args.json),
    };
    let kiln = match open(env, io).await {
        Ok(kiln) => kiln,
        Err(error) => return io.error(&error, CommandKind::Query, args.json),
    };
    if args.remote {
        return remote(&kiln, &reference, args.json, io).await;
    }
    let result = kiln.image_answer(&reference).await;
    close(&kiln, io).await;
    let answer = match result {
        Ok(answer) => answer,
        Err(error) => return io.error(&error, CommandKind::Query, args.json),
    };
    let exists = answer.details.is_some();
    if args.json {
        io.json(&Exists {
            reference: reference.clone(),
            exists,
            image_id: answer
                .details
                .as_ref()
                .map(|details| details.id.to_string()),
            source: answer.source,
            stale: answer.stale,
        });
    } else {
        let verdict = if exists { "present" } else { "absent" };
        let provenance = match (answer.source, answer.stale) {
            (kiln::Source::Daemon, _) => String::new(),
            (kiln::Source::Cache, false) => " (cached)".to_owned(),
            (kiln::Source::Cache, true) => " (stale cache: the daemon is unreachable)".to_owned(),
        };
        io.out(&format!("{}: {verdict}{provenance}", reference.familiar()));
    }
    if exists { SUCCESS } else { NEGATIVE }
}

/// Asks the registry for the manifest (no pull, no daemon); an image index lists its platforms.
async fn remote(kiln: &kiln::Kiln, reference: &ImageRef, json_output: bool, io: &Io) -> u8 {
    match kiln.remote_describe(reference).await {
        Ok(remote) => {
            let exists = remote.is_some();
            let platforms: Vec<String> = remote
                .iter()
                .flat_map(|remote| remote.platforms.iter().map(ToString::to_string))
                .collect();
            if json_output {
                io.json(&RemoteExists {
                    reference: reference.clone(),
                    exists,
                    digest: remote.as_ref().map(|remote| remote.digest.to_string()),
                    platforms,
                    source: "registry",
                });
            } else {
                let verdict = if exists { "present" } else { "absent" };
                let listing = if platforms.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", platforms.join(", "))
                };
                io.out(&format!(
                    "{}: {verdict} in the registry{listing}",
                    reference.familiar()
                ));
            }
            if exists { SUCCESS } else { NEGATIVE }
        }
        Err(error) => io.error(&error, CommandKind::Query, json_output),
    }
}
