#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets from real service-provider libraries:
the AuthnRequests and LogoutRequests that python3-saml (OneLogin) and pysaml2 send, as
the three shapes the harness reads (mamori::saml::fuzzing): raw XML, an HTTP-Redirect
query string (DEFLATE + base64, with its query signature) and an HTTP-POST form body
(base64, XML-signed).

  /usr/bin/python3 idp/fuzz/make_seeds.py      # needs python3-onelogin-saml2, python3-pysaml2, xmlsec1

Keys are generated on each run, so the files differ between runs; commit them once.
"""

import base64
import html
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

HERE = os.path.dirname(os.path.abspath(__file__))
IDP = "https://idp.example/t/demo/saml"
SP = "https://sp.example"


def keypair(tmp, name):
    key, cert = os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "3650", "-subj", "/CN=" + name], check=True, capture_output=True)
    return key, cert


def pem_body(path):
    return "".join(l for l in open(path).read().splitlines() if "-----" not in l)


def idp_metadata(cert_b64):
    ep = "".join(
        f'<md:{kind} Binding="{b}" Location="{IDP}/{path}"/>'
        for kind, path in [("SingleLogoutService", "slo"), ("SingleSignOnService", "sso")]
        for b in [C.BINDING_HTTP_REDIRECT, C.BINDING_HTTP_POST])
    keys = "".join(
        f'<md:KeyDescriptor use="{use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}'
        f'</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>' for use in ["signing", "encryption"])
    return (f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{IDP}/metadata">'
            f'<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            f'{keys}{ep}<md:NameIDFormat>{C.NAMEID_PERSISTENT}</md:NameIDFormat></md:IDPSSODescriptor>'
            f'</md:EntityDescriptor>')


def query_of(url):
    return urllib.parse.urlsplit(url).query


def form_of(page):
    """The urlencoded body a browser POSTs from an auto-submit page."""
    fields = re.findall(r'name="(SAMLRequest|RelayState)"\s+value="([^"]*)"', page)
    return urllib.parse.urlencode([(k, html.unescape(v)) for k, v in fields])


def onelogin(tmp, idp_cert, seeds):
    key, cert = keypair(tmp, "onelogin")
    for encrypted in [False, True]:
        settings = {
            "strict": True,
            "sp": {
                "entityId": f"{SP}/onelogin/metadata",
                "assertionConsumerService": {"url": f"{SP}/onelogin/acs", "binding": C.BINDING_HTTP_POST},
                "singleLogoutService": {"url": f"{SP}/onelogin/slo", "binding": C.BINDING_HTTP_REDIRECT},
                "NameIDFormat": C.NAMEID_PERSISTENT,
                "x509cert": pem_body(cert),
                "privateKey": open(key).read(),
            },
            "idp": {
                "entityId": f"{IDP}/metadata",
                "singleSignOnService": {"url": f"{IDP}/sso", "binding": C.BINDING_HTTP_REDIRECT},
                "singleLogoutService": {"url": f"{IDP}/slo", "binding": C.BINDING_HTTP_REDIRECT},
                "x509cert": idp_cert,
            },
            "security": {
                "authnRequestsSigned": True,
                "logoutRequestSigned": True,
                "nameIdEncrypted": encrypted,
                "signatureAlgorithm": C.RSA_SHA256,
                "digestAlgorithm": C.SHA256,
                "requestedAuthnContext": [C.AC_X509, C.AC_PASSWORD_PROTECTED] if encrypted else False,
                "requestedAuthnContextComparison": "minimum",
            },
        }
        request = {"https": "on", "http_host": "sp.example", "script_name": "/onelogin/login", "get_data": {}, "post_data": {}}
        auth = OneLogin_Saml2_Auth(request, settings)
        tag = "enc" if encrypted else "plain"
        url = auth.login(return_to=f"{SP}/onelogin/after", force_authn=encrypted, is_passive=False)
        seeds.append(("authn_request", f"onelogin-{tag}-redirect", query_of(url)))
        seeds.append(("authn_request", f"onelogin-{tag}-xml", auth.get_last_request_xml()))
        url = auth.logout(name_id="u-1f2e3d", session_index="_s7a8b9", name_id_format=C.NAMEID_PERSISTENT,
                          nq=f"{IDP}/metadata", spnq=f"{SP}/onelogin/metadata")
        seeds.append(("logout_request", f"onelogin-{tag}-redirect", query_of(url)))
        seeds.append(("logout_request", f"onelogin-{tag}-xml", auth.get_last_request_xml()))


def pysaml2(tmp, idp_cert_path, seeds):
    key, cert = keypair(tmp, "pysaml2")
    metadata = os.path.join(tmp, "idp.xml")
    open(metadata, "w").write(idp_metadata(pem_body(idp_cert_path)))
    conf = SPConfig()
    conf.load({
        "entityid": f"{SP}/pysaml2/metadata",
        "key_file": key,
        "cert_file": cert,
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "metadata": {"local": [metadata]},
        "service": {"sp": {
            "endpoints": {
                "assertion_consumer_service": [(f"{SP}/pysaml2/acs", BINDING_HTTP_POST)],
                "single_logout_service": [(f"{SP}/pysaml2/slo", BINDING_HTTP_REDIRECT)],
            },
            "authn_requests_signed": True,
            "logout_requests_signed": True,
            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            "name_id_format_allow_create": True,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
        }},
    })
    client = Saml2Client(config=conf)
    for binding, tag in [(BINDING_HTTP_POST, "post"), (BINDING_HTTP_REDIRECT, "redirect")]:
        _, info = client.prepare_for_authenticate(
            entityid=f"{IDP}/metadata", relay_state="/after", binding=binding, sign=True,
            sigalg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256, force_authn="true")
        if binding == BINDING_HTTP_POST:
            body = form_of(info["data"])
            seeds.append(("authn_request", "pysaml2-post", body))
            xml = base64.b64decode(urllib.parse.parse_qs(body)["SAMLRequest"][0]).decode()
            seeds.append(("authn_request", "pysaml2-post-xml", xml))
        else:
            seeds.append(("authn_request", "pysaml2-redirect", query_of(dict(info["headers"])["Location"])))
    name_id = NameID(format=NAMEID_FORMAT_PERSISTENT, text="u-1f2e3d", name_qualifier=f"{IDP}/metadata")
    for binding, tag in [(BINDING_HTTP_POST, "post"), (BINDING_HTTP_REDIRECT, "redirect")]:
        sign = binding == BINDING_HTTP_POST  # Redirect signs the query, not the XML
        _, request = client.create_logout_request(
            f"{IDP}/slo", f"{IDP}/metadata", name_id=name_id, session_indexes=["_s7a8b9"],
            sign=sign, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
        info = client.apply_binding(binding, str(request), f"{IDP}/slo", relay_state="/bye", sign=True,
                                    sigalg=SIG_RSA_SHA256)
        if binding == BINDING_HTTP_POST:
            seeds.append(("logout_request", "pysaml2-post", form_of(info["data"])))
            seeds.append(("logout_request", "pysaml2-post-xml", str(request)))
        else:
            seeds.append(("logout_request", "pysaml2-redirect", query_of(dict(info["headers"])["Location"])))


def main():
    seeds = []
    with tempfile.TemporaryDirectory() as tmp:
        _, idp_cert = keypair(tmp, "idp")
        onelogin(tmp, pem_body(idp_cert), seeds)
        pysaml2(tmp, idp_cert, seeds)
    for target, name, data in seeds:
        path = os.path.join(HERE, "corpus", target, name)
        with open(path, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        print(path, len(data))


if __name__ == "__main__":
    sys.exit(main())
