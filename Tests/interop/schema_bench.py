"""Validations per second of Python's jsonschema-rs and jsonschema on the documents lgsp-schema-bench wrote.

Usage: schema_bench.py SCHEMA SECONDS DOCUMENT...
Prints one JSON object: {"jsonschema_rs": {"version", "rates": {name: per_s}}, "jsonschema": {...}}.
Each document is parsed once and each validator compiled once, as the Swift side does; only
`is_valid` is timed, for at least SECONDS per document and at least one call.
"""
import json
import sys
import time
from importlib.metadata import version


def rate(check, document, seconds):
    if not check(document):
        raise SystemExit(f"a benchmark document is invalid for {check}")
    calls = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds or calls == 0:
        check(document)
        calls += 1
        elapsed = time.perf_counter() - start
    return calls / elapsed


def main():
    schema_path, seconds, *paths = sys.argv[1:]
    seconds = float(seconds)
    with open(schema_path, encoding="utf-8") as handle:
        schema = json.load(handle)
    documents = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            documents[path] = json.load(handle)
    result = {}
    for name, package, make in [
        ("jsonschema_rs", "jsonschema-rs", lambda: __import__("jsonschema_rs").Draft202012Validator(schema)),
        ("jsonschema", "jsonschema", lambda: __import__("jsonschema").Draft202012Validator(schema)),
    ]:
        try:
            validator = make()
        except ImportError as error:
            result[name] = {"error": str(error)}
            continue
        result[name] = {
            "version": version(package),
            "rates": {path: rate(validator.is_valid, document, seconds) for path, document in documents.items()},
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
