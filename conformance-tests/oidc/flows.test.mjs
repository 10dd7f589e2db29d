// openid-client 6 as the relying site, through the REAL certificate login in Chromium:
// discovery, code + PKCE, ID token validation (and an independent signature check with
// jose), userinfo, refresh rotation with reuse detection, introspection and revocation,
// private_key_jwt, consent, tls_client_auth with a certificate-bound token, logout.

import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import * as jose from 'jose';

import { enrolledUser, openBrowser, screenshots, startServer, submitPassword } from '../browser/harness.mjs';
import { authorizationRequest, callbackServer, client, discover, issuerUrl, jwtHeader, jwtPayload, registerClient, request } from './rp.mjs';

/** Sends the browser to `url` and returns the callback it ends at (logging in when asked). */
async function browse(page, cb, url, user, snap, name) {
  const arrived = cb.next();
  await page.goto(String(url));
  if (user && (await page.isVisible('#login-form').catch(() => false))) {
    await snap?.(page, `${name}-login`);
    await submitPassword(page, user.loginId, user.password);
  }
  if (await page.isVisible('#consent-form').catch(() => false)) {
    await snap?.(page, `${name}-consent`);
    await page.click('#consent-allow');
  }
  const hit = await arrived;
  await snap?.(page, `${name}-callback`);
  return hit;
}

async function verifyIdToken(server, idToken, audience) {
  const res = await request(server, `${issuerUrl(server)}/jwks`);
  assert.equal(res.status, 200);
  const jwks = jose.createLocalJWKSet(JSON.parse(res.body));
  const { payload, protectedHeader } = await jose.jwtVerify(idToken, jwks, { issuer: issuerUrl(server), audience });
  // Core §2: no x5u, x5c, jku or jwk: the key is found by kid in the published set only.
  assert.deepEqual(Object.keys(protectedHeader).filter((k) => !['alg', 'kid', 'typ'].includes(k)), []);
  return { payload, protectedHeader };
}

test('openid-client logs a user in through the certificate login and uses every endpoint', async (t) => {
  const server = await startServer(t);
  const snap = screenshots('oidc-flows');
  const user = await enrolledUser(t, server, 'oidc-user-1');
  const cb = await callbackServer(t, server);
  const { page } = await openBrowser(t, server, { certificate: { pfxPath: user.pfxPath, passphrase: user.passphrase }, locale: 'en-US' });

  const rp = registerClient(server, {
    name: 'Shop',
    redirectUris: [cb.redirectUri],
    postLogout: [cb.logoutUri],
    scopes: ['openid', 'profile', 'email'],
    idTokenAlg: 'ES256',
  });
  const rpAuth = client.ClientSecretBasic(rp.client_secret);
  const config = await discover(server, rp.client_id, { id_token_signed_response_alg: 'ES256' }, rpAuth);
  let first;

  await t.test('discovery', () => {
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, issuerUrl(server));
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.ok(meta.id_token_signing_alg_values_supported.includes('ES256') && meta.id_token_signing_alg_values_supported.includes('RS256'));
    assert.ok(meta.mtls_endpoint_aliases.token_endpoint.startsWith(server.mtls));
    assert.ok(meta.acr_values_supported.includes('urn:mamori:acr:cert-password'));
  });

  await t.test('code + PKCE through the certificate login; the ID token says which factors', async () => {
    const req = await authorizationRequest(config, cb.redirectUri);
    const hit = await browse(page, cb, req.url, user, snap, 'code');
    assert.equal(hit.query.get('iss'), issuerUrl(server), 'RFC 9207 iss in the response');
    const tokens = await client.authorizationCodeGrant(config, new URL(hit.url), {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
      expectedNonce: req.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    assert.equal(claims.nonce, req.nonce);
    assert.deepEqual([...claims.amr].sort(), ['mfa', 'pwd', 'swk']);
    assert.equal(claims.acr, 'urn:mamori:acr:cert-password');
    assert.ok(claims.auth_time <= Math.floor(Date.now() / 1000));
    const { protectedHeader } = await verifyIdToken(server, tokens.id_token, rp.client_id);
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(jwtHeader(tokens.access_token).typ, 'at+jwt', 'RFC 9068 access token');
    // RFC 9068 §2.2: verified with the published keys, its required claims, and the
    // authentication it came from.
    const jwks = jose.createLocalJWKSet(JSON.parse((await request(server, `${issuerUrl(server)}/jwks`)).body));
    const { payload: at } = await jose.jwtVerify(tokens.access_token, jwks, { issuer: issuerUrl(server), audience: issuerUrl(server), typ: 'at+jwt' });
    assert.equal(at.client_id, rp.client_id);
    assert.equal(at.sub, claims.sub);
    assert.ok(at.jti && at.iat && at.exp > at.iat);
    assert.deepEqual(at.scope.split(' ').sort(), ['email', 'openid', 'profile']);
    assert.deepEqual([at.auth_time, at.acr, [...at.amr].sort()], [claims.auth_time, claims.acr, [...claims.amr].sort()]);
    assert.ok(tokens.refresh_token);
    first = tokens;
  });

  await t.test('userinfo', async () => {
    const info = await client.fetchUserInfo(config, first.access_token, first.claims().sub);
    assert.equal(info.preferred_username, user.loginId);
    assert.equal(info.email, `${user.loginId}@example.test`);
    // Core §5.3.1: POST too, the token in the header or (RFC 6750 §2.2) in the form.
    const url = `${issuerUrl(server)}/userinfo`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const posted = await request(server, url, { method: 'POST', headers: { ...form, authorization: `Bearer ${first.access_token}` } });
    assert.equal(posted.status, 200, posted.body);
    assert.equal(JSON.parse(posted.body).sub, first.claims().sub, 'sub is always returned (Core §5.3.2)');
    assert.match(posted.headers['content-type'], /^application\/json/);
    const inForm = await request(server, url, { method: 'POST', headers: form, body: `access_token=${first.access_token}` });
    assert.equal(JSON.parse(inForm.body).sub, first.claims().sub);
    // Hostile: a forged token is 401 with the RFC 6750 challenge (Core §5.3.3).
    const forged = await request(server, url, { headers: { authorization: `Bearer ${first.access_token}x` } });
    assert.equal(forged.status, 401);
    assert.match(forged.headers['www-authenticate'], /^Bearer .*error="invalid_token"/);
    // RFC 9068 §4: only an at+jwt is an access token; the ID token, signed by the same key, is not.
    const confused = await request(server, url, { headers: { authorization: `Bearer ${first.id_token}` } });
    assert.equal(confused.status, 401);
  });

  await t.test('refresh rotates; reusing a spent refresh token revokes the family', async () => {
    const second = await client.refreshTokenGrant(config, first.refresh_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal(second.claims().sub, first.claims().sub);
    // Core §12.2: the new ID token keeps iss, sub, aud, azp and the original auth_time; no nonce.
    const [a, b] = [first.claims(), second.claims()];
    for (const claim of ['iss', 'aud', 'azp', 'auth_time', 'acr']) assert.deepEqual(b[claim], a[claim], claim);
    assert.equal(b.nonce, undefined, 'a refreshed ID token carries no nonce');
    assert.ok(b.iat >= a.iat, 'iat is the time of the new token');
    await client.fetchUserInfo(config, second.access_token, first.claims().sub);
    await assert.rejects(client.refreshTokenGrant(config, first.refresh_token), (e) => e.error === 'invalid_grant');
    await assert.rejects(client.refreshTokenGrant(config, second.refresh_token), (e) => e.error === 'invalid_grant', 'the successor died with the family');
    await assert.rejects(client.fetchUserInfo(config, second.access_token, first.claims().sub), 'access tokens of the family are revoked too');
  });

  await t.test('introspection and revocation', async () => {
    const req = await authorizationRequest(config, cb.redirectUri);
    const hit = await browse(page, cb, req.url, null, snap, 'sso');
    const tokens = await client.authorizationCodeGrant(config, new URL(hit.url), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });
    const live = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(live.active, true);
    assert.equal(live.client_id, rp.client_id);
    await client.tokenRevocation(config, tokens.refresh_token);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
    assert.equal((await client.tokenIntrospection(config, tokens.refresh_token)).active, false);
  });

  await t.test('private_key_jwt client (RS256 ID tokens, opaque access tokens)', async () => {
    const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'rp-key-1', alg: 'ES256', use: 'sig' };
    const pk = registerClient(server, { name: 'Key RP', redirectUris: [cb.redirectUri], auth: 'private_key_jwt', jwks: { keys: [jwk] }, idTokenAlg: 'RS256', format: 'opaque' });
    const pkConfig = await discover(server, pk.client_id, { token_endpoint_auth_method: 'private_key_jwt' }, client.PrivateKeyJwt({ key: privateKey, kid: 'rp-key-1' }));
    const req = await authorizationRequest(pkConfig, cb.redirectUri);
    const hit = await browse(page, cb, req.url, user, snap, 'pkjwt');
    const tokens = await client.authorizationCodeGrant(pkConfig, new URL(hit.url), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });
    const { protectedHeader } = await verifyIdToken(server, tokens.id_token, pk.client_id);
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(tokens.access_token.split('.').length, 1, 'an opaque access token');
    const info = await client.fetchUserInfo(pkConfig, tokens.access_token, tokens.claims().sub);
    assert.equal(info.sub, tokens.claims().sub);
  });

  await t.test('a third-party client asks for consent once', async () => {
    const tp = registerClient(server, { name: 'Partner', redirectUris: [cb.redirectUri], firstParty: false, idTokenAlg: 'ES256' });
    const tpConfig = await discover(server, tp.client_id, { id_token_signed_response_alg: 'ES256' }, client.ClientSecretBasic(tp.client_secret));
    // Core §3.1.2.6: without consent, prompt=none is consent_required, never a code.
    const silent = await authorizationRequest(tpConfig, cb.redirectUri, { prompt: 'none' });
    const refused = await browse(page, cb, silent.url, null, null, 'consent-none');
    assert.equal(refused.query.get('error'), 'consent_required');
    assert.equal(refused.query.get('code'), null);
    const req = await authorizationRequest(tpConfig, cb.redirectUri);
    const arrived = cb.next();
    const shown = await page.goto(String(req.url));
    assert.ok(await page.isVisible('#consent-form'), 'the consent page');
    // RFC 6749 §10.13, RFC 9700 §4.2.4: never framed, no Referer beyond the site.
    const headers = await shown.allHeaders();
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
    assert.equal(headers['referrer-policy'], 'same-origin');
    await snap(page, 'consent');
    assert.equal((await page.textContent('#consent-client')).trim(), 'Partner');
    // RFC 6749 §10.12: a forged "allow" without the page's CSRF token is refused.
    const forged = await page.evaluate(async () => {
      const body = new URLSearchParams({ decision: 'allow' });
      return (await fetch(document.querySelector('#consent-form').action, { method: 'POST', body, redirect: 'manual' })).status;
    });
    assert.equal(forged, 403);
    await page.click('#consent-allow');
    const hit = await arrived;
    await client.authorizationCodeGrant(tpConfig, new URL(hit.url), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });
    // Remembered: the next request goes straight back.
    const again = await authorizationRequest(tpConfig, cb.redirectUri);
    const hit2 = await browse(page, cb, again.url, null, null, 'consented');
    assert.ok(hit2.query.get('code'), 'no consent page the second time');
    // Core §3.1.2.1: prompt=consent asks again even so.
    const asked = await authorizationRequest(tpConfig, cb.redirectUri, { prompt: 'consent' });
    const arrived3 = cb.next();
    await page.goto(String(asked.url));
    assert.ok(await page.isVisible('#consent-form'), 'prompt=consent shows the consent page');
    await page.click('#consent-allow');
    assert.ok((await arrived3).query.get('code'));
  });

  await t.test('tls_client_auth with a certificate-bound access token (RFC 8705)', async () => {
    const dir = server.dataDir;
    const pw = join(dir, 'rp-mtls.pw');
    writeFileSync(pw, 'Rp-mtls-1\n');
    const p12 = join(dir, 'rp-mtls.p12');
    const certPem = join(dir, 'rp-mtls.pem');
    server.cli('ca', 'issue', '--common-name', 'rp-mtls', '--p12', p12, '--password-file', pw, '--out', certPem);
    const der = new X509Certificate(readFileSync(certPem)).raw;
    const thumbprint = createHash('sha256').update(der).digest('base64url');
    const mt = registerClient(server, {
      name: 'mTLS RP',
      redirectUris: [cb.redirectUri],
      auth: 'tls_client_auth',
      idTokenAlg: 'ES256',
      extra: ['--tls-subject-dn', 'CN=rp-mtls', '--bound-tokens'],
    });
    const mtConfig = await discover(
      server,
      mt.client_id,
      { use_mtls_endpoint_aliases: true, tls_client_certificate_bound_access_tokens: true, id_token_signed_response_alg: 'ES256' },
      client.TlsClientAuth(),
      { pfx: readFileSync(p12), passphrase: 'Rp-mtls-1' },
    );
    const req = await authorizationRequest(mtConfig, cb.redirectUri);
    const hit = await browse(page, cb, req.url, user, snap, 'mtls');
    const tokens = await client.authorizationCodeGrant(mtConfig, new URL(hit.url), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });
    assert.equal(jwtPayload(tokens.access_token).cnf['x5t#S256'], thumbprint, 'bound to the client certificate');
    const info = await client.fetchUserInfo(mtConfig, tokens.access_token, tokens.claims().sub);
    assert.equal(info.sub, tokens.claims().sub);
    const stolen = await request(server, `${issuerUrl(server)}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(stolen.status, 401, 'the bound token is refused without its certificate');
    assert.match(stolen.headers['www-authenticate'], /invalid_token/);
  });

  await t.test('the quickstart demo relying site shows the verified ID token claims', async () => {
    const url = server.banner.match(/demo relying site:\s+(\S+)/)?.[1];
    assert.ok(url, `the banner names the demo site:\n${server.banner}`);
    await page.goto(url);
    await snap(page, 'demo-rp-home');
    await page.click('#demo-login');
    await page.waitForSelector('#claims');
    await snap(page, 'demo-rp-claims');
    const claims = JSON.parse(await page.textContent('#claims'));
    assert.deepEqual(claims.aud, ['demo-rp'], 'openidconnect writes aud as an array (Core §2 allows either form)');
    assert.deepEqual([...claims.amr].sort(), ['mfa', 'pwd', 'swk']);
    // It asked for `profile email`: it greets the user by name and shows the address,
    // from UserInfo for the same subject.
    assert.ok((await page.textContent('#demo-name')).trim().length > 0, 'the name is shown');
    assert.match(await page.textContent('#demo-email'), /^[^@\s]+@[^@\s]+$/, 'the e-mail address is shown');
    // A phone-width browser reads it without scrolling sideways (the viewport tag, the
    // claims wrapped).
    assert.equal(await page.getAttribute('meta[name="viewport"]', 'content'), 'width=device-width, initial-scale=1');
    await page.setViewportSize({ width: 390, height: 844 });
    const [scrollWidth, innerWidth] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scrollWidth <= innerWidth, `no sideways scroll at 390 px: ${scrollWidth} > ${innerWidth}`);
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.click('#demo-logout');
    await page.waitForSelector('#demo-login');
  });

  await t.test('RP-initiated logout, then prompt=none answers login_required', async () => {
    const url = client.buildEndSessionUrl(config, { id_token_hint: first.id_token, post_logout_redirect_uri: cb.logoutUri, state: 'bye' });
    const hit = await browse(page, cb, url, null, snap, 'logout');
    assert.equal(hit.path, '/logged-out');
    assert.equal(hit.query.get('state'), 'bye');
    const req = await authorizationRequest(config, cb.redirectUri, { prompt: 'none' });
    const back = await browse(page, cb, req.url, null, null, 'prompt-none');
    assert.equal(back.query.get('error'), 'login_required');
    assert.equal(back.query.get('state'), req.state);
  });
});
