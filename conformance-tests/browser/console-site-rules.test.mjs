// The site registration rules of the service layer (`fields::site_rules`) as the
// operators' console meets them: made-up scopes and client kinds, a JWK Set with secrets
// or encryption keys for private_key_jwt, and certificates that are garbage, expired or
// of a key that cannot serve (OIDC self_signed_tls_client_auth, SAML SP metadata). Each
// is refused with a message naming what is wrong and saves nothing; a secret JWK Set is
// not sent back to the browser; the honest twin is kept and shown back, read back
// through the admin API. In English and Japanese. The API, CLI and dynamic registration
// side is conformance-tests/admin/test_admin_site_rules.py.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { startServer, tempDir, text } from './harness.mjs';
import { apiJson, openConsole, operator, postFromPage, problems, readToken } from './console-helpers.mjs';

// Fixed certificates whose validity never changes: expired in 2021, valid from 2099.
const EXPIRED_PEM = `-----BEGIN CERTIFICATE-----
MIIBMzCB2qADAgECAhRLjRw4y9OqXch6sq85t7V8wZ6FozAKBggqhkjOPQQDAjAa
MRgwFgYDVQQDDA9leHBpcmVkLmV4YW1wbGUwHhcNMjAwMTAxMDAwMDAwWhcNMjEw
MTAxMDAwMDAwWjAaMRgwFgYDVQQDDA9leHBpcmVkLmV4YW1wbGUwWTATBgcqhkjO
PQIBBggqhkjOPQMBBwNCAARmC96v9wh2DWcKMFJZK50cv8YN9a21aZZEB6LtEKoc
wXACfVqvX4ETijoMV0Zk3kf6i+tlhi5UKJoDWbSmKvp+MAoGCCqGSM49BAMCA0gA
MEUCIF7VK40T/ZhAp40u8FPxDnOhnt3khWrFfnSlc4QfrTRkAiEAjpNAdNMxtv8D
XC2auiJyeMzQXqaqoLtUAciSaFEes0g=
-----END CERTIFICATE-----
`;
const GARBAGE_PEM = `-----BEGIN CERTIFICATE-----\n${Buffer.from('random bytes, not a certificate '.repeat(4)).toString('base64')}\n-----END CERTIFICATE-----\n`;
// RFC 7515 Appendix A.3's P-256 key: public, and its private scalar.
const PUBLIC_EC = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' };
const PRIVATE_SCALAR = 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI';
const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';

/** A fresh self-signed certificate made with the openssl CLI (PEM). */
function certificate(dir, name, key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']) {
  execFileSync('openssl', ['req', '-x509', ...key, '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`),
    '-days', '30', '-subj', `/CN=${name}.test`], { stdio: 'ignore' });
  return readFileSync(join(dir, `${name}.pem`), 'utf8');
}

const base64Der = (pem) => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');

function metadata(entityId, use, pem) {
  return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="${MD}" entityID="${entityId}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="${use}"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${base64Der(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://${new URL(entityId).host}/acs" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`;
}

test('the console refuses what the service refuses, and keeps the honest twin', { timeout: 480_000 }, async (t) => {
  const server = await startServer(t);
  const dir = tempDir(t, 'console-site-rules-');
  const admin = await operator(t, server, 'op-rules');
  const token = readToken(server);
  const sites = async () => (await apiJson(server, token, '/tenants/demo/oidc-clients')).map((c) => c.client_id).sort();
  const before = await sites();
  const { page } = await openConsole(t, server, admin);

  /** Fills the registration form, lets `change` alter it, submits; the response. */
  const register = async (change) => {
    await page.goto(`${server.mtls}/console/t/demo/sites/new`);
    await page.fill('#name', 'Rules site');
    await page.fill('#redirect_uris', 'https://rp.example.test/cb');
    await change();
    const [response] = await Promise.all([page.waitForNavigation(), page.click('#site-submit')]);
    return response;
  };

  // Made-up scopes, named.
  for (const scope of ['bogus', 'OpenID']) {
    const response = await register(() => page.fill('#scopes', `openid ${scope}`));
    assert.equal(response.status(), 422, scope);
    assert.match(await problems(page), new RegExp(`Scopes: \`${scope}\` is not a scope Mamori offers`), scope);
    assert.equal(await page.inputValue('#scopes'), `openid ${scope}`, 'the form keeps what was typed');
  }
  // A made-up kind (the page offers two radios; a forged POST sends a third).
  await page.goto(`${server.mtls}/console/t/demo/sites/new`);
  const forged = await postFromPage(page, server, '/console/t/demo/sites', {
    name: 'Forged kind', redirect_uris: 'https://rp.example.test/cb', kind: 'bogus', scopes: 'openid', auth_method: 'client_secret_basic',
    access_token_format: 'jwt', id_token_alg: 'ES256', refresh: 'on',
  });
  assert.equal(forged.status, 422);
  assert.match(forged.text, /`bogus` is not a kind of client/);
  assert.deepEqual(await sites(), before, 'nothing registered');

  // private_key_jwt: a secret in the set is refused and not sent back; an encryption key too.
  const withKeys = (keys) => register(async () => {
    await page.selectOption('#auth_method', 'private_key_jwt');
    await page.fill('#jwks', JSON.stringify({ keys }));
  });
  let response = await withKeys([PUBLIC_EC, { ...PUBLIC_EC, d: PRIVATE_SCALAR }]);
  assert.equal(response.status(), 422);
  assert.match(await problems(page), /Key 2 is a secret/);
  assert.equal(await page.inputValue('#jwks'), '', 'the secret set is not refilled');
  assert.ok(!(await page.content()).includes(PRIVATE_SCALAR), 'the secret is nowhere on the page');
  response = await withKeys([{ kty: 'oct', k: 'c2hhcmVkLXNlY3JldA' }]);
  assert.equal(response.status(), 422);
  assert.match(await problems(page), /Key 1 is a secret/);
  response = await withKeys([{ ...PUBLIC_EC, use: 'enc' }]);
  assert.equal(response.status(), 422);
  assert.match(await problems(page), /Key 1 is an encryption key/);
  assert.match(await page.inputValue('#jwks'), /"enc"/, 'a set without secrets is kept for correcting');

  // self_signed_tls_client_auth: garbage and expired certificates.
  const withCertificate = (pem) => register(async () => {
    await page.selectOption('#auth_method', 'self_signed_tls_client_auth');
    await page.fill('#tls_client_certificate', pem);
  });
  for (const [label, pem, pattern] of [
    ['garbage', GARBAGE_PEM, /not an X\.509 certificate/],
    ['expired', EXPIRED_PEM, /expired on 2021-01-01/],
  ]) {
    response = await withCertificate(pem);
    assert.equal(response.status(), 422, label);
    assert.match(await problems(page), pattern, label);
  }
  assert.deepEqual(await sites(), before, 'nothing registered');
  const trail = await apiJson(server, token, '/tenants/demo/audit-events?limit=500');
  assert.ok(!JSON.stringify(trail).includes(PRIVATE_SCALAR), 'the secret is not in the audit trail');

  // The honest twins: kept and shown back.
  response = await register(async () => {
    await page.selectOption('#auth_method', 'private_key_jwt');
    await page.fill('#jwks', JSON.stringify({ keys: [{ ...PUBLIC_EC, use: 'sig', kid: 'k1' }] }));
    await page.fill('#scopes', 'openid api.read');
    await page.fill('#client_id', 'demo.keyed');
  });
  assert.equal(response.status(), 201, await problems(page));
  const keyed = await apiJson(server, token, '/tenants/demo/oidc-clients/demo.keyed');
  assert.equal(keyed.has_jwks, true);
  assert.deepEqual(keyed.scopes, ['openid', 'api.read']);
  await page.goto(`${server.mtls}/console/t/demo/sites/demo.keyed`);
  assert.match(await page.inputValue('#jwks'), /"kid": "k1"/);
  // A made-up scope on the site's page saves nothing.
  await page.fill('#scopes', 'openid bogus');
  const [edit] = await Promise.all([page.waitForNavigation(), page.click('#site-save')]);
  assert.equal(edit.status(), 422);
  assert.match(await problems(page), /`bogus` is not a scope Mamori offers/);
  assert.deepEqual((await apiJson(server, token, '/tenants/demo/oidc-clients/demo.keyed')).scopes, ['openid', 'api.read']);

  const current = certificate(dir, 'client');
  response = await register(async () => {
    await page.selectOption('#auth_method', 'self_signed_tls_client_auth');
    await page.fill('#tls_client_certificate', current);
    await page.fill('#client_id', 'demo.mtls');
  });
  assert.equal(response.status(), 201, await problems(page));
  const mtls = await apiJson(server, token, '/tenants/demo/oidc-clients/demo.mtls');
  assert.equal(mtls.tls_client_certificate_sha256.length, 1);
  await page.goto(`${server.mtls}/console/t/demo/sites/demo.mtls`);
  assert.equal(await text(page, '.site-tls-fingerprint'), mtls.tls_client_certificate_sha256[0], 'the kept certificate is shown');

  // SAML: an expired signing certificate, and encryption for an EC key.
  const sps = async () => (await apiJson(server, token, '/tenants/demo/saml-sps')).length;
  const spsBefore = await sps();
  const upload = async (xml, encrypt) => {
    await page.goto(`${server.mtls}/console/t/demo/saml-sps/new`);
    await page.setInputFiles('#metadata', { name: 'sp.xml', mimeType: 'application/samlmetadata+xml', buffer: Buffer.from(xml) });
    await page.fill('#name', 'Rules SP');
    if (encrypt) await page.check('#encrypt_assertion');
    const [r] = await Promise.all([page.waitForNavigation(), page.click('#saml-sp-new-submit')]);
    return r;
  };
  response = await upload(metadata('https://old.sp.test/md', 'signing', EXPIRED_PEM), false);
  assert.equal(response.status(), 422);
  assert.match(await problems(page), /expired on 2021-01-01/);
  response = await upload(metadata('https://ec.sp.test/md', 'encryption', certificate(dir, 'ec-sp')), true);
  assert.equal(response.status(), 422);
  assert.match(await problems(page), /encryption needs RSA/);
  assert.equal(await sps(), spsBefore, 'nothing registered');
  await upload(metadata('https://rsa.sp.test/md', 'encryption', certificate(dir, 'rsa-sp', ['-newkey', 'rsa:2048'])), true);
  assert.equal(await text(page, '#notice'), 'The service provider has been registered.');
  assert.equal(await sps(), spsBefore + 1);

  // In Japanese.
  const ja = await openConsole(t, server, admin, { locale: 'ja-JP', acceptLanguage: 'ja' });
  await ja.page.goto(`${server.mtls}/console/t/demo/sites/new`);
  await ja.page.fill('#name', 'ルール');
  await ja.page.fill('#redirect_uris', 'https://rp.example.test/cb');
  await ja.page.fill('#scopes', 'openid bogus');
  const [jaResponse] = await Promise.all([ja.page.waitForNavigation(), ja.page.click('#site-submit')]);
  assert.equal(jaResponse.status(), 422);
  assert.match(await problems(ja.page), /スコープ: `bogus` は Mamori が提供するスコープ（.*）ではありません/);
  await ja.page.goto(`${server.mtls}/console/t/demo/sites/new`);
  await ja.page.fill('#name', 'ルール');
  await ja.page.fill('#redirect_uris', 'https://rp.example.test/cb');
  await ja.page.selectOption('#auth_method', 'self_signed_tls_client_auth');
  await ja.page.fill('#tls_client_certificate', EXPIRED_PEM);
  const [jaCert] = await Promise.all([ja.page.waitForNavigation(), ja.page.click('#site-submit')]);
  assert.equal(jaCert.status(), 422);
  assert.match(await problems(ja.page), /2021-01-01.*期限が切れています/);
  assert.deepEqual((await sites()).length, before.length + 2);
});
