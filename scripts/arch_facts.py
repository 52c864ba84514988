"""Count the architecture facts issue 18 is judged by, at any commit: ``python scripts/arch_facts.py [REV ...]``.

Reads the files of each revision straight from git (no checkout), so two commits are compared side by side:

* backward imports: ``ignore_imports`` lines of ``.importlinter``'s flow (layers) contract, and the other
  contracts' exceptions apart;
* imports inside functions (the cycle dodges of a missing composition root);
* hand-typed grid-scope checks (``.startswith(`` on a scope or grid code, instead of ``geo.scope.within``);
* ``type: ignore`` comments;
* places that build a service (``CaseService(``, ``GridRouter(``, ``FigureBook(``) outside tests;
* hand-written threads (``threading.Thread(`` outside the shared base ``gridwatch/loop.py``);
* modules that mint Redis keys (a ``"gw:`` literal);
* copies of shared helpers (earth radius constants, haversine functions: one of each is the goal).
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator

PACKAGES = ("centre", "gridwatch", "geo", "ingest", "vision", "alerts", "dashboard", "patrol", "fleet", "demo")
FACTS = ("backward imports (the flow contract's ignore_imports)", "other contract exceptions (ignore_imports)",
         "imports inside functions",
         "hand-typed scope checks", "type: ignore", "service constructions", "hand-written threads",
         "modules minting gw: keys", "earth radius constants + haversine functions")
GEOMETRY = re.compile(r"^(EARTH_RADIUS\w*\s*=|def \w*haversine)", re.M)
SCOPE_CHECK = re.compile(r"\.startswith\(\s*\w*(scope|grid)\w*\s*\)")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def _sources(rev: str) -> Iterator[tuple[str, str]]:
    for path in _git("ls-tree", "-r", "--name-only", rev).splitlines():
        if path.endswith(".py") and path.split("/", 1)[0] in PACKAGES:
            yield path, _git("show", f"{rev}:{path}")


def _imports_in_functions(tree: ast.AST) -> int:
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            count += sum(isinstance(inner, ast.Import | ast.ImportFrom) for inner in ast.walk(node))
    return count


def facts(rev: str) -> dict[str, int]:
    try:
        contracts = _git("show", f"{rev}:.importlinter")
    except subprocess.CalledProcessError:
        contracts = ""
    counts = dict.fromkeys(FACTS, 0)
    contract, in_ignores = "", False
    for line in contracts.splitlines():
        if line.startswith("[importlinter:contract:"):
            contract = line.strip()
        if line.strip().startswith("ignore_imports"):
            in_ignores = True
            continue
        if in_ignores and line.startswith((" ", "\t")) and line.strip() and not line.strip().startswith("#"):
            counts[FACTS[0] if contract == "[importlinter:contract:flow]" else FACTS[1]] += 1
        elif line.strip() and not line.startswith((" ", "\t")):
            in_ignores = False
    for path, text in _sources(rev):
        counts["imports inside functions"] += _imports_in_functions(ast.parse(text))
        if path != "geo/scope.py":  # the one rule itself
            counts["hand-typed scope checks"] += len(SCOPE_CHECK.findall(text))
        counts["type: ignore"] += text.count("type: ignore")
        counts["service constructions"] += len(re.findall(r"\b(CaseService|GridRouter|FigureBook)\(", text))
        if path != "gridwatch/loop.py":
            counts["hand-written threads"] += text.count("threading.Thread(")
        counts["modules minting gw: keys"] += '"gw:' in text
        counts["earth radius constants + haversine functions"] += len(GEOMETRY.findall(text))
    return counts


def main(argv: list[str]) -> int:
    revs = argv or ["HEAD"]
    table = {rev: facts(rev) for rev in revs}
    names = list(next(iter(table.values())))
    lines = ["| fact | " + " | ".join(revs) + " |", "| --- |" + " --- |" * len(revs)]
    lines += [f"| {name} | " + " | ".join(str(table[rev][name]) for rev in revs) + " |" for name in names]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
