use std::sync::Arc;

pub use super::outage::UnavailableReason;

/// A store operation that did not complete. Only the first two variants are the caller's
/// doing; the rest mean the database could not serve the request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("another integration of the account already has this reference id")]
    DuplicateReferenceId,
    #[error("the account already has the maximum of {0} integrations")]
    AccountLimitReached(u32),
    #[error("{reason}")]
    Unavailable {
        reason: UnavailableReason,
        #[source]
        cause: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// A read on the synchronous connection that checks API tokens failed.
    #[error("database unavailable")]
    ReadFailed(#[source] Arc<rusqlite::Error>),
    #[error("database writer has stopped")]
    WriterStopped,
    #[error("stored row is invalid: {0}")]
    InvalidRow(String),
}

impl StoreError {
    /// Returns why the database could not serve the request, or `None` for the caller's own errors
    /// and invalid rows.
    pub fn unavailable_reason(&self) -> Option<UnavailableReason> {
        match self {
            Self::Unavailable { reason, .. } => Some(*reason),
            Self::ReadFailed(error) => Some(UnavailableReason::of_rusqlite(error)),
            Self::WriterStopped => Some(UnavailableReason::Other),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(database_error) = &error {
            if database_error.is_unique_violation() {
                return Self::DuplicateReferenceId;
            }
        }
        Self::Unavailable {
            reason: UnavailableReason::of(&error),
            cause: Arc::new(error),
        }
    }
}
