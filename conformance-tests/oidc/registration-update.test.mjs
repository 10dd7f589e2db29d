// RFC 7592 client configuration: PUT replaces the metadata (validated like a registration,
// the client secret kept, a left-out field deleted), errors are RFC 7591 §3.2.2 JSON, GET
// shows the change with the registration access token, DELETE removes the client. And
// RFC 7591 registration answers: unknown metadata ignored, no secret for a public client.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { startServer } from '../browser/harness.mjs';
import { client, discover, issuerUrl, request } from './rp.mjs';

test('a dynamically registered client updates its metadata', async (t) => {
  const server = await startServer(t);
  const { initial_access_token: iat } = server.cliJson('admin', 'oidc-client', 'initial-access-token', '--tenant', 'demo', '--uses', '1');
  const metadata = { client_name: 'Dynamic', redirect_uris: ['https://localhost:9/cb'], grant_types: ['authorization_code', 'client_credentials'], scope: 'openid api.read' };
  const created = await request(server, `${issuerUrl(server)}/register`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${iat}` }, body: JSON.stringify(metadata),
  });
  assert.equal(created.status, 201, created.body);
  const reg = JSON.parse(created.body);
  const manage = { 'content-type': 'application/json', authorization: `Bearer ${reg.registration_access_token}` };
  const put = (body, headers = manage) => request(server, reg.registration_client_uri, { method: 'PUT', headers, body: JSON.stringify(body) });
  const replacement = {
    client_id: reg.client_id,
    client_name: 'Dynamic v2',
    redirect_uris: ['https://localhost:9/cb2'],
    post_logout_redirect_uris: ['https://localhost:9/bye'],
    grant_types: ['authorization_code', 'client_credentials'],
    scope: 'openid api.read api.write',
  };

  await t.test('the registration answer and GET are full client information responses', async () => {
    // RFC 7591 §3.2.1: a secret comes with its expiry (0: never); the metadata as registered.
    assert.equal(reg.client_secret_expires_at, 0);
    assert.ok(Number.isInteger(reg.client_id_issued_at));
    assert.deepEqual(reg.redirect_uris, metadata.redirect_uris);
    assert.equal(reg.token_endpoint_auth_method, 'client_secret_basic', 'the RFC 7591 §2 default');
    // RFC 7592 §3: registration_client_uri and registration_access_token in every one.
    const read = await request(server, reg.registration_client_uri, { headers: manage });
    assert.equal(read.status, 200, read.body);
    assert.equal(read.headers['cache-control'], 'no-store');
    const info = JSON.parse(read.body);
    assert.equal(info.registration_access_token, reg.registration_access_token);
    assert.equal(info.registration_client_uri, reg.registration_client_uri);
    assert.equal(info.client_secret, undefined, 'the secret is never shown again');
  });

  await t.test('unknown metadata is ignored; a public client gets no secret (RFC 7591 §2, §5)', async () => {
    const { initial_access_token: token } = server.cliJson('admin', 'oidc-client', 'initial-access-token', '--tenant', 'demo', '--uses', '1');
    const body = { client_name: 'Native', 'client_name#ja': 'ネイティブ', redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', software_version: '1.0', x_unknown: { a: 1 } };
    const res = await request(server, `${issuerUrl(server)}/register`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body),
    });
    assert.equal(res.status, 201, res.body);
    const out = JSON.parse(res.body);
    assert.equal(out.token_endpoint_auth_method, 'none');
    assert.deepEqual(out.grant_types, ['authorization_code'], 'the RFC 7591 §2 default');
    assert.deepEqual(out.response_types, ['code'], 'consistent with the grant types (§2.1)');
    assert.equal(out.client_secret, undefined);
    assert.equal(out.client_secret_expires_at, undefined);
    assert.equal(out.x_unknown, undefined, 'what was not registered is not echoed');
  });

  await t.test('errors are RFC 7591 JSON and change nothing', async () => {
    const wrongToken = await put(replacement, { ...manage, authorization: 'Bearer nope' });
    assert.equal(wrongToken.status, 401);
    const badUri = await put({ ...replacement, redirect_uris: ['http://evil.example/cb'] });
    assert.equal(badUri.status, 400);
    assert.equal(JSON.parse(badUri.body).error, 'invalid_redirect_uri');
    assert.match(badUri.headers['content-type'], /application\/json/);
    // RFC 6749 §3.1.2.2: a code-flow client must register a redirect URI.
    const noUri = await put({ ...replacement, redirect_uris: [] });
    assert.equal(JSON.parse(noUri.body).error, 'invalid_client_metadata');
    const otherId = await put({ ...replacement, client_id: 'someone-else' });
    assert.equal(JSON.parse(otherId.body).error, 'invalid_client_metadata');
    const serverField = await put({ ...replacement, registration_access_token: reg.registration_access_token });
    assert.equal(JSON.parse(serverField.body).error, 'invalid_client_metadata');
    const wrongSecret = await put({ ...replacement, client_secret: 'not-the-secret' });
    assert.equal(JSON.parse(wrongSecret.body).error, 'invalid_client_metadata');
    const badMethod = await put({ ...replacement, token_endpoint_auth_method: 'private_key_jwt' });
    assert.equal(JSON.parse(badMethod.body).error, 'invalid_client_metadata', 'private_key_jwt without keys');
    const read = JSON.parse((await request(server, reg.registration_client_uri, { headers: manage })).body);
    assert.equal(read.client_name, 'Dynamic');
    assert.deepEqual(read.redirect_uris, ['https://localhost:9/cb']);
  });

  await t.test('PUT replaces the metadata; the secret is kept', async () => {
    const res = await put({ ...replacement, client_secret: reg.client_secret });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const out = JSON.parse(res.body);
    assert.equal(out.client_name, 'Dynamic v2');
    assert.deepEqual(out.redirect_uris, ['https://localhost:9/cb2']);
    assert.deepEqual(out.post_logout_redirect_uris, ['https://localhost:9/bye']);
    assert.equal(out.client_secret, undefined, 'no new secret');
    assert.equal(out.registration_access_token, reg.registration_access_token);
    const read = JSON.parse((await request(server, reg.registration_client_uri, { headers: manage })).body);
    assert.equal(read.client_name, 'Dynamic v2');
    assert.equal(read.scope, 'openid api.read api.write');
    // RFC 7592 §2.2: a field left out of a PUT is deleted.
    const { post_logout_redirect_uris: _dropped, ...without } = replacement;
    assert.equal((await put(without)).status, 200);
    const after = JSON.parse((await request(server, reg.registration_client_uri, { headers: manage })).body);
    assert.deepEqual(after.post_logout_redirect_uris ?? [], []);
    // The old secret still authenticates and the new scope is granted.
    const config = await discover(server, reg.client_id, {}, client.ClientSecretBasic(reg.client_secret));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'api.write' });
    assert.equal(tokens.scope, 'api.write');
  });

  await t.test('DELETE still removes the client', async () => {
    assert.equal((await request(server, reg.registration_client_uri, { method: 'DELETE', headers: manage })).status, 204);
    assert.equal((await request(server, reg.registration_client_uri, { headers: manage })).status, 401);
  });
});

// RFC 7591 §2 and §3.2.2: metadata the provider would never use, or that is unsafe, is
// refused with invalid_client_metadata naming the field, not stored behind a 201. URLs the
// provider calls (request_uris, backchannel_logout_uri) follow the outbound rule: https,
// or http on a loopback address only where the operator allowed the fetch to go there.
test('registration refuses metadata it cannot honour or that is unsafe', async (t) => {
  const strict = await startServer(t);
  const register = async (server, extra) => {
    const { initial_access_token: token } = server.cliJson('admin', 'oidc-client', 'initial-access-token', '--tenant', 'demo', '--uses', '1');
    const body = { client_name: 'Meta', redirect_uris: ['https://localhost:9/cb'], ...extra };
    const res = await request(server, `${issuerUrl(server)}/register`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body),
    });
    return { status: res.status, type: res.headers['content-type'], body: JSON.parse(res.body) };
  };
  const loopback = { backchannel_logout_uri: 'http://127.0.0.1:6379/', request_uris: ['http://127.0.0.1:18999/ro'] };

  await t.test('each hostile field is refused, naming it', async () => {
    const hostile = [
      ['backchannel_logout_uri', loopback.backchannel_logout_uri],
      ['request_uris', loopback.request_uris],
      ['backchannel_logout_uri', 'https://localhost:9/bcl#frag'],
      ['logo_uri', 'javascript:alert(document.cookie)'],
      ['client_uri', 'data:text/html,<script>alert(1)</script>'],
      ['policy_uri', 'javascript:alert(1)'],
      ['tos_uri', 'data:text/html,x'],
      ['logo_uri#ja', 'http://localhost:9/logo.png'],
      ['subject_type', 'pairwise'],
    ];
    for (const [field, value] of hostile) {
      const res = await register(strict, { [field]: value });
      assert.equal(res.status, 400, `${field} ${JSON.stringify(value)}: ${JSON.stringify(res.body)}`);
      assert.match(res.type, /application\/json/);
      assert.equal(res.body.error, 'invalid_client_metadata', field);
      assert.ok(res.body.error_description.startsWith(field.split('#')[0]), `${field}: ${res.body.error_description}`);
    }
  });

  await t.test('the honest counterparts are registered', async () => {
    const res = await register(strict, {
      backchannel_logout_uri: 'https://localhost:9/bcl', request_uris: ['https://localhost:9/ro#v1'], subject_type: 'public',
      logo_uri: 'https://localhost:9/logo.png', client_uri: 'https://localhost:9/', policy_uri: 'https://localhost:9/policy', tos_uri: 'https://localhost:9/tos',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.backchannel_logout_uri, 'https://localhost:9/bcl');
    assert.deepEqual(res.body.request_uris, ['https://localhost:9/ro#v1']);
  });

  await t.test('loopback http is registered where the operator lets the provider call it', async () => {
    const dev = await startServer(t, { env: { MAMORI_OIDC__JWKS_FETCH_ALLOW_LOOPBACK_HTTP: 'true' } });
    const res = await register(dev, loopback);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.backchannel_logout_uri, loopback.backchannel_logout_uri);
    assert.deepEqual(res.body.request_uris, loopback.request_uris);
    // Still never on another host over http.
    const remote = await register(dev, { backchannel_logout_uri: 'http://bcl.example/logout' });
    assert.equal(remote.body.error, 'invalid_client_metadata');
  });
});
