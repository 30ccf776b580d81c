-- Risk scoring integrations: one row per identity provider tenant that an account shares
-- user risk signals with.
CREATE TABLE integrations (
    -- Random UUIDv4, lowercase and hyphenated, as returned by the API.
    id TEXT PRIMARY KEY NOT NULL,
    -- Cloudflare account tag: 32 lowercase hexadecimal characters.
    account_tag TEXT NOT NULL,
    -- Client-chosen identifier, unique within the account (see the index below).
    reference_id TEXT NOT NULL,
    integration_type TEXT NOT NULL,
    tenant_url TEXT NOT NULL,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    -- RFC 3339 in UTC with microseconds, e.g. 2026-12-04T12:00:00.000000Z. The fixed width
    -- makes text order equal time order, which the list index relies on.
    created_at TEXT NOT NULL
) STRICT;

-- A create or update that would give two integrations of one account the same reference id
-- fails on this index, which the API reports as a conflict. It also serves lookups by
-- reference id.
CREATE UNIQUE INDEX integrations_account_reference_id
    ON integrations (account_tag, reference_id);

-- Serves the list of an account's integrations in creation order, and the count behind the
-- per-account cap, without a sort.
CREATE INDEX integrations_account_created_at
    ON integrations (account_tag, created_at, id);
