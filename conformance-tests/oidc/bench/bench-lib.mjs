// Shared by the issue-22 benchmarks (cpu-floor.mjs and the scripts it runs): the crypto
// floors from `openssl speed`, a process's CPU time and resident set from /proc, a
// `mamori quickstart` in a temporary folder, HTTPS requests, and the wrk and hey runs.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.MAMORI_BIN || resolve(here, '../../../target/release/mamori');
const run = promisify(execFile);

/** Operations per second on one core, from `openssl speed -seconds 3`. */
export async function floors() {
  const { stdout } = await run('openssl', ['speed', '-seconds', '3', 'ecdsap256', 'ecdhx25519', 'rsa2048'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const num = (re, what) => {
    const m = stdout.match(re);
    if (!m) throw new Error(`no ${what} in openssl speed output:\n${stdout}`);
    return Number(m[1]);
  };
  const perSecond = {
    es256: num(/256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)/, 'ecdsap256'),
    x25519: num(/253 bits ecdh \(X25519\)\s+\S+\s+([\d.]+)/, 'X25519'),
    rsa2048: num(/rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)/, 'rsa2048'),
  };
  const us = Object.fromEntries(Object.entries(perSecond).map(([k, v]) => [k, 1e6 / v]));
  return { perSecond, us, version: execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim() };
}

/** utime + stime of the process (all its threads, live and gone), in seconds. */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** A field of /proc/PID/status in MiB (VmRSS, VmHWM). */
export function statusMiB(pid, field) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return Number(m[1]) / 1024;
}

/** Resets the peak resident set (VmHWM) to the current one, so each run reports its own. */
export function resetPeak(pid) {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** One run against the server process `pid`: its CPU over the run ÷ the requests answered
 * with 2xx, and its peak resident set over the run. `go` returns what wrk or hey do. */
export async function measure(pid, go) {
  await settle(pid);
  resetPeak(pid);
  const before = cpuSeconds(pid);
  const dbBefore = databaseCpuSeconds();
  const r = await go();
  const cpu = cpuSeconds(pid) - before;
  const db = dbBefore === null ? {} : { dbPerRequest: ((databaseCpuSeconds() - dbBefore) * 1e6) / r.ok };
  return { ...r, cpu, perRequest: (cpu * 1e6) / r.ok, peak: statusMiB(pid, 'VmHWM'), after: statusMiB(pid, 'VmRSS'), ...db };
}

/** With `MAMORI_STORAGE__URL` naming PostgreSQL, the CPU of every `postgres` process on
 * the machine (the server's work for Mamori is not in Mamori's own figure); else null.
 * Other databases' work on the same server counts too: run it alone. */
function databaseCpuSeconds() {
  if (!/^postgres(ql)?:/.test(process.env.MAMORI_STORAGE__URL ?? '')) return null;
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += cpuSeconds(entry);
    } catch {
      // A process that ended between the listing and the read.
    }
  }
  return total;
}

/** Waits until the server's CPU time stops moving (at most 15 s), so that requests still
 * queued from a warm-up or an earlier run do not count in the next one. */
export async function settle(pid) {
  let last = cpuSeconds(pid);
  for (let quiet = 0, i = 0; quiet < 2 && i < 60; i += 1) {
    await new Promise((r) => setTimeout(r, 250));
    const now = cpuSeconds(pid);
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

/** SIGTERM, then waits for the exit; does nothing if the child is gone already. */
export async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** The table every run prints: one row per scenario measured by `measure`. */
export function printRows(rows) {
  console.log('| scenario | requests (2xx) | errors | server CPU, s | CPU µs/request | floor | floor µs | ratio | target | peak RSS MiB |');
  console.log('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.ok} | ${r.errors} | ${r.cpu.toFixed(2)} | ${r.perRequest.toFixed(1)} | ${r.floorText} | ${r.floor.toFixed(1)} | ${(r.perRequest / r.floor).toFixed(2)}× | ≤ ${r.target}× | ${r.peak.toFixed(1)} |`);
  }
  const db = rows.filter((r) => r.dbPerRequest !== undefined);
  for (const r of db) {
    const both = r.perRequest + r.dbPerRequest;
    console.log(`- ${r.name}: PostgreSQL's processes ${r.dbPerRequest.toFixed(1)} µs/request more; with them ${both.toFixed(1)} µs = ${(both / r.floor).toFixed(2)}× the floor`);
  }
}

/** What every run begins with: the load average, the commit, the floors, then the server
 * (after the floors, so that openssl has the machine to itself). */
export async function startRun(workdir) {
  const load = os.loadavg();
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here, encoding: 'utf8' }).trim();
  const floor = await floors();
  const server = await startQuickstart(workdir);
  return { load, commit, floor, server, pid: server.child.pid };
}

export async function startQuickstart(workdir) {
  const env = { ...process.env, MAMORI_SERVER__LISTEN: '127.0.0.1:0', MAMORI_SERVER__MTLS_LISTEN: '127.0.0.1:0', MAMORI_LOG__LEVEL: 'warn' };
  delete env.MAMORI_CONFIG;
  delete env.MAMORI_BIN;
  const child = spawn(BIN, ['quickstart'], { cwd: workdir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const banner = [];
  await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`quickstart not ready:\n${banner.join('\n')}\n${log}`)), 120_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      banner.push(line);
      if (line.startsWith('Press Ctrl-C')) {
        clearTimeout(timer);
        res();
      }
    });
    child.once('exit', (code) => rej(new Error(`quickstart exited (${code}):\n${banner.join('\n')}\n${log}`)));
  });
  child.stdout.resume();
  const urls = banner.find((l) => l.startsWith('mamori: listening on'))?.match(/https:\/\/\S+/g) ?? [];
  const dataDir = join(workdir, 'mamori-data');
  const cli = (...args) => execFileSync(BIN, ['--config', join(dataDir, 'mamori.toml'), ...args], { cwd: workdir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { child, main: urls[0], dataDir, cli, log: () => log };
}

/** One HTTPS request; `tls` takes https.request's options (`ca`, `pfx`, or a keep-alive
 * `agent`). The body as a string. */
export function request(url, { method = 'GET', body, headers = {}, ...tls } = {}) {
  return new Promise((res, rej) => {
    const req = https.request(url, { method, headers, ...tls }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks).toString() }));
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end(body);
  });
}

/** wrk over keep-alive connections; returns requests answered with 2xx and the errors. */
export async function wrk(url, script, env, seconds, { threads = '2', connections = '32' } = {}) {
  const args = ['-t', threads, '-c', connections, '-d', `${seconds}s`, '-s', join(here, script), url];
  const { stdout } = await run('wrk', args, { env: { ...process.env, ...env, BENCH_THREADS: threads }, encoding: 'utf8' });
  const total = Number(stdout.match(/(\d+) requests in/)?.[1]);
  const non2xx = Number(stdout.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const socket = stdout.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const errors = non2xx + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { ok: total - non2xx, errors, raw: stdout };
}

/** hey with a new TCP and TLS connection per request (hey skips certificate checks). hey
 * sends the URL's host:port as the TLS server name, which rustls refuses; `-host` sets both
 * the server name and the Host header to the bare name. */
export async function hey(url, basic, seconds, { connections = '32' } = {}) {
  const args = ['-z', `${seconds}s`, '-c', connections, '-disable-keepalive', '-host', new URL(url).hostname, '-m', 'POST', '-T', 'application/x-www-form-urlencoded',
    '-H', `Authorization: ${basic}`, '-d', 'grant_type=client_credentials&scope=api.read', url];
  const { stdout } = await run('hey', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const codes = [...stdout.matchAll(/\[(\d+)\]\s+(\d+) responses/g)].map((m) => [Number(m[1]), Number(m[2])]);
  const ok = codes.filter(([c]) => c >= 200 && c < 300).reduce((a, [, n]) => a + n, 0);
  const bad = codes.filter(([c]) => c < 200 || c >= 300).reduce((a, [, n]) => a + n, 0);
  const errs = [...(stdout.split('Error distribution:')[1] ?? '').matchAll(/\[(\d+)\]/g)].reduce((a, m) => a + Number(m[1]), 0);
  return { ok, errors: bad + errs, raw: stdout };
}

