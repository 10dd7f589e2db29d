// Withdrawing a consent from the account portal ("Connected sites"): the site is listed
// with its name, scopes and date; after "withdraw" it is gone from the list, its refresh
// token no longer works and its next authorization asks for consent again.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, openBrowser, screenshots, startServer, submit, submitPassword } from '../browser/harness.mjs';
import { authorizationRequest, callbackServer, client, discover, registerClient } from './rp.mjs';

test('a user withdraws a consent on the account page and is asked again next time', async (t) => {
  const server = await startServer(t);
  const snap = screenshots('oidc-consent-withdrawal');
  const user = await enrolledUser(t, server, 'oidc-consent-1');
  const cb = await callbackServer(t, server);
  const { page } = await openBrowser(t, server, { certificate: { pfxPath: user.pfxPath, passphrase: user.passphrase }, locale: 'en-US' });

  const rp = registerClient(server, { name: 'Partner Shop', redirectUris: [cb.redirectUri], firstParty: false, scopes: ['openid', 'profile', 'email'], idTokenAlg: 'ES256' });
  const config = await discover(server, rp.client_id, { id_token_signed_response_alg: 'ES256' }, client.ClientSecretBasic(rp.client_secret));

  // First authorization: log in, the consent page, allow.
  const req = await authorizationRequest(config, cb.redirectUri);
  let arrived = cb.next();
  await page.goto(String(req.url));
  if (await page.isVisible('#login-form').catch(() => false)) await submitPassword(page, user.loginId, user.password);
  await page.waitForSelector('#consent-form');
  await page.click('#consent-allow');
  const hit = await arrived;
  const tokens = await client.authorizationCodeGrant(config, new URL(hit.url), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });
  assert.ok(tokens.refresh_token, 'a refresh token to be revoked');

  // The account portal lists the site.
  await page.goto(`${server.mtls}/account`);
  await page.click('#menu-sites');
  await page.waitForSelector('#sites');
  await snap(page, 'sites');
  const row = `#site-${rp.client_id}`;
  assert.equal((await page.textContent(`${row} .site-name`)).trim(), 'Partner Shop');
  assert.match(await page.textContent(`${row} .site-scopes`), /e-mail address/);
  assert.match(await page.textContent(`${row} .site-granted-at`), /^\s*\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);

  // Japanese too.
  await page.goto(`${server.mtls}/account/sites?lang=ja`);
  assert.equal((await page.textContent('h1')).trim(), '連携サイト');
  await page.goto(`${server.mtls}/account/sites?lang=en`);

  // A forged POST without the CSRF token is refused and changes nothing.
  const forged = await page.evaluate(async (clientId) => {
    const r = await fetch('/account/sites/withdraw', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `client_id=${encodeURIComponent(clientId)}` });
    return r.status;
  }, rp.client_id);
  assert.equal(forged, 403);
  await page.reload();
  assert.ok(await page.isVisible(row), 'still consented after the forged request');

  // Withdraw.
  await submit(page, `${row} .site-withdraw`);
  await snap(page, 'withdrawn');
  assert.ok(await page.isVisible('#sites-notice'));
  assert.equal(await page.isVisible(row), false, 'the site is gone from the list');
  assert.ok(await page.isVisible('#sites-empty'));

  // The login history says so.
  await page.goto(`${server.mtls}/account/history`);
  assert.ok(await page.isVisible('.history-row[data-result="consent-withdrawn"]'), 'in the login history');
  assert.match(await page.textContent('.history-row[data-result="consent-withdrawn"] .history-result'), /Consent to a site withdrawn/);

  // The site's refresh token is dead.
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');

  // The next authorization asks for consent again (the login session is still there).
  const again = await authorizationRequest(config, cb.redirectUri);
  arrived = cb.next();
  await page.goto(String(again.url));
  assert.ok(await page.isVisible('#consent-form'), 'the consent page again');
  assert.equal((await page.textContent('#consent-client')).trim(), 'Partner Shop');
  await snap(page, 'consent-again');
  await page.click('#consent-allow');
  const hit2 = await arrived;
  assert.ok(hit2.query.get('code'));
});
