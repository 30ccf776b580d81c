-- API tokens. The secret itself is never stored: secret_hash is its SHA-256 digest, and a
-- request's token is looked up by that digest.
CREATE TABLE api_tokens (
    -- 32 lowercase hexadecimal characters, like Cloudflare's token ids.
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- SHA-256 of the secret, 32 bytes.
    secret_hash BLOB NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    permission TEXT NOT NULL CHECK (permission IN ('read', 'edit')),
    -- 1: the token may use every account, and api_token_accounts holds no rows for it.
    -- 0: it may use only the accounts listed in api_token_accounts.
    all_accounts INTEGER NOT NULL CHECK (all_accounts IN (0, 1)),
    -- Times are RFC 3339 in UTC with microseconds, as in the integrations table.
    created_at TEXT NOT NULL,
    -- NULL: the token never expires.
    expires_at TEXT,
    -- NULL: the token is not revoked.
    revoked_at TEXT,
    -- Written at most about once a minute per token, so it may lag by that much.
    last_used_at TEXT
) STRICT;

-- The accounts a token limited to some accounts may use.
CREATE TABLE api_token_accounts (
    token_id TEXT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    -- Cloudflare account tag: 32 lowercase hexadecimal characters.
    account_tag TEXT NOT NULL,
    PRIMARY KEY (token_id, account_tag)
) STRICT, WITHOUT ROWID;

-- A counter that every change to the tokens a request may use increases, from any process.
-- The daemon reads it on each request to decide whether its in-memory copy of the tokens is
-- current. Updates of last_used_at alone do not change it, so recording use does not make
-- every daemon reload its tokens.
CREATE TABLE api_token_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
) STRICT;

INSERT INTO api_token_changes (id, generation) VALUES (1, 0);

CREATE TRIGGER api_tokens_after_insert AFTER INSERT ON api_tokens
BEGIN
    UPDATE api_token_changes SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_tokens_after_update
AFTER UPDATE OF id, name, secret_hash, permission, all_accounts, expires_at, revoked_at
ON api_tokens
BEGIN
    UPDATE api_token_changes SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_tokens_after_delete AFTER DELETE ON api_tokens
BEGIN
    UPDATE api_token_changes SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_token_accounts_after_insert AFTER INSERT ON api_token_accounts
BEGIN
    UPDATE api_token_changes SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_token_accounts_after_update AFTER UPDATE ON api_token_accounts
BEGIN
    UPDATE api_token_changes SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_token_accounts_after_delete AFTER DELETE ON api_token_accounts
BEGIN
    UPDATE api_token_changes SET generation = generation + 1 WHERE id = 1;
END;
