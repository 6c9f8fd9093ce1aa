//! PATCH semantics for nullable fields: an absent field keeps its value, `null` clears it.

use serde::{Deserialize, Deserializer};

/// Use with `#[serde(default, deserialize_with = "crate::patch::nullable")]` on an
/// `Option<Option<T>>` field.
pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?))
}
