// The official TypeScript SDK (npm `cloudflare`, through its JavaScript build) against a
// running daemon. scripts/test-sdk sets the same environment variables as for the Python
// suite: ZTRISK_BASE_URL, ZTRISK_TOKEN, ZTRISK_READ_TOKEN and ZTRISK_SCOPED_TOKEN.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { test } from 'node:test';

import Cloudflare from 'cloudflare';

const baseURL = process.env.ZTRISK_BASE_URL;
const token = process.env.ZTRISK_TOKEN;
const TENANT_URL = 'https://example.okta.com';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RFC_3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** Returns a new account tag, so that each test starts with an empty account. */
function newAccount() {
  return randomBytes(16).toString('hex');
}

function integrationsOf(client) {
  return client.zeroTrust.riskScoring.integrations;
}

const client = new Cloudflare({ apiToken: token, baseURL });

test('lifecycle through SDK', async () => {
  const account = newAccount();
  const integrations = integrationsOf(client);

  const named = await integrations.create({
    account_id: account,
    integration_type: 'Okta',
    tenant_url: TENANT_URL,
    reference_id: 'okta-prod',
  });
  const unnamed = await integrations.create({
    account_id: account,
    integration_type: 'Okta',
    tenant_url: 'https://other.okta.com',
  });
  const listed = [];
  for await (const item of integrations.list({ account_id: account })) {
    listed.push(item);
  }
  const fetched = await integrations.get(named.id, { account_id: account });
  const byReference = await integrations.references.get('okta-prod', { account_id: account });
  const updated = await integrations.update(named.id, {
    account_id: account,
    tenant_url: 'https://renamed.okta.com',
    active: false,
    reference_id: 'okta-renamed',
  });
  const fetchedAfterUpdate = await integrations.get(named.id, { account_id: account });
  const deleted = await integrations.delete(named.id, { account_id: account });
  const afterDelete = await integrations.get(named.id, { account_id: account }).catch((e) => e);

  assert.equal(named.reference_id, 'okta-prod');
  assert.equal(named.active, true);
  assert.match(unnamed.reference_id, UUID_V4);
  assert.deepEqual(
    listed.map((item) => item.id),
    [named.id, unnamed.id],
  );
  assert.deepEqual(fetched, named);
  assert.deepEqual(byReference, named);
  assert.equal(updated.tenant_url, 'https://renamed.okta.com');
  assert.equal(updated.active, false);
  assert.equal(updated.reference_id, 'okta-renamed');
  assert.equal(updated.created_at, named.created_at);
  assert.deepEqual(fetchedAfterUpdate, updated);
  assert.deepEqual(deleted, {});
  assert.ok(afterDelete instanceof Cloudflare.NotFoundError, String(afterDelete));
  assert.equal(afterDelete.status, 404);
});

test('results carry typed fields', async () => {
  const account = newAccount();
  const before = Date.now();

  const created = await integrationsOf(client).create({
    account_id: account,
    integration_type: 'Okta',
    tenant_url: TENANT_URL,
  });

  assert.deepEqual(Object.keys(created).sort(), [
    'account_tag',
    'active',
    'created_at',
    'id',
    'integration_type',
    'reference_id',
    'tenant_url',
    'well_known_url',
  ]);
  assert.match(created.created_at, RFC_3339_UTC);
  const createdAt = new Date(created.created_at).getTime();
  assert.ok(Math.abs(createdAt - before) < 5000, `created_at ${created.created_at}`);
  assert.match(created.id, UUID_V4);
  assert.equal(created.account_tag, account);
  assert.equal(created.active, true);
  assert.equal(created.integration_type, 'Okta');
  assert.equal(created.tenant_url, TENANT_URL);
  assert.ok(created.well_known_url.endsWith(`/.well-known/sse-configuration/${created.id}`));
});

for (const referenceId of ['team/prod', 'okta prod', 'équipe-東京', '100%', 'a?b#c']) {
  test(`references get encodes ${referenceId}`, async () => {
    const account = newAccount();
    const integrations = integrationsOf(client);
    const created = await integrations.create({
      account_id: account,
      integration_type: 'Okta',
      tenant_url: TENANT_URL,
      reference_id: referenceId,
    });

    const fetched = await integrations.references.get(referenceId, { account_id: account });

    assert.deepEqual(fetched, created);
  });
}

test('unknown id is not found', async () => {
  const account = newAccount();
  const integrations = integrationsOf(client);

  const byId = await integrations.get(randomUUID(), { account_id: account }).catch((e) => e);
  const byReference = await integrations.references
    .get('absent', { account_id: account })
    .catch((e) => e);

  assert.ok(byId instanceof Cloudflare.NotFoundError, String(byId));
  assert.ok(byReference instanceof Cloudflare.NotFoundError, String(byReference));
});

test('duplicate reference conflicts at once', async () => {
  const account = newAccount();
  const sent = [];
  const countingFetch = (input, init) => {
    sent.push(Date.now());
    return fetch(input, init);
  };
  const counted = new Cloudflare({ apiToken: token, baseURL, fetch: countingFetch });
  const body = {
    account_id: account,
    integration_type: 'Okta',
    tenant_url: TENANT_URL,
    reference_id: 'dup',
  };
  await integrationsOf(counted).create(body);
  sent.length = 0;

  const conflict = await integrationsOf(counted)
    .create(body)
    .catch((e) => e);

  assert.ok(conflict instanceof Cloudflare.ConflictError, String(conflict));
  assert.equal(conflict.status, 409);
  assert.equal(conflict.headers.get('x-should-retry'), 'false');
  // countingFetch records every attempt, retries included.
  assert.equal(sent.length, 1, 'the SDK retried the conflict');
});

test('invalid input is bad request', async () => {
  const account = newAccount();
  const integrations = integrationsOf(client);

  const httpUrl = await integrations
    .create({ account_id: account, integration_type: 'Okta', tenant_url: 'http://x.okta.com' })
    .catch((e) => e);
  const badType = await integrations
    .create({ account_id: account, integration_type: 'AzureAD', tenant_url: TENANT_URL })
    .catch((e) => e);
  const malformedId = await integrations.get('not-a-uuid', { account_id: account }).catch((e) => e);

  assert.ok(httpUrl instanceof Cloudflare.BadRequestError, String(httpUrl));
  assert.equal(httpUrl.errors[0].source.pointer, '/tenant_url');
  assert.ok(badType instanceof Cloudflare.BadRequestError, String(badType));
  assert.equal(badType.errors[0].source.pointer, '/integration_type');
  assert.ok(malformedId instanceof Cloudflare.BadRequestError, String(malformedId));
  assert.equal(malformedId.errors[0].code, 7003);
});

test('unknown token is authentication error', async () => {
  const stranger = new Cloudflare({ apiToken: 'x'.repeat(43), baseURL, maxRetries: 0 });

  const rejected = await integrationsOf(stranger)
    .list({ account_id: newAccount() })
    .catch((e) => e);

  assert.ok(rejected instanceof Cloudflare.AuthenticationError, String(rejected));
  assert.equal(rejected.status, 401);
});

test('read token cannot create', async () => {
  const account = newAccount();
  const reader = new Cloudflare({
    apiToken: process.env.ZTRISK_READ_TOKEN,
    baseURL,
    maxRetries: 0,
  });

  const rejected = await integrationsOf(reader)
    .create({ account_id: account, integration_type: 'Okta', tenant_url: TENANT_URL })
    .catch((e) => e);
  const listed = await integrationsOf(reader).list({ account_id: account });

  assert.ok(rejected instanceof Cloudflare.PermissionDeniedError, String(rejected));
  assert.equal(rejected.status, 403);
  assert.deepEqual(listed.result, []);
});

test('scoped token cannot use other account', async () => {
  const scoped = new Cloudflare({
    apiToken: process.env.ZTRISK_SCOPED_TOKEN,
    baseURL,
    maxRetries: 0,
  });

  const rejected = await integrationsOf(scoped)
    .list({ account_id: newAccount() })
    .catch((e) => e);

  assert.ok(rejected instanceof Cloudflare.PermissionDeniedError, String(rejected));
  assert.equal(rejected.status, 403);
});
