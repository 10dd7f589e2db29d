// What the browser's session decides at the OP, tried with hostile inputs beside honest
// ones: max_age=0 right after a login (the same second) asks for a new login
// (OpenID Connect Core §3.1.2.1, compared in milliseconds), and an id_token_hint naming
// another user never logs the current user out unasked (RP-Initiated Logout 1.0 §2), nor
// gets a code for the current user at the authorization endpoint (Core §3.1.2.1), nor does
// a `sub` value asked for in the claims parameter (§5.5.1).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  downloadCertificate, enrolledUser, loginTo, openBrowser, screenshots, setPolicy, startServer, submit, submitPassword, tempDir, text,
} from '../browser/harness.mjs';
import { authorizationRequest, callbackServer, client, discover, issuerUrl, registerClient } from './rp.mjs';

test('the session answers only for its own user and its own age', async (t) => {
  const server = await startServer(t);
  const snap = screenshots('oidc-session-hints');
  const alice = await enrolledUser(t, server, 'oidc-hint-alice');
  const bob = await enrolledUser(t, server, 'oidc-hint-bob');
  const cb = await callbackServer(t, server);
  const rp = registerClient(server, { name: 'Hint RP', redirectUris: [cb.redirectUri], postLogout: [cb.logoutUri], idTokenAlg: 'ES256' });
  const config = await discover(server, rp.client_id, { id_token_signed_response_alg: 'ES256' }, client.ClientSecretBasic(rp.client_secret));
  const browserOf = async (user) => (await openBrowser(t, server, { certificate: { pfxPath: user.pfxPath, passphrase: user.passphrase }, locale: 'en-US' })).page;
  const alicePage = await browserOf(alice);
  const bobPage = await browserOf(bob);

  const login = async (page, user, params = {}) => {
    const req = await authorizationRequest(config, cb.redirectUri, params);
    const arrived = cb.next();
    await page.goto(String(req.url));
    const askedToLogIn = await page.isVisible('#login-form').catch(() => false);
    if (askedToLogIn) await submitPassword(page, user.loginId, user.password);
    const hit = await arrived;
    const tokens = await client.authorizationCodeGrant(config, new URL(hit.url), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce, maxAge: params.max_age ? Number(params.max_age) : undefined });
    return { tokens, askedToLogIn };
  };
  const loggedIn = async (page) => {
    await page.goto(`${server.mtls}/account`);
    return page.isVisible('#account-menu');
  };

  await t.test('max_age=0 at once after a login asks for a new login', async () => {
    await login(alicePage, alice);
    // No pause: the request may well fall in the same second as the login.
    const again = await login(alicePage, alice, { max_age: '0' });
    assert.ok(again.askedToLogIn, 'max_age=0 returned a code without a new login');
    // Honest: without max_age the session answers at once.
    const quiet = await login(alicePage, alice);
    assert.equal(quiet.askedToLogIn, false, 'a plain request needs no new login');
  });

  await t.test("an id_token_hint for another user is never answered with this user's session", async () => {
    const bobs = await login(bobPage, bob);
    const alices = await login(alicePage, alice);
    const outcome = async (params) => {
      const req = await authorizationRequest(config, cb.redirectUri, params);
      const arrived = cb.next();
      await alicePage.goto(String(req.url));
      if (await alicePage.isVisible('#login-form').catch(() => false)) return { loginForm: true, req, arrived };
      return { hit: await arrived, req };
    };
    // Hostile, silently: Bob's hint on Alice's browser is login_required, no code.
    const silent = await outcome({ prompt: 'none', id_token_hint: bobs.tokens.id_token });
    assert.equal(silent.hit.query.get('error'), 'login_required');
    assert.equal(silent.hit.query.get('code'), null);
    // RFC 9207 §2: iss in error responses too.
    assert.equal(silent.hit.query.get('iss'), issuerUrl(server));
    // Hostile, interactively: asked to log in; logging in as Alice again is still not Bob.
    const asked = await outcome({ id_token_hint: bobs.tokens.id_token });
    assert.ok(asked.loginForm, 'a login is asked for');
    await snap(alicePage, 'foreign-hint-login');
    await submitPassword(alicePage, alice.loginId, alice.password);
    const hit = await asked.arrived;
    assert.equal(hit.query.get('error'), 'login_required', 'a code for the wrong user');
    // Honest: Alice's own hint with prompt=none gets a code for Alice.
    const own = await outcome({ prompt: 'none', id_token_hint: alices.tokens.id_token });
    assert.ok(own.hit.query.get('code'), `no code: ${own.hit.url}`);
    const tokens = await client.authorizationCodeGrant(config, new URL(own.hit.url), { pkceCodeVerifier: own.req.verifier, expectedState: own.req.state, expectedNonce: own.req.nonce });
    assert.equal(tokens.claims().sub, alices.tokens.claims().sub);
  });

  await t.test('a sub asked for in the claims parameter binds the request like a hint', async () => {
    const bobSub = (await login(bobPage, bob)).tokens.claims().sub;
    const alices = await login(alicePage, alice);
    const aliceSub = alices.tokens.claims().sub;
    const silently = async (params) => {
      const req = await authorizationRequest(config, cb.redirectUri, { prompt: 'none', ...params });
      const arrived = cb.next();
      await alicePage.goto(String(req.url));
      return { hit: await arrived, req };
    };
    const subClaim = (sub) => JSON.stringify({ id_token: { sub: { value: sub } } });
    // Hostile (Core §5.5.1): Bob's sub asked for on Alice's browser gets no code.
    const bobs = await silently({ claims: subClaim(bobSub) });
    assert.equal(bobs.hit.query.get('error'), 'login_required');
    assert.equal(bobs.hit.query.get('code'), null);
    // A hint and a sub value that disagree are a malformed request.
    const torn = await silently({ claims: subClaim(bobSub), id_token_hint: alices.tokens.id_token });
    assert.equal(torn.hit.query.get('error'), 'invalid_request');
    // Honest: Alice's own sub gets a code for Alice.
    const own = await silently({ claims: subClaim(aliceSub) });
    assert.ok(own.hit.query.get('code'), `no code: ${own.hit.url}`);
    const tokens = await client.authorizationCodeGrant(config, new URL(own.hit.url), { pkceCodeVerifier: own.req.verifier, expectedState: own.req.state, expectedNonce: own.req.nonce });
    assert.equal(tokens.claims().sub, aliceSub);
  });

  await t.test("a disabled user's tokens are inactive at once", async () => {
    const carol = await enrolledUser(t, server, 'oidc-hint-carol');
    const carolPage = await browserOf(carol);
    const { tokens } = await login(carolPage, carol);
    const sub = tokens.claims().sub;
    // Honest: a live user's token answers.
    assert.equal((await client.fetchUserInfo(config, tokens.access_token, sub)).sub, sub);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
    server.cli('admin', 'user', 'set-status', '--tenant', 'demo', '--login-id', carol.loginId, '--status', 'disabled');
    // Hostile: the same token after the operator disabled the user.
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, sub), 'userinfo answered for a disabled user');
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
  });

  // A lost device never comes back to end its own session: what its certificate opened
  // at relying sites ends when an operator deletes it or replaces its certificate.
  // Each says how many sessions it ended, and the audit trail keeps it.
  const serialOf = (user) => server.cliJson('admin', 'certificate', 'search', '--tenant', 'demo', '--login-id', user.loginId, '--status', 'active').items[0].serial;
  for (const [name, action, change] of [
    ['deleting the device', 'user.delete-device', (user) => server.cliJson('admin', 'user', 'delete-device', '--tenant', 'demo', '--login-id', user.loginId, '--device', '1')],
    ['replacing its certificate', 'user.issue-certificate', (user) => {
      const dir = tempDir(t, 'mamori-reissue-');
      writeFileSync(join(dir, 'pw'), 'Issue-Cert-1\n');
      return server.cliJson('admin', 'user', 'issue-cert', '--tenant', 'demo', '--login-id', user.loginId, '--p12', join(dir, 'new.p12'), '--password-file', join(dir, 'pw'));
    }],
    ['revoking its certificate (ca revoke)', 'certificate.revoke', (user) => server.cliJson('ca', 'revoke', '--serial', serialOf(user), '--reason', 'key-compromise')],
  ]) {
    await t.test(`${name} ends the tokens its sessions gave relying sites`, async () => {
      const user = await enrolledUser(t, server, `oidc-lost-${name.split(' ')[0]}`);
      const { tokens } = await login(await browserOf(user), user);
      const sub = tokens.claims().sub;
      // Honest: before the change the tokens work.
      assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
      assert.ok(tokens.refresh_token, 'the client may refresh');
      const out = change(user);
      assert.ok(out.sessions_ended >= 1, JSON.stringify(out));
      const trail = server.cliJson('admin', 'events', 'audit', '--tenant', 'demo', '--action', action).items;
      assert.ok(trail.some((e) => e.actor === 'cli' && e.details.sessions_ended === out.sessions_ended), JSON.stringify(trail));
      // Hostile: the same tokens after it, the refresh token included.
      assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
      await assert.rejects(client.fetchUserInfo(config, tokens.access_token, sub), 'userinfo answered');
      await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), 'the refresh token still works');
    });
  }

  await t.test('deleting the device you are using ends its tokens at once, not at its next request', async () => {
    setPolicy(server, { max_devices: 2 });
    const user = await enrolledUser(t, server, 'oidc-lost-self');
    const first = await browserOf(user);
    await loginTo(first, server, user.loginId, user.password);
    // Device 2, added in the portal; its certificate is downloaded and logs in.
    await first.goto(`${server.mtls}/account/devices/new`);
    await first.fill('#device_email', 'oidc-lost-self.phone@example.test');
    await first.fill('#device_email_confirmation', 'oidc-lost-self.phone@example.test');
    await first.selectOption('#device_type', 'smartphone');
    await submit(first, '#device-add-submit');
    await submit(first, '#device-register-submit');
    const phone = await downloadCertificate(t, first, server, await text(first, '#acquisition-id'), await text(first, '#download-password'));
    const second = await browserOf({ ...user, ...phone });
    const kept = await login(first, user);
    const { tokens } = await login(second, user);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
    // Device 2 deletes itself, and its browser makes no further request (the redirect
    // not followed): its session would end at the next one anyway.
    await second.goto(`${server.mtls}/account/devices/2/delete`);
    const csrf = await second.inputValue('#device-delete-form input[name="csrf_token"]');
    const deleted = await second.request.post(`${server.mtls}/account/devices/2/delete`, {
      form: { csrf_token: csrf }, headers: { origin: server.mtls }, maxRedirects: 0,
    });
    assert.equal(deleted.status(), 303, await deleted.text());
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false, 'the deleted device kept its tokens');
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), 'its refresh token still works');
    // Every session ends with it, as when an operator deletes a device.
    assert.equal((await client.tokenIntrospection(config, kept.tokens.access_token)).active, false);
  });

  await t.test("another user's ID token does not log this user out unasked", async () => {
    const bobs = await login(bobPage, bob);
    await alicePage.goto(String(client.buildEndSessionUrl(config, { id_token_hint: bobs.tokens.id_token, post_logout_redirect_uri: cb.logoutUri, state: 'x' })));
    assert.ok(await alicePage.isVisible('#logout-confirm-form'), 'asked to confirm');
    await snap(alicePage, 'foreign-hint-confirm');
    assert.ok(await loggedIn(alicePage), 'Alice is still logged in');
    // The confirmation carries what the GET checked: edited to name another client (with
    // that client's registered URI), it is refused, and nothing ends.
    const other = registerClient(server, { name: 'Other RP', redirectUris: [cb.redirectUri], postLogout: [cb.logoutUri] });
    const confirmFor = async () => {
      await alicePage.goto(String(client.buildEndSessionUrl(config, { id_token_hint: bobs.tokens.id_token, post_logout_redirect_uri: cb.logoutUri, state: 'x' })));
      assert.ok(await alicePage.isVisible('#logout-confirm-form'), 'asked to confirm');
    };
    await confirmFor();
    const hitsBefore = cb.hits.length;
    await alicePage.evaluate((clientId) => {
      const form = document.querySelector('#logout-confirm-form');
      let input = form.querySelector('input[name="client_id"]');
      if (!input) form.append((input = Object.assign(document.createElement('input'), { type: 'hidden', name: 'client_id' })));
      input.value = clientId;
    }, other.client_id);
    const [tampered] = await Promise.all([alicePage.waitForNavigation(), alicePage.click('#logout-confirm-submit')]);
    assert.equal(tampered.status(), 400);
    assert.match(await alicePage.textContent('#oauth-error'), /invalid_request/);
    assert.equal(cb.hits.length, hitsBefore, 'no redirect to the other client');
    assert.ok(await loggedIn(alicePage), 'Alice is still logged in');
    // Honest: the same page, unchanged, logs Alice out and returns to the site.
    await confirmFor();
    const confirmed = cb.next();
    await alicePage.click('#logout-confirm-submit');
    assert.equal((await confirmed).query.get('state'), 'x');
    assert.equal(await loggedIn(alicePage), false);
    // Honest: Alice's own hint logs her out at once.
    const alices = await login(alicePage, alice);
    const arrived = cb.next();
    await alicePage.goto(String(client.buildEndSessionUrl(config, { id_token_hint: alices.tokens.id_token, post_logout_redirect_uri: cb.logoutUri, state: 'now' })));
    const hit = await arrived;
    assert.equal(hit.query.get('state'), 'now');
    assert.equal(await loggedIn(alicePage), false);
    assert.ok(await loggedIn(bobPage), "Bob's session is untouched");
  });
});
