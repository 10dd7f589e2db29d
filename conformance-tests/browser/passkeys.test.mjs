// Passkeys (issue 18) in Chromium with a virtual authenticator: the first login of a
// certificate + passkey user registers one, the next logins use it, and the account page
// lists, renames and keeps the last one the method needs.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { downloadCertificate, enrolledUser, gotoLogin, mailHeader, openBrowser, submitPassword, screenshots, setPolicy, startServer, submit, text, waitForMail } from './harness.mjs';
import { enrolledPasskeyUser, loginWithOfferedPasskey, virtualAuthenticator } from './passkey-helpers.mjs';

const METHODS = ['cert+password', 'cert+passkey', 'cert+password+passkey', 'passkey'];

async function amr(page) {
  return (await page.getAttribute('#factors', 'data-amr')).split(/\s+/).sort();
}

test('passkeys: set up at the first login, used at the next, managed on the account page', { timeout: 180_000 }, async (t) => {
  const server = await startServer(t);
  setPolicy(server, { allowed_login_methods: METHODS });
  const snap = screenshots('passkeys');
  // An operator cannot give a method whose passkey would come after the certificate alone
  // to a user without one; cert+password+passkey registers it after the password.
  const user = await enrolledPasskeyUser(t, server, 'u-passkey', 'cert+password+passkey', { snap });
  assert.throws(() => server.cli('admin', 'user', 'update', '--tenant', 'demo', '--login-id', 'u-passkey', '--method', 'cert+passkey'), /needs a passkey/);
  const { context, page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  const authenticator = await virtualAuthenticator(context, page);

  // First login: the certificate and the password, then the passkey's registration, which
  // is the factor.
  await gotoLogin(page, server);
  await submitPassword(page, user.loginId, user.password);
  await snap(page, 'setup');
  assert.equal(await page.getAttribute('#passkey-form', 'data-passkey'), 'create', `the set-up page: ${await text(page, 'main')}`);
  await page.fill('#name', 'Work laptop');
  await submit(page, '#passkey-submit');
  await snap(page, 'logged-in-after-setup');
  assert.ok(await page.isVisible('#logged-in'), `logged in: ${await text(page, 'main')}`);
  assert.deepEqual(await amr(page), ['mfa', 'pwd', 'swk', 'user'], 'a passkey login never claims a hardware key');
  assert.equal((await authenticator.credentials()).length, 1, 'one credential on the authenticator');
  // The notice of the new passkey, in the user's language (Japanese by default).
  const notice = await waitForMail(server, { to: 'u-passkey@', pattern: /Work laptop/ });
  assert.equal(mailHeader(notice, 'Subject'), 'パスキー登録のお知らせ');
  await submit(page, '#logout');

  // The next login asks for the passkey; nothing is registered again.
  await gotoLogin(page, server);
  await submitPassword(page, user.loginId, user.password);
  await snap(page, 'assertion');
  assert.equal(await page.getAttribute('#passkey-form', 'data-passkey'), 'get', `the passkey step: ${await text(page, 'main')}`);
  await submit(page, '#passkey-submit');
  assert.ok(await page.isVisible('#logged-in'), `logged in with the passkey: ${await text(page, 'main')}`);
  assert.equal((await authenticator.credentials()).length, 1);

  // The account page: the passkey, used; the last one of a passkey method stays.
  await page.goto(`${server.mtls}/account/passkeys`);
  await snap(page, 'portal');
  const row = page.locator('.passkey-row');
  assert.equal(await row.count(), 1);
  assert.equal(await text(page, '.passkey-name'), 'Work laptop');
  assert.notEqual(await text(page, '.passkey-last-used'), 'Never');
  assert.ok(await page.isDisabled('.passkey-remove'), 'the last passkey of the method cannot be removed');
  // Even by a hand-made post with the confirmation.
  const id = await row.getAttribute('data-id');
  const csrf = await page.getAttribute('input[name=csrf_token]', 'value');
  const refused = await page.request.post(`${server.mtls}/account/passkeys/remove`, {
    form: { csrf_token: csrf, id, confirmed: 'yes' },
    headers: { Origin: new URL(server.mtls).origin },
  });
  assert.equal(refused.status(), 409, await refused.text());
  await page.goto(`${server.mtls}/account/passkeys`);
  assert.equal(await page.locator('.passkey-row').count(), 1, 'still there');

  // Rename: a name of the user's language is kept; an empty one is refused.
  await page.fill('.passkey-rename-name', '仕事用 MacBook');
  await submit(page, '.passkey-rename');
  assert.match(await text(page, '#passkeys-notice'), /仕事用 MacBook/);
  assert.equal(await text(page, '.passkey-name'), '仕事用 MacBook');
  await page.fill('.passkey-rename-name', ' ');
  await page.evaluate(() => document.querySelector('.passkey-rename-name').removeAttribute('required'));
  await submit(page, '.passkey-rename');
  assert.equal(await text(page, '.passkey-name'), '仕事用 MacBook', 'an empty name changes nothing');
  assert.ok((await page.$$('.problems li')).length > 0, 'and says why');
});

test('passkeys: a passkey-only user logs in without a certificate or an ID typed', { timeout: 180_000 }, async (t) => {
  const server = await startServer(t);
  setPolicy(server, { allowed_login_methods: METHODS });
  const snap = screenshots('passkeys-only');
  const user = await enrolledUser(t, server, 'u-pk-only', { method: 'cert+password', snap });
  const { context, page } = await openBrowser(t, server, { certificate: user, locale: 'ja-JP' });
  const authenticator = await virtualAuthenticator(context, page);

  // Registered on the account page after a full login, then the method moves to it.
  await gotoLogin(page, server, '?return_to=%2Faccount%2Fpasskeys');
  await page.fill('#login_id', user.loginId);
  await page.fill('#password', user.password);
  await submit(page, '#login-submit');
  await snap(page, 'portal-ja');
  assert.ok(await page.isVisible('#passkey-form'), `the add form: ${await text(page, 'main')}`);
  await submit(page, '#passkey-submit');
  assert.equal(await page.locator('.passkey-row').count(), 1, `registered: ${await text(page, 'main')}`);
  assert.ok(!(await page.isDisabled('.passkey-remove')), 'removable while the method needs none');
  server.cli('admin', 'user', 'update', '--tenant', 'demo', '--login-id', user.loginId, '--method', 'passkey');
  await submit(page, '#logout');

  // A browser without the certificate, on the main listener: the passkey login is offered
  // (no password form: no method without a certificate uses one here).
  const [credential] = await authenticator.credentials();
  const fresh = await openBrowser(t, server, { locale: 'en-US' });
  const other = await virtualAuthenticator(fresh.context, fresh.page);
  await fresh.page.goto(`${server.main}/login?tenant=demo`);
  await snap(fresh.page, 'discover');
  assert.ok(await fresh.page.isVisible('#passkey-form'), `the passkey login is offered: ${await text(fresh.page, 'main')}`);
  assert.ok(!(await fresh.page.isVisible('#login-form')), 'no password form where no method without a certificate uses one');
  assert.equal(await fresh.page.getAttribute('#passkey-login-id', 'autocomplete'), 'username webauthn', 'passkeys in the autofill');
  // The same credential in this browser's authenticator: the passkey logs in, no ID typed.
  await other.cdp.send('WebAuthn.addCredential', { authenticatorId: other.authenticatorId, credential });
  await fresh.page.reload();
  await loginWithOfferedPasskey(fresh.page);
  await snap(fresh.page, 'discover-logged-in');
  assert.ok(await fresh.page.isVisible('#logged-in'), `logged in: ${await text(fresh.page, 'main')}`);
  assert.match(await text(fresh.page, '#factors'), /^Passkey/, 'the page names the passkey, not a certificate');
  assert.deepEqual(await amr(fresh.page), ['mfa', 'swk', 'user']);
});

test('passkeys: a passkey-only user enrolls with a passkey and logs in with it', { timeout: 180_000 }, async (t) => {
  const server = await startServer(t);
  setPolicy(server, { allowed_login_methods: METHODS });
  const snap = screenshots('passkeys-enroll');
  const ticket = server.createUser('u-pk-enroll', { method: 'passkey' });
  const { context, page } = await openBrowser(t, server, { locale: 'en-US' });
  const authenticator = await virtualAuthenticator(context, page);

  await page.goto(ticket.url);
  await page.fill('#one_time_password', ticket.one_time_password);
  await submit(page, '#enroll-otp-submit');
  await snap(page, 'register');
  assert.equal(await page.getAttribute('#enroll-register-form', 'data-passkey'), 'create', `a passkey form: ${await text(page, 'main')}`);
  assert.ok(!(await page.isVisible('#password')), 'no password for a passkey-only method');
  await page.selectOption('#secret_question', { index: 1 });
  await page.fill('#secret_answer', 'Kyoto ramen');
  await submit(page, '#enroll-register-submit');
  await snap(page, 'complete');
  assert.equal((await authenticator.credentials()).length, 1, `the passkey was created: ${await text(page, 'main')}`);
  assert.ok(!(await page.isVisible('.problems')), `enrollment completed: ${await text(page, 'main')}`);

  // The same ticket cannot enroll a second passkey.
  await page.goto(ticket.url);
  assert.ok(!(await page.isVisible('#enroll-register-form')), 'the enrollment is spent');

  await page.goto(`${server.main}/login?tenant=demo`);
  await loginWithOfferedPasskey(page);
  assert.ok(await page.isVisible('#logged-in'), `logged in with the enrolled passkey: ${await text(page, 'main')}`);
  assert.deepEqual(await amr(page), ['mfa', 'swk', 'user']);
});

test('passkeys: a certificate + passkey user enrolls a passkey, then logs in with it instead of a password', { timeout: 180_000 }, async (t) => {
  const server = await startServer(t);
  setPolicy(server, { allowed_login_methods: METHODS });
  const snap = screenshots('passkeys-cert-enroll');
  const ticket = server.createUser('u-cpk-enroll', { method: 'cert+passkey' });
  const { context, page } = await openBrowser(t, server, { locale: 'en-US' });
  const authenticator = await virtualAuthenticator(context, page);

  // Enrollment: the one-time password, then the passkey and the secret question; no password.
  await page.goto(ticket.url);
  await page.fill('#one_time_password', ticket.one_time_password);
  await submit(page, '#enroll-otp-submit');
  await snap(page, 'register');
  assert.equal(await page.getAttribute('#enroll-register-form', 'data-passkey'), 'create', `a passkey form: ${await text(page, 'main')}`);
  assert.ok(!(await page.isVisible('#password')), 'no password for cert+passkey');
  await page.selectOption('#secret_question', { index: 1 });
  await page.fill('#secret_answer', 'Kyoto ramen');
  await submit(page, '#enroll-register-submit');
  await snap(page, 'complete');
  assert.equal((await authenticator.credentials()).length, 1, `the passkey was created: ${await text(page, 'main')}`);
  assert.ok(await page.isVisible('#download-password'), `the certificate waits for download: ${await text(page, 'main')}`);
  // The registration is in the history with where it came from.
  const events = server.cliJson('admin', 'events', 'login', '--tenant', 'demo', '--login-id', 'u-cpk-enroll', '--result', 'passkey-added');
  assert.equal(events.items.length, 1, JSON.stringify(events));
  assert.equal(events.items[0].source_ip, '127.0.0.1');

  // The certificate of the first device, from the completion page's link.
  const passphrase = (await page.textContent('#download-password')).trim();
  const acquisitionId = (await page.textContent('#acquisition-id')).trim();
  const pfx = await downloadCertificate(t, page, server, acquisitionId, passphrase);

  // The certificate login asks for the passkey, never for a password.
  const [credential] = await authenticator.credentials();
  const withCert = await openBrowser(t, server, { certificate: pfx, locale: 'en-US' });
  const second = await virtualAuthenticator(withCert.context, withCert.page);
  await second.cdp.send('WebAuthn.addCredential', { authenticatorId: second.authenticatorId, credential });
  await gotoLogin(withCert.page, server);
  await snap(withCert.page, 'login-passkey-step');
  assert.ok(!(await withCert.page.isVisible('#login-form')), 'no password form');
  assert.equal(await withCert.page.getAttribute('#passkey-form', 'data-passkey'), 'get', `the passkey step: ${await text(withCert.page, 'main')}`);
  await submit(withCert.page, '#passkey-submit');
  assert.ok(await withCert.page.isVisible('#logged-in'), `logged in: ${await text(withCert.page, 'main')}`);
  assert.deepEqual(await amr(withCert.page), ['mfa', 'swk', 'user']);
});
