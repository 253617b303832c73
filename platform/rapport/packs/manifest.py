"""Pack manifests: read ``pack.json``, check it against the manifest schema, and read the
definition files it names (each checked to be the kind its list says)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MetadataError, MetaProblem, RapportError
from ..meta.loader import Document, read_file
from ..meta.schemas import schema_problems
from ..resources import bundled

MANIFEST = "pack.json"
#: manifest list -> the kind of definition its files hold
LISTS = {"objects": "object", "extends": "extension", "workflows": "workflow",
         "approvals": "approval", "reports": "report", "dashboards": "dashboard"}


class PackError(RapportError):
    code = "pack_error"
    status = 409


class PackNotFound(PackError):
    code = "not_found"
    status = 404


def label_text(value: Any, locale: str = "en") -> str:
    if isinstance(value, Mapping):
        return str(value.get(locale) or value.get("en") or next(iter(value.values()), ""))
    return str(value or "")


def checksum(data: Any) -> str:
    """A definition's checksum: SHA-256 of its canonical JSON (``$schema`` left out)."""
    if isinstance(data, Mapping):
        data = {k: v for k, v in data.items() if k != "$schema"}
    raw = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3]) + (0,) * (3 - len(
        re.findall(r"\d+", version)[:3]))


def satisfies(version: str, spec: str) -> bool:
    """Whether ``version`` meets a requirement such as ">=1.0.0", ">=1.2, <2", "^1.2", "*"."""
    have = version_key(version)
    for part in (p.strip() for p in spec.split(",")):
        if part in {"", "*"}:
            continue
        m = re.match(r"^(>=|<=|==|!=|~=|>|<|\^|~)?\s*(\d+(?:\.\d+){0,2})$", part)
        if not m:
            return False
        op, want = m.group(1) or "==", version_key(m.group(2))
        depth = m.group(2).count(".") + 1
        if op in {"^", "~", "~="}:
            keep = 1 if op == "^" else max(1, depth - 1) if op == "~=" else min(2, depth)
            upper = (*want[:keep - 1], want[keep - 1] + 1) + (0,) * (3 - keep)
            ok = want <= have < upper
        else:
            ok = {">=": have >= want, "<=": have <= want, ">": have > want, "<": have < want,
                  "==": have == want, "!=": have != want}[op]
        if not ok:
            return False
    return True


@dataclass
class Pack:
    """A pack as its manifest describes it."""

    name: str
    version: str
    directory: Path
    manifest: dict[str, Any]
    documents: list[Document] = field(default_factory=list)

    @property
    def label(self) -> Any:
        return self.manifest.get("label", self.name)

    @property
    def description(self) -> Any:
        return self.manifest.get("description", "")

    @property
    def requires(self) -> dict[str, str]:
        req = self.manifest.get("requires") or {}
        return {n: "*" for n in req} if isinstance(req, list) else dict(req)

    @property
    def roles(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("roles", ()))

    @property
    def sample_files(self) -> list[Path]:
        return [self.directory / p for p in self.manifest.get("sample_data", ())]

    def of_kind(self, kind: str) -> list[Document]:
        return [d for d in self.documents if d.kind == kind]

    @property
    def objects(self) -> list[str]:
        return [d.name for d in self.of_kind("object")]

    @property
    def extended(self) -> dict[str, list[str]]:
        """Core (or other) object -> the fields this pack adds to it."""
        out: dict[str, list[str]] = {}
        for d in self.of_kind("extension"):
            out.setdefault(str(d.data["object"]), []).extend(
                f["name"] for f in d.data.get("fields", ()))
        return out

    def owned(self) -> list[tuple[str, str]]:
        """The (kind, name) of every definition the pack owns (extensions excepted)."""
        return [(d.kind, d.name) for d in self.documents if d.kind != "extension"]

    def summary(self, locale: str = "en") -> dict[str, Any]:
        return {"name": self.name, "version": self.version,
                "label": label_text(self.label, locale),
                "description": label_text(self.description, locale),
                "requires": self.requires, "objects": self.objects,
                "extends": self.extended,
                "counts": {kind: len(self.of_kind(kind)) for kind in LISTS.values()},
                "sample_data": bool(self.sample_files)}


def load_pack(directory: str | Path) -> Pack:
    """Read and check a pack folder; every problem names its file and JSON pointer."""
    directory = Path(directory)
    path = directory / MANIFEST
    problems: list[MetaProblem] = []
    source = str(path)
    try:
        manifest = json.loads(path.read_text("utf-8-sig"))
    except FileNotFoundError:
        raise PackNotFound(f"{directory}: no {MANIFEST}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MetadataError([MetaProblem(source, "", f"cannot read: {exc}")]) from None
    except json.JSONDecodeError as exc:
        raise MetadataError([MetaProblem(source, "", f"invalid JSON at line {exc.lineno} column "
                                                     f"{exc.colno}: {exc.msg}")]) from None
    if not isinstance(manifest, dict):
        raise MetadataError([MetaProblem(source, "", "a manifest must be a JSON object")])
    problems += schema_problems("pack", manifest, source)
    if problems:
        raise MetadataError(problems)
    docs: list[Document] = []
    for key, kind in LISTS.items():
        for i, rel in enumerate(manifest.get(key, ())):
            file = directory / rel
            if not file.is_file():
                problems.append(MetaProblem(source, f"/{key}/{i}", f"no such file: {rel}"))
                continue
            found = read_file(file, problems)
            for d in found:
                if d.kind != kind:
                    problems.append(MetaProblem(d.source, d.pointer or "",
                                                f"is a {d.kind}, but {MANIFEST} lists it under "
                                                f"'{key}' ({kind} definitions)"))
                elif kind == "extension":
                    problems += schema_problems("extension", d.data, d.source, d.pointer)
            docs.extend(d for d in found if d.kind == kind)
    for i, rel in enumerate(manifest.get("sample_data", ())):
        if not (directory / rel).is_file():
            problems.append(MetaProblem(source, f"/sample_data/{i}", f"no such file: {rel}"))
    if problems:
        raise MetadataError(problems)
    return Pack(manifest["name"], manifest["version"], directory, manifest, docs)


def pack_directories(root: Path | None = None) -> list[Path]:
    root = root or bundled("industry_templates")
    return sorted(p.parent for p in root.glob(f"*/{MANIFEST}"))


def find_pack(name: str, root: Path | None = None) -> Pack:
    for directory in pack_directories(root):
        if directory.name == name:
            return load_pack(directory)
    for directory in pack_directories(root):  # a folder named otherwise
        try:
            data = json.loads((directory / MANIFEST).read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("name") == name:
            return load_pack(directory)
    raise PackNotFound(f"no pack named '{name}'")
