#!/usr/bin/env python3
"""Build, serve and test Hearth.

    python build.py serve [--port 8000]   build dist/ and serve it at http://127.0.0.1:8000
    python build.py build                 build dist/ only
    python build.py test [--slow] [PYTEST ARGS]   install what tests need, build, run the tests

On a fresh clone this installs what it needs by itself: a virtualenv in .venv/ from the hashed
lock requirements/dev.txt, npm packages in node_modules/ from package-lock.json, and for tests the
reference lock requirements/reference.txt (torch, transformers, ...: what the tests compare Hearth
against) and, as root, Debian's chromium. Downloads are cached in ~/.cache/hearth, so a second run
is fast.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent
VENV = REPO / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
REQUIREMENTS = REPO / "requirements"
CHROMIUM = Path("/usr/bin/chromium")


def _digest(*paths: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def _run(args: list[str], **kwargs) -> None:
    print("$", " ".join(str(a) for a in args), flush=True)
    subprocess.run(args, check=True, **kwargs)


def _pip_install(*args: str) -> None:
    _run([str(VENV_PYTHON), "-m", "pip", "install", "-q", "--require-hashes", *args])


def ensure_venv(reference: bool = False) -> None:
    """.venv with exactly the pinned, hashed locks; each set is installed again only when its files change.

    dev.txt is everything `serve` and `build` need; `reference=True` (`test`) adds reference.txt, the
    packages the tests compare against, which the site never needs. A stamp per set, so a serve after
    a test run installs nothing and a test run after serve adds only the reference packages.
    """
    dev = REQUIREMENTS / "dev.txt"
    if not VENV_PYTHON.exists():
        print("Creating .venv", flush=True)
        venv.create(VENV, with_pip=True)
    dev_stamp, dev_wanted = VENV / ".hearth-dev", _digest(dev, REPO / "pyproject.toml")
    if not (dev_stamp.exists() and dev_stamp.read_text() == dev_wanted):
        _pip_install("-r", str(dev))
        _run([str(VENV_PYTHON), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(REPO)])
        dev_stamp.write_text(dev_wanted)
    if not reference:
        return
    torch, locks = REQUIREMENTS / "torch.txt", [dev, REQUIREMENTS / "reference.txt"]
    ref_stamp, ref_wanted = VENV / ".hearth-reference", _digest(torch, *locks, REPO / "pyproject.toml")
    if ref_stamp.exists() and ref_stamp.read_text() == ref_wanted:
        return
    # torch first and alone (its find-links page is then read once); reference.txt pins its dependencies.
    _pip_install("--no-deps", "-r", str(torch))
    _pip_install(*(arg for lock in locks for arg in ("-r", str(lock))))
    ref_stamp.write_text(ref_wanted)


def ensure_npm() -> None:
    stamp = REPO / "node_modules" / ".hearth-lock"
    wanted = _digest(REPO / "package-lock.json")
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not shutil.which("npm"):
        sys.exit("npm is needed to fetch Pyodide and onnxruntime-web: install Node.js (with npm) and run again.")
    _run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=REPO)
    stamp.write_text(wanted)


def ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0:
        sys.exit("The browser tests need Debian's chromium at /usr/bin/chromium: "
                 "run `sudo apt-get install -y chromium`, then try again.")
    _run(["apt-get", "update", "-q"])
    _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium", "fonts-liberation"],
         env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def in_venv(argv: list[str]) -> None:
    """Re-run this script inside .venv (which has the build's own dependencies)."""
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(REPO / "build.py"), *argv])


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build dist/")
    serve = commands.add_parser("serve", help="build dist/ and serve it")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-build", action="store_true", help="serve the dist/ that is there")
    test = commands.add_parser("test", help="build and run the tests")
    test.add_argument("--slow", action="store_true", help="also run the suites marked slow")
    args, rest = parser.parse_known_args(argv)

    ensure_venv(reference=args.command == "test")
    ensure_npm()
    if args.command == "test":
        ensure_chromium()
    in_venv(argv)

    sys.path.insert(0, str(REPO))
    from sitebuild.site import build

    if args.command == "build":
        build()
    elif args.command == "serve":
        from sitebuild.server import SiteServer

        if not args.no_build or not (REPO / "dist" / "index.html").exists():
            build()
        server = SiteServer(REPO / "dist", port=args.port)
        print(f"Serving Hearth at {server.url}  (Ctrl+C to stop)", flush=True)
        try:
            server.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
    elif args.command == "test":
        build()
        marker = [] if args.slow else ["-m", "not slow"]
        return subprocess.run([sys.executable, "-m", "pytest", *marker, *rest], cwd=REPO).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
