"""requirements.lock (what `make install` installs, each file by its SHA-256) agrees with the pins it
is made from: pyproject.toml (direct dependencies, the test extra included) and constraints.txt
(the transitive ones). A pin changed without `make lock` fails here, naming the package."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\[\]-]+)==([^\s;\\]+)")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", re.sub(r"\[.*\]", "", name)).lower()


def locked() -> dict[str, tuple[str, list[str]]]:
    out: dict[str, tuple[str, list[str]]] = {}
    text = (ROOT / "requirements.lock").read_text()
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2].strip()):
        m = PIN.match(entry)
        assert m, f"not a pinned entry of requirements.lock: {entry!r}"
        out[norm(m.group(1))] = (m.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})\b", entry))
    return out


def pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"]) + [x for extra in project["optional-dependencies"].values() for x in extra]
    lines += [x for x in (ROOT / "constraints.txt").read_text().splitlines() if x and not x.startswith("#")]
    out = {}
    for line in lines:
        m = PIN.match(line.strip())
        assert m, f"not pinned with ==: {line!r}"
        out[norm(m.group(1))] = m.group(2)
    return out


def test_every_pin_is_locked_at_its_version_and_every_locked_file_has_a_hash():
    lock = locked()
    wrong = {name: (version, lock.get(name, ("missing", []))[0]) for name, version in pins().items()}
    assert {n: v for n, v in wrong.items() if v[0] != v[1]} == {}, "run `make lock`"
    assert [n for n, (_, hashes) in lock.items() if len(hashes) != 1] == []
    # nothing is locked that no pin asks for, but the build backend of pyproject.toml
    assert set(lock) - set(pins()) == {"setuptools", "wheel"}


def test_the_installer_is_pinned_with_its_hash_too():
    """`make install` first installs uv (which then installs the lock) from requirements-bootstrap.txt,
    with pip's --require-hashes: one package, one version, the hash of its one file."""
    text = (ROOT / "requirements-bootstrap.txt").read_text()
    entries = [e for e in re.split(r"\n(?=[A-Za-z0-9])", text.strip()) if not e.startswith("#")]
    assert len(entries) == 1
    m = PIN.match(entries[0])
    assert m and norm(m.group(1)) == "uv"
    assert len(re.findall(r"--hash=sha256:([0-9a-f]{64})\b", entries[0])) == 1
    make = (ROOT / "Makefile").read_text()
    assert "--require-hashes --no-deps -r requirements-bootstrap.txt" in make
    assert "--require-hashes --no-deps -r requirements.lock" in make
