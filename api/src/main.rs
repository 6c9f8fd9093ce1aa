//! `recoup-api`: serve the API (default), `migrate`, `openapi` (print the spec) or
//! `seed-demo` (create one demo user per role).

use recoup_core::ProblemCode;
use std::process::ExitCode;
use std::sync::Arc;

use recoup_api::config::{Config, Environment};
use recoup_api::{Application, openapi};
use recoup_core::clock::SystemClock;
use recoup_core::{Clock, Context, customer, db, import, invoice, user};

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
        let shown = match user::create(&mut conn, &ctx, input).await {
            Ok(_) => password,
            // Never overwrite a password someone may have changed since.
            Err(recoup_core::Error::Conflict {
                code: ProblemCode::EmailTaken,
                ..
            }) => "(existed already; password unchanged)".to_owned(),
            Err(e) => return Err(e.into()),
        };
        println!("  {:<16} {:<28} {}", role.as_str(), email, shown);
    }
    let portfolio = std::path::Path::new(DEMO_PORTFOLIO);
    if invoice::count_all(&mut conn).await? == 0 && portfolio.exists() {
        println!(
            "Importing the demo portfolio ({DEMO_PORTFOLIO}: IBM's accounts-receivable sample)…"
        );
        let report = import_file(&mut conn, &ctx, portfolio, import::ImportKind::Ibm).await?;
        println!(
            "  {} rows: {} customers, {} invoices, {} payments, {} rows rejected",
            report.rows,
            report.customers_created,
            report.invoices_created,
            report.payments_created,
            report.rejected
        );
        assign_demo_portfolio(&mut conn, &ctx).await?;
    }
    Ok(())
}

/// The demo portfolio: a copy of IBM's public accounts-receivable sample.
const DEMO_PORTFOLIO: &str = "data/ibm-accounts-receivable.csv";

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

/// Spreads the demo customers over the demo collectors, and gives every other one to
/// the demo sales rep, so each role has accounts to see.
async fn assign_demo_portfolio(
    conn: &mut diesel_async::AsyncPgConnection,
    ctx: &Context,
) -> anyhow::Result<()> {
    let users = user::list(
        conn,
        ctx,
        &user::UserFilter {
            limit: Some(200),
            ..Default::default()
        },
    )
    .await?
    .data;
    let id_of = |email: &str| users.iter().find(|u| u.email == email).map(|u| u.id);
    let collectors: Vec<_> = [
        "collector@recoup.example",
        "collector2@recoup.example",
        "field@recoup.example",
    ]
    .iter()
    .filter_map(|e| id_of(e))
    .collect();
    let sales = id_of("sales@recoup.example");
    let customers = customer::list(
        conn,
        ctx,
        &customer::CustomerFilter {
            limit: Some(200),
            ..Default::default()
        },
    )
    .await?
    .data;
    for (i, c) in customers.iter().enumerate() {
        let assignment = customer::Assignment {
            assigned_collector_id: collectors.get(i % collectors.len().max(1)).copied(),
            sales_rep_id: if i % 2 == 0 { sales } else { None },
        };
        customer::assign(conn, ctx, c.id, assignment).await?;
    }
    println!(
        "  assigned {} customers to the demo collectors and sales rep",
        customers.len()
    );
    Ok(())
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
