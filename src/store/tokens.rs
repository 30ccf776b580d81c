//! The API token repository. The daemon writes tokens through the writer task. The
//! `ztrisk token` commands run in their own process, so they write on their own connection,
//! each change in one short transaction.

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Connection, Row};

use super::integrations::format_timestamp;
use super::writer::Writer;
use super::StoreError;
use crate::domain::{AccountScope, AccountTag, Permission, TokenHash, TokenId};

/// A token to store. Only the hash of its secret is kept.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: TokenId,
    pub name: String,
    pub secret_hash: TokenHash,
    pub permission: Permission,
    pub scope: AccountScope,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored token, without its hash.
#[derive(Debug, Clone)]
pub struct StoredToken {
    pub id: TokenId,
    pub name: String,
    pub permission: Permission,
    pub scope: AccountScope,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The result of revoking a token by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked,
    /// The token was already revoked, at the time given.
    AlreadyRevoked(DateTime<Utc>),
    NotFound,
}

/// Reads and writes tokens for the daemon.
#[derive(Clone)]
pub struct TokenStore {
    readers: SqlitePool,
    writer: Writer,
}

/// A token write for the writer task to run inside its current transaction.
pub(crate) enum TokenWrite {
    /// Inserts the token only if the table contains no token at all.
    InsertIfNone(NewToken),
    /// Sets each token's `last_used_at`, unless it already contains a later time.
    RecordLastUsed(Vec<(TokenId, DateTime<Utc>)>),
}

pub(crate) enum TokenWriteOutcome {
    Inserted(bool),
    Recorded,
}

impl TokenStore {
    pub(crate) fn new(readers: SqlitePool, writer: Writer) -> Self {
        Self { readers, writer }
    }

    /// Counts stored tokens, revoked and expired ones included.
    pub async fn count(&self) -> Result<i64, StoreError> {
        let count = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens")
            .fetch_one(&self.readers)
            .await?;
        Ok(count)
    }

    /// Stores `token` if no token exists yet, and returns whether it did. The check and the
    /// insert run in one transaction, so a token created meanwhile by `ztrisk token create`
    /// prevents this one.
    #[tracing::instrument(skip_all, fields(token_id = %token.id))]
    pub async fn insert_if_none(&self, token: NewToken) -> Result<bool, StoreError> {
        match self
            .writer
            .write_tokens(TokenWrite::InsertIfNone(token))
            .await?
        {
            TokenWriteOutcome::Inserted(inserted) => Ok(inserted),
            TokenWriteOutcome::Recorded => unreachable!("an insert has an insert outcome"),
        }
    }

    /// Records when tokens were last used.
    #[tracing::instrument(skip_all, fields(tokens = uses.len()))]
    pub async fn record_last_used(
        &self,
        uses: Vec<(TokenId, DateTime<Utc>)>,
    ) -> Result<(), StoreError> {
        self.writer
            .write_tokens(TokenWrite::RecordLastUsed(uses))
            .await
            .map(|_| ())
    }
}

/// Runs one token write on the writer's connection, inside the transaction the writer opened.
pub(crate) async fn apply(
    connection: &mut SqliteConnection,
    write: &TokenWrite,
) -> Result<TokenWriteOutcome, sqlx::Error> {
    match write {
        TokenWrite::InsertIfNone(token) => {
            let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_tokens)")
                .fetch_one(&mut *connection)
                .await?;
            if exists {
                return Ok(TokenWriteOutcome::Inserted(false));
            }
            insert_rows(connection, token).await?;
            Ok(TokenWriteOutcome::Inserted(true))
        }
        TokenWrite::RecordLastUsed(uses) => {
            for (id, used_at) in uses {
                let used_at = format_timestamp(used_at);
                sqlx::query(
                    "UPDATE api_tokens SET last_used_at = ?2
                     WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
                )
                .bind(id.as_str())
                .bind(used_at)
                .execute(&mut *connection)
                .await?;
            }
            Ok(TokenWriteOutcome::Recorded)
        }
    }
}

/// Stores a new token in its own transaction, on a connection of the caller's.
pub async fn insert_token(
    connection: &mut SqliteConnection,
    token: &NewToken,
) -> Result<(), StoreError> {
    let mut transaction = connection.begin_with("BEGIN IMMEDIATE").await?;
    insert_rows(&mut transaction, token).await?;
    transaction.commit().await?;
    Ok(())
}

async fn insert_rows(
    connection: &mut SqliteConnection,
    token: &NewToken,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO api_tokens
             (id, name, secret_hash, permission, all_accounts, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(token.id.as_str())
    .bind(&token.name)
    .bind(&token.secret_hash.as_bytes()[..])
    .bind(token.permission.as_str())
    .bind(token.scope == AccountScope::All)
    .bind(format_timestamp(&token.created_at))
    .bind(token.expires_at.as_ref().map(format_timestamp))
    .execute(&mut *connection)
    .await?;
    if let AccountScope::Accounts(accounts) = &token.scope {
        for account in accounts {
            sqlx::query("INSERT INTO api_token_accounts (token_id, account_tag) VALUES (?1, ?2)")
                .bind(token.id.as_str())
                .bind(account.as_str())
                .execute(&mut *connection)
                .await?;
        }
    }
    Ok(())
}

/// Lists every token, revoked and expired ones included, by creation time.
pub async fn list_tokens(
    connection: &mut SqliteConnection,
) -> Result<Vec<StoredToken>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, name, permission, all_accounts, created_at, expires_at, revoked_at,
                last_used_at
         FROM api_tokens ORDER BY created_at, id",
    )
    .fetch_all(&mut *connection)
    .await?;
    let account_rows = sqlx::query(
        "SELECT token_id, account_tag FROM api_token_accounts ORDER BY token_id, account_tag",
    )
    .fetch_all(&mut *connection)
    .await?;

    let mut accounts: std::collections::HashMap<String, Vec<AccountTag>> = Default::default();
    for row in &account_rows {
        let token_id: String = row.try_get("token_id")?;
        let tag: String = row.try_get("account_tag")?;
        let tag = AccountTag::parse(&tag).map_err(|_| invalid("account_tag"))?;
        accounts.entry(token_id).or_default().push(tag);
    }
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let listed = accounts.remove(&id).unwrap_or_default();
            token_from_row(row, listed)
        })
        .collect()
}

/// Revokes the token at `revoked_at`, in its own transaction on a connection of the caller's.
pub async fn revoke_token(
    connection: &mut SqliteConnection,
    id: &TokenId,
    revoked_at: DateTime<Utc>,
) -> Result<RevokeOutcome, StoreError> {
    let mut transaction = connection.begin_with("BEGIN IMMEDIATE").await?;
    let earlier: Option<Option<String>> =
        sqlx::query_scalar("SELECT revoked_at FROM api_tokens WHERE id = ?1")
            .bind(id.as_str())
            .fetch_optional(&mut *transaction)
            .await?;
    let outcome = match earlier {
        None => RevokeOutcome::NotFound,
        Some(Some(earlier)) => RevokeOutcome::AlreadyRevoked(parse_time(&earlier, "revoked_at")?),
        Some(None) => {
            sqlx::query("UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1")
                .bind(id.as_str())
                .bind(format_timestamp(&revoked_at))
                .execute(&mut *transaction)
                .await?;
            RevokeOutcome::Revoked
        }
    };
    transaction.commit().await?;
    Ok(outcome)
}

fn token_from_row(row: &SqliteRow, accounts: Vec<AccountTag>) -> Result<StoredToken, StoreError> {
    let text = |column: &str| -> Result<String, StoreError> {
        row.try_get::<String, _>(column)
            .map_err(|_| invalid(column))
    };
    let optional_time = |column: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        let value: Option<String> = row.try_get(column).map_err(|_| invalid(column))?;
        value.map(|value| parse_time(&value, column)).transpose()
    };
    let all_accounts: bool = row
        .try_get("all_accounts")
        .map_err(|_| invalid("all_accounts"))?;
    Ok(StoredToken {
        id: TokenId::parse(&text("id")?).ok_or_else(|| invalid("id"))?,
        name: text("name")?,
        permission: Permission::parse(&text("permission")?).ok_or_else(|| invalid("permission"))?,
        scope: scope_from_columns(all_accounts, accounts),
        created_at: parse_time(&text("created_at")?, "created_at")?,
        expires_at: optional_time("expires_at")?,
        revoked_at: optional_time("revoked_at")?,
        last_used_at: optional_time("last_used_at")?,
    })
}

/// Builds the scope stored as `all_accounts` and the token's rows in `api_token_accounts`. A
/// token limited to accounts whose account rows are missing gets an empty list, which allows
/// none.
pub(crate) fn scope_from_columns(all_accounts: bool, accounts: Vec<AccountTag>) -> AccountScope {
    if all_accounts {
        AccountScope::All
    } else {
        AccountScope::Accounts(accounts)
    }
}

pub(crate) fn parse_time(value: &str, column: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(value)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| invalid(column))
}

fn invalid(column: &str) -> StoreError {
    StoreError::InvalidRow(format!("api token {column}"))
}
