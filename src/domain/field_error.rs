//! A problem with one field of a request, reported with a JSON pointer to that field.

/// What is wrong with a field; the API maps each kind to a stable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// A required field is absent or `null`.
    Missing,
    /// The field has the wrong JSON type, such as a number where a string belongs.
    WrongType,
    /// The field has the right type but a value the API does not accept.
    Invalid,
}

/// One rejected field: where it is (`/tenant_url`), what kind of problem, and a message that
/// names the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub pointer: String,
    pub kind: FieldErrorKind,
    pub message: String,
}

impl FieldError {
    pub fn missing(field: &str) -> Self {
        Self::new(
            field,
            FieldErrorKind::Missing,
            format!("{field} is required"),
        )
    }

    pub fn wrong_type(field: &str, expected: &str) -> Self {
        let message = format!("{field} must be {expected}");
        Self::new(field, FieldErrorKind::WrongType, message)
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(field, FieldErrorKind::Invalid, message.into())
    }

    fn new(field: &str, kind: FieldErrorKind, message: String) -> Self {
        Self {
            pointer: format!("/{field}"),
            kind,
            message,
        }
    }
}
