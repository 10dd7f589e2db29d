// Flows 1–3 end to end in Chromium: enrollment, download of the PKCS#12 by clicking, then
// a login that presents that very file over mutual TLS.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

import { enrollAndDownload, gotoLogin, openBrowser, screenshots, startServer, submit, submitPassword, text } from './harness.mjs';

test('a new user enrolls, downloads the PKCS#12 by clicking, and logs in presenting it', { timeout: 120_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('enroll-download-login');
  const loginId = 'p-01-usr012';
  const password = 'Sakura-2026!';
  const ticket = server.createUser(loginId);

  // Enrollment and download on the main listener, in a browser without any certificate.
  const enroller = await openBrowser(t, server, { locale: 'en-US' });
  const { pfxPath, passphrase, acquisitionId } = await enrollAndDownload(
    t,
    enroller.page,
    { url: ticket.url, otp: ticket.one_time_password, password },
    snap,
  );
  await snap(enroller.page, 'download-done');
  assert.match(passphrase, /^[A-Za-z0-9]{8,}$/, 'the download password shown on the completion page');
  assert.ok(acquisitionId && acquisitionId !== loginId, 'the acquisition ID differs from the site user ID');
  const guidance = server.mails().find((m) => /^To:.*p-01-usr012@example\.test/m.test(m) && /Certificate acquisition ID:|証明書取得用ID:/.test(m));
  assert.ok(guidance, `a download-guidance mail to the device's address; outbox:\n${server.mails().join('\n---\n')}`);
  assert.ok(guidance.includes(acquisitionId), `the mail names acquisition ID ${acquisitionId}:\n${guidance}`);
  assert.ok(!guidance.includes(passphrase), 'the mail must not carry the download password');
  // What was downloaded is a modern PKCS#12 (what Node's OpenSSL 3, and so Playwright, opens).
  const info = spawnSync('openssl', ['pkcs12', '-info', '-noout', '-in', pfxPath, '-passin', `pass:${passphrase}`], { encoding: 'utf8' });
  assert.equal(info.status, 0, `openssl opens the download with its password: ${info.stderr}`);
  assert.match(info.stderr, /AES-256-CBC/, info.stderr);

  // A NEW browser presents that very file to the certificate listener.
  const { page } = await openBrowser(t, server, { certificate: { pfxPath, passphrase }, locale: 'en-US' });
  assert.equal(await gotoLogin(page, server), 200);
  await snap(page, 'login-password');
  assert.ok(await page.isVisible('#login-form'), 'the ID/password form');

  await submitPassword(page, loginId, 'Wrong-password-1');
  await snap(page, 'login-failed');
  assert.ok(await page.isVisible('#back-to-login'));
  const warning = await text(page, '#attempts-left');
  assert.match(warning, /\b4\b/, `the attempts-left warning shows 4: ${warning}`);

  await Promise.all([page.waitForNavigation(), page.click('#back-to-login')]);
  await snap(page, 'login-again');
  await submitPassword(page, loginId, password);
  await snap(page, 'logged-in');
  assert.ok(await page.isVisible('#logged-in'), `logged in; page: ${await page.textContent('main')}`);
  assert.equal(await text(page, '#logged-in-user'), loginId);
  const factors = (await page.getAttribute('#factors', 'data-amr')).split(/\s+/);
  assert.ok(factors.includes('swk') && factors.includes('pwd'), `factors: ${factors}`);

  await submit(page, '#logout');
  await snap(page, 'logged-out');
  assert.ok(!(await page.isVisible('#logged-in')));
});
