//! `kiln push REF` and `kiln pull REF`: layer progress on stderr, the digest on stdout.

use std::sync::Arc;

use kiln::{Env, ImageRef, Kiln};

use crate::args::TransferArgs;
use crate::commands::{close, open};
use crate::exit::{CommandKind, SUCCESS};
use crate::json::{Pulled, Pushed};
use crate::output::Io;
use crate::units::human_bytes;

/// The image `args` names and a kiln to move it with, or the exit code of why not.
async fn reference_and_kiln(
    args: &TransferArgs,
    env: Arc<dyn Env>,
    io: &Io,
) -> Result<(ImageRef, Kiln), u8> {
    let reference = ImageRef::parse(&args.reference)
        .map_err(|error| io.error(&error.into(), CommandKind::Transfer, args.json))?;
    let kiln = open(env, io)
        .await
        .map_err(|error| io.error(&error, CommandKind::Transfer, args.json))?;
    Ok((reference, kiln))
}

pub(crate) async fn push(args: TransferArgs, quiet: bool, env: Arc<dyn Env>, io: &Io) -> u8 {
    let (reference, kiln) = match reference_and_kiln(&args, env, io).await {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let result = kiln.push(&reference, io.progress(quiet)).await;
    close(&kiln, io).await;
    match result {
        Ok(pushed) => {
            if args.json {
                io.json(&Pushed {
                    reference: pushed.reference.clone(),
                    digest: pushed.digest.to_string(),
                    size: pushed.size,
                });
            } else {
                if !quiet {
                    io.err(&format!(
                        "pushed {} (manifest {})",
                        pushed.reference.familiar(),
                        human_bytes(pushed.size)
                    ));
                }
                io.out(&format!(
                    "{}@{}",
                    pushed.reference.familiar_repository(),
                    pushed.digest
                ));
            }
            SUCCESS
        }
        Err(error) => io.error(&error, CommandKind::Transfer, args.json),
    }
}

pub(crate) async fn pull(args: TransferArgs, quiet: bool, env: Arc<dyn Env>, io: &Io) -> u8 {
    let (reference, kiln) = match reference_and_kiln(&args, env, io).await {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let result = kiln.pull(&reference, io.progress(quiet)).await;
    close(&kiln, io).await;
    match result {
        Ok(pulled) => {
            if args.json {
                io.json(&Pulled {
                    reference: pulled.reference.clone(),
                    digest: pulled.digest.as_ref().map(ToString::to_string),
                    image_id: pulled.image_id.to_string(),
                });
            } else {
                io.out(&pulled.reference.familiar());
            }
            SUCCESS
        }
        Err(error) => io.error(&error, CommandKind::Transfer, args.json),
    }
}
