//! `recoup-api`: serve the API (default), `migrate`, `openapi` (print the spec) or
//! `seed-demo` (create one demo user per role).

use std::process::ExitCode;
use std::sync::Arc;

use recoup_api::config::{Config, Environment};
use recoup_api::{Application, openapi};
use recoup_core::clock::SystemClock;
use recoup_core::{Clock, Context, db, user};

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
        other => {
            eprintln!("unknown command {other:?}; use serve, migrate, openapi or seed-demo");
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

/// Demo logins for a local portfolio: one user per role, with the password printed.
pub const DEMO_USERS: &[(&str, &str, user::Role)] = &[
    ("admin@recoup.example", "Ada Admin", user::Role::Admin),
    (
        "manager@recoup.example",
        "Morgan Manager",
        user::Role::Manager,
    ),
    (
        "collector@recoup.example",
        "Casey Collector",
        user::Role::Collector,
    ),
    (
        "collector2@recoup.example",
        "Chris Collector",
        user::Role::Collector,
    ),
    (
        "field@recoup.example",
        "Frankie Field",
        user::Role::FieldCollector,
    ),
    (
        "accountant@recoup.example",
        "Alex Accountant",
        user::Role::Accountant,
    ),
    ("sales@recoup.example", "Sam Sales", user::Role::Sales),
    (
        "auditor@recoup.example",
        "Avery Auditor",
        user::Role::Auditor,
    ),
];

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
    for (email, name, role) in DEMO_USERS {
        let password = format!("demo-{}-pass", role.as_str().replace('_', "-"));
        let input = user::NewUser {
            email: (*email).into(),
            name: (*name).into(),
            role: *role,
            password: password.clone(),
        };
        match user::create(&mut conn, &ctx, input).await {
            Ok(_)
            | Err(recoup_core::Error::Conflict {
                code: "email_taken",
                ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
        println!("  {:<16} {:<28} {}", role.as_str(), email, password);
    }
    Ok(())
}
