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

/// A file in a fresh temporary directory, removed with it.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str) -> TempFile {
        let dir =
            std::env::temp_dir().join(format!("belfry-startup-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[tokio::test]
async fn a_leptos_config_file_replaces_the_settings_built_into_the_binary() {
    let file = TempFile::new(
        "Leptos.toml",
        "[package.metadata.leptos]\noutput-name = \"renamed\"\nsite-pkg-dir = \"static\"\n",
    );
    let mut config = crate::helpers::test_config();
    config.leptos_config = Some(file.0.clone());
    let app = crate::helpers::spawn_app_with(config).await;

    let response = app.client.get(app.url("/")).send().await.unwrap();
    let page = response.text().await.unwrap();
    assert!(page.contains("/static/renamed"), "{page}");
    assert!(!page.contains("/pkg/belfry"), "{page}");
}

#[tokio::test]
async fn a_missing_leptos_config_file_stops_start_up_naming_the_problem() {
    let mut config = crate::helpers::test_config();
    config.leptos_config = Some("/nonexistent/belfry/Leptos.toml".into());
    let refused = belfry::server::startup::Application::build(config).await;
    let Err(error) = refused else {
        panic!("start-up must fail without the named file");
    };
    assert!(
        error.to_string().contains("invalid Leptos configuration"),
        "{error}"
    );
}

#[tokio::test]
async fn the_site_root_setting_serves_the_built_site_from_anywhere() {
    let file = TempFile::new("probe.txt", "served from the configured site root");
    let mut config = crate::helpers::test_config();
    config.site_root = file.0.parent().map(std::path::Path::to_path_buf);
    let app = crate::helpers::spawn_app_with(config).await;

    let response = app.client.get(app.url("/probe.txt")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "served from the configured site root"
    );
}
