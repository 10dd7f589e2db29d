// One passkey ceremony across two nodes (issue 18): two `mamori` processes on the same
// data folder (one SQLite file, one master key) behind the same public URLs, with the
// shared state in the database and then in Redis. The passkey step's page comes from
// node A; Chromium's answer (a virtual authenticator) is posted to node B, which finishes
// the login; the same answer brought back to node A, in a new login, is refused.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { test } from 'node:test';

import { gotoLogin, openBrowser, setPolicy, startServer, submit, submitPassword, text } from './harness.mjs';
import { enrolledPasskeyUser, virtualAuthenticator } from './passkey-helpers.mjs';

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** A form POST to `port` on 127.0.0.1 presenting the user's certificate. */
function post(server, port, path, { pfx, passphrase, cookie, form }) {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        servername: 'localhost',
        ca: readFileSync(server.devRoot),
        pfx: readFileSync(pfx),
        passphrase,
        headers: {
          host: `localhost:${port}`,
          origin: new URL(server.mtls).origin,
          'accept-language': 'en',
          cookie,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Stops the browser's passkey form from leaving the page and returns what it would post. */
async function captureAnswer(page, server) {
  let captured;
  const url = `${server.mtls}/login/passkey`;
  await page.route(url, async (route) => {
    captured = Object.fromEntries(new URLSearchParams(route.request().postData() ?? ''));
    await route.abort();
  });
  await page.click('#passkey-submit').catch(() => {});
  await page.waitForFunction(() => document.querySelector('input[name=credential]')?.value !== '');
  for (let i = 0; i < 50 && !captured; i++) await page.waitForTimeout(100);
  await page.unroute(url);
  assert.ok(captured?.credential, 'the browser answered');
  return captured;
}

for (const store of ['database', 'redis']) {
  test(`passkeys: a ceremony begun on one node ends on the other, once (${store})`, { timeout: 240_000 }, async (t) => {
    const shared =
      store === 'redis'
        ? {
            MAMORI_STORAGE__SHARED_STATE: 'redis',
            MAMORI_STORAGE__REDIS_URL: process.env.MAMORI_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
            MAMORI_STORAGE__REDIS_KEY_PREFIX: `mamori-pk2n-${process.pid}-${Date.now()}:`,
          }
        : {};
    const a = await startServer(t, { env: shared });
    setPolicy(a, { allowed_login_methods: ['cert+password', 'cert+password+passkey'] });
    const [mainPort, mtlsPort] = [await freePort(), await freePort()];
    // Node B: the same folder, its own ports, the same public addresses (as behind a
    // load balancer), so both are one relying party with the same origins.
    await startServer(t, {
      serve: a.workdir,
      env: {
        ...shared,
        MAMORI_SERVER__LISTEN: `127.0.0.1:${mainPort}`,
        MAMORI_SERVER__MTLS_LISTEN: `127.0.0.1:${mtlsPort}`,
        MAMORI_SERVER__PUBLIC_URL: a.main,
        MAMORI_SERVER__MTLS_PUBLIC_URL: a.mtls,
      },
    });

    const user = await enrolledPasskeyUser(t, a, `pk-2n-${store}`, 'cert+password+passkey');
    const { context, page } = await openBrowser(t, a, { certificate: user, locale: 'en-US' });
    await virtualAuthenticator(context, page);
    // The first login registers the passkey (on node A).
    await gotoLogin(page, a);
    await submitPassword(page, user.loginId, user.password);
    await submit(page, '#passkey-submit');
    assert.ok(await page.isVisible('#logged-in'), `registered and logged in: ${await text(page, 'main')}`);
    await submit(page, '#logout');

    // Node A shows the passkey step; the browser's answer goes to node B.
    await gotoLogin(page, a);
    await submitPassword(page, user.loginId, user.password);
    assert.equal(await page.getAttribute('#passkey-form', 'data-passkey'), 'get', await text(page, 'main'));
    const answer = await captureAnswer(page, a);
    const cookie = (await context.cookies(a.mtls)).map((c) => `${c.name}=${c.value}`).join('; ');
    const onB = await post(a, mtlsPort, '/login/passkey', { pfx: user.pfxPath, passphrase: user.passphrase, cookie, form: answer });
    assert.equal(onB.status, 303, `node B finished node A's ceremony: ${onB.body.slice(0, 400)}`);
    assert.equal(onB.headers.location, '/login/done');

    // The same answer, in a new login on node A: its ceremony is spent on every node.
    await gotoLogin(page, a);
    await submitPassword(page, user.loginId, user.password);
    assert.equal(await page.getAttribute('#passkey-form', 'data-passkey'), 'get', await text(page, 'main'));
    const csrf = await page.getAttribute('#passkey-form input[name=csrf_token]', 'value');
    // The new login's own reference: the answer must be refused for its spent ceremony,
    // not because it names the earlier login.
    const loginRef = await page.getAttribute('#passkey-form input[name=login_ref]', 'value');
    const fresh = (await context.cookies(a.mtls)).map((c) => `${c.name}=${c.value}`).join('; ');
    const replay = await post(a, new URL(a.mtls).port, '/login/passkey', {
      pfx: user.pfxPath,
      passphrase: user.passphrase,
      cookie: fresh,
      form: { ...answer, csrf_token: csrf, login_ref: loginRef },
    });
    assert.equal(replay.status, 400, `a replayed answer is refused: ${replay.body.slice(0, 400)}`);
    assert.match(replay.body, /used already/);
    assert.equal(replay.headers.location, undefined, 'no login');
    // The honest answer to the new ceremony still logs in (nothing was locked by it).
    await submit(page, '#passkey-submit');
    assert.ok(await page.isVisible('#logged-in'), await text(page, 'main'));
  });
}
