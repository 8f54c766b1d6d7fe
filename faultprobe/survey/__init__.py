"""Surveys: many studies (sequences) run as one Dask job on one cluster, and compared.

A room above `analysis` (as `monitor` is): it drives whole studies through each stage's
own top-level function (`build_catalog`, `ingest`, `run_experiments`), never a copy of
them, and compares them (one row per sequence × station, and a transfer matrix of each
study's binary run scored on every other study's cube).  docs/sequences.md.
"""

from faultprobe.survey.config import Survey, load_survey
from faultprobe.survey.run import SurveyResult, run_survey

__all__ = ["Survey", "SurveyResult", "load_survey", "run_survey"]
