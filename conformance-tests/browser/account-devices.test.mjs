// Flow 7, devices: add (e-mail, confirmation, type → confirmation page with Back /
// Register → a certificate for the new device, its download mail to the new address),
// the tenant's device limit, change of a device's e-mail, delete (the certificate is
// revoked: it no longer logs in and is on the CRL, read with `openssl crl -text`).
// Every change sends a notice to every registered address.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  crlLists, crlText, downloadCertificate, enrolledUser, gotoLogin, loginTo, openBrowser, p12Serial, problemsOn, screenshots,
  setPolicy, startServer, submit, text, waitForMail,
} from './harness.mjs';

test('devices: add with confirmation, limit, change e-mail, delete revokes the certificate', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('account-devices');
  setPolicy(server, { max_devices: 2 });
  const user = await enrolledUser(t, server, 'u-dev', { snap });
  const first = `${user.loginId}@example.test`;
  const second = 'u-dev.phone@example.test';
  const { page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  await loginTo(page, server, user.loginId, user.password);
  await snap(page, 'account');
  assert.equal(await text(page, '#login-id'), user.loginId, `the account page: ${await text(page, 'main')}`);

  // Add: mistakes are named on the form.
  await page.click('#device-add');
  await page.waitForSelector('#device-new-form');
  await page.fill('#device_email', second);
  await page.fill('#device_email_confirmation', 'u-dev.fone@example.test');
  await page.evaluate(() => document.querySelector('#device-new-form').setAttribute('novalidate', ''));
  await submit(page, '#device-add-submit');
  await snap(page, 'device-add-mistakes');
  let problems = await problemsOn(page);
  assert.ok(problems.some((p) => /do not match/i.test(p)), JSON.stringify(problems));
  assert.ok(problems.some((p) => /device type/i.test(p)), JSON.stringify(problems));

  // Confirmation page, Back keeps the values, then Register.
  await page.fill('#device_email', second);
  await page.fill('#device_email_confirmation', second);
  await page.selectOption('#device_type', 'smartphone');
  await submit(page, '#device-add-submit');
  await snap(page, 'device-confirm');
  assert.equal(await text(page, '#confirm-email'), second);
  assert.equal(await text(page, '#confirm-device-type'), 'Smartphone');
  await submit(page, '#device-back');
  assert.equal(await page.inputValue('#device_email'), second, 'Back keeps the address');
  assert.equal(await page.inputValue('#device_type'), 'smartphone', 'Back keeps the type');
  await page.fill('#device_email_confirmation', second);
  await submit(page, '#device-add-submit');
  const before = server.mails().length;
  await submit(page, '#device-register-submit');
  await snap(page, 'device-added');
  assert.equal(await text(page, '#device-no'), '2', `added: ${await text(page, 'main')}`);
  const passphrase = await text(page, '#download-password');
  const acquisitionId = await text(page, '#acquisition-id');
  assert.match(passphrase, /^[A-Za-z]{8}$/);

  // The download mail goes to the new address (in the user's language, Japanese), without
  // the password; the notice goes to both addresses.
  const guidance = await waitForMail(server, { to: second, pattern: new RegExp(acquisitionId), skip: before });
  assert.match(guidance, /電子証明書の発行準備ができました/);
  assert.ok(!guidance.includes(passphrase), 'no download password in the mail');
  for (const to of [first, second]) {
    const notice = await waitForMail(server, { to, pattern: /端末が追加されました/, skip: before });
    assert.ok(!notice.includes(passphrase));
  }

  // The account page shows the download password while the download is pending.
  await page.click('#back-to-account');
  await snap(page, 'account-two-devices');
  assert.equal(await text(page, '#device-2 .device-email'), second);
  assert.equal(await text(page, '#device-2 .device-download-password'), passphrase);
  assert.ok(!(await page.isVisible('#device-add')), 'at the limit: no Add button');
  // The limit holds even when the address is typed.
  await page.goto(`${server.mtls}/account/devices/new`);
  await snap(page, 'device-limit');
  problems = await problemsOn(page);
  assert.ok(problems.some((p) => /maximum number of devices/i.test(p)), JSON.stringify(problems));
  await page.fill('#device_email', 'third@example.test');
  await page.fill('#device_email_confirmation', 'third@example.test');
  await page.selectOption('#device_type', 'pc');
  await submit(page, '#device-add-submit');
  problems = await problemsOn(page);
  assert.ok(problems.some((p) => /maximum number of devices/i.test(p)), `limit enforced: ${JSON.stringify(problems)}`);

  // The new device's certificate logs in; then the download is no longer pending.
  const phone = await downloadCertificate(t, page, server, acquisitionId, passphrase);
  const { page: phonePage } = await openBrowser(t, server, { certificate: phone, locale: 'en-US' });
  await loginTo(phonePage, server, user.loginId, user.password);
  assert.equal(await text(phonePage, '#login-id'), user.loginId, `device 2 logs in: ${await text(phonePage, 'main')}`);
  assert.equal(await text(phonePage, '#device-2 .device-download'), '', 'downloaded: no password shown');

  // Change device 2's address: mismatch named, then the notice to the old and new address.
  await page.goto(`${server.mtls}/account`);
  await page.click('#device-2-change');
  await page.waitForSelector('#device-email-form');
  const third = 'u-dev.new-phone@example.test';
  await page.fill('#device_email', third);
  await page.fill('#device_email_confirmation', 'someone@example.test');
  await submit(page, '#device-email-submit');
  problems = await problemsOn(page);
  assert.ok(problems.some((p) => /do not match/i.test(p)), JSON.stringify(problems));
  const beforeChange = server.mails().length;
  await page.fill('#device_email', third);
  await page.fill('#device_email_confirmation', third);
  await submit(page, '#device-email-submit');
  await snap(page, 'device-email-changed');
  assert.match(await text(page, '#notice'), /e-mail address has been changed/i);
  assert.equal(await text(page, '#device-2 .device-email'), third);
  for (const to of [first, second, third]) {
    await waitForMail(server, { to, pattern: /メールアドレスが .* に変更されました/, skip: beforeChange });
  }

  // Delete device 2: its certificate is revoked, stops logging in, and is on the CRL.
  const serial = p12Serial(phone.pfxPath, phone.passphrase);
  assert.ok(!crlLists(await crlText(t, server), serial), 'not on the CRL before');
  await page.click('#device-2-delete');
  await page.waitForSelector('#device-delete-form');
  await snap(page, 'device-delete-confirm');
  await submit(page, '#device-delete-submit');
  await snap(page, 'device-deleted');
  assert.match(await text(page, '#notice'), /deleted and its certificate revoked/i);
  assert.ok(!(await page.isVisible('#device-2')), 'device 2 gone from the table');
  await waitForMail(server, { to: third, pattern: /削除され/ });
  const crl = await crlText(t, server);
  assert.ok(crlLists(crl, serial), `serial ${serial} on the CRL:\n${crl}`);
  assert.match(crl, /Cessation Of Operation/i);
  const { page: gone } = await openBrowser(t, server, { certificate: phone, locale: 'en-US' });
  await gotoLogin(gone, server);
  await snap(gone, 'deleted-device-refused');
  assert.ok(await gone.isVisible('#certificate-refusal'), `refused: ${await text(gone, 'main')}`);
  assert.match(await gone.getAttribute('#certificate-refusal', 'data-reason'), /Revoked|DeviceDeleted/);

  // The last device of a certificate method cannot be deleted.
  await page.click('#device-1-delete');
  await page.waitForSelector('#device-delete-form');
  await submit(page, '#device-delete-submit');
  await snap(page, 'last-device');
  problems = await problemsOn(page);
  assert.ok(problems.some((p) => /only device/i.test(p)), JSON.stringify(problems));

  // The history records each change.
  await page.goto(`${server.mtls}/account/history`);
  const results = await page.$$eval('.history-row', (trs) => trs.map((tr) => tr.dataset.result));
  for (const r of ['device-added', 'device-email-changed', 'device-deleted']) assert.ok(results.includes(r), `${r}: ${results}`);
});
