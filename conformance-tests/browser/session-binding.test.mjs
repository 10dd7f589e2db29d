// The trust core in a real browser: a session is bound to the certificate that opened
// it, and redirect targets never leave the site. Each hostile case beside the honest one.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, openBrowser, screenshots, startServer, submitPassword } from './harness.mjs';

test('a session is honoured only with its certificate, and return_to stays on the site', async (t) => {
  const server = await startServer(t);
  const snap = screenshots('session-binding');
  const alice = await enrolledUser(t, server, 'bind-alice');
  const { context, page } = await openBrowser(t, server, { certificate: { pfxPath: alice.pfxPath, passphrase: alice.passphrase }, locale: 'en-US' });

  await t.test('return_to with a tab cannot send the browser to another origin', async () => {
    // Hostile: "/\t/evil.example/" is "//evil.example/" to a browser.
    await page.goto(`${server.mtls}/login?return_to=${encodeURIComponent('/\t/evil.example/')}`);
    await submitPassword(page, alice.loginId, alice.password);
    await snap(page, 'after-hostile-return-to');
    const landed = new URL(page.url());
    assert.equal(landed.origin, new URL(server.mtls).origin, `left the site for ${page.url()}`);
    assert.equal(landed.pathname, '/login/done');
    // Honest: a local target is honoured.
    await page.goto(`${server.mtls}/login?return_to=${encodeURIComponent('/account/history')}`);
    if (await page.isVisible('#login-submit')) await submitPassword(page, alice.loginId, alice.password);
    assert.equal(new URL(page.url()).pathname, '/account/history');
  });

  await t.test('the session cookie in a browser without the certificate opens nothing', async () => {
    await page.goto(`${server.mtls}/account`);
    assert.ok(await page.isVisible('#account-menu'), 'the owner sees the account page');
    const stolen = (await context.cookies(server.mtls)).filter((c) => c.name.startsWith('__Host-mamori_session'));
    assert.equal(stolen.length, 1, 'the session cookie carries the __Host- prefix');
    const thief = await openBrowser(t, server, { locale: 'en-US' });
    await thief.context.addCookies(stolen.map(({ name, value }) => ({ name, value, url: server.mtls })));
    await thief.page.goto(`${server.mtls}/account`);
    await snap(thief.page, 'stolen-cookie');
    assert.equal(await thief.page.isVisible('#account-menu'), false, 'the stolen cookie opened the account page');
    // The owner is still logged in.
    await page.goto(`${server.mtls}/account`);
    assert.ok(await page.isVisible('#account-menu'));
  });

  await t.test('opening the login page again does not log the user out', async () => {
    await page.goto(`${server.mtls}/login`);
    await page.goto(`${server.mtls}/login?tenant=elsewhere`);
    await page.goto(`${server.mtls}/account`);
    assert.ok(await page.isVisible('#account-menu'), 'a GET of the login page ended the session');
  });

  await t.test('a login page another tab replaced cannot complete the newer login', async () => {
    // One browser has one login under way. Tab A's page must not finish the login tab B
    // opened later: it would answer B's relying site (here: B's return_to) while the user
    // believes they are logging in to A's.
    const fresh = await openBrowser(t, server, { certificate: { pfxPath: alice.pfxPath, passphrase: alice.passphrase }, locale: 'en-US' });
    const tabA = fresh.page;
    await tabA.goto(`${server.mtls}/login?return_to=${encodeURIComponent('/account/history')}`);
    const tabB = await fresh.context.newPage();
    await tabB.goto(`${server.mtls}/login?return_to=${encodeURIComponent('/account/sites')}`);
    await tabA.fill('#login_id', alice.loginId);
    await tabA.fill('#password', alice.password);
    const [stale] = await Promise.all([tabA.waitForNavigation({ waitUntil: 'load' }), tabA.click('#login-submit')]);
    await snap(tabA, 'replaced-login-page');
    assert.equal(stale.status(), 409, 'the replaced page completed a login');
    assert.match(await tabA.textContent('body'), /This login page is out of date/);
    assert.notEqual(new URL(tabA.url()).pathname, '/account/sites');
    // Hostile: the same tab's form without its reference is no better.
    await tabB.evaluate(() => document.querySelector('input[name="login_ref"]').remove());
    await tabB.fill('#login_id', alice.loginId);
    await tabB.fill('#password', alice.password);
    const [bare] = await Promise.all([tabB.waitForNavigation({ waitUntil: 'load' }), tabB.click('#login-submit')]);
    assert.equal(bare.status(), 409, 'a form without login_ref was taken');
    // Honest: the newest page goes on where it was opened for, the stale tab changed nothing.
    await tabB.goto(`${server.mtls}/login?return_to=${encodeURIComponent('/account/sites')}`);
    await submitPassword(tabB, alice.loginId, alice.password);
    assert.equal(new URL(tabB.url()).pathname, '/account/sites');
  });
});
