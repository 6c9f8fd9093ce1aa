//! The domain's errors. The API maps each kind to one HTTP status and a stable code.

use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

text_enum! {
    /// The stable machine code of a problem (RFC 9457 `code`): clients branch on it.
    /// Every code the server can answer is listed here, and so in the spec.
    pub enum ProblemCode {
        AmbiguousCredentials = "ambiguous_credentials",
        CreditExceedsOpenBalance = "credit_exceeds_open_balance",
        CurrencyLocked = "currency_locked",
        DeductionResolved = "deduction_resolved",
        DisputeClosed = "dispute_closed",
        EmailTaken = "email_taken",
        EmptyFile = "empty_file",
        ExternalIdTaken = "external_id_taken",
        Forbidden = "forbidden",
        HoldReleased = "hold_released",
        IdempotencyInFlight = "idempotency_in_flight",
        IdempotencyKeyRequired = "idempotency_key_required",
        IdempotencyKeyReused = "idempotency_key_reused",
        InsufficientScope = "insufficient_scope",
        InternalError = "internal_error",
        InvalidApiKey = "invalid_api_key",
        InvalidCredentials = "invalid_credentials",
        InvalidIdempotencyKey = "invalid_idempotency_key",
        InvalidImportKind = "invalid_import_kind",
        InvalidMapping = "invalid_mapping",
        InvalidMultipart = "invalid_multipart",
        InvalidPathParameter = "invalid_path_parameter",
        InvalidQuery = "invalid_query",
        InvalidRefreshToken = "invalid_refresh_token",
        InvalidToken = "invalid_token",
        InvoiceAlreadyOnPlan = "invoice_already_on_plan",
        InvoiceAlreadyPromised = "invoice_already_promised",
        InvoiceNumberTaken = "invoice_number_taken",
        InvoiceTouched = "invoice_touched",
        InvoiceVoid = "invoice_void",
        InvoiceWrittenOff = "invoice_written_off",
        JobNotDead = "job_not_dead",
        MalformedJson = "malformed_json",
        MethodNotAllowed = "method_not_allowed",
        MissingColumns = "missing_columns",
        MissingFile = "missing_file",
        NotFound = "not_found",
        NothingUnapplied = "nothing_unapplied",
        OccurrenceClaimed = "occurrence_claimed",
        OwnRequest = "own_request",
        PayloadTooLarge = "payload_too_large",
        PaymentNotPosted = "payment_not_posted",
        PaymentRefunded = "payment_refunded",
        PaymentReturned = "payment_returned",
        PlanClosed = "plan_closed",
        PlanNotProposed = "plan_not_proposed",
        PostedMoneyChanged = "posted_money_changed",
        PreconditionFailed = "precondition_failed",
        PreconditionRequired = "precondition_required",
        PromiseDecided = "promise_decided",
        RouteNotFound = "route_not_found",
        SelfLockout = "self_lockout",
        TokenExpired = "token_expired",
        TooManyLoginAttempts = "too_many_login_attempts",
        Unauthenticated = "unauthenticated",
        Unavailable = "unavailable",
        UnknownCustomer = "unknown_customer",
        UnreadableBody = "unreadable_body",
        UnreadableHeader = "unreadable_header",
        UnsupportedMediaType = "unsupported_media_type",
        ValidationFailed = "validation_failed",
        WriteOffPending = "write_off_pending",
        WriteOffPosted = "write_off_posted",
    }
}

/// One rejected field of an input, with a stable machine code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON path of the field (`contacts[0].email`), or the query parameter's name.
    #[schema(example = "currency")]
    pub field: String,
    /// Stable machine code of the rule that failed.
    #[schema(example = "unknown_currency")]
    pub code: String,
    /// Human-readable explanation.
    #[schema(example = "not an ISO 4217 currency code")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The entity does not exist, or the caller may not see it (the two are not told apart).
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    /// The body breaks domain rules.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Query parameters are malformed or out of range.
    #[error("invalid query parameters")]
    InvalidQuery(Vec<FieldError>),
    /// The caller's role or key scopes do not allow the action.
    #[error("{detail}")]
    Forbidden { code: ProblemCode, detail: String },
    /// The request conflicts with the current state (a duplicate, a state that forbids it).
    #[error("{detail}")]
    Conflict { code: ProblemCode, detail: String },
    /// The request is well-formed but cannot be processed as sent (422 with a code).
    #[error("{detail}")]
    Unprocessable { code: ProblemCode, detail: String },
    /// Like `Unprocessable`, with the field errors that explain it (422 with `errors`).
    #[error("{detail}")]
    Rejected {
        code: ProblemCode,
        detail: String,
        errors: Vec<FieldError>,
    },
    /// The representation changed since the caller read it (If-Match did not match).
    #[error("the resource changed since it was read")]
    PreconditionFailed,
    /// Credentials or tokens were not accepted; `code` tells which rule refused them.
    #[error("{detail}")]
    Unauthenticated { code: ProblemCode, detail: String },
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A required short text (a reason, a note): trimmed, 1 to 500 characters.
pub(crate) fn check_reason(field: &str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 500 {
        return Err(Error::validation(
            field,
            "invalid_length",
            "must be 1 to 500 characters",
        ));
    }
    Ok(value.to_owned())
}

impl Error {
    pub fn validation(field: &str, code: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn invalid_query(field: &str, code: &str, message: impl Into<String>) -> Self {
        Error::InvalidQuery(vec![FieldError::new(field, code, message)])
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Error::Forbidden {
            code: ProblemCode::Forbidden,
            detail: detail.into(),
        }
    }

    pub fn conflict(code: ProblemCode, detail: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            detail: detail.into(),
        }
    }
}

/// A stored or submitted text that names no variant of a closed set.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind}: {value:?}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

/// Collects field errors across a whole input so the caller sees every problem at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, code, message));
    }

    /// Records the error of a field check and passes its value on.
    pub fn check<T>(&mut self, result: std::result::Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
