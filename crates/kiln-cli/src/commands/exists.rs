//! `kiln exists REF`: exit 0 when the daemon has the image, 1 when it does not.

use std::sync::Arc;

use kiln::{Env, ImageRef};
use serde_json::json;

use crate::args::ExistsArgs;
use crate::commands::kiln_for;
use crate::exit::{CommandKind, NEGATIVE, SUCCESS};
use crate::output::Io;

pub(crate) async fn run(args: ExistsArgs, env: Arc<dyn Env>, io: &Io) -> u8 {
    let reference = match ImageRef::parse(&args.reference) {
        Ok(reference) => reference,
        Err(error) => return io.error(&error.into(), CommandKind::Query, args.json),
    };
    let kiln = match kiln_for(env) {
        Ok(kiln) => kiln,
        Err(error) => return io.error(&error, CommandKind::Query, args.json),
    };
    match kiln.engine().inspect(&reference).await {
        Ok(details) => {
            let exists = details.is_some();
            if args.json {
                io.json(&json!({
                    "ref": reference.familiar(),
                    "exists": exists,
                    "image_id": details.as_ref().map(|d| d.id.clone()),
                    "source": "daemon",
                }));
            } else {
                let answer = if exists { "present" } else { "absent" };
                io.out(&format!("{}: {answer}", reference.familiar()));
            }
            if exists { SUCCESS } else { NEGATIVE }
        }
        Err(error) => io.error(&error, CommandKind::Query, args.json),
    }
}
