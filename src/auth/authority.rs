//! `TokenAuthority`: checks a request's token against an in-memory copy of the stored tokens
//! that is brought up to date before each check.
//!
//! Tokens change in another process (`ztrisk token create` and `revoke`), and a change must
//! apply from the very next request. Each check therefore first reads the tokens' change
//! counter (`api_token_changes.generation`, increased by triggers on every change) on a
//! synchronous read-only connection. That read is a new SQLite read transaction, so it sees
//! every commit that finished before the request started. When the counter differs from the
//! copy's, the check reloads all tokens in one transaction before it looks the token up.
//!
//! A transaction costs more than the rest of the check, so the check first reads the
//! WAL-index header (`WalIndex`), which every commit rewrites. While the header is the one
//! read just before the counter was last read, nothing was committed since, and the copy is
//! current without a transaction.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::last_used::LastUsedRecorder;
use super::rejection_log::RejectionLog;
use crate::domain::{AccountScope, Permission, TokenHash, TokenId, TokenSecret};
use crate::store::{StoreError, TokenReader, TokenSet, WalIndex, WalIndexHeader};

/// Maximum time a token check waits for a SQLite lock. It blocks an HTTP worker thread, so it
/// is kept short. In WAL mode a reader waits only while another connection resets or recovers
/// the WAL.
const READ_BUSY_TIMEOUT: Duration = Duration::from_millis(250);

/// Seconds between two writes of one token's `last_used_at`.
const LAST_USED_INTERVAL_SECS: i64 = 60;

/// A token that passed the check, as handlers and later middleware see it in the request
/// extensions. Cloning it is cheap.
#[derive(Debug, Clone)]
pub struct AuthenticatedToken(Arc<Grant>);

#[derive(Debug)]
struct Grant {
    id: TokenId,
    permission: Permission,
    scope: AccountScope,
    expires_at: Option<DateTime<Utc>>,
}

impl AuthenticatedToken {
    pub fn id(&self) -> &TokenId {
        &self.0.id
    }

    pub fn permission(&self) -> Permission {
        self.0.permission
    }

    pub fn scope(&self) -> &AccountScope {
        &self.0.scope
    }

    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
}

/// The reason a token was not accepted.
#[derive(Debug)]
pub enum AuthenticationError {
    /// No stored token has this secret.
    Unknown,
    Revoked(TokenId),
    Expired(TokenId),
    /// The tokens could not be read, so the token could be neither accepted nor rejected.
    Unavailable(StoreError),
}

/// The stored tokens at one generation, keyed by the hash of their secret.
struct Snapshot {
    generation: i64,
    by_hash: HashMap<TokenHash, Arc<TokenEntry>>,
}

struct TokenEntry {
    token: AuthenticatedToken,
    revoked: bool,
    /// Unix time in seconds of the last use sent to the recorder, or of the stored
    /// `last_used_at` when none was sent yet.
    last_used_secs: AtomicI64,
}

/// The copy of the tokens in use, and the WAL-index header read before its counter was last
/// read and matched.
struct Current {
    snapshot: Arc<Snapshot>,
    confirmed_at: Option<WalIndexHeader>,
}

/// Checks tokens for the HTTP layer. Shared by every worker thread.
pub struct TokenAuthority {
    readers: Box<[Mutex<TokenReader>]>,
    next_reader: AtomicUsize,
    wal_index: WalIndex,
    current: RwLock<Current>,
    last_used: LastUsedRecorder,
    rejections: RejectionLog,
}

impl TokenAuthority {
    /// Opens `reader_count` read-only connections to the database at `path` (at least one)
    /// and loads the tokens.
    pub fn open(
        path: &Path,
        reader_count: usize,
        last_used: LastUsedRecorder,
    ) -> Result<Self, StoreError> {
        let readers = (0..reader_count.max(1))
            .map(|_| TokenReader::open(path, READ_BUSY_TIMEOUT).map(Mutex::new))
            .collect::<Result<Box<[_]>, _>>()?;
        let set = lock(&readers[0]).load()?;
        let snapshot = Snapshot::build(set, None);
        Ok(Self {
            readers,
            next_reader: AtomicUsize::new(0),
            wal_index: WalIndex::open(path),
            current: RwLock::new(Current {
                snapshot: Arc::new(snapshot),
                confirmed_at: None,
            }),
            last_used,
            rejections: RejectionLog::new(),
        })
    }

    /// Accepts `secret` if it belongs to a stored token that is neither revoked nor expired,
    /// judged on the tokens as committed when the call started.
    pub fn authenticate(
        &self,
        secret: &TokenSecret,
    ) -> Result<AuthenticatedToken, AuthenticationError> {
        let hash = secret.hash();
        let snapshot = self.current().map_err(AuthenticationError::Unavailable)?;
        let entry = snapshot
            .by_hash
            .get(&hash)
            .ok_or(AuthenticationError::Unknown)?;
        let id = entry.token.id();
        if entry.revoked {
            return Err(AuthenticationError::Revoked(id.clone()));
        }
        let now = Utc::now();
        if entry.token.expires_at().is_some_and(|expiry| expiry <= now) {
            return Err(AuthenticationError::Expired(id.clone()));
        }

        self.note_use(entry, now);
        Ok(entry.token.clone())
    }

    /// Logs a rejected request, at most a few lines per interval. `token_id` is the token's
    /// id where the token is known; the secret is never logged.
    pub fn log_rejection(
        &self,
        reason: &'static str,
        token_id: Option<&TokenId>,
        client: Option<SocketAddr>,
    ) {
        self.rejections.log(reason, token_id, client);
    }

    /// Returns the snapshot of the tokens as committed now, reloading it if they changed.
    fn current(&self) -> Result<Arc<Snapshot>, StoreError> {
        // The header is read before the counter, so while it stays the same, no commit
        // happened after the counter's read either.
        let header = self.wal_index.header();
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        if header.is_some() && current.confirmed_at == header {
            return Ok(Arc::clone(&current.snapshot));
        }
        let snapshot = Arc::clone(&current.snapshot);
        drop(current);

        let mut reader = self.reader();
        let generation = reader.generation()?;
        let snapshot = if snapshot.generation == generation {
            snapshot
        } else {
            let set = reader.load()?;
            drop(reader);
            let fresh = Arc::new(Snapshot::build(set, Some(&snapshot)));
            tracing::info!(
                generation = fresh.generation,
                tokens = fresh.by_hash.len(),
                "API tokens changed; reloaded them"
            );
            fresh
        };
        // Two threads may store their results in either order. Each pair is consistent, so an
        // older one stored last costs only one more counter read on the next check.
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Current {
            snapshot: Arc::clone(&snapshot),
            confirmed_at: header,
        };
        Ok(snapshot)
    }

    /// Locks a free reader if there is one, else waits for the next one in turn.
    fn reader(&self) -> MutexGuard<'_, TokenReader> {
        for reader in self.readers.iter() {
            if let Ok(guard) = reader.try_lock() {
                return guard;
            }
        }
        let index = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        lock(&self.readers[index])
    }

    /// Sends the use to the recorder if the token's last recorded use is a minute old.
    fn note_use(&self, entry: &TokenEntry, now: DateTime<Utc>) {
        let now_secs = now.timestamp();
        let previous = entry.last_used_secs.load(Ordering::Relaxed);
        if now_secs.saturating_sub(previous) < LAST_USED_INTERVAL_SECS {
            return;
        }
        let claimed = entry
            .last_used_secs
            .compare_exchange(previous, now_secs, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if claimed {
            self.last_used.record(entry.token.id().clone(), now);
        }
    }
}

impl Snapshot {
    /// Builds the lookup table. Recorded uses carry over from `previous`, so a reload does
    /// not send every token's use to the recorder again.
    fn build(set: TokenSet, previous: Option<&Snapshot>) -> Self {
        let carried: HashMap<&TokenId, i64> = previous
            .map(|previous| {
                previous
                    .by_hash
                    .values()
                    .map(|entry| {
                        let secs = entry.last_used_secs.load(Ordering::Relaxed);
                        (entry.token.id(), secs)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let by_hash = set
            .tokens
            .into_iter()
            .map(|(hash, stored)| {
                let stored_secs = stored
                    .last_used_at
                    .map_or(i64::MIN, |time| time.timestamp());
                let carried_secs = carried.get(&stored.id).copied().unwrap_or(i64::MIN);
                let entry = TokenEntry {
                    revoked: stored.revoked_at.is_some(),
                    last_used_secs: AtomicI64::new(stored_secs.max(carried_secs)),
                    token: AuthenticatedToken(Arc::new(Grant {
                        id: stored.id,
                        permission: stored.permission,
                        scope: stored.scope,
                        expires_at: stored.expires_at,
                    })),
                };
                (hash, Arc::new(entry))
            })
            .collect();
        Self {
            generation: set.generation,
            by_hash,
        }
    }
}

fn lock(reader: &Mutex<TokenReader>) -> MutexGuard<'_, TokenReader> {
    reader.lock().unwrap_or_else(PoisonError::into_inner)
}
