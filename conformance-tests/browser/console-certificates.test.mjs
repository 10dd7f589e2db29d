// Certificates in the operators' console: search by serial, user and status; revoke
// one with a reason behind a confirmation (declining revokes nothing); the revocation
// reads back through the admin API and the certificate stops logging in. The hostile
// twins (no CSRF token, an unknown reason, another tenant's certificate) revoke nothing.
// In Japanese too, and at a phone's width.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { enrolledUser, gotoLogin, openBrowser, p12Serial, screenshots, startServer, submit, text } from './harness.mjs';
import { apiJson, fitsPhone, openConsole, operator, postFromPage, problems, readToken } from './console-helpers.mjs';

/** The lower-case hex the API and the console use for a serial printed by openssl. */
const hex = (serial) => serial.replace(/[^0-9a-f]/gi, '').toLowerCase().replace(/^0+/, '');

test('an operator finds and revokes a certificate; a declined or hostile revocation does nothing', { timeout: 360_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console-certificates');
  const admin = await operator(t, server, 'op-certs');
  const holder = await enrolledUser(t, server, 'u-holder');
  // Another tenant with a certificate of its own.
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  server.cli('admin', 'user', 'create', '--tenant', 'other', '--login-id', 'o-secret', '--email', 'o-secret@example.test');
  const dir = mkdtempSync(join(tmpdir(), 'mamori-other-cert-'));
  writeFileSync(join(dir, 'pw'), 'Other-Cert-1\n');
  server.cli('admin', 'user', 'issue-cert', '--tenant', 'other', '--login-id', 'o-secret', '--p12', join(dir, 'o.p12'), '--password-file', join(dir, 'pw'));
  const token = readToken(server);
  const otherToken = readToken(server, 'other');
  const [foreignCert] = (await apiJson(server, otherToken, '/tenants/other/users/o-secret/certificates'));
  const [{ serial }] = await apiJson(server, token, '/tenants/demo/users/u-holder/certificates');
  assert.equal(hex(serial), hex(p12Serial(holder.pfxPath, holder.passphrase)), 'the certificate in the browser');
  assert.ok(foreignCert, 'the other tenant has a certificate');

  const { page } = await openConsole(t, server, admin);
  await page.click('#menu-certificates');
  await page.waitForURL(/\/console\/t\/demo\/certificates$/);
  await snap(page, 'certificates');
  await fitsPhone(page, 'certificates');
  // By user, by serial (any case and separators), by status.
  await page.fill('#login_id', 'u-holder');
  await submit(page, '#certificate-search-submit');
  assert.deepEqual(await page.$$eval('.certificate-row', (rows) => rows.map((r) => r.dataset.serial)), [serial]);
  assert.equal(await text(page, '.certificate-user'), 'u-holder');
  await page.fill('#login_id', '');
  await page.fill('#serial', serial.toUpperCase().match(/.{1,2}/g).join(':'));
  await submit(page, '#certificate-search-submit');
  assert.deepEqual(await page.$$eval('.certificate-row', (rows) => rows.map((r) => r.dataset.serial)), [serial]);
  await page.fill('#serial', '');
  await page.selectOption('#status', 'revoked');
  await submit(page, '#certificate-search-submit');
  assert.ok(await page.isVisible('#certificates-empty'), 'nothing revoked yet');
  // Another tenant's certificate and user are not found here.
  await page.goto(`${server.mtls}/console/t/demo/certificates?serial=${foreignCert.serial}`);
  assert.ok(await page.isVisible('#certificates-empty'));
  await page.goto(`${server.mtls}/console/t/demo/certificates?login_id=o-secret`);
  assert.ok(await page.isVisible('#certificates-empty'));
  for (const path of [`/console/t/demo/certificates/${foreignCert.serial}`, `/console/t/other/certificates/${foreignCert.serial}`, '/console/t/other/certificates']) {
    const response = await page.goto(`${server.mtls}${path}`);
    assert.equal(response.status(), 404, path);
    assert.ok(!(await text(page, 'main')).includes('o-secret'), `${path} names nothing`);
    // Reached by typing the address (no Referer), the way back is the console, not the start page.
    assert.equal(await page.getAttribute('#error-back', 'href'), '/console', path);
    assert.equal(await text(page, '#error-back'), 'Back to the console');
  }

  // Revoke: the reason, the confirmation declined, then confirmed.
  await page.goto(`${server.mtls}/console/t/demo/certificates?login_id=u-holder`);
  await Promise.all([page.waitForNavigation(), page.click('a.certificate-serial')]);
  await snap(page, 'certificate');
  await fitsPhone(page, 'certificate');
  assert.equal(await text(page, '#certificate-serial'), serial);
  await page.selectOption('#reason', 'key-compromise');
  await submit(page, '#revoke-submit');
  await snap(page, 'revoke-confirm');
  await fitsPhone(page, 'revoke confirmation');
  assert.equal(await text(page, '#confirm-login-id'), 'u-holder');
  assert.match(await text(page, 'main'), /Key compromise/);
  await page.click('#confirm-cancel');
  await page.waitForURL((u) => u.pathname.endsWith(`/certificates/${serial}`));
  assert.equal((await apiJson(server, token, `/tenants/demo/certificates/${serial}`)).status, 'active', 'declined: still active');

  // Hostile: an unknown reason, no CSRF token, another tenant's certificate by either URL.
  const badReason = await postFromPage(page, server, `/console/t/demo/certificates/${serial}/revoke`, { reason: 'because', confirmed: 'yes' });
  assert.equal(badReason.status, 422);
  assert.match(badReason.text, /Choose one of the reasons offered/);
  const unsigned = await postFromPage(page, server, `/console/t/demo/certificates/${serial}/revoke`, { reason: 'superseded', confirmed: 'yes' }, { csrf: false });
  assert.equal(unsigned.status, 403);
  const huge = await postFromPage(page, server, `/console/t/demo/certificates/${serial}/revoke`, { reason: 'x'.repeat(3000), confirmed: 'yes' });
  assert.equal(huge.status, 400);
  for (const path of [`/console/t/demo/certificates/${foreignCert.serial}/revoke`, `/console/t/other/certificates/${foreignCert.serial}/revoke`]) {
    const posted = await postFromPage(page, server, path, { reason: 'key-compromise', confirmed: 'yes' });
    assert.equal(posted.status, 404, path);
  }
  assert.equal((await apiJson(server, token, `/tenants/demo/certificates/${serial}`)).status, 'active');
  assert.equal((await apiJson(server, otherToken, `/tenants/other/certificates/${foreignCert.serial}`)).status, 'active');

  await page.selectOption('#reason', 'key-compromise');
  await submit(page, '#revoke-submit');
  await submit(page, '#confirm-submit');
  await snap(page, 'revoked');
  assert.equal(await text(page, '#notice'), 'The certificate has been revoked.');
  assert.equal(await page.getAttribute('#certificate-status', 'data-status'), 'revoked');
  assert.ok(!(await page.isVisible('#revoke-form')), 'nothing left to revoke');
  const revoked = await apiJson(server, token, `/tenants/demo/certificates/${serial}`);
  assert.equal(revoked.status, 'revoked');
  assert.equal(revoked.revocation_reason, 'key-compromise');
  // Revoking again (say, a second tab) is refused and changes nothing.
  const again = await postFromPage(page, server, `/console/t/demo/certificates/${serial}/revoke`, { reason: 'superseded', confirmed: 'yes' });
  assert.equal(again.status, 409);
  assert.equal((await apiJson(server, token, `/tenants/demo/certificates/${serial}`)).revocation_reason, 'key-compromise');
  // The certificate no longer logs in.
  const holderBrowser = await openBrowser(t, server, { certificate: holder, locale: 'en-US' });
  await gotoLogin(holderBrowser.page, server);
  assert.ok(!(await holderBrowser.page.isVisible('#login-submit')), await text(holderBrowser.page, 'main'));
  // The revoked filter now finds it.
  await page.goto(`${server.mtls}/console/t/demo/certificates?status=revoked`);
  assert.deepEqual(await page.$$eval('.certificate-row', (rows) => rows.map((r) => r.dataset.serial)), [serial]);
  const trail = (await apiJson(server, token, '/tenants/demo/audit-events?action=certificate.revoke')).items;
  assert.deepEqual(trail.map((e) => [e.actor, e.outcome, e.details.reason]), [['user:demo/op-certs', 'success', 'key-compromise']]);

  // In Japanese.
  const ja = await openConsole(t, server, admin, { locale: 'ja-JP', acceptLanguage: 'ja' });
  await ja.page.goto(`${server.mtls}/console/t/demo/certificates/${serial}`);
  await snap(ja.page, 'certificate-ja');
  assert.equal(await text(ja.page, '#console-certificate-title'), '電子証明書');
  assert.match(await text(ja.page, '#certificate-status'), /失効/);
  assert.ok(await ja.page.isVisible('a.lang[hreflang="en"]'), 'the language switch');
  await ja.page.goto(`${server.mtls}/console/t/demo/certificates`);
  assert.equal(await text(ja.page, '#console-certificates-title'), '証明書');
  await fitsPhone(ja.page, 'certificates ja');
  assert.equal(await problems(ja.page), '');
});

test('an operator lists the certificates expiring soon and downloads them as CSV; a bad window is refused', { timeout: 360_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console-certificates-expiring');
  const admin = await operator(t, server, 'op-expiry');
  await enrolledUser(t, server, 'u-expiring');
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  server.cli('admin', 'user', 'create', '--tenant', 'other', '--login-id', 'o-expiring', '--email', 'o-expiring@example.test');
  const dir = mkdtempSync(join(tmpdir(), 'mamori-other-cert-'));
  writeFileSync(join(dir, 'pw'), 'Other-Cert-1\n');
  server.cli('admin', 'user', 'issue-cert', '--tenant', 'other', '--login-id', 'o-expiring', '--p12', join(dir, 'o.p12'), '--password-file', join(dir, 'pw'));
  const token = readToken(server);
  const [{ serial }] = await apiJson(server, token, '/tenants/demo/users/u-expiring/certificates');

  const { page } = await openConsole(t, server, admin);
  await page.goto(`${server.mtls}/console/t/demo/certificates`);
  // The default policy issues for 365 days: nothing within 30, this one within 400.
  await page.fill('#expiring_within_days', '30');
  await submit(page, '#expiring-search-submit');
  assert.ok(await page.isVisible('#certificates-empty'), 'nothing expires within 30 days');
  await page.fill('#expiring_within_days', '400');
  await submit(page, '#expiring-search-submit');
  await snap(page, 'expiring');
  await fitsPhone(page, 'expiring certificates');
  const serials = await page.$$eval('.certificate-row', (rows) => rows.map((r) => r.dataset.serial));
  assert.ok(serials.includes(serial), `${serials}`);
  assert.ok(!(await text(page, 'main')).includes('o-expiring'), "another tenant's certificate is not listed");
  // The CSV is the same list, the API's export.
  const href = await page.getAttribute('#expiring-csv', 'href');
  const csv = await page.evaluate(async (url) => {
    const response = await fetch(url);
    const bytes = new Uint8Array(await response.arrayBuffer());
    return {
      status: response.status, type: response.headers.get('content-type'), cache: response.headers.get('cache-control'),
      bom: [...bytes.subarray(0, 3)], body: new TextDecoder().decode(bytes),
    };
  }, href);
  assert.equal(csv.status, 200);
  assert.equal(csv.cache, 'no-store');
  assert.deepEqual(csv.bom, [0xef, 0xbb, 0xbf], 'a UTF-8 BOM for Excel');
  assert.match(csv.type, /^text\/csv/);
  const lines = csv.body.trim().split(/\r\n/);
  assert.equal(lines[0], 'serial,subject_cn,login_id,display_name,user_status,device_no,device_email,not_after,renewed');
  assert.ok(lines.some((l) => l.startsWith(`${serial},`) && l.includes(',u-expiring,')), csv.body);
  assert.ok(!csv.body.includes('o-expiring'));
  const api = await apiJson(server, token, '/tenants/demo/expiring-certificates?within_days=400');
  assert.deepEqual(api.items.map((e) => e.certificate.serial).sort(), lines.slice(1).map((l) => l.split(',')[0]).sort(), 'API and CSV agree');
  // Hostile: a window that is no number, or out of range; another tenant's list.
  for (const bad of ['soon', '0', '99999']) {
    const response = await page.goto(`${server.mtls}/console/t/demo/certificates?expiring_within_days=${bad}`);
    assert.equal(response.status(), 400, bad);
    assert.match(await text(page, 'main'), /1 to 3650/);
    assert.equal(await page.getAttribute('#error-back', 'href'), '/console', bad);
  }
  const foreign = await page.goto(`${server.mtls}/console/t/other/expiring-certificates.csv?within_days=400`);
  assert.equal(foreign.status(), 404);
  // In Japanese.
  const ja = await openConsole(t, server, admin, { locale: 'ja-JP', acceptLanguage: 'ja' });
  await ja.page.goto(`${server.mtls}/console/t/demo/certificates?expiring_within_days=400`);
  assert.match(await text(ja.page, '#expiring-csv'), /CSV/);
  assert.match(await text(ja.page, 'main'), /有効期限までの日数/);
  assert.equal(await problems(ja.page), '');
});
