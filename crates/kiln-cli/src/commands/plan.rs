//! `kiln plan`: the decision `build` would make — reuse or build — and what changed, with
//! nothing built.

use std::sync::Arc;

use kiln::Env;

use crate::args::BuildArgs;
use crate::commands::build::{scheme_from, spec_from};
use crate::commands::{close, open_with};
use crate::exit::{CommandKind, SUCCESS};
use crate::output::Io;
use crate::units::human_bytes;

pub(crate) async fn run(args: Box<BuildArgs>, env: Arc<dyn Env>, io: &Io) -> u8 {
    let spec = match spec_from(&args, env.as_ref()) {
        Ok(spec) => spec,
        Err(error) => return io.error(&error, CommandKind::Query, args.json),
    };
    let kiln = match open_with(env, io, &scheme_from(&args.scheme)).await {
        Ok(kiln) => kiln,
        Err(error) => return io.error(&error, CommandKind::Query, args.json),
    };
    let result = kiln.plan(&spec).await;
    close(&kiln, io).await;
    let plan = match result {
        Ok(plan) => plan,
        Err(error) => return io.error(&error, CommandKind::Query, args.json),
    };
    if args.json {
        io.json(&plan);
        return SUCCESS;
    }
    for warning in &plan.warnings {
        io.err(&format!("warning: {warning}"));
    }
    io.out(&format!(
        "{} {}: {}",
        plan.action,
        plan.tag.familiar(),
        plan.reason
    ));
    for change in &plan.changes {
        io.out(&format!("  {change}"));
    }
    if let Some(image_id) = &plan.image_id {
        io.out(&format!("image        {}", image_id.short()));
    }
    io.out(&format!("fingerprint  {}", plan.fingerprint));
    io.out(&format!(
        "inputs       {} entries, {} files hashed ({})",
        plan.inputs.entries,
        plan.inputs.hashed_files,
        human_bytes(plan.inputs.hashed_bytes)
    ));
    io.out(&format!(
        "builder      {} ({}), platform {}",
        plan.builder, plan.builder_reason, plan.platform
    ));
    if let kiln::DaemonState::Unreachable { error } = &plan.daemon {
        io.out(&format!(
            "daemon       unreachable ({error}): decided from records and cache"
        ));
    }
    SUCCESS
}
