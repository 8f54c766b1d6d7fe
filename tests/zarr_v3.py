"""Check a Zarr store against the Zarr v3 specification's data types (zarr.json metadata)."""

from __future__ import annotations

import json
import re
from pathlib import Path

#: The v3 core data types, and `string` (variable-length UTF-8, a registered extension).
CORE = {
    "bool",
    *(f"{k}{b}" for k in ("int", "uint") for b in (8, 16, 32, 64)),
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
}
EXTENSIONS = {"string"}
RAW = re.compile(r"r\d+")  # raw bits, r8, r16, ...


def arrays(root: str | Path) -> dict[str, object]:
    """Every array of the store under root: its path -> its data_type as zarr.json has it."""
    root = Path(root)
    out = {}
    for meta in sorted(root.rglob("zarr.json")):
        node = json.loads(meta.read_text())
        assert node["zarr_format"] == 3, meta
        if node["node_type"] == "array":
            out[str(meta.parent.relative_to(root))] = node["data_type"]
    return out


def unspecified(root: str | Path) -> dict[str, object]:
    """The arrays whose data type the Zarr v3 specification does not define."""
    return {
        name: dtype
        for name, dtype in arrays(root).items()
        if not (isinstance(dtype, str) and (dtype in CORE | EXTENSIONS or RAW.fullmatch(dtype)))
    }


def dtype_warnings(caught) -> list[str]:
    """zarr's warnings that a data type has no Zarr v3 specification, among caught ones."""
    return [
        str(w.message).splitlines()[0]
        for w in caught
        if "Zarr V3 specification" in str(w.message)
        or type(w.message).__name__ == "UnstableSpecificationWarning"
    ]
