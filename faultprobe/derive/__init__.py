"""Derive a study config from its mainshock (`faultprobe init`; docs/sequences.md).

The parts, each with one job: `mainshock` (a QuakeML file, an FDSN event id or a catalog
row → origin, magnitude, nodal planes), `plane` (the fault plane of an aftershock cloud and
the choice between nodal planes), `sequence` (window, box, other shocks and intervals from
the catalog's activity), `stations` (candidates from a StationXML or a station service,
ranked by the events they record), `writer` (the commented TOML), `study` (all of it in
order, with the dry-run selection and its warnings). It reads catalogs, QuakeML and
inventories and writes a config, so it sits beside `catalogs` and `config`, below every
stage that runs a study.
"""

from __future__ import annotations

from faultprobe.derive.errors import DeriveError, ServiceError
from faultprobe.derive.study import InitOptions, InitResult, derive_study

__all__ = ["DeriveError", "InitOptions", "InitResult", "ServiceError", "derive_study"]
