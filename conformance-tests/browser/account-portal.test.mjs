// Flow 4, the account portal: a portal request without a login goes through the
// certificate login and comes back; the account page shows the user ID and the device
// table; password change (wrong current password, each broken rule named, then the change
// with its notice mail), secret-question change, the login history of the last month in
// the user's time zone, paged "1 ~ 20 / N items" and "1/2", and logout.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  enrolledUser, loginTo, mailHeader, openBrowser, problemsOn, screenshots, startServer, submit, submitPassword, text, waitForMail,
} from './harness.mjs';

test('account portal: devices, password and secret-question change, paged login history, logout', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('account-portal');
  const user = await enrolledUser(t, server, 'u-portal', { snap });
  const address = `${user.loginId}@example.test`;
  const { page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });

  // Without a session the portal sends the browser through the login and back.
  await page.goto(`${server.mtls}/account`);
  await snap(page, 'portal-asks-login');
  assert.ok(await page.isVisible('#login-submit'), `the login form first: ${await text(page, 'main')}`);
  await submitPassword(page, user.loginId, user.password);
  await snap(page, 'account');
  assert.equal(new URL(page.url()).pathname, '/account');
  assert.equal(await text(page, '#login-id'), user.loginId);
  assert.equal(await text(page, '#device-1 .device-no'), '1');
  assert.equal(await text(page, '#device-1 .device-email'), address);
  assert.match(await text(page, '#device-1 .device-expiry'), /^\d{4}-\d{2}-\d{2}$/, 'the certificate expiry as a date');
  assert.equal(await text(page, '#device-1 .device-download'), '', 'downloaded already: no password shown');
  for (const item of ['#menu-account', '#menu-password', '#menu-secret-question', '#menu-history', '#menu-login-method', '#logout']) {
    assert.ok(await page.isVisible(item), `menu item ${item}`);
  }
  // The main listener sends portal pages to the certificate listener.
  await page.goto(`${server.main}/account`);
  assert.equal(new URL(page.url()).origin, new URL(server.mtls).origin);

  // Password change: a wrong current password, then every broken rule, then success.
  await page.click('#menu-password');
  await page.waitForSelector('#password-change-form');
  await snap(page, 'password-form');
  const change = async (current, next, confirmation = next) => {
    await page.fill('#current_password', current);
    await page.fill('#new_password', next);
    await page.fill('#new_password_confirmation', confirmation);
    await submit(page, '#password-change-submit');
  };
  await change('Not-My-Password-1', 'Fresh-Pass-42');
  await snap(page, 'password-wrong-current');
  let problems = await problemsOn(page);
  assert.ok(problems.some((p) => /current password is incorrect/i.test(p)), JSON.stringify(problems));
  assert.ok(problems.some((p) => /more wrong attempts will lock/i.test(p)), `attempts left shown: ${JSON.stringify(problems)}`);
  await change(user.password, 'u-portal1', 'u-portal2');
  await snap(page, 'password-rules');
  problems = await problemsOn(page);
  assert.ok(problems.some((p) => /user ID/i.test(p)), `contains the user ID: ${JSON.stringify(problems)}`);
  assert.ok(problems.some((p) => /do not match/i.test(p)), `mismatch: ${JSON.stringify(problems)}`);
  await change(user.password, user.password);
  problems = await problemsOn(page);
  assert.ok(problems.some((p) => /recent passwords/i.test(p)), `reuse: ${JSON.stringify(problems)}`);
  const fresh = 'Fresh-Pass-42';
  const before = server.mails().length;
  await change(user.password, fresh);
  await snap(page, 'password-changed');
  assert.match(await text(page, '#notice'), /password has been changed/i);
  // Mails are in the user's language (Japanese here).
  const notice = await waitForMail(server, { to: address, pattern: /アカウントのパスワードが変更されました/, skip: before });
  assert.equal(mailHeader(notice, 'Subject'), 'パスワード変更のお知らせ');
  assert.ok(!notice.includes(fresh), 'the notice carries no password');

  // Secret question change.
  await page.click('#menu-secret-question');
  await page.waitForSelector('#secret-question-form');
  await page.selectOption('#secret_question', 'first-car');
  await page.fill('#secret_answer', ' ');
  await submit(page, '#secret-question-submit');
  problems = await problemsOn(page);
  assert.ok(problems.some((p) => /Enter the answer/i.test(p)), JSON.stringify(problems));
  await page.selectOption('#secret_question', 'first-car');
  await page.fill('#secret_answer', 'Toyota Corolla');
  await submit(page, '#secret-question-submit');
  await snap(page, 'secret-question-changed');
  assert.match(await text(page, '#notice'), /secret question has been changed/i);
  const qNotice = await waitForMail(server, { to: address, pattern: /秘密の質問と答えが変更されました/ });
  assert.ok(!qNotice.includes('Toyota'), 'the notice carries no answer');

  // The old password no longer logs in; the new one does. Then enough logins for two pages.
  await submit(page, '#logout');
  await page.goto(`${server.mtls}/login`);
  await submitPassword(page, user.loginId, user.password);
  assert.ok(await page.isVisible('#back-to-login'), `the old password fails: ${await text(page, 'main')}`);
  for (let i = 0; i < 18; i += 1) {
    await loginTo(page, server, user.loginId, fresh, { returnTo: '/account' });
  }
  assert.equal(await text(page, '#login-id'), user.loginId, `logged in: ${await text(page, 'main')}`);

  await page.click('#menu-history');
  await page.waitForSelector('#history');
  await snap(page, 'history-page-1');
  const summary = await text(page, '#history-summary');
  const match = summary.match(/^1 ~ 20 \/ (\d+) items$/);
  assert.ok(match, `"1 ~ 20 / N items": ${summary}`);
  const total = Number(match[1]);
  assert.ok(total > 20 && total <= 40, `two pages of events: ${total}`);
  assert.equal(await text(page, '#history-page'), '1/2');
  const rows = await page.$$eval('.history-row', (trs) => trs.map((tr) => ({
    at: tr.querySelector('.history-at').textContent.trim(),
    ip: tr.querySelector('.history-ip').textContent.trim(),
    result: tr.dataset.result,
    factors: tr.querySelector('.history-factors').textContent.trim(),
  })));
  assert.equal(rows.length, 20);
  // Newest first, in the user's zone (Asia/Tokyo): the newest is a login moments ago.
  const newest = rows[0];
  assert.match(newest.at, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} JST$/, newest.at);
  const shown = Date.parse(`${newest.at.slice(0, 10)}T${newest.at.slice(11, 19)}+09:00`);
  assert.ok(Math.abs(Date.now() - shown) < 5 * 60_000, `shown in Tokyo time: ${newest.at}`);
  assert.equal(newest.result, 'success');
  assert.equal(newest.ip, '127.0.0.1');
  assert.deepEqual(newest.factors.split(' ').sort(), ['mfa', 'pwd', 'swk']);
  await page.click('#history-next');
  await page.waitForSelector('#history-page');
  await snap(page, 'history-page-2');
  assert.equal(await text(page, '#history-page'), '2/2');
  assert.equal(await text(page, '#history-summary'), `21 ~ ${total} / ${total} items`);
  const older = await page.$$eval('.history-row', (trs) => trs.map((tr) => tr.dataset.result));
  for (const expected of ['password-changed', 'secret-question-changed', 'wrong-password']) {
    assert.ok(older.includes(expected) || rows.some((r) => r.result === expected), `${expected} in the history: ${older}`);
  }
  assert.ok(await page.isVisible('#history-prev'));

  // In Japanese the same page reads "件".
  await page.goto(`${server.mtls}/account/history?lang=ja`);
  assert.match(await text(page, '#history-summary'), /^1 ~ 20 \/ \d+ 件$/);
  await page.goto(`${server.mtls}/account?lang=en`);

  // Logout ends the session: the portal asks for a login again.
  await submit(page, '#logout');
  await snap(page, 'logged-out');
  await page.goto(`${server.mtls}/account`);
  assert.ok(await page.isVisible('#login-submit'), 'after logout the portal asks for a login');
});
