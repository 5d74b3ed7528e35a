"""``lossviz study list | run | status``: studies of many models and results (docs/studies.md).

``run`` trains what is missing, computes what is missing and draws the figures, printing
one line per unit (and per epoch) on stderr; rerunning does only new work. ``status`` says
what is done, running, failed and pending, and how long the rest should take.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lossviz_core.errors import InputError

EXIT_FAILED = 1


def add_study_parser(subparsers: Any) -> None:
    """The ``study`` command and its subcommands."""
    from lossviz_core.cli.executor import add_executor_arguments

    p = subparsers.add_parser("study", help="run a study file: train models, compute "
                              "results, draw figures (docs/studies.md)")
    sub = p.add_subparsers(dest="study_command", parser_class=type(p), required=True,
                           metavar="list|run|status")
    sub.add_parser("list", help="the bundled studies")
    run = sub.add_parser("run", help="train, compute and draw what is missing")
    st = sub.add_parser("status", help="what is done, running, failed and pending; time left")
    for q in (run, st):
        q.add_argument("study", metavar="FILE|NAME", help="a study file (.toml), a bundled "
                       "study's name (`lossviz study list`), or a figure a study drew")
        q.add_argument("--out", metavar="DIR", help="where runs, results and figures go "
                       "(default: ./NAME, or ./NAME-PROFILE)")
        g = q.add_mutually_exclusive_group()
        g.add_argument("--profile", metavar="NAME", help="merge the study's [profiles.NAME]")
        g.add_argument("--quick", action="store_const", const="quick", dest="profile",
                       help="the study's quick profile: the same study, smaller")
    run.add_argument("--stop-on-error", action="store_true",
                     help="stop at the first failing unit (default: record it, go on)")
    run.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    run.add_argument("--allow-code", action="store_true", help="run the code the study names "
                     "(a model, dataset or loss in a Python file, an archive)")
    run.add_argument("--download", action="store_true", help="download data sets and "
                     "pretrained weights the study needs (nothing downloads without it)")
    add_executor_arguments(run)


def run_study_command(a: argparse.Namespace) -> int:
    """Run ``lossviz study ...``; returns the exit status."""
    if a.study_command == "list":
        from lossviz_core.studies.catalog import bundled_studies

        for b in bundled_studies():
            print(f"{b.name:16s} {b.description}")
        return 0
    from lossviz_core.studies.catalog import default_folder_name, load_study
    from lossviz_core.studies.status import format_status, study_status

    study = load_study(a.study, a.profile)
    out = Path(a.out) if a.out else Path.cwd() / default_folder_name(study)
    if a.study_command == "status" or a.dry_run:
        for line in format_status(study_status(study, out)):
            print(line)
        return 0
    return _run(a, study, out)


def _run(a: argparse.Namespace, study: Any, out: Path) -> int:
    from lossviz_core.cli.executor import executor_from_args
    from lossviz_core.cli.signals import ignore_interrupts
    from lossviz_core.device import threads_for_load
    from lossviz_core.studies.runner import iter_study
    from lossviz_core.studies.usercode import study_code_files

    code = study_code_files(study)
    if code and not a.allow_code:
        raise InputError(f"the study {a.study} names code to run ({code[0]}); pass "
                         "--allow-code to run it")
    for path in code:
        _say(f"running code from {path}")
    executor = executor_from_args(a)
    gen = iter_study(study, out, executor=executor, stop_on_error=a.stop_on_error,
                     download=a.download)
    try:
        while True:
            try:
                event = next(gen)
            except StopIteration as stop:
                summary = stop.value
                break
            if type(event).__name__ == "UnitStarted" and getattr(executor, "name", "") != "ray":
                threads_for_load()  # a long study meets changing load: re-read it per unit
            _print(event)
    except KeyboardInterrupt:
        ignore_interrupts()  # another signal must not break the cleanup below
        raise
    finally:
        gen.close()  # Ctrl-C: locks released, the finished units stay done
    _say(summary.text())
    for path in summary.figures:
        _say(f"figure {path}")
    return 0 if summary.ok else EXIT_FAILED


def _print(event: Any) -> None:
    from lossviz_core.progress import Chunk, EpochReport
    from lossviz_core.studies import events as ev

    if isinstance(event, ev.StudyPlanned):
        plan, todo = event.plan, event.todo
        profile = f" (profile {plan.study.profile})" if plan.study.profile else ""
        _say(f"study {plan.study.name}{profile} in {plan.out}: {len(plan.units)} units, "
             f"{len(event.done)} done, {len(todo)} to do")
    elif isinstance(event, ev.UnitStarted):
        u = event.unit
        what = {"train": f" ({u.work} epochs)", "grid": f" ({u.work} points)"}.get(u.kind, "")
        _say(f"[{event.index}/{event.total}] {u.label}{what} ...")
    elif isinstance(event, ev.UnitProgress) and isinstance(event.item, EpochReport):
        r = event.item
        test = "" if r.test_acc is None else f"  test acc {r.test_acc:.1f} %"
        _say(f"  epoch {r.epoch}/{r.epochs}  train loss {r.train_loss:.4f}{test}  "
             f"({r.seconds:.1f} s)")
    elif isinstance(event, ev.UnitProgress) and isinstance(event.item, Chunk):
        c = event.item
        if c.done == c.total:
            _say(f"  {c.done}/{c.total} points ({c.elapsed:.1f} s)")
    elif isinstance(event, ev.UnitFinished):
        _say(f"done {event.unit.label} in {event.seconds:.1f} s")
    elif isinstance(event, ev.UnitFailed):
        _say(f"FAILED {event.unit.label}: {event.message}")
    elif isinstance(event, ev.UnitSkipped):
        _say(f"skipped {event.unit.label}: {event.reason}")


def _say(text: str) -> None:
    print(f"lossviz: {text}", file=sys.stderr, flush=True)
