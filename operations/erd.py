"""The entity-relationship diagram of ChatPot's models, as Mermaid."""

from pathlib import Path

from django.apps import apps
from django.db import models

APPS = ["accounts", "wallet", "pot", "chat", "keeper"]
START, END = "<!-- erd:start -->", "<!-- erd:end -->"
TOUR = Path(__file__).resolve().parent.parent / "docs" / "ARCHITECTURE.md"

# The fields Django's own user model brings are left out: they say nothing about the game.
INHERITED_USER_FIELDS = {
    "password",
    "last_login",
    "is_superuser",
    "first_name",
    "last_name",
    "email",
    "is_staff",
    "date_joined",
    "groups",
    "user_permissions",
}


SQL_TYPES = {
    "AutoField": "int",
    "BigAutoField": "bigint",
    "BigIntegerField": "bigint",
    "PositiveBigIntegerField": "bigint",
    "IntegerField": "int",
    "PositiveIntegerField": "int",
    "PositiveSmallIntegerField": "smallint",
    "CharField": "varchar",
    "TextField": "text",
    "BooleanField": "bool",
    "DecimalField": "decimal",
    "FloatField": "float",
    "DateTimeField": "timestamp",
}


def _type(field: models.Field) -> str:
    if field.is_relation:
        return _type(field.target_field)
    return SQL_TYPES.get(field.get_internal_type(), field.get_internal_type().lower())


def mermaid_erd() -> str:
    """Every model of the game's apps, its columns and its relations, in a stable order."""
    lines = ["```mermaid", "erDiagram"]
    relations = []
    for label in APPS:
        for model in sorted(apps.get_app_config(label).get_models(), key=lambda m: m.__name__):
            name = model.__name__
            lines.append(f"    {name} {{")
            for field in model._meta.concrete_fields:
                if model.__name__ == "User" and field.name in INHERITED_USER_FIELDS:
                    continue
                keys = []
                if field.primary_key:
                    keys.append("PK")
                if field.is_relation:
                    keys.append("FK")
                marker = f" {','.join(keys)}" if keys else ""
                lines.append(f"        {_type(field)} {field.column}{marker}")
                if field.is_relation:
                    target = field.related_model.__name__
                    many = "|o" if field.one_to_one else "o{"
                    optional = "o|" if field.null else "||"
                    relations.append(f'    {target} {optional}--{many} {name} : "{field.name}"')
            lines.append("    }")
    lines.extend(sorted(relations))
    lines.append("```")
    return "\n".join(lines) + "\n"


def committed_erd(text: str) -> str:
    start, end = text.index(START) + len(START), text.index(END)
    return text[start:end].strip("\n") + "\n"


def with_erd(text: str, erd: str) -> str:
    start, end = text.index(START) + len(START), text.index(END)
    return text[:start] + "\n" + erd + text[end:]
