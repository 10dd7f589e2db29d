// Users in the operators' console: create a user with its first device (the enrollment
// URL and one-time password work), change its name, method and e-mail, force a password
// change, see and end its sessions, and delete it. Each change is read back through the
// admin API; each refused change saves nothing; the confirmations can be declined; the
// hostile twins (no CSRF token, another tenant's user, oversized fields) change nothing.
// In Japanese too, and at a phone's width.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrollAndDownload, enrolledUser, loginTo, openBrowser, screenshots, startServer, submit, text } from './harness.mjs';
import { api, apiJson, fitsPhone, openConsole, operator, postFromPage, problems, readToken } from './console-helpers.mjs';

test('an operator creates, changes, forces a password change on, logs out and deletes a user', { timeout: 480_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console-users');
  const admin = await operator(t, server, 'op-users');
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  server.cli('admin', 'user', 'create', '--tenant', 'other', '--login-id', 'o-secret', '--email', 'o-secret@example.test');
  const token = readToken(server);
  const otherToken = readToken(server, 'other');
  const foreignBefore = await apiJson(server, otherToken, '/tenants/other/users/o-secret');
  const { page } = await openConsole(t, server, admin);

  // Create: the form, then the enrollment ticket of the new user, shown once.
  await page.click('#user-new');
  await page.waitForURL(/\/console\/t\/demo\/new-user$/);
  await snap(page, 'new-user');
  await fitsPhone(page, 'new-user');
  await page.fill('#login_id', 'u-made');
  await page.fill('#display_name', 'Made Here');
  await page.fill('#email', 'u-made@example.test');
  await page.selectOption('#login_method', 'cert+password');
  await page.selectOption('#locale', 'en');
  await submit(page, '#user-new-submit');
  await snap(page, 'user-created');
  assert.ok(await page.isVisible('#user-created'), await text(page, 'main'));
  const url = await text(page, '#enrollment-url');
  const otp = await text(page, '#enrollment-otp');
  assert.ok(url.startsWith(`${server.main}/enroll/`), url);
  const made = await apiJson(server, token, '/tenants/demo/users/u-made');
  assert.equal(made.display_name, 'Made Here');
  assert.equal(made.login_method, 'cert+password');
  assert.equal(made.locale, 'en');
  const devices = await apiJson(server, token, '/tenants/demo/users/u-made/devices');
  assert.deepEqual(devices.map((d) => [d.device_no, d.email]), [[1, 'u-made@example.test']]);
  // The ticket works: the user enrolls and gets a certificate.
  const fresh = await openBrowser(t, server, { locale: 'en-US' });
  const madeUser = { loginId: 'u-made', password: 'Hibari-2026!', ...(await enrollAndDownload(t, fresh.page, { url, otp, password: 'Hibari-2026!' })) };
  await fresh.context.close();

  // Refused creations save nothing and name the field.
  const before = (await apiJson(server, token, '/tenants/demo/users?limit=500')).page.total;
  await page.goto(`${server.mtls}/console/t/demo/new-user`);
  await page.fill('#login_id', 'u-made');
  await page.fill('#email', 'again@example.test');
  const [taken] = await Promise.all([page.waitForNavigation(), page.click('#user-new-submit')]);
  assert.equal(taken.status(), 422);
  assert.match(await problems(page), /already exists/);
  assert.equal(await page.getAttribute('#login_id', 'aria-invalid'), 'true');
  await page.fill('#login_id', 'u-bad-mail');
  await page.fill('#email', 'not an address');
  await page.$eval('#email', (e) => { e.type = 'text'; });
  const [badMail] = await Promise.all([page.waitForNavigation(), page.click('#user-new-submit')]);
  assert.equal(badMail.status(), 422);
  assert.equal(await page.getAttribute('#email', 'aria-invalid'), 'true');
  assert.equal(await page.inputValue('#login_id'), 'u-bad-mail', 'the form keeps what was typed');
  await snap(page, 'new-user-refused');
  // Hostile: an oversized user ID, a method the policy does not allow, no CSRF token.
  const huge = await postFromPage(page, server, '/console/t/demo/new-user', { login_id: 'x'.repeat(5000), email: 'x@example.test' });
  assert.equal(huge.status, 400);
  assert.match(huge.text, /“User ID” is too long/, 'the refusal names the field');
  assert.match(huge.text, /id="error-back">Back to the form</, 'and leads back to the form');
  const method = await postFromPage(page, server, '/console/t/demo/new-user', { login_id: 'u-pw', email: 'pw@example.test', login_method: 'password' });
  assert.equal(method.status, 422);
  assert.match(method.text, /login method the tenant/);
  const noCsrf = await postFromPage(page, server, '/console/t/demo/new-user', { login_id: 'u-nocsrf', email: 'n@example.test' }, { csrf: false });
  assert.equal(noCsrf.status, 403);
  assert.equal((await apiJson(server, token, '/tenants/demo/users?limit=500')).page.total, before, 'no user was created');

  // Edit: name, method and the device's address, read back through the API.
  await page.goto(`${server.mtls}/console/t/demo/users/u-made`);
  await page.click('#user-edit');
  await page.waitForURL(/\/users\/u-made\/edit$/);
  await snap(page, 'edit');
  await fitsPhone(page, 'edit');
  assert.equal(await page.inputValue('#display_name'), 'Made Here');
  await page.fill('#display_name', 'Made Twice');
  await page.selectOption('#login_method', 'cert+password+otp');
  await page.fill('#email_1', 'u-made-new@example.test');
  await submit(page, '#user-edit-submit');
  assert.ok(await page.isVisible('#notice'), await text(page, 'main'));
  assert.equal(await text(page, '#notice'), 'The changes have been saved.');
  assert.equal(await text(page, '#user-name'), 'Made Twice');
  const edited = await apiJson(server, token, '/tenants/demo/users/u-made');
  assert.equal(edited.display_name, 'Made Twice');
  assert.equal(edited.login_method, 'cert+password+otp');
  assert.equal((await apiJson(server, token, '/tenants/demo/users/u-made/devices'))[0].email, 'u-made-new@example.test');
  // A refused edit saves nothing, not even the valid name typed with it.
  await page.goto(`${server.mtls}/console/t/demo/users/u-made/edit`);
  await page.fill('#display_name', 'Not Saved');
  await page.$eval('#email_1', (e) => { e.type = 'text'; });
  await page.fill('#email_1', 'broken@');
  const [refusedEdit] = await Promise.all([page.waitForNavigation(), page.click('#user-edit-submit')]);
  assert.equal(refusedEdit.status(), 422);
  assert.equal(await page.getAttribute('#email_1', 'aria-invalid'), 'true');
  assert.equal((await apiJson(server, token, '/tenants/demo/users/u-made')).display_name, 'Made Twice');
  // Hostile edits: without the CSRF token, and of another tenant's user by either URL.
  const unsigned = await postFromPage(page, server, '/console/t/demo/users/u-made/edit', { display_name: 'Forged' }, { csrf: false });
  assert.equal(unsigned.status, 403);
  for (const path of ['/console/t/other/users/o-secret/edit', '/console/t/demo/users/o-secret/edit']) {
    assert.equal((await page.goto(`${server.mtls}${path}`)).status(), 404, path);
    await page.goto(`${server.mtls}/console/t/demo/users/u-made`);
    const posted = await postFromPage(page, server, path, { display_name: 'Taken over', email_1: 'evil@example.test' });
    assert.equal(posted.status, 404, path);
    assert.ok(!posted.text.includes('o-secret'), `${path} names nothing`);
  }
  assert.deepEqual(await apiJson(server, otherToken, '/tenants/other/users/o-secret'), foreignBefore, 'untouched');
  assert.equal((await apiJson(server, token, '/tenants/demo/users/u-made')).display_name, 'Made Twice');

  // Force a password change.
  await page.goto(`${server.mtls}/console/t/demo/users/u-made`);
  assert.equal(await text(page, '#user-must-change'), 'No');
  await submit(page, '#force-password-submit');
  assert.match(await text(page, '#notice'), /new password at the next login/);
  assert.equal(await text(page, '#user-must-change'), 'Yes');
  assert.equal((await apiJson(server, token, '/tenants/demo/users/u-made')).password_must_change, true);
  const forcedNoCsrf = await postFromPage(page, server, '/console/t/demo/users/u-made/force-password-change', {}, { csrf: false });
  assert.equal(forcedNoCsrf.status, 403);
  const victim = await enrolledUser(t, server, 'u-sessions');

  // Sessions: the user's own login shows up; ending them needs the confirmation.
  const own = await openBrowser(t, server, { certificate: victim, locale: 'en-US' });
  await loginTo(own.page, server, victim.loginId, victim.password);
  assert.ok(own.page.url().includes('/account'), own.page.url());
  await page.goto(`${server.mtls}/console/t/demo/users/u-sessions`);
  await snap(page, 'sessions');
  await fitsPhone(page, 'user page');
  assert.equal((await page.$$('.session-row')).length, 1);
  assert.match(await text(page, '.session-factors'), /swk/);
  assert.deepEqual((await apiJson(server, token, '/tenants/demo/users/u-sessions/sessions')).map((x) => x.factors), [['swk', 'pwd']]);
  await submit(page, '#end-sessions-submit');
  await snap(page, 'end-sessions-confirm');
  await fitsPhone(page, 'confirmation');
  assert.match(await text(page, '#confirm-lead'), /1 session/);
  await page.click('#confirm-cancel');
  await page.waitForURL(/\/users\/u-sessions$/);
  assert.equal((await page.$$('.session-row')).length, 1, 'declined: the session goes on');
  assert.equal((await own.page.goto(`${server.mtls}/account`)).status(), 200);
  assert.ok(own.page.url().endsWith('/account'), own.page.url());
  await submit(page, '#end-sessions-submit');
  await submit(page, '#confirm-submit');
  assert.match(await text(page, '#notice'), /sessions have been ended/);
  assert.ok(await page.isVisible('#sessions-empty'));
  assert.deepEqual(await apiJson(server, token, '/tenants/demo/users/u-sessions/sessions'), []);
  await own.page.goto(`${server.mtls}/account`);
  assert.ok(own.page.url().includes('/login'), `logged out: ${own.page.url()}`);

  // Delete: declined first, then confirmed; the user's certificate is revoked.
  await page.goto(`${server.mtls}/console/t/demo/users/u-made`);
  await submit(page, '#delete-user-submit');
  await snap(page, 'delete-confirm');
  assert.equal(await text(page, '#confirm-login-id'), 'u-made');
  await page.click('#confirm-cancel');
  await page.waitForURL(/\/users\/u-made$/);
  assert.equal((await api(server, token, '/tenants/demo/users/u-made')).status, 200, 'declined: still there');
  // A delete POSTed straight without the confirmation only shows the confirmation.
  const unconfirmed = await postFromPage(page, server, '/console/t/demo/users/u-made/delete', {});
  assert.equal(unconfirmed.status, 200);
  assert.match(unconfirmed.text, /id="confirm-submit"/);
  assert.equal((await api(server, token, '/tenants/demo/users/u-made')).status, 200);
  // Nor does a confirmed delete of another tenant's user do anything.
  const foreign = await postFromPage(page, server, '/console/t/other/users/o-secret/delete', { confirmed: 'yes' });
  assert.equal(foreign.status, 404);
  assert.equal((await api(server, otherToken, '/tenants/other/users/o-secret')).status, 200);
  await submit(page, '#delete-user-submit');
  await submit(page, '#confirm-submit');
  assert.match(page.url(), /\/console\/t\/demo\/users\?notice=deleted$/, page.url());
  assert.match(await text(page, '#notice'), /has been deleted/);
  assert.equal((await api(server, token, '/tenants/demo/users/u-made')).status, 404);
  const gone = await openBrowser(t, server, { certificate: madeUser, locale: 'en-US' });
  await gone.page.goto(`${server.mtls}/login`);
  assert.ok(!(await gone.page.isVisible('#login-submit')), 'the deleted user\'s certificate logs no one in');

  // The audit trail has every change with the operator as actor.
  const trail = (await apiJson(server, token, '/tenants/demo/audit-events?limit=500')).items.filter((e) => e.actor === 'user:demo/op-users');
  for (const action of ['user.create', 'user.enrollment-ticket', 'user.update', 'user.device-email', 'user.force-password-change', 'user.end-sessions', 'user.delete']) {
    assert.ok(trail.some((e) => e.action === action && e.outcome === 'success'), `${action} in ${JSON.stringify(trail.map((e) => e.action))}`);
  }
  assert.equal(trail.filter((e) => e.action === 'user.update').length, 1, 'only the one saved edit');
  assert.equal(trail.filter((e) => e.action === 'user.delete').length, 1);

  // In Japanese.
  const ja = await openConsole(t, server, admin, { locale: 'ja-JP', acceptLanguage: 'ja' });
  await ja.page.goto(`${server.mtls}/console/t/demo/new-user`);
  assert.equal(await text(ja.page, '#console-user-new-title'), '利用者の作成');
  assert.equal(await ja.page.getAttribute('html', 'lang'), 'ja');
  assert.ok(await ja.page.isVisible('a.lang[hreflang="en"]'), 'the language switch');
  await ja.page.goto(`${server.mtls}/console/t/demo/users/u-sessions`);
  await submit(ja.page, '#delete-user-submit');
  await snap(ja.page, 'delete-confirm-ja');
  assert.equal(await text(ja.page, '#confirm-title'), '利用者を削除');
  assert.equal(await text(ja.page, '#confirm-cancel'), '戻る（何も変更しません）');
  await fitsPhone(ja.page, 'confirmation ja');
  await ja.page.goto(`${server.mtls}/console/t/demo/users/u-sessions/edit`);
  assert.equal(await text(ja.page, '#console-user-edit-title'), '利用者の変更');
  await fitsPhone(ja.page, 'edit ja');

  // Nor can a new user be made in another tenant.
  assert.equal((await ja.page.goto(`${server.mtls}/console/t/other/new-user`)).status(), 404);
  await ja.page.goto(`${server.mtls}/console/t/demo/new-user`);
  const elsewhere = await postFromPage(ja.page, server, '/console/t/other/new-user', { login_id: 'o-planted', email: 'o@example.test' });
  assert.equal(elsewhere.status, 404);
  assert.equal((await api(server, otherToken, '/tenants/other/users/o-planted')).status, 404);
});

test('a user without an operator role gets the 403 page on the new user pages', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const plain = await enrolledUser(t, server, 'u-plain');
  const { page } = await openBrowser(t, server, { certificate: plain, locale: 'en-US' });
  await loginTo(page, server, plain.loginId, plain.password);
  for (const path of ['/console/t/demo/new-user', '/console/t/demo/users/u-plain/edit', '/console/t/demo/policy', '/console/t/demo/certificates', '/console/t/demo/audit', '/console/t/demo/audit.csv']) {
    const response = await page.goto(`${server.mtls}${path}`).catch(() => null);
    if (response) {
      assert.equal(response.status(), 403, path);
      assert.ok(await page.isVisible('#console-forbidden'), path);
    }
  }
  await page.goto(`${server.mtls}/account`);
  const posted = await postFromPage(page, server, '/console/t/demo/users/u-plain/delete', { confirmed: 'yes' });
  assert.equal(posted.status, 403);
  assert.equal(server.cliJson('admin', 'user', 'show', '--tenant', 'demo', '--login-id', 'u-plain').status, 'active');
});
