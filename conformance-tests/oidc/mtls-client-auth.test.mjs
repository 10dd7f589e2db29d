// RFC 8705 as a backend client and as someone holding its token or another certificate
// of the same CA: tls_client_auth only with a live certificate of Mamori's CA whose
// subject is the registered one, at the mTLS aliases; its tokens are bound to that
// certificate (cnf in the JWT and in introspection) and refused without it. Over HTTPS,
// without a browser (the user flow: flows.test.mjs).

import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { startServer } from '../browser/harness.mjs';
import { issuerUrl, jwtPayload, registerClient, request } from './rp.mjs';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

test('tls_client_auth and certificate-bound tokens', async (t) => {
  const server = await startServer(t);
  const meta = JSON.parse((await request(server, `${issuerUrl(server)}/.well-known/openid-configuration`)).body);
  const alias = meta.mtls_endpoint_aliases;
  /** A certificate of Mamori's CA for `cn`: {pfx, passphrase, der, serial}. */
  const certificate = (cn) => {
    const [pw, p12, pem] = ['pw', 'p12', 'pem'].map((ext) => join(server.dataDir, `${cn}.${ext}`));
    writeFileSync(pw, 'Rp-mtls-1\n');
    server.cli('ca', 'issue', '--common-name', cn, '--p12', p12, '--password-file', pw, '--out', pem);
    const x509 = new X509Certificate(readFileSync(pem));
    return { pfx: readFileSync(p12), passphrase: 'Rp-mtls-1', der: x509.raw, serial: x509.serialNumber };
  };
  const mine = certificate('rp-backend');
  const stranger = certificate('rp-stranger');
  const rp = registerClient(server, {
    name: 'Backend', grants: ['client_credentials'], scopes: ['api.read'], auth: 'tls_client_auth',
    extra: ['--tls-subject-dn', 'CN=rp-backend', '--bound-tokens'],
  });
  const post = (url, form, cert) =>
    request(server, url, { method: 'POST', headers: FORM, body: new URLSearchParams({ client_id: rp.client_id, ...form }).toString(), ...cert });
  const tokenWith = (cert, url = alias.token_endpoint) => post(url, { grant_type: 'client_credentials', scope: 'api.read' }, cert && { pfx: cert.pfx, passphrase: cert.passphrase });
  const thumbprint = createHash('sha256').update(mine.der).digest('base64url');
  let bound;

  await t.test('its own certificate authenticates it and binds the token (§2.1, §3.1, §3.2)', async () => {
    const res = await tokenWith(mine);
    assert.equal(res.status, 200, res.body);
    bound = JSON.parse(res.body).access_token;
    assert.equal(jwtPayload(bound).cnf['x5t#S256'], thumbprint);
    const info = await post(alias.introspection_endpoint, { token: bound }, { pfx: mine.pfx, passphrase: mine.passphrase });
    const introspected = JSON.parse(info.body);
    assert.equal(introspected.active, true, info.body);
    assert.equal(introspected.cnf['x5t#S256'], thumbprint, 'introspection carries cnf');
  });

  await t.test('another certificate of the same CA, or none, does not (§2.1)', async () => {
    for (const [what, res] of [
      ['a certificate with another subject', await tokenWith(stranger)],
      ['no certificate, at the main endpoint', await tokenWith(undefined, meta.token_endpoint)],
    ]) {
      assert.equal(res.status, 401, `${what}: ${res.body}`);
      assert.equal(JSON.parse(res.body).error, 'invalid_client', what);
    }
  });

  await t.test('a bound token is refused without its certificate (§3)', async () => {
    const userinfo = (url, cert) => request(server, url, { headers: { authorization: `Bearer ${bound}` }, ...cert });
    // Its own certificate passes the binding (then a client's token has no user: 403).
    assert.equal((await userinfo(alias.userinfo_endpoint, { pfx: mine.pfx, passphrase: mine.passphrase })).status, 403);
    for (const [what, res] of [
      ['without a certificate', await userinfo(meta.userinfo_endpoint)],
      ['with another certificate', await userinfo(alias.userinfo_endpoint, { pfx: stranger.pfx, passphrase: stranger.passphrase })],
    ]) {
      assert.equal(res.status, 401, what);
      assert.match(res.headers['www-authenticate'], /invalid_token/, what);
    }
  });

  await t.test('a client registered for bound tokens gets none without a certificate (§3)', async () => {
    const secretRp = registerClient(server, { name: 'Bound secret', grants: ['client_credentials'], scopes: ['api.read'], extra: ['--bound-tokens'] });
    const headers = { ...FORM, authorization: `Basic ${Buffer.from(`${secretRp.client_id}:${secretRp.client_secret}`).toString('base64')}` };
    const ask = (url, cert) => request(server, url, { method: 'POST', headers, body: 'grant_type=client_credentials&scope=api.read', ...cert });
    const unbound = await ask(meta.token_endpoint);
    assert.equal(unbound.status, 400, unbound.body);
    assert.equal(JSON.parse(unbound.body).error, 'invalid_request');
    const withCert = await ask(alias.token_endpoint, { pfx: stranger.pfx, passphrase: stranger.passphrase });
    assert.equal(withCert.status, 200, withCert.body);
    const strangerPrint = createHash('sha256').update(stranger.der).digest('base64url');
    assert.equal(jwtPayload(JSON.parse(withCert.body).access_token).cnf['x5t#S256'], strangerPrint);
  });

  await t.test('a certificate the CA revoked no longer authenticates its client', async () => {
    server.cli('ca', 'revoke', '--serial', mine.serial, '--reason', 'key-compromise');
    const res = await tokenWith(mine);
    assert.equal(res.status, 401, res.body);
    assert.equal(JSON.parse(res.body).error, 'invalid_client');
  });
});
