// Flow 3, steps 2 and 4: the ID must belong to the certificate's owner, and the failure
// page speaks Japanese unless English is asked for.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, gotoLogin, openBrowser, screenshots, startServer, submitPassword, text } from './harness.mjs';

test("user A's certificate with user B's password fails; Japanese by default, English with ?lang=en", { timeout: 120_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('wrong-owner-and-language');
  const enroller = await openBrowser(t, server);
  const alice = await enrolledUser(t, server, 'u-alice', { password: 'Alice-pass-1', page: enroller.page, snap });
  const bob = await enrolledUser(t, server, 'u-bob', { password: 'Bob-pass-22', page: enroller.page, snap });

  // A browser whose language is neither Japanese nor English: the service's first
  // language, Japanese, is used.
  const ja = await openBrowser(t, server, { certificate: alice, locale: 'fr-FR' });
  await gotoLogin(ja.page, server);
  await snap(ja.page, 'login-ja');
  assert.equal(await ja.page.getAttribute('html', 'lang'), 'ja');

  // Alice's certificate, Alice's ID, Bob's password.
  await submitPassword(ja.page, alice.loginId, bob.password);
  await snap(ja.page, 'failed-ja-alice-id-bob-password');
  assert.equal(await ja.page.getAttribute('html', 'lang'), 'ja');
  assert.ok((await ja.page.textContent('main')).includes('【エラー】認証に失敗しました'), await ja.page.textContent('main'));
  assert.ok(await ja.page.isVisible('#back-to-login'));
  assert.match(await text(ja.page, '#attempts-left'), /あと\d+回/);
  assert.ok(!(await ja.page.isVisible('#logged-in')));

  // Alice's certificate with Bob's ID and Bob's own password: still refused.
  await gotoLogin(ja.page, server);
  await submitPassword(ja.page, bob.loginId, bob.password);
  await snap(ja.page, 'failed-ja-bob-id-bob-password');
  assert.ok((await ja.page.textContent('main')).includes('【エラー】認証に失敗しました'), await ja.page.textContent('main'));
  assert.ok(!(await ja.page.isVisible('#logged-in')));

  // The same in English, chosen with ?lang=en on the first request.
  const en = await openBrowser(t, server, { certificate: alice, locale: 'fr-FR' });
  await gotoLogin(en.page, server, '?lang=en');
  await snap(en.page, 'login-en');
  assert.equal(await en.page.getAttribute('html', 'lang'), 'en');
  await submitPassword(en.page, alice.loginId, bob.password);
  await snap(en.page, 'failed-en');
  assert.equal(await en.page.getAttribute('html', 'lang'), 'en');
  assert.ok((await en.page.textContent('main')).includes('[Error] Authentication failed'), await en.page.textContent('main'));
  assert.match(await text(en.page, '#attempts-left'), /\d+ more/);
  assert.ok(!(await en.page.isVisible('#logged-in')));

  // Alice's own password still works with her certificate: the failures were the mismatch.
  await gotoLogin(en.page, server);
  await submitPassword(en.page, alice.loginId, alice.password);
  await snap(en.page, 'logged-in-en');
  assert.ok(await en.page.isVisible('#logged-in'), await en.page.textContent('main'));
  assert.equal(await text(en.page, '#logged-in-user'), alice.loginId);
});
