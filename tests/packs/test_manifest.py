"""Manifests: the bundled packs are valid; a bad one is refused naming file and pointer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES, PACKS
from rapport.errors import MetadataError
from rapport.meta.schemas import schema_problems
from rapport.packs import load_pack
from rapport.packs.manifest import pack_directories, satisfies
from rapport.resources import bundled


def test_the_four_packs_are_bundled() -> None:
    assert [d.name for d in pack_directories()] == sorted(PACKS)


@pytest.mark.parametrize("name", PACKS)
def test_each_pack_is_a_complete_model(name: str) -> None:
    pack = load_pack(bundled("industry_templates") / name)
    assert pack.name == name and pack.version == "1.0.0"
    assert 5 <= len(pack.of_kind("object")) <= 8
    assert pack.of_kind("workflow") and pack.of_kind("approval") and pack.of_kind("dashboard")
    reports = pack.of_kind("report")
    assert len(reports) >= 3 and all(r.data.get("chart") for r in reports)
    kanban = {d.name for d in pack.of_kind("object") if d.data.get("views", {}).get("kanban")}
    assert {w.data["object"] for w in pack.of_kind("workflow")} & kanban
    assert pack.sample_files and all(f.is_file() for f in pack.sample_files)
    prefix = {"manufacturing": "mfg_", "education": "edu_", "healthcare": "hc_",
              "finance": "fin_"}[name]
    assert all(n.startswith(prefix) for _k, n in pack.owned())
    assert all(f.startswith(prefix) for fields in pack.extended.values() for f in fields)


def _labels(value, where):  # type: ignore[no-untyped-def]
    """Every label / plural_label / title in a definition, with where it is."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in {"label", "plural_label", "title", "guidance"}:
                yield f"{where}/{k}", v
            yield from _labels(v, f"{where}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _labels(v, f"{where}/{i}")


@pytest.mark.parametrize("name", PACKS)
def test_every_label_is_in_english_and_chinese(name: str) -> None:
    pack = load_pack(bundled("industry_templates") / name)
    missing = []
    for doc in pack.documents:
        for where, label in _labels(dict(doc.data), f"{doc.kind}/{doc.name}"):
            if not (isinstance(label, dict) and label.get("en") and label.get("zh-CN")):
                missing.append(where)
    for key in ("label", "description"):
        value = pack.manifest[key]
        if not (value.get("en") and value.get("zh-CN")):
            missing.append(f"pack.json/{key}")
    for field_list in (d.data["fields"] for d in pack.documents
                       if d.kind in {"object", "extension"}):
        missing += [f["name"] for f in field_list if "label" not in f]
    assert not missing


def test_sensitive_fields_are_flagged() -> None:
    def flagged(pack: str, obj: str) -> set[str]:
        p = load_pack(bundled("industry_templates") / pack)
        doc = next(d for d in p.of_kind("object") if d.name == obj)
        return {f["name"] for f in doc.data["fields"] if f.get("sensitive")}

    assert {"diagnosis", "notes"} <= flagged("healthcare", "hc_patient")
    assert {"member_id"} <= flagged("healthcare", "hc_member_plan")
    assert {"clinical_notes"} <= flagged("healthcare", "hc_referral")
    assert {"national_id"} <= flagged("finance", "fin_person")
    assert {"balance"} <= flagged("finance", "fin_financial_account")


def test_a_bad_manifest_names_the_file_and_the_pointer() -> None:
    with pytest.raises(MetadataError) as err:
        load_pack(FIXTURES / "broken" / "badpack")
    where = {(Path(p.source).name, p.pointer) for p in err.value.problems}
    assert ("pack.json", "/version") in where
    assert ("pack.json", "") in where or any("colour" in p.message for p in err.value.problems)


def test_a_missing_file_and_a_file_of_the_wrong_kind(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "pack.json").write_text(json.dumps({
        "name": "mixed", "version": "1.0.0", "label": "Mixed",
        "objects": ["report.json", "nowhere.json"]}))
    (folder / "report.json").write_text(json.dumps(
        {"kind": "report", "name": "mx_report", "object": "account",
         "aggregates": [{"fn": "count"}]}))
    with pytest.raises(MetadataError) as err:
        load_pack(folder)
    messages = {(Path(p.source).name, p.pointer, p.message.split(":")[0])
                for p in err.value.problems}
    assert ("pack.json", "/objects/1", "no such file") in messages
    assert any(name == "report.json" and "is a report" in msg for name, _p, msg in messages)


def test_the_manifest_schema_accepts_roles_and_refuses_bad_ones() -> None:
    ok = {"name": "x", "version": "1.0.0", "label": "X", "roles": [{"code": "finance"}]}
    assert schema_problems("pack", ok, "pack.json") == []
    bad = {**ok, "roles": [{"code": "Finance Team"}]}
    assert [p.pointer for p in schema_problems("pack", bad, "pack.json")] == ["/roles/0/code"]


@pytest.mark.parametrize(("version", "spec", "ok"), [
    ("1.2.0", ">=1.0.0", True), ("0.9.0", ">=1.0.0", False), ("1.2.0", ">=1.2, <2", True),
    ("2.0.0", ">=1.2, <2", False), ("1.4.0", "^1.2", True), ("2.0.0", "^1.2", False),
    ("1.2.9", "~1.2", True), ("1.3.0", "~1.2", False), ("3.1.4", "*", True),
    ("1.0.0", "==1.0.0", True), ("1.0.1", "!=1.0.1", False)])
def test_version_specifications(version: str, spec: str, ok: bool) -> None:
    assert satisfies(version, spec) is ok
