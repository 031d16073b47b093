"""Read a declarative YAML file (search space, objective set, hardware target) by path or shipped name."""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import EvosearchError


def load_yaml(name_or_path: str | Path, shipped: Path, what: str, error: type[EvosearchError]) -> tuple[Path, object]:
    """``(path, data)`` of a YAML file given by path, or by name of a file shipped in ``shipped``.

    A missing file or invalid YAML raises ``error`` naming ``what`` and the shipped names.
    """
    path = Path(name_or_path)
    if not path.is_file():
        candidate = shipped / f"{name_or_path}.yaml"
        if not candidate.is_file():
            names = ", ".join(sorted(p.stem for p in shipped.glob("*.yaml"))) or "(none)"
            raise error(f"{what} {str(name_or_path)!r} not found: give a path to a YAML file or one of the shipped names: {names}")
        path = candidate
    try:
        return path, yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise error(f"{path}: not valid YAML ({err})") from None
