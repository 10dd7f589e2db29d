// Flow 3, step 3: an expired password must be changed at login; every broken rule is
// named (spec "Password rules"), and afterwards only the new password works.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, gotoLogin, openBrowser, screenshots, startServer, submit, submitPassword, text } from './harness.mjs';

async function problems(page) {
  return page.$$eval('.problems li', (items) => items.map((li) => li.textContent.trim()));
}

async function choose(page, password, confirmation = password) {
  await page.fill('#new_password', password);
  await page.fill('#new_password_confirmation', confirmation);
  await submit(page, '#change-password-submit');
}

test('an expired password must be changed, and each broken rule is named', { timeout: 120_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('password-change');
  const user = await enrolledUser(t, server, 'kaeru', { snap });
  server.admin('expire-password', user.loginId);
  const { page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });

  await gotoLogin(page, server);
  await submitPassword(page, user.loginId, user.password);
  await snap(page, 'change-form');
  assert.ok(await page.isVisible('#change-password-form'), `the change form: ${await page.textContent('main')}`);

  // Too short, and containing the user ID: both rules named at once.
  await choose(page, 'kaeru1');
  await snap(page, 'too-short-contains-id');
  let named = await problems(page);
  assert.ok(named.some((p) => /too short/i.test(p)), `"too short" named: ${JSON.stringify(named)}`);
  assert.ok(named.some((p) => /user ID/i.test(p)), `"contains the user ID" named: ${JSON.stringify(named)}`);
  assert.ok(await page.isVisible('#change-password-form'), 'the form again');

  // A confirmation that does not match.
  await choose(page, 'Good-Pass-42', 'Good-Pass-43');
  await snap(page, 'confirmation-mismatch');
  named = await problems(page);
  assert.ok(named.some((p) => /do not match/i.test(p)), `mismatch named: ${JSON.stringify(named)}`);

  // The current password again.
  await choose(page, user.password);
  await snap(page, 'reused');
  named = await problems(page);
  assert.ok(named.some((p) => /differ|recent|previous|same/i.test(p)), `reuse named: ${JSON.stringify(named)}`);

  const fresh = 'Good-Pass-42';
  await choose(page, fresh);
  await snap(page, 'logged-in');
  assert.ok(await page.isVisible('#logged-in'), `logged in after the change: ${await page.textContent('main')}`);
  assert.equal(await text(page, '#logged-in-user'), user.loginId);
  await submit(page, '#logout');
  await snap(page, 'logged-out');

  // Next time the old password fails and the new one works.
  await gotoLogin(page, server);
  await submitPassword(page, user.loginId, user.password);
  await snap(page, 'old-password-fails');
  assert.ok(await page.isVisible('#back-to-login'), `the old password fails: ${await page.textContent('main')}`);
  await gotoLogin(page, server);
  await submitPassword(page, user.loginId, fresh);
  await snap(page, 'new-password-works');
  assert.ok(await page.isVisible('#logged-in'), `the new password logs in: ${await page.textContent('main')}`);
});
