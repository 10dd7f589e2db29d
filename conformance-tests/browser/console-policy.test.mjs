// The tenant policy in the operators' console: every knob of the admin API's policy
// document is on the page, grouped; a change saves and reads back through the API; a
// refused value (out of range, against another knob, unknown) saves nothing, not even
// the valid changes beside it, and the page names the knob; the hostile twins (no CSRF
// token, another tenant's policy, oversized fields) change nothing. In Japanese too, and
// at a phone's width. The policy page destroys nothing, so it has no confirmation.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { screenshots, startServer, submit, text } from './harness.mjs';
import { api, apiJson, fitsPhone, openConsole, operator, postFromPage, problems, readToken } from './console-helpers.mjs';

test('an operator changes the tenant policy; refused values save nothing and name the knob', { timeout: 300_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console-policy');
  const admin = await operator(t, server, 'op-policy');
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  const token = readToken(server);
  const otherToken = readToken(server, 'other');
  const original = await apiJson(server, token, '/tenants/demo/policy');
  const otherOriginal = await apiJson(server, otherToken, '/tenants/other/policy');

  const { page } = await openConsole(t, server, admin);
  await page.click('#menu-policy');
  await page.waitForURL(/\/console\/t\/demo\/policy$/);
  await snap(page, 'policy');
  await fitsPhone(page, 'policy');
  // Every knob of the API's document has a field.
  for (const knob of Object.keys(original)) {
    const found = knob === 'allowed_login_methods' || knob === 'password_char_classes'
      ? await page.$(`fieldset#${knob}`)
      : await page.$(`[name="${knob}"]`);
    assert.ok(found, `a field for ${knob}`);
  }
  for (const group of ['passwords', 'lockout', 'devices', 'certificates', 'methods', 'sessions', 'provisioning']) {
    assert.ok(await page.isVisible(`#group-${group}`), group);
  }
  assert.equal(await page.inputValue('#max_devices'), String(original.max_devices));
  // Mailing SCIM users their ticket is off unless chosen, and the page says why it is weaker.
  assert.equal(original.scim_enrollment_mail, false);
  assert.equal(await page.isChecked('#scim_enrollment_mail'), false);
  assert.match(await text(page, '#scim_enrollment_mail-hint'), /^Weaker than handing out tickets yourself: .*one-time password/);
  assert.equal(await page.getAttribute('#scim_enrollment_mail', 'aria-describedby'), 'scim_enrollment_mail-hint');
  assert.match(await text(page, '#group-lockout'), /whole number from 1 to 2147483647/);

  // A change that saves.
  await page.fill('#max_devices', '5');
  await page.fill('#password_expiry_days', '0');
  await page.uncheck('#show_attempts_left');
  await page.check('#scim_enrollment_mail');
  await page.selectOption('#pkcs12_format', 'legacy');
  await page.check('[id="allowed_login_methods.password"]');
  await page.uncheck('[id="password_char_classes.symbols"]');
  await submit(page, '#policy-save');
  await snap(page, 'policy-saved');
  assert.equal(await text(page, '#notice'), 'The policy has been saved.');
  assert.equal(await page.inputValue('#max_devices'), '5');
  const saved = await apiJson(server, token, '/tenants/demo/policy');
  assert.deepEqual(saved, {
    ...original,
    max_devices: 5,
    password_expiry_days: 0,
    show_attempts_left: false,
    scim_enrollment_mail: true,
    pkcs12_format: 'legacy',
    allowed_login_methods: [...original.allowed_login_methods, 'password'],
    password_char_classes: { ...original.password_char_classes, symbols: false },
  });
  // The preview says what users are told under these values, in the pages' own words.
  assert.match(await text(page, '#preview-password'), new RegExp(`^Use ${saved.password_min_length} to ${saved.password_max_length} half-width characters`));
  assert.match(await text(page, '#preview-lockout'), new RegExp(`^After ${saved.lockout_threshold_password} wrong passwords in a row`));
  // The ranges shown are the ones enforced: a ten-year ceiling on certificates, at least 8
  // characters for a password (NIST SP 800-63B).
  assert.match(await text(page, '#group-certificates'), /whole number from 1 to 3650/);
  assert.match(await text(page, '#group-passwords'), /whole number from 8 to 256/);

  // Refused changes: each names its knob, keeps what was typed, and saves nothing (not
  // even the valid change made with it).
  for (const [label, change, knob, expected] of [
    ['zero threshold', async () => page.fill('#lockout_threshold_password', '0'), 'lockout_threshold_password', /Wrong passwords before the account locks: enter a whole number/],
    ['max below min', async () => page.fill('#password_max_length', '4'), 'password_max_length', /Longest password \(characters\): must not be shorter than the shortest password/],
    ['idle above absolute', async () => page.fill('#session_idle_minutes', '9999'), 'session_absolute_minutes', /Session ends at the latest after \(minutes\): must not be shorter/],
    ['default not allowed', async () => page.uncheck('[id="allowed_login_methods.cert+password"]'), 'default_login_method', /Login method of new users: must be one of the login methods allowed/],
    ['too large', async () => page.fill('#download_max_count', '99999999999'), 'download_max_count', /Downloads per certificate: enter a whole number/],
    ['validity no CA can issue', async () => page.fill('#certificate_validity_days', '100000'), 'certificate_validity_days', /Certificate validity \(days\): enter a whole number/],
    ['password shorter than 8', async () => page.fill('#password_min_length', '7'), 'password_min_length', /Shortest password \(characters\): enter a whole number/],
    ['no grace period', async () => page.fill('#renewal_grace_days', '0'), 'renewal_grace_days', /Days a renewed certificate keeps working if the new one is not used: enter a whole number/],
  ]) {
    await page.goto(`${server.mtls}/console/t/demo/policy`);
    await page.fill('#max_devices', '7');
    await change();
    const [response] = await Promise.all([page.waitForNavigation(), page.click('#policy-save')]);
    assert.equal(response.status(), 422, label);
    assert.match(await problems(page), expected, label);
    assert.equal(await page.getAttribute(`[id="${knob}"]`, 'aria-invalid'), 'true', label);
    assert.equal(await page.inputValue('#max_devices'), '7', `${label}: the form keeps what was typed`);
    assert.deepEqual(await apiJson(server, token, '/tenants/demo/policy'), saved, `${label}: nothing saved`);
  }
  await snap(page, 'policy-refused');

  // Hostile: an unknown choice, an oversized field, no CSRF token, another tenant's policy.
  await page.goto(`${server.mtls}/console/t/demo/policy`);
  const form = await page.$eval('#policy-form', (f) => Object.fromEntries(new FormData(f).entries()));
  const unknown = await postFromPage(page, server, '/console/t/demo/policy', { ...form, certificate_key_type: 'rsa512' });
  assert.equal(unknown.status, 422);
  assert.match(unknown.text, /Certificate key type: choose one of the values offered/);
  const oversized = await postFromPage(page, server, '/console/t/demo/policy', { ...form, max_devices: '9'.repeat(4000) });
  assert.equal(oversized.status, 400);
  // The refusal names the field by its label and links back to the form (issue #19).
  assert.match(oversized.text, /“Most devices per user” is too long \(at most 256 characters\)/);
  assert.match(oversized.text, /<a href="[^"]*policy" id="error-back">Back to the form<\/a>/);
  const unsigned = await postFromPage(page, server, '/console/t/demo/policy', { ...form, csrf_token: '', max_devices: '9' }, { csrf: false });
  assert.equal(unsigned.status, 403);
  assert.deepEqual(await apiJson(server, token, '/tenants/demo/policy'), saved, 'the hostile POSTs saved nothing');
  assert.equal((await page.goto(`${server.mtls}/console/t/other/policy`)).status(), 404);
  await page.goto(`${server.mtls}/console/t/demo/policy`);
  const foreign = await postFromPage(page, server, '/console/t/other/policy', { ...form, max_devices: '1' });
  assert.equal(foreign.status, 404);
  assert.deepEqual(await apiJson(server, otherToken, '/tenants/other/policy'), otherOriginal, 'the other tenant is untouched');

  // The saved policy is in the audit trail, as the API's PUT is.
  const trail = (await apiJson(server, token, '/tenants/demo/audit-events?action=tenant.policy.update')).items;
  assert.deepEqual(trail.map((e) => [e.actor, e.outcome]), [['user:demo/op-policy', 'success']]);
  assert.equal((await api(server, token, '/tenants/demo/policy')).json.max_devices, 5);

  // In Japanese, and at a phone's width.
  const ja = await openConsole(t, server, admin, { locale: 'ja-JP', acceptLanguage: 'ja' });
  await ja.page.goto(`${server.mtls}/console/t/demo/policy`);
  await snap(ja.page, 'policy-ja');
  assert.equal(await text(ja.page, '#console-policy-title'), 'テナントのポリシー');
  assert.equal(await text(ja.page, '#group-lockout legend'), 'ロックアウト');
  assert.ok(await ja.page.isVisible('a.lang[hreflang="en"]'), 'the language switch');
  await ja.page.fill('#max_devices', '0');
  await submit(ja.page, '#policy-save');
  assert.match(await problems(ja.page), /1 人あたりの最大端末数: 表示されている範囲の整数/);
  await fitsPhone(ja.page, 'policy ja');
  const jaForm = await ja.page.$eval('#policy-form', (f) => Object.fromEntries(new FormData(f).entries()));
  const jaOversized = await postFromPage(ja.page, server, '/console/t/demo/policy', { ...jaForm, max_devices: '9'.repeat(4000) });
  assert.equal(jaOversized.status, 400);
  assert.match(jaOversized.text, /「1 人あたりの最大端末数」に入力された値が長すぎます（256文字まで）/);
  assert.match(jaOversized.text, /id="error-back">入力画面に戻る</);
  assert.equal((await api(server, token, '/tenants/demo/policy')).json.max_devices, 5, 'nothing saved');
});
