//! Recoup's domain: the rules of collections work as pure functions over values, and
//! their persistence in PostgreSQL (diesel). Nothing here knows HTTP or queues.
//!
//! One module per domain entity; each owns its types, its validation and its queries.

#[macro_use]
mod text_enum;

pub mod access;
pub mod activity;
pub mod adjustment;
pub mod aging;
pub mod aging_report;
pub mod aging_snapshot;
pub mod api_key;
pub mod audit;
pub mod clock;
pub mod collector_activity;
pub mod contact;
pub mod credit_memo;
pub mod customer;
pub mod db;
pub mod deduction;
pub mod dispute;
pub mod error;
pub mod gl_balance;
pub mod hit_list;
pub mod hold;
pub mod idempotency;
pub mod import;
pub mod installment;
pub mod invoice;
pub mod job;
pub mod journal;
pub mod ledger;
pub mod metrics;
pub mod metrics_report;
pub mod money;
pub mod page;
pub mod password;
pub mod patch;
pub mod payment;
pub mod payment_plan;
pub mod promise;
pub mod schedule;
pub mod scheduled;
pub mod schema;
pub mod session;
pub mod setting;
pub mod statement;
pub mod task;
pub mod user;
pub mod worklist;
pub mod write_off;

pub use access::{Actor, Context, Permission};
pub use clock::Clock;
pub use error::{Error, FieldError, ProblemCode, Result};
