//! `recoup-api`: serve the API (default), `migrate`, `openapi` (print the spec),
//! `seed-demo` (one demo user per role and the demo portfolio; see `demo`) or
//! `import` (a CSV file at once).

use std::process::ExitCode;
use std::sync::Arc;

use recoup_api::config::{Config, Environment};
use recoup_api::{Application, demo, openapi};
use recoup_core::clock::SystemClock;
use recoup_core::{Clock, Context, db, import};

fn init_tracing(config: Option<&Config>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RECOUP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.is_some_and(|c| c.env == Environment::Production) {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "serve".to_owned());
    if command == "openapi" {
        print!("{}", openapi::pretty_json());
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            init_tracing(None);
            tracing::error!("configuration: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(Some(&config));
    let result = match command.as_str() {
        "serve" => serve(config).await,
        "migrate" => migrate(&config).await,
        "seed-demo" => seed_demo(&config).await,
        "import" => import_command(&config).await,
        other => {
            eprintln!(
                "unknown command {other:?}; use serve, migrate, openapi, seed-demo or import"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.bind.clone();
    let app = Application::build(config, Arc::new(SystemClock)).await?;
    tracing::info!(%bind, port = app.port(), "recoup-api listening");
    app.run().await?;
    Ok(())
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let applied = db::migrate(&config.database_url).await?;
    tracing::info!(?applied, "migrations applied");
    Ok(())
}

/// One login per role and, into an empty ledger, the demo portfolio (see `demo`).
async fn seed_demo(config: &Config) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.env != Environment::Production,
        "seed-demo refuses to run in production"
    );
    db::migrate(&config.database_url).await?;
    let pool = db::pool(&config.database_url, 2)?;
    let mut conn = db::conn(&pool).await?;
    let ctx = Context::system(SystemClock.now());
    println!("Demo logins (development only):");
    for login in demo::create_users(&mut conn, &ctx).await? {
        let shown = login
            .password
            .unwrap_or_else(|| "(existed already; password unchanged)".to_owned());
        println!(
            "  {:<16} {:<28} {}",
            login.role.as_str(),
            login.email,
            shown
        );
    }
    println!(
        "Demo portfolio ({}: IBM's accounts-receivable sample, moved to the present):",
        demo::PORTFOLIO
    );
    let Ok(csv) = std::fs::read(demo::PORTFOLIO) else {
        println!("  not found; nothing seeded");
        return Ok(());
    };
    let mut counting = false;
    let seeded = demo::seed_portfolio(&mut conn, &ctx, &csv, |r| {
        counting = true;
        eprint!("\r  {} rows…", r.rows);
    })
    .await?;
    if counting {
        eprintln!();
    }
    match seeded {
        Some(seeded) => print!("{seeded}"),
        None => println!("  the ledger has invoices already; nothing seeded"),
    }
    Ok(())
}

async fn import_file(
    conn: &mut diesel_async::AsyncPgConnection,
    ctx: &Context,
    path: &std::path::Path,
    kind: import::ImportKind,
) -> anyhow::Result<import::ImportReport> {
    let file = std::fs::File::open(path)?;
    let report = import::import_reader(conn, ctx, kind, None, file, |r| {
        eprint!("\r  {} rows…", r.rows);
    })
    .await?;
    eprintln!();
    Ok(report)
}

/// `recoup-api import FILE [KIND]`: imports a CSV in a kind's built-in layout (default
/// `ibm`, IBM's sample) synchronously and prints the report.
async fn import_command(config: &Config) -> anyhow::Result<()> {
    let usage = "usage: recoup-api import FILE.csv [ibm|customers|invoices|payments]";
    let path = std::env::args()
        .nth(2)
        .ok_or_else(|| anyhow::anyhow!(usage))?;
    let kind: import::ImportKind = std::env::args()
        .nth(3)
        .unwrap_or_else(|| "ibm".to_owned())
        .parse()
        .map_err(|_| anyhow::anyhow!(usage))?;
    db::migrate(&config.database_url).await?;
    let pool = db::pool(&config.database_url, 2)?;
    let mut conn = db::conn(&pool).await?;
    let ctx = Context::system(SystemClock.now());
    let report = import_file(&mut conn, &ctx, std::path::Path::new(&path), kind).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
