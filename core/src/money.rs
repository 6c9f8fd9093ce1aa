//! Currencies and amounts. Money is `Decimal` with an ISO 4217 currency; never a float.

use rust_decimal::Decimal;

use crate::error::FieldError;

/// An ISO 4217 currency, with its number of minor-unit digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn parse(code: &str) -> Option<Currency> {
        // Only the three-letter upper-case form: "usd" is rejected rather than guessed.
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        iso_currency::Currency::from_code(code).map(Currency)
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point in the currency's minor unit (USD 2, JPY 0, KWD 3).
    /// Currencies without a minor unit in ISO 4217 (gold, SDRs) count as 0... but they
    /// are not accepted for accounts at all, see [`field`].
    pub fn minor_units(self) -> u32 {
        self.0.exponent().map(u32::from).unwrap_or(0)
    }

    fn is_tender(self) -> bool {
        self.0.exponent().is_some()
    }

    /// Validates a currency field of an input.
    pub fn field(field: &str, code: &str) -> Result<Currency, FieldError> {
        match Currency::parse(code) {
            Some(c) if c.is_tender() => Ok(c),
            _ => Err(FieldError::new(
                field,
                "unknown_currency",
                format!("{:?} is not an ISO 4217 currency code", truncate(code)),
            )),
        }
    }
}

/// The currency of an operation on a customer's account, as the `currency` field: the
/// one given, which must be the customer's (`detail` says what the customer uses), or
/// the customer's own. `None` once a problem is recorded.
pub fn customer_currency(
    given: Option<&str>,
    customer: &str,
    p: &mut crate::error::Problems,
    detail: impl FnOnce() -> String,
) -> Option<Currency> {
    let currency = match given {
        Some(code) => p.check(Currency::field("currency", code)),
        None => Currency::parse(customer),
    };
    if currency.is_some_and(|c| c.code() != customer) {
        p.add("currency", "currency_mismatch", detail());
    }
    currency
}

/// Validates a non-negative amount in a currency: no more decimals than its minor unit
/// and within NUMERIC(19,4).
pub fn non_negative_amount(
    field: &str,
    amount: Decimal,
    currency: Currency,
) -> Result<Decimal, FieldError> {
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(FieldError::new(
            field,
            "negative_amount",
            "must not be negative",
        ));
    }
    check_precision(field, amount, currency)
}

fn check_precision(
    field: &str,
    amount: Decimal,
    currency: Currency,
) -> Result<Decimal, FieldError> {
    let normalized = amount.normalize();
    if normalized.scale() > currency.minor_units() {
        return Err(FieldError::new(
            field,
            "too_many_decimals",
            format!(
                "{} allows {} decimal place(s)",
                currency.code(),
                currency.minor_units()
            ),
        ));
    }
    // NUMERIC(19,4): at most 15 digits before the point.
    if normalized.abs() >= Decimal::from(1_000_000_000_000_000_i64) {
        return Err(FieldError::new(
            field,
            "amount_too_large",
            "must be below 10^15",
        ));
    }
    Ok(amount.round_dp(currency.minor_units()))
}

/// Shows an amount with exactly its currency's decimal places ("1000.50", "1200" for
/// JPY): NUMERIC(19,4) comes back with four. Exact: stored amounts never have more.
pub fn in_minor_units(amount: Decimal, currency_code: &str) -> Decimal {
    let places = Currency::parse(currency_code).map_or(2, Currency::minor_units);
    let mut shown = amount.round_dp(places);
    shown.rescale(places);
    if shown.is_zero() {
        // "-0.00" is no amount anyone wants to see.
        shown.set_sign_positive(true);
    }
    shown
}

fn truncate(s: &str) -> String {
    s.chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    #[test]
    fn currencies_know_their_minor_units() {
        let minor = |c: &str| Currency::parse(c).map(Currency::minor_units);
        assert_eq!(minor("USD"), Some(2));
        assert_eq!(minor("JPY"), Some(0));
        assert_eq!(minor("KWD"), Some(3));
        assert_eq!(minor("usd"), None);
        assert_eq!(minor("XXQ"), None);
        assert!(
            Currency::field("currency", "XAU").is_err(),
            "gold is no account currency"
        );
    }

    #[test]
    fn amounts_respect_the_currency() {
        let usd = Currency::parse("USD").unwrap_or_else(|| unreachable!());
        let jpy = Currency::parse("JPY").unwrap_or_else(|| unreachable!());
        assert!(non_negative_amount("a", dec("10.50"), usd).is_ok());
        assert!(
            non_negative_amount("a", dec("10.500"), usd).is_ok(),
            "trailing zeros are fine"
        );
        assert_eq!(
            non_negative_amount("a", dec("10.505"), usd).map_err(|e| e.code),
            Err("too_many_decimals".to_owned())
        );
        assert!(non_negative_amount("a", dec("10.5"), jpy).is_err());
        assert_eq!(
            non_negative_amount("a", dec("-1"), usd).map_err(|e| e.code),
            Err("negative_amount".to_owned())
        );
        assert!(non_negative_amount("a", dec("1000000000000000"), usd).is_err());
    }

    #[test]
    fn amounts_show_the_currency_places() {
        assert_eq!(
            in_minor_units(dec("1000.5000"), "USD").to_string(),
            "1000.50"
        );
        assert_eq!(in_minor_units(dec("1200.0000"), "JPY").to_string(), "1200");
        assert_eq!(in_minor_units(dec("1.2340"), "KWD").to_string(), "1.234");
        assert_eq!(in_minor_units(-Decimal::ZERO, "USD").to_string(), "0.00");
    }

    proptest! {
        #[test]
        fn accepted_amounts_are_unchanged_in_value(cents in 0_i64..1_000_000_000_000) {
            let usd = Currency::parse("USD").unwrap_or_else(|| unreachable!());
            let amount = Decimal::new(cents, 2);
            prop_assert_eq!(non_negative_amount("a", amount, usd).ok(), Some(amount));
        }

        #[test]
        fn sub_cent_amounts_are_refused(mills in 0_i64..1_000_000_000, digit in 1_i64..10) {
            let usd = Currency::parse("USD").unwrap_or_else(|| unreachable!());
            let amount = Decimal::new(mills * 10 + digit, 3);
            prop_assert!(non_negative_amount("a", amount, usd).is_err());
        }
    }
}

/// Amounts travel in JSON as strings only ("1234.50"): a JSON number may already have
/// lost cents in the client's floating point before it reaches us.
pub mod decimal_string {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer};
    use std::str::FromStr;

    fn parse<E: serde::de::Error>(text: &str) -> Result<Decimal, E> {
        let trimmed = text.trim();
        let plain = !trimmed.is_empty()
            && trimmed
                .trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.');
        if !plain {
            return Err(E::custom(format!(
                "{:?} is not a decimal amount",
                truncate(text)
            )));
        }
        Decimal::from_str(trimmed)
            .map_err(|_| E::custom(format!("{:?} is not a decimal amount", truncate(text))))
    }

    fn truncate(s: &str) -> String {
        s.chars().take(32).collect()
    }

    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| parse(&s))
            .transpose()
    }

    pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        parse(&String::deserialize(d)?)
    }

    /// For PATCH: absent → `None`, `null` → `Some(None)`, a string → `Some(Some(_))`.
    pub fn double_option<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<Decimal>>, D::Error> {
        Ok(Some(option(d)?))
    }
}
