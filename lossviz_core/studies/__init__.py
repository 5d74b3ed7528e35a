"""Studies: many models and results, one file, run and rerun with only the new work done.

A study file (TOML, ``docs/studies.md``) names models to train, results to compute from
them and figures that lay results out on one colour scale; values can be swept. ::

    study = load_study("digits-depth", profile="quick")     # a file, a bundled name, a figure
    summary = drain(iter_study(study, "out/"))              # or: for event in iter_study(...)
    status = study_status(study, "out/")                    # done / running / failed / pending
    write_study("mine.toml", ["a.h5", "b.h5"])              # a study from results

Modules: :mod:`.toml_text` (TOML, line numbers, one-line errors), :mod:`.sweep`, :mod:`.spec`
and :mod:`.figure_spec` (the entries), :mod:`.plan` (units and cache keys),
:mod:`.runner` (``iter_study``), :mod:`.events`, :mod:`.outputs` (what is done),
:mod:`.state` (``DIR/state.json``), :mod:`.estimate`, :mod:`.status`, :mod:`.figures`,
:mod:`.catalog` (bundled studies), :mod:`.write`, :mod:`.ray_units`.
"""

from lossviz_core.studies.catalog import (
    bundled_studies,
    default_folder_name,
    load_study,
    study_path,
)
from lossviz_core.studies.events import (
    StudyPlanned,
    StudySummary,
    UnitFailed,
    UnitFinished,
    UnitProgress,
    UnitSkipped,
    UnitStarted,
)
from lossviz_core.studies.figures import read_figure_specs
from lossviz_core.studies.plan import Plan, Unit, make_plan
from lossviz_core.studies.runner import iter_study
from lossviz_core.studies.spec import Study, parse_study
from lossviz_core.studies.status import StudyStatus, UnitStatus, format_status, study_status
from lossviz_core.studies.toml_text import StudyError
from lossviz_core.studies.write import study_text, write_study

__all__ = [
    "Plan", "Study", "StudyError", "StudyPlanned", "StudyStatus", "StudySummary", "Unit",
    "UnitFailed", "UnitFinished", "UnitProgress", "UnitSkipped", "UnitStarted", "UnitStatus",
    "bundled_studies", "default_folder_name", "format_status", "iter_study", "load_study",
    "make_plan",
    "parse_study", "read_figure_specs", "study_path", "study_status", "study_text",
    "write_study",
]
