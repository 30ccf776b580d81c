use std::sync::Arc;

/// A store operation that did not complete. Only the first two variants are the caller's
/// doing; the rest mean the database could not serve the request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("another integration of the account already has this reference id")]
    DuplicateReferenceId,
    #[error("the account already has the maximum of {0} integrations")]
    AccountLimitReached(u32),
    #[error("database unavailable")]
    Unavailable(#[source] Arc<sqlx::Error>),
    /// A read on the synchronous connection that checks API tokens failed.
    #[error("database unavailable")]
    ReadFailed(#[source] Arc<rusqlite::Error>),
    #[error("database writer has stopped")]
    WriterStopped,
    #[error("stored row is invalid: {0}")]
    InvalidRow(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(database_error) = &error {
            if database_error.is_unique_violation() {
                return Self::DuplicateReferenceId;
            }
        }
        Self::Unavailable(Arc::new(error))
    }
}
