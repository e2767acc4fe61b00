"""Records that sources produce and datasets consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ClassificationSample:
    """One image file and its class index (0..C-1)."""

    path: Path
    label: int


@dataclass
class SourceIndex:
    """What a source found on disk: samples per split and the class names."""

    splits: dict[str, list]
    class_names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def split(self, name: str) -> list:
        return self.splits.get(name, [])
