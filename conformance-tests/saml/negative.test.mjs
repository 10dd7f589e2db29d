// Hostile and broken requests against the real binary, without a browser: every one is
// refused — with a page when the request cannot be trusted, with a signed SAML status to
// the ACS from metadata when it can — and the server keeps serving.
//
// Requests are made here: Redirect-binding signatures with node:crypto, POST-binding XML
// signatures with the xmlsec1 command line.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deflateRawSync } from 'node:zlib';

import { startServer, tempDir } from '../browser/harness.mjs';
import { RSA_SHA1, authnRequest as anyAuthnRequest, b64cert, enc, get, newId, outcome, post, redirectQuery, template, xmlsecSign } from './requests.mjs';
import { idpEntityId, idpMetadata, request, spKeyPair, xmlsecVerify } from './sp.mjs';

const SP = 'https://sp.negative.example/metadata';
const ACS = 'https://sp.negative.example/acs';

function spMetadata(entityId, certPem, { signed = true } = {}) {
  return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}">
  <md:SPSSODescriptor AuthnRequestsSigned="${signed}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${b64cert(certPem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${entityId.replace('/metadata', '/slo')}"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${entityId.replace('/metadata', '/acs')}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`;
}

/** An AuthnRequest from this file's service provider. */
const authnRequest = (server, options = {}) => anyAuthnRequest(server, { issuer: SP, ...options });

test('hostile and invalid SAML requests are refused', async (t) => {
  const server = await startServer(t);
  const dir = tempDir(t, 'mamori-saml-neg-');
  const keys = spKeyPair(t, 'negative-sp');
  const other = spKeyPair(t, 'attacker');
  const mdPath = join(dir, 'sp.xml');
  writeFileSync(mdPath, spMetadata(SP, keys.cert));
  server.cli('admin', 'saml-sp', 'add', '--tenant', 'demo', '--metadata', mdPath);
  const idp = await idpMetadata(t, server);
  const SSO = '/t/demo/saml/sso';

  await t.test('a well-formed signed request is accepted (baseline)', async () => {
    const res = outcome(await get(server, SSO, redirectQuery(authnRequest(server), { keyPem: keys.key, relayState: 'rs' })));
    assert.equal(res.kind, 'redirect', JSON.stringify(res));
    assert.match(res.location, /\/saml\/resume\//);
    const posted = outcome(await post(server, SSO, { SAMLRequest: Buffer.from(xmlsecSign(t, authnRequest(server, { signatureTemplate: true, id: 'post-ok' }), keys)).toString('base64') }));
    assert.equal(posted.kind, 'redirect', JSON.stringify(posted));
  });

  await t.test('unknown service provider: a page', async () => {
    const res = outcome(await get(server, SSO, redirectQuery(authnRequest(server, { issuer: 'https://unknown.example/sp' }), { keyPem: keys.key })));
    assert.deepEqual([res.kind, res.code, res.status], ['page', 'unknown_sp', 400]);
  });

  await t.test('an ACS that is not in the metadata: a page, never an answer to it', async () => {
    for (const opts of [{ acsUrl: 'https://evil.example/acs' }, { acsIndex: 7 }, { acsUrl: ACS, acsIndex: 0 }]) {
      const res = outcome(await get(server, SSO, redirectQuery(authnRequest(server, opts), { keyPem: keys.key })));
      assert.deepEqual([res.kind, res.code], ['page', 'acs'], JSON.stringify(opts));
    }
    const ok = outcome(await get(server, SSO, redirectQuery(authnRequest(server, { acsUrl: ACS }), { keyPem: keys.key })));
    assert.equal(ok.kind, 'redirect', 'the registered ACS named by URL is fine');
  });

  await t.test('unsigned where the SP requires signatures: a page', async () => {
    const redirect = outcome(await get(server, SSO, redirectQuery(authnRequest(server))));
    assert.deepEqual([redirect.kind, redirect.code], ['page', 'signature']);
    const posted = outcome(await post(server, SSO, { SAMLRequest: Buffer.from(authnRequest(server)).toString('base64') }));
    assert.deepEqual([posted.kind, posted.code], ['page', 'signature']);
  });

  await t.test('forged, tampered and weak signatures: a page', async () => {
    const forged = outcome(await get(server, SSO, redirectQuery(authnRequest(server), { keyPem: other.key })));
    assert.deepEqual([forged.kind, forged.code], ['page', 'signature'], 'signed by another key');
    const tampered = redirectQuery(authnRequest(server), { keyPem: keys.key, relayState: 'original' }).replace('RelayState=original', 'RelayState=changed');
    assert.deepEqual(Object.values(outcome(await get(server, SSO, tampered))).slice(0, 2), ['page', 'signature'], 'RelayState changed after signing');
    const sha1 = outcome(await get(server, SSO, redirectQuery(authnRequest(server), { keyPem: keys.key, sigAlg: RSA_SHA1, hash: 'sha1' })));
    assert.deepEqual([sha1.kind, sha1.code], ['page', 'signature'], 'RSA-SHA1 is refused');
    const signed = xmlsecSign(t, authnRequest(server, { signatureTemplate: true, id: 'post-tampered' }), keys);
    const changed = signed.replace('AllowCreate="true"', 'AllowCreate="false"');
    assert.notEqual(changed, signed);
    const res = outcome(await post(server, SSO, { SAMLRequest: Buffer.from(changed).toString('base64') }));
    assert.deepEqual([res.kind, res.code], ['page', 'signature'], 'POST content changed after signing');
    const foreign = xmlsecSign(t, authnRequest(server, { signatureTemplate: true, id: 'post-foreign' }), other);
    const res2 = outcome(await post(server, SSO, { SAMLRequest: Buffer.from(foreign).toString('base64') }));
    assert.deepEqual([res2.kind, res2.code], ['page', 'signature'], 'POST signed by another key');
  });

  await t.test('wrapped signatures (XSW): a page', async () => {
    const genuine = xmlsecSign(t, authnRequest(server, { signatureTemplate: true, id: 'genuine1' }), keys);
    // 1. The genuine signed request hidden in the Extensions of a forged, unsigned one.
    const wrapped = authnRequest(server, { id: 'forged1', acsUrl: ACS, inner: `<samlp:Extensions>${genuine}</samlp:Extensions>` });
    let res = outcome(await post(server, SSO, { SAMLRequest: Buffer.from(wrapped).toString('base64') }));
    assert.deepEqual([res.kind, res.code], ['page', 'signature'], 'signature inside Extensions');
    // 2. The genuine signature moved onto a forged root, the genuine request inside it.
    const sig = genuine.match(/<ds:Signature[\s\S]*<\/ds:Signature>/)[0];
    const unsignedGenuine = genuine.replace(sig, '');
    const moved = authnRequest(server, { id: 'forged2', inner: `${sig}<samlp:Extensions>${unsignedGenuine}</samlp:Extensions>` });
    res = outcome(await post(server, SSO, { SAMLRequest: Buffer.from(moved).toString('base64') }));
    assert.deepEqual([res.kind, res.code], ['page', 'signature'], 'signature referencing a nested element');
    // 3. Duplicate IDs: a forged twin of the genuine element.
    const twin = genuine.replace('<samlp:NameIDPolicy', `<samlp:Extensions><samlp:AuthnRequest ID="genuine1" Version="2.0" IssueInstant="${new Date().toISOString()}"/></samlp:Extensions><samlp:NameIDPolicy`);
    res = outcome(await post(server, SSO, { SAMLRequest: Buffer.from(twin).toString('base64') }));
    assert.deepEqual([res.kind, res.code], ['page', 'malformed'], 'duplicate ID');
  });

  await t.test('a replayed request ID: RequestDenied to the registered ACS, signed', async () => {
    const query = redirectQuery(authnRequest(server, { id: 'replayed-1' }), { keyPem: keys.key });
    assert.equal(outcome(await get(server, SSO, query)).kind, 'redirect');
    const res = outcome(await get(server, SSO, query));
    assert.equal(res.kind, 'status', JSON.stringify(res));
    assert.equal(res.action, ACS);
    assert.deepEqual(res.codes, ['Requester', 'RequestDenied']);
    assert.match(res.xml, /InResponseTo="replayed-1"/);
    const file = join(dir, 'replay.xml');
    writeFileSync(file, res.xml);
    const checked = xmlsecVerify(file, idp.signingCert, 'Response');
    assert.ok(checked.ok, checked.output);
    // The same ID again over POST is a replay too.
    const posted = outcome(await post(server, SSO, { SAMLRequest: Buffer.from(xmlsecSign(t, authnRequest(server, { signatureTemplate: true, id: 'replayed-1' }), keys)).toString('base64') }));
    assert.deepEqual(posted.codes, ['Requester', 'RequestDenied']);
    // A request refused for what it asks spends its ID as well: sent again it is a
    // replay, not a second chance (nor, once the SP's registration changes, a success).
    const codes = async (q) => outcome(await get(server, SSO, q)).codes;
    const passive = redirectQuery(authnRequest(server, { id: 'refused-passive', attrs: 'ForceAuthn="true" IsPassive="true"' }), { keyPem: keys.key });
    assert.deepEqual(await codes(passive), ['Responder', 'NoPassive']);
    assert.deepEqual(await codes(passive), ['Requester', 'RequestDenied']);
    const subject = redirectQuery(authnRequest(server, { id: 'refused-subject', inner: '<saml:Subject><saml:NameID>someone</saml:NameID></saml:Subject>' }), { keyPem: keys.key });
    assert.deepEqual(await codes(subject), ['Requester', 'RequestUnsupported']);
    assert.deepEqual(await codes(subject), ['Requester', 'RequestDenied']);
    // Honest: another request ID from the same SP still goes through.
    assert.equal(outcome(await get(server, SSO, redirectQuery(authnRequest(server, { id: 'after-refusals' }), { keyPem: keys.key }))).kind, 'redirect');
  });

  await t.test('a stale or future IssueInstant: RequestDenied', async () => {
    for (const minutes of [-10, 5]) {
      const instant = new Date(Date.now() + minutes * 60_000);
      const res = outcome(await get(server, SSO, redirectQuery(authnRequest(server, { instant }), { keyPem: keys.key })));
      assert.equal(res.kind, 'status', `${minutes} min: ${JSON.stringify(res)}`);
      assert.deepEqual(res.codes, ['Requester', 'RequestDenied']);
    }
  });

  await t.test('Version 1.1: VersionMismatch', async () => {
    const res = outcome(await get(server, SSO, redirectQuery(authnRequest(server, { version: '1.1' }), { keyPem: keys.key })));
    assert.deepEqual(res.codes, ['VersionMismatch']);
  });

  await t.test('XXE and billion laughs are refused before any parser, quickly', async () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${authnRequest(server).replace('</saml:Issuer>', '&xxe;</saml:Issuer>')}`;
    const lol = ['<!ENTITY lol0 "lol">'];
    for (let i = 1; i < 10; i += 1) lol.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
    const laughs = `<?xml version="1.0"?><!DOCTYPE r [${lol.join('')}]>${authnRequest(server).replace('</saml:Issuer>', '&lol9;</saml:Issuer>')}`;
    const external = authnRequest(server).replace('</saml:Issuer>', '&ext;</saml:Issuer>');
    for (const [name, xml] of [['xxe', xxe], ['billion laughs', laughs], ['undeclared entity', external]]) {
      const started = Date.now();
      for (const res of [
        outcome(await post(server, SSO, { SAMLRequest: Buffer.from(xml).toString('base64') })),
        outcome(await get(server, SSO, redirectQuery(xml, { keyPem: keys.key }))),
      ]) {
        assert.deepEqual([res.kind, res.code], ['page', 'malformed'], name);
      }
      assert.ok(Date.now() - started < 5000, `${name} answered quickly`);
    }
    const slo = outcome(await post(server, '/t/demo/saml/slo', { SAMLRequest: Buffer.from(xxe.replaceAll('AuthnRequest', 'LogoutRequest')).toString('base64') }));
    assert.deepEqual([slo.kind, slo.code], ['page', 'malformed'], 'LogoutRequest with a DTD');
  });

  await t.test('oversized, deep and compressed-bomb messages are refused', async () => {
    const deep = authnRequest(server).replace('</saml:Issuer>', `</saml:Issuer><samlp:Extensions>${'<x>'.repeat(5000)}${'</x>'.repeat(5000)}</samlp:Extensions>`);
    let res = outcome(await post(server, SSO, { SAMLRequest: Buffer.from(deep).toString('base64') }));
    assert.deepEqual([res.kind, res.code], ['page', 'malformed'], 'deep nesting');
    const bomb = `SAMLRequest=${enc(deflateRawSync(Buffer.alloc(20 * 1024 * 1024, 'a')).toString('base64'))}`;
    res = outcome(await get(server, SSO, bomb));
    assert.deepEqual([res.kind, res.code], ['page', 'malformed'], 'DEFLATE bomb');
    const big = authnRequest(server).replace('</saml:Issuer>', `</saml:Issuer><samlp:Extensions><x>${'a'.repeat(200 * 1024)}</x></samlp:Extensions>`);
    res = outcome(await post(server, SSO, { SAMLRequest: Buffer.from(big).toString('base64') }));
    assert.deepEqual([res.kind, res.code], ['page', 'malformed'], 'oversized');
    res = outcome(await post(server, SSO, { SAMLRequest: 'not base64 at all!' }));
    assert.deepEqual([res.kind, res.code], ['page', 'malformed'], 'garbage');
    const wrongRoot = authnRequest(server).replaceAll('AuthnRequest', 'LogoutRequest');
    res = outcome(await get(server, SSO, redirectQuery(wrongRoot, { keyPem: keys.key })));
    assert.deepEqual([res.kind, res.code], ['page', 'malformed'], 'a LogoutRequest sent to the SSO endpoint');
  });

  await t.test('logout requests must be signed', async () => {
    const logout = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${newId()}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${server.main}/t/demo/saml/slo"><saml:Issuer>${SP}</saml:Issuer><saml:NameID>x</saml:NameID></samlp:LogoutRequest>`;
    let res = outcome(await get(server, '/t/demo/saml/slo', redirectQuery(logout)));
    assert.deepEqual([res.kind, res.code], ['page', 'signature'], 'unsigned LogoutRequest');
    res = outcome(await get(server, '/t/demo/saml/slo', redirectQuery(logout, { keyPem: other.key })));
    assert.deepEqual([res.kind, res.code], ['page', 'signature'], 'forged LogoutRequest');
    res = outcome(await get(server, '/t/demo/saml/slo', redirectQuery(logout, { keyPem: keys.key })));
    assert.equal(res.kind, 'redirect', 'a signed one for an unknown session is answered with Success');
    assert.match(res.location, /^https:\/\/sp\.negative\.example\/slo\?SAMLResponse=/);
    // HTTP-POST: an enveloped XML signature, checked by xmlsec; tampering is caught.
    const postId = newId();
    const postLogout = logout.replace(/ID="[^"]+"/, `ID="${postId}"`).replace('</saml:Issuer>', `</saml:Issuer>${template(postId)}`);
    const signedLogout = xmlsecSign(t, postLogout, keys, 'LogoutRequest');
    res = outcome(await post(server, '/t/demo/saml/slo', { SAMLRequest: Buffer.from(signedLogout).toString('base64') }));
    assert.equal(res.kind, 'redirect', `a POST-signed LogoutRequest is accepted: ${JSON.stringify(res)}`);
    const tamperedLogout = xmlsecSign(t, postLogout.replace(postId, `${postId}b`).replace(`#${postId}`, `#${postId}b`), keys, 'LogoutRequest').replace('<saml:NameID>x<', '<saml:NameID>y<');
    res = outcome(await post(server, '/t/demo/saml/slo', { SAMLRequest: Buffer.from(tamperedLogout).toString('base64') }));
    assert.deepEqual([res.kind, res.code], ['page', 'signature'], 'NameID changed after signing');
    const response = `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="${newId()}" Version="2.0" IssueInstant="${new Date().toISOString()}" InResponseTo="_nothing"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">${SP}</saml:Issuer></samlp:LogoutResponse>`;
    res = outcome(await get(server, '/t/demo/saml/slo', `${redirectQuery(response, { param: 'SAMLResponse' })}&RelayState=made-up`));
    assert.deepEqual([res.kind, res.code], ['page', 'expired'], 'a LogoutResponse to no logout under way');
  });

  await t.test('key rotation: both keys published, the new one signs', async () => {
    server.cli('admin', 'saml-keys', 'rotate', '--grace-days', '0');
    // A node re-reads the active key at most 10 s after another process rotated it.
    await new Promise((r) => setTimeout(r, 11_000));
    const md = await request(server, idpEntityId(server));
    const certs = [...md.body.matchAll(/<md:KeyDescriptor use="signing">[\s\S]*?<ds:X509Certificate>([\s\S]*?)<\/ds:X509Certificate>/g)].map((m) => m[1]);
    assert.equal(certs.length, 2, 'old and new signing certificates are published');
    const pemOf = (b64, name) => {
      const path = join(dir, name);
      writeFileSync(path, `-----BEGIN CERTIFICATE-----\n${b64.replace(/\s+/g, '').match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`);
      return path;
    };
    const [fresh, old] = [pemOf(certs[0], 'new.pem'), pemOf(certs[1], 'old.pem')];
    assert.equal(readFileSync(old, 'utf8'), readFileSync(idp.signingCert, 'utf8'), 'the previous key is still listed');
    const res = outcome(await get(server, SSO, redirectQuery(authnRequest(server, { instant: new Date(Date.now() - 3_600_000) }), { keyPem: keys.key })));
    const file = join(dir, 'after-rotation.xml');
    writeFileSync(file, res.xml);
    assert.ok(xmlsecVerify(file, fresh, 'Response').ok, 'signed with the new key');
    assert.equal(xmlsecVerify(file, old, 'Response').ok, false, 'not with the old one');
    const mdFile = join(dir, 'md-after.xml');
    writeFileSync(mdFile, md.body);
    assert.ok(xmlsecVerify(mdFile, fresh, 'EntityDescriptor').ok, 'the metadata is signed with the new key');
  });

  await t.test('the server still serves after all of this', async () => {
    const md = await request(server, idpEntityId(server));
    assert.equal(md.status, 200);
    assert.equal(createHash('sha256').update(md.body).digest('hex').length, 64);
  });
});

test('a tenant deleted while its SPs still send requests gets no response signed in its name', async (t) => {
  const server = await startServer(t);
  const dir = tempDir(t, 'mamori-saml-gone-');
  const keys = spKeyPair(t, 'gone-sp');
  server.cli('admin', 'tenant', 'create', '--slug', 'gone', '--name', 'Gone');
  const entity = 'https://sp.gone.example/metadata';
  const md = join(dir, 'sp.xml');
  writeFileSync(md, spMetadata(entity, keys.cert, { signed: false }));
  server.cli('admin', 'saml-sp', 'add', '--tenant', 'gone', '--metadata', md);
  const sso = '/t/gone/saml/sso';
  const query = (id) => redirectQuery(anyAuthnRequest(server, { issuer: entity, id, destination: `${server.main}${sso}` }));
  // Honest: the tenant answers (and the node now remembers it for a few seconds).
  assert.equal(outcome(await get(server, sso, query('before-deletion'))).kind, 'redirect');
  server.cli('admin', 'tenant', 'delete', '--tenant', 'gone', '--yes');
  // Hostile: requests at once after the deletion, while the node may still remember the
  // tenant or its SP. Whichever it notices first, the answer is a refusal page.
  for (const id of ['after-1', 'after-2', 'after-3']) {
    const res = outcome(await get(server, sso, query(id)));
    assert.notEqual(res.kind, 'status', `a response signed for a deleted tenant: ${res.xml}`);
    assert.notEqual(res.kind, 'redirect', JSON.stringify(res));
    assert.ok(res.status >= 400 && res.status < 500, JSON.stringify(res));
  }
});
