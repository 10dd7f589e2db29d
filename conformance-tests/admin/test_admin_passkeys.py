"""A user's passkeys through the admin API (issue 18), against the real binary: the list
shows name, dates, backup flags and counter and never the credential; a removal answers
204, is audited with the token as actor, is in the user's login history and mailed to
the user; it takes even the last passkey of a method that needs one. The hostile twins:
a read-only token, another tenant's user or passkey (by either tenant's URL), a
malformed or unknown ID, a tenant admin on a super-admin's passkey.

Passkeys come into being only through a WebAuthn ceremony in a browser (the browser
tests make real ones, conformance-tests/browser/console-passkeys.test.mjs among them);
here they are written into the server's SQLite database as a registration leaves them,
so that the API is tested on its own.

Run by scripts/test with conformance-tests/.venv/bin/pytest.
"""

import email
import email.policy
import time
import uuid

import pytest

from passkey_rows import SECRET, add_passkey
from test_admin_api import Server, is_problem

FIELDS = {"id", "name", "created_at", "last_used_at", "backup_eligible", "backed_up", "sign_count"}


@pytest.fixture(scope="module")
def server():
    s = Server()
    for slug in ("acme", "beta"):
        s.cli("admin", "tenant", "create", "--slug", slug, "--name", slug.title())
        s.cli("admin", "tenant", "policy", "--tenant", slug, "--set", 'allowed_login_methods=["cert+password","cert+passkey"]')
    s.super_token = s.token("--super-admin")
    acme = s.cli_json("admin", "api-token", "create", "--tenant", "acme", "--scope", "read,write", "--expires-in", "1d")
    s.acme_token, s.acme_token_id = acme["token"], acme["id"]
    s.acme_reader = s.token("--tenant", "acme", scopes="read")
    yield s
    s.stop()


def make_user(server, tenant, method="cert+passkey"):
    login_id = f"pk-{uuid.uuid4().hex[:8]}"
    body = {"login_id": login_id, "email": f"{login_id}@{tenant}.test", "login_method": method}
    created = server.call("POST", f"/tenants/{tenant}/users", token=server.super_token, json=body)
    assert created.status_code == 201, created.text
    return login_id


def listed(server, tenant, login_id, token=None):
    response = server.call("GET", f"/tenants/{tenant}/users/{login_id}/passkeys", token=token or server.super_token)
    assert response.status_code == 200, response.text
    return response.json()


def mails_to(server, address):
    outbox = server.data / "outbox"
    found = []
    for path in sorted(outbox.glob("*.eml")) if outbox.exists() else []:
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address in str(mail["To"]):
            body = mail.get_body(preferencelist=("plain",))
            found.append((str(mail["Subject"]), body.get_content() if body else ""))
    return found


def wait_for_mail(server, address, pattern, timeout=15):
    deadline = time.time() + timeout
    while True:
        found = [m for m in mails_to(server, address) if pattern in m[0] + m[1]]
        if found or time.time() > deadline:
            return found
        time.sleep(0.2)


def test_the_list_shows_what_operators_need_and_never_the_credential(server, openapi):
    login_id = make_user(server, "acme")
    assert listed(server, "acme", login_id, server.acme_reader) == []
    laptop = add_passkey(server, "acme", login_id, "Work laptop", used=True, backed_up=True)
    phone = add_passkey(server, "acme", login_id, "仕事用 iPhone")
    response = server.call("GET", f"/tenants/acme/users/{login_id}/passkeys", token=server.acme_reader)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    items = response.json()
    assert [p["id"] for p in items] == [laptop, phone], "oldest first"
    assert all(set(p) == FIELDS for p in items), items
    first, second = items
    assert (first["name"], first["backup_eligible"], first["backed_up"], first["sign_count"]) == ("Work laptop", True, True, 5)
    assert first["last_used_at"] and first["created_at"].endswith("Z"), first
    assert (second["name"], second["backed_up"], second["sign_count"], second["last_used_at"]) == ("仕事用 iPhone", False, 0, None)
    for leak in (SECRET, "cred-", "credential"):
        assert leak not in response.text, leak
    # The document says the same.
    ops = openapi["paths"]["/tenants/{tenant}/users/{login_id}/passkeys"]
    schema = ops["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    ref = schema["items"]["$ref"].rsplit("/", 1)[1]
    assert set(openapi["components"]["schemas"][ref]["properties"]) == FIELDS
    assert set(openapi["paths"]["/tenants/{tenant}/users/{login_id}/passkeys/{passkey_id}"]) == {"delete"}
    # An unknown user is a 404 problem, not an empty list.
    is_problem(server.call("GET", "/tenants/acme/users/nobody-here/passkeys", token=server.acme_reader), 404)


def test_an_operator_removes_even_the_last_passkey_audited_and_mailed(server):
    login_id = make_user(server, "acme")
    only = add_passkey(server, "acme", login_id, "Only one", used=True)
    path = f"/tenants/acme/users/{login_id}/passkeys/{only}"
    # Read scope alone removes nothing.
    is_problem(server.call("DELETE", path, token=server.acme_reader), 403)
    assert [p["id"] for p in listed(server, "acme", login_id)] == [only]

    removed = server.call("DELETE", path, token=server.acme_token)
    assert removed.status_code == 204 and removed.text == "", removed.text
    assert listed(server, "acme", login_id) == [], "the last passkey of a cert+passkey user is gone"
    is_problem(server.call("DELETE", path, token=server.acme_token), 404)

    trail = server.call("GET", "/tenants/acme/audit-events", token=server.super_token, params={"target": f"passkey:{only}"}).json()["items"]
    assert [(e["action"], e["outcome"], e["actor"]) for e in trail] == [("passkey.remove", "success", f"token:{server.acme_token_id}")], trail
    assert trail[0]["target"] == f"tenant:acme/user:{login_id}/passkey:{only}"
    assert trail[0]["details"]["name"] == "Only one" and SECRET not in str(trail[0]["details"])
    history = server.call("GET", "/tenants/acme/login-events", token=server.super_token, params={"login_id": login_id}).json()["items"]
    assert "passkey-removed" in [e["result"] for e in history], history
    mails = wait_for_mail(server, f"{login_id}@acme.test", "Only one")
    assert len(mails) == 1, mails_to(server, f"{login_id}@acme.test")
    assert "サイトの管理者による削除" in mails[0][1], mails[0][1]  # the user's language: ja


def test_another_tenants_user_or_passkey_is_not_found_and_stays(server):
    mine = make_user(server, "acme")
    theirs = make_user(server, "beta")
    neighbour = make_user(server, "acme")
    their_key = add_passkey(server, "beta", theirs, "Beta's")
    neighbours_key = add_passkey(server, "acme", neighbour, "Neighbour's")
    # Beta's user by beta's URL: the tenant does not exist for this token.
    is_problem(server.call("GET", f"/tenants/beta/users/{theirs}/passkeys", token=server.acme_token), 404)
    is_problem(server.call("DELETE", f"/tenants/beta/users/{theirs}/passkeys/{their_key}", token=server.acme_token), 404)
    # Beta's passkey, another user's, a malformed and an unknown ID through acme's own user.
    for other in (their_key, neighbours_key, "not-a-uuid", str(uuid.uuid4()), their_key.upper()):
        body = is_problem(server.call("DELETE", f"/tenants/acme/users/{mine}/passkeys/{other}", token=server.acme_token), 404)
        assert "Beta" not in body["detail"], body
    # Even a super-admin cannot reach a passkey through the wrong tenant or user.
    is_problem(server.call("DELETE", f"/tenants/acme/users/{mine}/passkeys/{their_key}", token=server.super_token), 404)
    assert [p["id"] for p in listed(server, "beta", theirs)] == [their_key]
    assert [p["id"] for p in listed(server, "acme", neighbour)] == [neighbours_key]
    assert mails_to(server, f"{theirs}@beta.test") == [] and not [m for m in mails_to(server, f"{neighbour}@acme.test") if "passkey" in m[0].lower()]
    trail = server.call("GET", "/audit-events", token=server.super_token, params={"action": "passkey.remove"}).json()["items"]
    assert not [e for e in trail if e["outcome"] == "success" and (their_key in e["target"] or neighbours_key in e["target"])], trail


def test_a_tenant_admin_cannot_remove_a_super_admins_passkey(server):
    boss = make_user(server, "acme")
    server.cli("admin", "operator", "grant", "--tenant", "acme", "--login-id", boss, "--role", "super-admin")
    key = add_passkey(server, "acme", boss, "Boss's")
    assert [p["id"] for p in listed(server, "acme", boss, server.acme_token)] == [key], "reading is allowed"
    problem = is_problem(server.call("DELETE", f"/tenants/acme/users/{boss}/passkeys/{key}", token=server.acme_token), 403)
    assert problem["type"].endswith("/wider-role"), problem
    assert [p["id"] for p in listed(server, "acme", boss)] == [key]
    trail = server.call("GET", "/tenants/acme/audit-events", token=server.super_token, params={"target": f"user:{boss}"}).json()["items"]
    assert [(e["action"], e["outcome"]) for e in trail if e["action"] == "passkey.remove"] == [("passkey.remove", "failure")], trail


def test_the_cli_lists_and_removes_as_the_api_does(server):
    login_id = make_user(server, "acme")
    first = add_passkey(server, "acme", login_id, "CLI laptop")
    second = add_passkey(server, "acme", login_id, "CLI phone")
    text = server.cli("admin", "user", "passkeys", "--tenant", "acme", "--login-id", login_id).stdout
    lines = text.strip().splitlines()
    assert lines[0].split()[:2] == ["ID", "NAME"], text
    assert [line.split()[0] for line in lines[1:]] == [first, second], text
    assert SECRET not in text
    as_json = server.cli_json("admin", "user", "passkeys", "--tenant", "acme", "--login-id", login_id)
    assert as_json == listed(server, "acme", login_id)
    out = server.cli("admin", "user", "remove-passkey", "--tenant", "acme", "--login-id", login_id, "--id", first)
    assert "CLI laptop" in out.stdout, out.stdout
    assert [p["id"] for p in listed(server, "acme", login_id)] == [second]
    refused = server.cli("admin", "user", "remove-passkey", "--tenant", "acme", "--login-id", login_id, "--id", first, check=False)
    assert refused.returncode != 0 and "passkey" in refused.stderr, refused.stderr
    trail = server.call("GET", "/tenants/acme/audit-events", token=server.super_token, params={"target": f"passkey:{first}"}).json()["items"]
    assert [(e["action"], e["actor"]) for e in trail] == [("passkey.remove", "cli")], trail


@pytest.fixture(scope="module")
def openapi(server):
    response = server.call("GET", "/openapi.json")
    assert response.status_code == 200
    return response.json()
