// Pushed authorization requests (RFC 9126), dynamic registration behind an initial access
// token (RFC 7591/7592) and signing-key rotation — over HTTPS, without a browser.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import * as jose from 'jose';

import { startServer } from '../browser/harness.mjs';
import { authorizationRequest, client, discover, issuerUrl, jwtHeader, registerClient, request } from './rp.mjs';

const REDIRECT = 'https://localhost:9/cb';

async function follow(server, url) {
  let current = String(url);
  for (let i = 0; i < 10; i += 1) {
    if (current.startsWith(REDIRECT)) return { url: new URL(current) };
    const res = await request(server, current);
    if (![302, 303, 307].includes(res.status)) return { status: res.status, body: res.body };
    current = new URL(res.headers.location, current).href;
  }
  throw new Error('too many redirects');
}

test('PAR, dynamic registration and key rotation', async (t) => {
  const server = await startServer(t);

  await t.test('a pushed request is used once through its request_uri', async () => {
    const rp = registerClient(server, { name: 'PAR RP', redirectUris: [REDIRECT] });
    const config = await discover(server, rp.client_id, {}, client.ClientSecretBasic(rp.client_secret));
    const verifier = client.randomPKCECodeVerifier();
    const params = {
      redirect_uri: REDIRECT, scope: 'openid', state: 'par-state', prompt: 'none',
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    };
    const url = await client.buildAuthorizationUrlWithPAR(config, params);
    assert.ok(url.searchParams.get('request_uri').startsWith('urn:ietf:params:oauth:request_uri:'));
    assert.equal(url.searchParams.get('state'), null, 'only client_id and request_uri travel through the browser');
    const r = await follow(server, url);
    assert.equal(r.url.searchParams.get('state'), 'par-state', 'the pushed parameters were used');
    assert.equal(r.url.searchParams.get('error'), 'login_required');
    const again = await follow(server, url);
    assert.equal(again.status, 400, 'a request_uri works once');
    await assert.rejects(client.buildAuthorizationUrlWithPAR(config, { ...params, code_challenge_method: 'plain' }), (e) => e.error === 'invalid_request');
    // RFC 9126 §2: the client authenticates; §2.1: a request_uri is never pushed.
    const push = (form, headers = {}) => request(server, `${issuerUrl(server)}/par`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ client_id: rp.client_id, response_type: 'code', ...form }).toString(),
    });
    const basic = { authorization: `Basic ${Buffer.from(`${encodeURIComponent(rp.client_id)}:${encodeURIComponent(rp.client_secret)}`).toString('base64')}` };
    const honest = await push(params, basic);
    assert.equal(honest.status, 201, honest.body);
    assert.equal(honest.headers['cache-control'], 'no-store');
    assert.ok(JSON.parse(honest.body).expires_in > 0);
    const anonymous = await push(params);
    assert.equal(anonymous.status, 401);
    assert.equal(JSON.parse(anonymous.body).error, 'invalid_client');
    const nested = await push({ ...params, request_uri: url.searchParams.get('request_uri') }, basic);
    assert.equal(nested.status, 400);
    assert.equal(JSON.parse(nested.body).error, 'invalid_request');
  });

  await t.test('a pushed request object is verified at push time (RFC 9126 §3)', async () => {
    const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'par-ro', alg: 'ES256', use: 'sig' };
    const ro = registerClient(server, { name: 'PAR RO', redirectUris: [REDIRECT], jwks: { keys: [jwk] } });
    const verifier = client.randomPKCECodeVerifier();
    const claims = {
      iss: ro.client_id, aud: issuerUrl(server), client_id: ro.client_id, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid',
      state: 'par-ro', prompt: 'none', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    };
    const signed = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'par-ro' }).setIssuedAt().setExpirationTime('2m').sign(privateKey);
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(ro.client_id)}:${encodeURIComponent(ro.client_secret)}`).toString('base64')}`,
    };
    const push = (object) => request(server, `${issuerUrl(server)}/par`, { method: 'POST', headers, body: new URLSearchParams({ client_id: ro.client_id, request: object }).toString() });
    const ok = await push(signed);
    assert.equal(ok.status, 201, ok.body);
    const uri = JSON.parse(ok.body).request_uri;
    const r = await follow(server, `${issuerUrl(server)}/authorize?client_id=${encodeURIComponent(ro.client_id)}&request_uri=${encodeURIComponent(uri)}`);
    assert.equal(r.url.searchParams.get('state'), 'par-ro', 'the object was the request');
    assert.equal(r.url.searchParams.get('error'), 'login_required');
    // Hostile: the same object with a changed scope no longer verifies.
    const [h, , sig] = signed.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'openid email' })).toString('base64url')}.${sig}`;
    const bad = await push(tampered);
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).error, 'invalid_request_object');
  });

  await t.test('dynamic registration needs an initial access token and hands out a registration access token', async () => {
    const endpoint = `${issuerUrl(server)}/register`;
    const metadata = { client_name: 'Dynamic', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'client_credentials'], scope: 'openid api.read' };
    const body = JSON.stringify(metadata);
    const anonymous = await request(server, endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(anonymous.status, 401);
    const { initial_access_token: iat } = server.cliJson('admin', 'oidc-client', 'initial-access-token', '--tenant', 'demo', '--uses', '1');
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${iat}` };
    const created = await request(server, endpoint, { method: 'POST', headers, body });
    assert.equal(created.status, 201, created.body);
    const reg = JSON.parse(created.body);
    assert.ok(reg.client_id && reg.client_secret && reg.registration_access_token);
    const spent = await request(server, endpoint, { method: 'POST', headers, body });
    assert.equal(spent.status, 401, 'the initial access token was for one registration');
    const bad = server.cliJson('admin', 'oidc-client', 'initial-access-token', '--tenant', 'demo');
    const badUri = await request(server, endpoint, { method: 'POST', headers: { ...headers, authorization: `Bearer ${bad.initial_access_token}` }, body: JSON.stringify({ ...metadata, redirect_uris: ['http://evil.example/cb'] }) });
    assert.equal(JSON.parse(badUri.body).error, 'invalid_redirect_uri');

    const config = await discover(server, reg.client_id, {}, client.ClientSecretBasic(reg.client_secret));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'api.read' });
    assert.equal(tokens.scope, 'api.read');

    const manage = { authorization: `Bearer ${reg.registration_access_token}` };
    const read = await request(server, reg.registration_client_uri, { headers: manage });
    assert.equal(JSON.parse(read.body).client_name, 'Dynamic');
    assert.equal((await request(server, reg.registration_client_uri, { headers: { authorization: 'Bearer nope' } })).status, 401);
    assert.equal((await request(server, reg.registration_client_uri, { method: 'DELETE', headers: manage })).status, 204);
    await assert.rejects(client.clientCredentialsGrant(config, { scope: 'api.read' }), (e) => e.status === 401, 'the deleted client no longer authenticates');
  });

  await t.test('self_signed_tls_client_auth on the mTLS alias; another certificate is refused', async () => {
    const make = (name) => {
      const key = join(server.dataDir, `${name}.key`);
      const cert = join(server.dataDir, `${name}.pem`);
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
        '-days', '2', '-subj', `/CN=${name}`, '-addext', 'extendedKeyUsage=clientAuth'], { stdio: 'ignore' });
      return { key: readFileSync(key), cert: readFileSync(cert), certPath: cert };
    };
    const mine = make('self-signed-rp');
    const other = make('someone-else');
    const rp = registerClient(server, { name: 'Self-signed', grants: ['client_credentials'], scopes: ['api.read'], auth: 'self_signed_tls_client_auth', extra: ['--tls-certificate', mine.certPath, '--bound-tokens'] });
    const tokenAt = `${server.mtls}/t/demo/token`;
    const body = `grant_type=client_credentials&client_id=${rp.client_id}&scope=api.read`;
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    const ok = await request(server, tokenAt, { method: 'POST', headers, body, key: mine.key, cert: mine.cert });
    assert.equal(ok.status, 200, ok.body);
    assert.ok(JSON.parse(Buffer.from(JSON.parse(ok.body).access_token.split('.')[1], 'base64url')).cnf['x5t#S256']);
    const wrong = await request(server, tokenAt, { method: 'POST', headers, body, key: other.key, cert: other.cert });
    assert.equal(wrong.status, 401);
    assert.equal(JSON.parse(wrong.body).error, 'invalid_client');
    const none = await request(server, `${issuerUrl(server)}/token`, { method: 'POST', headers, body });
    assert.equal(none.status, 401, 'the main listener carries no client certificate');
  });

  await t.test('mamori admin keys rotate: new tokens use the new key, the old key stays published', async () => {
    const rp = registerClient(server, { name: 'CC', grants: ['client_credentials'], scopes: ['api.read'] });
    const config = await discover(server, rp.client_id, {}, client.ClientSecretBasic(rp.client_secret));
    const before = await client.clientCredentialsGrant(config, { scope: 'api.read' });
    const oldKid = jwtHeader(before.access_token).kid;
    const { activated } = server.cliJson('admin', 'keys', 'rotate');
    assert.equal(activated.length, 2);
    const jwks = JSON.parse((await request(server, `${issuerUrl(server)}/jwks`)).body);
    const kids = jwks.keys.map((k) => k.kid);
    for (const kid of [oldKid, ...activated]) assert.ok(kids.includes(kid), `${kid} is published: ${kids}`);
    // The old token still verifies against the published set.
    await jose.jwtVerify(before.access_token, jose.createLocalJWKSet(jwks), { issuer: issuerUrl(server), typ: 'at+jwt' });
    // A running node picks the new key up within its 10-second cache.
    let kid = oldKid;
    for (let i = 0; i < 15 && kid === oldKid; i += 1) {
      await new Promise((r) => setTimeout(r, 1000));
      kid = jwtHeader((await client.clientCredentialsGrant(config, { scope: 'api.read' })).access_token).kid;
    }
    assert.ok(activated.includes(kid), `signed with a new key (${kid})`);
  });
});
