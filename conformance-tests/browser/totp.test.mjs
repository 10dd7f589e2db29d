// Flow 3, step 6 with a TOTP authenticator: set up on the first login, a code afterwards.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, gotoLogin, openBrowser, screenshots, startServer, submit, submitPassword, text, totp, totpStep } from './harness.mjs';

test('TOTP: the first login sets up the authenticator, the next one asks for a code', { timeout: 120_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('totp');
  const user = await enrolledUser(t, server, 'u-totp', { method: 'cert+password+otp', snap });
  const { page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });

  await gotoLogin(page, server);
  await submitPassword(page, user.loginId, user.password);
  await snap(page, 'totp-setup');
  assert.ok(await page.isVisible('#totp-form'), `the set-up page: ${await page.textContent('main')}`);
  const secret = await text(page, '#totp-secret');
  assert.match(secret, /^[A-Z2-7=\s]{16,}$/, `a base32 secret: ${secret}`);

  // A code of no step near now is refused, and the set-up page stays.
  const now = totpStep();
  const near = new Set([now - 2, now - 1, now, now + 1, now + 2].map((s) => totp(secret, s)));
  let wrong = totp(secret, now + 10);
  for (let s = now + 11; near.has(wrong); s += 1) wrong = totp(secret, s);
  await page.fill('#code', wrong);
  await submit(page, '#totp-submit');
  await snap(page, 'totp-setup-wrong-code');
  assert.ok(await page.isVisible('#totp-form'), `a wrong code keeps the set-up page: ${await page.textContent('main')}`);
  assert.ok(!(await page.isVisible('#logged-in')));
  assert.ok((await page.$$('.problems li')).length > 0, 'the wrong code is reported');

  const usedStep = totpStep();
  await page.fill('#code', totp(secret, usedStep));
  await submit(page, '#totp-submit');
  await snap(page, 'logged-in');
  assert.ok(await page.isVisible('#logged-in'), `logged in: ${await page.textContent('main')}`);
  const factors = (await page.getAttribute('#factors', 'data-amr')).split(/\s+/).sort();
  assert.deepEqual(factors, ['mfa', 'otp', 'pwd', 'swk']);
  await submit(page, '#logout');
  await snap(page, 'logged-out');

  // The second login asks for a code, no set-up. A step is accepted once: use the next one.
  await gotoLogin(page, server);
  await submitPassword(page, user.loginId, user.password);
  await snap(page, 'otp');
  assert.ok(await page.isVisible('#otp-form'), `the code page: ${await page.textContent('main')}`);
  assert.ok(!(await page.isVisible('#totp-secret')), 'no second set-up');
  await page.fill('#code', totp(secret, usedStep + 1));
  await submit(page, '#otp-submit');
  await snap(page, 'logged-in-again');
  assert.ok(await page.isVisible('#logged-in'), `logged in with a code: ${await page.textContent('main')}`);
  const again = (await page.getAttribute('#factors', 'data-amr')).split(/\s+/);
  assert.ok(again.includes('otp'), `factors: ${again}`);
});
