//! A synchronous, read-only connection for checking API tokens on the request path.
//!
//! sqlx runs every SQLite call on a worker thread of its own, and the hand-off costs more
//! than the query. The token check runs on every request, so it reads through rusqlite on the
//! calling thread instead: one indexed read of one row when nothing changed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::tokens::{parse_time, scope_from_columns, StoredToken};
use super::StoreError;
use crate::domain::{AccountTag, Permission, TokenHash, TokenId};

/// Every stored token with the hash of its secret, read at one `generation`.
pub struct TokenSet {
    pub generation: i64,
    pub tokens: Vec<(TokenHash, StoredToken)>,
}

/// A read-only connection to the tokens tables.
pub struct TokenReader {
    connection: Connection,
}

impl TokenReader {
    /// Opens the database file at `path` read-only. A read waits at most `busy_timeout` for
    /// a lock, which in WAL mode only a WAL reset or recovery by another connection holds.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(unavailable)?;
        connection.busy_timeout(busy_timeout).map_err(unavailable)?;
        Ok(Self { connection })
    }

    /// Reads the counter that every change to the tokens increases. The read is its own
    /// transaction, so it sees every change committed before it started, by any process.
    pub fn generation(&mut self) -> Result<i64, StoreError> {
        read_generation(&self.connection).map_err(unavailable)
    }

    /// Reads every token and the generation they belong to, in one transaction.
    pub fn load(&mut self) -> Result<TokenSet, StoreError> {
        let transaction = self.connection.transaction().map_err(unavailable)?;
        let generation = read_generation(&transaction).map_err(unavailable)?;
        let accounts = read_accounts(&transaction)?;
        let tokens = read_tokens(&transaction, accounts)?;
        transaction.finish().map_err(unavailable)?;
        Ok(TokenSet { generation, tokens })
    }
}

fn read_generation(connection: &Connection) -> rusqlite::Result<i64> {
    connection
        .prepare_cached("SELECT generation FROM api_token_changes WHERE id = 1")?
        .query_row([], |row| row.get(0))
}

fn read_accounts(connection: &Connection) -> Result<HashMap<String, Vec<AccountTag>>, StoreError> {
    let mut statement = connection
        .prepare_cached("SELECT token_id, account_tag FROM api_token_accounts")
        .map_err(unavailable)?;
    let mut rows = statement.query([]).map_err(unavailable)?;
    let mut accounts: HashMap<String, Vec<AccountTag>> = HashMap::new();
    while let Some(row) = rows.next().map_err(unavailable)? {
        let token_id: String = row.get(0).map_err(unavailable)?;
        let tag: String = row.get(1).map_err(unavailable)?;
        let tag = AccountTag::parse(&tag).map_err(|_| invalid("account_tag"))?;
        accounts.entry(token_id).or_default().push(tag);
    }
    for tags in accounts.values_mut() {
        tags.sort();
    }
    Ok(accounts)
}

fn read_tokens(
    connection: &Connection,
    mut accounts: HashMap<String, Vec<AccountTag>>,
) -> Result<Vec<(TokenHash, StoredToken)>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT id, name, secret_hash, permission, all_accounts, created_at, expires_at,
                    revoked_at, last_used_at
             FROM api_tokens",
        )
        .map_err(unavailable)?;
    let mut rows = statement.query([]).map_err(unavailable)?;
    let mut tokens = Vec::new();
    while let Some(row) = rows.next().map_err(unavailable)? {
        let column = |index: usize, name: &str| -> Result<Option<String>, StoreError> {
            row.get(index).map_err(|_| invalid(name))
        };
        let required = |index: usize, name: &str| -> Result<String, StoreError> {
            column(index, name)?.ok_or_else(|| invalid(name))
        };
        let optional_time = |index: usize, name: &str| {
            column(index, name)?
                .map(|value| parse_time(&value, name))
                .transpose()
        };
        let id = required(0, "id")?;
        let hash: Vec<u8> = row.get(2).map_err(|_| invalid("secret_hash"))?;
        let all_accounts: bool = row.get(4).map_err(|_| invalid("all_accounts"))?;
        let listed = accounts.remove(&id).unwrap_or_default();
        let token = StoredToken {
            id: TokenId::parse(&id).ok_or_else(|| invalid("id"))?,
            name: required(1, "name")?,
            permission: Permission::parse(&required(3, "permission")?)
                .ok_or_else(|| invalid("permission"))?,
            scope: scope_from_columns(all_accounts, listed),
            created_at: parse_time(&required(5, "created_at")?, "created_at")?,
            expires_at: optional_time(6, "expires_at")?,
            revoked_at: optional_time(7, "revoked_at")?,
            last_used_at: optional_time(8, "last_used_at")?,
        };
        let hash = TokenHash::from_stored(&hash).ok_or_else(|| invalid("secret_hash"))?;
        tokens.push((hash, token));
    }
    Ok(tokens)
}

fn unavailable(error: rusqlite::Error) -> StoreError {
    StoreError::ReadFailed(Arc::new(error))
}

fn invalid(column: &str) -> StoreError {
    StoreError::InvalidRow(format!("api token {column}"))
}
