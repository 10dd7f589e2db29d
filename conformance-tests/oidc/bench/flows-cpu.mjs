// Issue 22, the two rows cpu-floor.mjs did not measure: an OIDC authorization-code
// redemption and a SAML SSO response, each as Mamori's CPU per request (utime + stime from
// /proc/PID/stat over the run ÷ requests answered) against the signatures it must make,
// priced by `openssl speed` in the same run.
//
// `flowScenarios(...)` does all the setup (a certificate user logged in once, an OIDC
// client, SAML service providers, minted codes, warm-up) before it returns, so that only
// each scenario's `go()` falls inside the measurement window; cpu-floor.mjs can list its
// scenarios beside its own. Codes live 60 s: call a scenario's `prepare()` (if it has one)
// right before measuring its `go()`; it mints again only when the codes are no longer fresh.
//
// Alone, from the repository root (starts its own `mamori quickstart`):
//
//   MAMORI_BIN=target/release/mamori node conformance-tests/oidc/bench/flows-cpu.mjs [--duration 10] [--connections N]
//
// (connections: 16 for the code redemptions and 8 for SAML unless given). The floors' RSA
// size is the IdP key's (RSA-3072 today), measured here with `openssl speed` and added to
// `floor` when floors() lacks it.
//
// The load generator is Node itself, with keep-alive agents: wrk cannot present a client
// certificate (the SAML continuation needs one) nor stop after a fixed number of codes.
// Each row's details line gives the requests/s reached and the client's own CPU, to show
// whether the client, not the server, set the pace. BENCH_PERF=DIR also records a
// `perf record -g` profile of the server during each run, DIR/flows-N.data.
import { execFile, spawn } from 'node:child_process';
import { X509Certificate, randomBytes, verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { deflateRawSync } from 'node:zlib';

import { measure, printRows, request, startRun, stopChild } from './bench-lib.mjs';

// Names of their own, so these scenarios can share a server with cpu-floor.mjs's.
const CLIENT_ID = 'bench-flows';
const LOGIN_ID = 'bench-flows-user';
const REDIRECT = 'https://localhost:9/flows-cb';
const SP_ASSERTION = 'https://sp-assertion.bench.test/metadata';
const SP_BOTH = 'https://sp-both.bench.test/metadata';
const CODE_TTL_S = 60; // oidc::CODE_TTL
const POST_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

/** `n` workers, each looping over `step(worker)` until it returns false; per-step
 * failures are counted, not thrown, so one bad answer does not end a run. */
async function pool(n, step) {
  const tally = { ok: 0, errors: 0, firstError: '' };
  const worker = async (w) => {
    for (;;) {
      let r;
      try {
        r = await step(w);
      } catch (err) {
        r = err.message;
      }
      if (r === false) return;
      if (r === true) tally.ok += 1;
      else {
        tally.errors += 1;
        tally.firstError ||= String(r).slice(0, 300);
      }
    }
  };
  await Promise.all(Array.from({ length: n }, (_, w) => worker(w)));
  return tally;
}

/** Runs `body` and says what it cost the client and how fast it went, for the details line. */
async function timed(what, body) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const tally = await body();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(cpu0);
  const clientCpu = (c.user + c.system) / 1e6;
  const raw = `${what}: ${tally.ok} ok, ${tally.errors} errors in ${seconds.toFixed(2)} s = ${(tally.ok / seconds).toFixed(0)}/s; `
    + `client (node) CPU ${clientCpu.toFixed(2)} s = ${((clientCpu * 1e6) / Math.max(tally.ok, 1)).toFixed(0)} µs per request`
    + (tally.firstError ? `; first error: ${tally.firstError}` : '') + (tally.stale ? `; ${tally.stale} codes left out, too close to expiry` : '');
  return { ok: tally.ok, errors: tally.errors, raw, seconds };
}

/** µs per RSA signature of `bits` on one core: `floors()` measures 2048 only. */
async function rsaSignMicros(floor, bits) {
  if (floor.us[`rsa${bits}`]) return floor.us[`rsa${bits}`];
  const { stdout } = await promisify(execFile)('openssl', ['speed', '-seconds', '3', `rsa${bits}`], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const m = stdout.match(new RegExp(`rsa\\s+${bits} bits\\s+\\S+\\s+\\S+\\s+([\\d.]+)`));
  if (!m) throw new Error(`no rsa${bits} in openssl speed output:\n${stdout}`);
  floor.perSecond[`rsa${bits}`] = Number(m[1]);
  floor.us[`rsa${bits}`] = 1e6 / Number(m[1]);
  return floor.us[`rsa${bits}`];
}

/** The session cookie from an answer, if it sets one. */
const sessionCookie = (r) => [r.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('__Host-mamori_session='))?.split(';')[0];

/** /authorize on the certificate listener and its continuation, up to the redirect to
 * the client with a code: two requests with a session, more while logging in. */
async function authorize(agent, mtls, session, state) {
  let url = `${mtls}/t/demo/authorize?response_type=code&client_id=${CLIENT_ID}&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=openid&state=${state}`;
  for (let hop = 0; hop < 10; hop += 1) {
    const r = await request(url, { agent, headers: session.cookie ? { cookie: session.cookie } : {} });
    session.cookie = sessionCookie(r) ?? session.cookie;
    if (!r.headers.location) throw new Error(`${url} answered ${r.status} without a redirect`);
    url = new URL(r.headers.location, url).href;
    if (url.startsWith(REDIRECT)) {
      const code = new URL(url).searchParams.get('code');
      if (!code) throw new Error(`no code in ${url}`);
      return code;
    }
  }
  throw new Error('more than 10 redirects on the way to a code');
}

/** Base64 of the first JWT segment, as JSON; `null` for an opaque token. */
function jwtHeader(token) {
  const parts = String(token).split('.');
  return parts.length === 3 ? JSON.parse(Buffer.from(parts[0], 'base64url').toString()) : null;
}

function spMetadata(entityId) {
  const base = entityId.replace('/metadata', '');
  // No WantAssertionsSigned and no AuthnRequestsSigned: the registration alone decides
  // what is signed, and unsigned requests cost the IdP no verification.
  return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="${POST_BINDING}" Location="${base}/acs" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`;
}

let requestCounter = 0;
/** A fresh HTTP-Redirect AuthnRequest query (unique ID: the IdP refuses replays). */
function authnQuery(issuer, destination) {
  const id = `_b${randomBytes(6).toString('hex')}${(requestCounter += 1)}`;
  const xml = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${destination}" ProtocolBinding="${POST_BINDING}"><saml:Issuer>${issuer}</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="true"/></samlp:AuthnRequest>`;
  return { id, query: `SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}` };
}

/** Where the assertion starts and ends in a Response, and its signature values. */
function shape(xml) {
  const start = xml.search(/<([\w-]+:)?Assertion[\s>]/);
  const end = xml.search(/<\/([\w-]+:)?Assertion>/);
  let signatures = 0;
  let inAssertion = 0;
  for (let i = xml.indexOf('<ds:SignatureValue'); i >= 0; i = xml.indexOf('<ds:SignatureValue', i + 1)) {
    signatures += 1;
    if (i > start && i < end) inAssertion += 1;
  }
  return { start, end, signatures, inAssertion };
}

/** One SSO: the AuthnRequest, then the continuation it redirects to on the certificate
 * listener, which answers with the auto-posting form. Both count as one request. */
async function sso(agent, mtls, cookie, sp, destination) {
  const { id, query } = authnQuery(sp.entityId, destination);
  const first = await request(`${mtls}/t/demo/saml/sso?${query}`, { agent });
  const next = first.headers.location;
  if (!next || !next.includes('/saml/resume/')) return { error: `SSO answered ${first.status} ${next ?? first.body.slice(0, 200)}` };
  const answer = await request(new URL(next, mtls).href, { agent, headers: { cookie } });
  const value = answer.body.match(/name="SAMLResponse"\s+value="([^"]+)"/)?.[1];
  if (answer.status !== 200 || !value) return { error: `resume answered ${answer.status} ${answer.body.slice(0, 200)}` };
  const xml = Buffer.from(value, 'base64').toString('utf8');
  const s = shape(xml);
  // Cheap check on every answer: an assertion, signed inside, and as many signatures as
  // the floor counts.
  if (s.start < 0 || s.inAssertion !== 1 || s.signatures !== sp.signatures) {
    return { error: `SAMLResponse with ${s.signatures} signatures, ${s.inAssertion} in the assertion: ${xml.slice(0, 300)}` };
  }
  return { id, xml };
}

/** The checks made once, on the first answer of each SP: success for our request, the
 * assertion signed with RSA-SHA256 by the key the IdP metadata publishes (SignedInfo's
 * signature verified), the response signed or not as registered. Returns the key's size. */
function checkFirstAnswer(sp, { id, xml }, idpCertificate) {
  const fail = (what) => {
    throw new Error(`${sp.entityId}: ${what}\n${xml.slice(0, 2000)}`);
  };
  if (!xml.includes('urn:oasis:names:tc:SAML:2.0:status:Success')) fail('not a success');
  if (!xml.includes(`InResponseTo="${id}"`)) fail(`no InResponseTo="${id}"`);
  const s = shape(xml);
  const assertion = xml.slice(s.start, s.end);
  const assertionId = assertion.match(/\sID="([^"]+)"/)?.[1];
  const signature = assertion.match(/<ds:Signature[\s>][\s\S]*?<\/ds:Signature>/)?.[0] ?? fail('no signature in the assertion');
  if (!signature.includes(`URI="#${assertionId}"`)) fail('the assertion signature does not reference the assertion');
  if (!signature.includes('Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"')) fail('not RSA-SHA256');
  const certificate = signature.match(/<ds:X509Certificate>([^<]+)</)?.[1]?.replace(/\s+/g, '') ?? fail('no certificate in KeyInfo');
  if (certificate !== idpCertificate) fail('signed with a certificate the metadata does not publish');
  const key = new X509Certificate(Buffer.from(certificate, 'base64')).publicKey;
  // SignedInfo in exclusive c14n: the ds namespace declared on it, empty elements written
  // out. Enough for what xmlsec writes; it proves a real signature by that key.
  const signedInfo = signature.match(/<ds:SignedInfo>[\s\S]*?<\/ds:SignedInfo>/)?.[0] ?? fail('no SignedInfo');
  const c14n = signedInfo
    .replace('<ds:SignedInfo>', '<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">')
    .replace(/<([\w:]+)([^<>]*?)\s*\/>/g, '<$1$2></$1>');
  const value = Buffer.from(signature.match(/<ds:SignatureValue>([^<]+)</)[1].replace(/\s+/g, ''), 'base64');
  if (!cryptoVerify('sha256', Buffer.from(c14n), key, value)) fail('the SignedInfo signature does not verify');
  const responseSigned = s.signatures > s.inAssertion;
  if (responseSigned !== sp.signResponse) fail(`response signed: ${responseSigned}, registered: ${sp.signResponse}`);
  return key.asymmetricKeyDetails.modulusLength;
}

/**
 * The scenarios, set up and warmed up. `server` is startQuickstart's answer, `ca` the dev
 * root (PEM), `floor` floors()'s answer (an RSA size it lacks is measured here and added).
 */
export async function flowScenarios({ server, ca, floor, duration, connections }) {
  const seconds = Number(duration);
  // A certificate-only user (no password hash to pay for) with a PKCS#12, as cpu-floor.mjs's.
  server.cli('admin', 'user', 'create', '--tenant', 'demo', '--login-id', LOGIN_ID, '--email', 'bench-flows@example.test', '--method', 'cert');
  const pwFile = join(server.dataDir, 'bench-flows.pw');
  writeFileSync(pwFile, 'Bench-flows-p12-1\n');
  const p12 = join(server.dataDir, 'bench-flows.p12');
  server.cli('admin', 'user', 'issue-cert', '--tenant', 'demo', '--login-id', LOGIN_ID, '--p12', p12, '--password-file', pwFile);
  const reg = JSON.parse(server.cli('admin', 'oidc-client', 'create', '--tenant', 'demo', '--client-id', CLIENT_ID, '--name', 'Bench flows',
    '--redirect-uri', REDIRECT, '--grant-type', 'authorization_code', '--grant-type', 'refresh_token', '--scope', 'openid',
    '--first-party', '--output', 'json'));
  const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${reg.client_secret}`).toString('base64')}`;

  const certified = (n) => new https.Agent({ keepAlive: true, maxSockets: n, pfx: readFileSync(p12), passphrase: 'Bench-flows-p12-1', ca });
  const mintAgent = certified(8);
  // The certificate listener's address is where /authorize sends the browser on.
  const first = await request(`${server.main}/t/demo/authorize?response_type=code&client_id=${CLIENT_ID}&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=openid`, { ca });
  const mtls = new URL(first.headers.location ?? '', server.main).origin;
  if (!first.headers.location?.includes('/oidc/resume/')) throw new Error(`/authorize answered ${first.status}: ${first.body.slice(0, 300)}`);
  // The one login: the first code's redirects pass through the certificate login.
  const session = {};
  await authorize(mintAgent, mtls, session, 'login');
  if (!session.cookie) throw new Error('the certificate login set no session cookie');

  // --- authorization_code ---
  const codeConnections = Number(connections ?? 16);
  const tokenAgent = new https.Agent({ keepAlive: true, maxSockets: codeConnections, ca });
  const tokenUrl = `${server.main}/t/demo/token`;
  const redeem = async (code) => {
    const r = await request(tokenUrl, {
      agent: tokenAgent,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: `grant_type=authorization_code&code=${code}&redirect_uri=${encodeURIComponent(REDIRECT)}`,
    });
    return r.status === 200 && r.body.includes('"id_token"') ? r : { error: `${r.status} ${r.body.slice(0, 200)}` };
  };
  // Each code is a grant of its own, and the grants stay: their count is reported.
  let minted = 1;
  const mint = async (n, budgetSeconds) => {
    const out = [];
    const until = Date.now() + budgetSeconds * 1000;
    const tally = await pool(8, async () => {
      if (out.length >= n || Date.now() > until) return false;
      out.push({ code: await authorize(mintAgent, mtls, session, `m${out.length}`), at: Date.now() });
      return true;
    });
    if (tally.errors) throw new Error(`minting codes: ${tally.errors} failed, first: ${tally.firstError}`);
    minted += out.length;
    return out.slice(0, n);
  };
  // In minting order, so each code waits about as long as minting took; a code too close
  // to its end (a run much slower than the warm-up) is left out, not sent.
  const redeemAll = async (codes) => {
    let next = 0;
    let stale = 0;
    const tally = await pool(codeConnections, async () => {
      for (; next < codes.length; next += 1) {
        if (Date.now() - codes[next].at < (CODE_TTL_S - 3) * 1000) break;
        stale += 1;
      }
      if (next >= codes.length) return false;
      const r = await redeem(codes[(next += 1) - 1].code);
      return r.error ?? true;
    });
    return { ...tally, stale };
  };

  // What one redemption signs, read from a real answer.
  const answer = await redeem((await mint(1, 30))[0].code);
  if (answer.error) throw new Error(`code redemption: ${answer.error}`);
  const tokens = JSON.parse(answer.body);
  const signed = ['id_token', 'access_token', 'refresh_token'].filter((k) => tokens[k] && jwtHeader(tokens[k]));
  const algs = new Set(signed.map((k) => jwtHeader(tokens[k]).alg));
  if (algs.size !== 1 || !algs.has('ES256')) throw new Error(`expected ES256 tokens, got ${[...algs]}`);
  const opaque = ['access_token', 'refresh_token'].filter((k) => tokens[k] && !jwtHeader(tokens[k]));
  const codeFloorText = `${signed.length} ES256 (${signed.join(' + ')}${opaque.length ? `; ${opaque.join(', ')} opaque` : ''})`;

  // Warm-up, which also measures the rate: how many codes a run of `duration` needs.
  const warm = await mint(Math.min(400, 40 * codeConnections), 20);
  const t0 = Date.now();
  const warmTally = await redeemAll(warm);
  if (warmTally.errors) throw new Error(`warm-up redemption: ${warmTally.firstError}`);
  const rate = warm.length / Math.max((Date.now() - t0) / 1000, 0.05);
  // Codes live 60 s and are redeemed in minting order: mint for at most (50 - 1.5 × the
  // duration) s, and redeem the codes minted, a fixed count (longer than the duration when
  // the run is slower than the warm-up).
  const mintBudget = Math.max(10, CODE_TTL_S - 10 - seconds * 1.5);
  const wanted = Math.ceil(rate * seconds * 1.1);
  let batch = { codes: [], at: 0, used: true };
  // Codes are redeemed in minting order, so the first waits longest: about the minting time.
  const fresh = () => !batch.used && Date.now() - batch.at < (CODE_TTL_S - 15) * 1000;
  const prepare = async () => {
    if (fresh()) return;
    const at = Date.now();
    const codes = await mint(wanted, mintBudget);
    batch = { codes, at, seconds: (Date.now() - at) / 1000, used: false };
  };

  // --- SAML ---
  const idpMetadata = (await request(`${server.main}/t/demo/saml/metadata`, { ca })).body;
  const ssoDestination = idpMetadata.match(new RegExp(`SingleSignOnService Binding="${REDIRECT_BINDING}" Location="([^"]+)"`))?.[1];
  const idpCertificate = idpMetadata.match(/<md:KeyDescriptor use="signing">[\s\S]*?<ds:X509Certificate>([^<]+)</)?.[1]?.replace(/\s+/g, '');
  if (!ssoDestination || !idpCertificate) throw new Error(`IdP metadata without a Redirect SSO service or signing key:\n${idpMetadata.slice(0, 1000)}`);
  const sps = [
    { entityId: SP_ASSERTION, flags: ['--sign-assertion'], signResponse: false, signatures: 1 },
    { entityId: SP_BOTH, flags: [], signResponse: true, signatures: 2 }, // the registration default: both signed
  ];
  const samlConnections = Number(connections ?? 8);
  const samlAgent = certified(samlConnections);
  for (const sp of sps) {
    const path = join(server.dataDir, `${new URL(sp.entityId).hostname}.xml`);
    writeFileSync(path, spMetadata(sp.entityId));
    server.cli('admin', 'saml-sp', 'add', '--tenant', 'demo', '--metadata', path, ...sp.flags, '--attribute', 'login_id,email');
    // The first answer's full check also makes the IdP's SAML keys (on first use).
    let firstAnswer;
    for (let tries = 0; !firstAnswer; tries += 1) {
      const r = await sso(samlAgent, mtls, session.cookie, sp, ssoDestination);
      if (r.xml) firstAnswer = r;
      else if (tries === 5) throw new Error(`${sp.entityId}: ${r.error}`);
      else await new Promise((res) => setTimeout(res, 300)); // the SP cache follows the database within 250 ms
    }
    sp.bits = checkFirstAnswer(sp, firstAnswer, idpCertificate);
    sp.rsaUs = await rsaSignMicros(floor, sp.bits);
  }
  const ssoRun = (sp, runSeconds) => {
    const until = Date.now() + runSeconds * 1000;
    return pool(samlConnections, async () => {
      if (Date.now() > until) return false;
      const r = await sso(samlAgent, mtls, session.cookie, sp, ssoDestination);
      return r.error ?? true;
    });
  };
  for (const sp of sps) {
    const warmSso = await ssoRun(sp, 2);
    if (warmSso.errors) throw new Error(`SAML warm-up: ${warmSso.firstError}`);
  }

  // Last, so the codes are fresh when this returns.
  await prepare();
  const codeRow = {
    // A getter: the redemption's cost grows with the stored grants (one per code minted).
    get name() {
      return `authorization_code redemption (client_secret_basic), keep-alive, ${minted} grants stored`;
    },
    floor: signed.length * floor.us.es256,
    floorText: codeFloorText,
    target: 1.5,
    prepare,
    go: async () => {
      if (!fresh()) {
        throw new Error(`the codes were minted ${((Date.now() - batch.at) / 1000).toFixed(0)} s ago (they live ${CODE_TTL_S} s): call prepare() right before go()`);
      }
      batch.used = true;
      return timed(`code redemption, ${batch.codes.length} codes minted beforehand in ${batch.seconds.toFixed(1)} s (${minted} grants stored), over ${codeConnections} connections`, () => redeemAll(batch.codes));
    },
  };
  const samlRows = sps.map((sp) => ({
    name: `SAML SSO, HTTP-Redirect AuthnRequest → POST response, ${sp.signResponse ? 'response and assertion' : 'assertion'} signed, keep-alive mTLS`,
    floor: sp.signatures * sp.rsaUs,
    floorText: `${sp.signatures} RSA-${sp.bits}`,
    target: 1.5,
    go: () => timed(`SAML SSO, ${sp.signatures} signature(s), 2 requests each (/saml/sso → 303 → /saml/resume), over ${samlConnections} connections`, () => ssoRun(sp, seconds)),
  }));
  return [codeRow, ...samlRows];
}

/** `go` with `perf record -g` attached to the server for its length. */
async function withPerf(pid, file, go) {
  // System-wide (`-a`): `-p PID` attaches to the threads that exist now and misses the
  // blocking pool's, which tokio starts on demand. Read it with `perf report --pid PID`.
  const perf = spawn('perf', ['record', '-a', '-g', '-o', file], { stdio: 'ignore' });
  writeFileSync(`${file}.pid`, `${pid}\n`);
  try {
    return await go();
  } finally {
    perf.kill('SIGINT');
    await new Promise((res) => perf.once('exit', res));
  }
}

async function main() {
  const { values: opts } = parseArgs({ options: { duration: { type: 'string', default: '10' }, connections: { type: 'string' } } });
  const workdir = mkdtempSync(join(os.tmpdir(), 'mamori-flows-cpu-'));
  let server;
  try {
    const run = await startRun(workdir);
    const { load, commit, floor, pid } = run;
    server = run.server;
    const ca = readFileSync(join(server.dataDir, 'tls/dev-root.pem'));
    const scenarios = await flowScenarios({ server, ca, floor, duration: opts.duration, connections: opts.connections });
    const rows = [];
    for (const [i, s] of scenarios.entries()) {
      await s.prepare?.();
      // BENCH_PERF=DIR: a call-graph profile of each run (perf's own cost is in the row).
      const go = process.env.BENCH_PERF ? () => withPerf(pid, join(process.env.BENCH_PERF, `flows-${i}.data`), s.go) : s.go;
      rows.push({ ...s, ...(await measure(pid, go)) });
    }
    const loadAfter = os.loadavg();
    const rsa = Object.keys(floor.us).filter((k) => k.startsWith('rsa')).map((k) => `RSA-${k.slice(3)} sign ${floor.perSecond[k]}/s = ${floor.us[k].toFixed(1)} µs`);
    console.log(`\n${new Date().toISOString()}, commit ${commit}, ${os.cpus()[0].model}, ${os.availableParallelism()} cores`);
    console.log(`load average ${load.map((l) => l.toFixed(2)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(2)).join(' ')} after`);
    console.log(`${floor.version}, one core: ES256 sign ${floor.perSecond.es256}/s = ${floor.us.es256.toFixed(1)} µs; ${rsa.join('; ')}`);
    console.log(`${opts.duration} s per SAML run; the code run redeems the codes minted for about that long\n`);
    printRows(rows);
    console.log('');
    for (const r of rows) console.log(`- ${r.raw}`);
  } finally {
    if (server) await stopChild(server.child);
    rmSync(workdir, { recursive: true, force: true, maxRetries: 3 });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
  // Keep-alive sockets would hold the process open.
  process.exit(0);
}
