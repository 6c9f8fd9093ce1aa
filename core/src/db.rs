//! Connection pool and embedded migrations.

use diesel::Connection;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{Error, Result};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

pub type PgPool = Pool<AsyncPgConnection>;
pub type PgConn = Object<AsyncPgConnection>;

/// Any lock key distinct from other advisory locks the application takes.
const MIGRATION_LOCK: i64 = 0x5245_434f_5550_0001;

pub fn pool(database_url: &str, max_size: usize) -> Result<PgPool> {
    // `Fast` recycling checks only for a dangling transaction. The default (`Verified`)
    // runs a test query on every checkout, a round trip per request; a dead connection
    // fails its first real query instead and is replaced.
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    Pool::builder(manager)
        // Below two connections a request that holds one while a nested call needs
        // another deadlocks; see STACK-NOTES.
        .max_size(max_size.max(2))
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(10)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| Error::Internal(format!("pool: {e}")))
}

pub async fn conn(pool: &PgPool) -> Result<PgConn> {
    pool.get()
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))
}

/// Applies pending migrations, holding an advisory lock so that several processes
/// starting at once migrate one after the other. Returns the versions applied.
///
/// Runs on a blocking thread through `AsyncConnectionWrapper`: diesel's harness is
/// synchronous and `AsyncMigrationHarness` panics on a current-thread runtime.
pub async fn migrate(database_url: &str) -> Result<Vec<String>> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
        use diesel::RunQueryDsl;
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            .execute(&mut conn)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| Error::Internal(format!("migration failed: {e}")));
        diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
            .execute(&mut conn)?;
        applied
    })
    .await
    .map_err(|e| Error::Internal(format!("migration task: {e}")))?
}

/// Whether the error is PostgreSQL's unique violation on the named constraint/index.
pub fn is_unique_violation(error: &diesel::result::Error, constraint: &str) -> bool {
    use diesel::result::{DatabaseErrorKind, Error as D};
    match error {
        D::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            info.constraint_name() == Some(constraint)
        }
        _ => false,
    }
}

/// Raw SQL that diesel keeps prepared on the connection, keyed by its text: parsed
/// once per connection and, after PostgreSQL's first few runs, planned once. diesel's
/// own `sql_query`, batch inserts, updates and upserts are never cached, so each run
/// is parsed and planned afresh; on the payment path that was a fifth of the
/// database's time (issue 4). For statements with fixed text on hot paths; bind
/// arrays (`unnest`) for row sets so the text does not vary with their size.
#[derive(Debug, Clone)]
#[must_use = "queries run only when executed or loaded"]
pub struct Prepared {
    sql: std::borrow::Cow<'static, str>,
}

/// A [`Prepared`] statement; `$n` placeholders are bound in order with `bind`.
pub fn prepared(sql: impl Into<std::borrow::Cow<'static, str>>) -> Prepared {
    Prepared { sql: sql.into() }
}

impl Prepared {
    pub fn bind<ST, V>(self, value: V) -> Bound<Self, V, ST> {
        Bound {
            query: self,
            value,
            sql_type: std::marker::PhantomData,
        }
    }
}

/// A [`Prepared`] statement with its binds so far.
#[derive(Debug, Clone)]
#[must_use = "queries run only when executed or loaded"]
pub struct Bound<Q, V, ST> {
    query: Q,
    value: V,
    sql_type: std::marker::PhantomData<ST>,
}

impl<Q, V, ST> Bound<Q, V, ST> {
    pub fn bind<ST2, V2>(self, value: V2) -> Bound<Self, V2, ST2> {
        Bound {
            query: self,
            value,
            sql_type: std::marker::PhantomData,
        }
    }
}

impl diesel::query_builder::QueryId for Prepared {
    type QueryId = ();
    // No static id: the statement cache keys it by its SQL text and bind types.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Prepared {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(&self.sql);
        // The statement's text names its parameters itself (`$1`…). Each bind also
        // writes its placeholder into the text (diesel keeps the variant that does not
        // to itself); a trailing line comment receives them harmlessly.
        out.push_sql("\n-- ");
        Ok(())
    }
}

impl diesel::query_builder::Query for Prepared {
    type SqlType = diesel::sql_types::Untyped;
}

impl<Q, V, ST> diesel::query_builder::QueryId for Bound<Q, V, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, V, ST> diesel::query_builder::QueryFragment<diesel::pg::Pg> for Bound<Q, V, ST>
where
    Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
    diesel::pg::Pg: diesel::sql_types::HasSqlType<ST>,
    V: diesel::serialize::ToSql<ST, diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_bind_param::<ST, V>(&self.value)
    }
}

impl<Q, V, ST> diesel::query_builder::Query for Bound<Q, V, ST> {
    type SqlType = diesel::sql_types::Untyped;
}

/// One statement of a pipelined write: statements sent on a shared connection
/// (`&AsyncPgConnection`) and awaited together go out in one round trip, and the server
/// runs them in the order they were made.
pub type Write<'a> = futures_util::future::BoxFuture<'a, diesel::QueryResult<usize>>;

/// Escapes LIKE wildcards so user search text matches literally.
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_escape_neutralises_wildcards() {
        assert_eq!(like_escape("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(like_escape("Acme"), "Acme");
    }
}
