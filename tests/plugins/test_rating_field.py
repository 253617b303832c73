"""The bundled rating plugin: a field type registered through register_field_types, used
in definitions, the record service, filters, forms, lists, the record page and reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from pluginkit import client_for, csrf_of, workspace

from rapport.errors import MetadataError, ValidationError
from rapport.records.query import Cond, Query
from rapport.workspace import Workspace

SUPPLIER = {"name": "supplier", "label": {"en": "Supplier", "zh-CN": "供应商"},
            "fields": [{"name": "name", "type": "text", "required": True},
                       {"name": "quality", "type": "rating"},
                       {"name": "service", "type": "rating", "settings": {"max": 10}}],
            "views": {"list": {"columns": ["name", "quality"]}}}


@pytest.fixture
def rated(tmp_path: Path, database_url: str) -> Workspace:
    ws = workspace(tmp_path, database_url, "rating")
    ws.apply(ws.documents_from(SUPPLIER))
    yield ws
    ws.close()


def test_without_the_plugin_the_type_is_unknown(ws: Workspace) -> None:
    with pytest.raises(MetadataError, match="unknown field type 'rating'"):
        ws.apply(ws.documents_from(SUPPLIER))


def test_the_type_describes_itself_for_the_designer(rated: Workspace) -> None:
    kind = rated.types["rating"]
    assert kind.label == {"en": "Star rating", "zh-CN": "星级评分"}
    assert kind.settings["max"]["default"] == 5 and kind.widget == "rating"
    assert "rating" in rated.types.names()


def test_values_are_coerced_validated_and_filtered(rated: Workspace) -> None:
    make = rated.records.create
    assert make("supplier", {"name": "A", "quality": "★★★★☆"})["quality"] == 4
    assert make("supplier", {"name": "B", "quality": "2"})["quality"] == 2
    assert make("supplier", {"name": "C", "quality": 5, "service": "9/10"})["service"] == 9
    assert make("supplier", {"name": "D", "quality": ""})["quality"] is None
    for bad, message in [(6, "from 1 to 5 stars"), ("lots", "not a rating"), (2.5, "whole")]:
        with pytest.raises(ValidationError, match=message) as exc:
            make("supplier", {"name": "E", "quality": bad})
        assert exc.value.problems[0].field == "quality"
    page = rated.records.query("supplier", Query(filter=Cond("quality", "gte", "4"),
                                                 sort=[("quality", True)]))
    assert [r["name"] for r in page.data] == ["C", "A"]
    report = {"name": "by_quality", "object": "supplier", "group_by": [{"field": "quality"}],
              "aggregates": [{"fn": "count"}]}
    result = rated.reports.run(report)
    counts = {result.label_of("quality", r["quality"]): r["count"] for r in result.rows}
    assert counts == {"★★★★☆": 1, "★★☆☆☆": 1, "★★★★★": 1, "(blank)": 1}


def test_forms_lists_and_record_pages_show_stars(rated: Workspace) -> None:
    client = client_for(rated, "ann@example.com")
    form = client.get("/o/supplier/new")
    assert 'class="rating-input"' in form.text and 'value="5"' in form.text
    assert "/static/plugins/rating/rating.css" in form.text
    assert client.get("/static/plugins/rating/rating.css").status_code == 200
    saved = client.post("/o/supplier/new", data={"name": "Acme", "quality": "3",
                                                 "csrf_token": csrf_of(form.text)},
                        follow_redirects=False)
    assert saved.status_code == 303, saved.text
    rid = saved.headers["location"].rsplit("/", 1)[-1]
    assert rated.records.get("supplier", rid)["quality"] == 3
    assert "★★★☆☆" in client.get(f"/o/supplier/{rid}").text
    listing = client.get("/o/supplier?f=quality&op=gte&v=3")
    assert "★★★☆☆" in listing.text and "Acme" in listing.text
    row = client.get("/o/supplier/filter-row?f=quality&op=gte").text
    assert 'inputmode="decimal"' in row  # a number to type
    refused = client.post("/o/supplier/new", data={"name": "Bad", "quality": "9",
                                                   "csrf_token": csrf_of(form.text)})
    assert refused.status_code == 422 and "from 1 to 5 stars" in refused.text
