"""Parses Prometheus text exposition with the official Python client, as a monitoring system would.

Usage: parse_metrics.py FILE
Prints one JSON object: {"<sample name>{label=value,...}": value, ...}. Fails on malformed input.
"""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    samples = {}
    for family in text_string_to_metric_families(open(sys.argv[1]).read()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    print(json.dumps(samples, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
