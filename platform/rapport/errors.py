"""The error types every layer raises; the web layer maps them to problem+json."""

from __future__ import annotations

from dataclasses import dataclass


class RapportError(Exception):
    """Base of every error Rapport raises on purpose."""

    status = 400
    code = "error"


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field (or the whole record when ``field`` is None)."""

    field: str | None
    code: str
    message: str

    def as_dict(self) -> dict[str, str | None]:
        return {"field": self.field, "code": self.code, "message": self.message}


class ValidationError(RapportError):
    """A write refused: one or more field problems. Raised by hooks too."""

    status = 422
    code = "validation_error"

    def __init__(self, message: str | list[FieldProblem], field: str | None = None,
                 code: str = "invalid"):
        if isinstance(message, list):
            self.problems = message
        else:
            self.problems = [FieldProblem(field, code, message)]
        super().__init__("; ".join(
            f"{p.field}: {p.message}" if p.field else p.message for p in self.problems))


class NotFound(RapportError):
    status = 404
    code = "not_found"


class PermissionDenied(RapportError):
    status = 403
    code = "forbidden"


class Conflict(RapportError):
    """The write collides with another one (already decided, duplicate...)."""

    status = 409
    code = "conflict"


class StaleVersion(RapportError):
    """An update based on an older version of the record."""

    status = 412
    code = "stale_version"


@dataclass(frozen=True)
class MetaProblem:
    """One problem in a metadata document: where (file + JSON pointer) and what."""

    source: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.pointer or '/'}: {self.message}"


class MetadataError(RapportError):
    """A definition set that cannot be applied; carries every problem found."""

    status = 422
    code = "invalid_metadata"

    def __init__(self, problems: list[MetaProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DataLossRefused(RapportError):
    """A schema plan that would destroy data, applied without explicit consent."""

    status = 409
    code = "data_loss"


class FormulaError(RapportError):
    """A formula that cannot be compiled or evaluated."""

    code = "formula_error"
