// Server CPU per token request: Mamori alone under wrk, with the server's user+system
// CPU time read from /proc before and after, so the figure holds on a busy machine where
// requests per second do not. wrk's own CPU per request is read the same way (it is
// this process's child), since on one machine the two share the cores: their sum bounds
// the requests per second the machine can carry at all.
//
// Usage (from the repository root, after a release build):
//
//   node conformance-tests/oidc/bench/cpu.mjs [--duration 10] [--connections 32]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
process.env.MAMORI_BIN ||= resolve(here, '../../../target/release/mamori');
process.env.MAMORI_LOG__LEVEL ||= 'warn';
const { startServer } = await import('../../browser/harness.mjs');
const { values: opts } = parseArgs({ options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '32' } } });

const cleanups = [];
const t = { after: (fn) => cleanups.push(fn) };
/** utime + stime of every process running `bin`, in clock ticks (100 per second). */
function cpuTicks(bin) {
  const pids = execFileSync('pgrep', ['-f', bin], { encoding: 'utf8' }).trim().split('\n');
  let total = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      total += Number(fields[11]) + Number(fields[12]);
    } catch { /* gone */ }
  }
  return total;
}
/** utime + stime of this process's waited-for children (wrk), in clock ticks. */
function childTicks() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return Number(fields[13]) + Number(fields[14]);
}
try {
  const server = await startServer(t);
  const reg = JSON.parse(server.cli('admin', 'oidc-client', 'create', '--tenant', 'demo', '--client-id', 'bench', '--name', 'Bench',
    '--redirect-uri', 'https://localhost:9/cb', '--grant-type', 'client_credentials', '--scope', 'api.read', '--output', 'json'));
  const basic = `Basic ${Buffer.from(`bench:${reg.client_secret}`).toString('base64')}`;
  const url = `${server.main}/t/demo/token`;
  const args = ['-t', '2', '-c', opts.connections, '-d', '2s', '-s', join(here, 'client_credentials.lua'), url];
  const env = { ...process.env, BENCH_BASIC: basic, BENCH_THREADS: '2' };
  execFileSync('wrk', args, { env }); // warm-up: secret verified once, keys loaded
  args[5] = `${opts.duration}s`;
  const [before, wrkBefore] = [cpuTicks(process.env.MAMORI_BIN), childTicks()];
  const out = execFileSync('wrk', args, { env, encoding: 'utf8' });
  const ticks = cpuTicks(process.env.MAMORI_BIN) - before;
  const wrkTicks = childTicks() - wrkBefore;
  const requests = Number(out.match(/(\d+) requests in/)[1]);
  const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)[1]);
  const perRequest = (n) => (n * 10_000) / requests; // ticks are 10 ms
  console.log(`client_credentials: ${requests} requests, ${rps.toFixed(0)} req/s, server CPU ${(ticks / 100).toFixed(2)} s = ${perRequest(ticks).toFixed(1)} µs per request`);
  const both = perRequest(ticks + wrkTicks);
  console.log(`wrk: ${perRequest(wrkTicks).toFixed(1)} µs per request; server + wrk ${both.toFixed(1)} µs, so ${os.availableParallelism()} cores carry at most ${(os.availableParallelism() * 1e6 / both).toFixed(0)} req/s`);
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
