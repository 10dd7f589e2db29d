// Issue 20's last test point as one matrix (see CONSOLE-MATRIX.md): every console page, in
// English and Japanese, at 1280 px and at 390 px, with one tenant admin in one browser
// (made a super-admin at the end for the signing keys). On every page shown: the asked
// language (<html lang>, the page's own heading as its message file says, no raw message
// key, no English message left on a Japanese page), the language switch, no sideways
// scrolling, a CSRF token in every form that POSTs. Then, in each language and width, what
// the per-page tests do once: a change that saves (read back through the admin API), a
// refused change that saves nothing, a declined confirmation that changes nothing, and
// another tenant's object answering 404.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startServer, submit, tempDir, text } from './harness.mjs';
import { api, apiJson, openConsole, operator, postFromPage, problems, readToken } from './console-helpers.mjs';

const MESSAGES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../ui/messages');

/** Every message of a language (all files of ui/messages/<lang>/ merged). */
function messages(lang) {
  const dir = join(MESSAGES_DIR, lang);
  return Object.assign({}, ...readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8'))));
}

const M = { en: messages('en'), ja: messages('ja') };
const squash = (s) => s.replace(/\s+/g, ' ').trim();
/** Texts the same in both languages: names and technical terms. */
const SAME_IN_BOTH = new Set(['-', 'Mamori', 'OK', 'ECDSA P-256', 'RSA 2048']);
/** English texts: every English message except those a Japanese message translates to
 * (the same words may be Japanese for another key) and the names above. Found on a
 * Japanese page, one is English left behind: a message the Japanese file copied from the
 * English one, a missing translation, or a hard-coded string. */
const ENGLISH_ONLY = (() => {
  const translated = new Set(Object.keys(M.ja).filter((k) => M.ja[k] !== M.en[k]).map((k) => squash(M.ja[k])));
  return new Set(Object.values(M.en).map(squash).filter((v) => v.length > 1 && !v.includes('{') && !translated.has(v) && !SAME_IN_BOTH.has(v)));
})();
/** The first segments of the message keys: a visible word like `console.users.title` is a
 * key the page failed to translate. */
const KEY_PREFIXES = [...new Set(Object.keys(M.en).map((k) => k.split('.')[0]))];

const WIDTHS = [1280, 390];
const LANGS = ['en', 'ja'];
const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

function metadata(entityId) {
  return `<md:EntityDescriptor xmlns:md="${MD}" entityID="${entityId}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="${POST}" Location="${entityId}/acs" index="0"/>
  </md:SPSSODescriptor></md:EntityDescriptor>`;
}

/** What is wrong with the page now shown for `lang` at its width; [] when nothing. */
async function pageFaults(page, lang) {
  const other = lang === 'en' ? 'ja' : 'en';
  const seen = await page.evaluate(([prefixes, other]) => {
    const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
    const texts = (sel) => [...document.querySelectorAll(sel)].filter(visible).map((e) => e.innerText.replace(/\s+/g, ' ').trim());
    const keyPattern = new RegExp(`^(?:${prefixes.join('|')})\\.[a-z0-9_]+(?:\\.[a-z0-9_-]+)*$`);
    const words = (t) => t.split(/\s+/).map((w) => w.replace(/^[("“「]+|[)"”」:;,.!?]+$/g, '')).filter((w) => keyPattern.test(w));
    // The audit trail's actions are identifiers (what its filter takes, e.g.
    // `console.refused`), data rather than text: each such cell excuses its own words.
    const excused = [...document.querySelectorAll('.audit-action')].flatMap((e) => words(e.innerText));
    const rawKeys = words(document.body.innerText);
    for (const w of excused) rawKeys.splice(rawKeys.indexOf(w), 1);
    const postForms = [...document.querySelectorAll('form')].filter((f) => (f.getAttribute('method') ?? 'get').toLowerCase() === 'post');
    const switcher = document.querySelector(`a.lang[hreflang="${other}"]`);
    return {
      lang: document.documentElement.lang,
      title: document.title.trim(),
      h1: texts('main h1'),
      labels: [document.title.trim(), ...texts('h1, h2, h3, h4, legend, th, label, button, summary, caption, #notice, .problems li')],
      rawKeys,
      unsigned: postForms.filter((f) => !f.querySelector('input[name="csrf_token"]')?.value).map((f) => f.id || f.getAttribute('action')),
      switcher: switcher && visible(switcher) ? switcher.getAttribute('href') : null,
      scroll: document.documentElement.scrollWidth,
      inner: window.innerWidth,
    };
  }, [KEY_PREFIXES, other]);
  const faults = [];
  if (seen.lang !== lang) faults.push(`<html lang="${seen.lang}">`);
  if (seen.rawKeys.length) faults.push(`raw message keys: ${seen.rawKeys.join(', ')}`);
  if (seen.unsigned.length) faults.push(`POST forms without a CSRF token: ${seen.unsigned.join(', ')}`);
  if (!seen.switcher) faults.push(`no language switch to ${other}`);
  if (seen.scroll > seen.inner) faults.push(`${seen.scroll} px wide at ${seen.inner} px`);
  if (lang === 'ja') {
    const english = seen.labels.filter((l) => ENGLISH_ONLY.has(l));
    if (english.length) faults.push(`English left: ${english.join(' | ')}`);
    for (const heading of [seen.title, ...seen.h1]) {
      if (!/[\u3000-\u9fff\uff00-\uffef]/.test(heading)) faults.push(`heading without Japanese: ${heading}`);
    }
  }
  return { faults, h1: seen.h1 };
}

test('every console page in both languages at 1280 and 390 px: language, switch, width, CSRF; save, refuse, decline, 404', { timeout: 360_000 }, async (t) => {
  const server = await startServer(t);
  const dir = tempDir(t, 'console-matrix-');
  const admin = await operator(t, server, 'op-matrix');
  const combos = LANGS.flatMap((lang) => WIDTHS.map((width) => ({ lang, width, c: `${lang}${width}` })));

  // Another tenant with one object of each kind, and the demo tenant's objects: a user
  // with a certificate per combination (each combination saves and revokes its own),
  // one relying site and one SAML service provider.
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  server.cli('admin', 'user', 'create', '--tenant', 'other', '--login-id', 'o-secret', '--email', 'o-secret@example.test');
  writeFileSync(join(dir, 'pw'), 'Matrix-Cert-1\n');
  server.cli('admin', 'user', 'issue-cert', '--tenant', 'other', '--login-id', 'o-secret', '--p12', join(dir, 'o.p12'), '--password-file', join(dir, 'pw'));
  const { client_id: otherSite } = server.cliJson('admin', 'oidc-client', 'create', '--tenant', 'other', '--name', 'Other shop', '--redirect-uri', 'https://other.example.test/cb');
  writeFileSync(join(dir, 'other.xml'), metadata('https://sp.other.test/md'));
  server.cli('admin', 'saml-sp', 'add', '--tenant', 'other', '--metadata', join(dir, 'other.xml'));
  const token = readToken(server);
  const otherToken = readToken(server, 'other');
  const [foreignCert] = await apiJson(server, otherToken, '/tenants/other/users/o-secret/certificates');
  const [foreignSp] = await apiJson(server, otherToken, '/tenants/other/saml-sps');
  const foreignBefore = {
    user: await apiJson(server, otherToken, '/tenants/other/users/o-secret'),
    policy: await apiJson(server, otherToken, '/tenants/other/policy'),
    sp: await apiJson(server, otherToken, `/tenants/other/saml-sps/${foreignSp.id}`),
  };
  for (const { c } of combos) {
    server.cli('admin', 'user', 'create', '--tenant', 'demo', '--login-id', `m-${c}`, '--email', `m-${c}@example.test`);
    server.cli('admin', 'user', 'issue-cert', '--tenant', 'demo', '--login-id', `m-${c}`, '--p12', join(dir, `${c}.p12`), '--password-file', join(dir, 'pw'));
  }
  server.cli('admin', 'user', 'create', '--tenant', 'demo', '--login-id', 'op-root-m', '--email', 'op-root-m@example.test');
  server.cli('admin', 'operator', 'grant', '--tenant', 'demo', '--login-id', 'op-root-m', '--role', 'super-admin');
  const { client_id: site } = server.cliJson('admin', 'oidc-client', 'create', '--tenant', 'demo', '--name', 'Matrix shop', '--redirect-uri', 'https://rp.example.test/cb');
  writeFileSync(join(dir, 'sp.xml'), metadata('https://sp.matrix.test/md'));
  server.cli('admin', 'saml-sp', 'add', '--tenant', 'demo', '--metadata', join(dir, 'sp.xml'), '--name', 'Matrix SP');
  const { id: sp } = server.cliJson('admin', 'saml-sp', 'show', '--tenant', 'demo', '--entity-id', 'https://sp.matrix.test/md');
  const siteOf = () => apiJson(server, token, `/tenants/demo/oidc-clients/${site}`);
  const sites = () => apiJson(server, token, '/tenants/demo/oidc-clients');
  const spOf = () => apiJson(server, token, `/tenants/demo/saml-sps/${sp}`);

  const { page } = await openConsole(t, server, admin);
  const base = `${server.mtls}/console/t/demo`;
  const faults = [];
  let lang = 'en';
  const msg = (key) => {
    assert.ok(key in M[lang], `${key} is a ${lang} message`);
    return M[lang][key];
  };
  /** Checks the page shown as `label`: its heading is the message `headingKey`. */
  const check = async (label, headingKey) => {
    const { faults: found, h1 } = await pageFaults(page, lang);
    if (headingKey && !h1.includes(squash(msg(headingKey)))) found.push(`heading ${JSON.stringify(h1)}, not "${msg(headingKey)}"`);
    faults.push(...found.map((f) => `${label}: ${f}`));
  };
  /** Goes to `path` (under the demo tenant unless absolute), expects `status`, checks. */
  const visit = async (label, path, headingKey, status = 200) => {
    const response = await page.goto(path.startsWith('/console') ? `${server.mtls}${path}` : `${base}${path}`);
    assert.equal(response.status(), status, `${label}: ${page.url()}`);
    await check(label, headingKey);
  };
  /** Submits with `button` and returns the answer's status. */
  const send = async (button) => {
    const [response] = await Promise.all([page.waitForNavigation(), page.click(button)]);
    return response.status();
  };
  /** Another tenant's object: the 404 page, in the asked language, names nothing. */
  const notFound = async (label, path) => {
    await visit(label, path, 'error.title', 404);
    assert.equal(await text(page, '.error-message'), msg('console.error.not_found'), label);
    const shown = await text(page, 'main');
    for (const secret of ['o-secret', 'Other Co', 'Other shop', 'sp.other.test']) assert.ok(!shown.includes(secret), `${label} names nothing`);
  };

  for (const { lang: asked, width, c } of combos) {
    lang = asked;
    await page.setViewportSize({ width, height: 900 });
    // The language through the switch, remembered for the pages that follow.
    await page.goto(`${server.mtls}/console`);
    assert.match(page.url(), /\/console\/t\/demo\/users$/, 'the console opens on the users');
    if ((await page.getAttribute('html', 'lang')) !== lang) {
      await Promise.all([page.waitForNavigation(), page.click(`a.lang[hreflang="${lang}"]`)]);
    }
    await check(`${c} home`, 'console.users.title');

    // Users: the list; another tenant's list.
    await visit(`${c} users`, '/users?q=m-', 'console.users.title');
    assert.ok((await text(page, 'main')).includes(`m-${c}`), `${c}: the search finds the user`);
    await notFound(`${c} users other`, '/console/t/other/users');

    // A user's page: a change that saves, a declined deletion, another tenant's user.
    const user = `m-${c}`;
    await visit(`${c} user`, `/users/${user}`, 'console.user.title');
    await submit(page, '#force-password-submit');
    await check(`${c} user forced`, 'console.user.title');
    assert.equal(await text(page, '#notice'), msg('console.user.notice.password-change-forced'));
    assert.equal((await apiJson(server, token, `/tenants/demo/users/${user}`)).password_must_change, true);
    await submit(page, '#delete-user-submit');
    await check(`${c} user delete confirm`, 'console.confirm.delete.title');
    assert.equal(await text(page, '#confirm-cancel'), msg('console.confirm.cancel'));
    await page.click('#confirm-cancel');
    await page.waitForURL((u) => u.pathname.endsWith(`/users/${user}`));
    assert.equal((await api(server, token, `/tenants/demo/users/${user}`)).status, 200, `${c}: declined, the user stays`);
    // Refused: a tenant admin disabling a super-admin gets the 403 page; nothing changes.
    await visit(`${c} root user`, '/users/op-root-m', 'console.user.title');
    assert.equal(await send('#disable-submit'), 403);
    await check(`${c} disable refused`, 'console.forbidden.title');
    assert.equal(await text(page, '#console-forbidden'), msg('console.forbidden.wider_role'));
    assert.equal((await apiJson(server, token, '/tenants/demo/users/op-root-m')).status, 'active', `${c}: refused, still active`);
    await notFound(`${c} user other`, '/console/t/other/users/o-secret');
    await notFound(`${c} user other via demo`, '/users/o-secret');

    // Changing a user: saved, refused (nothing saved, not even the valid name), 404.
    await visit(`${c} user edit`, `/users/${user}/edit`, 'console.user_edit.title');
    await page.fill('#display_name', `Matrix ${c}`);
    await submit(page, '#user-edit-submit');
    await check(`${c} user edited`, 'console.user.title');
    assert.equal(await text(page, '#notice'), msg('console.user.notice.saved'));
    assert.equal((await apiJson(server, token, `/tenants/demo/users/${user}`)).display_name, `Matrix ${c}`);
    await page.goto(`${base}/users/${user}/edit`);
    await page.fill('#display_name', 'Not saved');
    await page.$eval('#email_1', (e) => { e.type = 'text'; });
    await page.fill('#email_1', 'broken@');
    assert.equal(await send('#user-edit-submit'), 422);
    await check(`${c} user edit refused`, 'console.user_edit.title');
    assert.equal(await page.getAttribute('#email_1', 'aria-invalid'), 'true');
    assert.notEqual(await problems(page), '');
    assert.equal((await apiJson(server, token, `/tenants/demo/users/${user}`)).display_name, `Matrix ${c}`, `${c}: the refused edit saved nothing`);
    await notFound(`${c} user edit other`, '/console/t/other/users/o-secret/edit');

    // A new user: created, refused, 404.
    await visit(`${c} new user`, '/new-user', 'console.user_new.title');
    await page.fill('#login_id', `n-${c}`);
    await page.fill('#email', `n-${c}@example.test`);
    await submit(page, '#user-new-submit');
    await check(`${c} user created`, 'console.enrollment.title');
    assert.equal(await text(page, '#user-created'), msg('console.user_new.created'));
    assert.equal((await api(server, token, `/tenants/demo/users/n-${c}`)).status, 200);
    await page.goto(`${base}/new-user`);
    await page.fill('#login_id', `r-${c}`);
    await page.$eval('#email', (e) => { e.type = 'text'; });
    await page.fill('#email', 'not an address');
    assert.equal(await send('#user-new-submit'), 422);
    await check(`${c} new user refused`, 'console.user_new.title');
    assert.equal(await page.getAttribute('#email', 'aria-invalid'), 'true');
    assert.equal((await api(server, token, `/tenants/demo/users/r-${c}`)).status, 404, `${c}: the refused user was not created`);
    await notFound(`${c} new user other`, '/console/t/other/new-user');

    // Importing users: a refused file saves nothing, a good one is imported, 404.
    await visit(`${c} import`, '/users-import', 'console.import.title');
    const csv = (rows) => ({ name: 'users.csv', mimeType: 'text/csv', buffer: Buffer.from(`login_id,email\n${rows}`, 'utf8') });
    await page.setInputFiles('#file', csv(`i-${c},i-${c}@example.test\ni-bad-${c},not an address\n`));
    assert.equal(await send('#import-preview-submit'), 422);
    await check(`${c} import refused`, 'console.import.title');
    assert.equal(await page.$('#import-confirm-form'), null, `${c}: a file with a bad row cannot be imported`);
    assert.equal((await api(server, token, `/tenants/demo/users/i-${c}`)).status, 404, `${c}: the preview saved nothing`);
    await page.setInputFiles('#file', csv(`i-${c},i-${c}@example.test\n`));
    assert.equal(await send('#import-preview-submit'), 200);
    await check(`${c} import preview`, 'console.import.title');
    await submit(page, '#import-confirm-submit');
    await check(`${c} imported`, 'console.import.done_title');
    assert.equal((await api(server, token, `/tenants/demo/users/i-${c}`)).status, 200, `${c}: imported`);
    await notFound(`${c} import other`, '/console/t/other/users-import');

    // The policy: saved, refused (nothing saved), 404.
    await visit(`${c} policy`, '/policy', 'console.policy.title');
    const devices = String(2 + combos.findIndex((x) => x.c === c));
    await page.fill('#max_devices', devices);
    await submit(page, '#policy-save');
    await check(`${c} policy saved`, 'console.policy.title');
    assert.equal(await text(page, '#notice'), msg('console.policy.notice.saved'));
    const policy = await apiJson(server, token, '/tenants/demo/policy');
    assert.equal(String(policy.max_devices), devices);
    await page.fill('#max_devices', '9');
    await page.fill('#lockout_threshold_password', '0');
    assert.equal(await send('#policy-save'), 422);
    await check(`${c} policy refused`, 'console.policy.title');
    assert.equal(await page.getAttribute('#lockout_threshold_password', 'aria-invalid'), 'true');
    assert.deepEqual(await apiJson(server, token, '/tenants/demo/policy'), policy, `${c}: the refused policy saved nothing`);
    // The branding, on the policy page: saved, refused (nothing saved, not even the name).
    await page.goto(`${base}/policy`);
    await page.fill('#display_name', `Brand ${c}`);
    await submit(page, '#branding-save');
    await check(`${c} branding saved`, 'console.policy.title');
    assert.equal(await text(page, '#notice'), msg('console.policy.notice.branding_saved'));
    const brand = await apiJson(server, token, '/tenants/demo/branding');
    assert.equal(brand.display_name, `Brand ${c}`);
    await page.fill('#display_name', 'Not saved');
    await page.fill('#accent_colour', '#ffcc00');
    assert.equal(await send('#branding-save'), 422);
    await check(`${c} branding refused`, 'console.policy.title');
    assert.equal(await page.getAttribute('#accent_colour', 'aria-invalid'), 'true');
    assert.deepEqual(await apiJson(server, token, '/tenants/demo/branding'), brand, `${c}: the refused branding saved nothing`);
    await notFound(`${c} policy other`, '/console/t/other/policy');

    // Relying sites: the list, a new one (saved, refused), a site's page (saved, refused,
    // removal not confirmed), another tenant's.
    await visit(`${c} sites`, '/sites', 'console.sites.title');
    await notFound(`${c} sites other`, '/console/t/other/sites');
    const sitesBefore = (await sites()).length;
    await visit(`${c} site new`, '/sites/new', 'console.sites.new');
    await page.fill('#name', `Shop ${c}`);
    await page.fill('#redirect_uris', 'http://evil.example.test/cb');
    assert.equal(await send('#site-submit'), 422);
    await check(`${c} site new refused`, 'console.sites.new');
    assert.equal((await sites()).length, sitesBefore, `${c}: nothing registered`);
    await page.fill('#redirect_uris', `https://rp.example.test/${c}`);
    await submit(page, '#site-submit');
    await check(`${c} site created`, 'console.sites.created');
    assert.ok((await sites()).some((s) => s.name === `Shop ${c}`), `${c}: registered`);
    await notFound(`${c} site new other`, '/console/t/other/sites/new');
    await visit(`${c} site`, `/sites/${site}`, 'console.site.title');
    await page.fill('#name', `Matrix shop ${c}`);
    await submit(page, '#site-save');
    await check(`${c} site saved`, 'console.site.title');
    assert.equal(await text(page, '#notice'), msg('console.site.notice.saved'));
    assert.equal((await siteOf()).name, `Matrix shop ${c}`);
    await page.fill('#name', 'Not saved');
    await page.fill('#redirect_uris', 'http://evil.example.test/cb');
    assert.equal(await send('#site-save'), 422);
    await check(`${c} site refused`, 'console.site.title');
    assert.equal((await siteOf()).name, `Matrix shop ${c}`, `${c}: the refused change saved nothing`);
    await page.goto(`${base}/sites/${site}`);
    assert.equal(await send('#delete-submit'), 422);
    await check(`${c} site delete unconfirmed`, 'console.site.title');
    assert.match(await problems(page), new RegExp(msg('console.site.problem.confirm').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.equal((await siteOf()).client_id, site, `${c}: not confirmed, the site stays`);
    await notFound(`${c} site other`, `/console/t/other/sites/${otherSite}`);
    await notFound(`${c} site other via demo`, `/sites/${otherSite}`);

    // The login history; another tenant's.
    await visit(`${c} events`, '/events', 'console.events.title');
    await notFound(`${c} events other`, '/console/t/other/events');

    // Certificates: the search, a certificate's page (revocation declined, refused, done),
    // another tenant's.
    await visit(`${c} certificates`, `/certificates?login_id=${user}`, 'console.certificates.title');
    await notFound(`${c} certificates other`, '/console/t/other/certificates');
    await visit(`${c} certificates refused`, '/certificates?expiring_within_days=soon', 'error.title', 400);
    assert.equal(await text(page, '.error-message'), msg('console.certificates.expiring_days_invalid'));
    await page.goto(`${base}/certificates?login_id=${user}`);
    await Promise.all([page.waitForNavigation(), page.click('a.certificate-serial')]);
    await check(`${c} certificate`, 'console.certificate_page.title');
    const certPath = new URL(page.url()).pathname;
    const [{ serial }] = await apiJson(server, token, `/tenants/demo/users/${user}/certificates`);
    const certStatus = async () => (await apiJson(server, token, `/tenants/demo/certificates/${serial}`)).status;
    await page.selectOption('#reason', 'key-compromise');
    await submit(page, '#revoke-submit');
    await check(`${c} revoke confirm`, 'console.confirm.revoke.title');
    await page.click('#confirm-cancel');
    await page.waitForURL((u) => u.pathname === certPath);
    assert.equal(await certStatus(), 'active', `${c}: declined, still active`);
    const refused = await postFromPage(page, server, `${certPath}/revoke`, { reason: 'because', confirmed: 'yes' });
    assert.equal(refused.status, 422);
    assert.ok(refused.text.includes(`lang="${lang}"`) && refused.text.includes(msg('console.certificate_page.problem.reason')), `${c}: the refusal in the asked language`);
    assert.equal(await certStatus(), 'active', `${c}: refused, still active`);
    await page.selectOption('#reason', 'superseded');
    await submit(page, '#revoke-submit');
    await submit(page, '#confirm-submit');
    await check(`${c} revoked`, 'console.certificate_page.title');
    assert.equal(await text(page, '#notice'), msg('console.certificate_page.notice.revoked'));
    assert.equal(await certStatus(), 'revoked');
    await notFound(`${c} certificate other`, `/console/t/other/certificates/${foreignCert.serial}`);
    await notFound(`${c} certificate other via demo`, `/certificates/${foreignCert.serial}`);

    // The audit trail: a refused filter, another tenant's.
    await visit(`${c} audit`, '/audit', 'console.audit.title');
    await visit(`${c} audit refused`, '/audit?since=yesterday', 'console.audit.title', 422);
    assert.ok((await problems(page)).includes(msg('console.audit.problem.date')), `${c}: the refusal says why`);
    await notFound(`${c} audit other`, '/console/t/other/audit');

    // SAML service providers: the list, a new one (refused, saved), one's page (saved,
    // refused, removal declined), another tenant's.
    await visit(`${c} saml sps`, '/saml-sps', 'console.saml.title');
    await notFound(`${c} saml sps other`, '/console/t/other/saml-sps');
    const spCount = async () => (await apiJson(server, token, '/tenants/demo/saml-sps')).length;
    const spsBefore = await spCount();
    await visit(`${c} saml sp new`, '/saml-sps/new', 'console.saml.new');
    const spFile = (entity) => ({ name: 'sp.xml', mimeType: 'application/samlmetadata+xml', buffer: Buffer.from(metadata(entity)) });
    await page.setInputFiles('#metadata', spFile('https://sp.matrix.test/md'));
    assert.equal(await send('#saml-sp-new-submit'), 422);
    await check(`${c} saml sp new refused`, 'console.saml.new');
    assert.ok((await problems(page)).includes(msg('console.saml.problem.taken')), `${c}: the refusal says why`);
    assert.equal(await spCount(), spsBefore, `${c}: nothing registered`);
    await page.setInputFiles('#metadata', spFile(`https://sp-${c}.matrix.test/md`));
    await submit(page, '#saml-sp-new-submit');
    await check(`${c} saml sp registered`, 'console.saml.sp_title');
    assert.equal(await text(page, '#notice'), msg('console.saml.notice.registered'));
    assert.equal(await spCount(), spsBefore + 1);
    await notFound(`${c} saml sp new other`, '/console/t/other/saml-sps/new');
    await visit(`${c} saml sp`, `/saml-sps/${sp}`, 'console.saml.sp_title');
    await page.fill('#name', `Matrix SP ${c}`);
    await submit(page, '#saml-sp-save');
    await check(`${c} saml sp saved`, 'console.saml.sp_title');
    assert.equal(await text(page, '#notice'), msg('console.saml.notice.saved'));
    const savedSp = await spOf();
    assert.equal(savedSp.name, `Matrix SP ${c}`);
    await page.fill('#name', 'Not saved');
    await page.check('#encrypt_assertion');
    assert.equal(await send('#saml-sp-save'), 422);
    await check(`${c} saml sp refused`, 'console.saml.sp_title');
    assert.ok((await problems(page)).includes(msg('console.saml.problem.encrypt')), `${c}: the refusal says why`);
    assert.deepEqual(await spOf(), savedSp, `${c}: the refused change saved nothing`);
    await page.goto(`${base}/saml-sps/${sp}`);
    await submit(page, '#delete-submit');
    await check(`${c} saml sp delete confirm`, 'console.saml.confirm.delete.title');
    await page.click('#confirm-cancel');
    await page.waitForURL((u) => u.pathname.endsWith(`/saml-sps/${sp}`));
    assert.deepEqual(await spOf(), savedSp, `${c}: declined, the SP stays`);
    await notFound(`${c} saml sp other`, `/console/t/other/saml-sps/${foreignSp.id}`);
    await notFound(`${c} saml sp other via demo`, `/saml-sps/${foreignSp.id}`);

    // The signing keys are a super-admin's: a tenant admin gets the 403 page.
    const keys = await page.goto(`${base}/keys`);
    assert.equal(keys.status(), 403);
    await check(`${c} keys forbidden`, 'console.forbidden.title');
    assert.equal(await text(page, '#console-forbidden'), msg('console.keys.forbidden'));
  }

  // Nothing of the other tenant changed through any of it.
  assert.deepEqual(await apiJson(server, otherToken, '/tenants/other/users/o-secret'), foreignBefore.user);
  assert.deepEqual(await apiJson(server, otherToken, '/tenants/other/policy'), foreignBefore.policy);
  assert.deepEqual(await apiJson(server, otherToken, `/tenants/other/saml-sps/${foreignSp.id}`), foreignBefore.sp);
  assert.equal((await apiJson(server, otherToken, `/tenants/other/certificates/${foreignCert.serial}`)).status, 'active');

  // The same operator made a super-admin: the signing keys (rotation declined, refused,
  // done). The keys are shared by every tenant: no other tenant's keys to ask for.
  server.cli('admin', 'operator', 'grant', '--tenant', 'demo', '--login-id', admin.loginId, '--role', 'super-admin');
  server.cli('admin', 'saml-keys', 'list');
  server.cli('admin', 'keys', 'rotate');
  const kids = async () => (await apiJson(server, token, '/tenants/demo/signing-keys')).map((k) => `${k.kid}:${k.state}`).sort();
  for (const { lang: asked, width, c } of combos) {
    lang = asked;
    await page.setViewportSize({ width, height: 900 });
    await page.goto(`${base}/keys?lang=${lang}`);
    await check(`${c} keys`, 'console.keys.title');
    const before = await kids();
    await submit(page, '#rotate-saml-submit');
    await check(`${c} keys confirm`, 'console.keys.confirm.saml.title');
    await page.click('#confirm-cancel');
    await page.waitForURL((u) => u.pathname.endsWith('/keys'));
    assert.deepEqual(await kids(), before, `${c}: declined, no rotation`);
    await page.$eval('#grace_days', (e) => { e.type = 'text'; });
    await page.fill('#grace_days', '-1');
    assert.equal(await send('#rotate-saml-submit'), 422);
    await check(`${c} keys refused`, 'console.keys.title');
    assert.ok((await problems(page)).includes(msg('console.keys.problem.grace_days')), `${c}: the refusal says why`);
    assert.deepEqual(await kids(), before, `${c}: refused, no rotation`);
    await submit(page, '#rotate-oidc-submit');
    await check(`${c} keys oidc confirm`, 'console.keys.confirm.oidc.title');
    await submit(page, '#confirm-submit');
    await check(`${c} keys rotated`, 'console.keys.title');
    assert.equal(await text(page, '#notice'), msg('console.keys.notice.rotated-oidc'));
    assert.notDeepEqual(await kids(), before, `${c}: rotated`);
  }

  assert.deepEqual(faults, [], `pages not as asked:\n${faults.join('\n')}`);
});
