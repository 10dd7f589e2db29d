#!/bin/sh
# Regenerates the seeds of the parser fuzz targets (csr, client_certificate, jwt) with
# OpenSSL, and the fixed trust they are checked against (idp/untrusted/src/fuzz/: two CA
# certificates and a JWK Set). Run from the repository root; the keys are made in a
# temporary directory and thrown away, so nothing can sign for them afterwards.
set -eu
C=idp/fuzz/corpus
F=idp/untrusted/src/fuzz
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p $C/csr $C/client_certificate $C/jwt $F
rm -f $C/csr/openssl-* $C/client_certificate/openssl-* $C/jwt/openssl-*
q() { "$@" >/dev/null 2>&1; }

# CSRs: each accepted key type, PEM and DER, and two refused key types.
q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $T/p256.key -subj "/CN=laptop" -out $C/csr/openssl-p256.pem
q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout $T/p384.key -subj "/CN=laptop/emailAddress=a@example.com" -outform DER -out $C/csr/openssl-p384.der
q openssl req -new -newkey ed25519 -nodes -keyout $T/ed.key -subj "/CN=phone" -out $C/csr/openssl-ed25519.pem
q openssl req -new -newkey rsa:2048 -nodes -keyout $T/rsa.key -subj "/CN=desk" -addext "extendedKeyUsage=clientAuth" -out $C/csr/openssl-rsa2048.pem
openssl req -in $C/csr/openssl-rsa2048.pem -outform DER -out $C/csr/openssl-rsa2048.der
q openssl req -new -newkey rsa:1024 -nodes -keyout $T/rsa1k.key -subj "/CN=old" -out $C/csr/openssl-refused-rsa1024.pem
q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 -nodes -keyout $T/k1.key -subj "/CN=k1" -outform DER -out $C/csr/openssl-refused-secp256k1.der
# Asks for what a device never gets (CA:TRUE, SANs, EKUs, keyCertSign): accepted, all ignored.
q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $T/greedy.key -subj "/CN=Evil Root/O=Attacker" -addext "basicConstraints=critical,CA:TRUE" -addext "subjectAltName=DNS:evil.example,email:ceo@example.com" -addext "extendedKeyUsage=serverAuth,codeSigning" -addext "keyUsage=critical,keyCertSign,cRLSign" -out $C/csr/openssl-p256-asks-ca-san-eku.pem
sed 's/CERTIFICATE REQUEST/NEW CERTIFICATE REQUEST/' $C/csr/openssl-p256.pem > $C/csr/openssl-p256-new-header.pem
/usr/bin/python3 -c "import sys; d = bytearray(open(sys.argv[1], 'rb').read()); d[-5] ^= 0x40; open(sys.argv[2], 'wb').write(d)" \
  $C/csr/openssl-p384.der $C/csr/openssl-refused-bad-signature.der

# Client certificates: two CAs (EC and RSA), leaves for TLS client authentication, one
# for servers only, the EC CA itself, and one from a stranger with the same issuer name.
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=email:alice@example.com\nauthorityKeyIdentifier=keyid\n' > $T/client.ext
printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:idp.example\n' > $T/server.ext
q openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $T/ca-ec.key -subj "/CN=Mamori Fuzz CA EC/O=Example" -days 36500 -out $T/ca-ec.pem
q openssl req -x509 -new -newkey rsa:2048 -nodes -keyout $T/ca-rsa.key -subj "/CN=Mamori Fuzz CA RSA" -days 36500 -out $T/ca-rsa.pem
q openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $T/other.key -subj "/CN=Mamori Fuzz CA EC/O=Example" -days 365 -out $T/other.pem
leaf() { # key CA extfile serial out
  openssl req -new -key $T/$1 -subj "/CN=Alice's laptop" -out $T/leaf.csr
  q openssl x509 -req -in $T/leaf.csr -CA $T/$2.pem -CAkey $T/$2.key -set_serial $4 -days 365 -extfile $T/$3 -outform DER -out $C/client_certificate/openssl-$5.der
}
leaf p256.key ca-ec client.ext 0x8a0000000000000000000000000000000000000001 ec-client
leaf rsa.key ca-rsa client.ext 0x0102030405 rsa-client
leaf ed.key ca-ec server.ext 77 ed25519-server-only
leaf p256.key other client.ext 5 foreign-same-issuer-name
openssl x509 -in $T/ca-ec.pem -outform DER -out $C/client_certificate/openssl-ca-ec.der
cat $T/ca-ec.pem $T/ca-rsa.pem > $F/client-cas.pem

# JWTs: ES256, RS256 and PS256 request objects, client assertions and ID tokens (as an
# id_token_hint), signed by keys whose public halves are the fixed JWK Set.
/usr/bin/python3 - "$T" "$C/jwt" "$F/jwks.json" <<'EOF'
import base64, json, subprocess, sys
t, out, jwks_path = sys.argv[1:]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def sh(*args, data=None):
    return subprocess.run(args, input=data, capture_output=True, check=True).stdout
def der_ints(der):
    # ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }
    i, ints = 2 if der[1] < 0x80 else 3, []
    while i < len(der):
        n = der[i + 1]; ints.append(int.from_bytes(der[i + 2:i + 2 + n], "big")); i += 2 + n
    return ints
text = sh("openssl", "ec", "-in", f"{t}/p256.key", "-pubout", "-outform", "DER")
point = text[-65:]
modulus = sh("openssl", "rsa", "-in", f"{t}/rsa.key", "-noout", "-modulus").decode().strip().split("=")[1]
jwks = {"keys": [
    {"kty": "EC", "crv": "P-256", "kid": "ec1", "use": "sig", "x": b64(point[1:33]), "y": b64(point[33:])},
    {"kty": "RSA", "kid": "rsa1", "n": b64(bytes.fromhex(modulus)), "e": "AQAB"},
]}
open(jwks_path, "w").write(json.dumps(jwks, indent=1) + "\n")
def sign(alg, kid, claims):
    header = {"alg": alg, "typ": "JWT"} | ({"kid": kid} if kid else {})
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}".encode()
    if alg == "ES256":
        r, s = der_ints(sh("openssl", "dgst", "-sha256", "-sign", f"{t}/p256.key", data=signing_input))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        extra = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"] if alg == "PS256" else []
        sig = sh("openssl", "dgst", "-sha256", "-sign", f"{t}/rsa.key", *extra, data=signing_input)
    return signing_input.decode() + "." + b64(sig)
issuer, client = "https://idp.example/t/demo", "rp-1"
tokens = {
    "request-object-es256": sign("ES256", "ec1", {"iss": client, "aud": issuer, "exp": 1900000000, "response_type": "code", "client_id": client, "redirect_uri": "https://rp.example/cb", "scope": "openid email", "state": "s", "nonce": "n", "claims": {"id_token": {"acr": {"essential": True, "values": ["urn:mamori:acr:certificate"]}}}}),
    "client-assertion-rs256": sign("RS256", "rsa1", {"iss": client, "sub": client, "aud": issuer + "/oidc/token", "jti": "j1", "exp": 1900000000, "iat": 1800000000}),
    "client-assertion-ps256-no-kid": sign("PS256", None, {"iss": client, "sub": client, "aud": [issuer + "/oidc/token"], "jti": "j2", "exp": 1900000000}),
    "id-token-hint-es256": sign("ES256", "ec1", {"iss": issuer, "sub": "b7f0c5a2-1d1e-4e53-9a51-08c1f2a6d3e9", "aud": client, "exp": 1900000000, "iat": 1800000000, "auth_time": 1800000000, "nonce": "n", "acr": "urn:mamori:acr:certificate", "amr": ["swk"], "sid": "s1"}),
    "alg-none": b64(b'{"alg":"none"}') + "." + b64(b'{"sub":"x"}') + ".",
    "hostile-jwks-in-claims": sign("ES256", "ec1", {"iss": client, "jwks": {"keys": [{"kty": "RSA", "n": "AQAB", "e": b64(b"\xff" * 64)}, {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}}),
}
for name, token in tokens.items():
    open(f"{out}/openssl-{name}", "w").write(token)
EOF
