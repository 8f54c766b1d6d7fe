"""Optimal one-to-one pre/post matching: the co-located pairs and the matched control.

`match_pairs` solves the matching on a sparse candidate graph (the most pairs, then the
least total cost); `matched_mask` matches events on standardised features within a
caliper; `match_features` and `matched_split` restrict a run's train, validation and test
events each to a set matched pre-to-post on magnitude, distance (the P travel time) and
depth, so a model trained there cannot learn the catalog's mix (docs/diagnostics.md);
`size_reference_split` draws a run of the matched run's sizes from the CNN's own parts, so
the matched CNN is compared with a CNN that trained on as few events, not with the CNN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

MATCH_FEATURES = ("source_magnitude", "p_travel_s", "source_depth_km")


def match_pairs(
    i: np.ndarray, j: np.ndarray, cost: np.ndarray, n_pre: int, n_post: int
) -> np.ndarray:
    """Indices of the candidate edges (pre i, post j, cost) kept by an optimal one-to-one
    matching: the most pairs, then the least total cost.

    The candidate graph falls apart into small connected groups (events within a few hundred
    metres and 0.1 magnitude units of each other); each group is one assignment problem
    (scipy's `linear_sum_assignment`), where a non-candidate pair costs more than all of the
    group's candidates together, so no candidate pair is given up to lower the cost.
    """
    if i.size == 0:
        return np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(i.size), (i, n_pre + j)), shape=(n_pre + n_post,) * 2)
    _, comp = connected_components(graph, directed=False)
    edge_comp = comp[i]
    order = np.argsort(edge_comp, kind="stable")
    bounds = np.flatnonzero(np.diff(edge_comp[order])) + 1
    kept = []
    for edges in np.split(order, bounds):
        ri, ci = np.unique(i[edges], return_inverse=True)
        rj, cj = np.unique(j[edges], return_inverse=True)
        if edges.size == 1:
            kept.append(edges)
            continue
        forbidden = 1.0 + float(cost[edges].sum()) * 2.0
        m = np.full((ri.size, rj.size), forbidden)
        m[ci, cj] = cost[edges]
        rows, cols = linear_sum_assignment(m)
        real = m[rows, cols] < forbidden
        lookup = np.full((ri.size, rj.size), -1, dtype=np.int64)
        lookup[ci, cj] = edges
        kept.append(lookup[rows[real], cols[real]])
    return np.sort(np.concatenate(kept))


def matched_mask(
    features: np.ndarray, y: np.ndarray, caliper: float
) -> tuple[np.ndarray, np.ndarray]:
    """Events kept by an optimal one-to-one pre (y = 0) / post (y = 1) matching on
    standardised `features` within `caliper` standard deviations; the mask and the
    (pre, post) positions of the pairs."""
    f = np.asarray(features, float)
    y = np.asarray(y)
    good = np.isfinite(f).all(axis=1)
    keep = np.zeros(len(y), dtype=bool)
    pre = np.flatnonzero(good & (y == 0))
    post = np.flatnonzero(good & (y == 1))
    if pre.size == 0 or post.size == 0:
        return keep, np.zeros((0, 2), dtype=np.int64)
    sd = np.std(f[good], axis=0)
    z = (f - np.mean(f[good], axis=0)) / np.where(sd > 0, sd, 1.0)
    coo = cKDTree(z[pre]).sparse_distance_matrix(
        cKDTree(z[post]), caliper, output_type="coo_matrix"
    )
    sel = match_pairs(coo.row, coo.col, coo.data, pre.size, post.size)
    pairs = np.column_stack([pre[coo.row[sel]], post[coo.col[sel]]])
    keep[pairs.ravel()] = True
    return keep, pairs


def match_features(ds, station: str) -> np.ndarray:
    """(events, 3): catalog magnitude, P travel time to `station` (s; the distance the cube
    knows without a stations table) and depth (km), NaN where unknown."""
    from faultprobe.ml import dataset

    ev = dataset.event_table(ds)
    j = dataset.station_positions(ds, [station])[0]
    p = pd.DatetimeIndex(np.asarray(ds["p_time"].isel(station=j).values))
    o = pd.DatetimeIndex(np.asarray(ds["origin_time"].values))
    p, o = p.tz_localize(None) if p.tz else p, o.tz_localize(None) if o.tz else o
    travel = (p - o).total_seconds().to_numpy(float)
    depth = np.asarray(ds["depth_km"].values, float) if "depth_km" in ds.coords else np.nan
    return np.column_stack(
        [np.asarray(ev["source_magnitude"], float), travel, np.broadcast_to(depth, travel.shape)]
    )


def matched_split(
    codes: np.ndarray, labels: np.ndarray, features: np.ndarray, caliper: float
) -> np.ndarray:
    """Split codes with every event outside its part's pre/post matching set to -1 (unused):
    train, validation and test are each matched on their own, so no event leaves its part."""
    out = np.asarray(codes, np.int8).copy()
    for part in np.unique(out[out >= 0]):
        inside = np.flatnonzero(out == part)
        keep, _ = matched_mask(features[inside], labels[inside], caliper)
        out[inside[~keep]] = -1
    return out


SIZE_REFERENCE_STREAM = 19  # the size reference's draws: their own stream of the run's seed


def size_reference_split(
    codes: np.ndarray, labels: np.ndarray, matched_codes: np.ndarray, seed: int
) -> np.ndarray:
    """Split codes of the matched control's size reference: train and validation each cut,
    at random per class, to the sizes `matched_codes` (the matched run's split of the same
    events) has there; the test part kept whole, so the reference is scored on every test
    event, the matched ones included.  The matched run's parts are one-to-one pre/post, so
    the reference's are balanced too; what it keeps is a subset of each of its own parts."""
    from faultprobe.ml.splits import TEST, UNUSED

    codes = np.asarray(codes, np.int8)
    labels, matched_codes = np.asarray(labels), np.asarray(matched_codes)
    rng = np.random.default_rng([int(seed), SIZE_REFERENCE_STREAM])
    keep = codes == TEST
    for part in np.unique(codes[(codes >= 0) & (codes != TEST)]):
        for cls in np.unique(labels[codes == part]):
            pool = np.flatnonzero((codes == part) & (labels == cls))
            want = int(np.sum((matched_codes == part) & (labels == cls)))
            if want > pool.size:
                raise ValueError(f"the matched part {part} has {want} events of class {cls}, "
                                 f"the run's own only {pool.size}")  # fmt: skip
            keep[rng.choice(pool, want, replace=False)] = True
    return np.where(keep, codes, UNUSED).astype(np.int8)
