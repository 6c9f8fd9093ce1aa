//! `recoup-worker`: the background worker. Job families (outbox relay, dunning,
//! installments, promises, credit checks, referrals, snapshots) arrive with the worker
//! issue; for now the process checks its dependencies and waits for a stop signal, so
//! `scripts/run` can already supervise it.

use std::process::ExitCode;

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
    let database_url = var(
        "RECOUP_DATABASE_URL",
        "postgres://postgres:postgres@127.0.0.1:5432/recoup",
    );
    let redis_url = var("RECOUP_REDIS_URL", "redis://127.0.0.1:6379");
    if let Err(e) = recoup_core::db::migrate(&database_url).await {
        tracing::error!("database: {e}");
        return ExitCode::FAILURE;
    }
    let redis = match redis::Client::open(redis_url.as_str()) {
        Ok(client) => client.get_multiplexed_async_connection().await,
        Err(e) => Err(e),
    };
    if let Err(e) = redis {
        tracing::error!("redis: {e}");
        return ExitCode::FAILURE;
    }
    tracing::info!("recoup-worker ready; no job families are registered yet");
    wait_for_stop().await;
    tracing::info!("recoup-worker stopping");
    ExitCode::SUCCESS
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
