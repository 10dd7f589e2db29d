// Flow 8, login-method change: choose → confirmation (before/after, user ID, devices) →
// execute; a TOTP authenticator is registered on the spot (QR code, first code), and the
// factor given up stops being asked for. Per-tenant policy: menu items the contract
// disables are hidden and their pages refused; the user's own certificate-reissue request
// appears only where the policy allows it.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  enrolledUser, loginTo, mailLinkPath, openBrowser, problemsOn, screenshots, setPolicy, startServer, submit, text, totp, totpStep,
  waitForMail,
} from './harness.mjs';

async function chooseMethod(page, server, method) {
  await page.goto(`${server.mtls}/account/login-method`);
  await page.selectOption('#login_method', method);
  await submit(page, '#login-method-submit');
}

test('login-method change: TOTP enrolled on the spot, the old factor stops working', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('account-login-method');
  const user = await enrolledUser(t, server, 'u-method', { snap });
  const address = `${user.loginId}@example.test`;
  const { page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  await loginTo(page, server, user.loginId, user.password);

  // Certificate + password → + one-time password.
  await page.click('#menu-login-method');
  await page.waitForSelector('#login-method-form');
  await snap(page, 'choose');
  assert.equal(await text(page, '#current-method'), 'Certificate + ID/password');
  // The list starts at the current method, never at the weakest; submitting it changes nothing.
  assert.equal(await page.inputValue('#login_method'), 'cert+password');
  await submit(page, '#login-method-submit');
  assert.ok((await problemsOn(page)).length > 0, 'the current method is not a change');
  assert.equal(await page.inputValue('#login_method'), 'cert+password');
  await page.selectOption('#login_method', 'cert+password+otp');
  await submit(page, '#login-method-submit');
  await snap(page, 'confirm');
  assert.equal(await text(page, '#method-before'), 'Certificate + ID/password');
  assert.equal(await text(page, '#method-after'), 'Certificate + ID/password + one-time password');
  assert.equal(await text(page, '#login-id'), user.loginId);
  assert.match(await text(page, '#confirm-devices'), new RegExp(address));
  await submit(page, '#login-method-execute-submit');
  await snap(page, 'totp-setup');
  const secret = await text(page, '#totp-secret');
  assert.ok(await page.isVisible('#totp-qr svg'), 'a QR code');
  const step = totpStep();
  await page.fill('#code', totp(secret, step + 20));
  await submit(page, '#login-method-totp-submit');
  const problems = await problemsOn(page);
  assert.ok(problems.some((p) => /one-time password is incorrect/i.test(p)), JSON.stringify(problems));
  await page.fill('#code', totp(secret, step));
  await submit(page, '#login-method-totp-submit');
  await snap(page, 'changed-to-otp');
  assert.ok(await page.isVisible('#login-method-changed'), `changed: ${await text(page, 'main')}`);
  assert.equal(await text(page, '#method-after'), 'Certificate + ID/password + one-time password');
  await waitForMail(server, { to: address, pattern: /ログイン方法が.*変更されました/ });

  // The next login asks for a code from the new authenticator.
  await submit(page, '#logout');
  await loginTo(page, server, user.loginId, user.password, { otp: () => totp(secret, step + 1) });
  await snap(page, 'login-with-otp');
  assert.equal(await text(page, '#login-id'), user.loginId, `logged in with a code: ${await text(page, 'main')}`);
  assert.match(await text(page, '#login-method'), /one-time password/);

  // Certificate only: no password, no code afterwards; the authenticator is forgotten.
  await chooseMethod(page, server, 'cert');
  assert.equal(await text(page, '#method-after'), 'Certificate');
  await submit(page, '#login-method-execute-submit');
  assert.ok(await page.isVisible('#login-method-changed'), await text(page, 'main'));
  await submit(page, '#logout');
  await page.goto(`${server.mtls}/login?return_to=%2Faccount`);
  await snap(page, 'login-certificate-only');
  assert.equal(await text(page, '#login-id'), user.loginId, `the certificate alone logs in: ${await text(page, 'main')}`);
  assert.ok(!(await page.isVisible('#menu-password')), 'no password to change');

  // Back to certificate + password: a new password is chosen on the confirmation page,
  // and the one used before no longer works.
  await chooseMethod(page, server, 'cert+password');
  assert.ok(await page.isVisible('#new_password'), 'a password is asked for');
  await page.fill('#new_password', user.password);
  await page.fill('#new_password_confirmation', user.password);
  await submit(page, '#login-method-execute-submit');
  const reused = await problemsOn(page);
  assert.ok(reused.some((p) => /recent passwords/i.test(p)), `the old password cannot come back: ${JSON.stringify(reused)}`);
  await page.fill('#new_password', 'Second-Life-88');
  await page.fill('#new_password_confirmation', 'Second-Life-88');
  await submit(page, '#login-method-execute-submit');
  await snap(page, 'changed-to-password');
  assert.ok(await page.isVisible('#login-method-changed'), await text(page, 'main'));
  await submit(page, '#logout');
  await loginTo(page, server, user.loginId, user.password);
  assert.ok(await page.isVisible('#back-to-login'), 'the old password fails');
  await loginTo(page, server, user.loginId, 'Second-Life-88', { otp: () => { throw new Error('no code expected'); } });
  assert.equal(await text(page, '#login-id'), user.loginId, `the new password logs in, no code: ${await text(page, 'main')}`);
});

test('tenant policy: disabled menu items are hidden and refused; the user may ask for a certificate reissue where allowed', { timeout: 180_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('account-policy');
  const user = await enrolledUser(t, server, 'u-policy');
  const { page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  await loginTo(page, server, user.loginId, user.password);
  assert.ok(await page.isVisible('#device-add') && await page.isVisible('#menu-login-method'));
  assert.ok(!(await page.isVisible('#device-1-reissue-submit')), 'user reissue is off by default');

  // Every portal form needs its CSRF token: a post without one, or with a forged one, is refused.
  for (const form of [{}, { csrf_token: 'forged' }]) {
    const forged = await page.request.post(`${server.mtls}/account/devices/1/delete`, { form, maxRedirects: 0 });
    assert.equal(forged.status(), 403, `CSRF refused: ${JSON.stringify(form)}`);
    assert.match(await forged.text(), /did not come from this site|このサイトから送信されたものではありません/);
  }
  await page.goto(`${server.mtls}/account`);
  assert.ok(await page.isVisible('#device-1'), 'the device is still there');

  setPolicy(server, { device_management_enabled: false, login_method_change_enabled: false, user_certificate_reissue_enabled: true });
  await page.goto(`${server.mtls}/account`);
  await snap(page, 'devices-and-method-disabled');
  for (const hidden of ['#device-add', '#device-1-change', '#device-1-delete', '#menu-login-method']) {
    assert.ok(!(await page.isVisible(hidden)), `${hidden} hidden`);
  }
  for (const path of ['/account/devices/new', '/account/devices/1/delete', '/account/login-method']) {
    const response = await page.goto(`${server.mtls}${path}`);
    assert.equal(response.status(), 403, path);
    assert.equal(await text(page, '#feature-disabled'), 'This function is not available under your contract.');
  }
  await snap(page, 'feature-disabled');

  // The user's own certificate-reissue request: a mail with the link to the device.
  await page.goto(`${server.mtls}/account`);
  await submit(page, '#device-1-reissue-submit');
  await snap(page, 'reissue-requested');
  assert.match(await text(page, '#notice'), /certificate reissue procedure has been sent/i);
  const mail = await waitForMail(server, { to: `${user.loginId}@example.test`, pattern: /\/reissue\/certificate\// });
  assert.ok(mailLinkPath(mail, '/reissue/certificate/').length > 30);

  // Self-service off: the portal itself is refused, only logout remains.
  setPolicy(server, { self_service_enabled: false });
  const response = await page.goto(`${server.mtls}/account`);
  await snap(page, 'self-service-disabled');
  assert.equal(response.status(), 403);
  assert.ok(await page.isVisible('#feature-disabled'));
  for (const hidden of ['#menu-account', '#menu-password', '#menu-secret-question', '#menu-history']) {
    assert.ok(!(await page.isVisible(hidden)), `${hidden} hidden`);
  }
  assert.ok(await page.isVisible('#logout'));
  assert.equal((await page.goto(`${server.mtls}/account/history`)).status(), 403);
  assert.equal((await page.goto(`${server.mtls}/account/password`)).status(), 403);

  // Password reissue switched off: the request page answers the same, and no link is sent.
  setPolicy(server, { password_reissue_enabled: false });
  const before = server.mails().length;
  await page.goto(`${server.main}/reissue/password?tenant=demo`);
  await page.fill('#login_id', user.loginId);
  await page.fill('#email', `${user.loginId}@example.test`);
  await submit(page, '#password-reissue-submit');
  assert.ok(await page.isVisible('#reissue-sent'));
  await new Promise((res) => setTimeout(res, 1000));
  assert.equal(server.mails().slice(before).filter((m) => /reissue\/password\//.test(m)).length, 0, 'no link mailed');
});
