// Issue 19, first slice: every page leads somewhere, in both languages. The language
// switch works on pages reached by a POST; "Forgot your password?" on the login pages;
// the start, "no certificate", download and "logged in" pages say where to go next; a
// wrong password keeps the way back to the relying site; form errors look like errors.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, gotoLogin, openBrowser, screenshots, startServer, submit, submitPassword, text } from './harness.mjs';

/** Clicks the language switch; returns the status of the page it leads to. */
async function switchLanguage(page) {
  const before = await page.getAttribute('html', 'lang');
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('a.lang')]);
  const after = await page.getAttribute('html', 'lang');
  assert.notEqual(after, before, `the switch changes the language at ${page.url()}`);
  return response?.status();
}

test('the language switch leads to a page in the other language, also on pages reached by POST', { timeout: 180_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('day-one-language');
  const user = await enrolledUser(t, server, 'u-lang', { snap });
  const { page } = await openBrowser(t, server, { certificate: user, locale: 'ja-JP' });

  // A failed login (POST /login/password): the switch starts the same login again.
  await gotoLogin(page, server, '?return_to=%2Faccount');
  await submitPassword(page, user.loginId, 'Wrong-password-1');
  await snap(page, 'failed-ja');
  assert.ok(await page.isVisible('#back-to-login'));
  assert.equal(await switchLanguage(page), 200);
  await snap(page, 'failed-switched');
  assert.ok(await page.isVisible('#login-form'), `the login form again: ${await text(page, 'main')}`);
  // …and that login still goes back where it was going.
  await submitPassword(page, user.loginId, user.password);
  assert.equal(new URL(page.url()).pathname, '/account');

  // A form error (POST /account/password, wrong current password).
  await page.goto(`${server.mtls}/account/password`);
  await page.fill('#current_password', 'Not-my-password-1');
  await page.fill('#new_password', 'Fresh-Pass-42');
  await page.fill('#new_password_confirmation', 'Fresh-Pass-42');
  await submit(page, '#password-change-submit');
  await snap(page, 'password-error');
  assert.ok(await page.isVisible('.problems'));
  assert.equal(await switchLanguage(page), 200);
  assert.ok(await page.isVisible('#password-change-form'), `the form again: ${await text(page, 'main')}`);

  // A form error on the main listener (POST /download with blank fields).
  await page.goto(`${server.main}/download`);
  await page.fill('#acquisition_id', ' ');
  await page.fill('#download_password', ' ');
  await submit(page, '#download-submit');
  assert.ok(await page.isVisible('.problems'));
  assert.equal(await switchLanguage(page), 200);
  assert.ok(await page.isVisible('#download-form'));

  // The logged-out page (POST /logout, which takes no GET).
  await page.goto(`${server.mtls}/login/done`);
  await submit(page, '#logout');
  await snap(page, 'logged-out');
  assert.equal(await switchLanguage(page), 200);
  await snap(page, 'logged-out-switched');

  // A GET page keeps its own parameters.
  await page.goto(`${server.main}/download?acquisition_id=AB12`);
  assert.equal(await switchLanguage(page), 200);
  assert.equal(await page.inputValue('#acquisition_id'), 'AB12');
});

test('every page leads somewhere: forgot password, the start page, no certificate, after download, logged in', { timeout: 180_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('day-one-ways');
  const user = await enrolledUser(t, server, 'u-ways', { snap });

  // The start page links to the login, the account page and the download.
  const bare = await openBrowser(t, server, { locale: 'en-US' });
  await bare.page.goto(`${server.main}/`);
  await snap(bare.page, 'start');
  for (const [id, path] of [['#login-link', '/login'], ['#account-link', '/account'], ['#download-link', '/download']]) {
    assert.equal(await bare.page.getAttribute(id, 'href'), path, id);
  }

  // No certificate: the page says how to get one and does not say "cannot be used".
  assert.equal(await gotoLogin(bare.page, server), 401);
  await snap(bare.page, 'no-certificate');
  const heading = await text(bare.page, 'h1');
  assert.ok(!/cannot be used/i.test(heading), heading);
  assert.match(heading, /No certificate/);
  assert.equal(await bare.page.getAttribute('#get-download', 'href'), `${server.main}/download`);
  assert.ok(await bare.page.isVisible('#get-enroll'));
  assert.ok(await bare.page.isVisible('#get-operator'));

  // After a download: install, then log in at the certificate listener.
  await bare.page.goto(`${server.main}/download`);
  assert.ok(await bare.page.isVisible('#download-next'));
  assert.equal(await bare.page.getAttribute('#next-login', 'href'), `${server.mtls}/login`);

  // "Forgot your password?" on the login and failure pages, to the reissue of the tenant.
  const reissue = `${server.main}/reissue/password?tenant=demo`;
  const { page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  await gotoLogin(page, server, '?return_to=%2Faccount%2Fhistory');
  assert.equal(await page.getAttribute('#forgot-password', 'href'), reissue);
  await submitPassword(page, user.loginId, 'Wrong-password-1');
  await snap(page, 'failed');
  assert.equal(await page.getAttribute('#forgot-password', 'href'), reissue);
  // The way back keeps where the login was going.
  assert.match(await page.getAttribute('#back-to-login', 'href'), /return_to=%2Faccount%2Fhistory/);
  await Promise.all([page.waitForNavigation(), page.click('#back-to-login')]);
  await submitPassword(page, user.loginId, user.password);
  assert.equal(new URL(page.url()).pathname, '/account/history', 'back where the login was going, not /login/done');

  // "You are logged in", reached directly: the factors in words, a link to the account.
  await page.goto(`${server.mtls}/login/done`);
  await snap(page, 'done');
  const factors = await text(page, '#factors');
  assert.ok(/Device certificate/.test(factors) && /Password/.test(factors), factors);
  assert.ok(!/\b(swk|pwd|mfa)\b/.test(factors), factors);
  assert.equal(await page.getAttribute('#to-account', 'href'), '/account');
  await page.goto(`${server.mtls}/login/done?lang=ja`);
  const ja = await text(page, '#factors');
  assert.ok(ja.includes('電子証明書') && ja.includes('パスワード'), ja);

  // The lock page too (after too many wrong passwords).
  for (let attempt = 1; attempt <= 10 && !(await page.isVisible('#locked-message')); attempt += 1) {
    await gotoLogin(page, server);
    if (await page.isVisible('#login-submit')) await submitPassword(page, user.loginId, 'Wrong-password-1');
  }
  await snap(page, 'locked');
  assert.ok(await page.isVisible('#locked-message'));
  assert.equal(await page.getAttribute('#forgot-password', 'href'), reissue);
});

test('form errors look like errors: error style, aria-invalid, the first field in error focused', { timeout: 180_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('day-one-form-errors');
  const user = await enrolledUser(t, server, 'u-forms', { snap });

  const check = async (page, ids, name) => {
    await snap(page, name);
    const box = await page.$eval('.problems', (el) => {
      const style = getComputedStyle(el);
      return { color: style.color, background: style.backgroundColor, icon: getComputedStyle(el, '::before').content };
    });
    assert.equal(box.color, 'rgb(179, 38, 30)', `${name}: the error colour`);
    assert.notEqual(box.background, 'rgba(0, 0, 0, 0)', `${name}: a tinted box`);
    assert.ok(box.icon && box.icon !== 'none', `${name}: an icon`);
    for (const id of ids) assert.equal(await page.getAttribute(`#${id}`, 'aria-invalid'), 'true', `${name}: #${id}`);
    assert.equal(await page.evaluate(() => document.activeElement?.id), ids[0], `${name}: the first field in error has the focus`);
    assert.notEqual(await page.getAttribute(`#${ids[0]}`, 'autofocus'), null);
  };

  // Download: blank fields.
  const { page } = await openBrowser(t, server, { locale: 'en-US' });
  await page.goto(`${server.main}/download`);
  await page.fill('#acquisition_id', 'AB12');
  await page.fill('#download_password', ' ');
  await submit(page, '#download-submit');
  await check(page, ['download_password'], 'download');
  assert.equal(await page.getAttribute('#acquisition_id', 'aria-invalid'), null);

  // Enrollment: a wrong one-time password, then passwords that do not match.
  const ticket = server.createUser('u-forms2');
  await page.goto(ticket.url);
  await page.fill('#one_time_password', 'wrong-otp');
  await submit(page, '#enroll-otp-submit');
  await check(page, ['one_time_password'], 'enroll-otp');
  await page.fill('#one_time_password', ticket.one_time_password);
  await submit(page, '#enroll-otp-submit');
  await page.fill('#password', 'Tsubame-2026!');
  await page.fill('#password_confirmation', 'Tsubame-2027!');
  await page.selectOption('#secret_question', { index: 1 });
  await page.fill('#secret_answer', 'Kyoto ramen');
  await submit(page, '#enroll-register-submit');
  await check(page, ['password_confirmation'], 'enroll-register');

  // The account's password change: a wrong current password.
  const account = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  await gotoLogin(account.page, server, '?return_to=%2Faccount%2Fpassword');
  await submitPassword(account.page, user.loginId, user.password);
  await account.page.fill('#current_password', 'Not-my-password-1');
  await account.page.fill('#new_password', 'Fresh-Pass-42');
  await account.page.fill('#new_password_confirmation', 'Fresh-Pass-42');
  await submit(account.page, '#password-change-submit');
  await check(account.page, ['current_password'], 'account-password');
});

test('an over-long value and an unknown address keep the tenant, the way back and the language', { timeout: 120_000 }, async (t) => {
  const server = await startServer(t);
  const { page } = await openBrowser(t, server, { locale: 'en-US' });
  await page.goto(`${server.main}/reissue/password?tenant=demo`);
  // Hand-made posts (the page's maxlength stops a user), sent without a Referer so that
  // the way back is built from the form itself.
  const post = (extra) => page.evaluate(async (extra) => {
    const body = new URLSearchParams(new FormData(document.querySelector('#password-reissue-form')));
    for (const [k, v] of Object.entries(extra)) body.set(k, v);
    const r = await fetch('/reissue/password', { method: 'POST', body, referrerPolicy: 'no-referrer' });
    const html = new DOMParser().parseFromString(await r.text(), 'text/html');
    return { status: r.status, text: html.querySelector('main').textContent, back: html.querySelector('#error-back')?.getAttribute('href') };
  }, extra);

  const visible = await post({ login_id: 'a'.repeat(65), email: 'a@example.test' });
  assert.equal(visible.status, 400);
  assert.match(visible.text, /“User ID” is too long \(at most 64 characters\)/, 'a field the user sees is named');
  assert.equal(visible.back, '/reissue/password?tenant=demo', 'the way back keeps the tenant');

  const hidden = await post({ login_id: 'a', email: 'a@example.test', filler_x: 'x'.repeat(300) });
  assert.equal(hidden.status, 400);
  assert.match(hidden.text, /A value sent with this form is too long/);
  assert.ok(!hidden.text.includes('filler_x'), 'a name the page never had is not shown');
  assert.equal(hidden.back, '/reissue/password?tenant=demo');
  assert.ok(server.mails().every((m) => !m.includes('a@example.test')), 'nothing was sent');

  // An address nobody serves answers in the language asked for by the switch's `lang`.
  const missing = await page.goto(`${server.main}/no/such/page?lang=ja`);
  assert.equal(missing.status(), 404);
  assert.equal(await page.getAttribute('html', 'lang'), 'ja');
  assert.match(await text(page, 'main'), /お探しのページは存在しません/);
  // Its switch shows the same answer in the other language, not the start page.
  assert.equal(await page.getAttribute('a.lang', 'href'), '/no/such/page?lang=en');
});
