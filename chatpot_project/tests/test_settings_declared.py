"""Every setting read from the environment is declared where an operator looks for it:
the app's and its servers' in `.env.example` (which declares nothing the code does not
read) and in docs/OPERATIONS.md's configuration; the proxy's and the pooler's in the
header of bin/proxy and bin/pooler. The code and bin/ are scanned for every read, so a new
one nobody declared fails here."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Read from the environment, and not settings of ChatPot's: why each is none.
NOT_SETTINGS = {
    "DJANGO_SETTINGS_MODULE": "Django's own: which settings a process runs",
    "ADMIN_PASSWORD": "seed_demo's input, for a demonstration's operator",
    "PYTHON": "bin/_venv's choice of interpreter",
    "BENCH_ADMIN_URL": "the benchmark's own servers (bench/)",
    "BENCH_REDIS_URL": "the benchmark's own servers (bench/)",
}
PYTHON_READ = re.compile(
    r"""(?:\benv_?\w*|os\.environ\.get|os\.getenv|environ\.setdefault)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|os\.environ\[["']([A-Z][A-Z0-9_]+)["']\]"""
)
# A shell script's setting: a variable it reads with a default, or requires.
SHELL_READ = re.compile(r"\$\{([A-Z][A-Z0-9_]*):?[-?=]")


def python_sources():
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in {".venv", "bench", "tests", "docs"} or "tests" in parts:
            continue
        yield path


def read_by(paths, pattern) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        for match in pattern.finditer(path.read_text()):
            name = next(group for group in match.groups() if group)
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def declared_in_env_example() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_every_setting_the_app_and_its_servers_read_is_in_env_example():
    reads = read_by(python_sources(), PYTHON_READ)
    reads.update(read_by([ROOT / "bin" / "run"], SHELL_READ))
    undeclared = {
        name: sorted(where)
        for name, where in reads.items()
        if name not in declared_in_env_example() and name not in NOT_SETTINGS
    }
    assert undeclared == {}
    assert len(reads) > 50  # the scan finds the settings at all


def test_env_example_declares_only_what_the_code_reads():
    reads = set(read_by(python_sources(), PYTHON_READ))
    assert sorted(declared_in_env_example() - reads) == []


def test_every_setting_in_env_example_is_in_operations():
    operations = (ROOT / "docs" / "OPERATIONS.md").read_text()
    names = declared_in_env_example()
    assert sorted(name for name in names if not re.search(rf"`{name}`", operations)) == []


def test_every_setting_of_the_proxy_and_the_pooler_is_in_its_scripts_header():
    for script in ("proxy", "pooler"):
        text = (ROOT / "bin" / script).read_text()
        header = "\n".join(re.findall(r"^#.*$", text, flags=re.MULTILINE))
        reads = read_by([ROOT / "bin" / script], SHELL_READ)
        assert len(reads) > 5, script
        assert sorted(name for name in reads if not re.search(rf"\b{name}\b", header)) == []
