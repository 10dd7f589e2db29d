// Provider metadata as a strict relying site reads it (OpenID Connect Discovery 1.0 §3,
// §4; RFC 8414 §2, §3): the same document at both well-known addresses, the issuer
// identical to the URL it was fetched under, every required member, no empty list, https
// endpoints, and a JWK Set with public signing keys only. Over HTTPS, without a browser.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { startServer } from '../browser/harness.mjs';
import { issuerUrl, request } from './rp.mjs';

async function json(server, url, type = /^application\/json/) {
  const res = await request(server, url);
  assert.equal(res.status, 200, `${url}: ${res.body}`);
  assert.match(res.headers['content-type'], type, url);
  return JSON.parse(res.body);
}

test('discovery documents and the JWK Set', async (t) => {
  const server = await startServer(t);
  const issuer = issuerUrl(server);
  const oidc = await json(server, `${issuer}/.well-known/openid-configuration`);
  // RFC 8414 §3: the well-known string goes between the host and the issuer's path.
  const oauth = await json(server, `${server.main}/.well-known/oauth-authorization-server/t/demo`);

  await t.test('the issuer is the URL the document was fetched under (Discovery §4.3, RFC 8414 §3.3)', () => {
    assert.equal(oidc.issuer, issuer);
    assert.equal(oauth.issuer, issuer);
    const url = new URL(oidc.issuer);
    assert.equal(url.protocol, 'https:');
    assert.equal(url.search + url.hash, '', 'no query or fragment in the issuer');
    assert.deepEqual(oauth, oidc, 'one document at both addresses');
  });

  await t.test('required members are present; lists are never empty (Discovery §3, §4.2; RFC 8414 §2, §3.2)', () => {
    for (const name of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'response_types_supported',
      'subject_types_supported', 'id_token_signing_alg_values_supported']) {
      assert.ok(oidc[name] !== undefined, `${name} is required`);
    }
    // RECOMMENDED in Discovery §3: present.
    for (const name of ['userinfo_endpoint', 'registration_endpoint', 'scopes_supported', 'claims_supported']) {
      assert.ok(oidc[name] !== undefined, `${name} is recommended`);
    }
    for (const [name, value] of Object.entries(oidc)) {
      if (Array.isArray(value)) assert.ok(value.length > 0, `${name}: an empty list must be omitted`);
    }
    assert.ok(oidc.scopes_supported.includes('openid'), 'the openid scope (Discovery §3: MUST support)');
    assert.ok(oidc.id_token_signing_alg_values_supported.includes('RS256'), 'RS256 MUST be included');
    assert.ok(!oidc.token_endpoint_auth_signing_alg_values_supported.includes('none'), 'none MUST NOT be used');
    assert.ok(oidc.response_types_supported.includes('code'));
    // RFC 8414 §2: with private_key_jwt offered at an endpoint, its algorithms MUST be listed.
    for (const endpoint of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
      if (!oidc[`${endpoint}_auth_methods_supported`].includes('private_key_jwt')) continue;
      const algs = oidc[`${endpoint}_auth_signing_alg_values_supported`];
      assert.ok(algs?.length > 0 && !algs.includes('none'), `${endpoint}_auth_signing_alg_values_supported: ${algs}`);
    }
  });

  await t.test('every endpoint is an https URL (Discovery §3, RFC 8414 §2)', () => {
    const urls = Object.entries(oidc).filter(([name]) => name.endsWith('_endpoint') || name === 'jwks_uri');
    urls.push(...Object.entries(oidc.mtls_endpoint_aliases).map(([name, url]) => [`mtls ${name}`, url]));
    assert.ok(urls.length >= 12, `${urls.length} endpoints`);
    for (const [name, value] of urls) {
      const url = new URL(value);
      assert.equal(url.protocol, 'https:', name);
      assert.equal(url.hash, '', `${name}: no fragment`);
    }
  });

  await t.test('the JWK Set holds public signing keys, each with its kid (Discovery §3, Core §10.1)', async () => {
    const jwks = await json(server, oidc.jwks_uri, /^application\/(jwk-set\+)?json/);
    assert.ok(jwks.keys.length >= 1);
    const kids = jwks.keys.map((k) => k.kid);
    assert.equal(new Set(kids).size, kids.length, 'kids are distinct');
    for (const key of jwks.keys) {
      assert.ok(key.kid, 'a kid on every key');
      assert.ok(['EC', 'RSA'].includes(key.kty), key.kty);
      assert.ok(key.use === undefined || key.use === 'sig', `use ${key.use}`);
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal(key[secret], undefined, `no private member ${secret}`);
    }
  });

  await t.test('an unknown issuer has no metadata', async () => {
    for (const url of [`${server.main}/t/nosuch/.well-known/openid-configuration`, `${server.main}/.well-known/oauth-authorization-server/t/nosuch`]) {
      assert.equal((await request(server, url)).status, 404, url);
    }
  });
});
