"""Every setting is declared once (common/environment.py) and read through that declaration:
the code, bin/run, bin/proxy and bin/pooler are scanned for every read of the environment,
so a new one nobody declared fails here; `.env.example` and docs/OPERATIONS.md's table
are what the declarations write; the scripts' defaults are the declared ones."""

import re
from pathlib import Path

import pytest

from common import environment
from common.environment import SETTINGS

ROOT = Path(__file__).resolve().parents[2]

# Read from the environment, and not settings of ChatPot's: why each is none.
NOT_SETTINGS = {
    "DJANGO_SETTINGS_MODULE": "Django's own: which settings a process runs",
    "ADMIN_PASSWORD": "seed_demo's input, for a demonstration's operator",
    "PYTHON": "bin/_venv's choice of interpreter",
}
# A read straight from the environment, past the declarations.
DIRECT_READ = re.compile(
    r"""(?:os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|os\.environ\[["']([A-Z][A-Z0-9_]+)["']\](?!\s*=[^=])"""
    r"""|["']([A-Z][A-Z0-9_]+)["']\s+(?:not\s+)?in\s+os\.environ"""
)
# A read through them: environment.value("NAME"...).
DECLARED_READ = re.compile(r"""\bvalue\(\s*["']([A-Z][A-Z0-9_]+)["']""")
# A shell script's setting: a variable it reads with a default, or requires.
SHELL_READ = re.compile(r"\$\{([A-Z][A-Z0-9_]*):?[-?=]([^}]*)\}")
SCRIPTS = {"run": environment.RUN, "proxy": environment.PROXY, "pooler": environment.POOLER}


def python_sources():
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in {".venv", "bench", "tests", "docs"} or "tests" in parts:
            continue
        yield path


def reads(paths, pattern) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        for match in pattern.finditer(path.read_text()):
            name = next(group for group in match.groups() if group)
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def shell_defaults(script: str) -> dict[str, str]:
    text = (ROOT / "bin" / script).read_text()
    return {match[1]: match[2] for match in SHELL_READ.finditer(text)}


def test_the_code_reads_settings_only_through_their_declarations():
    direct = reads(python_sources(), DIRECT_READ)
    assert {
        name: sorted(where) for name, where in direct.items() if name not in NOT_SETTINGS
    } == {}
    through = reads(python_sources(), DECLARED_READ)
    assert len(through) > 50  # the scan finds the reads at all
    assert sorted(set(through) - set(SETTINGS)) == []


def test_every_setting_the_scripts_read_is_declared_for_them():
    for script, reader in SCRIPTS.items():
        names = shell_defaults(script)
        assert names, script
        assert sorted(name for name in names if name not in SETTINGS) == [], script
        if script != "run":  # bin/run sets the app's own settings for development
            assert sorted(n for n in names if SETTINGS[n].read_by != reader) == [], script


def test_every_declared_setting_is_read():
    read = set(reads(python_sources(), DECLARED_READ))
    for script in SCRIPTS:
        read |= set(shell_defaults(script))
    assert sorted(set(SETTINGS) - read) == []


def test_the_proxy_and_the_pooler_default_to_what_is_declared():
    for script in ("proxy", "pooler"):
        for name, default in shell_defaults(script).items():
            setting = SETTINGS[name]
            if setting.default is None:  # derived by the script; the docs say from what
                assert setting.shown, name
                continue
            assert default == str(setting.default), name


def test_env_example_and_the_operations_table_are_written_from_the_declarations():
    assert (ROOT / ".env.example").read_text() == environment.env_example(), (
        "run: python -m common.environment --write"
    )
    operations = (ROOT / "docs" / "OPERATIONS.md").read_text()
    assert operations == environment.with_table(operations), (
        "run: python -m common.environment --write"
    )


@pytest.mark.parametrize("setting", SETTINGS.values(), ids=lambda setting: setting.name)
def test_each_example_is_a_value_of_its_type(setting, monkeypatch):
    if not setting.example:
        return
    monkeypatch.setenv(setting.name, setting.example)
    environment.value(setting.name, default=None)  # raises SettingError if not


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("DEBUG", "yes", True),
        ("DEBUG", "Off", False),
        ("KEEPER_LEASE_SECONDS", "2.5", 2.5),
        (
            "LIVE_PUBLISH_URL",
            "http://a/publish, http://b/publish",
            ["http://a/publish", "http://b/publish"],
        ),
        ("THROTTLE_RATES", "send=5/min", {**environment.DEFAULT_RATES, "send": "5/min"}),
        ("DATABASE_POOLER", " Transaction", "transaction"),
        ("GUNICORN_ACCESS_LOG", "", ""),  # set and empty: no access log
        ("METRICS_TOKEN", "", ""),  # empty is unset: the default
        ("AXES_FAILURE_LIMIT", "", 5),
    ],
)
def test_values_are_read_by_their_type(name, text, expected, monkeypatch):
    monkeypatch.setenv(name, text)
    assert environment.value(name) == expected


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("DEBUG", "flase"),
        ("KEEPER_LEASE_SECONDS", "fifteen"),
        ("KEEPER_LEASE_SECONDS", "-1"),
        ("KEEPER_LEASE_SECONDS", "nan"),
        ("JWT_ACCESS_MINUTES", "1.5"),
        ("THROTTLE_RATES", "send=lots"),
        ("THROTTLE_RATES", "chat=5/min"),
        ("DATABASE_POOLER", "statement"),
        ("CHATBOT_BACKEND", "gpt"),
    ],
)
def test_a_value_not_of_its_type_is_refused_by_name(name, text, monkeypatch):
    monkeypatch.setenv(name, text)
    with pytest.raises(environment.SettingError, match=rf"^{name}='{re.escape(text)}' is not "):
        environment.value(name)


def test_a_derived_default_must_be_given_by_its_reader(monkeypatch):
    monkeypatch.delenv("NUM_PROXIES", raising=False)
    with pytest.raises(LookupError):
        environment.value("NUM_PROXIES")
    assert environment.value("NUM_PROXIES", 1) == 1
