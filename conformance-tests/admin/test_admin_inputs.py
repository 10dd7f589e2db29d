"""Inputs checked once, at the door, against the real binary: each rule is refused alike
by the API and the CLI (and the CSV import where it takes the field), the honest value
next to each hostile one.

- Tenant display names (shown to users and written into certificate names) follow the
  users' display-name rule: no bidirectional override, zero-width or invisible character.
- E-mail domains are hostnames (LDH labels): `acme_x.test` or `acme.test%0a` would be
  mailed as typed.
- User IDs and display names follow the PRECIS/TR 39 profile (README): no default-ignorable
  (U+FE0F, U+17B4), fullwidth, decomposed, slash look-alike or mixed-script look-alike
  (Cyrillic in `rооt-admin`); user IDs are unique ignoring case.
- RSA keys in a client's inline `jwks` are 2048 to 8192 bits with an odd exponent from 3
  to 2^33-1: a larger key could never verify, and only costs CPU.
- SAML SP metadata holds at most 20 AssertionConsumerService and 20 SingleLogoutService
  endpoints and 4 signing certificates, whether uploaded (API, CLI) or fetched by URL.

Run by scripts/test with conformance-tests/.venv/bin/pytest.
"""

import base64
import http.server
import json
import subprocess
import threading
import uuid

import pytest
import requests

from test_admin_api import Server, is_problem


@pytest.fixture(scope="module")
def server():
    s = Server()
    s.cli("admin", "tenant", "create", "--slug", "acme", "--name", "Acme")
    s.super_token = s.token("--super-admin")
    s.acme_token = s.token("--tenant", "acme")
    yield s
    s.stop()


def fresh_slug():
    return f"t-{uuid.uuid4().hex[:8]}"


BAD_TENANT_NAMES = ["\u202eemcA", "Acme\u200b", "Ac\u2066me\u2069", "Acme\u00a0Corp", "Acme\u0007", "\ufeffAcme"]


@pytest.mark.parametrize("name", BAD_TENANT_NAMES, ids=[f"U+{ord(next(c for c in n if not c.isalpha())):04X}" for n in BAD_TENANT_NAMES])
def test_tenant_names_refuse_invisible_and_bidi_characters(server, name):
    slug = fresh_slug()
    problem = is_problem(server.call("POST", "/tenants", token=server.super_token, json={"slug": slug, "display_name": name}), 422)
    assert problem["detail"].startswith("display_name:"), problem
    is_problem(server.call("GET", f"/tenants/{slug}", token=server.super_token), 404)
    out = server.cli("admin", "tenant", "create", "--slug", slug, "--name", name, check=False)
    assert out.returncode != 0 and "display_name:" in out.stderr, out.stdout + out.stderr
    is_problem(server.call("GET", f"/tenants/{slug}", token=server.super_token), 404)
    # The honest name is taken, and renaming it to the hostile one is refused everywhere.
    created = server.call("POST", "/tenants", token=server.super_token, json={"slug": slug, "display_name": "Acme 株式会社"})
    assert created.status_code == 201, created.text
    is_problem(server.call("PATCH", f"/tenants/{slug}", token=server.super_token, json={"display_name": name}), 422)
    out = server.cli("admin", "tenant", "update", "--tenant", slug, "--name", name, check=False)
    assert out.returncode != 0 and "display_name:" in out.stderr, out.stdout + out.stderr
    assert server.call("GET", f"/tenants/{slug}", token=server.super_token).json()["display_name"] == "Acme 株式会社"


def test_the_cli_creates_tenants_by_the_api_rules(server):
    """The CLI's `tenant create` once wrote straight to the database, slug unchecked."""
    for slug in ("Acme", "-acme", "ac/me", "ac.me"):
        out = server.cli("admin", "tenant", "create", f"--slug={slug}", "--name", "Acme", check=False)
        assert out.returncode != 0 and "slug:" in out.stderr, out.stdout + out.stderr
    slug = fresh_slug()
    created = server.cli_json("admin", "tenant", "create", "--slug", slug, "--name", "山田商店")
    assert created["slug"] == slug and created["display_name"] == "山田商店", created
    renamed = server.cli_json("admin", "tenant", "update", "--tenant", slug, "--name", "Yamada Shoten")
    assert renamed["display_name"] == "Yamada Shoten", renamed


BAD_DOMAINS = ["acme_x.test", "acme.test%0a", "acme.test%0d%0aBcc:x", "acme..test", "-acme.test", "acme.test:25", "10.0.0.1"]


@pytest.mark.parametrize("domain", BAD_DOMAINS)
def test_email_domains_must_be_hostnames(server, domain):
    login_id = f"e-{uuid.uuid4().hex[:8]}"
    email = f"{login_id}@{domain}"
    problem = is_problem(server.call("POST", "/tenants/acme/users", token=server.acme_token, json={"login_id": login_id, "email": email}), 422)
    assert problem["detail"].startswith("email:"), problem
    out = server.cli("admin", "user", "create", "--tenant", "acme", "--login-id", login_id, "--email", email, check=False)
    assert out.returncode != 0 and "--email" in out.stderr, out.stdout + out.stderr
    csv = f"login_id,email\n{login_id},{email}\n{login_id}-ok,{login_id}@mail-1.acme.test\n"
    report = server.call("POST", "/tenants/acme/users/import", token=server.acme_token, data=csv.encode(), headers={"Content-Type": "text/csv"}).json()
    assert report["created"] == [f"{login_id}-ok"] and [f["line"] for f in report["failed"]] == [2], report
    assert report["failed"][0]["reason"].startswith("email:"), report
    is_problem(server.call("GET", f"/tenants/acme/users/{login_id}", token=server.acme_token), 404)
    # The honest twin: a hostname with a hyphen and a digit, and an IDN in its A-label form.
    for ok in (f"{login_id}@mail-1.acme.test", f"{login_id}@xn--r8jz45g.jp"):
        created = server.call("POST", "/tenants/acme/users", token=server.acme_token, json={"login_id": f"{login_id}-{len(ok)}", "email": ok})
        assert created.status_code == 201, created.text


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rsa_jwk(bits, e=65537):
    """A public RSA JWK of a modulus of exactly `bits` bits (never used to sign: the
    registration judges its size and exponent)."""
    n = bytearray(b"\x5a" * ((bits + 7) // 8))
    n[0] = 1 << ((bits - 1) % 8)
    n[-1] |= 1
    return {"kty": "RSA", "kid": f"k{bits}", "n": b64(bytes(n)), "e": b64(e.to_bytes((e.bit_length() + 7) // 8, "big"))}


BAD_KEYS = {"8200-bit": rsa_jwk(8200), "16384-bit": rsa_jwk(16384), "1024-bit": rsa_jwk(1024), "e=1": rsa_jwk(2048, 1), "e=2^33+1": rsa_jwk(2048, 2**33 + 1), "even e": rsa_jwk(2048, 65536)}


def register_dynamically(server, jwks):
    token = server.cli_json("admin", "oidc-client", "initial-access-token", "--tenant", "acme")["initial_access_token"]
    metadata = {"client_name": "Keyed", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks}
    return requests.post(f"{server.main}/t/acme/register", json=metadata, headers={"Authorization": f"Bearer {token}"}, verify=server.dev_root, timeout=30)


@pytest.mark.parametrize("label", list(BAD_KEYS))
def test_rsa_keys_that_could_never_verify_are_refused_on_every_surface(server, label):
    bad, good = {"keys": [rsa_jwk(2048), BAD_KEYS[label]]}, {"keys": [rsa_jwk(2048), rsa_jwk(8192)]}
    body = {"name": "Keyed", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt"}
    problem = is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=server.acme_token, json={**body, "jwks": bad}), 422)
    assert "jwks: key 2" in problem["detail"], problem
    created = server.call("POST", "/tenants/acme/oidc-clients", token=server.acme_token, json={**body, "jwks": good})
    assert created.status_code == 201, created.text
    cid = created.json()["client"]["client_id"]
    is_problem(server.call("PATCH", f"/tenants/acme/oidc-clients/{cid}", token=server.acme_token, json={"jwks": bad}), 422)
    # The CLI, with the same set from a file.
    path = server.data / f"jwks-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(bad))
    out = server.cli("admin", "oidc-client", "create", "--tenant", "acme", "--name", "Keyed", "--grant-type", "client_credentials", "--auth-method", "private_key_jwt", "--jwks-file", str(path), check=False)
    assert out.returncode != 0 and "jwks: key 2" in out.stderr, out.stdout + out.stderr
    path.write_text(json.dumps(good))
    out = server.cli("admin", "oidc-client", "create", "--tenant", "acme", "--name", "Keyed", "--grant-type", "client_credentials", "--auth-method", "private_key_jwt", "--jwks-file", str(path), check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    # Dynamic registration (RFC 7591): invalid_client_metadata.
    refused = register_dynamically(server, bad)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client_metadata", refused.text
    registered = register_dynamically(server, good)
    assert registered.status_code == 201, registered.text


# Each a look-alike of `root-admin` (or of a path) that the profile refuses.
LOOK_ALIKE_IDS = {
    "Cyrillic o": "r\u043e\u043et-admin",
    "fullwidth r": "\uff52oot-admin",
    "decomposed n-acute": "root-admin\u0301",
    "U+FE0F": "root-admin\ufe0f",
    "U+17B4": "root\u17b4-admin",
    "U+FF0F": "root\uff0fadmin",
    "U+2215": "root\u2215admin",
    "U+29F8": "root\u29f8admin",
    "Greek alpha": "root-\u03b1dmin",
}


@pytest.mark.parametrize("label", list(LOOK_ALIKE_IDS))
def test_look_alike_login_ids_are_refused_on_every_surface(server, label):
    login_id = LOOK_ALIKE_IDS[label]
    problem = is_problem(server.call("POST", "/tenants/acme/users", token=server.acme_token, json={"login_id": login_id, "email": "x@acme.test"}), 422)
    assert problem["detail"].startswith("login_id:"), problem
    out = server.cli("admin", "user", "create", "--tenant", "acme", "--login-id", login_id, "--email", "x@acme.test", check=False)
    assert out.returncode != 0 and "--login-id" in out.stderr, out.stdout + out.stderr
    csv = f"login_id,email\n{login_id},x@acme.test\n"
    report = server.call("POST", "/tenants/acme/users/import", token=server.acme_token, data=csv.encode(), headers={"Content-Type": "text/csv; charset=utf-8"}).json()
    assert report["created"] == [] and report["failed"][0]["reason"].startswith("login_id:"), report
    listed = server.call("GET", "/tenants/acme/users", token=server.acme_token, params={"limit": 500}).json()["items"]
    assert login_id not in [u["login_id"] for u in listed]


def test_honest_login_ids_pass_and_case_only_twins_are_refused(server):
    """The honest twins: ASCII, Japanese mixing Han, Hiragana and Katakana, a precomposed
    accent, a Cyrillic name in Cyrillic only. A second ID that differs only in case is a
    conflict on every surface, and the first keeps its spelling."""
    for honest in ("root-admin", "山田たろう", "ヤマダ-01", "root-admi\u0144", "\u0438\u0432\u0430\u043d"):
        created = server.call("POST", "/tenants/acme/users", token=server.acme_token, json={"login_id": honest, "email": "x@acme.test"})
        assert created.status_code == 201, (honest, created.text)
    for twin in ("ROOT-ADMIN", "Root-Admin", "ROOT-ADMI\u0143", "\u0418\u0412\u0410\u041d"):
        is_problem(server.call("POST", "/tenants/acme/users", token=server.acme_token, json={"login_id": twin, "email": "x@acme.test"}), 409)
        out = server.cli("admin", "user", "create", "--tenant", "acme", "--login-id", twin, "--email", "x@acme.test", check=False)
        assert out.returncode != 0, out.stdout + out.stderr
        report = server.call("POST", "/tenants/acme/users/import", token=server.acme_token, data=f"login_id,email\n{twin},x@acme.test\n".encode(), headers={"Content-Type": "text/csv; charset=utf-8"}).json()
        assert report["created"] == [] and len(report["failed"]) == 1, report
        is_problem(server.call("GET", f"/tenants/acme/users/{twin}", token=server.acme_token), 404)
    assert server.call("GET", "/tenants/acme/users/root-admin", token=server.acme_token).json()["login_id"] == "root-admin"
    # Another tenant may hold the same ID in any case.
    assert server.call("POST", "/tenants", token=server.super_token, json={"slug": "other", "display_name": "Other"}).status_code == 201
    assert server.call("POST", "/tenants/other/users", token=server.super_token, json={"login_id": "ROOT-ADMIN", "email": "x@other.test"}).status_code == 201


LOOK_ALIKE_NAMES = {
    "Cyrillic o": "R\u043e\u043et Admin",
    "fullwidth R": "\uff32oot Admin",
    "decomposed e-diaeresis": "Zoe\u0308",
    "U+FE0F": "\u2764\ufe0f fan",
    "U+17B4": "Taro\u17b4",
    "U+2215": "Sales \u2215 Tokyo",
    "U+29F8": "Sales \u29f8 Tokyo",
    "U+FF0F": "Sales \uff0f Tokyo",
    "halfwidth katakana": "\uff80\uff9b\uff73",
}


@pytest.mark.parametrize("label", list(LOOK_ALIKE_NAMES))
def test_look_alike_display_names_are_refused_on_every_surface(server, label):
    name = LOOK_ALIKE_NAMES[label]
    login_id = f"n-{uuid.uuid4().hex[:8]}"
    body = {"login_id": login_id, "email": f"{login_id}@acme.test"}
    problem = is_problem(server.call("POST", "/tenants/acme/users", token=server.acme_token, json={**body, "display_name": name}), 422)
    assert problem["detail"].startswith("display_name:"), problem
    honest = "山田\u3000タロウ"
    assert server.call("POST", "/tenants/acme/users", token=server.acme_token, json={**body, "display_name": honest}).status_code == 201
    is_problem(server.call("PATCH", f"/tenants/acme/users/{login_id}", token=server.acme_token, json={"display_name": name}), 422)
    out = server.cli("admin", "user", "update", "--tenant", "acme", "--login-id", login_id, "--display-name", name, check=False)
    assert out.returncode != 0 and "display_name:" in out.stderr, out.stdout + out.stderr
    assert server.call("GET", f"/tenants/acme/users/{login_id}", token=server.acme_token).json()["display_name"] == honest
    # The tenant's own name, which goes into certificate names, follows the same rule.
    is_problem(server.call("POST", "/tenants", token=server.super_token, json={"slug": fresh_slug(), "display_name": name}), 422)
    for fine in ("Zo\u00eb O'Brien-Smith", "Taro 山田", "\u2764 fan", "Sales / Tokyo", "\u0418\u0432\u0430\u043d \u041f\u0435\u0442\u0440\u043e\u0432"):
        assert server.call("PATCH", f"/tenants/acme/users/{login_id}", token=server.acme_token, json={"display_name": fine}).status_code == 200, fine


def self_signed_certificate(workdir, i):
    """A fresh P-256 certificate (base64 DER) made by openssl."""
    key, der = workdir / f"sp{i}.key", workdir / f"sp{i}.der"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
                    "-subj", f"/CN=sp{i}.example", "-days", "30", "-outform", "DER", "-out", str(der)], check=True, capture_output=True)
    return base64.b64encode(der.read_bytes()).decode()


def sp_metadata(entity, acs=1, slo=0, certificates=()):
    keys = "".join(
        f'<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
        for c in certificates)
    slos = "".join(f'<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://{entity}/slo{i}"/>' for i in range(slo))
    acss = "".join(f'<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{entity}/acs{i}" index="{i}"/>' for i in range(acs))
    return (f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://{entity}/metadata">'
            f'<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}{slos}{acss}</md:SPSSODescriptor></md:EntityDescriptor>')


@pytest.fixture(scope="module")
def certificates(server):
    return [self_signed_certificate(server.data, i) for i in range(5)]


def oversized(certificates):
    return {
        "21 ACS": ({"acs": 21}, "AssertionConsumerService"),
        "1700 ACS": ({"acs": 1700}, "AssertionConsumerService"),
        "21 SLO": ({"slo": 21}, "SingleLogoutService"),
        "5 signing keys": ({"certificates": certificates[:5]}, "signing certificates"),
    }


class MetadataServer:
    """Serves one metadata document over http on 127.0.0.1, as an SP publishes it."""

    def __init__(self, body):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/metadata.xml"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("label", ["21 ACS", "1700 ACS", "21 SLO", "5 signing keys"])
def test_sp_metadata_over_the_caps_is_refused_on_every_surface(server, certificates, label):
    shape, what = oversized(certificates)[label]
    entity = f"sp-{uuid.uuid4().hex[:8]}.acme.test"
    xml = sp_metadata(entity, **{"acs": 1, **shape})
    for response in (
        server.call("POST", "/tenants/acme/saml-sps", token=server.acme_token, json={"metadata": xml}),
        server.call("POST", "/tenants/acme/saml-sps", token=server.acme_token, data=xml.encode(), headers={"Content-Type": "application/samlmetadata+xml"}),
    ):
        problem = is_problem(response, 422)
        assert "more than" in problem["detail"] and what in problem["detail"], problem
    path = server.data / f"{entity}.xml"
    path.write_text(xml)
    out = server.cli("admin", "saml-sp", "add", "--tenant", "acme", "--metadata", str(path), check=False)
    assert out.returncode != 0 and what in out.stderr, out.stdout + out.stderr
    with MetadataServer(xml.encode()) as published:
        out = server.cli("admin", "saml-sp", "add", "--tenant", "acme", "--metadata", published.url, check=False)
    assert out.returncode != 0 and what in out.stderr, out.stdout + out.stderr
    listed = server.call("GET", "/tenants/acme/saml-sps", token=server.acme_token).json()
    assert f"https://{entity}/metadata" not in [sp["entity_id"] for sp in listed]


def test_sp_metadata_at_the_caps_is_registered(server, certificates):
    """The honest twin: 20 ACS, 20 SLO and 4 signing keys, through the API, a file and a URL."""
    for surface in ("api", "file", "url"):
        entity = f"sp-{surface}-{uuid.uuid4().hex[:6]}.acme.test"
        xml = sp_metadata(entity, acs=20, slo=20, certificates=certificates[:4])
        if surface == "api":
            created = server.call("POST", "/tenants/acme/saml-sps", token=server.acme_token, json={"metadata": xml})
            assert created.status_code == 201, created.text
            assert len(created.json()["acs_urls"]) == 20, created.json()
        elif surface == "file":
            path = server.data / f"{entity}.xml"
            path.write_text(xml)
            server.cli("admin", "saml-sp", "add", "--tenant", "acme", "--metadata", str(path))
        else:
            with MetadataServer(xml.encode()) as published:
                server.cli("admin", "saml-sp", "add", "--tenant", "acme", "--metadata", published.url)
        listed = server.call("GET", "/tenants/acme/saml-sps", token=server.acme_token).json()
        assert f"https://{entity}/metadata" in [sp["entity_id"] for sp in listed], surface
