"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.api.hostile_inputs): besides the input it
generates from the schema, the fuzzer also sends what an attacker would, in place of a
generated case: JSON nested thousands deep, a body over the size the API reads, and a
correctly signed token that names a user id no table can hold."""

import os

import schemathesis
from hypothesis import strategies as st

VARIANT = "X-Fuzz-Variant"
DEEP_JSON = "[" * 3000 + "]" * 3000
HUGE_JSON = '{"body": "' + "x" * (3 * 1024 * 1024) + '"}'
# A minority of the cases: the rest explore the schema as generated.
VARIANTS = ["generated"] * 5 + ["deep", "huge", "far_user"]


@schemathesis.hook
def flatmap_case(context, case):
    def marked(variant: str):
        case.headers = {**(case.headers or {}), VARIANT: variant}
        return case

    return st.sampled_from(VARIANTS).map(marked)


@schemathesis.hook
def before_call(context, case, kwargs):
    # Edits to the case are what is sent; a `data` given here replaces the generated body.
    headers = case.headers if case.headers is not None else {}
    variant = headers.pop(VARIANT, "generated")
    if variant == "far_user":
        headers["Authorization"] = f"Bearer {os.environ['FUZZ_FAR_USER_TOKEN']}"
    elif variant in {"deep", "huge"} and case.media_type == "application/json":
        kwargs["data"] = DEEP_JSON if variant == "deep" else HUGE_JSON
    case.headers = headers
