// Roles cannot be climbed through the operator console: a tenant admin who opens a
// super-admin's page of its own tenant and asks for an enrollment ticket or a disable gets
// the console's 403 page saying why, no URL or one-time password, an unchanged account and
// an audit record of the attempt; the same buttons work on a plain user of the tenant.
// Another tenant's user answers 404 and the attempt is audited too.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrolledUser, loginTo, openBrowser, screenshots, startServer, submit, text } from './harness.mjs';

const WIDER = 'This user holds an operator role wider than yours: only an operator with at least the same role may change this account or hand out its credentials.';

test('a tenant admin cannot hand out or disable a super-admin account from the console', { timeout: 300_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console-roles');
  const admin = await enrolledUser(t, server, 'op-tenant');
  server.cli('admin', 'operator', 'grant', '--tenant', 'demo', '--login-id', 'op-tenant', '--role', 'tenant-admin');
  server.cli('admin', 'user', 'create', '--tenant', 'demo', '--login-id', 'op-root', '--email', 'op-root@example.test');
  server.cli('admin', 'operator', 'grant', '--tenant', 'demo', '--login-id', 'op-root', '--role', 'super-admin');
  server.cli('admin', 'user', 'create', '--tenant', 'demo', '--login-id', 'u-plain', '--email', 'u-plain@example.test');

  const { page } = await openBrowser(t, server, { certificate: admin, locale: 'en-US' });
  await loginTo(page, server, admin.loginId, admin.password, { returnTo: '/console' });
  assert.match(page.url(), /\/console\/t\/demo\/users$/, page.url());

  // The hostile clicks: each answers the console's 403 page, naming the reason.
  for (const button of ['#enrollment-ticket-submit', '#disable-submit']) {
    await page.goto(`${server.mtls}/console/t/demo/users/op-root`);
    assert.equal(await text(page, '#user-login-id'), 'op-root', 'a tenant admin still sees the account');
    const [response] = await Promise.all([page.waitForNavigation(), page.click(button)]);
    await snap(page, `refused-${button.slice(1)}`);
    assert.equal(response.status(), 403, button);
    assert.equal(await text(page, '#console-forbidden'), WIDER, button);
    assert.equal(await page.$('#enrollment-url'), null, 'no enrollment URL');
    assert.equal(await page.$('#enrollment-otp'), null, 'no one-time password');
  }
  const root = server.cliJson('admin', 'user', 'show', '--tenant', 'demo', '--login-id', 'op-root');
  assert.equal(root.status, 'active', JSON.stringify(root));
  const trail = server.cliJson('admin', 'events', 'audit', '--tenant', 'demo', '--target', 'user:op-root').items;
  const refused = trail.filter((e) => e.outcome === 'failure').map((e) => [e.action, e.actor]).sort();
  assert.deepEqual(refused, [['user.disable', 'user:demo/op-tenant'], ['user.enrollment-ticket', 'user:demo/op-tenant']], JSON.stringify(trail));

  // In Japanese too.
  await page.goto(`${server.mtls}/console/t/demo/users/op-root?lang=ja`);
  const [ja] = await Promise.all([page.waitForNavigation(), page.click('#disable-submit')]);
  assert.equal(ja.status(), 403);
  assert.match(await text(page, '#console-forbidden'), /より広い運用者権限/);

  // Another tenant's user: the same 404 as for none, and the attempt in the audit trail.
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  server.cli('admin', 'user', 'create', '--tenant', 'other', '--login-id', 'o-secret', '--email', 'o-secret@example.test');
  await page.goto(`${server.mtls}/console/t/demo/users/u-plain`);
  const posted = await page.evaluate(async (base) => {
    const token = document.querySelector('input[name="csrf_token"]').value;
    const r = await fetch(`${base}/console/t/other/users/o-secret/enrollment-ticket`, {
      method: 'POST', body: new URLSearchParams({ csrf_token: token }), credentials: 'same-origin',
    });
    return r.status;
  }, server.mtls);
  assert.equal(posted, 404);
  const consoleRefused = server.cliJson('admin', 'events', 'audit', '--tenant', 'demo', '--action', 'console.refused').items;
  assert.deepEqual(consoleRefused.map((e) => [e.target, e.actor, e.outcome, e.details.status]),
    [['/console/t/other/users/o-secret/enrollment-ticket', 'user:demo/op-tenant', 'failure', 404]], JSON.stringify(consoleRefused));
  assert.ok(!JSON.stringify(consoleRefused).includes('one_time_password'));

  // The honest twin: the same buttons on a plain user of the tenant work.
  await page.goto(`${server.mtls}/console/t/demo/users/u-plain?lang=en`);
  await submit(page, '#enrollment-ticket-submit');
  await snap(page, 'plain-enrollment-ticket');
  assert.ok((await text(page, '#enrollment-url')).startsWith(`${server.main}/enroll/`));
  assert.ok(await text(page, '#enrollment-otp'));
  await page.goto(`${server.mtls}/console/t/demo/users/u-plain`);
  // Disabling locks the user out: it asks first.
  await submit(page, '#disable-submit');
  assert.equal(await text(page, '#confirm-login-id'), 'u-plain');
  await submit(page, '#confirm-submit');
  assert.equal(await text(page, '#user-status'), 'Disabled');
  assert.equal(server.cliJson('admin', 'user', 'show', '--tenant', 'demo', '--login-id', 'u-plain').status, 'disabled');
});
