//! `kiln doctor`: what kiln can see — the daemon, where it came from, the host platform —
//! as the facade's [`Diagnosis`] tells it.

use std::sync::Arc;

use kiln::{Diagnosis, Env, ErrorKind};
use kiln_platform::SystemProbe;

use crate::args::DoctorArgs;
use crate::commands::open;
use crate::exit::{INVALID_INPUT, SUCCESS, UNREACHABLE};
use crate::output::Io;

pub(crate) async fn run(args: DoctorArgs, env: Arc<dyn Env>, io: &Io) -> u8 {
    let diagnosis = match open(Arc::clone(&env), io).await {
        Ok(kiln) => kiln.doctor().await,
        Err(error) => Diagnosis::without_kiln(env.as_ref(), &SystemProbe, &error),
    };
    if args.json {
        io.json(&diagnosis);
    } else {
        for line in human(&diagnosis) {
            io.out(&line);
        }
    }
    exit_code(&diagnosis)
}

/// Success when the daemon answered; invalid input when kiln's configuration, `DOCKER_HOST`
/// or the Docker context is wrong; otherwise the daemon is unreachable.
fn exit_code(diagnosis: &Diagnosis) -> u8 {
    match (diagnosis.daemon.reachable, diagnosis.daemon.error_kind) {
        (true, _) => SUCCESS,
        (false, Some(ErrorKind::InvalidInput)) => INVALID_INPUT,
        (false, _) => UNREACHABLE,
    }
}

/// The diagnosis as people read it.
fn human(diagnosis: &Diagnosis) -> Vec<String> {
    let text = |value: Option<&str>| value.unwrap_or("-").to_owned();
    let daemon = &diagnosis.daemon;
    let emulators: Vec<String> = diagnosis
        .emulators
        .iter()
        .filter(|emulator| emulator.enabled)
        .map(|emulator| format!("{} ({})", emulator.platform, emulator.name))
        .collect();
    let mut lines = vec![
        format!("kiln          {}", diagnosis.kiln_version),
        format!("host          {}", text(diagnosis.host_platform.as_deref())),
        format!(
            "emulators     {} — {}",
            if emulators.is_empty() {
                "none".to_owned()
            } else {
                emulators.join(", ")
            },
            text(diagnosis.binfmt.as_deref())
        ),
        format!(
            "buildx        {}",
            diagnosis
                .buildx
                .as_deref()
                .unwrap_or("not installed (not needed: kiln uses the daemon's BuildKit)")
        ),
        format!(
            "daemon        {} (from {})",
            text(daemon.endpoint.as_deref()),
            text(daemon.source.as_deref())
        ),
    ];
    if daemon.reachable {
        lines.push(format!(
            "  version     {} (API {}), {}/{}",
            text(daemon.version.as_deref()),
            text(daemon.api_version.as_deref()),
            text(daemon.os.as_deref()),
            text(daemon.architecture.as_deref())
        ));
        lines.push(format!(
            "  buildkit    {}",
            daemon.buildkit.map_or("-".to_owned(), |b| b.to_string())
        ));
    } else if daemon.error_kind == Some(ErrorKind::InvalidInput) {
        lines.push(format!("  not tried   {}", text(daemon.error.as_deref())));
    } else {
        lines.push(format!("  unreachable {}", text(daemon.error.as_deref())));
    }
    if let Some(cache) = &diagnosis.cache {
        let count = |n: Option<usize>| n.map_or("-".to_owned(), |n| n.to_string());
        lines.push(format!("cache         {}", text(cache.dir.as_deref())));
        lines.push(format!(
            "  mode        {}: {} existence answers ({} fresh), {} build records",
            cache.mode,
            count(cache.l1_answers),
            count(cache.l1_fresh),
            count(cache.l2_records)
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln::{Error, MapEnv};
    use kiln_platform::FakeProbe;

    #[test]
    fn without_a_kiln_the_report_reads_well() {
        let env = MapEnv::new().with("DOCKER_HOST", "unix:///run/test-docker.sock");
        let error = Error::invalid_input("configuration file", "/k.toml", "valid kiln settings");
        let mut diagnosis = Diagnosis::without_kiln(&env, &FakeProbe::new("x86_64"), &error);
        diagnosis.kiln_version = "[version]".to_owned();
        insta::assert_snapshot!(human(&diagnosis).join("\n"));
        assert_eq!(exit_code(&diagnosis), INVALID_INPUT);
    }

    #[test]
    fn an_unreachable_daemon_is_exit_3() {
        let env = MapEnv::new().with("DOCKER_HOST", "unix:///run/test-docker.sock");
        let error = Error::Unreachable {
            endpoint: "unix:///run/test-docker.sock".into(),
            reason: "socket /run/test-docker.sock does not exist".into(),
        };
        let diagnosis = Diagnosis::without_kiln(&env, &FakeProbe::new("x86_64"), &error);
        assert_eq!(exit_code(&diagnosis), UNREACHABLE);
        assert!(
            human(&diagnosis)
                .iter()
                .any(|line| line.contains("unreachable"))
        );
    }
}
