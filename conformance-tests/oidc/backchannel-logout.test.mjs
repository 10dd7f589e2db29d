// OpenID Connect Back-Channel Logout 1.0, and tokens that end with their session: a
// relying site that registered a backchannel_logout_uri gets a signed logout token when
// the user's session ends (RP-initiated logout, an operator disabling the user), which it
// verifies with jose against Mamori's published keys; the session's refresh tokens stop
// working, while a grant that asked for offline_access keeps its refresh token.

import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import * as jose from 'jose';

import { enrolledUser, openBrowser, startServer, submitPassword } from '../browser/harness.mjs';
import { authorizationRequest, callbackServer, client, discover, issuerUrl, jwtPayload, registerClient, request } from './rp.mjs';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** A relying site's back-channel endpoint on loopback http: records each logout token. */
async function logoutReceiver(t) {
  const received = [];
  const waiters = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const hit = { path: req.url, contentType: req.headers['content-type'], token: new URLSearchParams(body).get('logout_token') };
      received.push(hit);
      // §2.8: 200 on success; Cache-Control: no-store.
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end();
      while (waiters.length) waiters.shift()();
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => srv.close(r)));
  const base = `http://127.0.0.1:${srv.address().port}`;
  const waitFor = async (n, ms = 10_000) => {
    const until = Date.now() + ms;
    while (received.length < n && Date.now() < until) await new Promise((r) => { waiters.push(r); setTimeout(r, 200); });
    return received.slice();
  };
  return { base, received, waitFor };
}

test('back-channel logout: signed logout tokens, session grants end, offline grants stay', async (t) => {
  // Delivery to a loopback http endpoint is an operator's opt-in, as for jwks_uri.
  const server = await startServer(t, { env: { MAMORI_OIDC__JWKS_FETCH_ALLOW_LOOPBACK_HTTP: 'true' } });
  const user = await enrolledUser(t, server, 'bcl-user');
  const cb = await callbackServer(t, server);
  const bcl = await logoutReceiver(t);
  const { page } = await openBrowser(t, server, { certificate: { pfxPath: user.pfxPath, passphrase: user.passphrase }, locale: 'en-US' });

  const site = registerClient(server, {
    name: 'Shop', redirectUris: [cb.redirectUri], postLogout: [cb.logoutUri], grants: ['authorization_code', 'refresh_token'],
    idTokenAlg: 'ES256', extra: ['--backchannel-logout-uri', `${bcl.base}/shop`],
  });
  const mail = registerClient(server, {
    name: 'Mail', redirectUris: [cb.redirectUri], grants: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'profile', 'email', 'offline_access'], idTokenAlg: 'RS256', extra: ['--backchannel-logout-uri', `${bcl.base}/mail`],
  });
  const quiet = registerClient(server, { name: 'Quiet', redirectUris: [cb.redirectUri], grants: ['authorization_code', 'refresh_token'], idTokenAlg: 'ES256' });
  const configs = {
    site: await discover(server, site.client_id, { id_token_signed_response_alg: 'ES256' }, client.ClientSecretBasic(site.client_secret)),
    mail: await discover(server, mail.client_id, { id_token_signed_response_alg: 'RS256' }, client.ClientSecretBasic(mail.client_secret)),
    quiet: await discover(server, quiet.client_id, { id_token_signed_response_alg: 'ES256' }, client.ClientSecretBasic(quiet.client_secret)),
  };
  const login = async (config, scope = 'openid profile email') => {
    const req = await authorizationRequest(config, cb.redirectUri, { scope });
    const arrived = cb.next();
    await page.goto(String(req.url));
    if (await page.isVisible('#login-form').catch(() => false)) await submitPassword(page, user.loginId, user.password);
    const hit = await arrived;
    return client.authorizationCodeGrant(config, new URL(hit.url), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });
  };
  const jwks = jose.createLocalJWKSet(JSON.parse((await request(server, `${issuerUrl(server)}/jwks`)).body));
  const verify = (token, audience) =>
    jose.jwtVerify(token, jwks, { issuer: issuerUrl(server), audience, typ: 'logout+jwt', algorithms: ['ES256', 'RS256'], maxTokenAge: '2m' });

  const metadata = configs.site.serverMetadata();
  assert.equal(metadata.backchannel_logout_supported, true);
  assert.equal(metadata.backchannel_logout_session_supported, true);

  const siteTokens = await login(configs.site);
  const mailTokens = await login(configs.mail, 'openid offline_access');
  const quietTokens = await login(configs.quiet);
  const sid = jwtPayload(siteTokens.id_token).sid;
  assert.ok(sid && sid.length >= 16, 'ID tokens from a session carry its sid');
  assert.equal(jwtPayload(mailTokens.id_token).sid, sid, 'one session, one sid for every site');
  assert.ok(siteTokens.refresh_token && mailTokens.refresh_token && quietTokens.refresh_token);

  await t.test('RP-initiated logout: each registered site gets a verifiable logout token', async () => {
    const arrived = cb.next();
    await page.goto(String(client.buildEndSessionUrl(configs.site, { id_token_hint: siteTokens.id_token, post_logout_redirect_uri: cb.logoutUri })));
    await arrived;
    const got = await bcl.waitFor(2);
    assert.equal(got.length, 2, JSON.stringify(got));
    assert.deepEqual(got.map((h) => h.path).sort(), ['/mail', '/shop']);
    for (const hit of got) {
      assert.equal(hit.contentType, 'application/x-www-form-urlencoded');
      const audience = hit.path === '/shop' ? site.client_id : mail.client_id;
      const { payload, protectedHeader } = await verify(hit.token, audience);
      assert.equal(protectedHeader.alg, hit.path === '/shop' ? 'ES256' : 'RS256', 'signed as the site asked for its ID tokens');
      assert.deepEqual(payload.events, { [EVENT]: {} });
      assert.equal(payload.sid, sid);
      assert.equal(payload.sub, jwtPayload(siteTokens.id_token).sub);
      assert.equal(payload.nonce, undefined, '§2.4: a logout token has no nonce');
      assert.ok(payload.jti && payload.iat && payload.exp > payload.iat);
      // The other site's token is not one for this one.
      await assert.rejects(verify(hit.token, hit.path === '/shop' ? mail.client_id : site.client_id));
    }
  });

  await t.test("the session's refresh tokens ended with it; offline access kept its own", async () => {
    await assert.rejects(client.refreshTokenGrant(configs.site, siteTokens.refresh_token), { error: 'invalid_grant' });
    await assert.rejects(client.refreshTokenGrant(configs.quiet, quietTokens.refresh_token), { error: 'invalid_grant' });
    await assert.rejects(client.fetchUserInfo(configs.site, siteTokens.access_token, jwtPayload(siteTokens.id_token).sub));
    const refreshed = await client.refreshTokenGrant(configs.mail, mailTokens.refresh_token);
    assert.ok(refreshed.access_token, 'offline_access outlives the logout');
  });

  await t.test('an operator disabling the user ends the next session and tells the sites, from the CLI', async () => {
    const again = await login(configs.site);
    const before = bcl.received.length;
    // The CLI signs as the issuer its config names; this server's port was chosen at start.
    server.env = { ...server.env, MAMORI_SERVER__PUBLIC_URL: server.main };
    await server.cliAsync('admin', 'user', 'set-status', '--tenant', 'demo', '--login-id', user.loginId, '--status', 'disabled');
    // The command waited for its deliveries: they are here when it returns.
    const got = bcl.received.slice(before);
    const shop = got.find((h) => h.path === '/shop');
    assert.ok(shop, JSON.stringify(got));
    const { payload } = await verify(shop.token, site.client_id);
    assert.equal(payload.sid, jwtPayload(again.id_token).sid);
    assert.notEqual(payload.sid, sid, 'a new login is a new session');
    await assert.rejects(client.refreshTokenGrant(configs.site, again.refresh_token), { error: 'invalid_grant' });
  });

  await t.test('a back-channel logout URI is checked like a redirect URI', () => {
    for (const bad of ['http://bcl.example/logout', 'https://rp.example/logout#frag', 'https://user@rp.example/logout', 'javascript:alert(1)']) {
      assert.throws(() => registerClient(server, { name: 'Bad', redirectUris: [cb.redirectUri], extra: ['--backchannel-logout-uri', bad] }), /backchannel_logout_uri|refused|not/i, bad);
    }
  });
});
