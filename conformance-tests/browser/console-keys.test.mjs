// The signing keys in the operators' console, for super-admins only: the list matches the
// admin API's, with what relies on the keys (each tenant's OIDC sites and SAML service
// providers); rotating asks first, a declined confirmation rotates nothing, an
// out-of-range grace period rotates nothing, and without the CSRF token nothing happens.
// A tenant admin gets the console's 403 page, for the list and for a rotation. In
// English and Japanese, and at a phone's width.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { screenshots, startServer, submit, tempDir, text } from './harness.mjs';
import { apiJson, fitsPhone, openConsole, operator, postFromPage, problems, readToken } from './console-helpers.mjs';

const SP = `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.keys.test/metadata">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.keys.test/acs" index="0"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`;

const FORBIDDEN = 'The signing keys are shared by every tenant: only a super-admin may see and rotate them.';

test('only a super-admin sees and rotates the signing keys, after confirming', { timeout: 480_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console-keys');
  const root = await operator(t, server, 'op-root', 'super-admin');
  const tenantAdmin = await operator(t, server, 'op-keys-tenant');
  const dir = tempDir(t, 'console-keys-');
  writeFileSync(join(dir, 'sp.xml'), SP);
  server.cli('admin', 'saml-sp', 'add', '--tenant', 'demo', '--metadata', join(dir, 'sp.xml'), '--name', 'Keys SP');
  // Keys are made on first use: listing the SAML keys through the CLI makes them, and a
  // first OIDC rotation makes the OIDC keys (there are none to retire yet).
  server.cli('admin', 'saml-keys', 'list');
  server.cli('admin', 'keys', 'rotate');
  const token = readToken(server);
  const keys = () => apiJson(server, token, '/tenants/demo/signing-keys');
  const kids = async () => (await keys()).map((k) => `${k.kid}:${k.state}`).sort();
  const initial = await kids();
  assert.ok(initial.length > 0, 'there are keys to list');

  // A tenant admin: no menu entry, the console's 403 page, and no rotation.
  {
    const { page, context } = await openConsole(t, server, tenantAdmin);
    assert.equal(await page.$('#menu-keys'), null, 'a tenant admin is not offered the keys');
    const r = await page.goto(`${server.mtls}/console/t/demo/keys`);
    assert.equal(r.status(), 403);
    assert.equal(await text(page, '#console-forbidden'), FORBIDDEN);
    assert.equal(await page.$('#keys'), null, 'no key is shown');
    await snap(page, 'tenant-admin-refused');
    await page.goto(`${server.mtls}/console/t/demo/users`);
    const rotate = await postFromPage(page, server, '/console/t/demo/keys/rotate', { kind: 'oidc', confirmed: 'yes' });
    assert.equal(rotate.status, 403);
    assert.deepEqual(await kids(), initial, 'nothing rotated');
    const ja = await page.goto(`${server.mtls}/console/t/demo/keys?lang=ja`);
    assert.equal(ja.status(), 403);
    assert.match(await text(page, '#console-forbidden'), /スーパー管理者のみ/);
    await context.close();
  }

  // The super-admin: the list is the API's, with what relies on the keys.
  const { page } = await openConsole(t, server, root);
  await page.click('#menu-keys');
  await page.waitForURL(/\/console\/t\/demo\/keys$/);
  await snap(page, 'keys');
  const listed = await page.$$eval('.key-row', (rows) => rows.map((r) => `${r.dataset.kid}:${r.dataset.state}`));
  assert.deepEqual(listed.sort(), initial);
  const api = await keys();
  const first = api[0];
  const row = `.key-row[data-kid="${first.kid}"]`;
  assert.equal(await text(page, `${row} .key-algorithm`), first.alg);
  assert.ok((await text(page, `${row} .key-used-by`)).length > 0, 'says what uses the key');
  assert.match(await text(page, '.usage-row[data-tenant="demo"] .usage-saml'), /Keys SP/);
  assert.match(await text(page, '#usage-summary'), /SAML service providers: 1/);
  await fitsPhone(page, 'keys');

  // Rotating asks first; declining rotates nothing.
  await submit(page, '#rotate-oidc-submit');
  assert.equal(await text(page, '#confirm-title'), 'Rotate the OIDC keys?');
  await fitsPhone(page, 'confirm-rotate');
  await snap(page, 'confirm-rotate');
  await page.click('#confirm-cancel');
  await page.waitForURL(/\/keys$/);
  assert.deepEqual(await kids(), initial, 'declined: nothing rotated');

  // Without the CSRF token: refused.
  const forged = await postFromPage(page, server, '/console/t/demo/keys/rotate', { kind: 'oidc', confirmed: 'yes' }, { csrf: false });
  assert.equal(forged.status, 403);
  assert.deepEqual(await kids(), initial, 'nothing rotated without the token');

  // A grace period the service refuses: the page says so before any confirmation is
  // asked for (an operator never confirms what would be refused), and nothing is rotated.
  await page.fill('#grace_days', '91');
  await page.$eval('#grace_days', (e) => e.removeAttribute('max'));
  await submit(page, '#rotate-saml-submit');
  assert.ok(!(await page.isVisible('#confirm-submit')), 'no confirmation for a refused value');
  assert.match(await problems(page), /0 to 90/);
  // Posted as confirmed anyway, or with a kind that does not exist: refused with its reason.
  const confirmedAnyway = await postFromPage(page, server, '/console/t/demo/keys/rotate', { kind: 'saml', grace_days: '91', confirmed: 'yes' });
  assert.equal(confirmedAnyway.status, 422);
  const bogus = await postFromPage(page, server, '/console/t/demo/keys/rotate', { kind: 'bogus', confirmed: 'yes' });
  assert.equal(bogus.status, 422);
  assert.match(bogus.text, /OpenID Connect or the SAML keys/);
  assert.deepEqual(await kids(), initial, 'refused: nothing rotated');

  // Confirmed: the OIDC keys are replaced; the old ones are retired, still published.
  const oldOidc = api.filter((k) => k.purpose === 'oidc' && k.state === 'active').map((k) => k.kid);
  assert.equal(oldOidc.length, 2, 'an ES256 and an RS256 key to replace');
  await page.goto(`${server.mtls}/console/t/demo/keys`);
  await submit(page, '#rotate-oidc-submit');
  await submit(page, '#confirm-submit');
  assert.equal(await text(page, '#notice'), 'The OIDC keys have been rotated.');
  const rotated = await keys();
  for (const kid of oldOidc) {
    assert.equal(rotated.find((k) => k.kid === kid)?.state, 'retired', `${kid} retired`);
    assert.equal(await page.getAttribute(`.key-row[data-kid="${kid}"]`, 'data-state'), 'retired');
  }
  assert.equal(rotated.filter((k) => k.purpose === 'oidc' && k.state === 'active').length, oldOidc.length, 'new active keys');

  // In Japanese: the SAML keys, published now and used after the grace period; the page
  // says which key the current one is replaced by.
  await page.goto(`${server.mtls}/console/t/demo/keys?lang=ja`);
  await page.fill('#grace_days', '3');
  await submit(page, '#rotate-saml-submit');
  assert.equal(await text(page, '#confirm-title'), 'SAML の鍵をローテーションしますか？');
  assert.match(await text(page, '#confirm-lead'), /3 日後/);
  await submit(page, '#confirm-submit');
  assert.equal(await text(page, '#notice'), '新しい SAML の鍵を公開しました。猶予期間の後に使い始めます。');
  const next = (await keys()).filter((k) => k.state === 'next');
  assert.ok(next.some((k) => k.purpose === 'saml'), JSON.stringify(next));
  const samlNext = next.find((k) => k.purpose === 'saml');
  assert.match(await text(page, '.key-row[data-state="active"] .key-used-by'), /置き換わります|署名/);
  assert.ok((await page.$$eval('.key-used-by', (cells) => cells.map((c) => c.textContent))).some((c) => c.includes(samlNext.kid)),
    'the current SAML key names its successor');
  await snap(page, 'rotated-ja');
  await fitsPhone(page, 'keys after rotations');

  // Each rotation is in the audit trail once; the refused and declined ones are not.
  const trail = (await apiJson(server, token, '/tenants/demo/audit-events?action=signing-key.rotate')).items;
  assert.equal(trail.filter((e) => e.outcome === 'success').length, 2, JSON.stringify(trail));
});
