// Passkeys (issue 18) against hand-made assertions, signed here with the credential's own
// key: an honest one first (so the refusals below are the server's checks, not a badly
// made assertion), then a wrong origin, no user verification, a counter that goes back,
// a replayed ceremony, another user's credential, and another tenant's.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { gotoLogin, openBrowser, submitPassword, screenshots, setPolicy, startServer, submit, text } from './harness.mjs';
import { craftAssertion, enrolledPasskeyUser, pageOptions, postAnswer, virtualAuthenticator } from './passkey-helpers.mjs';

const METHODS = ['cert+password', 'cert+passkey', 'cert+password+passkey', 'passkey'];

/** A certificate + passkey user, logged in once (which registered the passkey), logged out. */
async function userWithPasskey(t, server, loginId, snap) {
  const user = await enrolledPasskeyUser(t, server, loginId, 'cert+password+passkey', { snap });
  const { context, page } = await openBrowser(t, server, { certificate: user, locale: 'en-US' });
  const authenticator = await virtualAuthenticator(context, page);
  await gotoLogin(page, server);
  await submitPassword(page, user.loginId, user.password);
  await submit(page, '#passkey-submit');
  assert.ok(await page.isVisible('#logged-in'), `${loginId} set up a passkey: ${await text(page, 'main')}`);
  await submit(page, '#logout');
  // With a passkey registered, the operator may make it the certificate's only companion.
  server.cli('admin', 'user', 'update', '--tenant', 'demo', '--login-id', loginId, '--method', 'cert+passkey');
  const [credential] = await authenticator.credentials();
  return { user, page, credential };
}

async function refusedWith(page, status) {
  assert.ok(!(await page.isVisible('#logged-in')), 'not logged in');
  assert.ok((await page.$$('.problems li')).length > 0, `a problem is shown: ${await text(page, 'main')}`);
  assert.ok(await page.isVisible('#passkey-form'), 'the step is offered again');
  return status;
}

test('passkeys: the server refuses what a browser would never send', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  setPolicy(server, { allowed_login_methods: METHODS });
  const snap = screenshots('passkeys-hostile');
  const alice = await userWithPasskey(t, server, 'u-pk-alice', snap);
  const bob = await userWithPasskey(t, server, 'u-pk-bob', snap);
  const origin = new URL(server.mtls).origin;
  const page = alice.page;
  let counter = alice.credential.signCount + 100;

  const stepPage = async () => {
    await gotoLogin(page, server);
    const options = await pageOptions(page);
    const ceremony = await page.getAttribute('input[name=ceremony]', 'value');
    return { challenge: options.publicKey.challenge, ceremony };
  };

  // Honest, made here: accepted, so the assertions below differ only in what they break.
  let step = await stepPage();
  const honest = craftAssertion({ credential: alice.credential, challenge: step.challenge, origin, signCount: counter });
  const honestCeremony = step.ceremony;
  await postAnswer(page, honest);
  assert.ok(await page.isVisible('#logged-in'), `the hand-made honest assertion logs in: ${await text(page, 'main')}`);
  await submit(page, '#logout');

  // A phishing site's origin.
  step = await stepPage();
  counter += 1;
  await postAnswer(page, craftAssertion({ credential: alice.credential, challenge: step.challenge, origin: 'https://evil.example', signCount: counter }));
  await snap(page, 'wrong-origin');
  await refusedWith(page);

  // Another relying party ID (the key answered for another site).
  step = await stepPage();
  counter += 1;
  await postAnswer(page, craftAssertion({ credential: alice.credential, challenge: step.challenge, origin, rpId: 'evil.example', signCount: counter }));
  await refusedWith(page);

  // User present but not verified: the policy needs verification.
  step = await stepPage();
  counter += 1;
  await postAnswer(page, craftAssertion({ credential: alice.credential, challenge: step.challenge, origin, flags: 0x01, signCount: counter }));
  await snap(page, 'no-user-verification');
  await refusedWith(page);

  // The same ceremony twice: the honest answer again, with its own (spent) ceremony.
  await stepPage();
  await postAnswer(page, honest, { ceremony: honestCeremony });
  await snap(page, 'replayed');
  await refusedWith(page);

  // An old answer for a new challenge.
  await stepPage();
  await postAnswer(page, honest);
  await refusedWith(page);

  // A counter that goes back: a cloned authenticator.
  step = await stepPage();
  await postAnswer(page, craftAssertion({ credential: alice.credential, challenge: step.challenge, origin, signCount: counter - 50 }));
  await snap(page, 'counter-back');
  await refusedWith(page);
  assert.match(await text(page, '.problems'), /copy/i, 'the page says why');

  // Bob's credential at Alice's login, rightly signed by Bob's key.
  step = await stepPage();
  await postAnswer(page, craftAssertion({ credential: bob.credential, challenge: step.challenge, origin, signCount: 5000 }));
  await refusedWith(page);

  // A ceremony made up by the browser (not sealed by the server).
  step = await stepPage();
  counter += 1;
  await postAnswer(page, craftAssertion({ credential: alice.credential, challenge: step.challenge, origin, signCount: counter }), { ceremony: 'bm90IGEgY2VyZW1vbnk' });
  await refusedWith(page);

  // After all that, Alice's real passkey still works (nothing above spent it).
  step = await stepPage();
  counter += 1;
  await postAnswer(page, craftAssertion({ credential: alice.credential, challenge: step.challenge, origin, signCount: counter }));
  assert.ok(await page.isVisible('#logged-in'), `still logs in: ${await text(page, 'main')}`);

  // The history shows the refusals for what they were.
  await page.goto(`${server.mtls}/account/history`);
  const history = await text(page, 'main');
  assert.match(history, /Passkey refused \(possible copy\)/);
  assert.match(history, /Passkey not verified/);
});

test('passkeys: a discoverable passkey of one tenant logs in nobody at another', { timeout: 180_000 }, async (t) => {
  const server = await startServer(t);
  setPolicy(server, { allowed_login_methods: METHODS });
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  setPolicy(server, { allowed_login_methods: ['passkey', 'cert+password'], default_login_method: 'passkey' }, 'other');
  const snap = screenshots('passkeys-tenants');
  const alice = await userWithPasskey(t, server, 'u-pk-tenant', snap);
  server.cli('admin', 'user', 'update', '--tenant', 'demo', '--login-id', 'u-pk-tenant', '--method', 'passkey');

  const fresh = await openBrowser(t, server, { locale: 'en-US' });
  const page = fresh.page;
  const discover = async (tenant) => {
    await page.goto(`${server.main}/login?tenant=${tenant}`);
    assert.ok(await page.isVisible('#passkey-form'), `offered at ${tenant}: ${await text(page, 'main')}`);
    return (await pageOptions(page)).publicKey.challenge;
  };
  const origin = (url) => new URL(url).origin;

  // At the other tenant: refused, one answer for every cause.
  let challenge = await discover('other');
  let answer = craftAssertion({ credential: alice.credential, challenge, origin: origin(page.url()), signCount: 9000 });
  await postAnswer(page, answer);
  await snap(page, 'other-tenant');
  assert.ok(!(await page.isVisible('#logged-in')), `not logged in at another tenant: ${await text(page, 'main')}`);
  assert.equal(await text(page, '.error-message'), 'No login with that passkey here. Log in the way your account is set up.');

  // A user handle naming someone else: refused.
  challenge = await discover('demo');
  answer = craftAssertion({ credential: alice.credential, challenge, origin: origin(page.url()), signCount: 9001, userHandle: Buffer.alloc(16, 7).toString('base64url') });
  await postAnswer(page, answer);
  assert.ok(!(await page.isVisible('#logged-in')), 'a user handle that is not the credential owner\'s is refused');

  // At its own tenant: logged in.
  challenge = await discover('demo');
  answer = craftAssertion({ credential: alice.credential, challenge, origin: origin(page.url()), signCount: 9002 });
  await postAnswer(page, answer);
  assert.ok(await page.isVisible('#logged-in'), `logged in at its tenant: ${await text(page, 'main')}`);
  const counter = () => server.cliJson('admin', 'user', 'passkeys', '--tenant', 'demo', '--login-id', 'u-pk-tenant')[0].sign_count;
  assert.equal(counter(), 9002);
  await submit(page, '#logout');

  // A disabled user's passkey, honestly signed: refused, and its counter stays where it
  // was (a refused login records nothing on the passkey).
  server.admin('set-status', 'u-pk-tenant', '--status', 'disabled');
  challenge = await discover('demo');
  answer = craftAssertion({ credential: alice.credential, challenge, origin: origin(page.url()), signCount: 9500 });
  await postAnswer(page, answer);
  assert.ok(!(await page.isVisible('#logged-in')), `a disabled user is not logged in: ${await text(page, 'main')}`);
  assert.equal(counter(), 9002, 'the refused login did not move the counter');
  // Enabled again, a counter below the refused one's but above the last login's works.
  server.admin('set-status', 'u-pk-tenant', '--status', 'active');
  challenge = await discover('demo');
  answer = craftAssertion({ credential: alice.credential, challenge, origin: origin(page.url()), signCount: 9100 });
  await postAnswer(page, answer);
  assert.ok(await page.isVisible('#logged-in'), `logged in again: ${await text(page, 'main')}`);
  assert.equal(counter(), 9100);
});
