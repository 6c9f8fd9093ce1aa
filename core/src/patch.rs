//! PATCH semantics for nullable fields: an absent field keeps its value, `null` clears it.

use serde::{Deserialize, Deserializer};

/// Use with `#[serde(default, deserialize_with = "crate::patch::nullable")]` on an
/// `Option<Option<T>>` field.
pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?))
}

/// Use with `#[serde(deserialize_with = "crate::patch::present")]` (and no `default`) on
/// an `Option<T>` field that must be sent, possibly as `null` (a PUT replacing a value).
pub fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}
