// Flow 6, certificate reissue: "mismatch and lockout as in flow 5". Wrong answers on the
// mailed link are named and counted with "N more wrong answers", the threshold locks the
// account (the lock page, on the link and at login), the certificate is not reissued
// meanwhile, and only the operator unlocks.
// Flows 5 and 6: mailed links expire (the tenant's `reissue_link_minutes`).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  setPolicy, crlLists, crlText, enrolledUser, gotoLogin, mailLinkPath, openBrowser, p12Serial, problemsOn, screenshots, startServer, submit, text,
  waitForMail,
} from './harness.mjs';

test('certificate reissue: repeated wrong answers lock the account until the operator unlocks it', { timeout: 180_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('account-reissue-certificate-lock');
  const user = await enrolledUser(t, server, 'u-cert-guess');
  const address = `${user.loginId}@example.test`;
  const serial = p12Serial(user.pfxPath, user.passphrase);
  const before = server.mails().length;
  server.cliJson('admin', 'user', 'reissue-cert', '--tenant', 'demo', '--login-id', user.loginId);
  const mail = await waitForMail(server, { to: address, pattern: /\/reissue\/certificate\//, skip: before });
  const link = `${server.main}${mailLinkPath(mail, '/reissue/certificate/')}`;

  const { page } = await openBrowser(t, server, { locale: 'en-US' });
  await page.goto(link);
  for (let left = 4; left >= 1; left -= 1) {
    await page.fill('#secret_answer', `guess ${left}`);
    await submit(page, '#certificate-reissue-submit');
    const problems = await problemsOn(page);
    assert.ok(problems.includes('The question and its answer do not match.'), JSON.stringify(problems));
    const warning = left === 1 ? '1 more wrong answer will' : `${left} more wrong answers will`; // singular for one
    assert.ok(problems.some((p) => p.includes(warning)), `${left} left: ${JSON.stringify(problems)}`);
  }
  await page.fill('#secret_answer', 'guess 0');
  await submit(page, '#certificate-reissue-submit');
  await snap(page, 'locked');
  assert.ok(await page.isVisible('#locked-message'), `the lock page: ${await text(page, 'main')}`);
  await page.goto(link);
  assert.ok(await page.isVisible('#locked-message'), 'the link shows the lock page, even for the right answer');
  assert.ok(!crlLists(await crlText(t, server), serial), 'nothing reissued, nothing revoked');

  const { page: login } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  await gotoLogin(login, server);
  await snap(login, 'login-locked');
  assert.ok(await login.isVisible('#locked-message'), `login locked: ${await text(login, 'main')}`);
  server.admin('unlock', user.loginId);
  await gotoLogin(login, server);
  assert.ok(await login.isVisible('#login-submit'), 'unlocked by the operator');
});

test('reissue links expire after the tenant\'s reissue_link_minutes', { timeout: 180_000 }, async (t) => {
  const server = await startServer(t);
  const user = await enrolledUser(t, server, 'u-slow');
  const address = `${user.loginId}@example.test`;
  setPolicy(server, { reissue_link_minutes: 1 });
  const before = server.mails().length;
  server.cliJson('admin', 'user', 'reissue-cert', '--tenant', 'demo', '--login-id', user.loginId);
  const { page } = await openBrowser(t, server, { locale: 'en-US' });
  await page.goto(`${server.main}/reissue/password?tenant=demo`);
  await page.fill('#login_id', user.loginId);
  await page.fill('#email', address);
  await submit(page, '#password-reissue-submit');
  const certMail = await waitForMail(server, { to: address, pattern: /\/reissue\/certificate\//, skip: before });
  const pwMail = await waitForMail(server, { to: address, pattern: /\/reissue\/password\//, skip: before });
  const links = [mailLinkPath(certMail, '/reissue/certificate/'), mailLinkPath(pwMail, '/reissue/password/')];
  for (const link of links) {
    await page.goto(`${server.main}${link}`);
    assert.ok(!(await page.isVisible('#reissue-unavailable')), `usable at first: ${await text(page, 'main')}`);
  }
  await new Promise((res) => setTimeout(res, 62_000));
  for (const link of links) {
    const response = await page.goto(`${server.main}${link}`);
    assert.equal(response.status(), 410, link);
    assert.equal(await page.getAttribute('#reissue-unavailable', 'data-reason'), 'expired', await text(page, 'main'));
  }
});
