// The operators' web console (/console): an operator logs in with their own PKCS#12 and
// password, finds and unlocks a locked user, hands out an enrollment ticket, reissues a
// certificate, registers a relying site, changes it, gives it a new secret and removes it,
// and reads the login history; a tenant admin cannot reach another tenant or its sites, a user without a role gets a 403 page, a POST without
// the CSRF token is refused, and the pages come in Japanese too.

import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import {
  enrollAndDownload, enrolledUser, gotoLogin, loginTo, mailLinkPath, openBrowser, screenshots, startServer, submit,
  submitPassword, text, waitForMail,
} from './harness.mjs';
import { apiJson, openConsole } from './console-helpers.mjs';

/** POSTs a form to the main listener (TLS checked against the dev root); returns {status, json}. */
function postForm(server, url, form, headers = {}) {
  const target = new URL(url);
  const body = new URLSearchParams(form).toString();
  return new Promise((res, rej) => {
    const req = https.request(
      {
        host: '127.0.0.1', port: Number(target.port), path: target.pathname, method: 'POST', servername: target.hostname,
        ca: readFileSync(server.devRoot),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...headers },
      },
      (resp) => {
        let data = '';
        resp.setEncoding('utf8');
        resp.on('data', (d) => { data += d; });
        resp.on('end', () => {
          let json = null;
          try { json = JSON.parse(data); } catch { /* not JSON */ }
          res({ status: resp.statusCode, json, body: data });
        });
      },
    );
    req.once('error', rej);
    req.end(body);
  });
}

/** Wrong passwords until the account locks (the tenant's threshold); the user's own browser. */
async function lockOut(t, server, user) {
  const { page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  for (let attempt = 1; attempt <= 10; attempt += 1) {
    await gotoLogin(page, server);
    if (await page.isVisible('#locked-message')) return page;
    await submitPassword(page, user.loginId, `Wrong-${attempt}-password`);
    if (await page.isVisible('#locked-message')) return page;
  }
  throw new Error(`${user.loginId} did not lock: ${await text(page, 'main')}`);
}

test('an operator unlocks, hands out enrollment, reissues, registers, changes and removes a site and reads the history', { timeout: 420_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console');
  const operator = await enrolledUser(t, server, 'op-admin');
  server.cli('admin', 'operator', 'grant', '--tenant', 'demo', '--login-id', 'op-admin', '--role', 'tenant-admin');
  const victim = await enrolledUser(t, server, 'u-locked');
  const victimPage = await lockOut(t, server, victim);

  const { page } = await openConsole(t, server, operator);
  await snap(page, 'users');
  assert.match(page.url(), /\/console\/t\/demo\/users$/, page.url());
  assert.equal(await text(page, '#console-tenant'), 'demo');

  // Find the locked user: the "locked" filter, then by ID.
  await page.selectOption('#show', 'locked');
  await submit(page, '#user-search-submit');
  await snap(page, 'users-locked');
  const locked = await page.$$eval('.user-row', (rows) => rows.map((r) => r.dataset.loginId));
  assert.deepEqual(locked, ['u-locked']);
  await page.selectOption('#show', '');
  await page.fill('#q', 'u-lo');
  await submit(page, '#user-search-submit');
  await Promise.all([page.waitForNavigation(), page.click('.user-row[data-login-id="u-locked"] a.user-login-id')]);
  await snap(page, 'user-locked');
  assert.equal(await text(page, '#user-login-id'), 'u-locked');
  assert.match(await text(page, '#user-lock'), /^Locked/);
  assert.ok((await page.$$('.device-row')).length >= 1, 'the devices');
  assert.ok((await page.$$('.certificate-row')).length >= 1, 'the certificates');
  assert.ok((await page.$$('.login-row[data-result="wrong-password"]')).length >= 1, 'recent failed logins');

  // A POST without the CSRF token is refused and changes nothing.
  await page.$eval('#unlock-submit', (b) => b.form.querySelector('input[name="csrf_token"]').remove());
  const [refused] = await Promise.all([page.waitForNavigation(), page.click('#unlock-submit')]);
  await snap(page, 'unlock-without-csrf');
  assert.equal(refused.status(), 403);
  await page.goBack();
  await page.reload();
  assert.match(await text(page, '#user-lock'), /^Locked/, 'still locked after the refused POST');

  await submit(page, '#unlock-submit');
  await snap(page, 'unlocked');
  assert.equal(await text(page, '#notice'), 'The account has been unlocked.');
  assert.equal(await text(page, '#user-lock'), 'Not locked');
  // The user logs in again.
  await gotoLogin(victimPage, server);
  await submitPassword(victimPage, victim.loginId, victim.password);
  assert.ok(await victimPage.isVisible('#logged-in'), `logged in after the unlock: ${await text(victimPage, 'main')}`);

  // Certificate reissue: a mail with a one-use link; the user answers and gets a new download.
  const before = server.mails().length;
  await submit(page, '#reissue-submit');
  await snap(page, 'reissue-sent');
  assert.match(await text(page, '#notice'), /certificate reissue link has been sent/);
  const mail = await waitForMail(server, { to: 'u-locked@example.test', pattern: /\/reissue\/certificate\//, skip: before });
  const reissue = await openBrowser(t, server, { locale: 'en-US' });
  await reissue.page.goto(`${server.main}${mailLinkPath(mail, '/reissue/certificate/')}`);
  await reissue.page.fill('#secret_answer', 'Kyoto ramen');
  await submit(reissue.page, '#certificate-reissue-submit');
  await snap(reissue.page, 'reissued');
  assert.match(await text(reissue.page, '#download-password'), /^[A-Za-z]{8}$/, await text(reissue.page, 'main'));

  // Enrollment ticket for a new user: the URL and one-time password work in a fresh browser.
  server.cli('admin', 'user', 'create', '--tenant', 'demo', '--login-id', 'u-new', '--email', 'u-new@example.test');
  await page.goto(`${server.mtls}/console/t/demo/users/u-new`);
  assert.equal(await text(page, '#user-enrolled'), 'No');
  await submit(page, '#enrollment-ticket-submit');
  await snap(page, 'enrollment-ticket');
  const url = await text(page, '#enrollment-url');
  const otp = await text(page, '#enrollment-otp');
  assert.ok(url.startsWith(`${server.main}/enroll/`), url);
  const fresh = await openBrowser(t, server, { locale: 'en-US' });
  const enrolled = await enrollAndDownload(t, fresh.page, { url, otp, password: 'Hibari-2026!' }, snap, 'u-new-');
  assert.ok(enrolled.pfxPath);

  // Register a relying site; its client_id and secret get a token, and it is listed.
  await page.click('#menu-sites');
  await page.waitForURL(/\/sites$/);
  await Promise.all([page.waitForNavigation(), page.click('#site-new')]);
  await page.fill('#name', 'Batch job');
  await page.fill('#redirect_uris', 'https://rp.example.test/callback');
  await page.check('#machine');
  // The optional claim release list: an unknown claim is explained and the form keeps
  // what was typed; a valid list is registered and shown.
  await page.fill('#claims', 'email, phone_number');
  await submit(page, '#site-submit');
  assert.ok((await text(page, '.problems')).includes('preferred_username'), await text(page, 'main'));
  assert.equal(await page.inputValue('#name'), 'Batch job');
  assert.equal(await page.inputValue('#claims'), 'email, phone_number');
  assert.ok(await page.isChecked('#machine'));
  await page.fill('#claims', 'email, email_verified');
  await submit(page, '#site-submit');
  await snap(page, 'site-created');
  assert.equal(await text(page, '#site-claims'), 'email email_verified');
  const clientId = await text(page, '#site-client-id');
  const secret = await text(page, '#site-client-secret');
  assert.ok(clientId && secret, await text(page, 'main'));
  const tokenEndpoint = await text(page, '#site-token-endpoint');
  assert.equal(tokenEndpoint, `${server.main}/t/demo/token`);
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const token = await postForm(server, tokenEndpoint, { grant_type: 'client_credentials' }, { authorization: basic });
  assert.equal(token.status, 200, token.body);
  assert.ok(token.json.access_token);
  const wrong = await postForm(server, tokenEndpoint, { grant_type: 'client_credentials' }, {
    authorization: `Basic ${Buffer.from(`${clientId}:not-the-secret`).toString('base64')}`,
  });
  assert.equal(wrong.status, 401);
  await page.click('#back-to-sites');
  await page.waitForURL(/\/sites$/);
  const listed = await page.$$eval('.site-row', (rows) => rows.map((r) => [r.querySelector('.site-client-id').textContent.trim(), r.querySelector('.site-claims').textContent.trim()]));
  assert.ok(listed.some(([id, claims]) => id === clientId && claims === 'email email_verified'), JSON.stringify(listed));
  // The stored registration holds the same list (registered, not just displayed).
  const stored = server.cliJson('admin', 'oidc-client', 'show', '--tenant', 'demo', '--client-id', clientId);
  assert.deepEqual(stored.claims, ['email', 'email_verified'], JSON.stringify(stored));
  // The site's own page, from the list: what it is, and the form filled in as registered.
  await Promise.all([page.waitForNavigation(), page.click(`.site-client-id a[href$="/sites/${encodeURIComponent(clientId)}"]`)]);
  await snap(page, 'site');
  const sitePath = new URL(page.url()).pathname;
  assert.equal(await text(page, '#site-client-id'), clientId);
  assert.match(await text(page, '#site-kind'), /^Confidential/);
  assert.equal(await text(page, '#site-grants'), 'authorization_code refresh_token client_credentials');
  assert.equal(await page.inputValue('#name'), 'Batch job');
  assert.equal(await page.inputValue('#redirect_uris'), 'https://rp.example.test/callback');
  assert.ok(await page.isChecked('#machine'));
  assert.equal(await page.inputValue('#claims'), 'email, email_verified');
  // A bad redirect URI is explained, the typed values kept, and nothing saved.
  await page.fill('#name', 'Nightly batch');
  await page.fill('#redirect_uris', 'https://rp.example.test/callback\nhttp://evil.example.test/cb');
  const [unsaved] = await Promise.all([page.waitForNavigation(), page.click('#site-save')]);
  assert.equal(unsaved.status(), 422);
  assert.ok((await text(page, '.problems')).includes('redirect URI'), await text(page, 'main'));
  assert.equal(await page.inputValue('#name'), 'Nightly batch');
  assert.equal(await text(page, '#site-name'), 'Batch job', 'not saved');
  // A new name and a second redirect URI: saved, shown on the page and in the list.
  await page.fill('#redirect_uris', 'https://rp.example.test/callback\nhttps://rp.example.test/second');
  await submit(page, '#site-save');
  await snap(page, 'site-saved');
  assert.equal(new URL(page.url()).pathname, sitePath);
  assert.equal(await text(page, '#notice'), 'The changes have been saved.');
  assert.equal(await text(page, '#site-name'), 'Nightly batch');
  const shownUris = await page.$$eval('#site-redirect-uris code', (codes) => codes.map((c) => c.textContent));
  assert.deepEqual(shownUris, ['https://rp.example.test/callback', 'https://rp.example.test/second']);
  assert.equal(await text(page, '#site-claims'), 'email email_verified', 'the claims as they were');
  assert.equal(await page.inputValue('#redirect_uris'), 'https://rp.example.test/callback\nhttps://rp.example.test/second');
  const changed = server.cliJson('admin', 'oidc-client', 'show', '--tenant', 'demo', '--client-id', clientId);
  assert.equal(changed.name, 'Nightly batch', JSON.stringify(changed));
  assert.deepEqual(changed.redirect_uris, ['https://rp.example.test/callback', 'https://rp.example.test/second']);
  assert.deepEqual(changed.grant_types, ['authorization_code', 'refresh_token', 'client_credentials']);
  assert.deepEqual(changed.claims, ['email', 'email_verified']);
  await page.click('#back-to-sites');
  await page.waitForURL(/\/sites$/);
  const row = await page.$eval(`.site-client-id a[href$="/sites/${encodeURIComponent(clientId)}"]`, (a) => {
    const tr = a.closest('tr');
    return [tr.querySelector('.site-name').textContent.trim(), [...tr.querySelectorAll('.site-redirect-uris code')].map((c) => c.textContent)];
  });
  assert.deepEqual(row, ['Nightly batch', ['https://rp.example.test/callback', 'https://rp.example.test/second']]);
  // A new client secret, shown once: it gets a token, the old one no longer does. It is
  // confirmed first (the site stops working until it has the new one); declined, the old
  // secret still works.
  await page.goto(`${server.mtls}${sitePath}`);
  await submit(page, '#secret-submit');
  assert.equal(await text(page, '#confirm-title'), 'Issue a new client secret?');
  await page.click('#confirm-cancel');
  await page.waitForURL((u) => u.pathname === sitePath);
  const kept = await postForm(server, tokenEndpoint, { grant_type: 'client_credentials' }, { authorization: basic });
  assert.equal(kept.status, 200, `declined: the old secret still works: ${kept.body}`);
  await submit(page, '#secret-submit');
  await submit(page, '#confirm-submit');
  await snap(page, 'site-new-secret');
  assert.equal(await text(page, '#site-client-id'), clientId);
  const newSecret = await text(page, '#site-client-secret');
  assert.ok(newSecret && newSecret !== secret, await text(page, 'main'));
  const basicFor = (s) => `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(s)}`).toString('base64')}`;
  const renewed = await postForm(server, tokenEndpoint, { grant_type: 'client_credentials' }, { authorization: basicFor(newSecret) });
  assert.equal(renewed.status, 200, renewed.body);
  const old = await postForm(server, tokenEndpoint, { grant_type: 'client_credentials' }, { authorization: basic });
  assert.equal(old.status, 401, 'the old secret stops working');
  // Removing it needs the confirmation ticked; then it is gone from the list and its secret fails.
  await page.click('#back-to-site');
  await page.waitForURL((u) => u.pathname === sitePath);
  const [unconfirmed] = await Promise.all([page.waitForNavigation(), page.click('#delete-submit')]);
  assert.equal(unconfirmed.status(), 422);
  assert.ok((await text(page, '.problems')).includes('Tick the confirmation'), await text(page, 'main'));
  assert.equal(await text(page, '#site-client-id'), clientId, 'still there');
  await page.check('#confirm-delete');
  await submit(page, '#delete-submit');
  await snap(page, 'site-removed');
  assert.match(page.url(), /\/console\/t\/demo\/sites\?notice=removed$/, page.url());
  assert.match(await text(page, '#notice'), /has been removed/);
  const remaining = await page.$$eval('.site-client-id', (cells) => cells.map((c) => c.textContent.trim()));
  assert.ok(!remaining.includes(clientId), JSON.stringify(remaining));
  assert.ok(!server.cliJson('admin', 'oidc-client', 'list', '--tenant', 'demo').some((c) => c.client_id === clientId), 'removed from storage');
  const gone = await postForm(server, tokenEndpoint, { grant_type: 'client_credentials' }, { authorization: basicFor(newSecret) });
  assert.equal(gone.status, 401);
  assert.equal((await page.goto(`${server.mtls}${sitePath}`)).status(), 404);
  // A bad redirect URI is explained on the form.
  await page.goto(`${server.mtls}/console/t/demo/sites/new`);
  await page.fill('#name', 'Bad');
  await page.fill('#redirect_uris', 'http://evil.example.test/cb');
  await submit(page, '#site-submit');
  assert.ok((await text(page, '.problems')).includes('redirect URI'), await text(page, 'main'));

  // Login history: by user and result.
  await page.click('#menu-events');
  await page.waitForURL(/\/events$/);
  await page.fill('#login_id', 'u-locked');
  await page.selectOption('#result', 'wrong-password');
  await submit(page, '#events-filter-submit');
  await snap(page, 'events-wrong-password');
  const failed = await page.$$eval('.login-row', (rows) => rows.map((r) => [r.dataset.result, r.querySelector('.login-user').textContent]));
  assert.ok(failed.length >= 3, JSON.stringify(failed));
  assert.ok(failed.every(([result, user]) => result === 'wrong-password' && user === 'u-locked'), JSON.stringify(failed));
  await page.selectOption('#result', 'success');
  await submit(page, '#events-filter-submit');
  assert.ok((await page.$$('.login-row[data-result="success"]')).length >= 1, 'the login after the unlock');

  // Every action is in the audit trail with the operator, the target, the time and the address.
  const { token: apiToken } = server.cliJson('admin', 'api-token', 'create', '--tenant', 'demo', '--scope', 'read');
  const audit = await apiJson(server, apiToken, '/tenants/demo/audit-events?limit=500');
  const byOperator = audit.items.filter((e) => e.actor === 'user:demo/op-admin');
  for (const [action, target] of [
    ['user.unlock', 'tenant:demo/user:u-locked'],
    ['user.reissue-certificate', 'tenant:demo/user:u-locked'],
    ['user.enrollment-ticket', 'tenant:demo/user:u-new'],
    ['oidc-client.create', `tenant:demo/oidc-client:${clientId}`],
    ['oidc-client.update', `tenant:demo/oidc-client:${clientId}`],
    ['oidc-client.rotate-secret', `tenant:demo/oidc-client:${clientId}`],
    ['oidc-client.delete', `tenant:demo/oidc-client:${clientId}`],
  ]) {
    const event = byOperator.find((e) => e.action === action && e.target === target);
    assert.ok(event, `${action} ${target} in ${JSON.stringify(byOperator)}`);
    assert.equal(event.source_ip, '127.0.0.1');
    assert.ok(Date.parse(event.occurred_at) > Date.now() - 10 * 60_000, event.occurred_at);
  }
  assert.equal(byOperator.filter((e) => e.action === 'user.unlock').length, 1, 'the refused POST did nothing');
  assert.equal(byOperator.filter((e) => e.action === 'oidc-client.update').length, 1, 'the refused change saved nothing');

  // The same console in Japanese, by Accept-Language.
  const ja = await openConsole(t, server, operator, { locale: 'ja-JP', acceptLanguage: 'ja' });
  await snap(ja.page, 'users-ja');
  assert.equal(await text(ja.page, '#console-users-title'), '利用者の検索');
  assert.equal(await ja.page.getAttribute('html', 'lang'), 'ja');
  await ja.page.goto(`${server.mtls}/console/t/demo/users/u-locked`);
  assert.equal(await text(ja.page, '#user-lock'), 'ロックなし');
  assert.ok(await ja.page.isVisible('a.lang[hreflang="en"]'), 'the language switch');
});

test('a tenant admin stays in their tenant, a user without a role gets 403', { timeout: 300_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console-isolation');
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  server.cli('admin', 'user', 'create', '--tenant', 'other', '--login-id', 'o-secret', '--email', 'o-secret@example.test');
  const { client_id: otherSite } = server.cliJson('admin', 'oidc-client', 'create', '--tenant', 'other', '--name', 'o-secret shop',
    '--redirect-uri', 'https://other.example.test/cb');
  const admin = await enrolledUser(t, server, 'op-demo');
  server.cli('admin', 'operator', 'grant', '--tenant', 'demo', '--login-id', 'op-demo', '--role', 'tenant-admin');
  const plain = await enrolledUser(t, server, 'u-plain');

  const { page } = await openConsole(t, server, admin);
  for (const path of ['/console/t/other/users/o-secret', '/console/t/other/users', '/console/t/other/events', '/console/t/other/sites/new', '/console/t/demo/users/o-secret',
    `/console/t/other/sites/${otherSite}`, `/console/t/demo/sites/${otherSite}`, '/console/t/demo/sites/no-such-site']) {
    const response = await page.goto(`${server.mtls}${path}`);
    assert.equal(response.status(), 404, path);
    assert.ok(!(await text(page, 'main')).includes('o-secret'), `${path} names nothing`);
  }
  await snap(page, 'other-tenant-404');
  // Nor can it act there.
  await page.goto(`${server.mtls}/console/t/demo/users/op-demo`);
  const posted = await page.evaluate(async (base) => {
    const token = document.querySelector('input[name="csrf_token"]').value;
    const r = await fetch(`${base}/console/t/other/users/o-secret/disable`, {
      method: 'POST', body: new URLSearchParams({ csrf_token: token }), credentials: 'same-origin',
    });
    return r.status;
  }, server.mtls);
  assert.equal(posted, 404);
  // Nor change, give a new secret to or remove another tenant's site, by either tenant's URL.
  for (const path of [`/console/t/other/sites/${otherSite}`, `/console/t/demo/sites/${otherSite}`]) {
    for (const [action, form] of [['', { name: 'Taken', redirect_uris: 'https://evil.example.test/cb' }], ['/secret', {}], ['/secret', { confirmed: 'yes' }], ['/delete', { confirm: 'on' }]]) {
      const status = await page.evaluate(async ([url, fields]) => {
        const token = document.querySelector('input[name="csrf_token"]').value;
        const r = await fetch(url, { method: 'POST', body: new URLSearchParams({ csrf_token: token, ...fields }), credentials: 'same-origin' });
        return r.status;
      }, [`${server.mtls}${path}${action}`, form]);
      assert.equal(status, 404, `${path}${action}`);
    }
  }
  const untouched = server.cliJson('admin', 'oidc-client', 'show', '--tenant', 'other', '--client-id', otherSite);
  assert.equal(untouched.name, 'o-secret shop');
  assert.deepEqual(untouched.redirect_uris, ['https://other.example.test/cb']);

  // A logged-in user without an operator role: 403, and nothing about anyone.
  // Not through openConsole, which asserts that the console opens.
  const other = await openBrowser(t, server, { certificate: plain, locale: 'en-US' });
  await loginTo(other.page, server, plain.loginId, plain.password, { returnTo: '/console' });
  await snap(other.page, 'no-role-403');
  assert.ok(await other.page.isVisible('#console-forbidden'), await text(other.page, 'main'));
  assert.equal(await text(other.page, '#console-forbidden'), 'You are not allowed to use this page.');
  const refused = await other.page.goto(`${server.mtls}/console/t/demo/users/op-demo`);
  assert.equal(refused.status(), 403);
  assert.ok(!(await text(other.page, 'main')).includes('op-demo'));

  // Made a super-admin, the same user reaches the other tenant.
  server.cli('admin', 'operator', 'grant', '--tenant', 'demo', '--login-id', 'u-plain', '--role', 'super-admin');
  const reached = await other.page.goto(`${server.mtls}/console/t/other/users/o-secret`);
  assert.equal(reached.status(), 200);
  assert.equal(await text(other.page, '#user-login-id'), 'o-secret');
  assert.equal(await text(other.page, '#user-status'), 'Active', 'the refused POST changed nothing');
  server.cli('admin', 'operator', 'revoke', '--tenant', 'demo', '--login-id', 'u-plain', '--role', 'super-admin');
  assert.equal((await other.page.goto(`${server.mtls}/console`)).status(), 403);

  // An operator whose login method has no password: logging in again cannot help, so the
  // page says what has to change.
  server.cli('admin', 'operator', 'grant', '--tenant', 'demo', '--login-id', 'u-plain', '--role', 'tenant-admin');
  server.cli('admin', 'user', 'update', '--tenant', 'demo', '--login-id', 'u-plain', '--method', 'cert');
  const certOnly = await openBrowser(t, server, { certificate: plain, locale: 'en-US' });
  await certOnly.page.goto(`${server.mtls}/login?return_to=%2Fconsole`);
  const blocked = await certOnly.page.goto(`${server.mtls}/console`);
  assert.equal(blocked.status(), 403);
  assert.match(await text(certOnly.page, '#console-forbidden'), /your login method lacks one of them/);
});
