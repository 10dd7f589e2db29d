// Client authentication at the token endpoint, tried as a client and as someone holding
// one of its old requests: private_key_jwt assertions (OpenID Connect Core §9, RFC 7523
// §3) are accepted only signed by the client's key, with iss = sub = client_id, for this
// provider, unexpired and once; a client uses only the method it registered and only one
// at a time, a secret only in the body (RFC 6749 §2.3); client_credentials only for
// confidential clients (§4.4). Successful answers are never cached (§5.1).
// Over HTTPS with client_credentials, without a browser.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as jose from 'jose';

import { startServer } from '../browser/harness.mjs';
import { issuerUrl, registerClient, request } from './rp.mjs';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

function tokenRequest(server, form, headers = {}) {
  return request(server, `${issuerUrl(server)}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

function basic(id, secret) {
  return { authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` };
}

function assertRefused(res, what, error = 'invalid_client') {
  assert.equal(JSON.parse(res.body).error, error, `${what}: ${res.status} ${res.body}`);
  assert.equal(res.status, error === 'invalid_client' ? 401 : 400, what);
}

test('client authentication at the token endpoint', async (t) => {
  const server = await startServer(t);
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'ca-1', alg: 'ES256', use: 'sig' };
  const jwtClient = registerClient(server, { name: 'Assertion RP', grants: ['client_credentials'], auth: 'private_key_jwt', jwks: { keys: [jwk] } });
  const secretClient = registerClient(server, { name: 'Secret RP', grants: ['client_credentials'] });
  const stranger = await jose.generateKeyPair('ES256');
  const id = jwtClient.client_id;

  /** A client assertion for `id`, with `claims` overriding the honest ones. */
  const assertion = (claims = {}, key = privateKey, header = { alg: 'ES256', kid: 'ca-1' }) => {
    const now = Math.floor(Date.now() / 1000);
    const honest = { iss: id, sub: id, aud: `${issuerUrl(server)}/token`, jti: crypto.randomUUID(), iat: now, exp: now + 120 };
    return new jose.SignJWT({ ...honest, ...claims }).setProtectedHeader(header).sign(key);
  };
  const withAssertion = async (jwt, extra = {}) =>
    tokenRequest(server, { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await jwt, ...extra });

  await t.test('private_key_jwt: an honest assertion works once (Core §9, RFC 7523 §3)', async () => {
    const jwt = await assertion();
    const ok = await withAssertion(jwt);
    assert.equal(ok.status, 200, ok.body);
    assert.ok(JSON.parse(ok.body).access_token);
    // RFC 6749 §5.1: tokens are never cached.
    assert.equal(ok.headers['cache-control'], 'no-store');
    assert.equal(ok.headers.pragma, 'no-cache');
    // A client's own token names no user: UserInfo refuses it (Core §5.3, RFC 6750 §3.1).
    const info = await request(server, `${issuerUrl(server)}/userinfo`, { headers: { authorization: `Bearer ${JSON.parse(ok.body).access_token}` } });
    assert.equal(info.status, 403, info.body);
    assert.match(info.headers['www-authenticate'], /error="insufficient_scope"/);
    // The issuer identifier as the audience is accepted too (Core §9 errata, RFC 7523).
    assert.equal((await withAssertion(assertion({ aud: issuerUrl(server) }))).status, 200);
    // Hostile: the same assertion replayed.
    assertRefused(await withAssertion(jwt), 'a replayed jti');
  });

  await t.test('private_key_jwt: every claim is checked', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases = {
      'iss is another client': assertion({ iss: secretClient.client_id }),
      'sub is another client': assertion({ sub: secretClient.client_id }),
      'aud is another server': assertion({ aud: 'https://other.example/token' }),
      'aud is a look-alike of the issuer': assertion({ aud: `${issuerUrl(server)}.evil.example` }),
      'expired': assertion({ iat: now - 600, exp: now - 300 }),
      'no exp': assertion({ exp: undefined }),
      'no jti': assertion({ jti: undefined }),
      'exp hours away (a long-lived replayable assertion)': assertion({ exp: now + 6 * 3600 }),
      'signed by a key the client never published': assertion({}, stranger.privateKey),
    };
    for (const [what, jwt] of Object.entries(cases)) assertRefused(await withAssertion(jwt), what);
    // alg=none: an unsigned assertion with honest claims.
    const claims = Buffer.from(JSON.stringify({ iss: id, sub: id, aud: `${issuerUrl(server)}/token`, jti: crypto.randomUUID(), exp: now + 120 })).toString('base64url');
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${claims}.`;
    assertRefused(await withAssertion(unsigned), 'alg none');
    // A client_id beside the assertion must name the same client.
    assertRefused(await withAssertion(assertion(), { client_id: secretClient.client_id }), 'client_id of another client');
    // Control: the honest assertion still works after all of these.
    assert.equal((await withAssertion(assertion(), { client_id: id })).status, 200);
  });

  await t.test('only the registered method, and only one at a time (RFC 6749 §2.3)', async () => {
    const [sid, secret] = [secretClient.client_id, secretClient.client_secret];
    assert.equal((await tokenRequest(server, { grant_type: 'client_credentials' }, basic(sid, secret))).status, 200);
    // Registered for client_secret_basic: the same secret in the body is refused.
    assertRefused(await tokenRequest(server, { grant_type: 'client_credentials', client_id: sid, client_secret: secret }), 'client_secret_post');
    // A private_key_jwt client cannot fall back to a secret, nor to no authentication.
    assertRefused(await tokenRequest(server, { grant_type: 'client_credentials', client_id: id }), 'no authentication');
    // client_secret_post: in the body only, never in the URI (RFC 6749 §2.3.1).
    const post = registerClient(server, { name: 'Post RP', grants: ['client_credentials'], auth: 'client_secret_post' });
    const credentials = { client_id: post.client_id, client_secret: post.client_secret };
    assert.equal((await tokenRequest(server, { grant_type: 'client_credentials', ...credentials })).status, 200);
    const inQuery = await request(server, `${issuerUrl(server)}/token?${new URLSearchParams(credentials)}`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials',
    });
    assertRefused(inQuery, 'the secret in the URI');
    // RFC 6749 §4.4: client_credentials is for confidential clients only.
    assert.throws(() => registerClient(server, { name: 'Public backend', grants: ['client_credentials'], auth: 'none' }), /public client/);
    // Two methods in one request.
    assertRefused(
      await tokenRequest(server, { grant_type: 'client_credentials', client_secret: secret }, basic(sid, secret)),
      'Basic and client_secret together',
      'invalid_request',
    );
  });
});
