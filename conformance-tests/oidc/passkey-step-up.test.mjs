// Step-up to a passkey (issue 18): a relying site (openid-client) asks for
// acr_values=urn:mamori:acr:passkey for a certificate + password user. Without a passkey
// the site gets unmet_authentication_requirements, never a lower level; with one, the
// login asks for it after the password (Chromium, virtual authenticator) and the ID token
// says what was proven. A declined or forged assertion at that step yields no code; an
// existing session that misses the class is not reused, and prompt=none says so.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, openBrowser, screenshots, setPolicy, startServer, submit, submitPassword, text } from '../browser/harness.mjs';
import { craftAssertion, pageOptions, postAnswer, virtualAuthenticator } from '../browser/passkey-helpers.mjs';
import { authorizationRequest, callbackServer, client, discover, registerClient } from './rp.mjs';

const PASSKEY = 'urn:mamori:acr:passkey';

test('OIDC step-up to a passkey for a certificate + password user', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('oidc-passkey-step-up');
  // Passkeys are offered where the tenant allows a method with one; this user's is without.
  setPolicy(server, { allowed_login_methods: ['cert+password', 'cert+password+passkey'] });
  const user = await enrolledUser(t, server, 'oidc-stepup-1', { method: 'cert+password' });
  const cb = await callbackServer(t, server);
  const { context, page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  const authenticator = await virtualAuthenticator(context, page);
  const rp = registerClient(server, { name: 'Step-up RP', redirectUris: [cb.redirectUri], idTokenAlg: 'ES256' });
  const config = await discover(server, rp.client_id, { id_token_signed_response_alg: 'ES256' }, client.ClientSecretBasic(rp.client_secret));
  const tokensOf = (req, hit) =>
    client.authorizationCodeGrant(config, new URL(hit.url), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });

  // No passkey registered: the login is the method's own, and the site gets the error
  // (no code, and no lower level).
  const without = await authorizationRequest(config, cb.redirectUri, { acr_values: PASSKEY });
  let arrived = cb.next();
  await page.goto(String(without.url));
  await submitPassword(page, user.loginId, user.password);
  let hit = await arrived;
  assert.equal(hit.query.get('error'), 'unmet_authentication_requirements', hit.url);
  assert.equal(hit.query.get('code'), null);

  // A passkey added on the account page (the session above is a full login).
  await page.goto(`${server.mtls}/account/passkeys`);
  await submit(page, '#passkey-submit');
  assert.equal(await page.locator('.passkey-row').count(), 1, `registered: ${await text(page, 'main')}`);

  // prompt=none with the session that misses the class: interaction is needed (OIDC Core
  // §3.1.2.6), not a code and not the lower class.
  const passive = await authorizationRequest(config, cb.redirectUri, { acr_values: PASSKEY, prompt: 'none' });
  arrived = cb.next();
  await page.goto(String(passive.url));
  hit = await arrived;
  assert.equal(hit.query.get('error'), 'interaction_required', hit.url);

  // The same session is not reused: a new login, whose password step is followed by a
  // passkey step that says why it is there.
  const stepUp = await authorizationRequest(config, cb.redirectUri, { acr_values: PASSKEY });
  await page.goto(String(stepUp.url));
  await submitPassword(page, user.loginId, user.password);
  await snap(page, 'passkey-step');
  assert.equal(await page.getAttribute('#passkey-form', 'data-passkey'), 'get', `a passkey step: ${await text(page, 'main')}`);
  assert.ok(await page.isVisible('#passkey-step-up'), 'the page says the site asked for it');

  // Hostile: the user declines (the authenticator cannot verify them): no answer is sent,
  // the page says it failed, and the site gets nothing.
  await authenticator.cdp.send('WebAuthn.setUserVerified', { authenticatorId: authenticator.authenticatorId, isUserVerified: false });
  await page.click('#passkey-submit');
  await page.waitForSelector('[data-passkey-status=failed]:not([hidden])');
  await authenticator.cdp.send('WebAuthn.setUserVerified', { authenticatorId: authenticator.authenticatorId, isUserVerified: true });
  // Hostile: a hand-made assertion without user verification, signed by the right key.
  const [credential] = await authenticator.credentials();
  const options = await pageOptions(page);
  const forged = craftAssertion({ credential, challenge: options.publicKey.challenge, origin: new URL(server.mtls).origin, flags: 0x01 });
  await postAnswer(page, forged);
  await snap(page, 'forged-refused');
  assert.ok((await page.$$('.problems li')).length > 0, `the refusal is shown: ${await text(page, 'main')}`);
  assert.equal(await page.getAttribute('#passkey-form', 'data-passkey'), 'get', 'still at the passkey step');
  assert.equal(cb.hits.length, 2, 'no code for a declined or forged passkey');

  // The honest answer: a code, and an ID token that says a passkey was used.
  arrived = cb.next();
  await page.click('#passkey-submit');
  hit = await arrived;
  assert.equal(hit.query.get('error'), null, hit.url);
  const tokens = await tokensOf(stepUp, hit);
  const claims = tokens.claims();
  assert.equal(claims.acr, PASSKEY);
  assert.deepEqual([...claims.amr].sort(), ['mfa', 'pwd', 'swk', 'user']);
  assert.ok(claims.auth_time * 1000 >= Date.now() - 120_000, 'a new login');

  // Now the session meets it: prompt=none gets a code at once.
  const again = await authorizationRequest(config, cb.redirectUri, { acr_values: PASSKEY, prompt: 'none' });
  arrived = cb.next();
  await page.goto(String(again.url));
  hit = await arrived;
  assert.equal((await tokensOf(again, hit)).claims().acr, PASSKEY);

  // Without the passkey class the same user's login asks for no passkey.
  const plain = await authorizationRequest(config, cb.redirectUri, { acr_values: 'urn:mamori:acr:cert-password', prompt: 'login' });
  arrived = cb.next();
  await page.goto(String(plain.url));
  await submitPassword(page, user.loginId, user.password);
  hit = await arrived;
  const plainClaims = (await tokensOf(plain, hit)).claims();
  assert.equal(plainClaims.acr, 'urn:mamori:acr:cert-password');
  assert.deepEqual([...plainClaims.amr].sort(), ['mfa', 'pwd', 'swk']);
});
