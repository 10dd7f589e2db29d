// Issue 21, one-tap install on Apple devices: the download page offers iOS and macOS
// browsers a configuration profile (.mobileconfig) beside the .p12. The profile is read
// with Python's plistlib; its PKCS#12 payload opens with the download password in
// `openssl pkcs12`; payload types and identifiers are Apple's; the password is not in
// it; and the profile uses up the same download count as the .p12.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { enrolledUser, openBrowser, screenshots, setPolicy, startServer, tempDir, text } from './harness.mjs';

const IPHONE_SAFARI = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1';

/** The profile as plistlib reads it: top-level keys and each payload (data as base64). */
function readProfile(path) {
  const script = `
import base64, json, plistlib, sys
with open(sys.argv[1], 'rb') as f:
    p = plistlib.load(f)
def plain(v):
    if isinstance(v, bytes): return {'base64': base64.b64encode(v).decode()}
    if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list): return [plain(x) for x in v]
    return v
print(json.dumps(plain(p)))
`;
  return JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' }));
}

test('an iPhone gets a configuration profile carrying the PKCS#12, counted as a download', { timeout: 180_000 }, async (t) => {
  const server = await startServer(t, { env: { MAMORI_CA__MOBILECONFIG_TRUST_ROOT: 'true' } });
  const snap = screenshots('download-mobileconfig');
  // Two downloads: the .p12 in the enrollment, then the profile; a third finds it spent.
  setPolicy(server, { download_max_count: 2 });
  const user = await enrolledUser(t, server, 'u-apple');

  // Chromium on Linux is not offered the profile.
  const desktop = await openBrowser(t, server, { locale: 'en-US' });
  await desktop.page.goto(`${server.main}/download`);
  assert.ok(!(await desktop.page.isVisible('#download-mobileconfig')), 'no profile for Linux');

  const { page } = await openBrowser(t, server, { locale: 'ja-JP', userAgent: IPHONE_SAFARI });
  await page.goto(`${server.main}/download`);
  await snap(page, 'download-iphone');
  assert.ok(await page.isVisible('#download-mobileconfig'), 'the profile is offered to iOS');
  assert.match(await text(page, '#download-mobileconfig'), /プロファイル/);
  await page.fill('#acquisition_id', user.acquisitionId);
  await page.fill('#download_password', user.passphrase);
  const responseSeen = page.waitForResponse((r) => r.url().endsWith('/download') && r.request().method() === 'POST');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-mobileconfig')]);
  const response = await responseSeen;
  assert.equal(response.headers()['content-type'], 'application/x-apple-aspen-config');
  assert.match(response.headers()['content-disposition'], /filename="u-apple-1\.mobileconfig"/);
  const dir = tempDir(t, 'mamori-profile-');
  const profilePath = join(dir, download.suggestedFilename());
  await download.saveAs(profilePath);
  assert.ok(readFileSync(profilePath, 'utf8').startsWith('<?xml'), 'no signing certificate configured: a bare plist');

  const profile = readProfile(profilePath);
  assert.equal(profile.PayloadType, 'Configuration');
  assert.equal(profile.PayloadVersion, 1);
  // Reverse DNS of the public host, then the device.
  const host = new URL(server.main).hostname;
  const reversed = /^[\d.]+$/.test(host) ? `ip-${host.replaceAll('.', '-')}` : host.split('.').reverse().join('.');
  assert.equal(profile.PayloadIdentifier.replace(/\.device\.[0-9a-f]{32}$/, ''), `${reversed}.mamori`, profile.PayloadIdentifier);
  assert.match(profile.PayloadUUID, /^[0-9A-F]{8}-[0-9A-F]{4}-8[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
  const types = profile.PayloadContent.map((p) => p.PayloadType);
  assert.deepEqual(types, ['com.apple.security.pkcs12', 'com.apple.security.root']);
  const uuids = new Set([profile.PayloadUUID, ...profile.PayloadContent.map((p) => p.PayloadUUID)]);
  assert.equal(uuids.size, 3, 'one UUID per payload');
  for (const payload of profile.PayloadContent) {
    assert.ok(payload.PayloadIdentifier.startsWith(`${profile.PayloadIdentifier}.`), payload.PayloadIdentifier);
    assert.equal(payload.PayloadVersion, 1);
  }
  const [identity, root] = profile.PayloadContent;
  assert.equal(identity.Password, undefined, 'the download password is not in the profile');
  assert.ok(!JSON.stringify(profile).includes(user.passphrase), 'nor anywhere else in it');

  // The PKCS#12 payload opens with the download password, and holds the key and the
  // certificate the .p12 held.
  const p12Path = join(dir, 'payload.p12');
  writeFileSync(p12Path, Buffer.from(identity.PayloadContent.base64, 'base64'));
  let opened = spawnSync('openssl', ['pkcs12', '-in', p12Path, '-passin', `pass:${user.passphrase}`, '-nodes'], { encoding: 'utf8' });
  if (opened.status !== 0) {
    opened = spawnSync('openssl', ['pkcs12', '-legacy', '-in', p12Path, '-passin', `pass:${user.passphrase}`, '-nodes'], { encoding: 'utf8' });
  }
  assert.equal(opened.status, 0, opened.stderr);
  assert.match(opened.stdout, /BEGIN PRIVATE KEY/);
  const wrong = spawnSync('openssl', ['pkcs12', '-in', p12Path, '-passin', 'pass:wrong', '-nokeys'], { encoding: 'utf8' });
  assert.notEqual(wrong.status, 0, 'a wrong password does not open it');
  const serial = (p12) => execFileSync('openssl', ['x509', '-noout', '-serial'], {
    input: execFileSync('openssl', ['pkcs12', '-in', p12, '-nokeys', '-clcerts', '-passin', `pass:${user.passphrase}`], { encoding: 'utf8' }),
    encoding: 'utf8',
  }).trim();
  assert.equal(serial(p12Path), serial(user.pfxPath), 'the same certificate as the .p12');

  // The root payload is a self-signed CA certificate (enabled by the config above).
  const rootPath = join(dir, 'root.der');
  writeFileSync(rootPath, Buffer.from(root.PayloadContent.base64, 'base64'));
  const rootText = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', rootPath, '-noout', '-subject', '-issuer', '-ext', 'basicConstraints'], { encoding: 'utf8' });
  const [subject, issuer] = rootText.split('\n');
  assert.equal(subject.replace(/^subject=/, ''), issuer.replace(/^issuer=/, ''), rootText);
  assert.match(rootText, /CA:TRUE/);

  // Downloaded twice (.p12, then the profile): the third attempt finds it spent.
  await page.goto(`${server.main}/download`);
  await page.fill('#acquisition_id', user.acquisitionId);
  await page.fill('#download_password', user.passphrase);
  const [spent] = await Promise.all([page.waitForNavigation(), page.click('#download-mobileconfig')]);
  await snap(page, 'download-spent');
  assert.equal(spent?.status(), 410, `spent: ${await text(page, 'main')}`);
});

/** A test CA and a P-256 profile-signing certificate under it, made with openssl. */
function profileSigningFiles(dir) {
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-subj', '/CN=Profile Test CA', '-days', '2');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'signing.key', '-out', 'signing.csr',
    '-subj', '/CN=Mamori profile signing');
  run('x509', '-req', '-in', 'signing.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'signing.pem', '-days', '2');
  writeFileSync(join(dir, 'chain.pem'), readFileSync(join(dir, 'signing.pem'), 'utf8') + readFileSync(join(dir, 'ca.pem'), 'utf8'));
  return { ca: join(dir, 'ca.pem'), chain: join(dir, 'chain.pem'), key: join(dir, 'signing.key') };
}

/** `openssl cms -verify` of a signed profile against `ca`: the spawn result. */
function verifyProfile(profilePath, ca, outPath) {
  return spawnSync('openssl', ['cms', '-verify', '-inform', 'DER', '-in', profilePath, '-CAfile', ca, '-purpose', 'any', '-binary', '-out', outPath],
    { encoding: 'utf8' });
}

test('with a profile-signing certificate configured, the profile is CMS-signed and verifies', { timeout: 180_000 }, async (t) => {
  const keys = tempDir(t, 'mamori-profile-signing-');
  const files = profileSigningFiles(keys);
  const server = await startServer(t, {
    env: { MAMORI_CA__MOBILECONFIG_SIGNING_CHAIN_FILE: files.chain, MAMORI_CA__MOBILECONFIG_SIGNING_KEY_FILE: files.key },
  });
  setPolicy(server, { download_max_count: 2 });
  const user = await enrolledUser(t, server, 'u-signed');
  const { page } = await openBrowser(t, server, { locale: 'en-US', userAgent: IPHONE_SAFARI });
  await page.goto(`${server.main}/download`);
  await page.fill('#acquisition_id', user.acquisitionId);
  await page.fill('#download_password', user.passphrase);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-mobileconfig')]);
  const dir = tempDir(t, 'mamori-signed-profile-');
  const profilePath = join(dir, download.suggestedFilename());
  await download.saveAs(profilePath);

  // OpenSSL verifies the signature up to the test CA and gives back the plist, which
  // carries the PKCS#12 that opens with the download password.
  const contentPath = join(dir, 'content.plist');
  const verified = verifyProfile(profilePath, files.ca, contentPath);
  assert.equal(verified.status, 0, verified.stderr);
  const profile = readProfile(contentPath);
  assert.equal(profile.PayloadType, 'Configuration');
  const [identity] = profile.PayloadContent;
  assert.equal(identity.PayloadType, 'com.apple.security.pkcs12');
  const p12Path = join(dir, 'payload.p12');
  writeFileSync(p12Path, Buffer.from(identity.PayloadContent.base64, 'base64'));
  const opened = spawnSync('openssl', ['pkcs12', '-in', p12Path, '-passin', `pass:${user.passphrase}`, '-nodes'], { encoding: 'utf8' });
  assert.equal(opened.status, 0, opened.stderr);
  const signer = execFileSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', profilePath], { encoding: 'utf8' });
  assert.match(signer, /Mamori profile signing/, 'the signing certificate travels with the profile');

  // Hostile: one byte of the signed plist changed, and a CA that did not sign it.
  const bytes = readFileSync(profilePath);
  const at = bytes.indexOf('PayloadUUID');
  assert.ok(at > 0, 'the plist is attached');
  bytes[at] ^= 0x20;
  const tamperedPath = join(dir, 'tampered.mobileconfig');
  writeFileSync(tamperedPath, bytes);
  assert.notEqual(verifyProfile(tamperedPath, files.ca, join(dir, 'x.plist')).status, 0, 'a changed byte still verified');
  const stranger = profileSigningFiles(tempDir(t, 'mamori-stranger-'));
  assert.notEqual(verifyProfile(profilePath, stranger.ca, join(dir, 'y.plist')).status, 0, 'verified against a stranger CA');
});
