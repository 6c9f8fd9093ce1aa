//! End-to-end harness: the real API on a free port, against real PostgreSQL and Redis.
//!
//! Every [`TestApp`] gets its own database, cloned from a template migrated once per
//! migration set, and its own Redis key prefix; dropping it removes both. Tests thus run
//! in parallel (nextest runs each in its own process) and leave nothing behind.

pub mod contract;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use anyhow::{Context as _, Result};
use chrono::{DateTime, TimeZone, Utc};
use recoup_api::Application;
use recoup_api::config::Config;
use recoup_core::clock::FixedClock;
use recoup_core::user::{NewUser, Role};
use recoup_core::{Context, db, user};
use reqwest::{Method, Response, StatusCode};
use reqwest_middleware::{ClientWithMiddleware, RequestBuilder};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const SERVER: &str = "postgres://postgres:postgres@127.0.0.1:5432";
const TEMPLATE_LOCK: i64 = 0x5245_434f_5550_0002;

/// The instant tests start at unless they move the clock.
pub fn start_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, 30, 0)
        .single()
        .unwrap_or_default()
}

fn migrations_fingerprint() -> Result<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut entries: Vec<_> = walk(&dir)?;
    entries.sort();
    let mut hasher = Sha256::new();
    for path in entries {
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&path)?);
    }
    Ok(hasher
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn walk(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

async fn admin_client() -> Result<tokio_postgres::Client> {
    let (client, connection) =
        tokio_postgres::connect(&format!("{SERVER}/postgres"), tokio_postgres::NoTls)
            .await
            .context(
                "connecting to PostgreSQL at 127.0.0.1:5432 (run scripts/test, which starts it)",
            )?;
    tokio::spawn(connection);
    Ok(client)
}

/// Makes sure the migrated template for the current migrations exists, and clears away
/// templates of older migration sets and databases of test runs that died.
async fn template(admin: &tokio_postgres::Client) -> Result<String> {
    let name = format!("recoup_tmpl_{}", migrations_fingerprint()?);
    admin
        .execute("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK])
        .await?;
    let result = async {
        let exists = !admin
            .query("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await?
            .is_empty();
        // Other worktrees and branches may be testing other migration sets at the
        // same moment, so a stale template is one nobody has touched for two hours.
        let cutoff = now_secs().saturating_sub(2 * 3600);
        let stale = admin
            .query(
                "SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '0') \
                 FROM pg_database WHERE datname LIKE 'recoup_tmpl_%' AND datname <> $1",
                &[&name],
            )
            .await?;
        for row in stale {
            let old: String = row.get(0);
            let touched: String = row.get(1);
            if touched.parse::<u64>().unwrap_or(0) < cutoff {
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{old}\" WITH (FORCE)"))
                    .await?;
            }
        }
        if !exists {
            let building = format!("{name}_building");
            admin
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
                ))
                .await?;
            admin
                .batch_execute(&format!("CREATE DATABASE \"{building}\""))
                .await?;
            db::migrate(&format!("{SERVER}/{building}")).await?;
            admin
                .batch_execute(&format!(
                    "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
                ))
                .await?;
        }
        admin
            .batch_execute(&format!(
                "COMMENT ON DATABASE \"{name}\" IS '{}'",
                now_secs()
            ))
            .await?;
        // Databases of runs killed before their cleanup: older than two hours.
        let leftovers = admin
            .query(
                "SELECT datname FROM pg_database WHERE datname LIKE 'recoup_test_%'",
                &[],
            )
            .await?;
        for row in leftovers {
            let db: String = row.get(0);
            let created = db
                .split('_')
                .nth(2)
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(u64::MAX);
            if created < cutoff {
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                    .await?;
            }
        }
        anyhow::Ok(())
    }
    .await;
    admin
        .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK])
        .await?;
    result?;
    Ok(name)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh, migrated database of its own.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    /// Kept when dropped (see [`TestDatabase::kept`]).
    keep: bool,
}

impl TestDatabase {
    pub async fn create() -> Result<Self> {
        let admin = admin_client().await?;
        let template = template(&admin).await?;
        let name = format!("recoup_test_{}_{}", now_secs(), Uuid::new_v4().simple());
        admin
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
            ))
            .await?;
        Ok(Self {
            url: format!("{SERVER}/{name}"),
            name,
            keep: false,
        })
    }

    /// The database `name`, kept across runs and never dropped: created from the
    /// migrated template when it does not exist yet (for benchmarks that reuse the data
    /// they generated; the app migrates it to the current set when it starts).
    pub async fn kept(name: &str) -> Result<Self> {
        anyhow::ensure!(
            !name.is_empty()
                && !name.starts_with("recoup_")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "a kept database is named with letters, digits and _, not recoup_*: {name:?}"
        );
        let admin = admin_client().await?;
        let exists = !admin
            .query("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await?
            .is_empty();
        if !exists {
            let template = template(&admin).await?;
            admin
                .batch_execute(&format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                ))
                .await?;
        }
        Ok(Self {
            url: format!("{SERVER}/{name}"),
            name: name.to_owned(),
            keep: true,
        })
    }

    /// A plain connection for assertions on what was (or was not) written.
    pub async fn client(&self) -> Result<tokio_postgres::Client> {
        let (client, connection) =
            tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let name = self.name.clone();
        // Drop runs outside async; a thread with its own runtime does the cleanup.
        let done = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = admin_client().await {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            });
        });
        let _ = done.join();
    }
}

/// A user created for a test, with a logged-in access token.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub password: String,
    pub role: Role,
    pub token: String,
    pub refresh_token: String,
}

pub struct TestApp {
    pub base: String,
    /// A plain client, for benchmarks: no contract check on the hot path.
    pub http: reqwest::Client,
    /// The client tests use: every exchange is checked against the spec.
    pub client: ClientWithMiddleware,
    pub clock: FixedClock,
    pub db: TestDatabase,
    pub redis_prefix: String,
    pub config: Config,
    pool: db::PgPool,
    handle: ServerHandle,
    admin: tokio::sync::OnceCell<TestUser>,
}

impl TestApp {
    pub async fn spawn() -> Result<Self> {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Result<Self> {
        Self::spawn_on(TestDatabase::create().await?, configure).await
    }

    /// The app on a database of the caller's (e.g. a [`TestDatabase::kept`] one).
    pub async fn spawn_on(db: TestDatabase, configure: impl FnOnce(&mut Config)) -> Result<Self> {
        // `RUST_LOG=…` shows the app's logs (a 500's cause, say) on the test's output.
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let redis_prefix = format!("recoup-test:{}", Uuid::new_v4().simple());
        let mut config = Config::local(&db.url, &redis_prefix);
        configure(&mut config);
        let clock = FixedClock::at(start_instant());
        let app = Application::build(config.clone(), Arc::new(clock.clone())).await?;
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        tokio::spawn(app.run());
        let pool = db::pool(&db.url, 2)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            base,
            client: reqwest_middleware::ClientBuilder::new(http.clone())
                .with(contract::Check)
                .build(),
            http,
            clock,
            db,
            redis_prefix,
            config,
            pool,
            handle,
            admin: tokio::sync::OnceCell::new(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with no credentials.
    pub fn anon(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request as the given user.
    pub fn as_user(&self, user: &TestUser, method: Method, path: &str) -> RequestBuilder {
        self.anon(method, path).bearer_auth(&user.token)
    }

    /// Creates a user directly in the database and logs them in through the API.
    pub async fn user(&self, role: Role) -> Result<TestUser> {
        let email = format!(
            "{}-{}@recoup.test",
            role.as_str().replace('_', "-"),
            &Uuid::new_v4().simple().to_string()[..8]
        );
        let password = format!("pw-{}-{}", role.as_str(), Uuid::new_v4().simple());
        self.user_with(role, &email, &password).await
    }

    /// The user with this email, created with this role and password unless it exists
    /// (in a kept database), logged in through the API.
    pub async fn user_with(&self, role: Role, email: &str, password: &str) -> Result<TestUser> {
        let client = self.db.client().await?;
        let existing = client
            .query_opt(
                "SELECT id FROM users WHERE lower(email) = lower($1)",
                &[&email],
            )
            .await?;
        let id = match existing {
            Some(row) => row.get(0),
            None => {
                let mut conn = db::conn(&self.pool).await?;
                let ctx = Context::system(self.clock_now());
                user::create(
                    &mut conn,
                    &ctx,
                    NewUser {
                        email: email.to_owned(),
                        name: format!("Test {role}"),
                        role,
                        password: password.to_owned(),
                    },
                )
                .await?
                .id
            }
        };
        let tokens = self.login(email, password).await?;
        Ok(TestUser {
            id,
            email: email.to_owned(),
            password: password.to_owned(),
            role,
            token: tokens["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh_token: tokens["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// The user logged in again (after the clock moved past their access token).
    pub async fn relogin(&self, user: &TestUser) -> Result<TestUser> {
        let tokens = self.login(&user.email, &user.password).await?;
        Ok(TestUser {
            token: tokens["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh_token: tokens["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            ..user.clone()
        })
    }

    /// One admin per app, created on first use.
    pub async fn admin(&self) -> Result<&TestUser> {
        self.admin.get_or_try_init(|| self.user(Role::Admin)).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<Value> {
        let res = self
            .anon(Method::POST, "/v1/auth/login")
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await?;
        anyhow::ensure!(
            res.status() == StatusCode::OK,
            "login failed: {}",
            res.status()
        );
        Ok(res.json().await?)
    }

    /// Starts the worker in this process against the app's database, Redis prefix and
    /// clock (schedules checked every 100 ms); it stops when the sender is dropped or
    /// fired.
    pub fn start_worker(&self) -> tokio::sync::oneshot::Sender<()> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let settings = recoup_worker::Settings {
            database_url: self.db.url.clone(),
            redis_url: self.config.redis_url.clone(),
            redis_prefix: self.redis_prefix.clone(),
            clock: Arc::new(self.clock.clone()),
            business_timezone: chrono_tz::UTC,
            schedule_every: std::time::Duration::from_millis(100),
        };
        tokio::spawn(recoup_worker::run(settings, async move {
            let _ = stopped.await;
        }));
        stop
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        use recoup_core::Clock;
        self.clock.now()
    }

    /// Creates a customer as admin and returns its JSON.
    pub async fn customer(&self, body: Value) -> Result<Value> {
        let admin = self.admin().await?;
        let res = self
            .as_user(admin, Method::POST, "/v1/customers")
            .json(&body)
            .send()
            .await?;
        let status = res.status();
        let json: Value = res.json().await?;
        anyhow::ensure!(
            status == StatusCode::CREATED,
            "creating customer: {status} {json}"
        );
        Ok(json)
    }

    /// Assigns a customer's collector and sales rep as admin.
    pub async fn assign(
        &self,
        customer: &Value,
        collector: Option<Uuid>,
        sales_rep: Option<Uuid>,
    ) -> Result<Value> {
        let admin = self.admin().await?;
        let id = customer["id"].as_str().unwrap_or_default();
        let res = self
            .as_user(
                admin,
                Method::PUT,
                &format!("/v1/customers/{id}/assignment"),
            )
            .json(
                &serde_json::json!({"assigned_collector_id": collector, "sales_rep_id": sales_rep}),
            )
            .send()
            .await?;
        anyhow::ensure!(
            res.status() == StatusCode::OK,
            "assign failed: {}",
            res.status()
        );
        Ok(res.json().await?)
    }

    /// Issues an invoice as an accountant-capable admin.
    pub async fn invoice(
        &self,
        customer: &Value,
        number: &str,
        amount: &str,
        issue: &str,
        due: &str,
    ) -> Result<Value> {
        let admin = self.admin().await?;
        let res = self
            .as_user(admin, Method::POST, "/v1/invoices")
            .json(&serde_json::json!({
                "number": number, "customer_id": customer["id"], "amount": amount,
                "issue_date": issue, "due_date": due
            }))
            .send()
            .await?;
        let (status, body) = read(res).await?;
        anyhow::ensure!(
            status == StatusCode::CREATED,
            "issuing invoice: {status} {body}"
        );
        Ok(body)
    }

    /// Posts a payment received `on`, applied as given, as `user` (an accountant).
    pub async fn pay(
        &self,
        user: &TestUser,
        customer: &Value,
        on: &str,
        to: &[(&Value, &str)],
    ) -> Result<Value> {
        let total: rust_decimal::Decimal = to
            .iter()
            .map(|(_, a)| a.parse::<rust_decimal::Decimal>().unwrap_or_default())
            .sum();
        let applications: Vec<Value> = to
            .iter()
            .map(|(inv, a)| serde_json::json!({"invoice_id": inv["id"], "amount": a}))
            .collect();
        let (status, payment) = read(
            self.money(
                user,
                "/v1/payments",
                &serde_json::json!({"customer_id": customer["id"], "received_on": on,
                    "amount": total.to_string(), "method": "ach", "applications": applications}),
            )
            .send()
            .await?,
        )
        .await?;
        anyhow::ensure!(status == StatusCode::CREATED, "{status} {payment}");
        Ok(payment)
    }

    /// Waits (up to ~30 s) until the worker has relayed and run every job queued so far,
    /// including those a schedule enqueues for the clock's current day.
    pub async fn jobs_done(&self) -> Result<()> {
        for _ in 0..600 {
            let schedules_claimed = self
                .count(&format!(
                    "SELECT 1 FROM schedule_runs WHERE occurrence = '{}'",
                    self.clock_now().date_naive()
                ))
                .await?;
            let pending = self
                .count("SELECT 1 FROM jobs WHERE status IN ('queued', 'running')")
                .await?;
            let every_schedule = i64::try_from(recoup_worker::schedules::SCHEDULES.len())?;
            if schedules_claimed == every_schedule && pending == 0 {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        anyhow::bail!("jobs still pending after 30 s")
    }

    /// Posts a money request with a fresh idempotency key.
    pub fn money(&self, user: &TestUser, path: &str, body: &Value) -> RequestBuilder {
        self.as_user(user, Method::POST, path)
            .header("idempotency-key", Uuid::new_v4().to_string())
            .json(body)
    }

    /// Checks the ledger invariants of DESIGN.md on the whole database: every cached
    /// open balance equals the sum of its entries and is ≥ 0, every payment's unapplied
    /// cash equals minus its account entries, and the subledger total equals Σ open
    /// balances − Σ unapplied cash per currency.
    pub async fn check_ledger(&self) -> Result<()> {
        let client = self.db.client().await?;
        let bad: i64 = client
            .query_one(
                "SELECT count(*) FROM invoices i LEFT JOIN (SELECT invoice_id, sum(amount) s FROM ledger_entries GROUP BY invoice_id) e \
                 ON e.invoice_id = i.id WHERE i.open_balance <> coalesce(e.s, 0) OR i.open_balance < 0",
                &[],
            )
            .await?
            .get(0);
        anyhow::ensure!(
            bad == 0,
            "{bad} invoices whose balance is not the sum of their entries"
        );
        let bad: i64 = client
            .query_one(
                "SELECT count(*) FROM payments p LEFT JOIN (SELECT payment_id, sum(amount) s, max(effective_on) last FROM ledger_entries \
                 WHERE invoice_id IS NULL GROUP BY payment_id) e \
                 ON e.payment_id = p.id WHERE p.unapplied <> -coalesce(e.s, 0) OR p.unapplied < 0 \
                 OR p.unapplied_changed_on IS DISTINCT FROM e.last",
                &[],
            )
            .await?
            .get(0);
        anyhow::ensure!(
            bad == 0,
            "{bad} payments whose unapplied cash is not minus their account entries, \
             or changed last on another day than their latest account entry"
        );
        let bad: i64 = client
            .query_one(
                "SELECT count(*) FROM (SELECT currency, sum(amount) s FROM ledger_entries GROUP BY currency) l \
                 FULL JOIN (SELECT currency, sum(open_balance) o FROM invoices GROUP BY currency) i USING (currency) \
                 FULL JOIN (SELECT currency, sum(unapplied) u FROM payments GROUP BY currency) p USING (currency) \
                 WHERE coalesce(l.s, 0) <> coalesce(i.o, 0) - coalesce(p.u, 0)",
                &[],
            )
            .await?
            .get(0);
        anyhow::ensure!(
            bad == 0,
            "subledger total differs from open balances minus unapplied cash"
        );
        Ok(())
    }

    /// Number of rows a SQL query returns (for "nothing was written" checks).
    pub async fn count(&self, sql: &str) -> Result<i64> {
        let client = self.db.client().await?;
        Ok(client
            .query_one(&format!("SELECT count(*) FROM ({sql}) q"), &[])
            .await?
            .get(0))
    }

    /// Audit events recorded with this action.
    pub async fn audit_count(&self, action: &str) -> Result<i64> {
        let client = self.db.client().await?;
        Ok(client
            .query_one(
                "SELECT count(*) FROM audit_events WHERE action = $1",
                &[&action],
            )
            .await?
            .get(0))
    }
}

/// apalis-redis's list of queues (`register_worker.lua`), the same key whatever the
/// namespace.
const APALIS_QUEUES: &str = "core:apalis:queues:list";

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let prefix = self.redis_prefix.clone();
        let redis_url = self.config.redis_url.clone();
        let done = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                handle.stop(false).await;
                let Ok(client) = redis::Client::open(redis_url.as_str()) else {
                    return;
                };
                let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                    return;
                };
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{prefix}:*"))
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                if !keys.is_empty() {
                    let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
                }
                // apalis-redis also lists every queue's workers in one key outside any
                // namespace; the test's queues leave it with the rest.
                let queues: Vec<String> = redis::cmd("ZRANGE")
                    .arg(APALIS_QUEUES)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                let namespace = format!("{prefix}:");
                let ours: Vec<String> = queues
                    .into_iter()
                    .filter(|q| q.starts_with(&namespace))
                    .collect();
                if !ours.is_empty() {
                    let _: Result<(), _> = redis::cmd("ZREM")
                        .arg(APALIS_QUEUES)
                        .arg(ours)
                        .query_async(&mut conn)
                        .await;
                }
            });
        });
        let _ = done.join();
    }
}

/// Polls a job as a client would until it succeeds or dies; bounded, so a stuck worker
/// fails the test instead of hanging it.
pub async fn wait_for_job(app: &TestApp, user: &TestUser, id: &str) -> Result<Value> {
    for _ in 0..3000 {
        let (status, job) = read(
            app.as_user(user, Method::GET, &format!("/v1/jobs/{id}"))
                .send()
                .await?,
        )
        .await?;
        anyhow::ensure!(status == StatusCode::OK, "{status} {job}");
        if job["status"] == "succeeded" || job["status"] == "dead" {
            return Ok(job);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("job {id} did not finish")
}

/// A `multipart/form-data` body of the given parts (the last one sent as a file named
/// `import.csv` when it is called `file`): its content type and bytes.
pub fn form(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("recoup-{}", Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (name, value) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        if *name == "file" {
            body.extend_from_slice(
                b"Content-Disposition: form-data; name=\"file\"; filename=\"import.csv\"\r\nContent-Type: text/csv\r\n\r\n",
            );
        } else {
            body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A response's status and JSON body (Null when it has none).
pub async fn read(res: Response) -> Result<(StatusCode, Value)> {
    let status = res.status();
    let text = res.text().await?;
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?
    };
    Ok((status, json))
}

/// Asserts a problem response: status, content type, stable code, no internals.
pub async fn expect_problem(res: Response, status: StatusCode, code: &str) -> Result<Value> {
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (got, body) = read(res).await?;
    anyhow::ensure!(got == status, "expected {status} {code}, got {got}: {body}");
    anyhow::ensure!(
        content_type == "application/problem+json",
        "content type {content_type}"
    );
    anyhow::ensure!(body["code"] == code, "expected code {code}: {body}");
    anyhow::ensure!(body["status"] == status.as_u16(), "status member: {body}");
    anyhow::ensure!(
        body["type"].as_str().is_some() && body["title"].as_str().is_some(),
        "type/title: {body}"
    );
    Ok(body)
}

pub fn id_of(value: &Value) -> Uuid {
    value["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

pub const ROLES: [Role; 7] = [
    Role::Admin,
    Role::Manager,
    Role::Collector,
    Role::FieldCollector,
    Role::Accountant,
    Role::Sales,
    Role::Auditor,
];
