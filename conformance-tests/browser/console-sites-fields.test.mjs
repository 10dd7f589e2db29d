// A relying site's registration fields in the operators' console beyond name, redirect
// URIs and claims: client ID, authentication method, refresh tokens, post-logout redirect
// URIs, scopes, token format and signature, consent, PKCE, request URIs, back-channel
// logout. Registered and changed through the console, read back through the admin API;
// refused values (checked by the service's own validators) save nothing; no CSRF token
// and another tenant's site change nothing. In Japanese too, and at a phone's width.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { screenshots, startServer, submit, text } from './harness.mjs';
import { apiJson, fitsPhone, openConsole, operator, postFromPage, problems, readToken } from './console-helpers.mjs';

test('an operator registers and changes every field of a relying site', { timeout: 300_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console-sites-fields');
  const admin = await operator(t, server, 'op-sites');
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  const { client_id: otherSite } = server.cliJson('admin', 'oidc-client', 'create', '--tenant', 'other', '--name', 'Other shop',
    '--redirect-uri', 'https://other.example.test/cb');
  const token = readToken(server);
  const count = async () => (await apiJson(server, token, '/tenants/demo/oidc-clients')).length;
  const before = await count();
  const { page } = await openConsole(t, server, admin);

  // Registration with the fields the API takes.
  await page.goto(`${server.mtls}/console/t/demo/sites/new`);
  await fitsPhone(page, 'site-new');
  const fill = async () => {
    await page.fill('#name', 'Full site');
    await page.fill('#redirect_uris', 'https://rp.example.test/cb');
    await page.fill('#client_id', 'demo.full');
    await page.selectOption('#auth_method', 'client_secret_post');
    await page.uncheck('#refresh');
    await page.fill('#post_logout_redirect_uris', 'https://rp.example.test/bye');
    await page.fill('#scopes', 'openid email');
    await page.selectOption('#access_token_format', 'opaque');
    await page.selectOption('#id_token_alg', 'RS256');
    await page.check('#first_party');
    await page.check('#require_pkce');
    await page.fill('#request_uris', 'https://rp.example.test/request.jwt');
    await page.fill('#backchannel_logout_uri', 'https://rp.example.test/backchannel');
  };
  // Refused first, by the validators behind the service: a post-logout URI over http,
  // then private_key_jwt without keys. Nothing is registered; the form keeps the values.
  await fill();
  await page.fill('#post_logout_redirect_uris', 'http://evil.example.test/bye');
  const [badUri] = await Promise.all([page.waitForNavigation(), page.click('#site-submit')]);
  assert.equal(badUri.status(), 422);
  assert.match(await problems(page), /Redirect URIs after logout: .*https/, await problems(page));
  assert.equal(await page.inputValue('#post_logout_redirect_uris'), 'http://evil.example.test/bye');
  assert.equal(await page.inputValue('#client_id'), 'demo.full');
  await page.fill('#post_logout_redirect_uris', 'https://rp.example.test/bye');
  await page.selectOption('#auth_method', 'private_key_jwt');
  const [noKeys] = await Promise.all([page.waitForNavigation(), page.click('#site-submit')]);
  assert.equal(noKeys.status(), 422);
  assert.match(await problems(page), /public keys/);
  await page.fill('#jwks', '{not json');
  const [notJson] = await Promise.all([page.waitForNavigation(), page.click('#site-submit')]);
  assert.equal(notJson.status(), 422);
  assert.match(await problems(page), /JWK Set/);
  assert.equal(await count(), before, 'nothing registered');

  await page.goto(`${server.mtls}/console/t/demo/sites/new`);
  await fill();
  await submit(page, '#site-submit');
  await snap(page, 'created');
  assert.equal(await text(page, '#site-client-id'), 'demo.full');
  assert.ok(await text(page, '#site-client-secret'), 'client_secret_post has a secret, shown once');
  const stored = await apiJson(server, token, '/tenants/demo/oidc-clients/demo.full');
  assert.equal(stored.token_endpoint_auth_method, 'client_secret_post');
  assert.deepEqual(stored.grant_types, ['authorization_code'], 'no refresh tokens');
  assert.deepEqual(stored.post_logout_redirect_uris, ['https://rp.example.test/bye']);
  assert.deepEqual(stored.scopes, ['openid', 'email']);
  assert.equal(stored.access_token_format, 'opaque');
  assert.equal(stored.first_party, true);
  assert.equal(stored.require_pkce, true);
  assert.deepEqual(stored.request_uris, ['https://rp.example.test/request.jwt']);
  assert.equal(stored.backchannel_logout_uri, 'https://rp.example.test/backchannel');

  // The site's page shows the fields as stored (the signature from the stored settings).
  await page.goto(`${server.mtls}/console/t/demo/sites/demo.full`);
  await snap(page, 'site');
  await fitsPhone(page, 'site');
  assert.equal(await page.inputValue('#post_logout_redirect_uris'), 'https://rp.example.test/bye');
  assert.equal(await page.inputValue('#scopes'), 'openid email');
  assert.equal(await page.inputValue('#access_token_format'), 'opaque');
  assert.equal(await page.inputValue('#id_token_alg'), 'RS256');
  assert.ok(await page.isChecked('#first_party'));
  assert.ok(!(await page.isChecked('#refresh')));
  assert.match(await text(page, '#site-auth-method'), /in the form/);
  assert.ok(!(await page.$('#auth_method')), 'the method is fixed after registration');

  // A refused change saves nothing.
  await page.fill('#post_logout_redirect_uris', 'https://rp.example.test/bye\nhttps://rp.example.test/bye#frag');
  await page.uncheck('#first_party');
  const [refused] = await Promise.all([page.waitForNavigation(), page.click('#site-save')]);
  assert.equal(refused.status(), 422);
  assert.match(await problems(page), /Redirect URIs after logout/);
  assert.equal((await apiJson(server, token, '/tenants/demo/oidc-clients/demo.full')).first_party, true, 'not saved');

  // A change that saves.
  await page.fill('#post_logout_redirect_uris', 'https://rp.example.test/bye2');
  await page.check('#refresh');
  await page.selectOption('#access_token_format', 'jwt');
  await page.fill('#backchannel_logout_uri', '');
  await submit(page, '#site-save');
  assert.equal(await text(page, '#notice'), 'The changes have been saved.');
  const changed = await apiJson(server, token, '/tenants/demo/oidc-clients/demo.full');
  assert.deepEqual(changed.post_logout_redirect_uris, ['https://rp.example.test/bye2']);
  assert.equal(changed.first_party, false);
  assert.deepEqual(changed.grant_types, ['authorization_code', 'refresh_token']);
  assert.equal(changed.access_token_format, 'jwt');
  assert.equal(changed.backchannel_logout_uri, undefined);
  assert.deepEqual(changed.scopes, ['openid', 'email'], 'untouched');
  const audit = await apiJson(server, token, '/tenants/demo/audit-events?limit=500');
  const update = audit.items.find((e) => e.action === 'oidc-client.update' && e.target === 'tenant:demo/oidc-client:demo.full');
  assert.ok(update, 'audited');
  assert.equal(audit.items.filter((e) => e.action === 'oidc-client.update').length, 1, 'the refused change is not');

  // Hostile: no CSRF token; another tenant's site.
  const fields = { name: 'Hijacked', redirect_uris: 'https://rp.example.test/cb', first_party: 'on', scopes: 'openid',
    access_token_format: 'jwt', id_token_alg: 'ES256' };
  const noCsrf = await postFromPage(page, server, '/console/t/demo/sites/demo.full', fields, { csrf: false });
  assert.equal(noCsrf.status, 403);
  assert.equal((await apiJson(server, token, '/tenants/demo/oidc-clients/demo.full')).name, 'Full site');
  for (const path of [`/console/t/other/sites/${otherSite}`, `/console/t/demo/sites/${otherSite}`]) {
    await page.goto(`${server.mtls}/console/t/demo/sites`); // a page with the CSRF token
    const posted = await postFromPage(page, server, path, fields);
    assert.equal(posted.status, 404, path);
    assert.equal((await page.goto(`${server.mtls}${path}`)).status(), 404, path);
  }
  const otherToken = readToken(server, 'other');
  assert.equal((await apiJson(server, otherToken, `/tenants/other/oidc-clients/${otherSite}`)).name, 'Other shop');

  // In Japanese.
  const ja = await openConsole(t, server, admin, { locale: 'ja-JP', acceptLanguage: 'ja' });
  await ja.page.goto(`${server.mtls}/console/t/demo/sites/new`);
  assert.equal(await text(ja.page, 'label[for="post_logout_redirect_uris"]'), 'ログアウト後のリダイレクトURI');
  await fitsPhone(ja.page, 'site-new ja');
  await snap(ja.page, 'site-new-ja');
});
