// The audit trail in the operators' console: filtered by actor, action and days, exported
// as CSV with the same filters (the rows the page shows, formula-safe cells); a bad day
// is refused naming the field; another tenant's trail answers 404, page and CSV alike.
// In Japanese too, and at a phone's width. The trail is read-only: nothing to confirm.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { screenshots, startServer, submit, text } from './harness.mjs';
import { apiJson, fitsPhone, openConsole, operator, problems, readToken } from './console-helpers.mjs';

/** The cells of a CSV line (quoted fields with doubled quotes, no line breaks inside). */
function cells(line) {
  const out = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { cell += '"'; i += 1; } else if (c === '"') { quoted = false; } else { cell += c; }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      out.push(cell);
      cell = '';
    } else {
      cell += c;
    }
  }
  out.push(cell);
  return out;
}

const day = (offsetDays) => new Date(Date.now() + offsetDays * 86_400_000).toLocaleDateString('sv-SE', { timeZone: 'Asia/Tokyo' });

test('an operator filters the audit trail and exports it as CSV', { timeout: 300_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console-audit');
  const admin = await operator(t, server, 'op-audit');
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  server.cli('admin', 'user', 'create', '--tenant', 'demo', '--login-id', 'u-one', '--email', 'u-one@example.test');
  server.cli('admin', 'user', 'create', '--tenant', 'demo', '--login-id', 'u-two', '--email', 'u-two@example.test');
  const token = readToken(server);

  // Two actions by the operator in the console, one of them on a user with a name a
  // spreadsheet would run as a formula.
  const { page } = await openConsole(t, server, admin);
  for (const user of ['u-one', 'u-two']) {
    await page.goto(`${server.mtls}/console/t/demo/users/${user}`);
    await submit(page, '#force-password-submit');
  }
  await page.goto(`${server.mtls}/console/t/demo/users/u-one/edit`);
  await page.fill('#display_name', '=HYPERLINK("https://evil.example.test","x")');
  await submit(page, '#user-edit-submit');
  assert.equal(await text(page, '#notice'), 'The changes have been saved.');

  await page.click('#menu-audit');
  await page.waitForURL(/\/console\/t\/demo\/audit$/);
  await snap(page, 'audit');
  await fitsPhone(page, 'audit');
  const all = await page.$$eval('.audit-row', (rows) => rows.map((r) => r.dataset.action));
  assert.ok(all.includes('user.update') && all.includes('user.force-password-change'), JSON.stringify(all));

  // By actor and action.
  await page.fill('#actor', 'user:demo/op-audit');
  await page.fill('#action', 'user.force-password-change');
  await submit(page, '#audit-filter-submit');
  await snap(page, 'audit-filtered');
  const targets = await page.$$eval('.audit-row', (rows) => rows.map((r) => r.querySelector('.audit-target').textContent.trim()));
  assert.deepEqual(targets.sort(), ['tenant:demo/user:u-one', 'tenant:demo/user:u-two']);
  assert.equal(await page.inputValue('#actor'), 'user:demo/op-audit', 'the filter stays filled in');
  // By days on the operator's clock: today has them, the days before today none.
  await page.fill('#since', day(0));
  await submit(page, '#audit-filter-submit');
  assert.equal((await page.$$('.audit-row')).length, 2);
  await page.fill('#since', day(-3));
  await page.fill('#until', day(-1));
  await submit(page, '#audit-filter-submit');
  assert.ok(await page.isVisible('#audit-empty'));
  // The API's filter agrees.
  const apiRows = (await apiJson(server, token, '/tenants/demo/audit-events?actor=user:demo/op-audit&action=user.force-password-change')).items;
  assert.equal(apiRows.length, 2);

  // A day that is not one is refused, naming the field.
  const bad = await page.goto(`${server.mtls}/console/t/demo/audit?since=yesterday`);
  assert.equal(bad.status(), 422);
  assert.match(await problems(page), /From \(day\): enter a day as YYYY-MM-DD/);
  assert.equal(await page.getAttribute('#since', 'aria-invalid'), 'true');

  // CSV of the same filters: the header, the rows the page showed, formula-safe cells.
  await page.goto(`${server.mtls}/console/t/demo/audit?actor=user:demo/op-audit`);
  const shown = (await page.$$('.audit-row')).length;
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#audit-csv')]);
  assert.match(download.suggestedFilename(), /^audit-events-demo\.csv$/);
  const bytes = readFileSync(await download.path());
  // A byte order mark first, so that Excel reads the Japanese names as UTF-8.
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'the file starts with a UTF-8 BOM');
  const csv = bytes.subarray(3).toString('utf8');
  const lines = csv.split('\r\n').filter(Boolean);
  assert.equal(lines[0], 'occurred_at,actor,action,target,outcome,source_ip,details');
  assert.equal(lines.length - 1, shown, csv);
  const rows = lines.slice(1).map(cells);
  assert.ok(rows.every((r) => r[1] === 'user:demo/op-audit'), csv);
  assert.ok(rows.every((r) => !/^[=+\-@]/.test(r[0]) && r.every((c) => !/^[=+@]/.test(c) && !/^-/.test(c))), `no cell starts a formula: ${csv}`);
  const update = rows.find((r) => r[2] === 'user.update');
  assert.ok(update && update[6].includes('=HYPERLINK'), `the name is in the details: ${csv}`);

  // Another tenant's trail: 404, the page and the CSV.
  for (const path of ['/console/t/other/audit', '/console/t/other/audit?actor=cli', '/console/t/no-such/audit']) {
    assert.equal((await page.goto(`${server.mtls}${path}`)).status(), 404, path);
  }
  const csvStatus = await page.evaluate(async (url) => (await fetch(url, { credentials: 'same-origin' })).status, `${server.mtls}/console/t/other/audit.csv`);
  assert.equal(csvStatus, 404);

  // In Japanese.
  const ja = await openConsole(t, server, admin, { locale: 'ja-JP', acceptLanguage: 'ja' });
  await ja.page.goto(`${server.mtls}/console/t/demo/audit?actor=user:demo/op-audit`);
  await snap(ja.page, 'audit-ja');
  assert.equal(await text(ja.page, '#console-audit-title'), '監査ログ');
  assert.equal(await text(ja.page, '#audit-csv'), 'CSV でダウンロード（この条件）');
  assert.ok(await ja.page.isVisible('a.lang[hreflang="en"]'), 'the language switch');
  await fitsPhone(ja.page, 'audit ja');
});
