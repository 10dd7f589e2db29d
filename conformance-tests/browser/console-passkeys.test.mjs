// A user's passkeys in the operators' console (issues 18 and 20): the user's page lists
// them (name, dates, backup flags); removing one goes through the confirmation page,
// which can be declined; a confirmed removal takes it (even the last one of a method that
// needs one: the user registers a new one at the next login), mails the user and is
// audited with the operator as actor. The hostile twins: no CSRF token, another tenant's
// user, another user's passkey, a removal POSTed without the confirmation. In Japanese
// too, and at a phone's width. The passkeys are real: registered by Chromium's virtual
// authenticator at the user's first login and on the account page.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, gotoLogin, openBrowser, screenshots, setPolicy, startServer, submit, submitPassword, text, waitForMail } from './harness.mjs';
import { api, apiJson, fitsPhone, openConsole, operator, postFromPage, readToken } from './console-helpers.mjs';
import { virtualAuthenticator } from './passkey-helpers.mjs';

/** Logs `user` (cert+password+passkey) in with a fresh virtual authenticator; registers a
 * passkey named `name` at the first login, after the certificate and the password. */
async function registerPasskey(t, server, user, name) {
  const { context, page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  const authenticator = await virtualAuthenticator(context, page);
  await gotoLogin(page, server, '?return_to=%2Faccount%2Fpasskeys');
  await submitPassword(page, user.loginId, user.password);
  if ((await page.getAttribute('#passkey-form', 'data-passkey')) === 'create') {
    // The first login: the registration is the login's passkey.
    await page.fill('#name', name);
    await submit(page, '#passkey-submit');
    return { context, page, authenticator };
  }
  throw new Error(`expected the passkey set-up at the first login: ${await text(page, 'main')}`);
}

test('an operator sees a user\'s passkeys and removes them behind the confirmation', { timeout: 480_000 }, async (t) => {
  const server = await startServer(t);
  setPolicy(server, { allowed_login_methods: ['cert+password', 'cert+password+passkey'] });
  const snap = screenshots('console-passkeys');
  const admin = await operator(t, server, 'op-passkeys');
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  server.cli('admin', 'user', 'create', '--tenant', 'other', '--login-id', 'o-secret', '--email', 'o-secret@example.test');
  const token = readToken(server);

  // A cert+password+passkey user whose first login registers "Work laptop", then adds
  // "Phone" on the account page with a second authenticator.
  const user = await enrolledUser(t, server, 'u-keys');
  server.cli('admin', 'user', 'update', '--tenant', 'demo', '--login-id', 'u-keys', '--method', 'cert+password+passkey');
  const own = await registerPasskey(t, server, user, 'Work laptop');
  assert.ok(own.page.url().includes('/account'), `logged in: ${own.page.url()} ${await text(own.page, 'main')}`);
  await own.authenticator.remove();
  const second = await virtualAuthenticator(own.context, own.page);
  await own.page.goto(`${server.mtls}/account/passkeys`);
  await own.page.fill('#name', 'Phone');
  await submit(own.page, '#passkey-submit');
  assert.equal(await own.page.locator('.passkey-row').count(), 2, `two passkeys: ${await text(own.page, 'main')}`);
  assert.equal((await second.credentials()).length, 1);
  const keys = await apiJson(server, token, '/tenants/demo/users/u-keys/passkeys');
  assert.deepEqual(keys.map((k) => k.name), ['Work laptop', 'Phone']);
  const [laptop, phone] = keys;
  // A plain user of the same tenant, without passkeys.
  server.cli('admin', 'user', 'create', '--tenant', 'demo', '--login-id', 'u-plain', '--email', 'u-plain@example.test');

  // The user's page lists them.
  const { page } = await openConsole(t, server, admin);
  await page.goto(`${server.mtls}/console/t/demo/users/u-keys`);
  await snap(page, 'user-page');
  await fitsPhone(page, 'user page with passkeys');
  assert.equal(await text(page, '#passkeys-title'), 'Passkeys');
  assert.equal(await page.locator('.passkey-row').count(), 2);
  const row = (k) => page.locator(`#passkey-${k.id}`);
  assert.equal(await row(laptop).locator('.passkey-name').textContent(), 'Work laptop');
  for (const k of [laptop, phone]) {
    // A registration is no use: "Never used" until a login asserts with it.
    assert.equal((await row(k).locator('.passkey-last-used').textContent()).trim(), k.last_used_at ? k.last_used_at : 'Never used');
    assert.equal((await row(k).locator('.passkey-backup-eligible').textContent()).trim(), k.backup_eligible ? 'Yes' : 'No');
    assert.equal((await row(k).locator('.passkey-backed-up').textContent()).trim(), k.backed_up ? 'Yes' : 'No');
  }
  const [phoneCredential] = await second.credentials();
  const credentialId = Buffer.from(phoneCredential.credentialId, 'base64').toString('base64url');
  assert.ok(!(await page.content()).includes(credentialId), 'the page shows no credential ID');
  assert.ok(!JSON.stringify(keys).includes(credentialId), 'nor does the API');
  await page.goto(`${server.mtls}/console/t/demo/users/u-plain`);
  assert.ok(await page.isVisible('#passkeys-empty'), 'a user without passkeys says so');

  // Remove the phone: declined first, then confirmed.
  await page.goto(`${server.mtls}/console/t/demo/users/u-keys`);
  await submit(page, `#passkey-${phone.id} .passkey-remove-submit`);
  await snap(page, 'remove-confirm');
  await fitsPhone(page, 'confirmation');
  assert.equal(await text(page, '#confirm-title'), 'Remove the passkey');
  assert.equal(await text(page, '#confirm-login-id'), 'u-keys');
  assert.match(await text(page, '#confirm-lead'), /no longer log the user in/);
  assert.ok((await page.$$eval('.confirm-fact', (d) => d.map((x) => x.textContent))).includes('Phone'));
  await page.click('#confirm-cancel');
  await page.waitForURL(/\/users\/u-keys$/);
  assert.equal((await apiJson(server, token, '/tenants/demo/users/u-keys/passkeys')).length, 2, 'declined: both stay');
  // Hostile: straight POSTs without the confirmation or without the CSRF token change nothing.
  const removePath = (tenant, login, id) => `/console/t/${tenant}/users/${login}/passkeys/${id}/remove`;
  const unconfirmed = await postFromPage(page, server, removePath('demo', 'u-keys', phone.id), {});
  assert.equal(unconfirmed.status, 200);
  assert.match(unconfirmed.text, /id="confirm-submit"/);
  const unsigned = await postFromPage(page, server, removePath('demo', 'u-keys', phone.id), { confirmed: 'yes' }, { csrf: false });
  assert.equal(unsigned.status, 403);
  // Another tenant's user, and this passkey through another user or tenant: 404.
  assert.equal((await page.goto(`${server.mtls}/console/t/other/users/o-secret`)).status(), 404);
  await page.goto(`${server.mtls}/console/t/demo/users/u-keys`);
  for (const path of [removePath('other', 'o-secret', phone.id), removePath('demo', 'u-plain', phone.id), removePath('demo', 'u-keys', 'not-a-uuid')]) {
    const posted = await postFromPage(page, server, path, { confirmed: 'yes' });
    assert.equal(posted.status, 404, path);
    assert.ok(!posted.text.includes('Phone'), `${path} names nothing`);
  }
  assert.equal((await apiJson(server, token, '/tenants/demo/users/u-keys/passkeys')).length, 2, 'nothing removed');

  await submit(page, `#passkey-${phone.id} .passkey-remove-submit`);
  await submit(page, '#confirm-submit');
  assert.match(page.url(), /\/users\/u-keys\?notice=passkey-removed$/, page.url());
  assert.match(await text(page, '#notice'), /passkey has been removed/);
  assert.deepEqual((await apiJson(server, token, '/tenants/demo/users/u-keys/passkeys')).map((k) => k.name), ['Work laptop']);
  // In the user's language (ja, the default): it names the passkey and the administrator.
  const mail = await waitForMail(server, { to: 'u-keys@', pattern: /パスキーが削除されました/ });
  assert.match(mail, /Phone（サイトの管理者による削除）/);

  // In Japanese: the list and the confirmation (declined).
  const ja = await openConsole(t, server, admin, { locale: 'ja-JP', acceptLanguage: 'ja' });
  await ja.page.goto(`${server.mtls}/console/t/demo/users/u-keys`);
  assert.equal(await ja.page.getAttribute('html', 'lang'), 'ja');
  assert.equal(await text(ja.page, '#passkeys-title'), 'パスキー');
  assert.equal(await ja.page.locator('.passkey-row .passkey-name').textContent(), 'Work laptop');
  await snap(ja.page, 'user-page-ja');
  await fitsPhone(ja.page, 'user page (ja)');
  await submit(ja.page, `#passkey-${laptop.id} .passkey-remove-submit`);
  assert.equal(await text(ja.page, '#confirm-title'), 'パスキーの削除');
  assert.match(await text(ja.page, '#confirm-lead'), /唯一のパスキー/);
  await snap(ja.page, 'remove-confirm-ja');
  await fitsPhone(ja.page, 'confirmation (ja)');
  await ja.page.click('#confirm-cancel');
  await ja.page.waitForURL(/\/users\/u-keys$/);
  assert.equal((await apiJson(server, token, '/tenants/demo/users/u-keys/passkeys')).length, 1, 'declined in Japanese: it stays');

  // The last one: the confirmation says what follows; the user's next login registers a new one.
  await submit(page, `#passkey-${laptop.id} .passkey-remove-submit`);
  assert.match(await text(page, '#confirm-lead'), /only passkey/);
  await submit(page, '#confirm-submit');
  assert.ok(await page.isVisible('#passkeys-empty'), await text(page, 'main'));
  assert.deepEqual(await apiJson(server, token, '/tenants/demo/users/u-keys/passkeys'), []);
  const again = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  await virtualAuthenticator(again.context, again.page);
  await gotoLogin(again.page, server);
  await submitPassword(again.page, user.loginId, user.password);
  assert.equal(await again.page.getAttribute('#passkey-form', 'data-passkey'), 'create', 'the next login registers a new passkey');

  // The audit trail: two removals by the operator, nothing for the refused attempts.
  const trail = (await apiJson(server, token, '/tenants/demo/audit-events?limit=500')).items.filter((e) => e.action === 'passkey.remove');
  const done = trail.filter((e) => e.outcome === 'success');
  assert.deepEqual(done.map((e) => e.actor), ['user:demo/op-passkeys', 'user:demo/op-passkeys']);
  assert.deepEqual(done.map((e) => e.target).sort(), [laptop, phone].map((k) => `tenant:demo/user:u-keys/passkey:${k.id}`).sort());
  assert.equal((await api(server, readToken(server, 'other'), '/tenants/other/users/o-secret/passkeys')).status, 200);

  await ja.page.goto(`${server.mtls}/console/t/demo/users/u-keys`);
  assert.equal(await text(ja.page, '#passkeys-empty'), 'この利用者のパスキーはありません。');
});
