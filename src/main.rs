//! The Belfry server binary: configuration → telemetry → application → serve
//! until SIGINT/SIGTERM. Everything else lives in `belfry::server`.
//!
//! With the `jemalloc` feature (the release build's default) the process
//! allocates through jemalloc: at 10,000 idle streams it holds about a
//! quarter less RSS than glibc's malloc (docs/architecture.md, "Memory per
//! stream").

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use belfry::server::{config::Config, shutdown, startup::Application, telemetry};
    use clap::Parser;

    let config = Config::parse();
    telemetry::init(&config);
    tracing::debug!(?config, "configuration");
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "start-up failed");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %app.local_addr(), "listening on http://{}", app.local_addr());
    match app.run_until(shutdown::signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "server failed");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The browser build has no server binary.
#[cfg(not(feature = "ssr"))]
fn main() {}
