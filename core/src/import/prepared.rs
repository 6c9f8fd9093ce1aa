//! A copy of `crate::db::prepared` (on its way to main, not yet in this branch), kept
//! here so the import does not edit `db.rs` under the engineer who writes it; replace
//! the uses with `crate::db::prepared` and delete this file once it lands.
//!
//! Raw SQL that diesel keeps prepared on the connection, keyed by its text: parsed
//! once per connection and, after PostgreSQL's first few runs, planned once. diesel's
//! own `sql_query` and batch inserts are never cached. Bind arrays (`unnest`) for row
//! sets so the text does not vary with their size.

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
