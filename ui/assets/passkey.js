// Passkey ceremonies for Mamori's pages. A form marked data-passkey="create" or "get"
// carries the server's options (WebAuthn JSON, in the element its data-options names);
// submitting it runs the browser's ceremony and posts the result as JSON in the hidden
// field "credential". A form with data-conditional also offers the passkeys the browser
// holds in the ID field's autofill (conditional mediation) where the browser can.
// Without JavaScript or WebAuthn the page says so instead of failing silently.
(function () {
  'use strict';

  function toBuffer(text) {
    var b64 = text.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) b64 += '=';
    var bin = atob(b64);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function creationOptions(options) {
    var pk = options.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    pk.user.id = toBuffer(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return { publicKey: pk };
  }

  function requestOptions(options) {
    var pk = options.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return { publicKey: pk };
  }

  function created(c) {
    return {
      id: c.id,
      rawId: toText(c.rawId),
      type: c.type,
      response: {
        attestationObject: toText(c.response.attestationObject),
        clientDataJSON: toText(c.response.clientDataJSON),
        transports: c.response.getTransports ? c.response.getTransports() : []
      },
      extensions: c.getClientExtensionResults()
    };
  }

  function asserted(c) {
    return {
      id: c.id,
      rawId: toText(c.rawId),
      type: c.type,
      response: {
        authenticatorData: toText(c.response.authenticatorData),
        clientDataJSON: toText(c.response.clientDataJSON),
        signature: toText(c.response.signature),
        userHandle: c.response.userHandle ? toText(c.response.userHandle) : null
      },
      extensions: c.getClientExtensionResults()
    };
  }

  function show(form, which) {
    form.querySelectorAll('[data-passkey-status]').forEach(function (el) {
      el.hidden = el.getAttribute('data-passkey-status') !== which;
    });
  }

  function send(form, json) {
    form.elements.credential.value = JSON.stringify(json);
    HTMLFormElement.prototype.submit.call(form);
  }

  function wire(form) {
    var source = document.getElementById(form.getAttribute('data-options'));
    if (!source) return;
    if (!window.PublicKeyCredential || !navigator.credentials) {
      show(form, 'unsupported');
      form.querySelectorAll('button').forEach(function (b) { b.disabled = true; });
      return;
    }
    var kind = form.getAttribute('data-passkey');
    var options = function () { return JSON.parse(source.textContent); };
    var pending = null;

    if (kind === 'get' && form.hasAttribute('data-conditional') && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) return;
        pending = new AbortController();
        var request = requestOptions(options());
        request.mediation = 'conditional';
        request.signal = pending.signal;
        navigator.credentials.get(request).then(function (c) { if (c) send(form, asserted(c)); }, function () {});
      });
    }

    form.addEventListener('submit', function (event) {
      if (form.elements.credential.value) return;
      event.preventDefault();
      if (pending) pending.abort();
      show(form, 'working');
      var ceremony = kind === 'create'
        ? navigator.credentials.create(creationOptions(options())).then(created)
        : navigator.credentials.get(requestOptions(options())).then(asserted);
      ceremony.then(function (json) { send(form, json); }, function () { show(form, 'failed'); });
    });
  }

  document.querySelectorAll('form[data-passkey]').forEach(wire);
})();
