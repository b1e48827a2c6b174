"""The architecture tour stays true: its ERD is what the models produce, and every app,
service, selector and management command it names exists."""

import importlib
import re

import pytest
from django.apps import apps
from django.core.management import get_commands

from operations.erd import TOUR, committed_erd, mermaid_erd

TEXT = TOUR.read_text()


def test_committed_erd_matches_the_models():
    assert committed_erd(TEXT) == mermaid_erd(), (
        "docs/ARCHITECTURE.md's ERD differs from the models: run manage.py erd --write"
    )


def test_erd_covers_every_model_and_relation():
    erd = mermaid_erd()
    for label in ("accounts", "wallet", "pot", "chat", "keeper"):
        for model in apps.get_app_config(label).get_models():
            assert f"    {model.__name__} {{" in erd
    assert 'Account ||--o{ Transfer : "from_account"' in erd
    assert 'Round ||--o{ Message : "round"' in erd


NAMED_CODE = sorted(set(re.findall(r"`(\w+)\.(services|selectors|fairness|bots)\.(\w+)`", TEXT)))


@pytest.mark.parametrize(("app", "module", "name"), NAMED_CODE)
def test_every_named_service_and_selector_exists(app, module, name):
    assert apps.is_installed(app)
    assert callable(getattr(importlib.import_module(f"{app}.{module}"), name))


def test_the_tour_names_services_at_all():
    assert len(NAMED_CODE) >= 15


@pytest.mark.parametrize("command", sorted(set(re.findall(r"`manage\.py (\w+)", TEXT))))
def test_every_named_command_exists(command):
    assert command in get_commands()


@pytest.mark.parametrize("app", re.findall(r"^\| `(\w+)` \|", TEXT, flags=re.MULTILINE))
def test_every_app_in_the_table_is_installed(app):
    assert apps.is_installed(app)


ROOT = TOUR.parents[1]
SOURCES = [
    path
    for pattern in ("**/*.py", "docs/*.md", "README.md", "deploy/*", "bin/*", "Procfile")
    for path in ROOT.glob(pattern)
    if ".venv" not in path.parts and path.is_file()
]


def test_every_document_the_code_and_docs_cite_is_in_the_repository():
    """Code and docs cite the project's own docs, never a design held elsewhere."""
    cited, elsewhere = set(), []
    for path in SOURCES:
        text = path.read_text(errors="replace")
        cited |= set(re.findall(r"\bdocs/([A-Z][A-Z_]*\.md)", text))
        if re.search(r"\bDESIGN(\.md| section)", text):
            elsewhere.append(str(path.relative_to(ROOT)))
    assert elsewhere == []
    assert cited, "no document is cited at all"
    assert sorted(name for name in cited if not (ROOT / "docs" / name).exists()) == []
