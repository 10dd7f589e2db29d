// Mamori as a SAML 2.0 IdP for two independent service-provider libraries, through the
// REAL certificate login in Chromium with the user's PKCS#12:
// - python3-saml (OneLogin) in strict mode with wantAssertionsSigned and
//   wantMessagesSigned, signed AuthnRequests over HTTP-Redirect;
// - pysaml2 with signed AuthnRequests over HTTP-POST, signed Response and Assertion.
// Checked: NameID (persistent, pairwise, stable), attributes, AuthnContextClassRef,
// ForceAuthn, IsPassive, RequestedAuthnContext, IdP-initiated SSO, encrypted assertions,
// single logout across both SPs, and every signature again with xmlsec1.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { enrolledUser, openBrowser, screenshots, startServer } from '../browser/harness.mjs';
import { NS, idpEntityId, idpMetadata, request, sso, startSp, xmlsecVerify, resultOf } from './sp.mjs';

function verifiedBoth(file, cert) {
  const response = xmlsecVerify(file, cert, 'Response');
  const assertion = xmlsecVerify(file, cert, 'Assertion');
  assert.ok(response.ok, `xmlsec1 verifies the Response signature of ${file}:\n${response.output}`);
  assert.ok(assertion.ok, `xmlsec1 verifies the Assertion signature of ${file}:\n${assertion.output}`);
}

test('SAML SSO and SLO with python3-saml and pysaml2 through the certificate login', async (t) => {
  const server = await startServer(t);
  const snap = screenshots('saml-flows');
  const user = await enrolledUser(t, server, 'saml-user-1');
  const email = `${user.loginId}@example.test`;
  const idp = await idpMetadata(t, server);
  const onelogin = await startSp(t, server, idp, 'onelogin', { register: ['--attribute', 'login_id,email,display_name,amr'] });
  // pysaml2 takes unsolicited responses (its `allow_unsolicited`), and is registered to
  // get them; python3-saml is not, until the IdP-initiated subtest turns them on.
  const pysaml2 = await startSp(t, server, idp, 'pysaml2', { register: ['--attribute', 'login_id,email', '--allow-unsolicited'] });
  const { page } = await openBrowser(t, server, { certificate: { pfxPath: user.pfxPath, passphrase: user.passphrase }, locale: 'en-US' });

  await t.test('metadata: signed, verified by xmlsec1, with keys, endpoints and formats', () => {
    assert.match(idp.contentType, /application\/samlmetadata\+xml/);
    assert.ok(idp.xml.includes(`entityID="${idpEntityId(server)}"`));
    for (const binding of ['HTTP-Redirect', 'HTTP-POST']) {
      assert.ok(idp.xml.includes(`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:${binding}"`), binding);
      assert.ok(idp.xml.includes(`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:${binding}"`), binding);
    }
    assert.ok(idp.xml.includes('<md:KeyDescriptor use="signing">') && idp.xml.includes('<md:KeyDescriptor use="encryption">'));
    for (const f of [NS.persistent, NS.transient, NS.email]) assert.ok(idp.xml.includes(`<md:NameIDFormat>${f}</md:NameIDFormat>`), f);
    const checked = xmlsecVerify(idp.path, idp.signingCert, 'EntityDescriptor');
    assert.ok(checked.ok, checked.output);
  });

  let firstNameId;
  await t.test('python3-saml (strict, HTTP-Redirect): login through the certificate login', async () => {
    const { result, loggedIn } = await sso(page, `${onelogin.base}/login?relay=%2Fafter`, user, snap, 'onelogin-first');
    assert.ok(loggedIn, 'the certificate login asked for the password');
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.relay_state, '/after');
    assert.equal(result.nameid_format, NS.persistent);
    assert.match(result.nameid, /^[A-Za-z0-9_-]{43}$/, 'a random pairwise identifier');
    assert.notEqual(result.nameid, user.loginId);
    assert.deepEqual(result.friendly_attributes.uid, [user.loginId]);
    assert.deepEqual(result.friendly_attributes.mail, [email]);
    assert.deepEqual(result.attributes['urn:oid:0.9.2342.19200300.100.1.3'], [email]);
    assert.deepEqual([...result.friendly_attributes.amr].sort(), ['mfa', 'pwd', 'swk']);
    assert.deepEqual(result.authn_contexts, [NS.mfa], 'certificate + password is multi-factor');
    assert.ok(result.session_index);
    verifiedBoth(result.file, idp.signingCert);
    const xml = readFileSync(result.file, 'utf8');
    assert.match(xml, /<saml2:SubjectConfirmationData NotOnOrAfter="[^"]+" Recipient="[^"]+\/acs" InResponseTo="ONELOGIN_/);
    assert.match(xml, /<saml2:Conditions NotBefore="[^"]+" NotOnOrAfter="[^"]+"><saml2:AudienceRestriction><saml2:Audience>https:\/\/localhost:\d+\/metadata</);
    assert.match(xml, /DigestMethod Algorithm="http:\/\/www.w3.org\/2001\/04\/xmlenc#sha256"/);
    assert.doesNotMatch(xml, /xmldsig#sha1/);
    firstNameId = result.nameid;
  });

  await t.test('python3-saml: the session is reused and the persistent NameID is stable', async () => {
    const { result, loggedIn } = await sso(page, `${onelogin.base}/login`, user, snap, 'onelogin-again');
    assert.equal(loggedIn, false, 'no second login');
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.nameid, firstNameId);
  });

  await t.test('python3-saml: ForceAuthn asks for the login again', async () => {
    const { result, loggedIn } = await sso(page, `${onelogin.base}/login?force=1`, user, snap, 'onelogin-force');
    assert.ok(loggedIn, 'ForceAuthn runs the login again');
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.nameid, firstNameId);
  });

  await t.test('python3-saml: IsPassive with a session answers without interaction', async () => {
    const { result, loggedIn } = await sso(page, `${onelogin.base}/login?passive=1`, user, snap, 'onelogin-passive');
    assert.equal(loggedIn, false);
    assert.equal(result.ok, true, JSON.stringify(result));
  });

  await t.test('python3-saml: RequestedAuthnContext honoured, or refused with NoAuthnContext', async () => {
    let { result } = await sso(page, `${onelogin.base}/login?ctx=${encodeURIComponent(NS.x509)}`, user, snap, 'onelogin-x509');
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(result.authn_contexts, [NS.x509]);
    ({ result } = await sso(page, `${onelogin.base}/login?ctx=${encodeURIComponent(NS.ppt)}`, user, snap, 'onelogin-ppt'));
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(result.authn_contexts, [NS.ppt]);
    ({ result } = await sso(page, `${onelogin.base}/login?ctx=urn:mamori:acr:mfa`, user, snap, 'onelogin-acr-mfa'));
    assert.equal(result.ok, false, 'cert + password does not reach the OTP level');
    assert.match(readFileSync(result.file, 'utf8'), /status:Responder"><saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"/);
    const status = xmlsecVerify(result.file, idp.signingCert, 'Response');
    assert.ok(status.ok, `error responses are signed too:\n${status.output}`);
    ({ result } = await sso(page, `${onelogin.base}/login?ctx=urn:example:smartcard`, user, snap, 'onelogin-unknown-ctx'));
    assert.equal(result.ok, false);
    assert.match(readFileSync(result.file, 'utf8'), /NoAuthnContext/);
  });

  await t.test('python3-saml: a transient NameID on request, new every time', async () => {
    const url = `${onelogin.base}/login?nameid=${encodeURIComponent(NS.transient)}`;
    const first = (await sso(page, url, user, snap, 'onelogin-transient-1')).result;
    const second = (await sso(page, url, user, snap, 'onelogin-transient-2')).result;
    for (const r of [first, second]) {
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.nameid_format, NS.transient);
      assert.notEqual(r.nameid, firstNameId);
    }
    assert.notEqual(first.nameid, second.nameid);
    const email = (await sso(page, `${onelogin.base}/login?nameid=${encodeURIComponent(NS.email)}`, user, snap, 'onelogin-email')).result;
    assert.equal(email.ok, false, 'e-mail reveals more than the registered persistent format');
    assert.match(readFileSync(email.file, 'utf8'), /status:InvalidNameIDPolicy/);
  });

  let pysamlNameId;
  await t.test('pysaml2 (HTTP-POST): login in the same session, its own pairwise NameID', async () => {
    const { result, loggedIn } = await sso(page, `${pysaml2.base}/login?relay=p2`, user, snap, 'pysaml2-first');
    assert.equal(loggedIn, false, 'single sign-on: the session is reused');
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.nameid_format, NS.persistent);
    assert.notEqual(result.nameid, firstNameId, 'pairwise: another SP gets another identifier');
    assert.deepEqual(result.attributes.uid, [user.loginId]);
    assert.deepEqual(result.attributes.mail, [email]);
    assert.equal(result.attributes.displayName, undefined, 'only the attributes released to this SP');
    assert.ok(result.in_response_to);
    verifiedBoth(result.file, idp.signingCert);
    pysamlNameId = result.nameid;
  });

  await t.test('IdP-initiated SSO to a registered ACS (pysaml2 and python3-saml), only for an SP registered to take it', async () => {
    const url = `${server.main}/t/demo/saml/sso/unsolicited?providerId=${encodeURIComponent(pysaml2.entityId)}&RelayState=from-idp`;
    await page.goto(url);
    let result = await resultOf(page);
    await snap(page, 'unsolicited-pysaml2');
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.in_response_to, null);
    assert.equal(result.relay_state, 'from-idp');
    assert.equal(result.nameid, pysamlNameId);
    // python3-saml is not registered for unsolicited responses: a page says so, from the
    // logged-in browser as from anyone, and nothing reaches the SP.
    const toOnelogin = `${server.main}/t/demo/saml/sso/unsolicited?providerId=${encodeURIComponent(onelogin.entityId)}`;
    const eventsBefore = onelogin.events().length;
    const refused = await page.goto(toOnelogin);
    assert.equal(refused.status(), 403);
    assert.equal(await page.textContent('#saml-error'), 'unsolicited');
    await snap(page, 'unsolicited-refused');
    const anonymous = await request(server, toOnelogin);
    assert.equal(anonymous.status, 403);
    assert.match(anonymous.body, /id="saml-error">unsolicited</);
    assert.equal(onelogin.events().length, eventsBefore, 'no response reached python3-saml');
    // Turned on by the operator: the running server follows within its relying-site
    // version check (about a second).
    server.cli('admin', 'saml-sp', 'update', '--tenant', 'demo', '--entity-id', onelogin.entityId, '--allow-unsolicited', 'true');
    const deadline = Date.now() + 10_000;
    while ((await request(server, toOnelogin)).status === 403) {
      assert.ok(Date.now() < deadline, 'the change did not reach the server within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await page.goto(toOnelogin);
    result = await resultOf(page);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.doesNotMatch(readFileSync(result.file, 'utf8'), /InResponseTo=/);
    // Turned off again: a resume link minted while it was on (by anyone, no login
    // needed) answers nothing either (review r7, F1).
    const minted = await request(server, toOnelogin);
    assert.equal(minted.status, 303);
    const link = new URL(minted.headers.location, server.main).href;
    server.cli('admin', 'saml-sp', 'update', '--tenant', 'demo', '--entity-id', onelogin.entityId, '--allow-unsolicited', 'false');
    const offBy = Date.now() + 10_000;
    while ((await request(server, toOnelogin)).status !== 403) {
      assert.ok(Date.now() < offBy, 'the change did not reach the server within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const eventsAtOff = onelogin.events().length;
    const stale = await page.goto(link);
    assert.equal(stale.status(), 403, link);
    assert.equal(await page.textContent('#saml-error'), 'unsolicited');
    assert.equal(onelogin.events().length, eventsAtOff, 'no response reached python3-saml');
    // Another tenant's switch is not this tenant's: python3-saml registered in a second
    // tenant with unsolicited responses on still gets none through demo, and pysaml2,
    // on in demo, is unknown to the second tenant.
    server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other');
    const saved = process.env.SSL_CERT_FILE;
    process.env.SSL_CERT_FILE = server.devRoot;
    try {
      server.cli('admin', 'saml-sp', 'add', '--tenant', 'other', '--metadata', onelogin.entityId, '--allow-unsolicited');
    } finally {
      if (saved === undefined) delete process.env.SSL_CERT_FILE;
      else process.env.SSL_CERT_FILE = saved;
    }
    assert.equal((await request(server, toOnelogin)).status, 403, 'demo\'s own setting governs');
    const crossed = await request(server, `${server.main}/t/other/saml/sso/unsolicited?providerId=${encodeURIComponent(pysaml2.entityId)}`);
    assert.equal(crossed.status, 400);
    assert.match(crossed.body, /id="saml-error">unknown_sp</);
    const unknown = await request(server, `${server.main}/t/demo/saml/sso/unsolicited?providerId=https%3A%2F%2Fnot-registered.example`);
    assert.equal(unknown.status, 400);
    assert.match(unknown.body, /id="saml-error">unknown_sp</);
  });

  await t.test('single logout from python3-saml ends the session and tells pysaml2', async () => {
    const before = pysaml2.events().length;
    await page.goto(`${onelogin.base}/logout`);
    const result = await resultOf(page);
    await snap(page, 'slo-done');
    assert.equal(result.event, 'logout-response');
    assert.equal(result.ok, true, JSON.stringify(result));
    const why = server.log().split('\n').filter((l) => /LogoutResponse|logout/i.test(l)).join('\n');
    assert.deepEqual(result.status, [NS.status('Success')], `every SP confirmed; server log:\n${why}`);
    const told = pysaml2.events().slice(before);
    assert.equal(told.length, 1, JSON.stringify(told));
    assert.equal(told[0].event, 'logout-request');
    assert.equal(told[0].ok, true, JSON.stringify(told[0]));
    assert.ok(told[0].name_id_matched, 'the LogoutRequest names the NameID pysaml2 was given');
    // The Mamori session is gone: IsPassive now gets NoPassive, a normal request the login.
    const { result: passive } = await sso(page, `${onelogin.base}/login?passive=1`, user, snap, 'after-slo-passive');
    assert.equal(passive.ok, false);
    assert.match(readFileSync(passive.file, 'utf8'), /status:NoPassive/);
    await page.goto(`${pysaml2.base}/login`);
    await page.waitForSelector('#login-form', { timeout: 30_000 });
  });

  await t.test('single logout from pysaml2 tells python3-saml, which checks the signed LogoutRequest', async () => {
    assert.equal((await sso(page, `${pysaml2.base}/login`, user, snap, 'relogin-pysaml2')).result.ok, true);
    assert.equal((await sso(page, `${onelogin.base}/login`, user, snap, 'relogin-onelogin')).result.ok, true);
    const before = onelogin.events().length;
    await page.goto(`${pysaml2.base}/logout`);
    const result = await resultOf(page);
    await snap(page, 'slo-from-pysaml2');
    assert.equal(result.event, 'logout-response');
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(result.status, [NS.status('Success')]);
    const told = onelogin.events().slice(before);
    assert.equal(told.length, 1, JSON.stringify(told));
    assert.equal(told[0].event, 'logout-request');
    assert.equal(told[0].ok, true, `python3-saml (strict, wantMessagesSigned) accepts Mamori's LogoutRequest: ${JSON.stringify(told[0])}`);
    assert.ok(told[0].session_cleared);
  });
});

test('an encrypted, signed assertion (AES-256-GCM, RSA-OAEP) with an e-mail NameID to python3-saml', async (t) => {
  const server = await startServer(t);
  const snap = screenshots('saml-encrypted');
  const user = await enrolledUser(t, server, 'saml-user-2');
  const idp = await idpMetadata(t, server);
  const sp = await startSp(t, server, idp, 'onelogin', {
    encrypted: true,
    register: ['--encrypt', '--attribute', 'email', '--name-id-format', 'email'],
  });
  const { page } = await openBrowser(t, server, { certificate: { pfxPath: user.pfxPath, passphrase: user.passphrase }, locale: 'ja-JP' });
  const { result } = await sso(page, `${sp.base}/login?nameid=${encodeURIComponent(NS.email)}`, user, snap, 'encrypted');
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.deepEqual(result.friendly_attributes.mail, [`${user.loginId}@example.test`]);
  assert.equal(result.nameid_format, NS.email);
  assert.equal(result.nameid, `${user.loginId}@example.test`);
  const xml = readFileSync(result.file, 'utf8');
  assert.match(xml, /<saml2:EncryptedAssertion/);
  assert.match(xml, /xmlenc11#aes256-gcm/);
  assert.match(xml, /xmlenc#rsa-oaep-mgf1p/);
  assert.doesNotMatch(xml, /<saml2:Assertion/);
  assert.doesNotMatch(xml, new RegExp(user.loginId), 'nothing about the user in clear');
  assert.equal((xml.match(/<ds:Signature /g) ?? []).length, 1, 'the assertion\'s signature is inside the encryption');
  const checked = xmlsecVerify(result.file, idp.signingCert, 'Response');
  assert.ok(checked.ok, checked.output);

  // Single logout with the NameID encrypted to the key of Mamori's metadata.
  await page.goto(`${sp.base}/logout`);
  const logout = await resultOf(page);
  assert.equal(logout.event, 'logout-response');
  assert.equal(logout.ok, true, JSON.stringify(logout));
  assert.deepEqual(logout.status, [NS.status('Success')]);
  const sent = sp.events().find((e) => e.event === 'sent-logout-request');
  assert.match(readFileSync(sent.file, 'utf8'), /<saml:EncryptedID>/, 'the SP encrypted the NameID');
  const { result: after } = await sso(page, `${sp.base}/login?passive=1&nameid=${encodeURIComponent(NS.email)}`, user, snap, 'after-logout');
  assert.match(readFileSync(after.file, 'utf8'), /status:NoPassive/, 'the session found through the encrypted NameID was ended');
});
