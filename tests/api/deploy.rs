//! The files in `deploy/` agree with the binary: every variable they set is
//! a setting it reads, the unit waits out the drain, and nginx waits out
//! the heartbeat. (The nginx files themselves carry the browser tests in
//! end2end/tests/proxy.spec.ts.)

use belfry::server::config::Config;
use clap::CommandFactory;

fn deploy_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/deploy/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|error| panic!("deploy/{name}: {error}"))
}

/// The value of the first `key=value` (systemd) or `key value;` (nginx)
/// line for `key` in `text`.
fn setting<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .map(str::trim)
        .find_map(|line| {
            line.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('=').or_else(|| rest.strip_prefix(' ')))
        })
        .map(|value| value.trim_end_matches(';').trim())
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

/// locations.conf's block for `/api/sse/`.
fn stream_location() -> String {
    deploy_file("nginx/locations.conf")
        .split("location ")
        .find(|block| block.starts_with("/api/sse/"))
        .expect("a location for /api/sse/")
        .to_owned()
}

fn seconds(value: &str) -> u64 {
    value
        .trim_end_matches('s')
        .parse()
        .unwrap_or_else(|_| panic!("{value:?} is not a number of seconds"))
}

#[test]
fn every_variable_the_deploy_files_set_is_a_setting_of_the_binary() {
    let known: Vec<String> = Config::command()
        .get_arguments()
        .filter_map(|argument| argument.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    let unit = deploy_file("belfry@.service");
    let env = deploy_file("belfry.env.example");
    let assignments = unit
        .lines()
        .filter_map(|line| line.strip_prefix("Environment="))
        .chain(env.lines().filter(|line| !line.starts_with('#')))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
        .filter(|name| !name.is_empty());
    let mut checked = 0;
    for name in assignments {
        assert!(
            known.iter().any(|k| k == name),
            "{name} is not a setting: {known:?}"
        );
        checked += 1;
    }
    assert!(
        checked >= 6,
        "the files set the settings a deployment needs"
    );
    for secret in ["BELFRY_SESSION_SECRET", "BELFRY_PUBLISH_KEY"] {
        assert!(
            env.contains(secret),
            "{secret} belongs in the environment file"
        );
        assert!(
            !unit.contains(&format!("{secret}=")),
            "{secret} must not be in the unit"
        );
    }
    assert!(unit.contains("EnvironmentFile=/etc/belfry/belfry.env"));
    assert_eq!(setting(&unit, "Environment=BELFRY_COOKIE_SECURE"), "true");
}

#[test]
fn the_unit_stops_later_than_the_drain_and_the_grace_together() {
    let defaults = Config::defaults();
    let unit = deploy_file("belfry@.service");
    assert_eq!(setting(&unit, "KillSignal"), "SIGTERM");
    let stop = seconds(setting(&unit, "TimeoutStopSec"));
    assert!(
        stop > defaults.drain_secs + defaults.shutdown_grace_secs,
        "TimeoutStopSec={stop} must exceed drain ({}) + grace ({})",
        defaults.drain_secs,
        defaults.shutdown_grace_secs
    );
}

#[test]
fn nginx_waits_on_a_stream_longer_than_two_heartbeats_and_never_buffers_it() {
    let defaults = Config::defaults();
    let streams = &stream_location();
    assert_eq!(setting(streams, "proxy_buffering"), "off");
    assert!(seconds(setting(streams, "proxy_read_timeout")) > 2 * defaults.heartbeat_secs);
    assert_eq!(
        setting(streams, "proxy_set_header X-Real-IP"),
        "$remote_addr"
    );
    let site = deploy_file("nginx/belfry.conf");
    let stream_upstream = site
        .split("upstream ")
        .find(|block| block.starts_with("belfry_streams"))
        .expect("an upstream for streams");
    assert!(
        !stream_upstream.contains("keepalive"),
        "streams take a connection of their own"
    );
    assert!(site.contains("http2"), "TLS serves HTTP/2");
}

#[test]
fn nginx_limits_streams_per_client_address_as_each_instance_does() {
    let defaults = Config::defaults();
    let streams = &stream_location();
    assert_eq!(
        setting(streams, "limit_conn belfry_streams_per_client"),
        defaults.max_streams_per_ip.to_string()
    );
    assert_eq!(setting(streams, "limit_conn_status"), "429");
    let site = deploy_file("nginx/belfry.conf");
    assert!(
        site.lines().any(|line| line
            .starts_with("limit_conn_zone $binary_remote_addr zone=belfry_streams_per_client:")),
        "belfry.conf defines the zone, keyed by the client's address"
    );
}

/// systemd's own parser accepts the unit without a warning: a misspelt key
/// or an unparsable value is only a warning to systemd, which then runs the
/// unit without it. The binary's path is pointed at a stand-in, since
/// `verify` also checks that `ExecStart` is executable.
#[test]
fn systemd_analyze_verify_accepts_the_unit_without_a_warning() {
    let Ok(version) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        println!("SKIPPED: systemd-analyze is not installed (Debian: apt-get install systemd)");
        return;
    };
    assert!(version.status.success());
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("belfry-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let binary = dir.join("belfry");
    std::fs::write(&binary, "#!/bin/sh\n").expect("write the stand-in binary");
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the stand-in binary");
    let unit = deploy_file("belfry@.service");
    assert!(unit.contains("ExecStart=/opt/belfry/belfry "));
    let unit = unit.replace(
        "ExecStart=/opt/belfry/belfry ",
        &format!("ExecStart={} ", binary.display()),
    );
    let path = dir.join("belfry@3000.service");
    std::fs::write(&path, unit).expect("write the unit");
    let verdict = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("run systemd-analyze verify");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verdict.stdout),
        String::from_utf8_lossy(&verdict.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(verdict.status.success(), "systemd-analyze verify: {said}");
    assert!(
        said.trim().is_empty(),
        "systemd-analyze verify warned: {said}"
    );
}
