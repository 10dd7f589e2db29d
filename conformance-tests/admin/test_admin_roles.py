"""Roles cannot be climbed, against the real binary: every action that changes a user or
hands out its credentials, by a super-admin's and a tenant admin's API token, on a
super-admin, a tenant admin and a plain user of the same tenant. A tenant admin acting
on a super-admin gets 403 problem+json, the account is unchanged, no credential leaks
and the audit trail holds the attempt; every other cell of the matrix works.

And the fields an operator types are checked by the mailer's own rules: an address the
mailer could not send to, and user IDs or display names with invisible or
bidirectional characters, are refused by the API, the CSV import and the CLI.

Run by scripts/test with conformance-tests/.venv/bin/pytest.
"""

import uuid

import pytest

from test_admin_api import Server, is_problem


@pytest.fixture(scope="module")
def server():
    s = Server()
    s.cli("admin", "tenant", "create", "--slug", "acme", "--name", "Acme")
    s.super_token = s.token("--super-admin")
    acme = s.cli_json("admin", "api-token", "create", "--tenant", "acme", "--scope", "read,write", "--expires-in", "1d")
    s.acme_token, s.acme_token_id = acme["token"], acme["id"]
    yield s
    s.stop()


def make_target(server, kind):
    """A fresh user of acme with a certificate, holding `kind`'s operator role."""
    login_id = f"{kind}-{uuid.uuid4().hex[:8]}"
    server.cli("admin", "user", "create", "--tenant", "acme", "--login-id", login_id, "--email", f"{login_id}@acme.test")
    pw = server.data / f"{login_id}.pw"
    pw.write_text("p12-password")
    server.cli("admin", "user", "issue-cert", "--tenant", "acme", "--login-id", login_id, "--p12", str(server.data / f"{login_id}.p12"), "--password-file", str(pw))
    if kind != "plain":
        server.cli("admin", "operator", "grant", "--tenant", "acme", "--login-id", login_id, "--role", kind)
    return login_id


def serial_of(server, login_id):
    certs = server.call("GET", f"/tenants/acme/users/{login_id}/certificates", token=server.super_token).json()
    return certs[0]["serial"]


# Each action in an order that lets all of them succeed on one account (the enrollment
# ticket before the disable, the delete last), with the status it answers when allowed.
ACTIONS = [
    ("user.update", "PATCH", "", {"json": {"login_method": "cert"}}, 200),
    ("user.update", "PATCH", "", {"json": {"display_name": "Renamed"}}, 200),
    ("user.force-password-change", "POST", "/force-password-change", {}, 200),
    ("user.unlock", "POST", "/unlock", {}, 200),
    ("user.enrollment-ticket", "POST", "/enrollment-ticket", {}, 201),
    # Not enrolled yet: allowed through the role check, then refused for that reason.
    ("user.reissue-certificate", "POST", "/reissue-certificate", {"json": {}}, 409),
    ("user.disable", "POST", "/disable", {}, 200),
    ("user.enable", "POST", "/enable", {}, 200),
    ("certificate.revoke", "POST", None, {"json": {"reason": "key-compromise"}}, 200),
    ("user.delete", "DELETE", "", {}, 204),
]

# (principal, target, allowed): only a wider target is refused.
MATRIX = [
    ("super-admin", "super-admin", True),
    ("super-admin", "tenant-admin", True),
    ("super-admin", "plain", True),
    ("tenant-admin", "super-admin", False),
    ("tenant-admin", "tenant-admin", True),
    ("tenant-admin", "plain", True),
]


def path_of(server, login_id, suffix):
    if suffix is None:
        return f"/tenants/acme/certificates/{serial_of(server, login_id)}/revoke"
    return f"/tenants/acme/users/{login_id}{suffix}"


@pytest.mark.parametrize("principal,target,allowed", MATRIX, ids=[f"{p}-on-{t}" for p, t, _ in MATRIX])
def test_roles_cannot_be_climbed(server, principal, target, allowed):
    token = server.super_token if principal == "super-admin" else server.acme_token
    login_id = make_target(server, target)
    before = server.call("GET", f"/tenants/acme/users/{login_id}", token=server.super_token).json()
    for action, method, suffix, body, ok_status in ACTIONS:
        response = server.call(method, path_of(server, login_id, suffix), token=token, **body)
        if allowed:
            assert response.status_code == ok_status, f"{principal} {action} on {target}: {response.status_code} {response.text}"
        else:
            problem = is_problem(response, 403)
            assert problem["type"].endswith("/wider-role") and "wider" in problem["detail"], problem
            assert "one_time_password" not in response.text and "/enroll/" not in response.text
    if allowed:
        is_problem(server.call("GET", f"/tenants/acme/users/{login_id}", token=server.super_token), 404)
        return
    # Nothing changed: same account, still active, its certificate still good.
    after = server.call("GET", f"/tenants/acme/users/{login_id}", token=server.super_token).json()
    assert after == before, (before, after)
    certs = server.call("GET", f"/tenants/acme/users/{login_id}/certificates", token=server.super_token).json()
    assert [c["status"] for c in certs] == ["active"], certs
    # The audit trail holds each attempt as a failure, by this token, from this address.
    trail = server.call("GET", "/tenants/acme/audit-events", token=server.super_token, params={"target": f"user:{login_id}", "limit": 100}).json()["items"]
    refused = [e for e in trail if e["outcome"] == "failure"]
    expected = sorted(a for a, *_ in ACTIONS)
    assert sorted(e["action"] for e in refused) == expected, trail
    for event in refused:
        assert event["actor"] == f"token:{server.acme_token_id}" and event["source_ip"] == "127.0.0.1", event
        assert event["details"]["reason"] == "target-holds-wider-role" and event["details"]["target_roles"] == ["super-admin"], event
    assert not [e for e in trail if e["outcome"] == "success" and e["actor"].startswith("token:")], trail


def test_a_tenant_admin_still_reads_a_super_admin(server):
    """The rule is about acting, not seeing: the user list and the user's page stay."""
    login_id = make_target(server, "super-admin")
    assert server.call("GET", f"/tenants/acme/users/{login_id}", token=server.acme_token).status_code == 200
    assert server.call("GET", f"/tenants/acme/users/{login_id}/devices", token=server.acme_token).status_code == 200


BAD_EMAILS = ['a"b<c>@acme.test', "Taro <taro@acme.test>", "taro@localhost", "たろう@acme.test", "a,b@acme.test"]
BAD_LOGIN_IDS = ["admin\u202e", "ad\u200bmin", "\ufeffadmin", "admin\u2066x\u2069", "admin\u0007"]
BAD_DISPLAY_NAMES = ["Taro\u202eYamada", "Ta\u200bro", "Taro\u00a0Yamada", "Taro\u2028Yamada"]


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_addresses_the_mailer_cannot_use_are_refused(server, email):
    body = {"login_id": f"m-{uuid.uuid4().hex[:8]}", "email": email}
    problem = is_problem(server.call("POST", "/tenants/acme/users", token=server.acme_token, json=body), 422)
    assert problem["detail"].startswith("email:"), problem
    is_problem(server.call("GET", f"/tenants/acme/users/{body['login_id']}", token=server.acme_token), 404)
    out = server.cli("admin", "user", "create", "--tenant", "acme", "--login-id", body["login_id"], "--email", email, check=False)
    assert out.returncode != 0 and "--email" in out.stderr, out.stderr
    is_problem(server.call("GET", f"/tenants/acme/users/{body['login_id']}", token=server.acme_token), 404)


def test_an_accepted_address_gets_its_mail(server):
    """The honest twin: a plain address is created and its enrollment goes out."""
    login_id = f"m-{uuid.uuid4().hex[:8]}"
    created = server.call("POST", "/tenants/acme/users", token=server.acme_token, json={"login_id": login_id, "email": f"{login_id}+tag@acme.test"})
    assert created.status_code == 201, created.text
    devices = server.call("GET", f"/tenants/acme/users/{login_id}/devices", token=server.acme_token).json()
    assert [d["email"] for d in devices] == [f"{login_id}+tag@acme.test"]


def test_csv_import_uses_the_same_rules(server):
    good = f"c-{uuid.uuid4().hex[:8]}"
    rows = [f"{good},{good}@acme.test,Good Name", 'bad1,"a""b<c>@acme.test",X', "bad\u202e2,b2@acme.test,X", "bad3,b3@acme.test,Ta\u200bro"]
    text = "login_id,email,display_name\n" + "\n".join(rows) + "\n"
    report = server.call("POST", "/tenants/acme/users/import", token=server.acme_token, data=text.encode(), headers={"Content-Type": "text/csv; charset=utf-8"})
    assert report.status_code == 200, report.text
    report = report.json()
    assert report["created"] == [good], report
    reasons = {f["line"]: f["reason"] for f in report["failed"]}
    assert sorted(reasons) == [3, 4, 5], report
    assert reasons[3].startswith("email:") and reasons[4].startswith("login_id:") and reasons[5].startswith("display_name:"), reasons


@pytest.mark.parametrize("login_id", BAD_LOGIN_IDS, ids=[f"U+{ord(next(c for c in i if not c.isalnum() or ord(c) > 127)):04X}" for i in BAD_LOGIN_IDS])
def test_invisible_characters_in_login_ids_are_refused(server, login_id):
    is_problem(server.call("POST", "/tenants/acme/users", token=server.acme_token, json={"login_id": login_id, "email": "x@acme.test"}), 422)
    out = server.cli("admin", "user", "create", "--tenant", "acme", "--login-id", login_id, "--email", "x@acme.test", check=False)
    assert out.returncode != 0 and "--login-id" in out.stderr, out.stderr
    listed = server.call("GET", "/tenants/acme/users", token=server.acme_token, params={"limit": 500}).json()["items"]
    assert login_id not in [u["login_id"] for u in listed]


@pytest.mark.parametrize("name", BAD_DISPLAY_NAMES, ids=[f"U+{ord(next(c for c in n if not c.isalpha())):04X}" for n in BAD_DISPLAY_NAMES])
def test_invisible_characters_in_display_names_are_refused(server, name):
    login_id = f"d-{uuid.uuid4().hex[:8]}"
    is_problem(server.call("POST", "/tenants/acme/users", token=server.acme_token, json={"login_id": login_id, "email": f"{login_id}@acme.test", "display_name": name}), 422)
    assert server.call("POST", "/tenants/acme/users", token=server.acme_token, json={"login_id": login_id, "email": f"{login_id}@acme.test", "display_name": "山田\u3000太郎"}).status_code == 201
    is_problem(server.call("PATCH", f"/tenants/acme/users/{login_id}", token=server.acme_token, json={"display_name": name}), 422)
    assert server.call("GET", f"/tenants/acme/users/{login_id}", token=server.acme_token).json()["display_name"] == "山田\u3000太郎"
    out = server.cli("admin", "user", "update", "--tenant", "acme", "--login-id", login_id, "--display-name", name, check=False)
    assert out.returncode != 0 and "display_name:" in out.stderr, out.stdout + out.stderr
    out = server.cli("admin", "user", "create", "--tenant", "acme", "--login-id", login_id + "x", "--email", "y@acme.test", "--display-name", name, check=False)
    assert out.returncode != 0 and "--display-name" in out.stderr, out.stderr


def refused_events(server):
    return server.call("GET", "/audit-events", token=server.super_token, params={"action": "api.refused", "limit": 500}).json()["items"]


def test_refused_calls_leave_a_trace_with_the_token_id(server):
    server.cli("admin", "tenant", "create", "--slug", "beta", "--name", "Beta")
    server.cli("admin", "user", "create", "--tenant", "beta", "--login-id", "beta-user", "--email", "user@beta.test")
    reader = server.cli_json("admin", "api-token", "create", "--tenant", "acme", "--scope", "read", "--expires-in", "1d")
    plain = make_target(server, "plain")
    # Allowed calls leave no refusal.
    assert server.call("GET", f"/tenants/acme/users/{plain}", token=server.acme_token).status_code == 200
    assert not [e for e in refused_events(server) if plain in e["target"]]
    # Another tenant's object (404), a missing scope (403).
    is_problem(server.call("GET", "/tenants/beta/users/beta-user", token=server.acme_token), 404)
    is_problem(server.call("POST", f"/tenants/acme/users/{plain}/unlock", token=reader["token"]), 403)
    events = refused_events(server)
    by_target = {e["target"]: e for e in events}
    foreign = by_target["GET /admin/api/v1/tenants/beta/users/beta-user"]
    assert foreign["actor"] == f"token:{server.acme_token_id}" and foreign["source_ip"] == "127.0.0.1" and foreign["outcome"] == "failure", foreign
    assert foreign["details"]["status"] == 404, foreign
    scope = by_target[f"POST /admin/api/v1/tenants/acme/users/{plain}/unlock"]
    assert scope["actor"] == f"token:{reader['id']}" and scope["details"]["status"] == 403, scope
    # The tenant admin sees its own refusals in its tenant's trail; never a token's text.
    own = server.call("GET", "/tenants/acme/audit-events", token=server.acme_token, params={"action": "api.refused"}).json()["items"]
    assert "GET /admin/api/v1/tenants/beta/users/beta-user" in [e["target"] for e in own], own
    dumped = str(events)
    assert server.acme_token not in dumped and reader["token"] not in dumped and "mamori_at_" not in dumped
    # Unauthenticated calls are logged, not written: no row for a 401.
    count = len(events)
    is_problem(server.call("GET", "/tenants/acme/users", token="mamori_at_" + "B" * 43), 401)
    is_problem(server.call("GET", "/tenants/acme/users"), 401)
    assert len(refused_events(server)) == count
    # A wider-role refusal is audited once, by the service layer, not again here.
    root = make_target(server, "super-admin")
    is_problem(server.call("POST", f"/tenants/acme/users/{root}/disable", token=server.acme_token), 403)
    assert not [e for e in refused_events(server) if root in e["target"]]
