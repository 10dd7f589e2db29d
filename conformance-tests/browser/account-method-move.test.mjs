// Flow 8 across the certificate boundary, and the login without a certificate (flow 3
// for the `password` and `password+otp` methods):
// - a password-only user logs in through a relying site (OIDC) with no certificate at all,
//   changes to certificate + password, gets a certificate for each device on the spot,
//   downloads it, logs in presenting that PKCS#12; the certificate-less login stops working;
// - a certificate user changes to password + one-time password: the authenticator is
//   enrolled with its QR code, the login without a certificate then asks for password and
//   code, and the old certificate is revoked (refused, and on the CRL per `openssl crl`);
// - an unknown ID and a certificate user's ID get the same page as each other.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  crlLists, crlText, downloadCertificate, enrolledUser, openBrowser, p12Serial, screenshots, setPolicy, startServer, submit, submitPassword, text,
  totp, totpStep, waitForMail,
} from './harness.mjs';

const MIXED = ['cert+password', 'cert+password+otp', 'password', 'password+otp'];

/** Enrollment (flow 1) of a user whose method needs no certificate: no download at the end. */
async function enrollWithoutCertificate(page, ticket, password, snap) {
  await page.goto(ticket.url);
  await page.fill('#one_time_password', ticket.one_time_password);
  await submit(page, '#enroll-otp-submit');
  await page.fill('#password', password);
  await page.fill('#password_confirmation', password);
  await page.selectOption('#secret_question', { index: 1 });
  await page.fill('#secret_answer', 'Kyoto ramen');
  await submit(page, '#enroll-register-submit');
  await snap(page, 'enrolled-without-certificate');
  assert.ok(await page.isVisible('#enroll-complete'), `enrolled: ${await text(page, 'main')}`);
  assert.ok(!(await page.isVisible('#download-password')), 'no certificate for a password-only method');
}

/** The demo relying site of the quickstart (OIDC code flow; shows the verified claims). */
function demoSite(server) {
  const line = server.banner.split('\n').find((l) => l.includes('demo relying site:'));
  const url = line?.match(/https:\/\/\S+?(?=\/?\s|\/?$)/)?.[0];
  assert.ok(url, `a demo relying site in the banner:\n${server.banner}`);
  return url.replace(/\/$/, '');
}

async function claimsOn(page) {
  return JSON.parse(await text(page, '#claims'));
}

/** The history rows of the account's login-history page, newest first. */
async function history(page, server) {
  await page.goto(`${server.mtls}/account/history`);
  return page.$$eval('#history .history-row', (trs) => trs.map((tr) => ({
    result: tr.dataset.result ?? '',
    factors: tr.querySelector('.history-factors')?.textContent.trim() ?? '',
  })));
}

/** A code for the step after `used` (accepted within the one-step skew once the clock
 * has reached `used`); returns [code, step]. */
async function codeAfter(secret, used) {
  while (totpStep() < used) await new Promise((res) => setTimeout(res, 500));
  return [totp(secret, used + 1), used + 1];
}

test('login without a certificate, then password → certificate + password: a certificate per device, the password alone stops working', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('account-method-move-to-certificate');
  setPolicy(server, { allowed_login_methods: MIXED });
  const loginId = 'u-pw-only';
  const password = 'Hibari-2026!';
  const ticket = server.createUser(loginId, { method: 'password' });
  const { context, page } = await openBrowser(t, server, { locale: 'en-US' });
  await enrollWithoutCertificate(page, ticket, password, snap);

  // The relying site sends the browser to Mamori: no certificate page, the ID/password form.
  const site = demoSite(server);
  await page.goto(`${site}/`);
  await submit(page, '#demo-login');
  await snap(page, 'login-without-certificate');
  assert.equal(await page.getAttribute('#login-lead', 'data-certificate'), 'none', await text(page, 'main'));
  assert.ok(!(await page.isVisible('#certificate-refusal')), 'not the certificate page');
  await submitPassword(page, loginId, password);
  await snap(page, 'back-at-the-site');
  const claims = await claimsOn(page);
  assert.deepEqual(claims.amr, ['pwd'], `no swk without a certificate: ${JSON.stringify(claims)}`);

  // Flow 8: password → certificate + password. The portal's login is the certificate-less one.
  await page.goto(`${server.mtls}/account/login-method`);
  if (await page.isVisible('#login-submit')) await submitPassword(page, loginId, password);
  await page.waitForSelector('#login-method-form');
  assert.equal(await text(page, '#current-method'), 'ID/password');
  await page.selectOption('#login_method', 'cert+password');
  await submit(page, '#login-method-submit');
  await snap(page, 'confirm');
  assert.equal(await text(page, '#method-before'), 'ID/password');
  assert.equal(await text(page, '#method-after'), 'Certificate + ID/password');
  assert.match(await text(page, '#confirm-devices'), new RegExp(`${loginId}@example.test`));
  await submit(page, '#login-method-execute-submit');
  await snap(page, 'changed-certificates-issued');
  assert.ok(await page.isVisible('#login-method-changed'), await text(page, 'main'));
  const issued = await page.$$eval('#downloads li', (lis) => lis.map((li) => ({
    passphrase: li.querySelector('.download-password').textContent.trim(),
    acquisitionId: li.querySelector('.acquisition-id').textContent.trim(),
  })));
  assert.equal(issued.length, 1, 'one certificate for the one device');
  assert.match(issued[0].passphrase, /^[A-Za-z]{8}$/);
  await waitForMail(server, { to: `${loginId}@example.test`, pattern: /電子証明書/ });
  const certificate = await downloadCertificate(t, page, server, issued[0].acquisitionId, issued[0].passphrase);
  await context.close();

  // The certificate it downloaded logs in, with the password: swk + pwd.
  const { page: withCert } = await openBrowser(t, server, { certificate, locale: 'en-US' });
  await withCert.goto(`${site}/`);
  await submit(withCert, '#demo-login');
  assert.equal(await withCert.getAttribute('#login-lead', 'data-certificate'), 'accepted', await text(withCert, 'main'));
  await submitPassword(withCert, loginId, password);
  await snap(withCert, 'certificate-login-at-the-site');
  assert.deepEqual((await claimsOn(withCert)).amr.sort(), ['mfa', 'pwd', 'swk']);

  // Without the certificate the right password no longer logs in (same page as an unknown ID).
  const { page: bare } = await openBrowser(t, server, { locale: 'en-US' });
  await bare.goto(`${server.mtls}/login?return_to=%2Faccount`);
  await submitPassword(bare, loginId, password);
  await snap(bare, 'password-alone-refused');
  assert.ok(await bare.isVisible('#back-to-login'), `refused: ${await text(bare, 'main')}`);
  assert.ok(await bare.isVisible('#certificate-hint'), 'the page says a certificate may be needed');
  const refusedPage = await text(bare, 'main');
  await bare.goto(`${server.mtls}/login?return_to=%2Faccount`);
  await submitPassword(bare, 'no-such-user', password);
  assert.equal(await text(bare, 'main'), refusedPage, 'an unknown ID gets the very same page');
  const rows = await history(withCert, server);
  assert.ok(rows.some((r) => r.result === 'no-certificate'), `the refusal is in the history: ${JSON.stringify(rows)}`);
  assert.ok(rows.some((r) => r.result === 'login-method-changed'));
});

test('certificate + password → password + one-time password: TOTP enrolled with a QR code, the certificate revoked', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('account-method-move-to-otp');
  setPolicy(server, { allowed_login_methods: MIXED });
  const user = await enrolledUser(t, server, 'u-cert-to-otp');
  const serial = p12Serial(user.pfxPath, user.passphrase);
  const { page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  await page.goto(`${server.mtls}/login?return_to=%2Faccount%2Flogin-method`);
  await submitPassword(page, user.loginId, user.password);
  await page.waitForSelector('#login-method-form');
  await page.selectOption('#login_method', 'password+otp');
  await submit(page, '#login-method-submit');
  assert.equal(await text(page, '#method-before'), 'Certificate + ID/password');
  assert.equal(await text(page, '#method-after'), 'ID/password + one-time password');
  await submit(page, '#login-method-execute-submit');
  await snap(page, 'totp-setup');
  assert.ok(await page.isVisible('#totp-qr svg'), 'a QR code');
  const secret = await text(page, '#totp-secret');
  const step = totpStep();
  await page.fill('#code', totp(secret, step));
  await submit(page, '#login-method-totp-submit');
  await snap(page, 'changed');
  assert.ok(await page.isVisible('#login-method-changed'), await text(page, 'main'));
  assert.ok(!(await page.isVisible('#downloads')), 'no certificate for the new method');

  // The old certificate is revoked: refused at login, and on the CRL.
  await submit(page, '#logout');
  await page.goto(`${server.mtls}/login`);
  await snap(page, 'old-certificate-refused');
  assert.equal(await page.getAttribute('#certificate-refusal', 'data-reason'), 'Revoked', await text(page, 'main'));
  const crl = await crlText(t, server);
  assert.ok(crlLists(crl, serial), `serial ${serial} on the CRL:\n${crl}`);
  assert.match(crl, /Cessation Of Operation/i);

  // Without a certificate: password, then a code of the authenticator just registered.
  const { page: bare } = await openBrowser(t, server, { locale: 'en-US' });
  await bare.goto(`${server.mtls}/login?return_to=%2Faccount`);
  assert.equal(await bare.getAttribute('#login-lead', 'data-certificate'), 'none');
  await submitPassword(bare, user.loginId, user.password);
  await snap(bare, 'otp-step');
  assert.ok(await bare.isVisible('#otp-form'), `a code is asked for: ${await text(bare, 'main')}`);
  await bare.fill('#code', totp(secret, step + 20));
  await submit(bare, '#otp-submit');
  assert.ok(await bare.isVisible('#otp-form'), 'a wrong code is refused');
  let [code, used] = await codeAfter(secret, step);
  await bare.fill('#code', code);
  await submit(bare, '#otp-submit');
  await snap(bare, 'logged-in-without-certificate');
  assert.equal(await text(bare, '#login-id'), user.loginId, `logged in: ${await text(bare, 'main')}`);
  const rows = await history(bare, server);
  const success = rows.find((r) => r.result === 'success');
  assert.deepEqual(success?.factors.split(' ').sort(), ['mfa', 'otp', 'pwd'], JSON.stringify(rows));

  // A tenant whose methods all do without certificates logs in on the main listener.
  setPolicy(server, { allowed_login_methods: ['password', 'password+otp'], default_login_method: 'password' });
  const { page: main } = await openBrowser(t, server, { locale: 'en-US' });
  await main.goto(`${server.main}/login?tenant=demo`);
  assert.equal(new URL(main.url()).origin, new URL(server.main).origin, 'no hop to the certificate listener');
  assert.equal(await main.getAttribute('#login-lead', 'data-certificate'), 'none');
  await submitPassword(main, user.loginId, user.password);
  assert.ok(await main.isVisible('#otp-form'), await text(main, 'main'));
  [code, used] = await codeAfter(secret, used);
  await main.fill('#code', code);
  await submit(main, '#otp-submit');
  assert.ok(await main.isVisible('#logged-in'), `logged in on the main listener: ${await text(main, 'main')}`);
  await waitForMail(server, { to: `${user.loginId}@example.test`, pattern: /ログイン方法が.*変更されました/ });
});
