"""Inputs checked once, at the door, against the real binary: each rule is refused alike
by the API and the CLI (and the CSV import where it takes the field), the honest value
next to each hostile one.

- Tenant display names (shown to users and written into certificate names) follow the
  users' display-name rule: no bidirectional override, zero-width or invisible character.
- E-mail domains are hostnames (LDH labels): `acme_x.test` or `acme.test%0a` would be
  mailed as typed.
- RSA keys in a client's inline `jwks` are 2048 to 8192 bits with an odd exponent from 3
  to 2^33-1: a larger key could never verify, and only costs CPU.

Run by scripts/test with conformance-tests/.venv/bin/pytest.
"""

import base64
import json
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
