#!/usr/bin/env python3
"""Regenerate ``packages/core/src/patrec/core/inventory.json`` from ``INVENTORY.md``.

``INVENTORY.md`` (kept in ``shared/`` beside the repository) is the authoritative placement of
every paper: its package, its slug, its paper id ``seed/number``, the line where it starts in its
seed file and its title. patrec-core ships the same table as JSON so that installed code (the
method tables, ``patrec list``, the package tests) knows every planned method.

Usage::

    python scripts/update_inventory.py [PATH/TO/INVENTORY.md]

The default path is ``../shared/INVENTORY.md`` relative to the repository root.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "INVENTORY.md"
TARGET = ROOT / "packages" / "core" / "src" / "patrec" / "core" / "inventory.json"
EXPECTED = 106

HEADING = re.compile(r"^##\s+(?P<package>[a-z0-9-]+)\s+\((?P<count>\d+)\)\s*$")
ROW = re.compile(
    r"^\|\s*`(?P<name>[a-z0-9-]+/[a-z0-9_]+)`\s*\|\s*(?P<paper>\d{3}/\d{2})\s*\|"
    r"\s*(?P<line>\d+)\s*\|\s*(?P<title>.+?)\s*\|\s*$"
)


def parse(text: str) -> list[dict[str, object]]:
    """The inventory rows of ``text``, in document order; checks each section's count."""
    entries: list[dict[str, object]] = []
    section: str | None = None
    counts: dict[str, int] = {}
    declared: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        heading = HEADING.match(line)
        if heading:
            section = heading["package"]
            declared[section] = int(heading["count"])
            counts.setdefault(section, 0)
            continue
        row = ROW.match(line)
        if not row:
            continue
        package, slug = row["name"].split("/", 1)
        if package != section:
            raise SystemExit(
                f"INVENTORY.md:{lineno}: {row['name']} listed under section {section!r}"
            )
        counts[package] += 1
        entries.append(
            {
                "name": row["name"],
                "package": package,
                "slug": slug,
                "paper": row["paper"],
                "line": int(row["line"]),
                "title": row["title"],
            }
        )
    for package, n in declared.items():
        if counts.get(package, 0) != n:
            raise SystemExit(
                f"INVENTORY.md: section {package} declares {n} methods, lists {counts.get(package)}"
            )
    names = [e["name"] for e in entries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SystemExit(f"INVENTORY.md: duplicate method names: {', '.join(map(str, dupes))}")
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--output", type=Path, default=TARGET)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the JSON is out of date, write nothing"
    )
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"error: inventory not found at {args.source}", file=sys.stderr)
        return 1
    entries = parse(args.source.read_text(encoding="utf-8"))
    assert len(entries) == EXPECTED, f"expected {EXPECTED} inventory entries, got {len(entries)}"
    text = json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != text:
            print(f"{args.output} is out of date: run scripts/update_inventory.py", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date ({len(entries)} methods)")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {len(entries)} methods to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
