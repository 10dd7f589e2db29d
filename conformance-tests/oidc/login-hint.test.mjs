// login_hint: the relying site's hint prefills the ID field of the password step; the form
// is not submitted for the user, and a hint that cannot be a user ID is ignored.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, openBrowser, screenshots, startServer, submitPassword } from '../browser/harness.mjs';
import { authorizationRequest, callbackServer, client, discover, registerClient } from './rp.mjs';

test('login_hint prefills the ID field and nothing more', async (t) => {
  const server = await startServer(t);
  const snap = screenshots('oidc-login-hint');
  const user = await enrolledUser(t, server, 'oidc-hint-1');
  const cb = await callbackServer(t, server);
  const { page } = await openBrowser(t, server, { certificate: { pfxPath: user.pfxPath, passphrase: user.passphrase }, locale: 'en-US' });
  const rp = registerClient(server, { name: 'Hint RP', redirectUris: [cb.redirectUri], idTokenAlg: 'ES256' });
  const config = await discover(server, rp.client_id, { id_token_signed_response_alg: 'ES256' }, client.ClientSecretBasic(rp.client_secret));

  // A hint that cannot be a user ID: the field stays empty.
  const bad = await authorizationRequest(config, cb.redirectUri, { login_hint: 'not an id/?' });
  await page.goto(String(bad.url));
  await page.waitForSelector('#login-form');
  assert.equal(await page.inputValue('#login_id'), '');

  // A hint naming another user: prefilled, but submitting it with this certificate is
  // refused (the certificate decides who logs in), and no code is issued.
  server.createUser('oidc-hint-other');
  const other = await authorizationRequest(config, cb.redirectUri, { login_hint: 'oidc-hint-other' });
  await page.goto(String(other.url));
  await page.waitForSelector('#login-form');
  assert.equal(await page.inputValue('#login_id'), 'oidc-hint-other');
  await page.fill('#password', user.password);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#login-submit')]);
  await snap(page, 'other-refused');
  assert.equal(cb.hits.length, 0, 'no code for anyone');

  // A well-formed hint: prefilled, and the page waits for the password.
  const req = await authorizationRequest(config, cb.redirectUri, { login_hint: user.loginId });
  await page.goto(String(req.url));
  await page.waitForSelector('#login-form');
  await snap(page, 'prefilled');
  assert.equal(await page.inputValue('#login_id'), user.loginId);
  assert.equal(await page.inputValue('#password'), '');
  await page.waitForTimeout(500);
  assert.ok(await page.isVisible('#login-form'), 'not submitted for the user');
  assert.equal(cb.hits.length, 0);

  // The login completes as usual.
  const arrived = cb.next();
  await submitPassword(page, user.loginId, user.password);
  const hit = await arrived;
  const tokens = await client.authorizationCodeGrant(config, new URL(hit.url), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
  assert.equal(info.preferred_username, user.loginId);
});
