"""What an outside break-it review of the SCIM server found (RFC 7643/7644 against the
binary), each with the honest request next to the hostile one: PATCH keeps displayName
as PUT does and serves name's sub-attributes; a change of userName's case is no rename;
a creation is one write; DELETE loses to a PATCH holding the same If-Match; a write
answers its own state; careless paths, unreadable paths and odd bodies get SCIM JSON;
null comparisons, short extension names, doubled parameters, two primaries, string
booleans; and no SCIM token reaches the installation's last super-admin.
"""

import gzip
import json
import socket
import ssl
import threading
import urllib.parse
import uuid

from conftest import ScimServer
from test_scim_client import ERROR, SCIM_JSON, admin_user, is_scim_error
from test_scim_consistency import CORE, create, patch_body

MAMORI = "urn:mamori:params:scim:schemas:extension:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# M1 ----------------------------------------------------------------------------------

def test_a_pathless_patch_keeps_display_name_as_put_does(server):
    http = server.http("acme", server.acme_scim)
    login_id = unique("m1")
    user = create(http, login_id)
    both = {"displayName": "Chosen Name", "name": {"givenName": "Given", "familyName": "Family"}}
    patched = http.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "value": both}))
    assert patched.status_code == 200, patched.text
    assert patched.json()["displayName"] == "Chosen Name", "displayName as sent, not the name's"
    assert patched.json()["name"] == {"givenName": "Given", "familyName": "Family"}
    put = http.put(f"/Users/{user['id']}", json={"schemas": [CORE], "userName": login_id, "emails": user["emails"], **both})
    assert put.status_code == 200 and put.json()["displayName"] == "Chosen Name", put.text
    assert put.json()["name"] == patched.json()["name"], "PUT and PATCH agree"
    # A document without displayName takes the name's parts, joined.
    other = create(http, unique("m1n"), name={"givenName": "Hanako", "familyName": "Sato"})
    assert other["displayName"] == "Hanako Sato"


def test_name_sub_attributes_are_served_and_formatted_is_not(server):
    http = server.http("acme", server.acme_scim)
    user = create(http, unique("m1s"), displayName="Display", name={"givenName": "Old", "familyName": "Family"})
    url = f"/Users/{user['id']}"
    answer = http.patch(url, json=patch_body({"op": "replace", "path": "name.givenName", "value": "New"}))
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == {"givenName": "New", "familyName": "Family"}
    answer = http.patch(url, json=patch_body({"op": "remove", "path": "name.familyName"}))
    assert answer.status_code == 200 and answer.json()["name"] == {"givenName": "New"}, answer.text
    answer = http.patch(url, json=patch_body({"op": "add", "path": "name.familyName", "value": "Back"}))
    assert answer.status_code == 200 and answer.json()["name"]["familyName"] == "Back", answer.text
    assert http.get(url).json()["displayName"] == "Display", "the display name is its own value"
    found = http.get("/Users", params={"filter": 'name.givenName eq "new" and name.familyName eq "BACK"'}).json()
    assert [r["id"] for r in found["Resources"]] == [user["id"]]
    before = http.get(url)
    # Hostile: name.formatted is not served (the display name is displayName, as the
    # schema says): a path to it, or to any part Mamori does not keep, is accepted and
    # ignored (Entra ID's default mapping sends name.formatted; a PATCH is all or nothing)...
    for sub in ("formatted", "honorificPrefix"):
        answer = http.patch(url, json=patch_body({"op": "replace", "path": f"name.{sub}", "value": "Forged"}))
        assert answer.status_code == 200 and answer.json()["displayName"] == "Display" and "formatted" not in answer.json()["name"], answer.text
    # ...and in a value likewise: nothing is written.
    for body in [{"op": "replace", "path": "name", "value": {"formatted": "Forged"}},
                 {"op": "replace", "value": {"name": {"formatted": "Forged"}}}]:
        answer = http.patch(url, json=patch_body(body))
        assert answer.status_code == 200 and answer.json()["displayName"] == "Display", answer.text
    assert http.get(url).headers["etag"] == before.headers["etag"], "nothing written"
    # In a document likewise: ignored, the display name is the default.
    ignored = create(http, unique("m1f"), name={"formatted": "Forged"})
    assert ignored["displayName"] == ignored["userName"] and "name" not in ignored, ignored
    schema = http.get(f"/Schemas/{CORE}").json()
    name = next(a for a in schema["attributes"] if a["name"] == "name")
    assert {s["name"]: s["mutability"] for s in name["subAttributes"]} == {"givenName": "readWrite", "familyName": "readWrite"}


# M2 ----------------------------------------------------------------------------------

def test_a_change_of_user_name_case_is_the_same_user_and_a_rename_is_refused(server):
    http = server.http("acme", server.acme_scim)
    login_id = unique("case")
    user = create(http, login_id)
    url = f"/Users/{user['id']}"
    upper = login_id.upper()
    answer = http.patch(url, json=patch_body({"op": "replace", "path": "userName", "value": upper}))
    assert answer.status_code == 200, answer.text
    assert answer.json()["userName"] == login_id, "the stored ID keeps its case"
    answer = http.put(url, json={"schemas": [CORE], "userName": upper, "emails": user["emails"]})
    assert answer.status_code == 200, answer.text
    assert admin_user(server, login_id).status_code == 200, "still the same login ID"
    # Hostile: a real rename, and a look-alike.
    is_scim_error(http.patch(url, json=patch_body({"op": "replace", "path": "userName", "value": login_id + "x"})), 400, "mutability")
    is_scim_error(http.put(url, json={"schemas": [CORE], "userName": "x" + login_id, "emails": user["emails"]}), 400, "mutability")
    look_alike = login_id.replace("c", "\u0441", 1)  # Cyrillic es
    is_scim_error(http.patch(url, json=patch_body({"op": "replace", "path": "userName", "value": look_alike})), 400, "mutability")


# M3 ----------------------------------------------------------------------------------

def test_a_creation_is_one_write_with_active_and_external_id(server):
    http = server.http("acme", server.acme_scim)
    login_id = unique("m3")
    external = unique("ext")
    seen = []
    done = threading.Event()

    def reader():
        client = server.http("acme", server.acme_scim)
        while not done.is_set():
            found = client.get("/Users", params={"filter": f'userName eq "{login_id}"'}).json().get("Resources", [])
            seen.extend(found)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        created = create(http, login_id, active=False, externalId=external)
    finally:
        done.set()
        thread.join()
    assert created["active"] is False and created["externalId"] == external
    for r in seen:
        assert (r["active"], r.get("externalId")) == (False, external), r
    # The trail shows one creation, no enable-then-disable or identifier set afterwards.
    trail = server.call("GET", "/tenants/acme/audit-events?limit=500", token=server.super_token).json()["items"]
    actions = [e["action"] for e in trail if e["target"] == f"tenant:acme/user:{login_id}"]
    assert actions == ["user.create"], actions


# L1 ----------------------------------------------------------------------------------

def test_a_delete_holding_a_stale_if_match_loses_to_the_patch_that_won(server):
    http = server.http("acme", server.acme_scim)
    # Honest, one after the other: a stale tag is 412, the current one deletes.
    user = create(http, unique("l1"))
    stale = http.get(f"/Users/{user['id']}").headers["etag"]
    assert http.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "displayName", "value": "Moved"})).status_code == 200
    is_scim_error(http.delete(f"/Users/{user['id']}", headers={"If-Match": stale}), 412)
    current = http.get(f"/Users/{user['id']}").headers["etag"]
    assert http.delete(f"/Users/{user['id']}", headers={"If-Match": current}).status_code == 204
    # Racing: of a PATCH and a DELETE holding the same tag, exactly one succeeds.
    for round_no in range(6):
        user = create(http, unique(f"l1r{round_no}"))
        etag = http.get(f"/Users/{user['id']}").headers["etag"]
        barrier = threading.Barrier(2)
        answers = {}

        def send(kind):
            client = server.http("acme", server.acme_scim)
            barrier.wait()
            if kind == "patch":
                answers[kind] = client.patch(f"/Users/{user['id']}", headers={"If-Match": etag},
                                             json=patch_body({"op": "replace", "path": "displayName", "value": "Patched"}))
            else:
                answers[kind] = client.delete(f"/Users/{user['id']}", headers={"If-Match": etag})

        threads = [threading.Thread(target=send, args=(k,)) for k in ("patch", "delete")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        patched, deleted = answers["patch"].status_code, answers["delete"].status_code
        assert (patched, deleted) in {(200, 412), (404, 204), (412, 204)}, (patched, deleted, answers["delete"].text)
        exists = http.get(f"/Users/{user['id']}").status_code
        assert exists == (200 if patched == 200 else 404)


# L2 ----------------------------------------------------------------------------------

def test_each_write_answers_the_state_it_produced(server):
    http = server.http("acme", server.acme_scim)
    user = create(http, unique("l2"))
    for round_no in range(6):
        barrier = threading.Barrier(3)
        answers = {}

        def write(name):
            client = server.http("acme", server.acme_scim)
            barrier.wait()
            answers[name] = client.patch(f"/Users/{user['id']}",
                                         json=patch_body({"op": "replace", "path": "displayName", "value": f"{name} {round_no}"}))

        threads = [threading.Thread(target=write, args=(n,)) for n in ("Writer-A", "Writer-B", "Writer-C")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for name, answer in answers.items():
            assert answer.status_code == 200, answer.text
            assert answer.json()["displayName"] == f"{name} {round_no}", "a later writer's state reported as this one's"
            assert answer.headers["etag"] == answer.json()["meta"]["version"]


# L3, L4 ------------------------------------------------------------------------------

def test_careless_paths_name_the_same_resources(server):
    http = server.http("acme", server.acme_scim)
    user = create(http, unique("l3"))
    listed = http.get("/Users", params={"filter": f'id eq "{user["id"]}"'}).json()
    for path in ["//Users", "/Users/", "//Users/"]:
        answer = http.get(f"{server.scim_url('acme')}{path}", params={"filter": f'id eq "{user["id"]}"'})
        assert answer.status_code == 200 and answer.json()["Resources"] == listed["Resources"], (path, answer.text)
    for path in [f"/Users/{user['id']}/", f"//Users//{user['id']}"]:
        answer = http.get(f"{server.scim_url('acme')}{path}")
        assert answer.status_code == 200 and answer.json()["id"] == user["id"], (path, answer.text)
    answer = http.patch(f"{server.scim_url('acme')}/Users/{user['id']}/",
                        json=patch_body({"op": "replace", "path": "displayName", "value": "Slash"}))
    assert answer.status_code == 200 and answer.json()["displayName"] == "Slash", answer.text
    # Hostile: what does not exist stays a SCIM 404, slashes or not.
    is_scim_error(http.get(f"{server.scim_url('acme')}/Groups/"), 404)
    is_scim_error(http.get(f"{server.scim_url('acme')}//Nope//"), 404)
    is_scim_error(http.get(f"{server.scim_url('acme')}/Users/{uuid.uuid4()}/"), 404)


def test_every_answer_under_scim_is_scim_json(server):
    http = server.http("acme", server.acme_scim)
    # A path that is not UTF-8 once decoded.
    answer = http.get(f"{server.scim_url('acme')}/Users/%ff")
    assert answer.status_code in (400, 404), answer.text
    is_scim_error(answer, answer.status_code)
    answer = http.get(f"{server.main}/scim/v2/t/%ff/Users")
    is_scim_error(answer, answer.status_code)
    # A request line over hyper's limit (sent raw: HTTP clients refuse to build it) is
    # refused before any route, still in SCIM's format.
    status, headers, body = raw_get(server, "/scim/v2/t/acme/Users?filter=" + "a" * 100_000)
    assert status == 414 and headers["content-type"].startswith(SCIM_JSON), (status, headers, body[:200])
    error = json.loads(body)
    assert error["schemas"] == [ERROR] and error["status"] == "414", error
    # Elsewhere the page stays a page.
    status, headers, _ = raw_get(server, "/t/demo/login?next=" + "a" * 100_000)
    assert status == 414 and headers["content-type"].startswith("text/html"), headers
    # The honest long filter is answered normally (up to the filter's own limit).
    assert http.get("/Users", params={"filter": 'userName eq "' + "a" * 1000 + '"'}).status_code == 200


def raw_get(server, target):
    """A GET sent byte for byte over TLS: (status, lower-cased headers, body text)."""
    url = urllib.parse.urlsplit(server.main)
    context = ssl.create_default_context(cafile=server.dev_root)
    with socket.create_connection((url.hostname, url.port), timeout=30) as raw, \
            context.wrap_socket(raw, server_hostname=url.hostname) as tls:
        tls.sendall(f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while True:
            try:
                chunk = tls.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
    return int(lines[0].split()[1]), headers, body.decode("utf-8", "replace")


# L6 ----------------------------------------------------------------------------------

def test_extension_attributes_take_their_short_names(server):
    http = server.http("acme", server.acme_scim)
    user = create(http, unique("l6"))

    def ids(flt):
        answer = http.get("/Users", params={"filter": f'id eq "{user["id"]}" and {flt}'})
        assert answer.status_code == 200, answer.text
        return [r["id"] for r in answer.json()["Resources"]]

    method = user[MAMORI]["loginMethod"]
    assert ids(f'loginMethod eq "{method}"') == ids(f'{MAMORI}:loginMethod eq "{method}"') == [user["id"]]
    assert ids("locked eq false") == [user["id"]] and ids("locked eq true") == []
    selected = http.get(f"/Users/{user['id']}", params={"attributes": "loginMethod"}).json()
    assert selected[MAMORI] == {"loginMethod": method}, selected
    # Hostile: an attribute Mamori does not serve is named whole in the refusal.
    refused = is_scim_error(http.get("/Users", params={"filter": f'{ENTERPRISE}:employeeNumber eq "7"'}), 400, "invalidFilter")
    assert f"{ENTERPRISE}:employeeNumber" in refused["detail"], refused
    is_scim_error(http.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "loginMethod", "value": "password"})),
                  400, "mutability")


# L7 ----------------------------------------------------------------------------------

def test_ambiguous_or_mistyped_requests_are_refused(server):
    http = server.http("acme", server.acme_scim)
    login_id = unique("l7")
    two = [{"value": f"{login_id}@acme.test", "primary": True}, {"value": f"{login_id}-2@acme.test", "primary": True}]
    is_scim_error(http.post("/Users", json={"schemas": [CORE], "userName": login_id, "emails": two}), 400, "invalidValue")
    is_scim_error(http.post("/Users", json={"schemas": [CORE], "userName": login_id, "active": "False",
                                            "emails": [{"value": f"{login_id}@acme.test"}]}), 400, "invalidValue")
    assert admin_user(server, login_id).status_code == 404, "nothing made"
    one = [{"value": f"{login_id}@acme.test", "primary": True}, {"value": f"{login_id}-2@acme.test", "primary": False}]
    user = create(http, login_id, emails=one, active=False)
    assert user["active"] is False
    is_scim_error(http.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "active", "value": "True"})),
                  400, "invalidValue")
    assert http.get(f"/Users/{user['id']}").json()["active"] is False
    # Two filters: which one was meant?
    is_scim_error(http.get(f"/Users?filter=userName%20eq%20%22{login_id}%22&filter=active%20eq%20true"), 400, "invalidFilter")
    is_scim_error(http.get("/Users?count=1&count=2"), 400, "invalidValue")
    assert http.get(f"/Users?filter=userName%20eq%20%22{login_id}%22").json()["totalResults"] == 1
    # A compressed body is refused, not misread; the same body plain is taken.
    body = json.dumps(patch_body({"op": "replace", "path": "displayName", "value": "Zipped"})).encode()
    zipped = http.patch(f"/Users/{user['id']}", content=gzip.compress(body),
                        headers={"Content-Type": SCIM_JSON, "Content-Encoding": "gzip"})
    is_scim_error(zipped, 415)
    plain = http.patch(f"/Users/{user['id']}", content=body, headers={"Content-Type": SCIM_JSON})
    assert plain.status_code == 200 and plain.json()["displayName"] == "Zipped", plain.text


# L8 ----------------------------------------------------------------------------------

def test_no_scim_token_reaches_every_tenant_and_the_last_super_admin_stays():
    # An installation of its own: the shared one has more super-admins (test_scim_client).
    server = ScimServer()
    try:
        check_super_admin_rules(server)
    finally:
        server.stop()


def check_super_admin_rules(server):
    server.super_token = server.token("--super-admin")
    refused = server.cli("admin", "api-token", "create", "--super-admin", "--scope", "scim", "--expires-in", "1d", check=False)
    assert refused.returncode != 0 and "scim" in (refused.stdout + refused.stderr), refused
    refused = server.cli("admin", "api-token", "create", "--super-admin", "--scope", "read,scim", "--expires-in", "1d", check=False)
    assert refused.returncode != 0
    answer = server.call("POST", "/api-tokens", token=server.super_token, json={"name": "x", "scopes": ["scim"], "expires_in": "1d"})
    assert answer.status_code == 422 and "scim" in answer.text, answer.text
    answer = server.call("POST", "/api-tokens", token=server.super_token,
                         json={"name": "x", "tenant": "operators", "scopes": ["scim"], "expires_in": "1d"})
    assert answer.status_code == 201, answer.text
    # The honest ones: a tenant SCIM token, a super-admin token without scim.
    assert server.token("--tenant", "operators", scopes="scim")
    assert server.token("--super-admin", scopes="read")
    # A tenant SCIM token of the operators' tenant cannot touch the super-admin...
    ops = server.http("operators", server.token("--tenant", "operators", scopes="scim"))
    admin = ops.get("/Users", params={"filter": 'userName eq "admin"'}).json()["Resources"][0]
    is_scim_error(ops.patch(f"/Users/{admin['id']}", json=patch_body({"op": "replace", "path": "active", "value": False})), 403)
    is_scim_error(ops.delete(f"/Users/{admin['id']}"), 403)
    # ...and the service refuses to disable or delete the last enabled super-admin on any surface.
    for method, path in [("POST", "/tenants/operators/users/admin/disable"), ("DELETE", "/tenants/operators/users/admin")]:
        answer = server.call(method, path, token=server.super_token)
        assert answer.status_code == 409 and "last enabled super-admin" in answer.text, answer.text
    assert server.call("GET", "/tenants/operators/users/admin", token=server.super_token).json()["status"] == "active"
    # With a second enabled super-admin, one of them may go.
    second = unique("root")
    server.cli("admin", "user", "create", "--tenant", "operators", "--login-id", second, "--email", f"{second}@ops.test")
    server.cli("admin", "operator", "grant", "--tenant", "operators", "--login-id", second, "--role", "super-admin")
    assert server.call("POST", f"/tenants/operators/users/{second}/disable", token=server.super_token).status_code == 200
    answer = server.call("POST", "/tenants/operators/users/admin/disable", token=server.super_token)
    assert answer.status_code == 409, "the second is disabled now: admin is the last enabled one"
    assert server.call("DELETE", f"/tenants/operators/users/{second}", token=server.super_token).status_code == 204
