// The peer rows of cpu-floor.mjs (issue 22): the same scenarios against oidc-provider and
// Glewlwyd, configured like Mamori (one confidential client_secret_basic client, ES256 JWT
// access tokens, rotating refresh tokens, HTTPS with Mamori's quickstart certificate).
// Each peer is a process of its own, so /proc/PID/stat counts its CPU alone, and runs
// alone: started after Mamori has stopped, stopped before the next peer starts.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { measure, request, statusMiB, stopChild, wrk } from './bench-lib.mjs';
import { glewlwydMissing, startGlewlwyd } from './glewlwyd.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const PEERS = ['oidc-provider', 'glewlwyd'];
// Glewlwyd answers token requests one at a time (about 35 a second here, waiting on
// SQLite's commits, not on the CPU): with 32 connections wrk would leave up to 32 requests
// the server still works on, uncounted, at the end of a run of a few hundred.
const CONNECTIONS = { glewlwyd: 2 };
// What is not alike, printed under the table.
const NOTES = {
  'oidc-provider': 'its development in-memory adapter stores grants and tokens (no database, nothing durable); the refresh tokens are minted in-process, not from code flows; refresh answers an ID token too',
  glewlwyd: 'SQLite (the package schema); refresh tokens one-time use (rotation); each access token is also written to the database; refresh answers no ID token',
};

/** `--peers` as a list: `all` (the default), `none`, or names separated by commas. */
export function parsePeers(value) {
  if (value === 'all') return PEERS;
  if (value === 'none' || value === '') return [];
  const names = value.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !PEERS.includes(n));
  if (unknown.length) throw new Error(`--peers: unknown ${unknown.join(', ')} (known: ${PEERS.join(', ')}, all, none)`);
  return names;
}

function providerMissing() {
  try {
    import.meta.resolve('oidc-provider');
    return null;
  } catch {
    return `oidc-provider is not installed (cd ${here} && npm ci)`;
  }
}

/** provider.mjs in a child process (provider-server.mjs). */
async function startProviderProcess({ certFile, keyFile, clientId, clientSecret, redirectUri }) {
  // --name=value: a generated secret may start with a dash.
  const args = Object.entries({ cert: certFile, key: keyFile, 'client-id': clientId, 'client-secret': clientSecret, 'redirect-uri': redirectUri }).map(([k, v]) => `--${k}=${v}`);
  const child = spawn(process.execPath, [join(here, 'provider-server.mjs'), ...args], { cwd: here, stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise((res, rej) => {
    const onExit = (code) => rej(new Error(`provider-server.mjs exited (${code}):\n${log}`));
    child.once('exit', onExit);
    lines.once('line', (l) => {
      child.off('exit', onExit);
      res(l);
    });
  });
  try {
    const ready = JSON.parse(await next());
    return {
      child,
      tokenEndpoint: ready.tokenEndpoint,
      async mintRefreshTokens(n, file) {
        child.stdin.write(`mint ${n} ${file}\n`);
        const answer = await next();
        if (answer !== `minted ${n}`) throw new Error(`provider-server.mjs: ${answer}`);
      },
      close: () => stopChild(child),
      log: () => log,
    };
  } catch (e) {
    await stopChild(child);
    throw e;
  }
}

/**
 * Runs `scenarios(url, basic, tokensFile)` against each peer in turn. Returns, per peer,
 * its rows (as measure() gives them, with the scenario), its resident set idle and after
 * setup, and what was not run and why.
 */
export async function runPeers(names, { workdir, certFile, keyFile, ca, clientId, clientSecret, redirectUri, tokenCount, idleSeconds, load, warmup, scenarios, glewlwydPbkdf2 }) {
  const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
  const out = [];
  for (const name of names) {
    const result = { name, rows: [], skipped: [], notes: [NOTES[name]] };
    const peerLoad = CONNECTIONS[name] ? { ...load, connections: String(Math.max(CONNECTIONS[name], Number(load.threads))) } : load;
    if (peerLoad !== load) result.notes.push(`${peerLoad.connections} connections`);
    out.push(result);
    const missing = name === 'glewlwyd' ? glewlwydMissing() : providerMissing();
    if (missing) {
      result.skipped.push(`not run: ${missing}`);
      continue;
    }
    const dir = join(workdir, name);
    mkdirSync(dir);
    const common = { certFile, keyFile, clientId, clientSecret, redirectUri };
    let peer;
    try {
      peer = name === 'glewlwyd'
        ? await startGlewlwyd({ ...common, workdir: dir, ca, pbkdf2Iterations: glewlwydPbkdf2 })
        : await startProviderProcess(common);
      const pid = peer.child.pid;
      await new Promise((r) => setTimeout(r, idleSeconds * 1000));
      result.idle = statusMiB(pid, 'VmRSS');

      const tokensFile = join(dir, 'rt.txt');
      let refreshError;
      try {
        await peer.mintRefreshTokens(tokenCount, tokensFile);
      } catch (e) {
        refreshError = e.message.split('\n')[0];
      }
      const warm = await request(peer.tokenEndpoint, { method: 'POST', ca, body: 'grant_type=client_credentials&scope=api.read',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic } });
      if (warm.status !== 200) throw new Error(`warm-up: ${warm.status} ${warm.body}`);
      await warmup(peer.tokenEndpoint, basic, peerLoad);
      result.afterSetup = statusMiB(pid, 'VmRSS');

      for (const s of scenarios(peer.tokenEndpoint, basic, tokensFile, peerLoad)) {
        if (s.refresh && refreshError) {
          result.skipped.push(`${s.name}: not run, no refresh tokens (${refreshError})`);
          continue;
        }
        result.rows.push({ ...s, ...(await measure(pid, s.go)) });
      }
    } catch (e) {
      result.skipped.push(`stopped: ${e.message}${peer ? `\n${peer.log().slice(-2000)}` : ''}`);
    } finally {
      if (peer) await peer.close();
    }
  }
  return out;
}
