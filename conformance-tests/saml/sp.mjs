// Plumbing for the SAML tests: the IdP's metadata fetched over HTTPS (trusting only the
// quickstart's dev root), service providers on python3-saml and pysaml2 started as
// child processes (Debian's /usr/bin/python3, where python3-onelogin-saml2 and
// python3-pysaml2 live) and registered through `mamori admin saml-sp add`, and
// xmlsec1 as an independent signature checker.

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import https from 'node:https';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { defer, tempDir } from '../browser/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const PYTHON = process.env.SAML_PYTHON || '/usr/bin/python3';
export const XMLSEC1 = process.env.XMLSEC1 || '/usr/bin/xmlsec1';

export const NS = {
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  x509: 'urn:oasis:names:tc:SAML:2.0:ac:classes:X509',
  ppt: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
  mfa: 'https://refeds.org/profile/mfa',
  status: (s) => `urn:oasis:names:tc:SAML:2.0:status:${s}`,
};

/** A raw HTTPS request (no redirects) trusting the dev root; returns {status, headers, body}. */
export function request(server, url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(url), { method, headers, ca: readFileSync(server.devRoot) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

export const idpEntityId = (server, tenant = 'demo') => `${server.main}/t/${tenant}/saml/metadata`;

/** The IdP metadata, saved to a file; with the signing certificate as PEM. */
export async function idpMetadata(t, server) {
  const res = await request(server, idpEntityId(server));
  if (res.status !== 200) throw new Error(`metadata: HTTP ${res.status}`);
  const dir = tempDir(t, 'mamori-saml-idp-');
  const path = join(dir, 'idp-metadata.xml');
  writeFileSync(path, res.body);
  const signing = res.body.match(/<md:KeyDescriptor use="signing">[\s\S]*?<ds:X509Certificate>([\s\S]*?)<\/ds:X509Certificate>/);
  const encryption = res.body.match(/<md:KeyDescriptor use="encryption">[\s\S]*?<ds:X509Certificate>([\s\S]*?)<\/ds:X509Certificate>/);
  const pem = (b64) => `-----BEGIN CERTIFICATE-----\n${b64.replace(/\s+/g, '').match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`;
  const signingCert = join(dir, 'idp-signing.pem');
  writeFileSync(signingCert, pem(signing[1]));
  return { path, xml: res.body, contentType: res.headers['content-type'], signingCert, encryptionCertB64: encryption?.[1] };
}

/** A fresh RSA key and self-signed certificate for a service provider. */
export function spKeyPair(t, name = 'sp') {
  const dir = tempDir(t, 'mamori-saml-key-');
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', `/CN=${name}`], {
    stdio: 'ignore',
  });
  return { key, cert };
}

/**
 * Starts a test SP (`onelogin` or `pysaml2`) and registers it in the demo tenant from the
 * metadata URL it serves. Returns {base, entityId, out, events(), lastEvent()}.
 */
export async function startSp(t, server, idpMd, kind, { encrypted = false, register = [], name } = {}) {
  const keys = spKeyPair(t, `${kind}-sp`);
  const out = tempDir(t, `mamori-saml-${kind}-`);
  const script = join(here, kind === 'onelogin' ? 'sp_onelogin.py' : 'sp_pysaml2.py');
  const args = [
    script,
    '--idp-metadata', idpMd.path,
    '--tls-cert', join(server.dataDir, 'tls/server.pem'),
    '--tls-key', join(server.dataDir, 'tls/server.key'),
    '--sp-cert', keys.cert,
    '--sp-key', keys.key,
    '--out', out,
  ];
  if (encrypted) args.push('--encrypted');
  const child = spawn(PYTHON, args, { cwd: here, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => {
    log += d;
  });
  const exited = new Promise((res) => child.once('exit', res));
  defer(t, async () => {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  });
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} SP did not start:\n${log}`)), 30_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('ready ')) {
        clearTimeout(timer);
        resolve(line.slice(6).trim());
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} SP exited (${code}):\n${log}`));
    });
  });
  const entityId = `${base}/metadata`;
  // Registered from the metadata URL: the CLI fetches it over HTTPS, trusting the dev
  // root that signed the SP's TLS certificate (SSL_CERT_FILE).
  const saved = process.env.SSL_CERT_FILE;
  process.env.SSL_CERT_FILE = server.devRoot;
  try {
    server.cli('admin', 'saml-sp', 'add', '--tenant', 'demo', '--metadata', `${base}/metadata`, '--name', name ?? kind, ...register);
  } finally {
    if (saved === undefined) delete process.env.SSL_CERT_FILE;
    else process.env.SSL_CERT_FILE = saved;
  }
  const events = () =>
    existsSync(join(out, 'events.jsonl'))
      ? readFileSync(join(out, 'events.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
      : [];
  return { kind, base, entityId, out, keys, events, lastEvent: () => events().at(-1), log: () => log };
}

/**
 * Checks an XML signature with xmlsec1, trusting only `certPem`. `node` picks which
 * signature: 'Response', 'Assertion', 'EntityDescriptor', 'LogoutRequest', 'LogoutResponse'.
 */
export function xmlsecVerify(file, certPem, node) {
  const ids = [
    'urn:oasis:names:tc:SAML:2.0:protocol:Response',
    'urn:oasis:names:tc:SAML:2.0:assertion:Assertion',
    'urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor',
    'urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest',
    'urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse',
  ];
  const args = ['--verify', '--trusted-pem', certPem, '--enabled-reference-uris', 'same-doc'];
  for (const id of ids) args.push('--id-attr:ID', id);
  const xpath =
    node === rootOf(file) ? `/*/*[local-name()='Signature']` : `//*[local-name()='${node}']/*[local-name()='Signature']`;
  args.push('--node-xpath', xpath);
  args.push(file);
  try {
    const output = execFileSync(XMLSEC1, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, output };
  } catch (err) {
    return { ok: false, output: `${err.stdout}\n${err.stderr}` };
  }
}

function rootOf(file) {
  const text = readFileSync(file, 'utf8');
  return text.replace(/^<\?xml[^>]*\?>\s*/, '').match(/^<(?:[\w-]+:)?([\w-]+)/)?.[1];
}

/** The text of the SP's result page as JSON. */
export async function resultOf(page) {
  try {
    await page.waitForSelector('#result', { timeout: 30_000 });
  } catch (err) {
    const body = (await page.textContent('body').catch(() => ''))?.replace(/\s+/g, ' ').slice(0, 800);
    throw new Error(`no SP result page at ${page.url()}: ${body}`, { cause: err });
  }
  return JSON.parse(await page.textContent('#result'));
}

/**
 * Goes to `url` (an SP page that starts a SAML flow) and on to the SP's result page,
 * logging in with the password when Mamori asks. Returns {result, loggedIn}.
 */
export async function sso(page, url, user, snap, name) {
  await page.goto(url);
  await page.waitForSelector('#result, #login-form', { timeout: 30_000 });
  let loggedIn = false;
  if (await page.isVisible('#login-form')) {
    await snap?.(page, `${name}-login`);
    await page.fill('#login_id', user.loginId);
    await page.fill('#password', user.password);
    await page.click('#login-submit');
    loggedIn = true;
  }
  const result = await resultOf(page);
  await snap?.(page, `${name}-sp`);
  return { result, loggedIn };
}
