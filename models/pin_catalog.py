"""Pin the model catalog (pysrc/hearth/llm/files/catalog.py) to exact Hub commits, sizes and sha256.

Needs access to huggingface.co (which the machine this was written on lacks):

    .venv/bin/python models/pin_catalog.py            # pin every catalog repo at its current "main"
    .venv/bin/python models/pin_catalog.py --check    # only compare the pins with the Hub

For each repository in the catalog it asks the Hub API for the commit of `main`, then lists the tree at
that commit (`/api/models/<repo>/tree/<commit>?recursive=1`): large (LFS) files carry their sha256 as
`lfs.oid` and their size; small files' `oid` is a git blob id, so those are downloaded and hashed.
The result replaces the PINS block in catalog.py; review the diff and commit it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "pysrc"))

from hearth.llm.files import catalog  # noqa: E402

HUB = "https://huggingface.co"
CATALOG_SOURCE = REPO_ROOT / "pysrc" / "hearth" / "llm" / "catalog.py"
BLOCK = re.compile(r"(# --- pins \(written by models/pin_catalog.py\) ---\n)(.*?)(# --- end of pins ---)", re.S)


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def sha256_of_url(url: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with urllib.request.urlopen(url, timeout=60) as response:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def pins_for(repo: str, paths: set[str]) -> dict:
    commit = get_json(f"{HUB}/api/models/{repo}/revision/main")["sha"]
    tree = {e["path"]: e for e in get_json(f"{HUB}/api/models/{repo}/tree/{commit}?recursive=1") if e["type"] == "file"}
    missing = sorted(paths - set(tree))
    if missing:
        raise SystemExit(f"{repo}@{commit} has no {', '.join(missing)}: update the catalog's file names")
    files = {}
    for path in sorted(paths):
        entry = tree[path]
        if entry.get("lfs"):
            files[path] = [int(entry["lfs"]["size"]), entry["lfs"]["oid"]]
        else:
            files[path] = list(sha256_of_url(f"{HUB}/{repo}/resolve/{commit}/{path}"))
        print(f"  {path}: {files[path][0]:,} bytes, sha256 {files[path][1]}")
    return {"revision": commit, "files": files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the Hub, write nothing")
    args = parser.parse_args()
    wanted: dict[str, set[str]] = {}
    for model in catalog.entries():
        wanted.setdefault(model.repo, set()).update(f.path for f in model.files)
    pins = {}
    for repo, paths in wanted.items():
        print(repo)
        pins[repo] = pins_for(repo, paths)
    if args.check:
        same = pins == catalog.PINS
        print("pins match the Hub" if same else "pins differ from the Hub (run without --check to update)")
        raise SystemExit(0 if same else 1)
    source = CATALOG_SOURCE.read_text()
    block = f"PINS: dict[str, dict] = {json.dumps(pins, indent=4)}\n"
    CATALOG_SOURCE.write_text(BLOCK.sub(lambda m: m[1] + block + m[3], source, count=1))
    print(f"wrote the pins into {CATALOG_SOURCE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
