"""Reads a /metrics page on standard input with prometheus_client's text-format parser (the
one Prometheus's Python client ships) and checks what a scraper relies on; exits 1 with the
reasons otherwise. Run by test_monitor_metrics.c with the virtualenv's python
(.venv-tests/, where scripts/setup.sh installs prometheus_client).

Checks: the page parses; every family is declared once (# TYPE) and its samples follow its
declaration and nothing else's; a family's type is the one the caller requires (arguments
NAME=TYPE); each histogram's buckets are cumulative per label set, end with +Inf, and
+Inf equals _count. Prints "families=N samples=M" when all hold.
"""

import re
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    page = sys.stdin.read()
    problems = []
    declared = {}
    current = None
    for number, line in enumerate(page.splitlines(), 1):
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            if name in declared:
                problems.append(f"line {number}: {name} declared twice")
            declared[name] = kind
            current = name
        elif line and not line.startswith("#"):
            sample = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            family = sample
            for suffix in ("_bucket", "_sum", "_count"):
                if declared.get(current) == "histogram" and sample == current + suffix:
                    family = current
            if family != current:
                problems.append(f"line {number}: {sample} outside its family ({current})")

    families = list(text_string_to_metric_families(page))
    samples = sum(len(family.samples) for family in families)
    types = {family.name: family.type for family in families}

    for requirement in sys.argv[1:]:
        name, kind = requirement.split("=")
        # the parser names a counter family without its _total suffix
        parsed = types.get(name, types.get(name.removesuffix("_total")))
        if parsed is None:
            problems.append(f"{name}: missing")
        elif parsed != kind:
            problems.append(f"{name}: type {parsed}, not {kind}")

    for family in families:
        if family.type != "histogram":
            continue
        series = {}
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            entry = series.setdefault(labels, {"buckets": [], "count": None})
            if sample.name.endswith("_bucket"):
                entry["buckets"].append((sample.labels["le"], sample.value))
            elif sample.name.endswith("_count"):
                entry["count"] = sample.value
        for labels, entry in series.items():
            values = [value for _, value in entry["buckets"]]
            if values != sorted(values):
                problems.append(f"{family.name}{dict(labels)}: buckets not cumulative")
            if not entry["buckets"] or entry["buckets"][-1][0] != "+Inf":
                problems.append(f"{family.name}{dict(labels)}: no +Inf bucket last")
            elif entry["buckets"][-1][1] != entry["count"]:
                problems.append(f"{family.name}{dict(labels)}: +Inf is not _count")

    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"families={len(families)} samples={samples}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
