//! Recoup's domain: the rules of collections work as pure functions over values, and
//! their persistence in PostgreSQL (diesel). Nothing here knows HTTP or queues.
//!
//! One module per domain entity; each owns its types, its validation and its queries.

#[macro_use]
mod text_enum;

pub mod access;
pub mod api_key;
pub mod audit;
pub mod clock;
pub mod contact;
pub mod customer;
pub mod db;
pub mod error;
pub mod hold;
pub mod money;
pub mod page;
pub mod password;
pub mod patch;
pub mod schema;
pub mod session;
pub mod user;

pub use access::{Actor, Context, Permission};
pub use clock::Clock;
pub use error::{Error, FieldError, Result};
