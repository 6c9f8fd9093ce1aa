//! Contacts of a customer: who to reach, how, and when not to.

use chrono::{DateTime, NaiveTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::audit;
use crate::customer::{self, check_timezone};
use crate::error::{Error, FieldError, Problems, Result};
use crate::page::{Listing, Page, PageRequest};
use crate::schema::contacts;

text_enum! {
    pub enum Channel {
        Phone = "phone",
        Email = "email",
        Sms = "sms",
        Letter = "letter",
        Visit = "visit",
    }
}

text_enum! {
    pub enum Weekday {
        Mon = "mon",
        Tue = "tue",
        Wed = "wed",
        Thu = "thu",
        Fri = "fri",
        Sat = "sat",
        Sun = "sun",
    }
}

/// A recurring time in the contact's time zone when they must not be contacted (the
/// contact asked, or it is inconvenient: Regulation F). `end` before `start` spans midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoContactWindow {
    /// Days the window applies to.
    pub days: Vec<Weekday>,
    /// Local start time, `HH:MM`.
    #[schema(example = "12:00")]
    pub start: String,
    /// Local end time, `HH:MM` (exclusive).
    #[schema(example = "13:30")]
    pub end: String,
}

fn parse_hhmm(text: &str) -> Option<NaiveTime> {
    let valid_shape = text.len() == 5 && text.as_bytes().get(2) == Some(&b':');
    if !valid_shape {
        return None;
    }
    NaiveTime::parse_from_str(text, "%H:%M").ok()
}

impl NoContactWindow {
    fn check(&self, field: &str) -> std::result::Result<(), FieldError> {
        if self.days.is_empty() {
            return Err(FieldError::new(
                format!("{field}.days"),
                "required",
                "at least one day",
            ));
        }
        let start = parse_hhmm(&self.start).ok_or_else(|| {
            FieldError::new(format!("{field}.start"), "invalid_time", "use HH:MM")
        })?;
        let end = parse_hhmm(&self.end)
            .ok_or_else(|| FieldError::new(format!("{field}.end"), "invalid_time", "use HH:MM"))?;
        if start == end {
            return Err(FieldError::new(
                format!("{field}.end"),
                "empty_window",
                "end equals start",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: Uuid,
    pub customer_id: Uuid,
    #[schema(example = "Dana Whitfield")]
    pub name: String,
    /// Their role at the customer.
    #[schema(example = "Accounts payable lead")]
    pub role: Option<String>,
    #[schema(example = "dana.whitfield@northwind.example")]
    pub email: Option<String>,
    /// E.164.
    #[schema(example = "+13125550147")]
    pub phone: Option<String>,
    pub preferred_channel: Channel,
    /// IANA time zone; absent means the customer's.
    #[schema(example = "America/Chicago")]
    pub timezone: Option<String>,
    pub no_contact_windows: Vec<NoContactWindow>,
    pub is_primary: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = contacts)]
struct Row {
    id: Uuid,
    customer_id: Uuid,
    name: String,
    role: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    preferred_channel: Channel,
    timezone: Option<String>,
    no_contact_windows: serde_json::Value,
    is_primary: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn into_contact(self) -> Contact {
        Contact {
            id: self.id,
            customer_id: self.customer_id,
            name: self.name,
            role: self.role,
            email: self.email,
            phone: self.phone,
            preferred_channel: self.preferred_channel,
            timezone: self.timezone,
            // Written only from validated windows; an unreadable value shows none.
            no_contact_windows: serde_json::from_value(self.no_contact_windows).unwrap_or_default(),
            is_primary: self.is_primary,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// `POST /v1/customers/{id}/contacts`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    #[schema(example = "Dana Whitfield")]
    pub name: String,
    #[schema(example = "Accounts payable lead")]
    pub role: Option<String>,
    #[schema(example = "dana.whitfield@northwind.example")]
    pub email: Option<String>,
    /// International format, e.g. `+1 312 555 0147`; stored as E.164.
    #[schema(example = "+1 312 555 0147")]
    pub phone: Option<String>,
    pub preferred_channel: Channel,
    #[schema(example = "America/Chicago")]
    pub timezone: Option<String>,
    #[serde(default)]
    pub no_contact_windows: Vec<NoContactWindow>,
    /// Making a contact primary makes the previous primary contact ordinary.
    #[serde(default)]
    pub is_primary: bool,
}

/// Validates and normalises a phone number to E.164. Only international numbers
/// (leading `+`) are accepted: a bare national number is ambiguous across countries.
pub fn normalize_phone(field: &str, text: &str) -> std::result::Result<String, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            "invalid_phone",
            "not a valid phone number in international format (+country code)",
        )
    };
    if !text.trim_start().starts_with('+') || text.len() > 32 {
        return Err(bad());
    }
    let number = phonenumber::parse(None, text).map_err(|_| bad())?;
    if !phonenumber::is_valid(&number) {
        return Err(bad());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
    input: NewContact,
) -> Result<Contact> {
    ctx.actor.require(Permission::ContactsWrite)?;
    let mut p = Problems::new();
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        p.add("name", "invalid_length", "must be 1 to 200 characters");
    }
    let role = input
        .role
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    if role.as_ref().is_some_and(|r| r.chars().count() > 200) {
        p.add("role", "invalid_length", "must be at most 200 characters");
    }
    let email = input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    if email
        .as_ref()
        .is_some_and(|e| e.len() > 254 || !email_address::EmailAddress::is_valid(e))
    {
        p.add("email", "invalid_email", "not a valid e-mail address");
    }
    let phone = input
        .phone
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .and_then(|t| p.check(normalize_phone("phone", t)));
    let timezone = input
        .timezone
        .as_deref()
        .and_then(|tz| p.check(check_timezone("timezone", tz)));
    for (i, w) in input.no_contact_windows.iter().enumerate() {
        p.check(w.check(&format!("no_contact_windows[{i}]")));
    }
    let reachable = match input.preferred_channel {
        Channel::Email => email.is_some() || input.email.is_some(),
        Channel::Phone | Channel::Sms => phone.is_some() || input.phone.is_some(),
        Channel::Letter | Channel::Visit => true,
    };
    if !reachable {
        p.add(
            "preferred_channel",
            "channel_unreachable",
            "the preferred channel needs the matching e-mail or phone",
        );
    }
    p.into_result()?;
    let windows = serde_json::to_value(&input.no_contact_windows)
        .map_err(|e| Error::Internal(e.to_string()))?;
    conn.transaction(async |conn| {
        customer::load_visible(conn, ctx, customer_id, true).await?;
        if input.is_primary {
            diesel::update(
                contacts::table
                    .filter(contacts::customer_id.eq(customer_id))
                    .filter(contacts::is_primary.eq(true)),
            )
            .set((
                contacts::is_primary.eq(false),
                contacts::updated_at.eq(ctx.now),
            ))
            .execute(conn)
            .await?;
        }
        let row: Row = diesel::insert_into(contacts::table)
            .values((
                contacts::id.eq(Uuid::now_v7()),
                contacts::customer_id.eq(customer_id),
                contacts::name.eq(&name),
                contacts::role.eq(&role),
                contacts::email.eq(&email),
                contacts::phone.eq(&phone),
                contacts::preferred_channel.eq(input.preferred_channel),
                contacts::timezone.eq(&timezone),
                contacts::no_contact_windows.eq(&windows),
                contacts::is_primary.eq(input.is_primary),
                contacts::created_at.eq(ctx.now),
                contacts::updated_at.eq(ctx.now),
            ))
            .returning(Row::as_returning())
            .get_result(conn)
            .await?;
        let contact = row.into_contact();
        customer::touch(conn, customer_id, ctx.now).await?;
        audit::record(
            conn,
            ctx,
            "contact.create",
            "contact",
            contact.id,
            None::<&()>,
            Some(&contact),
        )
        .await?;
        Ok(contact)
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ContactFilter {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("contacts", "created_at");

/// A customer's contacts in the order they were added.
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
    filter: &ContactFilter,
) -> Result<Page<Contact>> {
    ctx.actor.require(Permission::CustomersRead)?;
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::parse(
        LISTING,
        filter.limit,
        filter.cursor.as_deref(),
    )?;
    customer::load_visible(conn, ctx, customer_id, false).await?;
    let mut q = contacts::table
        .filter(contacts::customer_id.eq(customer_id))
        .select(Row::as_select())
        .into_boxed();
    if let Some((t, id)) = page.after {
        q = q.filter(
            contacts::created_at
                .gt(t)
                .or(contacts::created_at.eq(t).and(contacts::id.gt(id))),
        );
    }
    let rows = q
        .order((contacts::created_at.asc(), contacts::id.asc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, &page, |r| (r.created_at, r.id)).map(Row::into_contact))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_e164() {
        assert_eq!(
            normalize_phone("phone", "+1 312 555 0147").ok().as_deref(),
            Some("+13125550147")
        );
        assert_eq!(
            normalize_phone("phone", "+44 20 7946 0958").ok().as_deref(),
            Some("+442079460958")
        );
        assert!(
            normalize_phone("phone", "312 555 0147").is_err(),
            "national form is ambiguous"
        );
        assert!(normalize_phone("phone", "+1 555").is_err());
        assert!(normalize_phone("phone", "call me maybe").is_err());
    }

    #[test]
    fn windows_need_days_and_real_times() {
        let w = |days: Vec<Weekday>, s: &str, e: &str| NoContactWindow {
            days,
            start: s.into(),
            end: e.into(),
        };
        assert!(w(vec![Weekday::Mon], "12:00", "13:30").check("w").is_ok());
        assert!(
            w(vec![Weekday::Fri], "22:00", "07:00").check("w").is_ok(),
            "spans midnight"
        );
        assert!(w(vec![], "12:00", "13:00").check("w").is_err());
        assert!(w(vec![Weekday::Mon], "25:00", "13:00").check("w").is_err());
        assert!(w(vec![Weekday::Mon], "9:00", "13:00").check("w").is_err());
        assert!(w(vec![Weekday::Mon], "09:00", "09:00").check("w").is_err());
    }
}
