#!/usr/bin/python3
"""A service provider on pysaml2: signed AuthnRequests over HTTP-POST (XML signature made
with xmlsec1), signed Response and Assertion required, unsolicited responses allowed,
signed logout over HTTP-Redirect.

  /usr/bin/python3 sp_pysaml2.py --idp-metadata IDP.xml --tls-cert server.pem \
      --tls-key server.key --sp-cert sp.pem --sp-key sp.key --out DIR [--encrypted]

Routes: /metadata, /login?force=1&passive=1&relay=X, /acs, /logout, /slo. Prints
`ready https://localhost:PORT` once listening.
"""

import argparse
import re
import sys

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

import common


def main():
    p = argparse.ArgumentParser()
    for name in ["idp-metadata", "tls-cert", "tls-key", "sp-cert", "sp-key", "out"]:
        p.add_argument("--" + name, required=True)
    p.add_argument("--encrypted", action="store_true")
    args = p.parse_args()
    rec = common.Recorder(args.out)
    idp_entity = re.search(r'entityID="([^"]+)"', open(args.idp_metadata).read()).group(1)
    state = {"outstanding": {}, "name_id": None}

    def routes(base):
        conf = SPConfig()
        conf.load(
            {
                "entityid": f"{base}/metadata",
                "key_file": args.sp_key,
                "cert_file": args.sp_cert,
                "encryption_keypairs": [{"key_file": args.sp_key, "cert_file": args.sp_cert}],
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "metadata": {"local": [args.idp_metadata]},
                "accepted_time_diff": 60,
                "allow_unknown_attributes": True,
                "service": {
                    "sp": {
                        "name": "pysaml2 test SP",
                        "endpoints": {
                            "assertion_consumer_service": [(f"{base}/acs", BINDING_HTTP_POST)],
                            "single_logout_service": [(f"{base}/slo", BINDING_HTTP_REDIRECT)],
                        },
                        "authn_requests_signed": True,
                        "logout_requests_signed": True,
                        "logout_responses_signed": True,
                        "want_response_signed": True,
                        "want_assertions_signed": True,
                        "allow_unsolicited": True,
                        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                        "name_id_format_allow_create": True,
                        "signing_algorithm": SIG_RSA_SHA256,
                        "digest_algorithm": DIGEST_SHA256,
                        "required_attributes": ["uid", "mail"],
                    }
                },
            }
        )
        client = Saml2Client(config=conf)

        def metadata(req):
            return common.Response(200, create_metadata_string(None, config=conf).decode(), "application/samlmetadata+xml")

        def login(req):
            reqid, info = client.prepare_for_authenticate(
                entityid=idp_entity,
                relay_state=req.query.get("relay", ""),
                binding=BINDING_HTTP_POST,
                sign=True,
                sigalg=SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA256,
                force_authn="true" if req.query.get("force") == "1" else None,
                is_passive="true" if req.query.get("passive") == "1" else None,
            )
            state["outstanding"][reqid] = "/"
            return common.Response(200, info["data"])

        def acs(req):
            xml_file = rec.message("response", req.form.get("SAMLResponse", ""))
            record = {"event": "acs", "file": xml_file, "relay_state": req.form.get("RelayState")}
            try:
                resp = client.parse_authn_request_response(
                    req.form["SAMLResponse"], BINDING_HTTP_POST, outstanding=state["outstanding"]
                )
                statement = resp.assertion.authn_statement[0]
                record.update(
                    ok=True,
                    nameid=resp.name_id.text,
                    nameid_format=resp.name_id.format,
                    session_index=statement.session_index,
                    attributes=resp.ava,
                    authn_contexts=[statement.authn_context.authn_context_class_ref.text],
                    in_response_to=resp.in_response_to,
                )
                state["name_id"] = resp.name_id
            except Exception as err:  # pysaml2 reports failures as exceptions
                record.update(ok=False, errors=[type(err).__name__], reason=str(err))
            rec.outcome(record)
            return common.result_page(record)

        def logout(req):
            responses = client.global_logout(state["name_id"])
            for _, (binding, info) in responses.items():
                location = dict(info["headers"]).get("Location")
                return common.redirect(location)
            return common.result_page({"event": "logout", "ok": False, "errors": ["nothing to log out"]})

        def slo(req):
            if "SAMLRequest" in req.query:
                xml_file = rec.message("logout-request", req.query["SAMLRequest"], deflated=True)
                raw = open(xml_file).read()
                record = {"event": "logout-request", "file": xml_file}
                try:
                    info = client.handle_logout_request(
                        req.query["SAMLRequest"],
                        state["name_id"],
                        BINDING_HTTP_REDIRECT,
                        sign=True,
                        sign_alg=SIG_RSA_SHA256,
                        relay_state=req.query.get("RelayState", ""),
                    )
                    record.update(ok=True, name_id_matched=state["name_id"] is not None and state["name_id"].text in raw)
                    state["name_id"] = None
                    rec.outcome(record)
                    return common.redirect(dict(info["headers"])["Location"])
                except Exception as err:
                    record.update(ok=False, errors=[type(err).__name__], reason=str(err))
                    rec.outcome(record)
                    return common.result_page(record)
            xml_file = rec.message("logout-response", req.query.get("SAMLResponse", ""), deflated=True)
            raw = open(xml_file).read()
            record = {"event": "logout-response", "file": xml_file, "status": re.findall(r'StatusCode Value="([^"]+)"', raw)}
            try:
                resp = client.parse_logout_request_response(req.query["SAMLResponse"], BINDING_HTTP_REDIRECT)
                client.handle_logout_response(resp)
                record.update(ok=True)
            except Exception as err:
                record.update(ok=False, errors=[type(err).__name__], reason=str(err))
            rec.outcome(record)
            return common.result_page(record)

        return {"/metadata": metadata, "/login": login, "/acs": acs, "/logout": logout, "/slo": slo}

    common.serve(routes, args.tls_cert, args.tls_key)


if __name__ == "__main__":
    sys.exit(main())
