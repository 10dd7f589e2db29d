// Issue 19: at 390 px wide no page scrolls sideways. Every page a user and an operator
// reach, in Japanese and English, at 390×844: document.documentElement.scrollWidth must
// not exceed window.innerWidth (tables become stacked cards or wrap, forms wrap).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { enrolledUser, loginTo, openBrowser, screenshots, startServer, submit, tempDir } from './harness.mjs';
import { openConsole, operator } from './console-helpers.mjs';

const PHONE = { width: 390, height: 844 };

/** Measures the page now shown; a page wider than the window is noted in `wide`. */
async function measure(page, label, wide, snap) {
  const { scroll, inner, culprit } = await page.evaluate(() => {
    const inner = window.innerWidth;
    // The widest element that sticks out, to name in the failure.
    let culprit = '';
    let widest = inner;
    for (const el of document.querySelectorAll('body *')) {
      const right = el.getBoundingClientRect().right;
      if (right > widest) {
        widest = right;
        culprit = `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className ? `.${String(el.className).split(' ').join('.')}` : ''}`;
      }
    }
    return { scroll: document.documentElement.scrollWidth, inner, culprit };
  });
  if (scroll > inner) {
    wide.push(`${label} (${page.url()}): ${scroll} px > ${inner} px, widest: ${culprit}`);
    await snap?.(page, label.replace(/[^a-z0-9-]+/gi, '_'));
  }
}

/** Goes to `url`, checks it is the page meant (`status`: 200, or 'error' for a 4xx
 * error page), and measures it. */
async function visit(page, url, label, wide, snap, status = 200) {
  const response = await page.goto(url);
  const got = response?.status();
  if (status === 'error') assert.ok(got >= 400 && got < 500, `${label}: HTTP ${got}`);
  else assert.equal(got, status, `${label}: HTTP ${got} at ${page.url()}`);
  await measure(page, label, wide, snap);
}

test('at 390 px wide no page scrolls sideways, in Japanese and English', { timeout: 900_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('layout-390');
  const wide = [];
  // A user with a certificate, an operator, a relying site with a long redirect URI.
  const user = await enrolledUser(t, server, 'u-phone-with-a-rather-long-user-id-0123456789');
  const admin = await operator(t, server, 'op-phone');
  const { client_id: clientId } = server.cliJson('admin', 'oidc-client', 'create', '--tenant', 'demo', '--name', 'Shop with a long name',
    '--redirect-uri', 'https://shop.example.test/a/rather/long/callback/path/that/does/not/fit/on/a/phone/screen/at/all');
  // A SAML service provider with a long entity ID, and a super-admin for the keys page.
  const spFile = join(tempDir(t, 'layout-390-'), 'sp.xml');
  const entityId = 'https://saml.example.test/a/rather/long/entity/id/that/does/not/fit/on/a/phone/screen/metadata';
  writeFileSync(spFile, `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${entityId}/acs" index="0"/>
  </md:SPSSODescriptor></md:EntityDescriptor>`);
  server.cli('admin', 'saml-sp', 'add', '--tenant', 'demo', '--metadata', spFile, '--name', 'Wiki with a long name');
  const { id: spId } = server.cliJson('admin', 'saml-sp', 'show', '--tenant', 'demo', '--entity-id', entityId);
  const root = await operator(t, server, 'op-phone-root', 'super-admin');

  for (const locale of ['ja-JP', 'en-US']) {
    const lang = locale.slice(0, 2);
    // --- Without a certificate (main listener): start, download, enrollment, reissue, errors.
    {
      const { page, context } = await openBrowser(t, server, { locale });
      await page.setViewportSize(PHONE);
      await visit(page, `${server.main}/`, `${lang}-start`, wide, snap);
      await visit(page, `${server.main}/download`, `${lang}-download`, wide, snap);
      await page.fill('#acquisition_id', 'NO-SUCH-ID');
      await page.fill('#download_password', 'wrong-password');
      await submit(page, '#download-submit');
      await measure(page, `${lang}-download-failed`, wide, snap);
      await visit(page, `${server.main}/reissue/password?tenant=demo`, `${lang}-reissue-request`, wide, snap);
      await page.fill('#login_id', 'nobody');
      await page.fill('#email', 'nobody@example.test');
      await submit(page, '#password-reissue-submit');
      await measure(page, `${lang}-reissue-sent`, wide, snap);
      await visit(page, `${server.main}/reissue/password/not-a-real-token-0123456789`, `${lang}-reissue-expired`, wide, snap, 'error');
      await visit(page, `${server.main}/no/such/page`, `${lang}-not-found`, wide, snap, 'error');
      // Enrollment of a new user: the one-time password step, the registration form.
      const ticket = server.createUser(`u-phone-enroll-${lang}`);
      await visit(page, ticket.url, `${lang}-enroll-otp`, wide, snap);
      await page.fill('#one_time_password', ticket.one_time_password);
      await submit(page, '#enroll-otp-submit');
      await measure(page, `${lang}-enroll-register`, wide, snap);
      await page.fill('#password', 'Tsubame-2026!');
      await page.fill('#password_confirmation', 'Tsubame-2026!');
      await page.selectOption('#secret_question', { index: 1 });
      await page.fill('#secret_answer', 'Kyoto ramen');
      await submit(page, '#enroll-register-submit');
      await measure(page, `${lang}-enroll-complete`, wide, snap);
      await visit(page, `${server.main}/enroll/not-a-real-token-0123456789`, `${lang}-enroll-unavailable`, wide, snap, 'error');
      // The certificate listener without a certificate: the "no certificate" page.
      await visit(page, `${server.mtls}/login`, `${lang}-no-certificate`, wide, snap, 'error');
      await context.close();
    }

    // --- The user with the certificate: the login steps and the account portal.
    {
      const { page, context } = await openBrowser(t, server, { certificate: user, locale });
      await page.setViewportSize(PHONE);
      await visit(page, `${server.mtls}/login?return_to=%2Faccount`, `${lang}-login-password`, wide, snap);
      await page.fill('#login_id', user.loginId);
      await page.fill('#password', 'Wrong-password-1');
      await submit(page, '#login-submit');
      await measure(page, `${lang}-login-failed`, wide, snap);
      await loginTo(page, server, user.loginId, user.password);
      await measure(page, `${lang}-account`, wide, snap);
      for (const [path, name] of [
        ['/account/history', 'history'],
        ['/account/password', 'password'],
        ['/account/secret-question', 'secret-question'],
        ['/account/login-method', 'login-method'],
        ['/account/sites', 'sites'],
        ['/account/devices/new', 'device-new'],
        ['/account/devices/1/email', 'device-email'],
        ['/account/devices/1/delete', 'device-delete'],
        ['/account/devices/1/csr', 'device-csr'],
        ['/login/done', 'logged-in'],
      ]) {
        await visit(page, `${server.mtls}${path}`, `${lang}-${name}`, wide, snap);
      }
      // Renewal, from the device table.
      await visit(page, `${server.mtls}/account`, `${lang}-account-again`, wide, snap);
      if (lang === 'ja') {
        assert.ok(await page.isVisible('#device-1-renew-submit'), 'renewal is offered');
        await page.click('#device-1-renew-submit');
        await page.waitForSelector('#device-renewed');
        await measure(page, `${lang}-renewed`, wide, snap);
        await visit(page, `${server.mtls}/account`, `${lang}-account-renewal-pending`, wide, snap);
      }
      await visit(page, `${server.mtls}/login/done`, `${lang}-done`, wide, snap);
      await submit(page, '#logout');
      await measure(page, `${lang}-logged-out`, wide, snap);
      await context.close();
    }

    // --- The operator: every console page.
    {
      const { page, context } = await openConsole(t, server, admin, { locale });
      await page.setViewportSize(PHONE);
      const base = `${server.mtls}/console/t/demo`;
      for (const [path, name] of [
        ['/users', 'users'],
        [`/users/${encodeURIComponent(user.loginId)}`, 'user'],
        [`/users/${encodeURIComponent(user.loginId)}/edit`, 'user-edit'],
        ['/new-user', 'new-user'],
        ['/users-import', 'users-import'],
        ['/policy', 'policy'],
        ['/sites', 'sites'],
        ['/sites/new', 'site-new'],
        [`/sites/${clientId}`, 'site'],
        ['/certificates', 'certificates'],
        ['/audit', 'audit'],
        ['/events', 'events'],
        ['/saml-sps', 'saml-sps'],
        ['/saml-sps/new', 'saml-sp-new'],
        [`/saml-sps/${spId}`, 'saml-sp'],
      ]) {
        await visit(page, `${base}${path}`, `${lang}-console-${name}`, wide, snap);
      }
      await visit(page, `${server.mtls}/console`, `${lang}-console-home`, wide, snap);
      const serial = await page.evaluate(async (url) => {
        const html = await (await fetch(url)).text();
        return html.match(/\/certificates\/([0-9A-Fa-f:]+)"/)?.[1] ?? null;
      }, `${base}/certificates`);
      if (serial) await visit(page, `${base}/certificates/${serial}`, `${lang}-console-certificate`, wide, snap);
      // The confirmation before removing the SAML service provider (declined: not submitted).
      await visit(page, `${base}/saml-sps/${spId}`, `${lang}-console-saml-sp-again`, wide, snap);
      await submit(page, '#delete-submit');
      await measure(page, `${lang}-console-saml-sp-confirm`, wide, snap);
      await context.close();
    }

    // --- A super-admin: the signing keys and the rotation's confirmation (declined).
    {
      const { page, context } = await openConsole(t, server, root, { locale });
      await page.setViewportSize(PHONE);
      await visit(page, `${server.mtls}/console/t/demo/keys`, `${lang}-console-keys`, wide, snap);
      await submit(page, '#rotate-saml-submit');
      await measure(page, `${lang}-console-keys-confirm`, wide, snap);
      await context.close();
    }
  }
  assert.deepEqual(wide, [], `pages wider than 390 px:\n${wide.join('\n')}`);
});
