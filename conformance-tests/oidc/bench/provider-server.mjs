// oidc-provider (provider.mjs) in a process of its own, so that its /proc/PID/stat counts
// its CPU alone: cpu-floor.mjs starts it, reads the one JSON line it prints once ready,
// and stops it with SIGTERM. A line `mint N FILE` on its stdin writes N refresh tokens to
// FILE (one a line) for the refresh_token scenario and answers `minted N`; minting after
// the start leaves the idle reading alone.
//
//   node provider-server.mjs --cert server.pem --key server.key --client-id bench \
//     --client-secret S --redirect-uri https://localhost:9/cb
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import { startProvider } from './provider.mjs';

const { values: o } = parseArgs({
  options: {
    cert: { type: 'string' },
    key: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
  },
});
for (const k of ['cert', 'key', 'client-id', 'client-secret', 'redirect-uri']) if (!o[k]) throw new Error(`--${k} is required`);

const provider = await startProvider({
  cert: readFileSync(o.cert), key: readFileSync(o.key), clientId: o['client-id'], clientSecret: o['client-secret'], redirectUri: o['redirect-uri'],
});
process.on('SIGTERM', () => {
  provider.close();
  process.exit(0);
});
// stdin closes when cpu-floor.mjs goes away: do not outlive it.
createInterface({ input: process.stdin }).on('close', () => process.exit(0)).on('line', async (line) => {
  const [cmd, n, ...rest] = line.split(' ');
  const file = rest.join(' ');
  if (cmd !== 'mint' || !file) return console.log(`unknown: ${line}`);
  writeFileSync(file, (await provider.mintRefreshTokens(Number(n))).join('\n'));
  console.log(`minted ${n}`);
});
console.log(JSON.stringify({ issuer: provider.issuer, tokenEndpoint: provider.tokenEndpoint, pid: process.pid }));
