// Issue 21, renewal before expiry: from the account page, while the device's certificate
// is valid, a new certificate for the same device is issued for download; the old one
// keeps logging in until the new one is first used, then it is revoked (superseded, on
// the CRL); with no use of the new one it is revoked once the grace period is over.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  crlLists, crlText, downloadCertificate, enrolledUser, gotoLogin, loginTo, openBrowser, p12Serial, screenshots, setPolicy, startServer,
  submit, text,
} from './harness.mjs';

/** Renews device 1 from the account page; returns {acquisitionId, passphrase}. */
async function renew(page, snap, name) {
  await page.click('#device-1-renew-submit');
  await page.waitForSelector('#device-renewed');
  await snap(page, name);
  return { acquisitionId: await text(page, '#acquisition-id'), passphrase: await text(page, '#download-password') };
}

/** Whether `certificate` gets past the certificate step of a login. */
async function accepted(t, server, certificate) {
  const { page, context } = await openBrowser(t, server, { certificate, locale: 'en-US' });
  await gotoLogin(page, server);
  const refused = await page.isVisible('#certificate-refusal');
  const reason = refused ? await page.getAttribute('#certificate-refusal', 'data-reason') : null;
  await context.close();
  return { ok: !refused, reason };
}

test('renewal: the old certificate works until the new one is used, then is revoked', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('account-renewal');
  const user = await enrolledUser(t, server, 'u-renew');
  const { context, page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  await loginTo(page, server, user.loginId, user.password);
  assert.equal(await text(page, '#login-id'), user.loginId, `logged in: ${await text(page, 'main')}`);

  const renewal = await renew(page, snap, 'renewed');
  assert.match(renewal.passphrase, /^[A-Za-z]{8}$/);
  await submit(page, '#back-to-account');
  await snap(page, 'account-renewal-pending');
  assert.ok(await page.isVisible('#device-1 .device-renewal-pending'), 'the table says a renewal is pending');
  assert.ok(!(await page.isVisible('#device-1-renew-submit')), 'no second renewal offered');
  // A second renewal sent anyway is refused: one pending renewal per device.
  const again = await context.request.post(`${server.mtls}/account/devices/1/renew`, {
    form: { csrf_token: await page.inputValue('input[name=csrf_token]') },
    headers: { Origin: new URL(server.mtls).origin, Referer: `${server.mtls}/account` },
    maxRedirects: 0,
  });
  assert.equal(again.status(), 409, await again.text());
  // Its error page leads back to the account page, not the start page.
  assert.match(await again.text(), /<a id="error-back" href="(\/|&#x2f;)account">(Back to the account page|アカウント管理画面へ戻る)<\/a>/);

  // A renewal whose download is locked (five wrong download passwords, by anyone who saw
  // the mailed acquisition ID) does not stick: Renew is offered again and replaces it.
  for (let i = 0; i < 5; i += 1) {
    await page.goto(`${server.main}/download`);
    await page.fill('#acquisition_id', renewal.acquisitionId);
    await page.fill('#download_password', 'Wrong-guess');
    await submit(page, '#download-submit');
  }
  await page.goto(`${server.mtls}/account`);
  assert.ok(!(await page.isVisible('#device-1 .device-renewal-pending')), 'a locked download is no pending renewal');
  const replaced = await renew(page, snap, 'renewed-after-lock');
  assert.notEqual(replaced.acquisitionId, renewal.acquisitionId, 'a new download');
  await page.goto(`${server.mtls}/account`);
  Object.assign(renewal, replaced);

  // Until the new certificate is used, the old one still logs in (no lock-out).
  assert.deepEqual(await accepted(t, server, user), { ok: true, reason: null });
  const fresh = await downloadCertificate(t, page, server, renewal.acquisitionId, renewal.passphrase);
  const oldSerial = p12Serial(user.pfxPath, user.passphrase);
  assert.notEqual(p12Serial(fresh.pfxPath, fresh.passphrase), oldSerial, 'a new certificate');
  assert.ok(!crlLists(await crlText(t, server), oldSerial), 'not revoked yet');

  // Presenting the new certificate without finishing a login retires nothing.
  assert.deepEqual(await accepted(t, server, fresh), { ok: true, reason: null });
  assert.deepEqual(await accepted(t, server, user), { ok: true, reason: null }, 'the old one still works');

  // The new certificate's first login retires the old one.
  const { page: newPage } = await openBrowser(t, server, { certificate: fresh, locale: 'en-US' });
  await loginTo(newPage, server, user.loginId, user.password);
  await snap(newPage, 'new-certificate-logged-in');
  assert.equal(await text(newPage, '#login-id'), user.loginId, `the new certificate logs in: ${await text(newPage, 'main')}`);
  assert.ok(!(await newPage.isVisible('#device-1 .device-renewal-pending')), 'nothing pending any more');
  assert.deepEqual(await accepted(t, server, user), { ok: false, reason: 'Revoked' });
  const crl = await crlText(t, server);
  assert.ok(crlLists(crl, oldSerial), `the old serial ${oldSerial} is on the CRL:\n${crl}`);
  assert.match(crl, /Superseded/i);
});

test('renewal: the grace period is at least a day, and renewals at once issue one certificate', { timeout: 180_000 }, async (t) => {
  // A grace period of 0 days would revoke the old certificate before the user installed
  // the new one; the shortest is a day. (Its end is checked with a moving clock in
  // `flows/client_certificate_tests.rs`.)
  const server = await startServer(t);
  assert.throws(() => setPolicy(server, { renewal_grace_days: 0 }), /renewal_grace_days/);
  setPolicy(server, { renewal_grace_days: 1 });
  const user = await enrolledUser(t, server, 'u-grace');
  const { page } = await openBrowser(t, server, { certificate: user, locale: 'ja-JP' });
  await loginTo(page, server, user.loginId, user.password);
  await page.waitForSelector('#device-1-renew-submit');
  assert.match(await text(page, '#device-1-renew-submit'), /電子証明書を更新/);

  // Four submissions of the same form at once (a double click, or a script): one renews.
  const statuses = await page.$eval('#device-1-renew-submit', async (button) => {
    const form = button.form;
    const send = () => fetch(form.action, { method: 'POST', body: new URLSearchParams(new FormData(form)), redirect: 'manual' });
    return (await Promise.all([send(), send(), send(), send()])).map((r) => r.status).sort();
  });
  assert.deepEqual(statuses, [200, 409, 409, 409], `one renewal, three told one is pending: ${statuses}`);
  const live = server.cliJson('admin', 'user', 'certificates', '--tenant', 'demo', '--login-id', user.loginId)
    .filter((c) => c.status === 'active');
  assert.equal(live.length, 2, `the old certificate and one renewal: ${JSON.stringify(live)}`);
  assert.deepEqual(await accepted(t, server, user), { ok: true, reason: null }, 'the old one works through the grace period');
});
