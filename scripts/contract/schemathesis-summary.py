"""Summarises a schemathesis NDJSON report (--report ndjson) by check and operation.

    python3 scripts/contract/schemathesis-summary.py var/artifacts/schemathesis-admin/ndjson-*.ndjson

Prints one line per (failure code, operation) with how many distinct test cases failed it,
the response statuses seen, and one failure message with its request and response, so a
run's failures can be read without scrolling through the console output. Standard library
only: it runs with any python3.
"""

import base64
import collections
import json
import sys


def text_of(content):
    if not isinstance(content, dict):
        return ""
    if "$base64" in content:
        try:
            return base64.b64decode(content["$base64"]).decode("utf-8", "replace")
        except ValueError:
            return "<binary>"
    return json.dumps(content)


def summarise(path):
    failures = collections.OrderedDict()
    errors = []
    seed = None
    with open(path, encoding="utf-8") as report:
        for line in report:
            event = json.loads(line)
            if "Initialize" in event:
                seed = event["Initialize"].get("seed")
            if "NonFatalError" in event:
                error = event["NonFatalError"]
                errors.append(f"{error.get('label')}: {error.get('value', {}).get('message', error)}"[:300])
            if "ScenarioFinished" not in event:
                continue
            recorder = event["ScenarioFinished"]["recorder"]
            phase = event["ScenarioFinished"].get("phase")
            for case_id, checks in recorder.get("checks", {}).items():
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    failure = check["failure_info"]["failure"]
                    key = (failure.get("code"), failure.get("title"), check["name"], failure.get("operation"))
                    entry = failures.setdefault(
                        key, {"cases": set(), "statuses": collections.Counter(), "example": None, "phases": set()}
                    )
                    if case_id in entry["cases"]:
                        continue
                    entry["cases"].add(case_id)
                    entry["phases"].add(phase)
                    interaction = recorder.get("interactions", {}).get(case_id) or {}
                    response = interaction.get("response") or {}
                    request = interaction.get("request") or {}
                    entry["statuses"][response.get("status_code")] += 1
                    if entry["example"] is None:
                        entry["example"] = {
                            "message": (failure.get("message") or "").strip(),
                            "request": f"{request.get('method')} {request.get('uri')}",
                            "request_body": text_of(request.get("body"))[:300],
                            "status": response.get("status_code"),
                            "response_body": text_of(response.get("content"))[:400],
                        }
    return seed, failures, errors


def main():
    for path in sys.argv[1:]:
        seed, failures, errors = summarise(path)
        print(f"## {path} (seed {seed})")
        by_code = collections.Counter()
        for (code, title, _check, _op), entry in failures.items():
            by_code[(code, title)] += len(entry["cases"])
        print(f"{sum(by_code.values())} failing test cases over {len(failures)} (check, operation) pairs")
        for (code, title), n in by_code.most_common():
            ops = sorted({op for (c, _t, _ch, op) in failures if c == code})
            print(f"  {code} {title}: {n} cases, {len(ops)} operations")
        print()
        for (code, title, check, operation), entry in sorted(failures.items(), key=lambda kv: (kv[0][0] or "", kv[0][3] or "")):
            statuses = ", ".join(f"{s}×{n}" for s, n in entry["statuses"].most_common())
            example = entry["example"]
            print(f"{code} {title} [{check}] {operation}: {len(entry['cases'])} cases (HTTP {statuses}; {', '.join(sorted(p or '?' for p in entry['phases']))})")
            message = " | ".join(line for line in example["message"].splitlines() if line.strip())
            print(f"    {message[:400]}")
            print(f"    e.g. {example['request']} {example['request_body']}")
            print(f"      -> {example['status']} {example['response_body']}")
        if errors:
            print(f"\n{len(errors)} errors:")
            for error in errors:
                print(f"  {error}")
        print()


if __name__ == "__main__":
    main()
