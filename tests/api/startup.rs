//! Start-up refuses settings that would be unsafe in production, naming the
//! variable to set, with a non-zero exit.

use std::process::Command;

fn belfry() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_belfry"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("BELFRY_SESSION_SECRET")
        .env_remove("BELFRY_DEMO")
        .env_remove("REDIS_URL")
        .env("BELFRY_ADDR", "127.0.0.1:0")
        .env("BELFRY_LOG", "info");
    command
}

fn refused(command: &mut Command) -> String {
    let output = command.output().expect("the binary runs");
    assert!(!output.status.success(), "it must not start");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn on_redis_without_a_session_secret_it_exits_non_zero_naming_the_variable() {
    // Nothing listens on port 1: the check comes before any connection.
    let output = refused(
        belfry()
            .env("REDIS_URL", "redis://:hunter2@127.0.0.1:1")
            .env("BELFRY_DEMO", "1"),
    );
    assert!(output.contains("BELFRY_SESSION_SECRET"), "{output}");
    assert!(output.contains("REDIS_URL"), "{output}");
    assert!(
        !output.contains("hunter2"),
        "the URL's password stays out of logs"
    );
}

#[test]
fn outside_demo_mode_without_a_session_secret_it_exits_non_zero() {
    let output = refused(&mut belfry());
    assert!(output.contains("BELFRY_SESSION_SECRET"), "{output}");
}
