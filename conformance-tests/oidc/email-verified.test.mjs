// email_verified in userinfo: false for an address nobody has proven (the operator typed
// it), true once a link mailed to it was completed (a certificate or a password reissue),
// and never for an address set after the link was mailed.
//
// The sites ask for offline_access: a reissue ends the user's sessions and the grants
// that came from them (deploy/OPERATIONS.md, "Logout and the tokens a session gave
// out"), while an offline grant keeps its tokens, so one token reads userinfo throughout.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, loginTo, mailHeader, mailLinkPath, openBrowser, startServer, submit, submitPassword, text, waitForMail } from '../browser/harness.mjs';
import { authorizationRequest, callbackServer, client, discover, registerClient } from './rp.mjs';

test('email_verified turns true when a mailed link to the address is completed', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const user = await enrolledUser(t, server, 'oidc-mail-1');
  const address = `${user.loginId}@example.test`;
  const cb = await callbackServer(t, server);
  const { page } = await openBrowser(t, server, { certificate: { pfxPath: user.pfxPath, passphrase: user.passphrase }, locale: 'en-US' });
  const rp = registerClient(server, { name: 'Mail RP', redirectUris: [cb.redirectUri], scopes: ['openid', 'email', 'offline_access'], idTokenAlg: 'ES256' });
  const config = await discover(server, rp.client_id, { id_token_signed_response_alg: 'ES256' }, client.ClientSecretBasic(rp.client_secret));
  const req = await authorizationRequest(config, cb.redirectUri, { scope: 'openid email offline_access' });
  const arrived = cb.next();
  await page.goto(String(req.url));
  if (await page.isVisible('#login-form').catch(() => false)) await submitPassword(page, user.loginId, user.password);
  const hit = await arrived;
  const tokens = await client.authorizationCodeGrant(config, new URL(hit.url), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });
  const sub = tokens.claims().sub;

  const before = await client.fetchUserInfo(config, tokens.access_token, sub);
  assert.equal(before.email, address);
  assert.equal(before.email_verified, false, 'typed by the operator, never proven');

  // A certificate reissue: the link goes to the address, the user completes it.
  const sent = server.mails().length;
  server.cliJson('admin', 'user', 'reissue-cert', '--tenant', 'demo', '--login-id', user.loginId);
  const mail = await waitForMail(server, { to: address, pattern: /\/reissue\/certificate\//, skip: sent });
  const { page: other } = await openBrowser(t, server, { locale: 'en-US' });
  await other.goto(`${server.main}${mailLinkPath(mail, '/reissue/certificate/')}`);
  await other.fill('#secret_answer', 'Kyoto ramen');
  await submit(other, '#certificate-reissue-submit');
  assert.ok((await text(other, '#download-password')).length > 0, `reissued: ${await text(other, 'main')}`);

  const after = await client.fetchUserInfo(config, tokens.access_token, sub);
  assert.equal(after.email, address);
  assert.equal(after.email_verified, true, 'the mailed link was completed');
});

/** The first mail to `to` matching `pattern` that was not in `seen` (the outbox's files
 * do not sort in the order they were written, so counting mails to skip is unreliable). */
async function newMail(server, seen, to, pattern) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = server.mails().find((m) => !seen.has(m) && mailHeader(m, 'To').includes(to) && pattern.test(m));
    if (found) return found;
    assert.ok(Date.now() < deadline, `no new mail to ${to} matching ${pattern}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** What a user does to get a password-reissue link: the ID and address on the request
 * page, then the link from the mail. */
async function passwordReissueLink(server, page, loginId, address) {
  const seen = new Set(server.mails());
  await page.goto(`${server.main}/reissue/password?tenant=demo`);
  await page.fill('#login_id', loginId);
  await page.fill('#email', address);
  await submit(page, '#password-reissue-submit');
  const mail = await newMail(server, seen, address, /\/reissue\/password\//);
  return `${server.main}${mailLinkPath(mail, '/reissue/password/')}`;
}

/** Opens the link and answers the secret question; a new password is shown. */
async function completePasswordReissue(page, link) {
  await page.goto(link);
  await page.selectOption('#secret_question', 'first-car');
  await page.fill('#secret_answer', 'Kyoto ramen');
  await submit(page, '#password-reissue-answer-submit');
  const shown = await text(page, '#new-password');
  assert.ok(shown.length >= 8, `a new password is shown: ${await text(page, 'main')}`);
}

test('a completed password-reissue link proves the address it was mailed to, not one set after it', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const user = await enrolledUser(t, server, 'oidc-mail-2');
  const address = `${user.loginId}@example.test`;
  const moved = `${user.loginId}.moved@example.test`;
  const cb = await callbackServer(t, server);
  const { page } = await openBrowser(t, server, { certificate: { pfxPath: user.pfxPath, passphrase: user.passphrase }, locale: 'en-US' });
  const rp = registerClient(server, { name: 'Mail RP 2', redirectUris: [cb.redirectUri], scopes: ['openid', 'email', 'offline_access'], idTokenAlg: 'ES256' });
  const config = await discover(server, rp.client_id, { id_token_signed_response_alg: 'ES256' }, client.ClientSecretBasic(rp.client_secret));
  const req = await authorizationRequest(config, cb.redirectUri, { scope: 'openid email offline_access' });
  const arrived = cb.next();
  await page.goto(String(req.url));
  if (await page.isVisible('#login-form').catch(() => false)) await submitPassword(page, user.loginId, user.password);
  const hit = await arrived;
  const tokens = await client.authorizationCodeGrant(config, new URL(hit.url), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });
  const sub = tokens.claims().sub;
  const userinfo = () => client.fetchUserInfo(config, tokens.access_token, sub);
  assert.equal((await userinfo()).email_verified, false, 'typed by the operator, never proven');

  // A link mailed to the address, which the user then changes before using the link.
  const { page: other } = await openBrowser(t, server, { locale: 'en-US' });
  const oldLink = await passwordReissueLink(server, other, user.loginId, address);
  await loginTo(page, server, user.loginId, user.password);
  await page.click('#device-1-change');
  await page.waitForSelector('#device-email-form');
  await page.fill('#device_email', moved);
  await page.fill('#device_email_confirmation', moved);
  await submit(page, '#device-email-submit');
  assert.equal(await text(page, '#device-1 .device-email'), moved, `address changed: ${await text(page, 'main')}`);
  await completePasswordReissue(other, oldLink);
  const stale = await userinfo();
  assert.equal(stale.email, moved);
  assert.equal(stale.email_verified, false, 'a link mailed to the old address proves nothing about the new one');

  // A link mailed to the new address and completed proves it.
  await completePasswordReissue(other, await passwordReissueLink(server, other, user.loginId, moved));
  const proven = await userinfo();
  assert.equal(proven.email, moved);
  assert.equal(proven.email_verified, true, 'the mailed password-reissue link was completed');
});
