// Hardening against the real binary, without a browser, each hostile request beside its
// honest twin: an SP's encryption-only key never authenticates its messages; request
// times at the ends of the calendar are answered, never a crash; oversized messages get
// Mamori's own page; SP endpoints that only look like loopback are refused.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { startServer, tempDir } from '../browser/harness.mjs';
import { authnRequest, b64cert, get, logoutRequest, outcome, post, redirectQuery, xmlsecSign } from './requests.mjs';
import { idpEntityId, request, spKeyPair } from './sp.mjs';

const SP = 'https://sp.hardening.example/metadata';
const ACS = 'https://sp.hardening.example/acs';
const SLO = 'https://sp.hardening.example/slo';
const SSO_PATH = '/t/demo/saml/sso';
const SLO_PATH = '/t/demo/saml/slo';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

const keyDescriptor = (use, certPem) =>
  `<md:KeyDescriptor${use ? ` use="${use}"` : ''}><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${b64cert(certPem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;

/** SP metadata with the given key descriptors and endpoint locations. */
function spMetadata(entityId, keys, { acs = ACS, slo = SLO } = {}) {
  return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}">
  <md:SPSSODescriptor AuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    ${keys.join('\n    ')}
    <md:SingleLogoutService Binding="${REDIRECT}" Location="${slo}"/>
    <md:AssertionConsumerService Binding="${POST}" Location="${acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`;
}

/**
 * A request with curl (which, like a browser, reads an answer the server gives before the
 * whole body is sent): a POST of `bodyFile` when given, else a GET. The URL goes through
 * a config file, as an oversized one is longer than a command line may be.
 * Returns {status, contentType, body, headers}.
 */
function curl(t, server, url, { bodyFile, headers = {}, version }) {
  const config = join(tempDir(t, 'mamori-curl-'), 'config');
  writeFileSync(config, `url = "${url}"\n`);
  const args = ['-s', '-S', version, '--cacert', server.devRoot, '-o', '-', '-w', '\n%{http_code} %{content_type}', '-K', config];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  if (bodyFile) args.push('-H', 'content-type: application/x-www-form-urlencoded', '--data-binary', `@${bodyFile}`);
  let out;
  try {
    out = execFileSync('curl', args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // A server that answers before reading the body may close the upload: the answer counts.
    out = err.stdout ?? '';
  }
  const cut = out.lastIndexOf('\n');
  const [status, contentType = ''] = out.slice(cut + 1).split(' ');
  return { status: Number(status), contentType, body: out.slice(0, cut), headers: {} };
}

test('SAML hardening', async (t) => {
  const server = await startServer(t);
  const dir = tempDir(t, 'mamori-saml-hardening-');
  const signing = spKeyPair(t, 'hardening-signing');
  const encryption = spKeyPair(t, 'hardening-encryption');
  const mdPath = join(dir, 'sp.xml');
  writeFileSync(mdPath, spMetadata(SP, [keyDescriptor('signing', signing.cert), keyDescriptor('encryption', encryption.cert)]));
  server.cli('admin', 'saml-sp', 'add', '--tenant', 'demo', '--metadata', mdPath);
  const authn = (options = {}) => authnRequest(server, { issuer: SP, ...options });
  const logout = (options = {}) => logoutRequest(server, { issuer: SP, ...options });
  const postSigned = (path, xml, keys, root) =>
    post(server, path, { SAMLRequest: Buffer.from(xmlsecSign(t, xml, keys, root)).toString('base64') });

  await t.test('an encryption-only key never authenticates an AuthnRequest', async () => {
    const honest = outcome(await get(server, SSO_PATH, redirectQuery(authn(), { keyPem: signing.key })));
    assert.equal(honest.kind, 'redirect', `signing key, Redirect: ${JSON.stringify(honest)}`);
    const hostile = outcome(await get(server, SSO_PATH, redirectQuery(authn(), { keyPem: encryption.key })));
    assert.deepEqual([hostile.kind, hostile.code], ['page', 'signature'], 'encryption key, Redirect');

    const honestPost = outcome(await postSigned(SSO_PATH, authn({ id: '_post_sig', signatureTemplate: true }), signing));
    assert.equal(honestPost.kind, 'redirect', `signing key, POST: ${JSON.stringify(honestPost)}`);
    const hostilePost = outcome(await postSigned(SSO_PATH, authn({ id: '_post_enc', signatureTemplate: true }), encryption));
    assert.deepEqual([hostilePost.kind, hostilePost.code], ['page', 'signature'], 'encryption key, POST');
  });

  await t.test('an encryption-only key never authenticates a LogoutRequest', async () => {
    const honest = outcome(await get(server, SLO_PATH, redirectQuery(logout(), { keyPem: signing.key })));
    assert.equal(honest.kind, 'redirect', `signing key, Redirect: ${JSON.stringify(honest)}`);
    assert.deepEqual(honest.codes, ['Success']);
    const hostile = outcome(await get(server, SLO_PATH, redirectQuery(logout(), { keyPem: encryption.key })));
    assert.deepEqual([hostile.kind, hostile.code], ['page', 'signature'], 'encryption key, Redirect');

    const honestPost = outcome(await postSigned(SLO_PATH, logout({ id: '_lo_sig', signatureTemplate: true }), signing, 'LogoutRequest'));
    assert.equal(honestPost.kind, 'redirect', `signing key, POST: ${JSON.stringify(honestPost)}`);
    const hostilePost = outcome(await postSigned(SLO_PATH, logout({ id: '_lo_enc', signatureTemplate: true }), encryption, 'LogoutRequest'));
    assert.deepEqual([hostilePost.kind, hostilePost.code], ['page', 'signature'], 'encryption key, POST');
  });

  await t.test('signed requests cannot be required of an SP that publishes only an encryption key', () => {
    const register = (name, keys) => {
      const path = join(dir, `${name}.xml`);
      writeFileSync(path, spMetadata(`https://${name}.example/metadata`, keys, { acs: `https://${name}.example/acs`, slo: `https://${name}.example/slo` }));
      return server.cli('admin', 'saml-sp', 'add', '--tenant', 'demo', '--metadata', path);
    };
    assert.throws(() => register('encryption-only', [keyDescriptor('encryption', encryption.cert)]), /no signing certificate/);
    register('no-use', [keyDescriptor(undefined, signing.cert)]);
  });

  await t.test('LogoutRequest times at the ends of the calendar: a Requester status, no crash', async () => {
    const soon = new Date(Date.now() + 5 * 60_000).toISOString();
    const honest = outcome(await get(server, SLO_PATH, redirectQuery(logout({ notOnOrAfter: soon }), { keyPem: signing.key })));
    assert.deepEqual([honest.kind, honest.codes], ['redirect', ['Success']], `a NotOnOrAfter in 5 minutes: ${JSON.stringify(honest)}`);
    for (const notOnOrAfter of ['9999-12-31T23:59:59Z', '0001-01-01T00:00:00Z', '-0001-01-01T00:00:00Z']) {
      const res = outcome(await get(server, SLO_PATH, redirectQuery(logout({ notOnOrAfter }), { keyPem: signing.key })));
      assert.equal(res.kind, 'redirect', `NotOnOrAfter ${notOnOrAfter}: ${JSON.stringify(res)}`);
      assert.ok(res.location.startsWith(`${SLO}?SAMLResponse=`), res.location);
      assert.equal(res.codes[0], 'Requester', `NotOnOrAfter ${notOnOrAfter}: ${res.codes}`);
    }
    const far = outcome(await postSigned(SLO_PATH, logout({ id: '_lo_far', notOnOrAfter: '9999-12-31T23:59:59Z', signatureTemplate: true }), signing, 'LogoutRequest'));
    assert.deepEqual([far.kind, far.codes[0]], ['redirect', 'Requester'], `POST, NotOnOrAfter 9999: ${JSON.stringify(far)}`);
    for (const instant of ['9999-12-31T23:59:59Z', '0001-01-01T00:00:00Z']) {
      const res = outcome(await get(server, SLO_PATH, redirectQuery(logout({ instant }), { keyPem: signing.key })));
      assert.deepEqual([res.kind, res.codes[0]], ['redirect', 'Requester'], `IssueInstant ${instant}`);
    }
    assert.equal((await request(server, idpEntityId(server))).status, 200, 'the server still serves');
  });

  await t.test('AuthnRequest times at the ends of the calendar: a Requester status to the ACS', async () => {
    // +10000 is read by samael (chrono) but lies beyond `time`'s range: out of range.
    for (const instant of ['9999-12-31T23:59:59Z', '0001-01-01T00:00:00Z', '-0001-01-01T00:00:00Z', '+10000-01-01T00:00:00Z']) {
      const res = outcome(await get(server, SSO_PATH, redirectQuery(authn({ instant }), { keyPem: signing.key })));
      assert.equal(res.kind, 'status', `IssueInstant ${instant}: ${JSON.stringify(res)}`);
      assert.equal(res.action, ACS);
      assert.equal(res.codes[0], 'Requester', `IssueInstant ${instant}`);
    }
    assert.equal((await request(server, idpEntityId(server))).status, 200, 'the server still serves');
  });

  await t.test('a key-rotation grace period past the end of the calendar is refused, not a panic', () => {
    assert.throws(() => server.cli('admin', 'saml-keys', 'rotate', '--grace-days', '4294967295'), /failed \(1\):[\s\S]*grace period ends beyond the range of dates/);
  });

  await t.test('an oversized POST body gets Mamori\'s page in the page language', async () => {
    // curl, as a browser does, reads the answer the server gives before the body is sent.
    const bodyFile = join(dir, 'huge-body');
    writeFileSync(bodyFile, `SAMLRequest=${'A'.repeat(3 * 1024 * 1024)}`);
    for (const path of [SSO_PATH, SLO_PATH]) {
      for (const [language, text] of [['en', /too large for Mamori to read/], ['ja', /[\u3040-\u30ff]/]]) {
        for (const version of ['--http1.1', '--http2']) {
          // The declared length is over the binding's limit: the page comes at once,
          // before the body (the general "too large" page: no SAML message was read).
          const res = curl(t, server, `${server.main}${path}`, { bodyFile, headers: { 'accept-language': language }, version });
          assert.equal(res.status, 413, `${path} ${language} ${version}`);
          assert.match(res.contentType, /^text\/html/);
          assert.match(res.body, new RegExp(`<html[^>]*lang="${language}"`), `${path}: the page is in ${language}`);
          assert.match(res.body, text, `${path}: the message is in ${language}`);
        }
      }
    }
    // Sent without a length (chunked), the binding reads up to its limit and answers
    // its own page for an unreadable message.
    for (const path of [SSO_PATH, SLO_PATH]) {
      const res = curl(t, server, `${server.main}${path}`, { bodyFile, headers: { 'accept-language': 'en', 'transfer-encoding': 'chunked' }, version: '--http1.1' });
      assert.equal(res.status, 413, `${path} chunked`);
      assert.deepEqual([outcome(res).kind, outcome(res).code], ['page', 'malformed'], `${path} chunked`);
    }
    const small = outcome(await post(server, SSO_PATH, { SAMLRequest: 'not base64 at all!' }));
    assert.deepEqual([small.kind, small.code], ['page', 'malformed'], 'a small bad body: the same page');
  });

  await t.test('an oversized Redirect URL gets Mamori\'s page in the page language, not a bare 414/431', async () => {
    const url = (size) => `${server.main}${SSO_PATH}?SAMLRequest=${'A'.repeat(size)}`;
    for (const [language, text] of [['en', /too large|cannot read/], ['ja', /[\u3040-\u30ff]/]]) {
      const check = (res, status, what) => {
        assert.ok([status].flat().includes(res.status), `${what}: ${res.status}`);
        assert.match(res.contentType ?? res.headers['content-type'], /^text\/html/, what);
        assert.match(res.body, new RegExp(`<html[^>]*lang="${language}"`), `${what}: the page is in ${language}`);
        assert.match(res.body, text, `${what}: the message is in ${language}`);
      };
      const headers = { 'accept-language': language };
      // HTTP/1.1 past hyper's request-line limit (64 KiB) and past its head buffer
      // (about 400 KiB; which limit hyper meets first depends on how the head arrives):
      // hyper's bare 414 or 431, rewritten to our page.
      check(await request(server, url(70_000), { headers }), 414, `HTTP/1.1, 70 kB, ${language}`);
      check(await request(server, url(500_000), { headers }), [414, 431], `HTTP/1.1, 500 kB, ${language}`);
      // HTTP/2 past h2's default header list (16 KiB): the route answers.
      check(curl(t, server, url(30_000), { headers, version: '--http2' }), 400, `HTTP/2, 30 kB, ${language}`);
      check(curl(t, server, url(60_000), { headers, version: '--http2' }), 400, `HTTP/2, 60 kB, ${language}`);
    }
    assert.equal((await request(server, idpEntityId(server))).status, 200, 'the server still serves');
  });

  await t.test('SP endpoints that only look like loopback are refused, real loopback is accepted', async () => {
    const keys = [keyDescriptor('signing', signing.cert)];
    const register = (name, options) => {
      const path = join(dir, `${name}.xml`);
      writeFileSync(path, spMetadata(`https://${name}.example/metadata`, keys, options));
      return server.cli('admin', 'saml-sp', 'add', '--tenant', 'demo', '--metadata', path);
    };
    const lookalikes = [
      'http://localhost.evil.example/acs',
      'http://localhost:80@evil.example/acs',
      'http://127.0.0.1@evil.example/acs',
      'http://127.0.0.1.evil.example/acs',
      'https://sp.example/acs#fragment',
      'https://user@sp.example/acs',
    ];
    lookalikes.forEach((acs, i) => {
      assert.throws(() => register(`acs-lookalike-${i}`, { acs }), /endpoint/, `ACS ${acs}`);
      assert.throws(() => register(`slo-lookalike-${i}`, { slo: acs.replace('/acs', '/slo') }), /endpoint/, `SLO ${acs}`);
    });
    ['http://localhost:8080/acs', 'http://127.0.0.1:9/acs', 'http://[::1]:9/acs', 'https://sp.example/acs'].forEach((acs, i) => {
      register(`loopback-${i}`, { acs, slo: acs.replace('/acs', '/slo') });
    });

    // The admin API applies the same rule.
    const token = server.cliJson('admin', 'api-token', 'create', '--super-admin', '--scope', 'read,write', '--expires-in', '1h').token;
    const api = (name, acs) =>
      request(server, `${server.main}/admin/api/v1/tenants/demo/saml-sps`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/samlmetadata+xml' },
        body: spMetadata(`https://${name}.example/metadata`, keys, { acs }),
      });
    const refused = await api('api-lookalike', 'http://localhost.evil.example/acs');
    assert.equal(refused.status, 422, refused.body);
    assert.match(refused.body, /localhost\.evil\.example/);
    const accepted = await api('api-loopback', 'http://localhost:8080/acs');
    assert.equal(accepted.status, 201, accepted.body);
  });
});
