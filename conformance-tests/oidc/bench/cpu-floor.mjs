// Issue 22: Mamori's CPU per token request against the crypto floor measured in the same
// run, and its resident memory. CPU per request is the server's utime + stime (from
// /proc/PID/stat) over a run ÷ the requests it answered, which other work on the machine
// cannot inflate; the floors come from `openssl speed` on one core, which it cannot
// inflate either. Prints a Markdown table for docs/benchmarks.md.
//
// Builds nothing: expects a release binary. Needs node, openssl, wrk and hey (Debian
// packages; scripts/lib/ensure.sh installs them with `ensure_apt_packages wrk hey`), and
// for the peer rows oidc-provider (npm ci in this folder) and glewlwyd (Debian package;
// `DEBIAN_FRONTEND=noninteractive apt-get install -y glewlwyd`, not installed by
// scripts/test). A missing peer is reported, not installed. Usage, from the repository root:
//
//   cargo build --release --bin mamori
//   (cd conformance-tests/oidc/bench && npm ci)
//   node conformance-tests/oidc/bench/cpu-floor.mjs [--duration 15] [--connections 32] \
//     [--peers all|none|oidc-provider,glewlwyd] [--glewlwyd-pbkdf2 1]
//
// The server is `mamori quickstart` in a temporary folder (SQLite, the default settings).
// On PostgreSQL: MAMORI_STORAGE__URL=postgres://postgres@127.0.0.1:5432/EMPTY_DATABASE
// (with --flows no --peers none); each row then also gives the CPU of the machine's
// `postgres` processes per request, so run it with nothing else on that server.
// Scenarios: client_credentials and refresh_token (rotating, chained by refresh_token.lua)
// over keep-alive HTTPS with wrk, and client_credentials with a new TLS connection per
// request with `hey -disable-keepalive` (wrk cannot turn keep-alive off). Then the same
// scenarios against each peer (peers.mjs), one server at a time, with "÷ Mamori" = the
// peer's CPU per request ÷ Mamori's.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { hey as heyRun, measure, printRows, request, startRun, statusMiB, stopChild, wrk as wrkRun } from './bench-lib.mjs';
import { flowScenarios } from './flows-cpu.mjs';
import { parsePeers, runPeers } from './peers.mjs';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    connections: { type: 'string', default: '32' },
    threads: { type: 'string', default: '2' },
    'idle-seconds': { type: 'string', default: '3' },
    peers: { type: 'string', default: 'all' },
    // The authorization-code redemption and SAML SSO rows (flows-cpu.mjs); `--flows no` skips them.
    flows: { type: 'string', default: 'yes' },
    // Glewlwyd checks the PBKDF2 hash of the client secret on every request (150000
    // iterations as shipped); Mamori checks its slow hash once and then a cached digest,
    // oidc-provider compares the secret: 1 iteration makes Glewlwyd's check as cheap.
    'glewlwyd-pbkdf2': { type: 'string', default: '1' },
  },
});
const peers = parsePeers(opts.peers);
const REDIRECT = 'https://localhost:9/cb';
const wrk = (url, script, env, seconds, load = opts) => wrkRun(url, script, env, seconds, load);
const hey = (url, basic, seconds, load = opts) => heyRun(url, basic, seconds, load);

/** Refresh tokens from real code flows of a certificate-only user (as run.mjs). */
async function refreshTokens(server, basic, ca, n) {
  server.cli('admin', 'user', 'create', '--tenant', 'demo', '--login-id', 'bench-user', '--email', 'bench@example.test', '--method', 'cert');
  const pwFile = join(server.dataDir, 'bench.pw');
  writeFileSync(pwFile, 'Bench-p12-1\n');
  const p12 = join(server.dataDir, 'bench.p12');
  server.cli('admin', 'user', 'issue-cert', '--tenant', 'demo', '--login-id', 'bench-user', '--p12', p12, '--password-file', pwFile);
  const tls = { pfx: readFileSync(p12), passphrase: 'Bench-p12-1', ca };
  let cookie;
  const tokens = [];
  for (let i = 0; i < n; i += 1) {
    let url = `${server.main}/t/demo/authorize?response_type=code&client_id=bench&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=openid&state=s${i}`;
    for (let hop = 0; hop < 10 && !url.startsWith(REDIRECT); hop += 1) {
      const r = await request(url, { ...tls, headers: cookie ? { cookie } : {} });
      const set = [r.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('__Host-mamori_session='));
      if (set) cookie = set.split(';')[0];
      if (!r.headers.location) throw new Error(`${url} answered ${r.status}`);
      url = new URL(r.headers.location, url).href;
    }
    const code = new URL(url).searchParams.get('code');
    const res = await tokenPost(server, basic, ca, `grant_type=authorization_code&code=${code}&redirect_uri=${encodeURIComponent(REDIRECT)}`);
    tokens.push(JSON.parse(res.body).refresh_token);
  }
  return tokens;
}

function tokenPost(server, basic, ca, body) {
  return request(`${server.main}/t/demo/token`, { method: 'POST', body, ca, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic } });
}

const workdir = mkdtempSync(join(os.tmpdir(), 'mamori-cpu-floor-'));
let server;
try {
  const run = await startRun(workdir);
  const { load, commit, floor, pid } = run;
  server = run.server;
  await new Promise((r) => setTimeout(r, Number(opts['idle-seconds']) * 1000));
  const idle = { rss: statusMiB(pid, 'VmRSS'), hwm: statusMiB(pid, 'VmHWM'), rollup: readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8') };

  const serverKey = new X509Certificate(readFileSync(join(server.dataDir, 'tls/server.pem'))).publicKey;
  const handshakeSig = serverKey.asymmetricKeyType === 'ec' ? ['ES256', floor.us.es256] : ['RSA-2048', floor.us.rsa2048];
  const ca = readFileSync(join(server.dataDir, 'tls/dev-root.pem'));
  const reg = JSON.parse(server.cli('admin', 'oidc-client', 'create', '--tenant', 'demo', '--client-id', 'bench', '--name', 'Bench',
    '--redirect-uri', REDIRECT, '--grant-type', 'client_credentials', '--grant-type', 'authorization_code', '--grant-type', 'refresh_token',
    '--scope', 'openid', '--scope', 'api.read', '--first-party', '--output', 'json'));
  const basic = `Basic ${Buffer.from(`bench:${reg.client_secret}`).toString('base64')}`;
  const perThread = Number(opts.connections) / Number(opts.threads);
  const tokensFile = join(server.dataDir, 'rt.txt');
  writeFileSync(tokensFile, (await refreshTokens(server, basic, ca, Number(opts.threads) * (perThread + 8))).join('\n'));
  const url = `${server.main}/t/demo/token`;
  const warm = await tokenPost(server, basic, ca, 'grant_type=client_credentials&scope=api.read');
  if (warm.status !== 200) throw new Error(`warm-up: ${warm.status} ${warm.body}`);
  // Warm-up: the client's secret verified once, keys loaded, connections and caches filled.
  await wrk(url, 'client_credentials.lua', { BENCH_BASIC: basic }, 2);
  const afterSetup = statusMiB(pid, 'VmRSS');

  const duration = Number(opts.duration);
  // The peers run the same scenarios against their own endpoint, client and tokens (and
  // load: connections and threads, when a peer needs fewer connections).
  const scenariosFor = (url, basic, tokensFile, load = opts) => [
    { name: 'client_credentials, keep-alive', floor: floor.us.es256, floorText: '1 ES256', target: 1.5,
      go: () => wrk(url, 'client_credentials.lua', { BENCH_BASIC: basic }, duration, load) },
    { name: `refresh_token (rotation, ${/^postgres/.test(process.env.MAMORI_STORAGE__URL ?? '') ? 'PostgreSQL' : 'SQLite'}), keep-alive`, floor: 2 * floor.us.es256, floorText: '2 ES256', target: 2, refresh: true,
      go: () => wrk(url, 'refresh_token.lua', { BENCH_BASIC: basic, BENCH_TOKENS: tokensFile }, duration, load) },
    { name: 'client_credentials, new TLS connection each', floor: handshakeSig[1] + 2 * floor.us.x25519 + floor.us.es256,
      floorText: `1 ${handshakeSig[0]} + 2 X25519 + 1 ES256`, target: 1.25, go: () => hey(url, basic, duration, load) },
  ];
  const rows = [];
  for (const s of scenariosFor(url, basic, tokensFile)) rows.push({ ...s, ...(await measure(pid, s.go)) });
  if (opts.flows !== 'no') {
    // Their setup (a login, codes minted, SAML SPs) runs outside the measured window; codes
    // live 60 s, so each scenario's prepare() mints them right before its run.
    for (const s of await flowScenarios({ server, ca, floor, duration })) {
      await s.prepare?.();
      rows.push({ ...s, ...(await measure(pid, s.go)) });
    }
  }
  const loadAfter = os.loadavg();

  console.log(`\n${new Date().toISOString()}, commit ${commit}, ${os.cpus()[0].model}, ${os.availableParallelism()} cores`);
  console.log(`load average ${load.map((l) => l.toFixed(2)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(2)).join(' ')} after`);
  console.log(`${floor.version}, one core: ES256 sign ${floor.perSecond.es256}/s = ${floor.us.es256.toFixed(1)} µs; X25519 ${floor.perSecond.x25519}/s = ${floor.us.x25519.toFixed(1)} µs; RSA-2048 sign ${floor.perSecond.rsa2048}/s = ${floor.us.rsa2048.toFixed(1)} µs${floor.us.rsa3072 ? `; RSA-3072 sign ${floor.perSecond.rsa3072}/s = ${floor.us.rsa3072.toFixed(1)} µs` : ''}`);
  console.log(`server TLS key: ${serverKey.asymmetricKeyType}; ${opts.connections} connections, ${duration} s per run\n`);
  printRows(rows);
  const pss = (k) => Number(idle.rollup.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0) / 1024;
  console.log(`\nRSS: idle ${idle.rss.toFixed(1)} MiB ${opts['idle-seconds']} s after start (anonymous ${pss('Anonymous').toFixed(1)} of which transparent huge pages ${pss('AnonHugePages').toFixed(1)}, file-backed ${(pss('Rss') - pss('Anonymous')).toFixed(1)}; peak while starting ${idle.hwm.toFixed(1)}), `
    + `${afterSetup.toFixed(1)} after setup and warm-up, peak ${Math.max(...rows.map((r) => r.peak)).toFixed(1)} over the runs, ${rows.at(-1).after.toFixed(1)} after them (targets: ≤ 30 idle, ≤ 60 peak)`);
  if (process.env.BENCH_VERBOSE) for (const r of rows) console.log(r.raw);

  if (peers.length) {
    await stopChild(server.child); // one server at a time: the peers do not compete with it
    const peerLoad = os.loadavg();
    const results = await runPeers(peers, {
      workdir, certFile: join(server.dataDir, 'tls/server.pem'), keyFile: join(server.dataDir, 'tls/server.key'), ca,
      clientId: 'bench', clientSecret: reg.client_secret, redirectUri: REDIRECT, tokenCount: Number(opts.threads) * (perThread + 8),
      idleSeconds: Number(opts['idle-seconds']), load: opts, warmup: (u, b, load) => wrk(u, 'client_credentials.lua', { BENCH_BASIC: b }, 2, load),
      scenarios: scenariosFor, glewlwydPbkdf2: Number(opts['glewlwyd-pbkdf2']),
    });
    printPeers(results, rows, peerLoad);
  }
} finally {
  if (server) await stopChild(server.child);
  rmSync(workdir, { recursive: true, force: true, maxRetries: 3 });
}

function printPeers(results, mamoriRows, loadBefore) {
  const mamori = Object.fromEntries(mamoriRows.map((r) => [r.name, r.perRequest]));
  console.log(`\nPeers, the same scenarios, one server at a time; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} after\n`);
  console.log('| server | scenario | requests (2xx) | errors | server CPU, s | CPU µs/request | floor | floor µs | ratio | ÷ Mamori | peak RSS MiB |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |');
  for (const p of results) {
    for (const r of p.rows) {
      console.log(`| ${p.name} | ${r.name} | ${r.ok} | ${r.errors} | ${r.cpu.toFixed(2)} | ${r.perRequest.toFixed(1)} | ${r.floorText} | ${r.floor.toFixed(1)} | ${(r.perRequest / r.floor).toFixed(2)}× | ${(r.perRequest / mamori[r.name]).toFixed(2)}× | ${r.peak.toFixed(1)} |`);
    }
  }
  console.log('');
  for (const p of results) {
    const rss = p.idle === undefined ? '' : `RSS idle ${p.idle.toFixed(1)} MiB ${opts['idle-seconds']} s after start, ${p.afterSetup?.toFixed(1) ?? '?'} after setup and warm-up`
      + (p.rows.length ? `, peak ${Math.max(...p.rows.map((r) => r.peak)).toFixed(1)} over the runs` : '');
    console.log(`${p.name}: ${[rss, ...p.notes, ...p.skipped].filter(Boolean).join('; ')}`);
  }
  if (results.some((p) => p.name === 'glewlwyd' && p.rows.length)) {
    console.log(`glewlwyd: client secret checked with PBKDF2-SHA256 at ${opts['glewlwyd-pbkdf2']} iteration(s) on every request (150000 as shipped: --glewlwyd-pbkdf2 150000)`);
  }
  if (process.env.BENCH_VERBOSE) for (const p of results) for (const r of p.rows) console.log(r.raw);
}
