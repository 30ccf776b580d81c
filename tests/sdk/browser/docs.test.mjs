// The /docs page in headless Chromium (Debian's /usr/bin/chromium): it loads with every asset
// from the daemon, lists every documented operation, and runs a "Try it out" request. ZTRISK_ORIGIN
// is the daemon's http://127.0.0.1:PORT, and ZTRISK_TOKEN a token that the page sends.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

const origin = process.env.ZTRISK_ORIGIN;
const token = process.env.ZTRISK_TOKEN;
/** The six operations of the integrations API, which the page must show whatever else it does. */
const INTEGRATION_OPERATIONS = [
  ['GET', '/accounts/{account_id}/zt_risk_scoring/integrations'],
  ['POST', '/accounts/{account_id}/zt_risk_scoring/integrations'],
  ['GET', '/accounts/{account_id}/zt_risk_scoring/integrations/reference_id/{reference_id}'],
  ['GET', '/accounts/{account_id}/zt_risk_scoring/integrations/{integration_id}'],
  ['PUT', '/accounts/{account_id}/zt_risk_scoring/integrations/{integration_id}'],
  ['DELETE', '/accounts/{account_id}/zt_risk_scoring/integrations/{integration_id}'],
];

let profile;
let context;
let page;
/** Every URL the page requested, and those that went to another host and were blocked. */
const requested = [];
const blocked = [];
const pageErrors = [];

before(async () => {
  profile = mkdtempSync(path.join(tmpdir(), 'ztrisk-chromium-'));
  // Playwright passes the fresh profile folder as --user-data-dir.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    requested.push(url.href);
    if (url.protocol === 'data:' || url.host === new URL(origin).host) {
      return route.continue();
    }
    blocked.push(url.href);
    return route.abort();
  });
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('docs page lists every operation', async () => {
  const document = await (await fetch(`${origin}/openapi.json`)).json();
  const documented = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
  );

  await page.goto(`${origin}/docs`);
  await page.locator('.opblock').first().waitFor({ timeout: 15000 });

  const listed = await page.locator('.opblock-summary').evaluateAll((summaries) =>
    summaries.map((summary) => [
      summary.querySelector('.opblock-summary-method').textContent.trim(),
      summary.querySelector('.opblock-summary-path').getAttribute('data-path'),
    ]),
  );

  const shown = listed.map((entry) => entry.join(' ')).sort();
  assert.deepEqual(shown, documented.sort());
  for (const operation of INTEGRATION_OPERATIONS) {
    assert.ok(shown.includes(operation.join(' ')), `${operation.join(' ')} is not shown`);
  }
  assert.equal(await page.title(), 'ztrisk API');
});

test('try it out creates integration', async () => {
  const account = randomBytes(16).toString('hex');
  await page.locator('button.authorize').first().click();
  await page.locator('.modal-ux #auth-bearer-value').fill(token);
  await page.locator('.modal-ux button.authorize').click();
  await page.locator('.modal-ux button.btn-done').click();
  const create = page.locator('#operations-Zero_Trust_Risk_Scoring_Integrations-dlp-zt-risk-score-integration-create');
  await create.locator('.opblock-summary').click();
  await create.getByRole('button', { name: 'Try it out' }).click();
  await create.locator('tr[data-param-name="account_id"] input').fill(account);
  const body = JSON.stringify({
    integration_type: 'Okta',
    tenant_url: 'https://browser.okta.com',
    reference_id: 'from-the-docs-page',
  });
  await create.locator('textarea.body-param__text').fill(body);

  await create.getByRole('button', { name: 'Execute' }).click();
  const status = create.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor({ timeout: 15000 });

  assert.equal((await status.textContent()).trim(), '200');
  const headers = { Authorization: `Bearer ${token}` };
  const listed = await (
    await fetch(`${origin}/client/v4/accounts/${account}/zt_risk_scoring/integrations`, { headers })
  ).json();
  assert.equal(listed.result.length, 1);
  assert.equal(listed.result[0].reference_id, 'from-the-docs-page');
});

test('page requested only daemon', () => {
  assert.ok(requested.length >= 4, `requests: ${requested.join(', ')}`);
  assert.deepEqual(blocked, []);
  assert.deepEqual(pageErrors, []);
});
