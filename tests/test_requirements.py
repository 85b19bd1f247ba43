"""The compiled requirement files: every pin hashed, the runtime set free of development tools.

requirements.txt (runtime, what the Docker image installs) and requirements-dev.txt (tests, lint) are
pip-compile's output of requirements.in and requirements-dev.in (`make requirements`).
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPILED = sorted(ROOT.glob("requirements*.txt"))
# Tools that only tests, lint and `make requirements` use; none may reach the runtime image.
DEV_ONLY = {
    "pytest",
    "pytest-django",
    "pytest-timeout",
    "selenium",
    "factory-boy",
    "faker",
    "hypothesis",
    "ruff",
    "import-linter",
    "pip-tools",
    "schemathesis",
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(path: Path) -> list[str]:
    """The requirement entries of a file: continuation lines joined, comments and blank lines dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = (line.split(" #")[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pins(path: Path) -> dict[str, str]:
    found = {}
    for entry in entries(path):
        match = PIN.match(entry)
        if match:
            found[normalize(match[1])] = match[3]
    return found


def test_the_compiled_files_are_there():
    assert [p.name for p in COMPILED] == ["requirements-dev.txt", "requirements.txt"]


@pytest.mark.parametrize("path", COMPILED, ids=lambda p: p.name)
def test_every_requirement_is_pinned_with_a_hash(path):
    unpinned, unhashed = [], []
    for entry in entries(path):
        if not PIN.match(entry):  # option lines too (-r, --index-url ...): the machine's indexes stay out
            unpinned.append(entry)
        elif "--hash=sha256:" not in entry:
            unhashed.append(entry)
    assert not unpinned, f"{path.name}: not an exact pin: {unpinned}"
    assert not unhashed, f"{path.name}: pinned without a hash: {unhashed}"
    assert pins(path), f"{path.name} pins nothing"


def test_the_runtime_set_has_no_development_tool():
    runtime = pins(ROOT / "requirements.txt")
    assert not DEV_ONLY & runtime.keys()
    # Whatever requirements-dev.in asks for by name belongs to the dev set only.
    asked_for_dev = {normalize(PIN.match(e)[1]) for e in entries(ROOT / "requirements-dev.in") if PIN.match(e)}
    assert asked_for_dev, "requirements-dev.in pins nothing"
    assert not asked_for_dev & runtime.keys()


def test_the_dev_set_is_constrained_by_the_runtime_pins():
    assert entries(ROOT / "requirements-dev.in")[0] == "-c requirements.txt"
    runtime, dev = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-dev.txt")
    assert {name: dev[name] for name in dev.keys() & runtime.keys()} == {
        name: runtime[name] for name in dev.keys() & runtime.keys()
    }


@pytest.mark.parametrize("source", ["requirements.in", "requirements-dev.in"])
def test_the_compiled_file_holds_each_pin_of_its_source(source):
    """An edit of a .in file without `make requirements` shows here."""
    wanted = pins(ROOT / source)
    compiled = pins(ROOT / source.replace(".in", ".txt"))
    assert {name: compiled.get(name) for name in wanted} == wanted
