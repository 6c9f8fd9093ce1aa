//! `recoup-worker`: migrates, then relays the outbox and runs the job families until
//! SIGTERM or Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;

use recoup_core::clock::SystemClock;
use recoup_worker::Settings;

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RECOUP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let settings = Settings {
        database_url: var(
            "RECOUP_DATABASE_URL",
            "postgres://postgres:postgres@127.0.0.1:5432/recoup",
        ),
        redis_url: var("RECOUP_REDIS_URL", "redis://127.0.0.1:6379"),
        redis_prefix: var("RECOUP_REDIS_PREFIX", "recoup"),
        clock: Arc::new(SystemClock),
        business_timezone: match var("RECOUP_BUSINESS_TIMEZONE", "UTC").parse() {
            Ok(tz) => tz,
            Err(_) => {
                tracing::error!("RECOUP_BUSINESS_TIMEZONE is not an IANA timezone name");
                return ExitCode::FAILURE;
            }
        },
        schedule_every: std::time::Duration::from_secs(30),
    };
    if let Err(e) = recoup_core::db::migrate(&settings.database_url).await {
        tracing::error!("database: {e}");
        return ExitCode::FAILURE;
    }
    tracing::info!("recoup-worker running: outbox relay, schedules and job families");
    match recoup_worker::run(settings, wait_for_stop()).await {
        Ok(()) => {
            tracing::info!("recoup-worker stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM (what `scripts/run stop` and service managers send) or Ctrl-C.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
