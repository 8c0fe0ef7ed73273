"""Signs a payload with joserfc, so the gateway's verifier can be checked against it.

Usage: sign_jws.py ALG PAYLOAD_FILE OUT_DIR
Writes OUT_DIR/jwks.json (the public key, kid = RFC 7638 thumbprint) and OUT_DIR/jws.json
(a flattened JSON JWS of the payload).
"""
import json
import sys

from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey

KEYS = {
    "Ed25519": lambda: OKPKey.generate_key("Ed25519"),
    "EdDSA": lambda: OKPKey.generate_key("Ed25519"),
    "ES256": lambda: ECKey.generate_key("P-256"),
    "PS256": lambda: RSAKey.generate_key(2048),
    "RS256": lambda: RSAKey.generate_key(2048),
}


def main() -> int:
    alg, payload_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    key = KEYS[alg]()
    kid = key.thumbprint()
    payload = open(payload_path, "rb").read()
    document = jws.serialize_json({"protected": {"alg": alg, "kid": kid}}, payload, key, algorithms=[alg])
    public = key.as_dict(private=False)
    public["kid"] = kid
    json.dump({"keys": [public]}, open(f"{out}/jwks.json", "w"))
    json.dump(document, open(f"{out}/jws.json", "w"))
    print(f"signed with {alg}, kid {kid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
