// Harness for the browser tests: starts the real `mamori quickstart` on ephemeral ports,
// runs its CLI, drives Debian's Chromium through playwright-core, takes a screenshot of
// every page visited, and computes TOTP codes the way an authenticator app does.

import { spawn, execFile, execFileSync } from 'node:child_process';
import { createHash, createHmac, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import https from 'node:https';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

/** The `mamori` binary that scripts/test builds (`cargo build --bin mamori`). */
export const MAMORI_BIN = process.env.MAMORI_BIN || resolve(here, '../../target/debug/mamori');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
/** Screenshots land in conformance-tests/output/<test>/NN-<page>.png (git-ignored). */
export const OUTPUT_DIR = resolve(here, '../output');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const cleanups = new WeakMap();

/**
 * Runs `fn` when the test `t` ends, after everything deferred later (last in, first
 * out: a browser closes before its profile folder goes, a server stops after the
 * browsers that used it). Every step runs even when one fails.
 */
export function defer(t, fn) {
  let stack = cleanups.get(t);
  if (!stack) {
    stack = [];
    cleanups.set(t, stack);
    t.after(async () => {
      const errors = [];
      while (stack.length) {
        try {
          await stack.pop()();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length) throw errors[0];
    });
  }
  stack.push(fn);
}

/** A temporary folder removed when the test ends. */
export function tempDir(t, prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  defer(t, () => rmSync(dir, { recursive: true, force: true, maxRetries: 3 }));
  return dir;
}

/** base64(SHA-256(SubjectPublicKeyInfo)) of the first certificate in a PEM file: the form
 * Chromium's --ignore-certificate-errors-spki-list takes. */
export function spkiSha256(pemPath) {
  const cert = new X509Certificate(readFileSync(pemPath));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * Starts `mamori quickstart` in a fresh temporary folder and waits for "Press Ctrl-C".
 * The server is stopped with SIGTERM when the test ends. With `serve: workdir`, runs
 * `mamori serve` instead on the data folder a test prepared in `workdir/mamori-data`
 * (as production starts: nothing is created), ready at its "listening on" line.
 */
export async function startServer(t, { env = {}, serve } = {}) {
  assertExists(MAMORI_BIN, 'run `cargo build --bin mamori` first (scripts/test does)');
  const workdir = serve ?? tempDir(t, 'mamori-browser-');
  const args = serve ? ['--config', join(serve, 'mamori-data', 'mamori.toml'), 'serve'] : ['quickstart'];
  const ready = serve ? 'mamori: listening on' : 'Press Ctrl-C';
  const child = spawn(MAMORI_BIN, args, {
    cwd: workdir,
    env: {
      ...withoutMamoriConfig(process.env),
      MAMORI_SERVER__LISTEN: '127.0.0.1:0',
      MAMORI_SERVER__MTLS_LISTEN: '127.0.0.1:0',
      MAMORI_HASHING__ARGON2_MEMORY_KIB: '8192',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => {
    log += d;
  });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  defer(t, () => stopServer(child, exited));

  const banner = [];
  const lines = createInterface({ input: child.stdout });
  await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`quickstart did not become ready:\n${banner.join('\n')}\n${log}`)), 60_000);
    lines.on('line', (line) => {
      banner.push(line);
      if (line.startsWith(ready)) {
        clearTimeout(timer);
        res();
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`quickstart exited (${code ?? signal}) before it was ready:\n${banner.join('\n')}\n${log}`));
    });
  });
  const listening = banner.find((l) => l.startsWith('mamori: listening on'));
  const urls = listening?.match(/https:\/\/\S+/g) ?? [];
  if (urls.length !== 2) throw new Error(`no listening line in:\n${banner.join('\n')}`);
  const value = (label) => banner.map((l) => l.trim()).find((l) => l.startsWith(label))?.slice(label.length).trim();
  const dataDir = join(workdir, 'mamori-data');
  return new Server({
    workdir,
    dataDir,
    main: urls[0],
    mtls: urls[1],
    demo: { loginId: 'demo-user', url: value('enroll the demo user:'), otp: value('its one-time password:') },
    banner: banner.join('\n'),
    log: () => log,
    // The same settings for the CLI as for the server it administers.
    env,
  });
}

async function stopServer(child, exited) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer;
  const timeout = new Promise((res) => {
    timer = setTimeout(() => res('timeout'), 10_000);
  });
  const outcome = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    child.kill('SIGKILL');
    await exited;
    throw new Error('the server did not stop within 10 s of SIGTERM');
  }
}

/** The environment for mamori: without MAMORI_CONFIG (the tests name the config) nor
 * MAMORI_BIN (every MAMORI_* variable is read as a config key: `bin` would be unknown). */
function withoutMamoriConfig(env) {
  const copy = { ...env };
  delete copy.MAMORI_CONFIG;
  delete copy.MAMORI_BIN;
  return copy;
}

function assertExists(path, hint) {
  if (!existsSync(path)) throw new Error(`${path} is missing: ${hint}`);
}

class Server {
  constructor(fields) {
    Object.assign(this, fields);
    this.config = join(this.dataDir, 'mamori.toml');
    this.devRoot = join(this.dataDir, 'tls/dev-root.pem');
    this.serverPem = join(this.dataDir, 'tls/server.pem');
    this.outbox = join(this.dataDir, 'outbox');
    this.serverSpki = spkiSha256(this.serverPem);
  }

  /** Runs `mamori --config CFG ARGS…` and returns its standard output (throws on failure). */
  cli(...args) {
    try {
      return execFileSync(MAMORI_BIN, ['--config', this.config, ...args], {
        cwd: this.workdir,
        env: { ...withoutMamoriConfig(process.env), ...(this.env ?? {}) },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      throw new Error(`mamori ${args.join(' ')} failed (${err.status}):\n${err.stdout}\n${err.stderr}`);
    }
  }

  /** `cli` without blocking this process: servers the test runs (a relying site's
   * back-channel endpoint, say) keep answering while the command runs. */
  cliAsync(...args) {
    return new Promise((resolve, reject) => {
      execFile(MAMORI_BIN, ['--config', this.config, ...args], {
        cwd: this.workdir,
        env: { ...withoutMamoriConfig(process.env), ...(this.env ?? {}) },
        encoding: 'utf8',
      }, (err, stdout, stderr) => (err ? reject(new Error(`mamori ${args.join(' ')} failed:\n${stdout}\n${stderr}`)) : resolve(stdout)));
    });
  }

  cliJson(...args) {
    return JSON.parse(this.cli(...args, '--output', 'json'));
  }

  /** Creates a user in the demo tenant; returns its enrollment {url, one_time_password}. */
  createUser(loginId, { method } = {}) {
    const args = ['admin', 'user', 'create', '--tenant', 'demo', '--login-id', loginId, '--email', `${loginId}@example.test`];
    if (method) args.push('--method', method);
    this.cli(...args);
    return this.enrollment(loginId);
  }

  enrollment(loginId) {
    const ticket = this.cliJson('admin', 'user', 'enroll', '--tenant', 'demo', '--login-id', loginId);
    // The CLI runs apart from the server and builds the URL from the configured listen
    // address (port 8443); this server listens on an ephemeral port, so its `path` is put
    // on the running server's origin.
    return { ...ticket, url: `${this.main}${ticket.path}` };
  }

  admin(verb, loginId, ...extra) {
    return this.cli('admin', 'user', verb, '--tenant', 'demo', '--login-id', loginId, ...extra);
  }

  /** `admin user issue-cert`: a device certificate written straight to a PKCS#12 file;
   * returns {p12Path, passphrase, serial}. */
  issueCert(t, loginId, { notBefore, notAfter } = {}) {
    const dir = tempDir(t, 'mamori-cert-');
    const passphrase = 'Issue-Cert-1';
    const pwFile = join(dir, 'pw');
    writeFileSync(pwFile, `${passphrase}\n`);
    const p12Path = join(dir, `${loginId}.p12`);
    const args = ['--p12', p12Path, '--password-file', pwFile];
    if (notBefore) args.push('--not-before', notBefore);
    if (notAfter) args.push('--not-after', notAfter);
    const out = this.admin('issue-cert', loginId, ...args);
    const serial = out.match(/serial ([0-9a-fA-F:]+)/)?.[1];
    return { p12Path, passphrase, serial };
  }

  /** The mails in the outbox, oldest first, as their headers and decoded text body. */
  mails() {
    if (!existsSync(this.outbox)) return [];
    return readdirSync(this.outbox)
      .filter((f) => f.endsWith('.eml'))
      .sort()
      .map((f) => decodeMail(readFileSync(join(this.outbox, f), 'latin1')));
  }

  /**
   * Checks what Chromium cannot check for a context with client certificates (Playwright
   * then terminates the browser's TLS itself, see `openBrowser`): that the certificate
   * listener serves a chain the quickstart's dev root vouches for, for `localhost`, with
   * the key of mamori-data/tls/server.pem.
   */
  async verifyTlsAgainstDevRoot(url = this.mtls) {
    const { hostname, port } = new URL(url);
    const spki = await new Promise((res, rej) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port: Number(port), servername: hostname, ca: readFileSync(this.devRoot), rejectUnauthorized: true },
        () => {
          const der = socket.getPeerCertificate().raw;
          socket.end();
          const cert = new X509Certificate(der);
          res(createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64'));
        },
      );
      socket.once('error', rej);
    });
    if (spki !== this.serverSpki) throw new Error(`${url} serves a key other than server.pem's`);
  }
}

/**
 * A mail as text: its header block as written, then the text/plain body decoded (base64
 * or quoted-printable, UTF-8; the first text/plain part of a multipart mail).
 */
export function decodeMail(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const header = (name) => {
    const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
    return unfolded.match(new RegExp(`^${name}:[ \\t]*(.*)$`, 'im'))?.[1]?.trim() ?? '';
  };
  const type = header('Content-Type');
  const boundary = type.match(/boundary="?([^";]+)"?/i)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    const parts = body.split(`--${boundary}`).slice(1).filter((p) => !p.startsWith('--'));
    const decoded = parts.map((p) => decodeMail(p.replace(/^\r?\n/, '')));
    const text = decoded.find((d) => /^content-type:\s*text\/plain/im.test(d)) ?? decoded[0] ?? '';
    return `${head}\n\n${text.slice(text.search(/\n\n/) + 2)}`;
  }
  const encoding = header('Content-Transfer-Encoding').toLowerCase();
  let bytes;
  if (encoding === 'base64') {
    bytes = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  } else if (encoding === 'quoted-printable') {
    const soft = body.replace(/=\r?\n/g, '');
    bytes = Buffer.from(soft.replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  } else {
    bytes = Buffer.from(body, 'latin1');
  }
  return `${head}\n\n${bytes.toString('utf8')}`;
}

/**
 * Opens a fresh Chromium (Debian's, with a NEW EMPTY user-data dir) with one context and
 * one page, closed when the test ends. With `certificate: {pfxPath, passphrase}` (or
 * `{certPath, keyPath}`, PEM files: a key made outside Mamori) the context presents that
 * certificate to the certificate listener. `userAgent` replaces Chromium's own.
 */
export async function openBrowser(t, server, { certificate, locale, acceptLanguage, userAgent } = {}) {
  const userDataDir = tempDir(t, 'mamori-chromium-');
  const options = {
    executablePath: CHROMIUM,
    headless: true,
    // The server's certificate is signed by the quickstart's throwaway dev root: trust
    // exactly its key (Chromium honours the list because --user-data-dir is set, which
    // launchPersistentContext does), not every certificate.
    args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${server.serverSpki}`],
    acceptDownloads: true,
    locale,
    extraHTTPHeaders: acceptLanguage ? { 'Accept-Language': acceptLanguage } : undefined,
    viewport: { width: 1000, height: 800 },
    userAgent,
  };
  if (certificate) {
    const origin = new URL(server.mtls).origin;
    options.clientCertificates = [
      certificate.certPath
        ? { origin, certPath: certificate.certPath, keyPath: certificate.keyPath }
        : { origin, pfxPath: certificate.pfxPath, passphrase: certificate.passphrase },
    ];
    // With clientCertificates, playwright-core does the TLS handshake with the server
    // itself (in this Node process, presenting the PKCS#12) and relays it to Chromium,
    // which then sees Playwright's own throwaway certificate (Playwright tells Chromium to
    // ignore certificate errors for that context; the SPKI pin above cannot apply). The
    // Node side verifies the real server against Node's CA store, which cannot be given
    // a per-server dev root on Node 20 (NODE_EXTRA_CA_CERTS is read at start-up), so it
    // is told to ignore HTTPS errors: this is the fallback to `ignoreHTTPSErrors: true`.
    // What it skips is checked here instead, once per context, against the dev root.
    options.ignoreHTTPSErrors = true;
    await server.verifyTlsAgainstDevRoot();
  }
  const context = await chromium.launchPersistentContext(userDataDir, options);
  defer(t, () => context.close());
  context.setDefaultTimeout(20_000);
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page };
}

/** Screenshots of every page a test visits: output/<test>/NN-<name>.png. */
export function screenshots(testName) {
  const dir = join(OUTPUT_DIR, testName);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let n = 0;
  return async (page, name) => {
    n += 1;
    const file = join(dir, `${String(n).padStart(2, '0')}-${name}.png`);
    // Headless Chromium now and then answers "Unable to capture screenshot" while it is
    // still compositing a page that just loaded; a moment later the same capture works.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await page.screenshot({ path: file, fullPage: true });
        return file;
      } catch (err) {
        if (attempt === 3 || !/Unable to capture screenshot/.test(String(err?.message))) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  };
}

/** RFC 4648 base32 decoding (authenticator apps take the secret in this form). */
export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.replace(/[\s=-]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const idx = alphabet.indexOf(ch);
    if (idx < 0) throw new Error(`not base32: ${text}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The TOTP step (30 s) of a moment. */
export function totpStep(ms = Date.now()) {
  return Math.floor(ms / 1000 / 30);
}

/** RFC 6238 TOTP, SHA-1, 6 digits, 30-second steps, for `step`. */
export function totp(secretBase32, step = totpStep()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, '0');
}

/** Submits a form and waits for the page it leads to. */
export async function submit(page, buttonSelector) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(buttonSelector)]);
}

/**
 * Flow 1 and 2 in the browser: the enrollment URL and one-time password, password and
 * secret answer, the download password on the completion page, then the download page,
 * saving the PKCS#12 that the click hands over. Returns {pfxPath, passphrase, acquisitionId}.
 */
export async function enrollAndDownload(t, page, { url, otp, password, answer = 'Kyoto ramen' }, snap = null, prefix = '') {
  const shot = snap ? (p, name) => snap(p, `${prefix}${name}`) : async () => {};
  const mainOrigin = new URL(url).origin;
  await page.goto(url);
  await shot(page, 'enroll-otp');
  await page.fill('#one_time_password', otp);
  await submit(page, '#enroll-otp-submit');
  await shot(page, 'enroll-register');
  if (!(await page.isVisible('#enroll-register-submit'))) {
    throw new Error(`the one-time password was not accepted at ${url}: ${(await page.textContent('main'))?.replace(/\s+/g, ' ')}`);
  }
  await page.fill('#password', password);
  await page.fill('#password_confirmation', password);
  await page.selectOption('#secret_question', { index: 1 }).catch(async () => page.selectOption('#secret_question', { index: 0 }));
  await page.fill('#secret_answer', answer);
  await submit(page, '#enroll-register-submit');
  await shot(page, 'enroll-complete');
  if (!(await page.isVisible('#download-password'))) {
    throw new Error(`enrollment did not complete for ${url}: ${(await page.textContent('main'))?.replace(/\s+/g, ' ')}`);
  }
  const passphrase = (await page.textContent('#download-password')).trim();
  const acquisitionId = (await page.textContent('#acquisition-id')).trim();

  // The page's own link: it carries the tenant (for its brand) and the acquisition ID.
  await Promise.all([page.waitForNavigation(), page.click('#download-link')]);
  await shot(page, 'download');
  const prefilled = await page.inputValue('#acquisition_id');
  if (prefilled !== acquisitionId) throw new Error(`the download link filled in ${prefilled}, not ${acquisitionId}`);
  await page.fill('#acquisition_id', acquisitionId);
  await page.fill('#download_password', passphrase);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-submit')]);
  const pfxPath = join(tempDir(t, 'mamori-p12-'), download.suggestedFilename() || 'certificate.p12');
  await download.saveAs(pfxPath);
  return { pfxPath, passphrase, acquisitionId };
}

/** Creates a user, enrolls it in a certificate-less browser and downloads its PKCS#12
 * (screenshots through `snap` when given). Returns {loginId, password, pfxPath, passphrase}. */
export async function enrolledUser(t, server, loginId, { method, password = 'Tsubame-2026!', page, snap } = {}) {
  const ticket = server.createUser(loginId, { method });
  const own = page ? null : await openBrowser(t, server);
  const got = await enrollAndDownload(t, page ?? own.page, { url: ticket.url, otp: ticket.one_time_password, password }, snap, `${loginId}-`);
  await own?.context.close();
  return { loginId, password, ...got };
}

/** Goes to the login page with the browser's certificate; returns the response status. */
export async function gotoLogin(page, server, query = '') {
  const response = await page.goto(`${server.mtls}/login${query}`);
  return response?.status();
}

/** Fills the ID/password form and submits it. */
export async function submitPassword(page, loginId, password) {
  await page.fill('#login_id', loginId);
  await page.fill('#password', password);
  await submit(page, '#login-submit');
}

export async function text(page, selector) {
  return (await page.textContent(selector))?.trim() ?? '';
}

// ---------------------------------------------------------------------------------------
// Account self-service (flows 4 to 8): mails with links, downloads, the CRL.

/** Waits until a mail to `to` whose text matches `pattern` appears in the outbox, beyond
 * the first `skip` mails; returns its decoded text. */
export async function waitForMail(server, { to, pattern = /./, skip = 0, timeout = 15_000 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = server.mails().slice(skip).find((m) => (!to || mailHeader(m, 'To').includes(to)) && pattern.test(m));
    if (found) return found;
    if (Date.now() > deadline) {
      const seen = server.mails().map((m) => `${mailHeader(m, 'To')}: ${mailHeader(m, 'Subject')}`);
      throw new Error(`no mail to ${to} matching ${pattern} within ${timeout} ms; the outbox has:\n${seen.join('\n')}`);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** A header of a decoded mail, its RFC 2047 encoded words decoded. */
export function mailHeader(mail, name) {
  const head = mail.slice(0, mail.search(/\r?\n\r?\n/));
  const raw = head.replace(/\r?\n[ \t]+/g, ' ').match(new RegExp(`^${name}:[ \\t]*(.*)$`, 'im'))?.[1]?.trim() ?? '';
  return raw
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, enc, text) => (enc.toLowerCase() === 'b'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (__, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8')));
}

/** The path (and query) of the first https link in a mail whose path starts with `prefix`. */
export function mailLinkPath(mail, prefix) {
  for (const m of mail.matchAll(/https:\/\/[^\s]+/g)) {
    const url = new URL(m[0]);
    if (url.pathname.startsWith(prefix)) return url.pathname + url.search;
  }
  throw new Error(`no ${prefix} link in the mail:\n${mail}`);
}

/** Logs in with the browser's certificate and lands on `returnTo` (the account portal by
 * default). `otp` is called for a code when the login asks for one. */
export async function loginTo(page, server, loginId, password, { returnTo = '/account', otp } = {}) {
  await page.goto(`${server.mtls}/login?return_to=${encodeURIComponent(returnTo)}`);
  if (await page.isVisible('#login-submit')) {
    await submitPassword(page, loginId, password);
  }
  if (otp && (await page.isVisible('#otp-form'))) {
    await page.fill('#code', otp());
    await submit(page, '#otp-submit');
  }
}

/** The download page (flow 2) in `page`: saves the PKCS#12 and returns {pfxPath, passphrase}. */
export async function downloadCertificate(t, page, server, acquisitionId, passphrase) {
  await page.goto(`${server.main}/download`);
  await page.fill('#acquisition_id', acquisitionId);
  await page.fill('#download_password', passphrase);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-submit')]);
  const pfxPath = join(tempDir(t, 'mamori-p12-'), download.suggestedFilename() || 'certificate.p12');
  await download.saveAs(pfxPath);
  return { pfxPath, passphrase };
}

/** Changes knobs of the demo tenant's policy (`mamori admin tenant policy --set K=V …`). */
export function setPolicy(server, settings, tenant = 'demo') {
  const args = Object.entries(settings).flatMap(([k, v]) => ['--set', `${k}=${JSON.stringify(v)}`]);
  return server.cli('admin', 'tenant', 'policy', '--tenant', tenant, ...args);
}

/** The serial (upper-case hex, as `openssl x509 -serial` prints it) of a PKCS#12's certificate. */
export function p12Serial(pfxPath, passphrase) {
  const pem = execFileSync('openssl', ['pkcs12', '-in', pfxPath, '-nokeys', '-clcerts', '-passin', `pass:${passphrase}`], { encoding: 'utf8' });
  const out = execFileSync('openssl', ['x509', '-noout', '-serial'], { input: pem, encoding: 'utf8' });
  return out.trim().replace(/^serial=/i, '').toUpperCase();
}

/** `openssl crl -text` of the CRL the server publishes at {main}/ca/crl.pem (fetched over
 * TLS verified against the dev root). */
export async function crlText(t, server) {
  const url = new URL(`${server.main}/ca/crl.pem`);
  const pem = await new Promise((res, rej) => {
    const req = https.get(
      { host: '127.0.0.1', port: Number(url.port), path: url.pathname, servername: url.hostname, ca: readFileSync(server.devRoot) },
      (resp) => {
        let body = '';
        resp.setEncoding('utf8');
        resp.on('data', (d) => { body += d; });
        resp.on('end', () => (resp.statusCode === 200 ? res(body) : rej(new Error(`${url}: HTTP ${resp.statusCode}`))));
      },
    );
    req.once('error', rej);
  });
  const file = join(tempDir(t, 'mamori-crl-'), 'crl.pem');
  writeFileSync(file, pem);
  return execFileSync('openssl', ['crl', '-in', file, '-text', '-noout'], { encoding: 'utf8' });
}

/** Whether `serial` (hex, any case, leading zeros ignored) is listed in `openssl crl -text` output. */
export function crlLists(crlOutput, serial) {
  const norm = (s) => s.replace(/[^0-9a-f]/gi, '').toUpperCase().replace(/^0+/, '');
  const listed = [...crlOutput.matchAll(/Serial Number:\s*([0-9A-Fa-f:]+)/g)].map((m) => norm(m[1]));
  return listed.includes(norm(serial));
}

/** The problems listed on a page (`.problems li`). */
export async function problemsOn(page) {
  return page.$$eval('.problems li', (items) => items.map((li) => li.textContent.trim()));
}
