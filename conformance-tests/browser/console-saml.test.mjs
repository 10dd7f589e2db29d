// SAML service providers in the operators' console: a tenant admin registers one from an
// uploaded metadata file (or its URL, fetched under the rule for relying sites' URLs), changes its NameID format, attribute release, signing and
// encryption, and removes it behind the confirmation page. Each change is read back
// through the admin API; refused ones (bad metadata, the wrong entity ID, encryption
// without a certificate, nothing signed) save nothing; a declined confirmation removes
// nothing; another tenant's SP answers 404; a POST without the CSRF token is refused.
// In English and Japanese, and at a phone's width.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { screenshots, startServer, submit, tempDir, text } from './harness.mjs';
import { api, apiJson, fitsPhone, openConsole, operator, postFromPage, problems, readToken } from './console-helpers.mjs';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

/** SP metadata for `entityId`, with an encryption certificate (base64 DER) if given. */
function metadata(entityId, acs, encryptionCert) {
  const key = encryptionCert
    ? `<md:KeyDescriptor use="encryption"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${encryptionCert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
    : '';
  return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="${MD}" entityID="${entityId}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${key}
    <md:AssertionConsumerService Binding="${POST}" Location="${acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`;
}

/** A self-signed certificate made with the openssl CLI, as base64 DER. */
function certificate(dir) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'sp.key'), '-out', join(dir, 'sp.pem'),
    '-days', '30', '-subj', '/CN=sp.test'], { stdio: 'ignore' });
  return readFileSync(join(dir, 'sp.pem'), 'utf8').replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
}

const file = (name, xml) => ({ name, mimeType: 'application/samlmetadata+xml', buffer: Buffer.from(xml) });

test('a tenant admin registers, changes and removes a SAML service provider in the console', { timeout: 480_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console-saml');
  const dir = tempDir(t, 'console-saml-');
  const admin = await operator(t, server, 'op-saml');
  // Another tenant's SP, registered through the CLI.
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  const otherFile = join(dir, 'other.xml');
  writeFileSync(otherFile, metadata('https://sp.other.test/metadata', 'https://sp.other.test/acs'));
  server.cli('admin', 'saml-sp', 'add', '--tenant', 'other', '--metadata', otherFile);
  const token = readToken(server);
  const otherToken = readToken(server, 'other');
  const [foreign] = await apiJson(server, otherToken, '/tenants/other/saml-sps');
  const sps = () => apiJson(server, token, '/tenants/demo/saml-sps');
  const before = (await sps()).length;

  const { page } = await openConsole(t, server, admin);
  await page.click('#menu-saml');
  await page.waitForURL(/\/console\/t\/demo\/saml-sps$/);
  assert.equal(await text(page, '#console-saml-title'), 'SAML service providers');
  assert.match(await text(page, '#idp-metadata'), /\/t\/demo\/saml\/metadata$/);
  await fitsPhone(page, 'saml-sps');
  await page.click('#saml-sp-new');
  await page.waitForURL(/\/saml-sps\/new$/);
  await fitsPhone(page, 'saml-sp-new');

  // Refused registrations: each names the metadata and nothing is registered.
  for (const [label, upload, entityId, pattern] of [
    ['not metadata', file('bad.xml', '<html><body>not metadata</body></html>'), '', /metadata cannot be used/],
    ['plain http ACS', file('http.xml', metadata('https://wiki.test/md', 'http://wiki.test/acs')), '', /metadata cannot be used/],
    ['another entity', file('wiki.xml', metadata('https://wiki.test/md', 'https://wiki.test/acs')), 'https://evil.test/md', /metadata cannot be used/],
  ]) {
    await page.goto(`${server.mtls}/console/t/demo/saml-sps/new`);
    await page.setInputFiles('#metadata', upload);
    await page.fill('#entity_id', entityId);
    await page.fill('#name', 'Refused');
    const [response] = await Promise.all([page.waitForNavigation(), page.click('#saml-sp-new-submit')]);
    assert.equal(response.status(), 422, label);
    assert.match(await problems(page), pattern, label);
    assert.equal(await page.getAttribute('#metadata', 'aria-invalid'), 'true', label);
    assert.equal(await page.inputValue('#name'), 'Refused', `${label}: the form keeps what was typed`);
    assert.equal((await sps()).length, before, `${label}: nothing registered`);
  }
  await snap(page, 'refused-metadata');
  // Without the CSRF token (an upload form, as the page sends it): refused, nothing made.
  const forged = await page.evaluate(async ([url, xml]) => {
    const body = new FormData();
    body.append('metadata', new Blob([xml], { type: 'application/xml' }), 'sp.xml');
    return (await fetch(url, { method: 'POST', body, credentials: 'same-origin' })).status;
  }, [`${server.mtls}/console/t/demo/saml-sps`, metadata('https://forged.test/md', 'https://forged.test/acs')]);
  assert.equal(forged, 403);
  assert.equal((await sps()).length, before, 'no SP registered without the token');

  // Registered: the options are the API's, read back through it.
  await page.goto(`${server.mtls}/console/t/demo/saml-sps/new`);
  await page.setInputFiles('#metadata', file('wiki.xml', metadata('https://wiki.test/md', 'https://wiki.test/acs')));
  await page.fill('#entity_id', 'https://wiki.test/md');
  await page.fill('#name', 'Wiki 社内');
  await page.selectOption('#name_id_format', 'email');
  await page.uncheck('#attributes_from_metadata');
  await page.check('#attr_email');
  await page.check('#attr_display_name');
  await submit(page, '#saml-sp-new-submit');
  await snap(page, 'registered');
  assert.equal(await text(page, '#notice'), 'The service provider has been registered.');
  assert.equal(await text(page, '#saml-sp-entity-id'), 'https://wiki.test/md');
  const spUrl = page.url().replace(/\?.*$/, '');
  const id = spUrl.split('/').pop();
  const read = () => apiJson(server, token, `/tenants/demo/saml-sps/${id}`);
  let sp = await read();
  assert.equal(sp.name, 'Wiki 社内');
  assert.equal(sp.name_id_format, 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
  assert.deepEqual(sp.attribute_release.attributes, ['email', 'display_name']);
  assert.deepEqual([sp.sign_response, sp.sign_assertion, sp.encrypt_assertion], [true, true, false]);
  assert.equal(sp.allow_unsolicited, false, 'unsolicited responses only when asked for');
  assert.equal(await page.isChecked('#allow_unsolicited'), false);
  await fitsPhone(page, 'saml-sp');
  // The same entity ID again: refused as already registered.
  await page.goto(`${server.mtls}/console/t/demo/saml-sps/new`);
  await page.setInputFiles('#metadata', file('wiki.xml', metadata('https://wiki.test/md', 'https://wiki.test/acs')));
  const [again] = await Promise.all([page.waitForNavigation(), page.click('#saml-sp-new-submit')]);
  assert.equal(again.status(), 422);
  assert.match(await problems(page), /already registered/);
  assert.equal((await sps()).length, before + 1);

  // Refused changes save nothing, not even the other fields of the same form.
  for (const [label, change, pattern] of [
    ['encryption without a certificate', async () => page.check('#encrypt_assertion'), /no encryption certificate/],
    ['nothing signed', async () => { await page.uncheck('#sign_response'); await page.uncheck('#sign_assertion'); }, /Sign the response, the assertion, or both/],
    ['signed requests without a certificate', async () => page.check('#want_authn_requests_signed'), /no signing certificate/],
  ]) {
    await page.goto(spUrl);
    await page.fill('#name', 'Changed name');
    await change();
    const [response] = await Promise.all([page.waitForNavigation(), page.click('#saml-sp-save')]);
    assert.equal(response.status(), 422, label);
    assert.match(await problems(page), pattern, label);
    assert.deepEqual(await read(), sp, `${label}: nothing saved`);
  }
  await snap(page, 'refused-change');

  // Saved: NameID, release, signing; read back through the API.
  await page.goto(spUrl);
  await page.selectOption('#name_id_format', 'persistent');
  await page.uncheck('#attr_display_name');
  await page.check('#attr_amr');
  await page.uncheck('#sign_response');
  await page.check('#allow_unsolicited');
  await submit(page, '#saml-sp-save');
  assert.equal(await text(page, '#notice'), 'The settings have been saved.');
  sp = await read();
  assert.equal(sp.name_id_format, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
  assert.deepEqual(sp.attribute_release.attributes, ['email', 'amr']);
  assert.deepEqual([sp.sign_response, sp.sign_assertion, sp.allow_unsolicited], [false, true, true]);
  assert.equal(await page.isChecked('#allow_unsolicited'), true, 'the page shows what was saved');
  assert.equal(sp.name, 'Wiki 社内', 'what was not changed stays');
  // In Japanese.
  await page.goto(`${spUrl}?lang=ja`);
  assert.equal(await text(page, '#console-saml-sp-title'), 'SAML サービスプロバイダー');
  // The relying-site name rule (as for OIDC clients): fullwidth look-alikes are refused
  // on the form, in Japanese, and nothing is saved.
  await page.fill('#name', 'Ｗｉｋｉ（改）');
  await submit(page, '#saml-sp-save');
  assert.equal(await page.getAttribute('#name', 'aria-invalid'), 'true');
  assert.equal((await read()).name, 'Wiki 社内');
  await page.fill('#name', 'Wiki (改)');
  await submit(page, '#saml-sp-save');
  assert.equal(await text(page, '#notice'), '設定を保存しました。');
  assert.equal((await read()).name, 'Wiki (改)');
  await page.goto(`${spUrl}?lang=en`);

  // Without the CSRF token: refused, nothing changed.
  sp = await read();
  const noCsrf = await postFromPage(page, server, `/console/t/demo/saml-sps/${id}`, { name: 'Forged', sign_assertion: 'on' }, { csrf: false });
  assert.equal(noCsrf.status, 403);
  const noCsrfDelete = await postFromPage(page, server, `/console/t/demo/saml-sps/${id}/delete`, { confirmed: 'yes' }, { csrf: false });
  assert.equal(noCsrfDelete.status, 403);
  assert.deepEqual(await read(), sp, 'nothing changed without the token');

  // Another tenant's SP: 404 under either tenant's URL, for reading, changing, removing.
  for (const path of [`/console/t/other/saml-sps/${foreign.id}`, `/console/t/demo/saml-sps/${foreign.id}`]) {
    const r = await page.goto(`${server.mtls}${path}`);
    assert.equal(r.status(), 404, path);
    await page.goto(spUrl);
    assert.equal((await postFromPage(page, server, path, { name: 'Taken over', sign_assertion: 'on' })).status, 404, path);
    assert.equal((await postFromPage(page, server, `${path}/delete`, { confirmed: 'yes' })).status, 404, path);
  }
  assert.equal((await page.goto(`${server.mtls}/console/t/other/saml-sps`)).status(), 404);
  const stillThere = await apiJson(server, otherToken, `/tenants/other/saml-sps/${foreign.id}`);
  assert.equal(stillThere.name, foreign.name, 'the other tenant\'s SP is untouched');

  // In Japanese a refused document is said in Japanese only (the parser speaks English),
  // and an entity ID longer than SAML allows is refused.
  await page.goto(`${server.mtls}/console/t/demo/saml-sps/new?lang=ja`);
  const longId = `https://long.test/${'a'.repeat(1100)}`;
  await page.setInputFiles('#metadata', file('long.xml', metadata(longId, 'https://long.test/acs')));
  const [longAnswer] = await Promise.all([page.waitForNavigation(), page.click('#saml-sp-new-submit')]);
  assert.equal(longAnswer.status(), 422);
  const jaProblem = await problems(page);
  assert.match(jaProblem, /このメタデータは使えません/);
  assert.ok(!/[a-z]{4,} [a-z]{4,}/.test(jaProblem.replace(/EntityDescriptor|https/g, '')), `no English in the Japanese page: ${jaProblem}`);

  // With an encryption certificate in the metadata, encryption can be turned on.
  await page.goto(`${server.mtls}/console/t/demo/saml-sps/new?lang=ja`);
  await page.setInputFiles('#metadata', file('enc.xml', metadata('https://enc.test/md', 'https://enc.test/acs', certificate(dir))));
  await page.check('#encrypt_assertion');
  await page.check('#allow_unsolicited');
  await submit(page, '#saml-sp-new-submit');
  assert.equal(await text(page, '#notice'), 'サービスプロバイダーを登録しました。');
  const encId = page.url().replace(/\?.*$/, '').split('/').pop();
  const enc = await apiJson(server, token, `/tenants/demo/saml-sps/${encId}`);
  assert.deepEqual([enc.encrypt_assertion, enc.allow_unsolicited], [true, true]);
  await page.goto(`${server.mtls}/console/t/demo/saml-sps?lang=en`);
  assert.deepEqual(await page.$$eval('.saml-sp-row', (rows) => rows.map((r) => r.dataset.entityId)).then((l) => l.sort()),
    ['https://enc.test/md', 'https://wiki.test/md']);
  await fitsPhone(page, 'saml-sps with rows');

  // Removing asks first; declining removes nothing.
  await page.goto(spUrl);
  await submit(page, '#delete-submit');
  await snap(page, 'confirm-delete');
  assert.equal(await text(page, '#confirm-title'), 'Remove this service provider?');
  assert.match(await text(page, '.confirm-fact'), /wiki\.test/);
  await fitsPhone(page, 'confirm-delete');
  await page.click('#confirm-cancel');
  await page.waitForURL(spUrl);
  assert.equal((await api(server, token, `/tenants/demo/saml-sps/${id}`)).status, 200, 'declined: still registered');
  await submit(page, '#delete-submit');
  await submit(page, '#confirm-submit');
  assert.equal(await text(page, '#notice'), 'The service provider has been removed.');
  assert.equal((await api(server, token, `/tenants/demo/saml-sps/${id}`)).status, 404, 'removed');

  // The audit trail has each change once, refused ones as failures only.
  const trail = (await apiJson(server, token, '/tenants/demo/audit-events?limit=200')).items.filter((e) => e.action.startsWith('saml-sp.'));
  const done = trail.filter((e) => e.outcome === 'success').map((e) => e.action).sort();
  assert.deepEqual(done, ['saml-sp.create', 'saml-sp.create', 'saml-sp.delete', 'saml-sp.update', 'saml-sp.update'], JSON.stringify(trail));
  const refused = (await apiJson(server, token, '/tenants/demo/audit-events?action=console.refused')).items;
  assert.ok(refused.length >= 2, 'the other tenant\'s SP attempts are audited');
});

test('a SAML service provider registered from its metadata URL; private addresses and a file with a URL are refused', { timeout: 300_000 }, async (t) => {
  // The SP publishes its metadata on a loopback HTTP server; the server under test allows
  // loopback http for this (as for relying sites' JWK Sets in tests), never private networks.
  const served = metadata('https://urlsp.test/md', 'https://urlsp.test/acs');
  const { createServer } = await import('node:http');
  const published = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
    res.end(served);
  });
  await new Promise((res) => published.listen(0, '127.0.0.1', res));
  t.after(() => published.close());
  const mdUrl = `http://127.0.0.1:${published.address().port}/saml/metadata`;

  const server = await startServer(t, { env: { MAMORI_OIDC__JWKS_FETCH_ALLOW_LOOPBACK_HTTP: 'true' } });
  const admin = await operator(t, server, 'op-saml-url');
  const token = readToken(server);
  const sps = () => apiJson(server, token, '/tenants/demo/saml-sps');
  const before = (await sps()).length;
  const { page } = await openConsole(t, server, admin);

  // Refused: addresses inside the server's network (a cloud metadata service, a private
  // host), and a file and a URL at once. Each names the URL field and registers nothing.
  for (const [label, url, withFile, pattern] of [
    ['link-local', 'https://169.254.169.254/latest/meta-data', false, /could not be fetched.*not a public address/],
    ['private', 'https://10.0.0.1/saml/metadata', false, /could not be fetched.*not a public address/],
    ['file and URL', mdUrl, true, /as a file or as a URL, not both/],
  ]) {
    await page.goto(`${server.mtls}/console/t/demo/saml-sps/new`);
    if (withFile) await page.setInputFiles('#metadata', file('urlsp.xml', served));
    await page.fill('#metadata_url', url);
    const [response] = await Promise.all([page.waitForNavigation(), page.click('#saml-sp-new-submit')]);
    assert.equal(response.status(), 422, label);
    assert.match(await problems(page), pattern, label);
    assert.equal(await page.getAttribute('#metadata_url', 'aria-invalid'), 'true', label);
    assert.equal(await page.inputValue('#metadata_url'), url, `${label}: the URL is kept`);
    assert.equal((await sps()).length, before, `${label}: nothing registered`);
  }

  // Registered from the URL: the SP the metadata describes, read back through the API.
  await page.goto(`${server.mtls}/console/t/demo/saml-sps/new?lang=ja`);
  assert.match(await text(page, 'label[for="metadata_url"]'), /メタデータの URL/);
  await page.fill('#metadata_url', mdUrl);
  await page.fill('#name', 'URL SP');
  await submit(page, '#saml-sp-new-submit');
  const registered = (await sps()).find((sp) => sp.entity_id === 'https://urlsp.test/md');
  assert.ok(registered, `registered from ${mdUrl}: ${JSON.stringify(await sps())}`);
  assert.equal(registered.name, 'URL SP');
  assert.deepEqual(registered.acs_urls, ['https://urlsp.test/acs'], 'the endpoints are the fetched metadata\'s');
  assert.equal(await text(page, '#saml-sp-entity-id'), 'https://urlsp.test/md');
});
