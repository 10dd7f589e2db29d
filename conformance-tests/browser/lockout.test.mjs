// Flow 3, steps 4–5: wrong passwords count down to a lock that only the operator lifts.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, gotoLogin, openBrowser, screenshots, startServer, submitPassword, text } from './harness.mjs';

test('five wrong passwords lock the account until the operator unlocks it', { timeout: 120_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('lockout');
  const user = await enrolledUser(t, server, 'u-lock', { snap });
  const { page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  // A second browser of the same user keeps a password form open from before the lock.
  const stale = await openBrowser(t, server, { certificate: user, locale: 'en-US' });

  for (let attempt = 1; attempt <= 5; attempt += 1) {
    if (attempt === 5) await gotoLogin(stale.page, server);
    await gotoLogin(page, server);
    if (attempt === 1) await snap(page, 'login-password');
    assert.ok(await page.isVisible('#login-form'), `attempt ${attempt}: the password form`);
    await submitPassword(page, user.loginId, `Wrong-${attempt}-password`);
    await snap(page, attempt < 5 ? `failed-${attempt}` : 'locked');
    if (attempt < 5) {
      const warning = await text(page, '#attempts-left');
      assert.match(warning, new RegExp(`\\b${5 - attempt}\\b`), `attempt ${attempt}: ${warning}`);
    } else {
      assert.ok(await page.isVisible('#locked-message'), `the 5th wrong password locks: ${await page.textContent('main')}`);
    }
  }

  // Locked: the right password, typed into the form opened before the lock, is refused.
  await snap(stale.page, 'form-opened-before-lock');
  assert.ok(await stale.page.isVisible('#login-form'));
  await submitPassword(stale.page, user.loginId, user.password);
  await snap(stale.page, 'locked-right-password');
  assert.ok(await stale.page.isVisible('#locked-message'), `still locked: ${await stale.page.textContent('main')}`);
  assert.ok(!(await stale.page.isVisible('#logged-in')));
  // A new login shows the locked page (at once, or after the right password).
  await gotoLogin(page, server);
  if (await page.isVisible('#login-form')) {
    await submitPassword(page, user.loginId, user.password);
  }
  await snap(page, 'locked-new-login');
  assert.ok(await page.isVisible('#locked-message'), `still locked: ${await page.textContent('main')}`);
  assert.ok(!(await page.isVisible('#logged-in')));

  server.admin('unlock', user.loginId);
  await gotoLogin(page, server);
  await snap(page, 'after-unlock');
  await submitPassword(page, user.loginId, user.password);
  await snap(page, 'logged-in');
  assert.ok(await page.isVisible('#logged-in'), `logged in after unlock: ${await page.textContent('main')}`);
});
