import json

from django.core.management import call_command


def test_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.json"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--file",
        str(target),
    )
    schema = json.loads(target.read_text())
    assert schema["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"
    send = schema["paths"]["/api/v1/messages"]["post"]
    assert {"201", "400", "401", "402", "409", "429"} <= set(send["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in send["parameters"])
    insufficient = send["responses"]["402"]["content"]["application/json"]["schema"]["$ref"]
    assert insufficient.endswith("/InsufficientFunds")
