// The first admin of a production installation, from an empty database to a logged-in
// super-admin: `ca init`, `admin bootstrap` (which prints a single-use enrollment link),
// `serve`; the operator opens the link in Chromium, enrolls, downloads the PKCS#12, logs
// in with it on the certificate listener and the console shows, with every tenant in reach.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { MAMORI_BIN, enrollAndDownload, loginTo, openBrowser, screenshots, startServer, tempDir, text } from './harness.mjs';

/** `mamori --config … ARGS` on a data folder no server runs on yet; its standard output. */
function cli(workdir, ...args) {
  const env = { ...process.env, MAMORI_HASHING__ARGON2_MEMORY_KIB: '8192' };
  delete env.MAMORI_CONFIG;
  delete env.MAMORI_BIN;
  try {
    return execFileSync(MAMORI_BIN, ['--config', join(workdir, 'mamori-data', 'mamori.toml'), ...args], {
      cwd: workdir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    throw new Error(`mamori ${args.join(' ')} failed (${err.status}):\n${err.stdout}\n${err.stderr}`);
  }
}

test('bootstrap: an empty database to a super-admin logged in to the console', { timeout: 240_000 }, async (t) => {
  const snap = screenshots('bootstrap');
  // A data folder with a config, TLS certificate and master key, but an empty database:
  // the quickstart's folder without its database, as a production host has after
  // installing the config.
  const workdir = tempDir(t, 'mamori-bootstrap-');
  const env = { ...process.env };
  delete env.MAMORI_CONFIG;
  delete env.MAMORI_BIN;
  execFileSync(MAMORI_BIN, ['quickstart', '--no-serve'], { cwd: workdir, env, stdio: 'ignore' });
  for (const f of ['mamori.db', 'mamori.db-wal', 'mamori.db-shm']) {
    const path = join(workdir, 'mamori-data', f);
    if (existsSync(path)) rmSync(path);
  }
  cli(workdir, 'ca', 'init', '--intermediate');
  assert.deepEqual(JSON.parse(cli(workdir, 'admin', 'operator', 'list', '--output', 'json')), [], 'no operator yet');

  const done = JSON.parse(cli(workdir, 'admin', 'bootstrap', '--tenant', 'ops', '--login-id', 'root-admin',
    '--email', 'root-admin@example.test', '--locale', 'en', '--output', 'json'));
  assert.equal(done.tenant_created, true);
  assert.match(done.enrollment.path, /^\/enroll\/[^/]+$/);
  assert.match(done.console_url, /\/console$/);
  // Another tenant, so that the super-admin's reach shows.
  cli(workdir, 'admin', 'tenant', 'create', '--slug', 'acme', '--name', 'ACME');

  const server = await startServer(t, { serve: workdir });
  // The CLI built the URL from the configured port; this server listens on an ephemeral one.
  const url = `${server.main}${done.enrollment.path}`;
  const password = 'Kanri-Sha-2026!';
  const { page: enrollPage } = await openBrowser(t, server, { locale: 'en-US' });
  const pfx = await enrollAndDownload(t, enrollPage, { url, otp: done.enrollment.one_time_password, password }, snap, 'admin-');
  // The link is single-use: opened again, it no longer asks for the one-time password.
  await enrollPage.goto(url);
  await snap(enrollPage, 'link-used');
  assert.equal(await enrollPage.isVisible('#enroll-otp-submit'), false, 'the enrollment link works only once');

  const { page } = await openBrowser(t, server, { certificate: { pfxPath: pfx.pfxPath, passphrase: pfx.passphrase }, locale: 'en-US' });
  await loginTo(page, server, 'root-admin', password, { returnTo: '/console' });
  await snap(page, 'console');
  assert.match(page.url(), /\/console\/t\/ops\/users$/, page.url());
  assert.equal(await text(page, '#console-tenant'), 'ops');
  assert.equal(await text(page, '#console-operator'), 'root-admin');
  assert.match(await text(page, '#console-menu + p'), /super-admin/);
  assert.match(await text(page, '#console-tenant-switch'), /acme/, 'a super-admin reaches every tenant');

  // The bootstrap is over: a second one is refused, and nothing is made.
  assert.throws(
    () => cli(workdir, 'admin', 'bootstrap', '--tenant', 'ops', '--login-id', 'second', '--email', 'second@example.test'),
    /--another/,
  );
  const operators = JSON.parse(cli(workdir, 'admin', 'operator', 'list', '--output', 'json'));
  assert.deepEqual(operators.map((o) => [o.tenant, o.login_id, o.role, o.administers]), [['ops', 'root-admin', 'super-admin', null]]);
});
