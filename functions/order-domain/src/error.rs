//! Error classification shared by every service error, so handlers map errors
//! to responses without logic: [`DomainError::http_status`] for the API,
//! [`DomainError::is_retryable`] for the worker (retryable → report the SQS
//! message as a batch item failure) and the stream publisher.

use std::fmt;

use serde::Serialize;

use crate::store::StoreError;

/// One problem with a request, located by a JSON path like `items[2].quantity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    pub field: String,
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Every problem found in a request (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    pub fn single(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self(vec![ValidationError::new(field, reason)])
    }

    /// Whether any error is about `field`.
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// The JSON body of an error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `validation_failed`.
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ValidationError>,
    pub retryable: bool,
}

/// What every service error can say about itself.
pub trait DomainError: std::error::Error {
    /// 400, 404, 409, 422, 429, 500 or 503.
    fn http_status(&self) -> u16;
    /// Whether the same call may succeed later (throttling, outages,
    /// contention). Non-retryable errors fail the same way every time.
    fn is_retryable(&self) -> bool;
    /// Stable machine-readable code.
    fn code(&self) -> &'static str;
    /// Field errors, for validation failures.
    fn field_errors(&self) -> &[ValidationError] {
        &[]
    }
    /// The response body. Internal details (500s) are not echoed to clients.
    fn body(&self) -> ErrorBody {
        let status = self.http_status();
        ErrorBody {
            code: self.code(),
            message: if status >= 500 && status != 503 {
                "internal error".to_owned()
            } else {
                self.to_string()
            },
            errors: self.field_errors().to_vec(),
            retryable: self.is_retryable(),
        }
    }
}

/// HTTP status for a store failure: throttling 429, transient (conflicts
/// with another writer included) 503, a
/// malformed request (a bug) 500.
pub fn store_status(e: &StoreError) -> u16 {
    match e {
        StoreError::Throttled(_) => 429,
        e if e.is_retryable() => 503,
        _ => 500,
    }
}

/// Code for a store failure.
pub fn store_code(e: &StoreError) -> &'static str {
    match e {
        StoreError::Throttled(_) => "throttled",
        e if e.is_conflict() => "conflict",
        e if e.is_retryable() => "unavailable",
        _ => "internal",
    }
}
