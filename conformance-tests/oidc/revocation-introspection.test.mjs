// Token revocation (RFC 7009) and introspection (RFC 7662) as a client and as another
// client holding the first one's token: only authenticated clients are answered, a client
// learns about and revokes only its own tokens, a wrong token_type_hint still finds the
// token, and an unknown token is a plain 200 / `{"active": false}`. Over HTTPS with
// client_credentials tokens, without a browser (user tokens: flows.test.mjs).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { startServer } from '../browser/harness.mjs';
import { issuerUrl, registerClient, request } from './rp.mjs';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

test('revocation and introspection', async (t) => {
  const server = await startServer(t);
  const post = (path, form, rp) => {
    const headers = { ...FORM };
    if (rp) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(rp.client_id)}:${encodeURIComponent(rp.client_secret)}`).toString('base64')}`;
    return request(server, `${issuerUrl(server)}/${path}`, { method: 'POST', headers, body: new URLSearchParams(form).toString() });
  };
  const mine = registerClient(server, { name: 'Owner', grants: ['client_credentials'], scopes: ['api.read'] });
  const other = registerClient(server, { name: 'Other', grants: ['client_credentials'], scopes: ['api.read'] });
  const token = async (rp) => {
    const res = await post('token', { grant_type: 'client_credentials', scope: 'api.read' }, rp);
    assert.equal(res.status, 200, res.body);
    return JSON.parse(res.body).access_token;
  };
  const introspect = async (value, rp = mine, extra = {}) => {
    const res = await post('introspect', { token: value, ...extra }, rp);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    return JSON.parse(res.body);
  };

  await t.test('introspection answers authenticated clients about their own tokens (RFC 7662 §2, §4)', async () => {
    const at = await token(mine);
    const live = await introspect(at);
    assert.equal(live.active, true);
    assert.equal(live.client_id, mine.client_id);
    assert.equal(live.scope, 'api.read');
    assert.equal(live.iss, issuerUrl(server));
    assert.ok(live.exp > Date.now() / 1000 && live.iat <= Date.now() / 1000 + 1);
    // §2.1: a wrong hint still finds it.
    assert.equal((await introspect(at, mine, { token_type_hint: 'refresh_token' })).active, true);
    // Hostile: another client, an unknown token, no authentication.
    assert.deepEqual(await introspect(at, other), { active: false }, 'another client learns nothing');
    assert.deepEqual(await introspect('not-a-token'), { active: false }, 'nothing about an unknown token');
    const anonymous = await post('introspect', { token: at });
    assert.equal(anonymous.status, 401);
    assert.equal(JSON.parse(anonymous.body).error, 'invalid_client');
    const missing = await post('introspect', {}, mine);
    assert.equal(JSON.parse(missing.body).error, 'invalid_request');
  });

  await t.test('revocation: only the owner revokes; unknown tokens are a 200 (RFC 7009 §2)', async () => {
    const at = await token(mine);
    // Another client's request changes nothing (Mamori answers 200 without telling, see
    // clauses/rfc7009-7662.md).
    const foreign = await post('revoke', { token: at }, other);
    assert.equal(foreign.status, 200);
    assert.equal((await introspect(at)).active, true, 'still active for its owner');
    // A wrong hint still finds the token (§2.1).
    const res = await post('revoke', { token: at, token_type_hint: 'refresh_token' }, mine);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal((await introspect(at)).active, false);
    const info = await request(server, `${issuerUrl(server)}/userinfo`, { headers: { authorization: `Bearer ${at}` } });
    assert.equal(info.status, 401, 'a revoked token opens nothing');
    // §2.2: an invalid token is not an error; §2.2.1: a client that fails to authenticate is.
    assert.equal((await post('revoke', { token: 'not-a-token' }, mine)).status, 200);
    const anonymous = await post('revoke', { token: await token(mine) });
    assert.equal(anonymous.status, 401);
    assert.equal(JSON.parse(anonymous.body).error, 'invalid_client');
    assert.equal(JSON.parse((await post('revoke', {}, mine)).body).error, 'invalid_request');
  });

  await t.test('POST only (RFC 7009 §2.1, RFC 7662 §2.1)', async () => {
    for (const path of ['revoke', 'introspect']) {
      assert.equal((await request(server, `${issuerUrl(server)}/${path}?token=x`)).status, 405, path);
    }
  });
});
