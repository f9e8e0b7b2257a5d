"""The qsh canonicalizer against Atlassian's published vectors, and our decision per edge case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from provider.connect.jwt import RequestTarget
from provider.connect.jwt import base_path_of
from provider.connect.jwt import canonical_request
from provider.connect.jwt import query_string_hash
from provider.connect.jwt import split_url

DATA = Path(__file__).resolve().parent.parent / "data"
VECTORS: list[dict[str, Any]] = json.loads((DATA / "qsh-vectors.json").read_text())
EDGE_CASES: list[dict[str, Any]] = json.loads((DATA / "qsh-edge-cases.json").read_text())
FORM_BODY_SOURCE = "should correctly create canonical request ignoring jwt param"


def _canonical(vector: dict[str, Any], form_body: str | None = None) -> str:
    path, query = split_url(vector["url"])
    return canonical_request(
        vector["method"],
        path,
        query,
        base_path=base_path_of(vector["base_url"]),
        form_body=form_body,
    )


def _form_body_for(vector: dict[str, Any]) -> str | None:
    """The POST vectors hash the form body of the "ignoring jwt param" vector's query."""
    if not vector.get("check_body_for_params"):
        return None
    source = next(v for v in VECTORS if v["name"] == FORM_BODY_SOURCE)
    return split_url(source["url"])[1]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_reference_vector(vector: dict[str, Any]) -> None:
    canonical = _canonical(vector, _form_body_for(vector))
    assert canonical == vector["canonical"]
    assert query_string_hash(canonical) == vector["qsh"]


def test_form_body_is_not_used_unless_the_request_has_form_parameters() -> None:
    vector = next(v for v in VECTORS if v.get("check_body_for_params") is True)
    body = _form_body_for(vector)
    target = RequestTarget("POST", "/hello-world", "", form_body=body)
    # Both readings are accepted for a form POST with an empty query (ACE tries both)...
    assert vector["qsh"] in target.qsh_candidates()
    assert target.qsh() != vector["qsh"]
    # ...but a body never replaces a query string that is present.
    with_query = RequestTarget("POST", "/hello-world", "x=1", form_body=body)
    assert vector["qsh"] not in with_query.qsh_candidates()


# Our decision per edge case, where Atlassian's implementations disagree. Jira (Java) is the
# side that signs the tokens we verify, so where it is known its behaviour wins:
DECISIONS: dict[str, tuple[str, str]] = {
    # Java and JS remove exactly one trailing slash; atlassian-jwt-py strips them all.
    "double trailing slash": ("GET&/a/b/&", "js"),
    # Jira's servlet keeps the request URI as sent; collapsing "//" would make two different
    # resources (//a/b and /a/b) share one hash. urlsplit would even read "a" as a host.
    "leading double slash": ("GET&//a/b&", "js"),
    # Java sorts parameter names by their percent-encoded form (Jira signs this way).
    "key sort decoded vs encoded": ("GET&/p&a%2Fb=2&a.b=1", "py"),
    # Sorting encoded names makes UTF-16 vs code-point ordering irrelevant for keys.
    "astral vs BMP key sort (UTF-16 vs code point)": ("GET&/p&%EF%AC%81=1&%F0%9F%98%80=2", "py"),
    # The base path is a path prefix, not a string prefix: /jira must not eat /jiraffe.
    "base path prefix not on segment boundary": ("GET&/jiraffe/x&", "py"),
    # A base URL written with a trailing slash names the same base path.
    "base url with trailing slash": ("GET&/rest/x&", "js"),
}


@pytest.mark.parametrize("case", EDGE_CASES, ids=[c["name"] for c in EDGE_CASES])
def test_edge_case_decision(case: dict[str, Any]) -> None:
    canonical = _canonical(case)
    if case["name"] in DECISIONS:
        expected, agrees_with = DECISIONS[case["name"]]
        assert canonical == expected
        assert case["js_2_0_3" if agrees_with == "js" else "py_3_0_0"] == expected
    else:
        # Where every implementation agrees, so do we.
        assert case["js_2_0_3"] == case["py_3_0_0"] == case["ref"]
        assert canonical == case["ref"]


def test_every_disagreement_has_a_decision() -> None:
    disputed = {c["name"] for c in EDGE_CASES if len({c["js_2_0_3"], c["py_3_0_0"], c["ref"]}) > 1}
    assert disputed == set(DECISIONS)
