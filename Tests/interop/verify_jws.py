"""Independent check of the gateway's signatures with Python's joserfc and cryptography.

Usage: verify_jws.py JWK_FILE JWS_FILE...
Each JWS file holds one flattened JSON serialization. Exits non-zero on the first failure.
"""
import base64
import json
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jws
from joserfc.jwk import OKPKey


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main() -> int:
    jwk = json.load(open(sys.argv[1]))
    key = OKPKey.import_key(jwk)
    raw_public = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    verified = 0
    for path in sys.argv[2:]:
        document = json.load(open(path))
        header = json.loads(b64url_decode(document["protected"]))
        if header.get("kid") != key.thumbprint():
            print(f"{path}: kid {header.get('kid')} is not the RFC 7638 thumbprint {key.thumbprint()}")
            return 1
        result = jws.deserialize_json(document, key, algorithms=[header["alg"]])
        report = json.loads(result.payload)
        # cryptography, on its own, over the JWS signing input.
        signing_input = (document["protected"] + "." + document["payload"]).encode()
        raw_public.verify(b64url_decode(document["signature"]), signing_input)
        print(f"{path}: {header['alg']} verified, report {report.get('report_id', '?')}")
        verified += 1
    print(f"verified {verified}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
