// Issue 21, keys made on the device: on the account page a user sends a certificate
// signing request made with the `openssl` CLI (pasted PEM or an uploaded DER file) and
// gets the device's certificate back as PEM and as a chain. Hostile requests are refused
// with a page naming what is wrong; requested CA:TRUE, SANs and EKUs are never honoured;
// a replayed form issues nothing; the new certificate with the user's own key logs in,
// and the certificate it replaced does not.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  enrolledUser, gotoLogin, loginTo, openBrowser, problemsOn, screenshots, setPolicy, startServer, submit, tempDir, text,
} from './harness.mjs';

function openssl(dir, ...args) {
  return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A key and a CSR made as the form's instructions say; `extra` adds -addext options. */
function makeCsr(dir, name, keyArgs, { der = false, extra = [] } = {}) {
  const out = `${name}.csr`;
  openssl(dir, 'req', '-new', ...keyArgs, '-noenc', '-keyout', `${name}.key`, '-subj', '/CN=Mallory/O=Attacker Inc', ...extra,
    '-outform', der ? 'DER' : 'PEM', '-out', out);
  return { key: join(dir, `${name}.key`), csr: join(dir, out), pem: der ? null : readFileSync(join(dir, out), 'utf8') };
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

async function openForm(page, server, deviceNo) {
  await page.goto(`${server.mtls}/account/devices/${deviceNo}/csr`);
  await page.waitForSelector('#device-csr-form');
}

/** Sends the form with `pem` pasted and/or `file` uploaded; returns the HTTP status. */
async function send(page, { pem, file }) {
  if (pem !== undefined) await page.fill('#csr_pem', pem);
  if (file) await page.setInputFiles('#csr_file', file);
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#csr-submit')]);
  return response?.status();
}

/** Saves what a `download` link on the page hands over. */
async function saveLink(page, selector, path) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  await download.saveAs(path);
  return readFileSync(path, 'utf8');
}

/** What `openssl` says about an issued certificate, checked against its chain and key. */
function checkIssued(dir, certPath, chainPath, keyPath) {
  const textOut = openssl(dir, 'x509', '-in', certPath, '-noout', '-text');
  const subject = openssl(dir, 'x509', '-in', certPath, '-noout', '-subject').trim();
  const verify = openssl(dir, 'verify', '-purpose', 'sslclient', '-CAfile', chainPath, certPath).trim();
  const certKey = openssl(dir, 'x509', '-in', certPath, '-noout', '-pubkey');
  const ownKey = openssl(dir, 'pkey', '-in', keyPath, '-pubout');
  return { text: textOut, subject, verify, sameKey: certKey === ownKey };
}

test('keys made on the device: CSRs from openssl, hostile ones refused, the certificate logs in', { timeout: 300_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('account-csr');
  setPolicy(server, { max_devices: 2 });
  const user = await enrolledUser(t, server, 'u-csr');
  const dir = tempDir(t, 'mamori-csr-');
  const { context, page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  await loginTo(page, server, user.loginId, user.password);
  assert.equal(await text(page, '#login-id'), user.loginId, `logged in: ${await text(page, 'main')}`);

  // The form is reached from the device table and shows how to make the request.
  await page.click('#device-1-csr');
  await page.waitForSelector('#device-csr-form');
  await snap(page, 'csr-form');
  assert.match(await text(page, '#csr-howto'), /openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256/);
  assert.match(await text(page, '#csr-howto'), /openssl pkcs12 -export/);
  // The RSA instructions follow the tenant's minimum, as the check does.
  assert.match(await text(page, '#csr-howto'), /openssl req -new -newkey rsa:2048 /);
  setPolicy(server, { csr_min_rsa_bits: 3072 });
  await page.reload();
  assert.match(await text(page, '#csr-howto'), /at least 3072 bits[\s\S]*openssl req -new -newkey rsa:3072 /);
  setPolicy(server, { csr_min_rsa_bits: 2048 });
  await page.reload();

  // Hostile and broken requests: each refused (422) with a sentence naming the problem.
  const weak = makeCsr(dir, 'rsa1024', ['-newkey', 'rsa:1024']);
  const oddCurve = makeCsr(dir, 'k1', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1']);
  const broken = makeCsr(dir, 'broken', EC, { der: true });
  const brokenDer = readFileSync(broken.csr);
  brokenDer[brokenDer.length - 3] ^= 0x40; // inside the ECDSA signature
  writeFileSync(join(dir, 'broken.der'), brokenDer);
  const oversized = `-----BEGIN CERTIFICATE REQUEST-----\n${'QUFB'.repeat(10_000)}\n-----END CERTIFICATE REQUEST-----\n`;
  const cases = [
    { name: 'nothing', send: { pem: '' }, problem: /Paste a certificate signing request or choose its file/ },
    { name: 'rsa-1024', send: { pem: weak.pem }, problem: /RSA key has 1024 bits; at least 2048 bits are required/ },
    { name: 'secp256k1', send: { pem: oddCurve.pem }, problem: /key type is not accepted/ },
    { name: 'broken-signature', send: { file: join(dir, 'broken.der') }, problem: /signature does not verify/ },
    { name: 'garbage', send: { pem: 'this is not a request at all' }, problem: /not a certificate signing request \(PKCS#10\)/ },
    { name: 'bad-pem', send: { pem: '-----BEGIN CERTIFICATE REQUEST-----\n%%%\n-----END CERTIFICATE REQUEST-----' }, problem: /not readable PEM/ },
    { name: 'private-key', send: { pem: readFileSync(weak.key, 'utf8') }, problem: /This is a PRIVATE KEY, not a certificate signing request/ },
    { name: 'csr-and-key', send: { pem: `${oddCurve.pem}${readFileSync(oddCurve.key, 'utf8')}` }, problem: /more than one PEM block/ },
    { name: 'both', send: { pem: oddCurve.pem, file: broken.csr }, problem: /not both/ },
    { name: 'oversized', send: { pem: oversized }, problem: /larger than 16 kB/ },
  ];
  for (const c of cases) {
    await openForm(page, server, 1);
    if (c.name === 'nothing') await page.evaluate(() => document.querySelector('#csr_pem').removeAttribute('required'));
    const status = await send(page, c.send);
    await snap(page, `refused-${c.name}`);
    const problems = await problemsOn(page);
    assert.equal(status, 422, `${c.name}: ${problems}`);
    assert.ok(problems.some((p) => c.problem.test(p)), `${c.name}: ${JSON.stringify(problems)}`);
    assert.ok(!(await page.isVisible('#csr-issued')), `${c.name}: nothing issued`);
  }
  // A body beyond what any page takes is refused before it is read (413 page).
  writeFileSync(join(dir, 'huge.csr'), Buffer.alloc(100_000, 0x41));
  await openForm(page, server, 1);
  assert.equal(await send(page, { file: join(dir, 'huge.csr') }), 413);
  assert.match(await text(page, 'main'), /too large/i);
  assert.equal(await page.getAttribute('#error-back', 'href'), '/account', 'the way back is the account page');
  // The page and its refusals in Japanese too.
  await page.goto(`${server.mtls}/account/devices/1/csr?lang=ja`);
  assert.match(await text(page, '#csr-howto'), /openssl で鍵と要求を作る方法/);
  assert.equal(await send(page, { pem: weak.pem }), 422);
  await snap(page, 'refused-ja');
  assert.ok((await problemsOn(page)).some((p) => /1024 ビット.*2048 ビット以上が必要/.test(p)), JSON.stringify(await problemsOn(page)));
  await page.goto(`${server.mtls}/account?lang=en`);

  // A second device, added as today (its PKCS#12 download stays pending) …
  await page.click('#device-add');
  await page.waitForSelector('#device-new-form');
  await page.fill('#device_email', 'u-csr.laptop@example.test');
  await page.fill('#device_email_confirmation', 'u-csr.laptop@example.test');
  await page.selectOption('#device_type', 'pc');
  await submit(page, '#device-add-submit');
  await submit(page, '#device-register-submit');
  assert.equal(await text(page, '#device-no'), '2', `device 2 added: ${await text(page, 'main')}`);

  // … gets a certificate for an RSA 2048 key, uploaded as DER.
  const rsa = makeCsr(dir, 'rsa2048', ['-newkey', 'rsa:2048'], { der: true });
  await openForm(page, server, 2);
  assert.equal(await send(page, { file: rsa.csr }), 200, `issued: ${await text(page, 'main')}`);
  await snap(page, 'issued-rsa');
  assert.equal(await text(page, '#certificate-key'), 'RSA 2048');
  const certificateName = await text(page, '#certificate-name');
  const rsaCert = join(dir, 'rsa2048.crt');
  const rsaChain = join(dir, 'rsa2048-chain.pem');
  const shownPem = await text(page, '#certificate-pem');
  assert.equal((await saveLink(page, '#certificate-download', rsaCert)).trim(), shownPem, 'the file is the certificate shown');
  await saveLink(page, '#chain-download', rsaChain);
  let checked = checkIssued(dir, rsaCert, rsaChain, rsa.key);
  assert.equal(checked.verify, `${rsaCert}: OK`);
  assert.ok(checked.sameKey, 'the certificate carries the CSR key');
  assert.equal(checked.subject, `subject=CN = ${certificateName}`, 'the subject is Mamori\'s, not the request\'s');
  assert.match(checked.text, /CA:FALSE/);
  assert.match(checked.text, /email:u-csr\.laptop@example\.test/);
  // The account page: device 2 has a certificate, and no download is pending any more.
  await page.goto(`${server.mtls}/account`);
  assert.notEqual(await text(page, '#device-2 .device-expiry'), 'No certificate');
  assert.equal(await text(page, '#device-2 .device-download'), '', 'the pending PKCS#12 download is void');

  // The new certificate with the key that never left "the device" logs in.
  const laptop = await openBrowser(t, server, { certificate: { certPath: rsaCert, keyPath: rsa.key }, locale: 'en-US' });
  await loginTo(laptop.page, server, user.loginId, user.password);
  await snap(laptop.page, 'rsa-key-logged-in');
  assert.equal(await text(laptop.page, '#login-id'), user.loginId, `own key logs in: ${await text(laptop.page, 'main')}`);
  await laptop.context.close();

  // A replayed form issues nothing twice: the same token sent again gets 409.
  await openForm(page, server, 2);
  const replay = makeCsr(dir, 'replay', EC);
  const fields = {
    csrf_token: await page.inputValue('input[name=csrf_token]'),
    submission: await page.inputValue('input[name=submission]'),
    submission_seal: await page.inputValue('input[name=submission_seal]'),
    csr_pem: replay.pem,
  };
  const post = () => context.request.post(`${server.mtls}/account/devices/2/csr`, {
    multipart: fields,
    headers: { Origin: new URL(server.mtls).origin, Referer: `${server.mtls}/account/devices/2/csr` },
    maxRedirects: 0,
  });
  const reissuedMails = () => server.mails().filter((m) => /電子証明書が再発行され|new certificate was issued/.test(m)).length;
  const mailsBefore = reissuedMails();
  const first = await post();
  assert.equal(first.status(), 200, await first.text());
  assert.match(await first.text(), /id="csr-issued"/);
  assert.match(await first.text(), /id="csr-shown-once"[^]*shown only once/, 'the page says it is not shown again');
  const settled = async () => {
    let last = -1;
    for (;;) {
      await new Promise((res) => setTimeout(res, 400));
      const now = reissuedMails();
      if (now === last) return now;
      last = now;
    }
  };
  const afterFirst = await settled();
  assert.ok(afterFirst > mailsBefore, 'the issuance is notified');
  const again = await post();
  assert.equal(again.status(), 409, 'the replay is refused');
  assert.match(await again.text(), /already sent/);
  assert.doesNotMatch(await again.text(), /Please correct/, 'nothing in the form to correct');
  assert.doesNotMatch(await again.text(), /BEGIN CERTIFICATE-----/, 'no certificate on the refusal');
  assert.equal(await settled(), afterFirst, 'no second certificate, no second notice');
  // The token is bound to the user and device its form was made for: sent for another
  // device, or with a token of its own making, it issues nothing.
  const unbound = async (path, changed) => {
    const response = await context.request.post(`${server.mtls}${path}`, {
      multipart: { ...fields, submission: `${fields.submission.slice(0, -1)}${fields.submission.endsWith('A') ? 'B' : 'A'}`, ...changed },
      headers: { Origin: new URL(server.mtls).origin, Referer: `${server.mtls}${path}` },
      maxRedirects: 0,
    });
    assert.equal(response.status(), 409, path);
    assert.match(await response.text(), /not made for this account and device/);
  };
  await unbound('/account/devices/1/csr', { submission: fields.submission });
  await unbound('/account/devices/2/csr', {});
  assert.equal(await settled(), afterFirst, 'nothing issued for a token of another form');

  // The session's own device: a greedy request (CA:TRUE, SANs, EKUs) gets a plain client
  // certificate, and the page says what was ignored.
  const greedy = makeCsr(dir, 'greedy', EC, {
    extra: ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'subjectAltName=DNS:evil.example,email:ceo@example.com',
      '-addext', 'extendedKeyUsage=serverAuth,codeSigning'],
  });
  await openForm(page, server, 1);
  assert.equal(await send(page, { pem: greedy.pem }), 200, `issued: ${await text(page, 'main')}`);
  await snap(page, 'issued-greedy');
  const ignored = await page.$$eval('#csr-ignored li', (items) => items.map((li) => li.textContent));
  assert.ok(ignored.some((i) => /CA certificate/.test(i)) && ignored.some((i) => /alternative names/.test(i)), JSON.stringify(ignored));
  const greedyCert = join(dir, 'greedy.crt');
  const greedyChain = join(dir, 'greedy-chain.pem');
  await saveLink(page, '#certificate-download', greedyCert);
  await saveLink(page, '#chain-download', greedyChain);
  checked = checkIssued(dir, greedyCert, greedyChain, greedy.key);
  assert.equal(checked.verify, `${greedyCert}: OK`);
  assert.ok(checked.sameKey);
  assert.doesNotMatch(checked.subject, /Mallory|Attacker/);
  assert.match(checked.text, /CA:FALSE/);
  assert.doesNotMatch(checked.text, /CA:TRUE|evil\.example|ceo@example\.com|Code Signing|TLS Web Server Authentication/);
  assert.match(checked.text, /TLS Web Client Authentication/);

  // The PKCS#12 it replaced no longer logs in; the new certificate and own key do.
  const old = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  await gotoLogin(old.page, server);
  await snap(old.page, 'replaced-certificate-refused');
  assert.ok(await old.page.isVisible('#certificate-refusal'), `refused: ${await text(old.page, 'main')}`);
  const own = await openBrowser(t, server, { certificate: { certPath: greedyCert, keyPath: greedy.key }, locale: 'en-US' });
  await loginTo(own.page, server, user.loginId, user.password);
  assert.equal(await text(own.page, '#login-id'), user.loginId, `the new certificate logs in: ${await text(own.page, 'main')}`);
  await own.context.close();

  // An operator revokes device 1's certificate as key-compromised. Its key is never
  // certified again, on any device; and device 1, with no working certificate and no
  // self-service reissue in this tenant, gets no certificate from a request either.
  const greedySerial = openssl(dir, 'x509', '-in', greedyCert, '-noout', '-serial').trim().replace(/^serial=/, '');
  server.cli('admin', 'certificate', 'revoke', '--tenant', 'demo', '--serial', greedySerial, '--reason', 'key-compromise');
  const replayCert = join(dir, 'replay.crt');
  // The page's PEM, HTML entities undone (the template escapes `/` as `&#x2f;`).
  const issuedHtml = (await first.text()).replace(/&#x2f;/gi, '/').replace(/&#43;/g, '+').replace(/&#x3d;/gi, '=');
  writeFileSync(replayCert, `${issuedHtml.match(/-----BEGIN CERTIFICATE-----[^<]*?-----END CERTIFICATE-----/)[0]}\n`);
  const second = await openBrowser(t, server, { certificate: { certPath: replayCert, keyPath: replay.key }, locale: 'en-US' });
  await loginTo(second.page, server, user.loginId, user.password);
  assert.equal(await text(second.page, '#login-id'), user.loginId, `device 2 logs in: ${await text(second.page, 'main')}`);
  const stolen = join(dir, 'stolen.csr');
  openssl(dir, 'req', '-new', '-key', greedy.key, '-subj', '/CN=again', '-out', stolen);
  await openForm(second.page, server, 2);
  assert.equal(await send(second.page, { pem: readFileSync(stolen, 'utf8') }), 422);
  assert.ok((await problemsOn(second.page)).some((p) => /revoked because the key was compromised/.test(p)), await text(second.page, 'main'));
  await openForm(second.page, server, 1);
  assert.equal(await send(second.page, { pem: makeCsr(dir, 'fresh', EC).pem }), 409);
  assert.ok((await problemsOn(second.page)).some((p) => /no certificate that works now/.test(p)), await text(second.page, 'main'));
});
