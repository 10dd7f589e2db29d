// email_verified in userinfo: false for an address nobody has proven (the operator typed
// it), true once a link mailed to it was completed (here a certificate reissue).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, mailLinkPath, openBrowser, startServer, submit, submitPassword, text, waitForMail } from '../browser/harness.mjs';
import { authorizationRequest, callbackServer, client, discover, registerClient } from './rp.mjs';

test('email_verified turns true when a mailed link to the address is completed', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const user = await enrolledUser(t, server, 'oidc-mail-1');
  const address = `${user.loginId}@example.test`;
  const cb = await callbackServer(t, server);
  const { page } = await openBrowser(t, server, { certificate: { pfxPath: user.pfxPath, passphrase: user.passphrase }, locale: 'en-US' });
  const rp = registerClient(server, { name: 'Mail RP', redirectUris: [cb.redirectUri], scopes: ['openid', 'email'], idTokenAlg: 'ES256' });
  const config = await discover(server, rp.client_id, { id_token_signed_response_alg: 'ES256' }, client.ClientSecretBasic(rp.client_secret));
  const req = await authorizationRequest(config, cb.redirectUri, { scope: 'openid email' });
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
