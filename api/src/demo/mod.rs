//! The demo (`recoup-api seed-demo`): one login per role, and a portfolio that looks
//! like a working collections department on the day it is seeded.
//!
//! - [`create_users`]: the demo logins of [`USERS`] (password `demo-<role>-pass`); an
//!   existing one is left as it is.
//! - [`seed_portfolio`], into an empty ledger only: IBM's accounts-receivable sample
//!   ([`PORTFOLIO`]) moved to the present by `import::DateShift` (its last invoice
//!   [`LAST_INVOICE_DAYS_AGO`] days before today, invoices it settles after today left
//!   open), spread over the demo collectors and sales rep, then the demo collector's
//!   recent weeks of work ([`day`]), so that their worklist, the aging report and the
//!   hit list have something to show.
//!
//! Everything goes through the domain's own operations, as the API's handlers and the
//! worker call them; "today" is the instant of the context given, so a test chooses it.

pub mod day;

use std::fmt;

use diesel_async::AsyncPgConnection;
use recoup_core::user::{self, Role};
use recoup_core::{Context, ProblemCode, customer, import, invoice};

pub use day::CollectorDay;

/// Demo logins for a local portfolio: one user per role (e-mail, name, role).
pub const USERS: &[(&str, &str, Role)] = &[
    ("admin@recoup.example", "Ada Admin", Role::Admin),
    ("manager@recoup.example", "Morgan Manager", Role::Manager),
    (COLLECTOR, "Casey Collector", Role::Collector),
    (
        "collector2@recoup.example",
        "Chris Collector",
        Role::Collector,
    ),
    (
        "field@recoup.example",
        "Frankie Field",
        Role::FieldCollector,
    ),
    (ACCOUNTANT, "Alex Accountant", Role::Accountant),
    ("sales@recoup.example", "Sam Sales", Role::Sales),
    ("auditor@recoup.example", "Avery Auditor", Role::Auditor),
];

/// The demo collector, whose day [`day`] seeds.
pub const COLLECTOR: &str = "collector@recoup.example";
/// Posts the demo's invoices and payments.
pub const ACCOUNTANT: &str = "accountant@recoup.example";
/// Approves the demo's payment plan.
pub const MANAGER: &str = "manager@recoup.example";

/// The users the demo customers are spread over, in turn.
const COLLECTORS: [&str; 3] = [
    COLLECTOR,
    "collector2@recoup.example",
    "field@recoup.example",
];
const SALES_REP: &str = "sales@recoup.example";

/// The demo portfolio: a copy of IBM's public accounts-receivable sample.
pub const PORTFOLIO: &str = "data/ibm-accounts-receivable.csv";

/// How many days before today the sample's last invoice is dated once moved.
pub const LAST_INVOICE_DAYS_AGO: u32 = 3;

/// A demo role's password.
pub fn password(role: Role) -> String {
    format!("demo-{}-pass", role.as_str().replace('_', "-"))
}

/// A demo login: its password, or `None` when the user existed already (whose password
/// is never overwritten: someone may have changed it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub role: Role,
    pub email: &'static str,
    pub password: Option<String>,
}

/// Creates the demo users that do not exist yet.
pub async fn create_users(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
) -> anyhow::Result<Vec<Login>> {
    let mut logins = Vec::with_capacity(USERS.len());
    for (email, name, role) in USERS {
        let input = user::NewUser {
            email: (*email).into(),
            name: (*name).into(),
            role: *role,
            password: password(*role),
        };
        let password = match user::create(conn, ctx, input).await {
            Ok(_) => Some(password(*role)),
            Err(recoup_core::Error::Conflict {
                code: ProblemCode::EmailTaken,
                ..
            }) => None,
            Err(e) => return Err(e.into()),
        };
        logins.push(Login {
            role: *role,
            email,
            password,
        });
    }
    Ok(logins)
}

/// What [`seed_portfolio`] did.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// Days every date of the sample moved.
    pub shift_days: i64,
    pub import: import::ImportReport,
    /// Customers spread over the demo collectors and sales rep.
    pub assigned: usize,
    /// The demo collector's weeks of work; `None` when a demo user it needs is missing.
    pub day: Option<CollectorDay>,
}

impl Seeded {
    /// Invoices the shift left open: settled after today in the sample.
    pub fn left_open(&self) -> u64 {
        self.import
            .invoices_created
            .saturating_sub(self.import.payments_created)
    }
}

impl fmt::Display for Seeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.import;
        writeln!(
            f,
            "  dates moved by {} days: {} rows, {} customers, {} invoices ({} left open, settled after today in the sample), {} payments, {} rows rejected",
            self.shift_days,
            r.rows,
            r.customers_created,
            r.invoices_created,
            self.left_open(),
            r.payments_created,
            r.rejected
        )?;
        writeln!(
            f,
            "  assigned {} customers to the demo collectors and sales rep",
            self.assigned
        )?;
        match &self.day {
            Some(day) => write!(f, "{day}"),
            None => writeln!(f, "  no collector's day: a demo user is missing"),
        }
    }
}

/// Seeds the demo portfolio from `csv` (a file in IBM's sample layout) into an empty
/// ledger; `None`, and nothing written, when the ledger has invoices already (so
/// seeding twice adds nothing). `progress` sees the import's running totals.
pub async fn seed_portfolio(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    csv: &[u8],
    progress: impl FnMut(&import::ImportReport),
) -> anyhow::Result<Option<Seeded>> {
    if invoice::count_all(conn).await? > 0 {
        return Ok(None);
    }
    let today = ctx.now.date_naive();
    let last = import::ibm_last_invoice_date(csv)?
        .ok_or_else(|| anyhow::anyhow!("the demo portfolio has no readable invoice"))?;
    let shift = import::DateShift::landing(last, today, LAST_INVOICE_DAYS_AGO);
    let report = import::import_ibm_shifted(conn, ctx, csv, &shift, progress).await?;
    let assigned = assign_portfolio(conn, ctx).await?;
    let day = day::seed(conn, ctx.now).await?;
    Ok(Some(Seeded {
        shift_days: shift.days(),
        import: report,
        assigned,
        day,
    }))
}

/// Spreads the customers over the demo collectors in turn, and gives every other one
/// to the demo sales rep, so each role has accounts to see. Returns how many.
async fn assign_portfolio(conn: &mut AsyncPgConnection, ctx: &Context) -> anyhow::Result<usize> {
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
    let collectors: Vec<_> = COLLECTORS.iter().filter_map(|e| id_of(e)).collect();
    let sales = id_of(SALES_REP);
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
    Ok(customers.len())
}
