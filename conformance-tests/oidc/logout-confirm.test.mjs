// RP-initiated logout without an id_token_hint (RP-Initiated Logout 1.0 §2/§3): Mamori asks
// the user to confirm on its own page, and the session ends only after "log out"; with a
// hint the logout happens at once. post_logout_redirect_uri only when registered.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, openBrowser, screenshots, startServer, submit, submitPassword } from '../browser/harness.mjs';
import { authorizationRequest, callbackServer, client, discover, issuerUrl, jwtPayload, registerClient } from './rp.mjs';

test('logout without id_token_hint asks the user first', async (t) => {
  const server = await startServer(t);
  const snap = screenshots('oidc-logout-confirm');
  const user = await enrolledUser(t, server, 'oidc-logout-1');
  const cb = await callbackServer(t, server);
  const { page } = await openBrowser(t, server, { certificate: { pfxPath: user.pfxPath, passphrase: user.passphrase }, locale: 'en-US' });
  const rp = registerClient(server, { name: 'Logout RP', redirectUris: [cb.redirectUri], postLogout: [cb.logoutUri], idTokenAlg: 'ES256' });
  const config = await discover(server, rp.client_id, { id_token_signed_response_alg: 'ES256' }, client.ClientSecretBasic(rp.client_secret));

  const login = async () => {
    const req = await authorizationRequest(config, cb.redirectUri);
    const arrived = cb.next();
    await page.goto(String(req.url));
    if (await page.isVisible('#login-form').catch(() => false)) await submitPassword(page, user.loginId, user.password);
    const hit = await arrived;
    return client.authorizationCodeGrant(config, new URL(hit.url), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });
  };
  // The callback server sees the redirect before the browser has finished arriving there:
  // wait for the page too, or the next navigation interrupts that one.
  const backAtSite = () => page.waitForURL((url) => url.pathname === '/logged-out');
  const loggedIn = async () => {
    await page.goto(`${server.mtls}/account`);
    return page.isVisible('#account-menu');
  };
  await login();
  assert.ok(await loggedIn());

  const endSession = `${issuerUrl(server)}/end_session?client_id=${encodeURIComponent(rp.client_id)}&post_logout_redirect_uri=${encodeURIComponent(cb.logoutUri)}&state=bye`;

  await t.test('the confirmation page, in Japanese too; nothing ends by just visiting it', async () => {
    await page.goto(`${endSession}&ui_locales=ja`);
    assert.ok(await page.isVisible('#logout-confirm-form'));
    assert.equal((await page.textContent('#logout-confirm-site')).trim(), 'Logout RP');
    assert.equal(await page.getAttribute('html', 'lang'), 'ja');
    // (ui_locales is remembered like the login page's language switch, so ask for English back.)
    await page.goto(`${endSession}&ui_locales=en`);
    await snap(page, 'confirm');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.ok(await loggedIn(), 'still logged in');
  });

  await t.test('a forged confirmation without the CSRF token is refused', async () => {
    await page.goto(endSession);
    const status = await page.evaluate(async ({ clientId, uri }) => {
      const body = new URLSearchParams({ client_id: clientId, post_logout_redirect_uri: uri, state: 'x' });
      const r = await fetch(document.querySelector('#logout-confirm-form').action, { method: 'POST', body, redirect: 'manual' });
      return r.status;
    }, { clientId: rp.client_id, uri: cb.logoutUri });
    assert.equal(status, 403);
    assert.ok(await loggedIn(), 'still logged in');
  });

  await t.test('confirming ends the session and returns to the registered URI with state', async () => {
    await page.goto(endSession);
    const arrived = cb.next();
    await page.click('#logout-confirm-submit');
    const hit = await arrived;
    await backAtSite();
    assert.equal(hit.path, '/logged-out');
    assert.equal(hit.query.get('state'), 'bye');
    assert.equal(await loggedIn(), false, 'the session is gone');
  });

  await t.test('an unregistered post_logout_redirect_uri is refused', async () => {
    await login();
    await page.goto(`${issuerUrl(server)}/end_session?client_id=${encodeURIComponent(rp.client_id)}&post_logout_redirect_uri=${encodeURIComponent(`${cb.base}/elsewhere`)}`);
    assert.equal(await page.isVisible('#logout-confirm-form'), false);
    assert.ok(await loggedIn(), 'still logged in');
    // A registered URI, but no hint or client_id to say whose: it names no client.
    const res = await page.goto(`${issuerUrl(server)}/end_session?post_logout_redirect_uri=${encodeURIComponent(cb.logoutUri)}`);
    assert.equal(res.status(), 400);
    assert.ok(await loggedIn(), 'still logged in');
  });

  await t.test('a hint Mamori did not sign, or one for another client_id, ends nothing (§2, §4)', async () => {
    const tokens = await login();
    const [h, p, sig] = tokens.id_token.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ ...jwtPayload(tokens.id_token), sub: 'someone-else' })).toString('base64url');
    const other = registerClient(server, { name: 'Other RP', redirectUris: [cb.redirectUri], postLogout: [cb.logoutUri] });
    for (const [what, params] of [
      ['a forged signature', { id_token_hint: `${h}.${forgedPayload}.${sig}` }],
      ['client_id of another client', { id_token_hint: tokens.id_token, client_id: other.client_id }],
    ]) {
      const url = new URL(`${issuerUrl(server)}/end_session`);
      for (const [k, v] of Object.entries({ ...params, post_logout_redirect_uri: cb.logoutUri, state: 'x' })) url.searchParams.set(k, v);
      const res = await page.goto(String(url));
      assert.equal(res.status(), 400, what);
      assert.match(await page.textContent('#oauth-error'), /invalid_request/, what);
      assert.ok(await loggedIn(), `${what}: still logged in`);
    }
    // Honest, by POST (§2: GET and POST): the logout happens and returns with state.
    const arrived = cb.next();
    await page.evaluate(({ action, fields }) => {
      const form = Object.assign(document.createElement('form'), { method: 'POST', action });
      for (const [name, value] of Object.entries(fields)) form.append(Object.assign(document.createElement('input'), { type: 'hidden', name, value }));
      document.body.append(form);
      form.submit();
    }, { action: `${issuerUrl(server)}/end_session`, fields: { id_token_hint: tokens.id_token, post_logout_redirect_uri: cb.logoutUri, state: 'posted' } });
    assert.equal((await arrived).query.get('state'), 'posted');
    await backAtSite();
    assert.equal(await loggedIn(), false);
  });

  await t.test('with a valid id_token_hint the logout happens at once', async () => {
    const tokens = await login();
    const arrived = cb.next();
    await page.goto(String(client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: cb.logoutUri, state: 'now' })));
    const hit = await arrived;
    await backAtSite();
    assert.equal(hit.query.get('state'), 'now');
    assert.equal(await loggedIn(), false);
  });
});
