"""Packaging: the command and ``python -m`` entry work, and a built wheel holds every file the
running server reads (GraphiQL assets, migrations, the SDL, py.typed markers)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from contacts_gateway import __version__

REPO = Path(__file__).resolve().parents[2]
#: Files the installed server needs besides the Python modules.
REQUIRED = [
    "contacts_gateway/static/graphiql/graphiql.min.js",
    "contacts_gateway/static/graphiql/graphiql.min.css",
    "contacts_gateway/static/graphiql/react.production.min.js",
    "contacts_gateway/static/graphiql/react-dom.production.min.js",
    "contacts_gateway/static/graphiql/NOTICE.md",
    "contacts_gateway/static/graphiql/LICENSE.graphiql",
    "schema/graphiql.html",
    "schema/schema.graphql",
    "db/migrations/env.py",
    "db/migrations/script.py.mako",
    "db/migrations/versions/0001_initial.py",
    "contacts_gateway/__main__.py",
]
TYPED = ["contacts_gateway", "schema", "resolvers", "db", "rest_compat", "providers"]


def test_version_flag_of_the_command_and_of_python_m() -> None:
    command = shutil.which("contacts-gateway", path=str(Path(sys.executable).parent))
    assert command, "the contacts-gateway console script is not installed"
    for argv in ([command, "--version"], [sys.executable, "-m", "contacts_gateway", "--version"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"contacts-gateway {__version__}"
    assert __version__ != "0.0.0", "the installed distribution's version is read"


def test_typed_packages_have_py_typed() -> None:
    for package in TYPED:
        assert (REPO / package / "py.typed").is_file(), package


@pytest.mark.slow
def test_the_wheel_holds_every_runtime_file(tmp_path: Path) -> None:
    # Build from a copy of what setuptools packages, never in the shared working tree.
    source = tmp_path / "src"
    source.mkdir()
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    roots = {name.split(".")[0] for name in config["tool"]["setuptools"]["packages"]}
    for name in [
        "pyproject.toml",
        "README.md",
        *(f for f in ("LICENSE", "NOTICE") if (REPO / f).exists()),
    ]:
        shutil.copy2(REPO / name, source / name)
    for root in sorted(roots):
        shutil.copytree(
            REPO / root,
            source / root,
            ignore=shutil.ignore_patterns(".*", "__pycache__", "*.db", "*.sqlite*"),
        )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("contacts_gateway-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in REQUIRED if n not in names]
    missing += [f"{p}/py.typed" for p in TYPED if f"{p}/py.typed" not in names]
    assert not missing, f"the wheel lacks {missing}"
    assert not any(n.startswith("tests/") for n in names), "tests are not shipped"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "contacts-gateway = contacts_gateway.cli:main" in text
    size = wheel.stat().st_size
    assert size < 3_000_000, f"the wheel is {size} bytes: vendored assets grew?"
