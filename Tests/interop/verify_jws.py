"""Independent check of the gateway's signatures with Python's joserfc and cryptography.

Usage: verify_jws.py JWK_FILE JWS_FILE...
Each JWS file holds one flattened JSON serialization. Exits non-zero on the first failure.
"""
import base64
import json
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jws
from joserfc.jwk import JWKRegistry


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_with_cryptography(key, alg: str, signature: bytes, signing_input: bytes) -> None:
    """The same check again with the cryptography package alone; raises on a bad signature."""
    public = key.public_key  # joserfc exposes the cryptography key object itself
    if alg in ("Ed25519", "EdDSA"):
        public.verify(signature, signing_input)
    elif alg == "ES256":
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        public.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    elif alg == "PS256":
        public.verify(signature, signing_input, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    elif alg == "RS256":
        public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise ValueError(f"unexpected alg {alg}")


def main() -> int:
    jwk = json.load(open(sys.argv[1]))
    key = JWKRegistry.import_key(jwk)
    verified = 0
    for path in sys.argv[2:]:
        document = json.load(open(path))
        header = json.loads(b64url_decode(document["protected"]))
        if header.get("kid") != key.thumbprint():
            print(f"{path}: kid {header.get('kid')} is not the RFC 7638 thumbprint {key.thumbprint()}")
            return 1
        result = jws.deserialize_json(document, key, algorithms=[header["alg"]])
        report = json.loads(result.payload)
        signing_input = (document["protected"] + "." + document["payload"]).encode()
        verify_with_cryptography(key, header["alg"], b64url_decode(document["signature"]), signing_input)
        print(f"{path}: {header['alg']} verified, report {report.get('report_id', '?')}")
        verified += 1
    print(f"verified {verified}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
