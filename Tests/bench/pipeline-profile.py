#!/usr/bin/env python3
"""Where the pipeline's CPU goes, by part of the gateway (and the mocks beside it).

Runs `lgsp-bench --observations N --backlog 0` from each checkout given (release builds, built
beforehand), records it with `perf record -g` only while its pipeline runs (from the `deliver`
line to the `pipeline` line), and prints each part's CPU microseconds per observation, side by
side. A sample goes to the first part, in the order below, that any frame of its stack names.

    python3 Tests/bench/pipeline-profile.py /path/to/before-checkout /path/to/this-checkout

Needs `perf` (Debian's linux-perf) and swift-demangle (in the Swift toolchain).
"""
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

OBSERVATIONS = 100_000
FREQUENCY = 4000
PARTS = [
    ("decide (ledger)", r"FigureRevisions"),
    ("lookup (ledger)", r"latestRevisions|loadLedgerKeys"),
    ("record (ledger)", r"recordFigures|FigureInserter"),
    ("mock centre", r"MockCentral"),
    ("mock sources", r"MockProvincialSource|MockEducation|MockSystems|MockDataset"),
    ("sign", r"PullRunner\.sign|JWSSigner|PullRunner\.reportID|ReportEnvelope"),
    ("validate", r"ContractSet\.check|JSONSchemaValidator|SemanticRules"),
    ("map", r"RecordMapping"),
    ("decode", r"HTTPAdapter\.decode|JSONParser"),
    ("pull, other", r"PullRunner|HTTPAdapter|PullService"),
    ("forward", r"Forwarder"),
    ("store, other (SQLite's own frames have no unwind info)", r"SQLiteStore|sqlite3|SerializedDatabase|GRDB|pwrite|fdatasync|pread"),
    ("TLS", r"NIOSSL|BoringSSL"),
    ("HTTP", r"Hummingbird|HTTPClient|NIOHTTP|HTTPTransport"),
    ("NIO", r"NIO|epoll"),
    ("concurrency runtime", r"swift_task|swift_job|Executor|dispatch"),
]


def record(checkout, output):
    bench = subprocess.Popen(
        [os.path.join(checkout, ".build/release/lgsp-bench"), "--observations", str(OBSERVATIONS), "--backlog", "0"],
        cwd=checkout, stdout=subprocess.PIPE, text=True, bufsize=1)
    perf, line_seen = None, ""
    for line in bench.stdout:
        if line.startswith("deliver"):
            perf = subprocess.Popen(
                ["perf", "record", "-F", str(FREQUENCY), "-g", "-p", str(bench.pid), "-o", output],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elif line.startswith("pipeline ") and perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
            perf, line_seen = None, line.strip()
    bench.wait()
    return line_seen


def stacks(data):
    text = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym"], capture_output=True, text=True).stdout
    result, current = [], []
    for line in text.splitlines() + [""]:
        if line.strip():
            parts = line.split(None, 1)
            current.append(parts[1] if len(parts) > 1 else parts[0])
        elif current:
            result.append(current)
            current = []
    names = sorted({frame for stack in result for frame in stack})
    demangled = subprocess.run(
        [shutil.which("swift-demangle") or "/opt/swift/usr/bin/swift-demangle", "--simplified"],
        input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
    readable = dict(zip(names, demangled))
    return [[readable.get(frame, frame) for frame in stack] for stack in result]


def parts(data):
    patterns = [(name, re.compile(pattern)) for name, pattern in PARTS]
    counts, total = collections.Counter(), 0
    for stack in stacks(data):
        total += 1
        counts[next((name for name, pattern in patterns if any(pattern.search(f) for f in stack)), "other")] += 1
    return counts, total


def main():
    checkouts = sys.argv[1:]
    if not checkouts:
        sys.exit(__doc__)
    per_sample = 1e6 / FREQUENCY / OBSERVATIONS
    columns = []
    with tempfile.TemporaryDirectory() as directory:
        for number, checkout in enumerate(checkouts):
            data = os.path.join(directory, f"{number}.data")
            print(f"{checkout}: {record(checkout, data)}", file=sys.stderr)
            columns.append(parts(data))
    names = [name for name, _ in PARTS] + ["other"]
    print("part".ljust(56) + "".join(f"{os.path.basename(c.rstrip('/')) or c:>14}" for c in checkouts))
    for name in names + ["all"]:
        values = [(total if name == "all" else counts[name]) * per_sample for counts, total in columns]
        print(name.ljust(56) + "".join(f"{value:14.2f}" for value in values))


if __name__ == "__main__":
    main()
