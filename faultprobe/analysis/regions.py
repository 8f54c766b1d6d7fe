"""Stores of events from other regions, for the null test (STORE/regions/NAME/).

Each region named in `[[experiments.null.regions]]` becomes a small study of its own: the
same catalog, mainshock and window, events inside a square box of the region's radius
around its centre (in the fault frame of the study, so the lead's selection code applies
unchanged, the distance-to-fault rule lifted), recorded at the region's stations.  The
catalog stage and the ingest build it; a region whose cube exists is skipped.
"""

from __future__ import annotations

from faultprobe.analysis.grid import REGIONS_STORE
from faultprobe.config import Box, NullRegion, StudyConfig
from faultprobe.store import CUBE, Store


def region_config(cfg: StudyConfig, region: NullRegion) -> StudyConfig:
    """The study config of one region: its store, box, depth and stations."""
    from faultprobe.catalogs.geometry import box_coordinates

    along, across = box_coordinates(cfg.fault, cfg.mainshock, [region.latitude], [region.longitude])
    r = region.radius_km
    box = Box(
        along_strike_km=(float(along[0]) - r, float(along[0]) + r),
        across_strike_km=(float(across[0]) - r, float(across[0]) + r),
    )
    selection = cfg.selection.model_copy(
        update={"box": box, "max_fault_distance_km": 1e4, "min_depth_km": region.min_depth_km}
    )
    codes = region.stations or cfg.stations.far or cfg.stations.codes[:1]
    stations = cfg.stations.model_copy(update={"codes": list(codes), "far": []})
    study = cfg.study.model_copy(
        update={"store": Store(cfg.study.store).url(REGIONS_STORE, region.name),
                "name": f"{cfg.study.name}-{region.name}"}
    )  # fmt: skip
    return cfg.model_copy(update={"study": study, "selection": selection, "stations": stations})


def build_region_stores(cfg: StudyConfig, client=None) -> list[str]:
    """Catalog and ingest each region (skipping finished ones); one line per region."""
    from faultprobe.catalogs.study import build_catalog
    from faultprobe.pipelines.ingest import IngestError, ingest

    lines = []
    for region in cfg.experiments.null.regions:
        sub = region_config(cfg, region)
        store = Store(sub.study.store)
        if store.exists(CUBE):
            lines.append(f"region {region.name}: cube exists, kept")
            continue
        summary = build_catalog(sub, force=True)  # the tool's own store
        done = ingest(sub, client=client)
        if not done.complete:
            raise IngestError(f"region {region.name}: {done.problem()}")
        n = len(summary.selection.events)
        lines.append(f"region {region.name}: {n} events at {', '.join(sub.stations.codes)}")
    return lines
