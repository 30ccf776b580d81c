//! The integrations repository: one SQL statement per operation, reads on the read pool and
//! writes through the writer task.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::Row;

use super::file_guard::DatabaseFile;
use super::tokens::{self, TokenWrite, TokenWriteOutcome};
use super::writer::Writer;
use super::StoreError;
use crate::domain::{
    AccountTag, Integration, IntegrationId, IntegrationType, IntegrationUpdate, ReferenceId,
    TenantUrl,
};

/// The columns every read selects, in the order `integration_from_row` expects by name.
macro_rules! columns {
    () => {
        "id, account_tag, reference_id, integration_type, tenant_url, active, created_at"
    };
}

/// Reads and writes integrations. Every method takes the account tag and matches on it, so
/// one account's integrations are invisible to another.
#[derive(Clone)]
pub struct IntegrationStore {
    readers: SqlitePool,
    writer: Writer,
    file: DatabaseFile,
    max_per_account: u32,
}

/// A write for the writer task to run inside its current transaction.
pub(crate) enum WriteRequest {
    Insert {
        integration: Integration,
        max_per_account: u32,
    },
    Replace {
        account_tag: AccountTag,
        id: IntegrationId,
        update: IntegrationUpdate,
    },
    Delete {
        account_tag: AccountTag,
        id: IntegrationId,
    },
    Tokens(TokenWrite),
}

pub(crate) enum WriteOutcome {
    Inserted(bool),
    Replaced(Option<Integration>),
    Deleted(bool),
    Tokens(TokenWriteOutcome),
}

impl IntegrationStore {
    pub(crate) fn new(
        readers: SqlitePool,
        writer: Writer,
        file: DatabaseFile,
        max_per_account: u32,
    ) -> Self {
        Self {
            readers,
            writer,
            file,
            max_per_account,
        }
    }

    /// Converts a failed read, naming a missing or replaced database file as the reason when
    /// that is what SQLite's I/O error comes from.
    fn read_failed(&self, error: sqlx::Error) -> StoreError {
        let error = StoreError::from(error);
        match self.file.check() {
            Err(file_error) if error.unavailable_reason().is_some() => file_error,
            _ => error,
        }
    }

    /// Stores a new integration once it is durable.
    ///
    /// Fails with `DuplicateReferenceId` if the account already uses its reference id, and
    /// with `AccountLimitReached` if the account is at its cap.
    #[tracing::instrument(skip_all, fields(integration_id = %integration.id))]
    pub async fn insert(&self, integration: Integration) -> Result<(), StoreError> {
        let request = WriteRequest::Insert {
            integration,
            max_per_account: self.max_per_account,
        };
        match self.writer.write(request).await? {
            WriteOutcome::Inserted(true) => Ok(()),
            WriteOutcome::Inserted(false) => {
                Err(StoreError::AccountLimitReached(self.max_per_account))
            }
            _ => unreachable!("an insert has an insert outcome"),
        }
    }

    /// Lists the account's integrations by creation time, then id.
    #[tracing::instrument(skip_all)]
    pub async fn list_for_account(
        &self,
        account_tag: &AccountTag,
    ) -> Result<Vec<Integration>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM integrations WHERE account_tag = ?1 ORDER BY created_at, id"
        ))
        .bind(account_tag.as_str())
        .fetch_all(&self.readers)
        .await
        .map_err(|error| self.read_failed(error))?;
        rows.iter().map(integration_from_row).collect()
    }

    #[tracing::instrument(skip_all, fields(integration_id = %id))]
    pub async fn find_by_id(
        &self,
        account_tag: &AccountTag,
        id: &IntegrationId,
    ) -> Result<Option<Integration>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM integrations WHERE id = ?1 AND account_tag = ?2"
        ))
        .bind(id.to_string())
        .bind(account_tag.as_str())
        .fetch_optional(&self.readers)
        .await
        .map_err(|error| self.read_failed(error))?;
        row.as_ref().map(integration_from_row).transpose()
    }

    #[tracing::instrument(skip_all)]
    pub async fn find_by_reference_id(
        &self,
        account_tag: &AccountTag,
        reference_id: &ReferenceId,
    ) -> Result<Option<Integration>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM integrations WHERE account_tag = ?1 AND reference_id = ?2"
        ))
        .bind(account_tag.as_str())
        .bind(reference_id.as_str())
        .fetch_optional(&self.readers)
        .await
        .map_err(|error| self.read_failed(error))?;
        row.as_ref().map(integration_from_row).transpose()
    }

    /// Overwrites the integration's tenant URL, and its `active` flag and reference id where
    /// `update` gives them. Returns the stored result, or `None` if the account has no such
    /// integration.
    #[tracing::instrument(skip_all, fields(integration_id = %id))]
    pub async fn replace(
        &self,
        account_tag: &AccountTag,
        id: &IntegrationId,
        update: IntegrationUpdate,
    ) -> Result<Option<Integration>, StoreError> {
        let request = WriteRequest::Replace {
            account_tag: account_tag.clone(),
            id: *id,
            update,
        };
        match self.writer.write(request).await? {
            WriteOutcome::Replaced(integration) => Ok(integration),
            _ => unreachable!("a replace has a replace outcome"),
        }
    }

    /// Deletes the integration. Returns false if the account has no such integration.
    #[tracing::instrument(skip_all, fields(integration_id = %id))]
    pub async fn delete(
        &self,
        account_tag: &AccountTag,
        id: &IntegrationId,
    ) -> Result<bool, StoreError> {
        let request = WriteRequest::Delete {
            account_tag: account_tag.clone(),
            id: *id,
        };
        match self.writer.write(request).await? {
            WriteOutcome::Deleted(deleted) => Ok(deleted),
            _ => unreachable!("a delete has a delete outcome"),
        }
    }
}

/// Runs one write on the writer's connection, inside the transaction the writer opened.
pub(crate) async fn apply(
    connection: &mut SqliteConnection,
    request: &WriteRequest,
) -> Result<WriteOutcome, sqlx::Error> {
    match request {
        WriteRequest::Insert {
            integration,
            max_per_account,
        } => {
            // The count and the insert are one statement, so the cap holds under concurrent
            // creates.
            let result = sqlx::query(
                "INSERT INTO integrations
                     (id, account_tag, reference_id, integration_type, tenant_url, active,
                      created_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
                 WHERE (SELECT COUNT(*) FROM integrations WHERE account_tag = ?2) < ?8",
            )
            .bind(integration.id.to_string())
            .bind(integration.account_tag.as_str())
            .bind(integration.reference_id.as_str())
            .bind(integration.integration_type.as_str())
            .bind(integration.tenant_url.as_str())
            .bind(integration.active)
            .bind(format_timestamp(&integration.created_at))
            .bind(max_per_account)
            .execute(connection)
            .await?;
            Ok(WriteOutcome::Inserted(result.rows_affected() == 1))
        }
        WriteRequest::Replace {
            account_tag,
            id,
            update,
        } => {
            let row = sqlx::query(concat!(
                "UPDATE integrations
                 SET tenant_url = ?1,
                     active = COALESCE(?2, active),
                     reference_id = COALESCE(?3, reference_id)
                 WHERE id = ?4 AND account_tag = ?5
                 RETURNING ",
                columns!()
            ))
            .bind(update.tenant_url.as_str())
            .bind(update.active)
            .bind(update.reference_id.as_ref().map(ReferenceId::as_str))
            .bind(id.to_string())
            .bind(account_tag.as_str())
            .fetch_optional(connection)
            .await?;
            // A row that cannot be read back fails the transaction, so it is not committed.
            let integration = row.as_ref().map(integration_from_row).transpose();
            let integration = integration.map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
            Ok(WriteOutcome::Replaced(integration))
        }
        WriteRequest::Delete { account_tag, id } => {
            let result = sqlx::query("DELETE FROM integrations WHERE id = ?1 AND account_tag = ?2")
                .bind(id.to_string())
                .bind(account_tag.as_str())
                .execute(connection)
                .await?;
            Ok(WriteOutcome::Deleted(result.rows_affected() == 1))
        }
        WriteRequest::Tokens(write) => tokens::apply(connection, write)
            .await
            .map(WriteOutcome::Tokens),
    }
}

/// Formats a creation time as stored and returned: RFC 3339 in UTC with six fractional
/// digits, so text order is time order.
pub fn format_timestamp(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn integration_from_row(row: &SqliteRow) -> Result<Integration, StoreError> {
    let invalid = |what: &str| StoreError::InvalidRow(what.to_owned());
    let text = |column: &str| -> Result<String, StoreError> {
        row.try_get::<String, _>(column)
            .map_err(|_| invalid(column))
    };
    let id = IntegrationId::parse(&text("id")?).map_err(|_| invalid("id"))?;
    let account_tag =
        AccountTag::parse(&text("account_tag")?).map_err(|_| invalid("account_tag"))?;
    let reference_id =
        ReferenceId::parse(&text("reference_id")?).map_err(|_| invalid("reference_id"))?;
    let integration_type = IntegrationType::parse(&text("integration_type")?)
        .map_err(|_| invalid("integration_type"))?;
    let created_at = DateTime::parse_from_rfc3339(&text("created_at")?)
        .map_err(|_| invalid("created_at"))?
        .with_timezone(&Utc);
    let active = row
        .try_get::<bool, _>("active")
        .map_err(|_| invalid("active"))?;
    Ok(Integration {
        id,
        account_tag,
        reference_id,
        integration_type,
        tenant_url: TenantUrl::from_stored(text("tenant_url")?),
        active,
        created_at,
    })
}
