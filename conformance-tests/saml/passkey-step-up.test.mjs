// Step-up to a passkey through SAML (issue 18): a python3-saml SP sends a
// RequestedAuthnContext for urn:mamori:acr:passkey (exact, then minimum) for a
// certificate + password user. Without a passkey: NoAuthnContext, never a lower class.
// With one: the login adds a passkey step after the password (Chromium, virtual
// authenticator), and the signed assertion's AuthnContextClassRef and `amr` say what was
// proven. A declined passkey at that step yields no assertion.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { enrolledUser, openBrowser, screenshots, setPolicy, startServer, submit, text } from '../browser/harness.mjs';
import { virtualAuthenticator } from '../browser/passkey-helpers.mjs';
import { idpMetadata, resultOf, sso, startSp, xmlsecVerify } from './sp.mjs';

const PASSKEY = 'urn:mamori:acr:passkey';

test('SAML step-up to a passkey for a certificate + password user', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('saml-passkey-step-up');
  // Passkeys are offered where the tenant allows a method with one; this user's is without.
  setPolicy(server, { allowed_login_methods: ['cert+password', 'cert+password+passkey'] });
  const user = await enrolledUser(t, server, 'saml-stepup-1', { method: 'cert+password' });
  const { context, page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  const first = page;
  const authenticator = await virtualAuthenticator(context, page);
  const idp = await idpMetadata(t, server);
  const onelogin = await startSp(t, server, idp, 'onelogin', { register: ['--attribute', 'login_id,amr'] });
  const ask = (cmp) => `${onelogin.base}/login?ctx=${encodeURIComponent(PASSKEY)}&cmp=${cmp}`;

  // No passkey: the login is the method's own and the SP gets NoAuthnContext.
  const { result: unmet, loggedIn } = await sso(page, ask('exact'), user, snap, 'no-passkey');
  assert.ok(loggedIn);
  assert.equal(unmet.ok, false, JSON.stringify(unmet));
  assert.match(readFileSync(unmet.file, 'utf8'), /NoAuthnContext/);

  // A passkey added on the account page (the session is a full login).
  await page.goto(`${server.mtls}/account/passkeys`);
  await submit(page, '#passkey-submit');
  assert.equal(await page.locator('.passkey-row').count(), 1, `registered: ${await text(page, 'main')}`);

  // exact: the session misses the class, so it is not reused: a new login. minimum: a
  // browser without a session (another one, given a copy of the passkey as it is then: a
  // copy taken earlier would be refused for its counter, as a clone).
  const second = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  const secondAuthenticator = await virtualAuthenticator(second.context, second.page);
  for (const [cmp, page] of [['exact', first], ['minimum', second.page]]) {
    if (cmp === 'minimum') {
      const [credential] = await authenticator.credentials();
      await secondAuthenticator.cdp.send('WebAuthn.addCredential', { authenticatorId: secondAuthenticator.authenticatorId, credential });
    }
    await page.goto(ask(cmp));
    await page.waitForSelector('#login-form');
    await page.fill('#login_id', user.loginId);
    await page.fill('#password', user.password);
    await Promise.all([page.waitForNavigation(), page.click('#login-submit')]);
    await snap(page, `passkey-step-${cmp}`);
    assert.equal(await page.getAttribute('#passkey-form', 'data-passkey'), 'get', `a passkey step: ${await text(page, 'main')}`);
    assert.ok(await page.isVisible('#passkey-step-up'));

    if (cmp === 'exact') {
      // Hostile: declined at the authenticator. No answer, no assertion for the SP.
      const before = onelogin.events().length;
      await authenticator.cdp.send('WebAuthn.setUserVerified', { authenticatorId: authenticator.authenticatorId, isUserVerified: false });
      await page.click('#passkey-submit');
      await page.waitForSelector('[data-passkey-status=failed]:not([hidden])');
      await authenticator.cdp.send('WebAuthn.setUserVerified', { authenticatorId: authenticator.authenticatorId, isUserVerified: true });
      assert.equal(onelogin.events().length, before, 'nothing reached the SP');
      assert.ok(!(await page.isVisible('#result')));
    }

    await page.click('#passkey-submit');
    const result = await resultOf(page);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(result.authn_contexts, [PASSKEY]);
    assert.deepEqual([...result.friendly_attributes.amr].sort(), ['mfa', 'pwd', 'swk', 'user']);
    const checked = xmlsecVerify(result.file, idp.signingCert, 'Response');
    assert.ok(checked.ok, checked.output);
  }
});
