"""What a directory relies on beyond the happy path (issue 23): a PUT or PATCH is all
or nothing and a stale If-Match loses even when two writers race; time filters compare
times; filters that compare a type wrongly are refused; conditional requests and media
types as RFC 7232 and RFC 7644 §3.8 say; the one e-mail type Mamori keeps; and the
tenant's choice to mail the enrollment ticket of a user a directory creates.
"""

import datetime
import email
import email.policy
import re
import threading
import uuid

import requests

from test_scim_client import ERROR, PATCH, SCIM_JSON, admin_user, is_scim_error

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def create(http, login_id, **extra):
    body = {"schemas": [CORE], "userName": login_id, "emails": [{"value": f"{login_id}@acme.test", "type": "work"}], **extra}
    created = http.post("/Users", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def patch_body(*operations):
    return {"schemas": [PATCH], "Operations": list(operations)}


def test_two_writers_with_the_same_etag_one_wins_the_other_gets_412(server):
    http = server.http("acme", server.acme_scim)
    user = create(http, f"race-{uuid.uuid4().hex[:8]}")
    for round_no in range(4):
        etag = http.get(f"/Users/{user['id']}").headers["etag"]
        barrier = threading.Barrier(2)
        answers = {}

        def write(name):
            # Each writer its own connection, released together.
            client = server.http("acme", server.acme_scim)
            barrier.wait()
            answers[name] = client.patch(f"/Users/{user['id']}", headers={"If-Match": etag},
                                         json=patch_body({"op": "replace", "path": "displayName", "value": f"{name} {round_no}"}))

        threads = [threading.Thread(target=write, args=(n,)) for n in ("Writer-A", "Writer-B")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(a.status_code for a in answers.values())
        assert statuses == [200, 412], {n: (a.status_code, a.text) for n, a in answers.items()}
        winner = next(n for n, a in answers.items() if a.status_code == 200)
        loser = next(a for a in answers.values() if a.status_code == 412)
        is_scim_error(loser, 412)
        assert http.get(f"/Users/{user['id']}").json()["displayName"] == f"{winner} {round_no}", "the loser wrote nothing"


def test_a_refused_patch_or_put_changes_nothing(server):
    http = server.http("acme", server.acme_scim)
    login_id = f"atomic-{uuid.uuid4().hex[:8]}"
    user = create(http, login_id, displayName="Before", externalId="ext-before")
    before = http.get(f"/Users/{user['id']}")
    # A valid display name and address first, then a value Mamori refuses.
    refused = http.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "replace", "path": "displayName", "value": "After"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": f"after-{login_id}@acme.test"},
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "externalId", "value": "x" * 256},
    ))
    is_scim_error(refused, 400, "invalidValue")
    # The address is checked with the rest, before anything is written.
    refused = http.put(f"/Users/{user['id']}", json={"schemas": [CORE], "userName": login_id, "displayName": "After", "active": False,
                                                    "emails": [{"value": "not an address"}]})
    is_scim_error(refused, 400, "invalidValue")
    after = http.get(f"/Users/{user['id']}")
    assert after.json() == before.json() and after.headers["etag"] == before.headers["etag"], after.text
    seen = admin_user(server, login_id).json()
    assert (seen["display_name"], seen["status"]) == ("Before", "active")
    devices = server.call("GET", f"/tenants/acme/users/{login_id}/devices", token=server.acme_admin).json()
    assert [d["email"] for d in devices] == [f"{login_id}@acme.test"]
    # The same changes, all valid, land together.
    applied = http.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "replace", "path": "displayName", "value": "After"},
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "externalId", "value": "ext-after"},
    ))
    assert applied.status_code == 200, applied.text
    assert (applied.json()["displayName"], applied.json()["active"], applied.json()["externalId"]) == ("After", False, "ext-after")


def test_time_filters_compare_times_not_text(server):
    http = server.http("acme", server.acme_scim)
    login_id = f"time-{uuid.uuid4().hex[:8]}"
    user = create(http, login_id)
    created = datetime.datetime.fromisoformat(user["meta"]["created"].replace("Z", "+00:00"))
    # Half an hour before the creation, written in Japan's time: as text it sorts after
    # the creation's UTC text, as a time it is before it.
    before_jst = (created - datetime.timedelta(minutes=30)).astimezone(datetime.timezone(datetime.timedelta(hours=9)))
    before_jst = before_jst.strftime("%Y-%m-%dT%H:%M:%S+09:00")
    assert before_jst > user["meta"]["created"], "the literal sorts after the creation as text"

    def names(flt):
        answer = http.get("/Users", params={"filter": f'userName eq "{login_id}" and {flt}'})
        assert answer.status_code == 200, answer.text
        return [r["userName"] for r in answer.json()["Resources"]]

    assert names(f'meta.created gt "{before_jst}"') == [login_id]
    assert names(f'meta.created lt "{before_jst}"') == []
    assert names(f'meta.lastModified ge "{before_jst}"') == [login_id]
    assert names('meta.created gt "2000-01-01T00:00:00Z"') == [login_id]
    assert names('meta.created le "2000-01-01T00:00:00.000+09:00"') == []
    # The same instant in another form is equal.
    same = created.astimezone(datetime.timezone(datetime.timedelta(hours=-5))).isoformat(timespec="milliseconds")
    assert names(f'meta.created eq "{same}"') == [login_id]
    for bad in ['meta.created gt "yesterday"', 'meta.created gt "2026-13-01T00:00:00Z"', 'meta.created gt "2026-01-01"',
                'meta.lastModified lt 5', 'meta.created co "2026"', 'meta.created gt true']:
        is_scim_error(http.get("/Users", params={"filter": bad}), 400, "invalidFilter")


def test_comparisons_a_type_does_not_take_are_invalid_filters(server):
    http = server.http("acme", server.acme_scim)
    for bad in ["active gt true", "active ge false", "active co true", 'active eq "yes"', "userName gt 5", "userName eq true",
                "emails[primary lt true]", 'urn:mamori:params:scim:schemas:extension:2.0:User:locked sw "t"', 'id eq 7',
                "displayName gt null", "displayName eq null", "active eq null"]:
        is_scim_error(http.get("/Users", params={"filter": bad}), 400, "invalidFilter")
    # The honest forms still work.
    for good in ["active eq true", "active ne false", 'userName gt "a"', "emails[primary eq true]", "displayName pr",
                 "not (displayName pr)"]:
        assert http.get("/Users", params={"filter": good}).status_code == 200, good


def test_id_and_external_id_filters_answer_exactly(server):
    http = server.http("acme", server.acme_scim)
    external = f"Ext-{uuid.uuid4().hex[:8]}"
    user = create(http, f"key-{uuid.uuid4().hex[:8]}", externalId=external)
    other = create(http, f"key-{uuid.uuid4().hex[:8]}", externalId=external.lower())
    by_id = http.get("/Users", params={"filter": f'id eq "{user["id"]}"'}).json()
    assert [r["id"] for r in by_id["Resources"]] == [user["id"]]
    by_external = http.get("/Users", params={"filter": f'externalId eq "{external}"'}).json()
    assert [r["id"] for r in by_external["Resources"]] == [user["id"]], "externalId is case-exact (RFC 7643 §3.1)"
    both = http.get("/Users", params={"filter": f'externalId eq "{external.lower()}" and active eq true'}).json()
    assert [r["id"] for r in both["Resources"]] == [other["id"]]
    assert http.get("/Users", params={"filter": f'id eq "{uuid.uuid4()}"'}).json()["totalResults"] == 0
    assert http.get("/Users", params={"filter": 'id eq "not-a-uuid"'}).json()["totalResults"] == 0
    # Another tenant's user is not found by its id or externalId.
    beta = server.http("beta", server.beta_scim)
    assert beta.get("/Users", params={"filter": f'id eq "{user["id"]}"'}).json()["totalResults"] == 0
    assert beta.get("/Users", params={"filter": f'externalId eq "{external}"'}).json()["totalResults"] == 0


def test_conditional_requests_and_media_types(server):
    http = server.http("acme", server.acme_scim)
    login_id = f"cond-{uuid.uuid4().hex[:8]}"
    user = create(http, login_id)
    got = http.get(f"/Users/{user['id']}")
    etag = got.headers["etag"]
    # If-None-Match: a 304 carries the ETag it matched; `*` matches an existing user.
    for header in (etag, "*", f'W/"other", {etag}'):
        unchanged = http.get(f"/Users/{user['id']}", headers={"If-None-Match": header})
        assert unchanged.status_code == 304 and unchanged.headers["etag"] == etag and unchanged.content == b"", header
    for header in ('W/"other"', '""', "W/", ""):
        assert http.get(f"/Users/{user['id']}", headers={"If-None-Match": header}).status_code == 200, repr(header)
    # A change under If-None-Match: * (or the current version) would overwrite what
    # exists: 412, nothing written.
    rename = patch_body({"op": "replace", "path": "displayName", "value": "Overwritten"})
    is_scim_error(http.patch(f"/Users/{user['id']}", json=rename, headers={"If-None-Match": "*"}), 412)
    is_scim_error(http.patch(f"/Users/{user['id']}", json=rename, headers={"If-None-Match": etag}), 412)
    is_scim_error(http.patch(f"/Users/{user['id']}", json=rename, headers={"If-Match": '""'}), 412)
    assert http.get(f"/Users/{user['id']}").headers["etag"] == etag
    assert http.patch(f"/Users/{user['id']}", json=rename, headers={"If-None-Match": 'W/"other"'}).status_code == 200
    # The base URL with a trailing slash, and unknown paths under it, answer SCIM JSON
    # (`/Users/` is `/Users`: test_scim_review.py).
    for path in ("/", "/Nope", "/Nope/"):
        answer = http.get(path)
        assert answer.status_code == 404 and answer.headers["content-type"].startswith(SCIM_JSON), (path, answer.text)
        assert answer.json()["schemas"] == [ERROR]
    # Bodies: application/scim+json or application/json (with parameters), nothing else.
    body = b'{"schemas": ["%s"], "Operations": [{"op": "replace", "path": "displayName", "value": "Typed"}]}' % PATCH.encode()
    for media_type in ("application/scim+json", "application/json", "Application/SCIM+JSON; charset=utf-8"):
        assert http.patch(f"/Users/{user['id']}", content=body, headers={"content-type": media_type}).status_code == 200, media_type
    for media_type in ("text/plain", "application/x-www-form-urlencoded", "application/scim+jsonx", None):
        headers = {"content-type": media_type} if media_type else {}
        request = http.build_request("PATCH", f"/Users/{user['id']}", content=body, headers=headers)
        if media_type is None:
            request.headers.pop("content-type", None)
        is_scim_error(http.send(request), 415)


def test_emails_are_work_addresses(server):
    http = server.http("acme", server.acme_scim)
    login_id = f"mail-{uuid.uuid4().hex[:8]}"
    user = create(http, login_id)
    assert user["emails"] == [{"value": f"{login_id}@acme.test", "type": "work", "primary": True}]
    found = http.get("/Users", params={"filter": f'emails[type eq "work" and value eq "{login_id}@acme.test"]'}).json()
    assert [r["id"] for r in found["Resources"]] == [user["id"]]
    assert http.get("/Users", params={"filter": f'userName eq "{login_id}" and emails[type eq "home"]'}).json()["totalResults"] == 0
    # A home or other address is refused, never kept as a work one.
    for kind in ("home", "other"):
        refused = http.post("/Users", json={"schemas": [CORE], "userName": f"{login_id}-{kind}", "emails": [{"value": f"{kind}@acme.test", "type": kind}]})
        is_scim_error(refused, 400, "invalidValue")
        assert admin_user(server, f"{login_id}-{kind}").status_code == 404
        refused = http.patch(f"/Users/{user['id']}", json=patch_body({"op": "add", "path": f'emails[type eq "{kind}"].value', "value": f"{kind}@acme.test"}))
        is_scim_error(refused, 400, "invalidValue")
    # A work address among others: the work one is kept.
    mixed = http.post("/Users", json={"schemas": [CORE], "userName": f"{login_id}-mixed",
                                      "emails": [{"value": "private@home.test", "type": "home"}, {"value": f"{login_id}-w@acme.test", "type": "work", "primary": True}]})
    assert mixed.status_code == 201 and [e["value"] for e in mixed.json()["emails"]] == [f"{login_id}-w@acme.test"], mixed.text


def mailbox_mails(server, to):
    """The mails in the dev mailbox addressed to `to`, each as a parsed message."""
    page = requests.get(f"{server.main}/dev/mailbox", verify=server.dev_root, timeout=30)
    assert page.status_code == 200, page.text
    ids = re.findall(r'/dev/mailbox/([0-9a-f-]{36})"', page.text)
    mails = []
    for mail_id in dict.fromkeys(ids):
        raw = requests.get(f"{server.main}/dev/mailbox/{mail_id}/raw", verify=server.dev_root, timeout=30)
        message = email.message_from_bytes(raw.content, policy=email.policy.default)
        if to in message["To"]:
            mails.append(message)
    return mails


def enroll(server, url, otp):
    """The enrollment pages, as a browser goes through them: the one-time password, then
    a password and a secret answer. Returns the last page."""
    browser = requests.Session()
    # Per request: an environment's CA bundle would override the session's.
    page = browser.get(url, verify=server.dev_root, timeout=30)
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    page = browser.post(url, data={"csrf_token": csrf, "one_time_password": otp}, headers={"Origin": server.main}, verify=server.dev_root, timeout=30)
    assert page.status_code == 200 and 'name="secret_answer"' in page.text, page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    question = re.search(r'<option value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": csrf, "secret_question": question, "secret_answer": "Aozora no shita"}
    if 'name="password"' in page.text:
        form.update(password="Hibari-2026!kumo", password_confirmation="Hibari-2026!kumo")
    return browser.post(f"{url}/register", data=form, headers={"Origin": server.main}, verify=server.dev_root, timeout=30)


def test_the_enrollment_mail_is_the_tenants_choice(server):
    http = server.http("acme", server.acme_scim)
    # Off (the default): a user created through SCIM is mailed nothing.
    quiet = f"quiet-{uuid.uuid4().hex[:8]}"
    create(http, quiet)
    assert mailbox_mails(server, f"{quiet}@acme.test") == []
    server.cli("admin", "tenant", "policy", "--tenant", "acme", "--set", "scim_enrollment_mail=true")
    try:
        login_id = f"mailed-{uuid.uuid4().hex[:8]}"
        user = create(http, login_id)
        mails = mailbox_mails(server, f"{login_id}@acme.test")
        assert len(mails) == 1, "one mail"
        text = mails[0].get_body(preferencelist=("plain",)).get_content()
        assert "ワンタイムパスワード" in text, "in the user's language (Japanese by default)"
        url = re.search(r"(https://\S+/enroll/\S+)", text).group(1)
        otp = re.search(r"ワンタイムパスワード: (\S+)", text).group(1)
        done = enroll(server, url, otp)
        assert done.status_code == 200, done.text
        assert admin_user(server, login_id).json()["enrolled"] is True
        # A disabled user is mailed nothing: the ticket would be refused anyway.
        disabled = f"mailed-off-{uuid.uuid4().hex[:8]}"
        create(http, disabled, active=False)
        assert mailbox_mails(server, f"{disabled}@acme.test") == []
        trail = server.call("GET", "/tenants/acme/audit-events", token=server.acme_admin, params={"limit": 200}).json()["items"]
        mine = {e["action"] for e in trail if e["target"] == f"tenant:acme/user:{login_id}"}
        assert {"user.create", "user.enrollment-ticket", "user.enrollment-mail"} <= mine, mine
        assert user["active"] is True
    finally:
        server.cli("admin", "tenant", "policy", "--tenant", "acme", "--set", "scim_enrollment_mail=false")
