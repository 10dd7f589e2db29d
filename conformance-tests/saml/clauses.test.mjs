// SAML clauses checked against the real binary without a browser, each hostile request
// beside its honest twin (conformance-tests/clauses/saml-*.md cite these): Destination
// checks (Core §3.2.1, Bindings §3.4.5.2/§3.5.5.2), Subject and ForceAuthn+IsPassive in
// AuthnRequests (Core §3.4.1), RelayState returned exactly (Bindings §3.1.1), caching
// headers on SAML messages (Bindings §3.4.5.1/§3.5.5.1), and the IdP metadata's root
// attributes (Metadata §2.3.2, §2.4.1.1, §2.4.3).

import assert from 'node:assert/strict';
import { sign as cryptoSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deflateRawSync } from 'node:zlib';

import { startServer, tempDir } from '../browser/harness.mjs';
import { RSA_SHA256, authnRequest, b64cert, enc, get, logoutRequest, outcome, post, redirectQuery, xmlsecSign } from './requests.mjs';
import { idpEntityId, request, spKeyPair } from './sp.mjs';

const SIGNED_SP = 'https://sp.clauses.example/metadata';
const UNSIGNED_SP = 'https://unsigned.clauses.example/metadata';
const SSO_PATH = '/t/demo/saml/sso';
const SLO_PATH = '/t/demo/saml/slo';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

function spMetadata(entityId, certPem, { signed }) {
  const base = entityId.replace('/metadata', '');
  return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}">
  <md:SPSSODescriptor AuthnRequestsSigned="${signed}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${b64cert(certPem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="${REDIRECT}" Location="${base}/slo"/>
    <md:AssertionConsumerService Binding="${POST}" Location="${base}/acs" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`;
}

/** A signed Redirect query whose RelayState is sent exactly as `rawRelayState` (already URL-encoded). */
function rawRelayQuery(xml, keyPem, rawRelayState) {
  let q = `SAMLRequest=${enc(deflateRawSync(Buffer.from(xml)).toString('base64'))}&RelayState=${rawRelayState}&SigAlg=${enc(RSA_SHA256)}`;
  const signature = cryptoSign('sha256', Buffer.from(q), readFileSync(keyPem));
  return `${q}&Signature=${enc(signature.toString('base64'))}`;
}

test('SAML clauses without a browser', async (t) => {
  const server = await startServer(t);
  const dir = tempDir(t, 'mamori-saml-clauses-');
  const keys = spKeyPair(t, 'clauses-sp');
  for (const [entity, signed] of [[SIGNED_SP, true], [UNSIGNED_SP, false]]) {
    const path = join(dir, `${signed ? 'signed' : 'unsigned'}.xml`);
    writeFileSync(path, spMetadata(entity, keys.cert, { signed }));
    server.cli('admin', 'saml-sp', 'add', '--tenant', 'demo', '--metadata', path);
  }
  const authn = (options = {}) => authnRequest(server, { issuer: SIGNED_SP, ...options });
  const logout = (options = {}) => logoutRequest(server, { issuer: SIGNED_SP, ...options });
  const signedGet = (path, xml, options = {}) => get(server, path, redirectQuery(xml, { keyPem: keys.key, ...options }));
  const signedPost = (path, xml, root) => post(server, path, { SAMLRequest: Buffer.from(xmlsecSign(t, xml, keys, root)).toString('base64') });
  const elsewhere = `${server.main}/t/other/saml`;

  await t.test('Destination is checked: the right one passes, another or a missing one on a signed request is refused', async () => {
    // AuthnRequest over HTTP-Redirect.
    assert.equal(outcome(await signedGet(SSO_PATH, authn())).kind, 'redirect', 'the right Destination');
    for (const [what, destination] of [['another endpoint', `${elsewhere}/sso`], ['no Destination on a signed request', null]]) {
      const res = outcome(await signedGet(SSO_PATH, authn({ destination })));
      assert.deepEqual([res.kind, res.code], ['page', 'destination'], `Redirect, ${what}: ${JSON.stringify(res)}`);
    }
    // AuthnRequest over HTTP-POST (XML signature).
    assert.equal(outcome(await signedPost(SSO_PATH, authn({ id: '_dest_post_ok', signatureTemplate: true }))).kind, 'redirect', 'POST, the right Destination');
    for (const [what, destination] of [['another endpoint', `${elsewhere}/sso`], ['no Destination on a signed request', null]]) {
      const res = outcome(await signedPost(SSO_PATH, authn({ id: `_dest_post_${destination ? 'other' : 'none'}`, signatureTemplate: true, destination })));
      assert.deepEqual([res.kind, res.code], ['page', 'destination'], `POST, ${what}: ${JSON.stringify(res)}`);
    }
    // Unsigned (an SP that does not sign): Destination is optional, but checked when present.
    const unsigned = (options) => get(server, SSO_PATH, redirectQuery(authnRequest(server, { issuer: UNSIGNED_SP, ...options })));
    assert.equal(outcome(await unsigned({ destination: null })).kind, 'redirect', 'unsigned, no Destination');
    const wrong = outcome(await unsigned({ destination: `${elsewhere}/sso` }));
    assert.deepEqual([wrong.kind, wrong.code], ['page', 'destination'], 'unsigned, another endpoint');
    // LogoutRequest.
    const ok = outcome(await signedGet(SLO_PATH, logout()));
    assert.deepEqual([ok.kind, ok.codes], ['redirect', ['Success']], `LogoutRequest, the right Destination: ${JSON.stringify(ok)}`);
    for (const destination of [`${elsewhere}/slo`, `${server.main}/t/demo/saml/sso`, null]) {
      const res = outcome(await signedGet(SLO_PATH, logout({ destination })));
      assert.deepEqual([res.kind, res.code], ['page', 'destination'], `LogoutRequest, Destination ${destination}`);
    }
  });

  await t.test('a Subject in the AuthnRequest is RequestUnsupported', async () => {
    const honest = outcome(await signedGet(SSO_PATH, authn()));
    assert.equal(honest.kind, 'redirect', JSON.stringify(honest));
    const subject = '<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">alice</saml:NameID></saml:Subject>';
    const res = outcome(await signedGet(SSO_PATH, authn({ inner: subject })));
    assert.equal(res.kind, 'status', JSON.stringify(res));
    assert.equal(res.action, 'https://sp.clauses.example/acs');
    assert.deepEqual(res.codes, ['Requester', 'RequestUnsupported']);
    assert.doesNotMatch(res.xml, /<saml2:Assertion/, 'no assertion about anyone');
  });

  await t.test('ProtocolBinding: HTTP-POST passes, another is UnsupportedBinding', async () => {
    const honest = outcome(await signedGet(SSO_PATH, authn({ attrs: `ProtocolBinding="${POST}"` })));
    assert.equal(honest.kind, 'redirect', JSON.stringify(honest));
    for (const binding of ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact', REDIRECT]) {
      const res = outcome(await signedGet(SSO_PATH, authn({ attrs: `ProtocolBinding="${binding}"` })));
      assert.equal(res.kind, 'status', `${binding}: ${JSON.stringify(res)}`);
      assert.equal(res.action, 'https://sp.clauses.example/acs', 'answered over HTTP-POST at the registered ACS');
      assert.deepEqual(res.codes, ['Requester', 'UnsupportedBinding'], binding);
    }
  });

  await t.test('LogoutRequest identifiers: a NameID is looked up, a BaseID is RequestUnsupported, none is UnknownPrincipal, no Issuer a page', async () => {
    const honest = outcome(await signedGet(SLO_PATH, logout()));
    assert.deepEqual([honest.kind, honest.codes], ['redirect', ['Success']], JSON.stringify(honest));
    const base = outcome(await signedGet(SLO_PATH, logout().replace('<saml:NameID>x</saml:NameID>', '<saml:BaseID NameQualifier="q"/>')));
    assert.deepEqual([base.kind, base.codes], ['redirect', ['Requester', 'RequestUnsupported']], JSON.stringify(base));
    const none = outcome(await signedGet(SLO_PATH, logout().replace('<saml:NameID>x</saml:NameID>', '')));
    assert.deepEqual([none.kind, none.codes], ['redirect', ['Requester', 'UnknownPrincipal']], JSON.stringify(none));
    const anonymous = outcome(await signedGet(SLO_PATH, logout().replace(`<saml:Issuer>${SIGNED_SP}</saml:Issuer>`, '')));
    assert.deepEqual([anonymous.kind, anonymous.code], ['page', 'unknown_sp'], JSON.stringify(anonymous));
  });

  await t.test('ForceAuthn with IsPassive is NoPassive', async () => {
    for (const attrs of ['ForceAuthn="true"', 'IsPassive="true"', 'ForceAuthn="true" IsPassive="false"']) {
      const res = outcome(await signedGet(SSO_PATH, authn({ attrs })));
      assert.equal(res.kind, 'redirect', `${attrs}: ${JSON.stringify(res)}`);
    }
    const res = outcome(await signedGet(SSO_PATH, authn({ attrs: 'ForceAuthn="true" IsPassive="true"' })));
    assert.equal(res.kind, 'status', JSON.stringify(res));
    assert.deepEqual(res.codes, ['Responder', 'NoPassive']);
  });

  await t.test('RelayState comes back exactly in the LogoutResponse', async () => {
    const relayState = 'back to /päge?x=1&y=2+3%';
    const res = outcome(await signedGet(SLO_PATH, logout(), { relayState }));
    assert.equal(res.kind, 'redirect', JSON.stringify(res));
    assert.equal(new URL(res.location).searchParams.get('RelayState'), relayState, 'over Redirect');
    const posted = await post(server, SLO_PATH, {
      SAMLRequest: Buffer.from(xmlsecSign(t, logout({ id: '_relay_post', signatureTemplate: true }), keys, 'LogoutRequest')).toString('base64'),
      RelayState: relayState,
    });
    const fromPost = outcome(posted);
    assert.equal(fromPost.kind, 'redirect', JSON.stringify(fromPost));
    assert.equal(new URL(fromPost.location).searchParams.get('RelayState'), relayState, 'from a POST request');
    // Bytes that are not text would come back altered: refused instead.
    const altered = outcome(await get(server, SLO_PATH, rawRelayQuery(logout(), keys.key, 'x%FFy')));
    assert.deepEqual([altered.kind, altered.code], ['page', 'malformed'], JSON.stringify(altered));
    const honest = outcome(await get(server, SLO_PATH, rawRelayQuery(logout(), keys.key, 'x%C3%A9y')));
    assert.equal(new URL(honest.location).searchParams.get('RelayState'), 'xéy');
  });

  await t.test('SAML messages are never cached: Cache-Control no-cache, no-store and Pragma no-cache', async () => {
    const check = (res, what) => {
      const cacheControl = (res.headers['cache-control'] ?? '').split(',').map((s) => s.trim());
      assert.ok(cacheControl.includes('no-cache') && cacheControl.includes('no-store'), `${what}: Cache-Control ${res.headers['cache-control']}`);
      assert.equal(res.headers.pragma, 'no-cache', `${what}: Pragma`);
    };
    const redirect = await signedGet(SLO_PATH, logout());
    assert.equal(outcome(redirect).kind, 'redirect');
    check(redirect, 'a LogoutResponse over HTTP-Redirect');
    const page = await signedGet(SSO_PATH, authn({ attrs: 'ForceAuthn="true" IsPassive="true"' }));
    assert.equal(outcome(page).kind, 'status');
    check(page, 'a Response over HTTP-POST');
  });

  await t.test('the IdP metadata: validUntil and cacheDuration on the root, SSO endpoints without ResponseLocation, EncryptionMethod', async () => {
    const md = await request(server, idpEntityId(server));
    assert.equal(md.status, 200);
    const root = md.body.match(/<md:EntityDescriptor [^>]*>/)[0];
    const validUntil = root.match(/validUntil="([^"]+)"/)?.[1];
    assert.match(validUntil ?? '', /Z$/, 'validUntil in UTC');
    const days = (Date.parse(validUntil) - Date.now()) / 86_400_000;
    assert.ok(days > 6 && days <= 7.01, `validUntil ${validUntil}`);
    assert.match(root, /cacheDuration="PT1H"/);
    const idp = md.body.match(/<md:IDPSSODescriptor [^>]*>/)[0];
    assert.match(idp, /protocolSupportEnumeration="[^"]*urn:oasis:names:tc:SAML:2.0:protocol/);
    const sso = [...md.body.matchAll(/<md:SingleSignOnService [^>]*>/g)].map((m) => m[0]);
    assert.equal(sso.length, 2);
    for (const e of sso) assert.doesNotMatch(e, /ResponseLocation/, e);
    const maxAge = Number(md.headers['cache-control']?.match(/max-age=(\d+)/)?.[1]);
    assert.ok(maxAge > 0 && maxAge <= 3600, `HTTP caching within cacheDuration: ${md.headers['cache-control']}`);
    assert.equal((await request(server, idpEntityId(server, 'no-such-tenant'))).status, 404, 'an unknown tenant has no metadata');
    const encryption = md.body.match(/<md:KeyDescriptor use="encryption">[\s\S]*?<\/md:KeyDescriptor>/)[0];
    assert.match(encryption, /<md:EncryptionMethod Algorithm="http:\/\/www.w3.org\/2009\/xmlenc11#aes256-gcm"\/>/);
    assert.match(encryption, /<md:EncryptionMethod Algorithm="http:\/\/www.w3.org\/2001\/04\/xmlenc#rsa-oaep-mgf1p"\/>/);
  });

  await t.test('SP metadata: only a SAML 2.0 SPSSODescriptor with an AssertionConsumerService is registered', () => {
    const register = (name, edit) => {
      const path = join(dir, `${name}.xml`);
      writeFileSync(path, edit(spMetadata(`https://${name}.example/metadata`, keys.cert, { signed: true })));
      return server.cli('admin', 'saml-sp', 'add', '--tenant', 'demo', '--metadata', path);
    };
    register('saml2-sp', (xml) => xml);
    assert.throws(() => register('saml11-sp', (xml) => xml.replace('urn:oasis:names:tc:SAML:2.0:protocol', 'urn:oasis:names:tc:SAML:1.1:protocol')), /SAML 2\.0 SPSSODescriptor/);
    assert.throws(() => register('no-acs-sp', (xml) => xml.replace(/<md:AssertionConsumerService [^>]*\/>/, '')), /no AssertionConsumerService/);
  });
});
