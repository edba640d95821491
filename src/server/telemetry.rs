//! Structured logging with `tracing`.
//!
//! Owns installing the global subscriber once, at start-up. It must not be
//! called from library code or tests that build several apps in one process.

use tracing_subscriber::EnvFilter;

use super::config::{Config, LogFormat};

/// Installs the process-wide log subscriber: `RUST_LOG` if set, else the
/// configured filter; text or JSON lines on stderr.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: a log file or collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let installed = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if let Err(error) = installed {
        eprintln!("belfry: logging was already initialised: {error}");
    }
}
