"""The ``lossviz`` command line: surface, line, connect, align, train, plot, info, models,
animate, eos.

Bad input ends with one line on stderr and a non-zero exit, never a traceback
(set LOSSVIZ_DEBUG=1 to see one for an unexpected error).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from lossviz_core import limits
from lossviz_core.cli.executor import add_executor_arguments, executor_from_args, workers_note
from lossviz_core.cli.gates import check_code_allowed
from lossviz_core.cli.signals import (
    EXIT_INTERRUPTED,
    ignore_interrupts,
    install_interrupts,
    load_libraries,
)
from lossviz_core.cli.study import add_study_parser, run_study_command
from lossviz_core.errors import InputError, LossVizError
from lossviz_core.recipe.spec import (
    COMPILE_MODES,
    DATA_CACHES,
    DIR_TYPES,
    IGNORE_HELP,
    IGNORES,
    MEMORY_FORMATS,
    MULTI_MODES,
    NORMS,
    PRECISIONS,
    SPLITS,
    TRANSFORMS,
    Range,
    Recipe,
)
from lossviz_core.resolve import (
    all_choices,
    choices_of,
    explain,
    grants_as_asked,
    resolve,
    user_code_files,
)

EXIT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        self.exit(EXIT_ERROR, f"lossviz: error: {message} (see {self.prog} -h)\n")


def _range(text: str) -> Range:
    try:
        return Range.parse(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_source(p: argparse.ArgumentParser, output: bool = True, entries: bool = True,
                eval_batch: bool = True) -> None:
    from lossviz_core.cli import entries as generated

    g = p.add_argument_group("model (any PyTorch model: see the README)")
    g.add_argument("--demo", action="store_true", help="the bundled digits demo")
    g.add_argument("--model", help=generated.model_help() if entries else "a model name")
    g.add_argument("--checkpoint", help="checkpoint file (.pt, .t7, .safetensors) to load")
    g.add_argument("--pretrained", nargs="?", const="DEFAULT", metavar="WEIGHTS",
                   help="torchvision/timm pretrained weights (DEFAULT or a weights name); "
                   "downloaded if not cached")
    g.add_argument("--output", metavar="INDEX|KEY",
                   help="the logits in a forward that returns a tuple or dict")
    g.add_argument("--num-classes", type=int, help="output classes, when neither the "
                   "checkpoint nor the data says")
    g.add_argument("--run", metavar="RUN_DIR", help="a training run folder: its final "
                   "checkpoint and dataset")
    g.add_argument("--allow-code", action="store_true", help="run the model or dataset code "
                   "that a run folder or, with --resume, the result file names (a Python file "
                   "or an archive); code named by --model/--dataset/--loss runs without it")
    d = p.add_argument_group("data and loss")
    d.add_argument("--dataset", default=None,
                   help=generated.dataset_help() if entries else "a dataset name")
    d.add_argument("--data-root", help="dataset folder (cifar10, torchvision:NAME)")
    d.add_argument("--download", action="store_true", help="download the dataset (or an hf: "
                   "model and its tokenizer) if missing")
    d.add_argument("--transform", choices=TRANSFORMS, default="auto",
                   help="images from files: cifar | imagenet | none (tensor in [0, 1])")
    d.add_argument("--image-size", "--size", type=int, dest="image_size",
                   help="resize and centre-crop images to this size")
    d.add_argument("--mean", help="per-channel mean, e.g. 0.485,0.456,0.406")
    d.add_argument("--std", help="per-channel std, e.g. 0.229,0.224,0.225")
    d.add_argument("--data-cache", choices=DATA_CACHES, default="auto",
                   help="where decoded data lives (auto: device, else host, else streamed)")
    d.add_argument("--data-workers", dest="workers", type=int, metavar="N",
                   help="DataLoader workers decoding a streamed data set (not Ray's --workers)")
    d.add_argument("--subsample", type=int, help="use N random examples of each split")
    d.add_argument("--subsample-seed", type=int, default=0)
    d.add_argument("--split", choices=SPLITS, default=None)
    d.add_argument("--loss", default=None,
                   help=(generated.loss_help() if entries else "a loss name")
                   + " (default: the data's own: ce, or lm for token data)")
    d.add_argument("--label-smoothing", type=float, default=0.0, help="for ce")
    c = p.add_argument_group("compute")
    c.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    c.add_argument("--precision", choices=PRECISIONS, default="auto")
    if eval_batch:  # connect's --batch-size is its training batch
        c.add_argument("--batch-size", type=int)
    c.add_argument("--compile", choices=COMPILE_MODES, default="auto")
    c.add_argument("--multi", choices=MULTI_MODES, default="auto",
                   help="several grid points per pass (auto: a probe decides)")
    c.add_argument("--memory-format", choices=MEMORY_FORMATS, default="auto",
                   help="image inputs' memory format (auto: channels_last on CUDA, on the CPU "
                   "whichever a probe finds faster; pin one for bit-identical reruns)")
    c.add_argument("--measure", action="append", metavar="NAME",
                   help=generated.measure_help() if entries else "a measure; repeatable")
    if not output:
        return
    add_executor_arguments(p)  # surface and line: where the grid's points are computed
    o = p.add_argument_group("output")
    o.add_argument("--out", required=True, help="result file (.h5)")
    o.add_argument("--resume", action="store_true", help="compute only the missing points "
                   "(with no model options: the recipe stored in --out)")
    o.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    o.add_argument("--plot", help="also draw a figure (.png/.svg/.pdf) when done")


def _add_directions(p: argparse.ArgumentParser, two_d: bool, entries: bool = True) -> None:
    from lossviz_core.cli import entries as generated

    g = p.add_argument_group("directions")
    g.add_argument("--dir-type", choices=DIR_TYPES, default=None,
                   help="weights (default) | states (default for an interpolation)")
    g.add_argument("--xnorm", choices=NORMS, default="filter")
    g.add_argument("--xignore", choices=IGNORES, default="biasbn", help=IGNORE_HELP)
    if two_d:
        g.add_argument("--ynorm", choices=NORMS, default=None)
        g.add_argument("--yignore", choices=IGNORES, default=None)
    g.add_argument("--seed", type=int, default=0, help="random direction seed")
    g.add_argument("--seeds", metavar="FIRST:LAST|N", help="the same landscape for several "
                   "direction seeds (1:5, or a count from --seed), stored each with their mean "
                   "and standard deviation per point")
    if two_d:
        g.add_argument("--plane", metavar="A,B,C", help="the plane through three models "
                       "(checkpoints or run folders of one architecture): A at (0, 0), B at "
                       "(1, 0), C at (c, 1)")
    g.add_argument("--method", help=generated.method_help(two_d) if entries else "a method")
    g.add_argument("--save-directions", help="export the directions to an HDF5 file")
    if entries:  # the parameters each model, data kind, loss, method and measure declares
        generated.add_entry_arguments(p, two_d)


# their flags come from the registries
ENTRY_COMMANDS = ("surface", "line", "curvature", "connect", "align")


def build_parser(entries_for: tuple[str, ...] = ENTRY_COMMANDS) -> argparse.ArgumentParser:
    """The parser; ``entries_for``: the commands whose entry flags are generated (loading the
    registries imports torch, which a command that does not compute never needs)."""
    p = _Parser(prog="lossviz", description="Loss landscapes of neural networks "
                "(Li et al., NeurIPS 2018). Without arguments, opens the application.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    s = sub.add_parser("surface", help="compute a 2-D surface")
    on = "surface" in entries_for
    _add_source(s, entries=on)
    _add_directions(s, two_d=True, entries=on)
    s.add_argument("--x", type=_range, default=None, help="MIN:MAX:NUM (-1:1:21)")
    s.add_argument("--y", type=_range, default=None, help="MIN:MAX:NUM (-1:1:21)")
    s.add_argument("--fit-ranges", action="store_true", default=None,
                   help="PCA plane: fit the ranges to the trajectory (the default without "
                   "--x/--y), keeping the point counts of --x/--y")

    ln = sub.add_parser("line", help="compute a 1-D line (random direction or interpolation)")
    on = "line" in entries_for
    _add_source(ln, entries=on)
    _add_directions(ln, two_d=False, entries=on)
    ln.add_argument("--x", type=_range, default=None, help="MIN:MAX:NUM (-1:1:51, or -0.5:1.5:41 "
                    "for an interpolation)")

    from lossviz_core.cli.align import add_align_arguments
    from lossviz_core.cli.connect import add_connect_arguments
    from lossviz_core.cli.entries import add_entry_arguments

    cn = sub.add_parser("connect", help="a mode-connecting curve between two models (its bend "
                        "trained), beside the straight line, with both barriers")
    on = "connect" in entries_for
    add_connect_arguments(cn, lambda q, **kw: _add_source(q, entries=on, **kw),
                          add_entry_arguments if on else lambda *_, **__: None, _range)
    al = sub.add_parser("align", help="permute B's hidden units to match A's (weight "
                        "matching), with the barrier before and after")
    add_align_arguments(al, lambda q, **kw: _add_source(q, entries="align" in entries_for, **kw),
                        _range)

    t = sub.add_parser("train", help="train a model, writing a run folder")
    from lossviz_core.cli.train import add_train_arguments

    add_train_arguments(t)

    pl = sub.add_parser("plot", help="draw a figure from a result file")
    pl.add_argument("file")
    pl.add_argument("--out", required=True, help="figure file (.png, .svg, .pdf)")
    pl.add_argument("--kind", default="auto", choices=("auto", "contour", "filled", "surface", "line"))
    pl.add_argument("--quantity", help="any quantity the file holds (train_loss, test_acc, ...)")
    pl.add_argument("--levels", type=int, default=30)
    pl.add_argument("--vmax", type=float, help="clip the loss at this value")
    pl.add_argument("--log", action="store_true", help="log scale")
    pl.add_argument("--overwrite", action="store_true", help="replace an existing figure")

    cv = sub.add_parser("curvature", help="Hessian spectrum, trace, density and sharpness "
                        "at the checkpoint (or a point of the plane)")
    on = "curvature" in entries_for
    _add_source(cv, output=False, entries=on)
    _add_directions(cv, two_d=True, entries=on)
    from lossviz_core.cli.curvature import add_curvature_arguments

    add_curvature_arguments(cv)

    i = sub.add_parser("info", help="what a result file holds (without one: every model "
                       "source, data kind, loss, direction method and measure installed)")
    i.add_argument("file", nargs="?")
    sub.add_parser("models", help="list the model zoo and the other model sources")
    add_study_parser(sub)
    from lossviz_core.cli.animate import add_animate_parser
    from lossviz_core.cli.eos import add_eos_parser

    add_animate_parser(sub)
    add_eos_parser(sub)
    return p


def _source_flags() -> tuple[str, ...]:
    """The choices that name what to compute (with none of them, --resume reads the file)."""
    from lossviz_core.resolve import entry_choices

    selects = (ec.key for ec in entry_choices() if ec.param.selects or ec.param.is_path)
    return ("demo", "model", "run", "checkpoint", "dataset", "plane", *selects)


def choices_from_args(a: argparse.Namespace, line: bool) -> dict:
    """The resolver's choices for parsed ``surface`` / ``line`` arguments."""
    choices = {k: getattr(a, k) for k in all_choices() if hasattr(a, k)}
    choices["line"] = line
    if getattr(a, "plane", None):
        choices.update(plane_choices(a.plane, choices))
    return choices


def plane_choices(text: str, given: dict) -> dict:
    """``--plane A,B,C``: the model's checkpoint (or A's run folder) and the three-model
    plane's B and C."""
    from lossviz_core.runs import RUN_FILE, checkpoint_in

    parts = [t.strip() for t in str(text).split(",")]
    if len(parts) != 3 or not all(parts):
        raise InputError(f"--plane wants three models A,B,C (checkpoints or run folders), got "
                         f"{text!r}")
    clash = [f"--{k}" for k in ("checkpoint", "checkpoint2", "checkpoint3") if given.get(k)]
    if clash:
        raise InputError(f"--plane names A, B and C: drop {clash[0]}")
    a = Path(parts[0]).expanduser()
    if (a / RUN_FILE).is_file() and not given.get("model"):
        where = {"run": str(a)}  # its model, dataset and final checkpoint
    else:
        where = {"checkpoint": str(checkpoint_in(a))}
    return {**where, "method": "plane3", "checkpoint2": parts[1], "checkpoint3": parts[2]}


def recipe_from_args(a: argparse.Namespace, line: bool) -> Recipe:
    """The recipe of a ``surface`` / ``line`` command; with ``--resume`` and no model options,
    the recipe stored in ``--out``, with the options given on top (a change that would mix
    two landscapes in one file is refused when the file is opened)."""
    if a.resume and not any(getattr(a, k, None) for k in _source_flags()):
        from lossviz_core.results.store import read_result

        if not Path(a.out).exists():
            raise InputError(f"{a.out} does not exist: there is nothing to resume; give the "
                             "model and data options to start it")
        try:
            stored = Recipe.from_specs(read_result(a.out).specs)
        except InputError as exc:
            raise InputError(f"{a.out}: its stored recipe is malformed: {exc}") from None
        if stored is None:
            raise InputError(f"{a.out} holds no LossViz recipe (a file from the reference "
                             "implementation?): give the model and data options to resume it")
        if stored.is_line != line:
            raise InputError(f"{a.out} holds a {'line' if stored.is_line else 'surface'}: "
                             f"resume it with `lossviz {'line' if stored.is_line else 'surface'}`")
        table = all_choices()
        given = {k: v for k, v in choices_from_args(a, line).items()
                 if k != "line" and v is not None and v != table[k]}
        recipe = resolve({**choices_of(stored), **given}) if given else stored
        # the file names what to compute, never what may be downloaded or run
        return grants_as_asked(recipe, a.download, a.pretrained is not None,
                               getattr(a, "allow_code", False))
    return resolve(choices_from_args(a, line))


def _say(text: str) -> None:
    print(f"lossviz: {text}", file=sys.stderr)


def _run_job(a: argparse.Namespace, two_d: bool) -> int:
    from lossviz_core.device import resume_threads, threads_for_load
    from lossviz_core.results.paths import OutputLock, check_output
    from lossviz_core.results.store import read_decisions

    recipe = recipe_from_args(a, line=not two_d)
    check_code_allowed(recipe, a)
    check_grid_fits(recipe)
    out = check_output(a.out, "result file", may_exist=a.resume or a.overwrite,
                       hint="pass --resume to continue it or --overwrite")
    for path, what in ((a.plot, "figure"), (a.save_directions, "direction file"),
                       (getattr(a, "save_curve", None), "curve file")):
        if path:
            check_output(path, what, may_exist=a.overwrite)
    # Reserve the output now, before the long preparation: a second writer is refused at once.
    with OutputLock.acquire(out) as lock:
        recorded = read_decisions(out)[-1:] if a.resume and out.exists() else []
        pinned = resume_threads(recorded[0].get("threads")) if recorded else None
        threads, why = pinned or threads_for_load()
        for path in user_code_files(recipe):
            _say(f"running code from {path}")
        _say(f"preparing {recipe.model.name} on {recipe.dataset.name} ({why}) ...")
        for note in explain(recipe):
            _say(note)
        job = _prepare(recipe, out if a.resume else None, verbose=a.command == "connect")
        return _compute(a, job, out, lock)


def _prepare(recipe: Recipe, resume_from: Path | None, verbose: bool = False):  # noqa: ANN202
    from lossviz_core.progress import Step
    from lossviz_core.run.job import iter_prepare

    prep = iter_prepare(recipe, resume_from)
    while True:
        try:
            step = next(prep)
        except StopIteration as stop:
            job = stop.value
            break
        if isinstance(step, Step) and (verbose or os.environ.get("LOSSVIZ_VERBOSE")):
            _say(f"{step.text} ...")
    from lossviz_core.data.registry import data_unit
    from lossviz_core.measures import measure_kind

    data, unit = job.data, data_unit(job.recipe.dataset.name)
    _say(f"data: {len(data.train)} train" + (f" + {len(data.test)} test" if data.test is not None
                                              else "") + f" {unit}, {data.storage}")
    info = job.directions.info
    if "cosine" in info:
        _say(f"cosine(d1, d2) = {info['cosine']:.4f}")
    if "explained_variance" in info:
        ev = info["explained_variance"]
        _say(f"PCA explained variance {100 * ev[0]:.1f} %, {100 * ev[1]:.1f} %")
    for name in job.recipe.measures:
        if name != "loss":
            kind = measure_kind(name)
            _say(f"{kind.label}: {kind.cost} (each over {len(data.train)} {unit})")
    ev_info = job.workspace.info.get("evaluator", {})
    threads = ev_info.get("threads")
    _say(f"{job.device_text}, {ev_info.get('precision')}, mode {ev_info.get('mode')}, "
         f"batch {ev_info.get('batch_size')}"
         + (f", {threads} thread{'s' if threads != 1 else ''}" if threads else "")
         + (" (as the file's points were computed)" if ev_info.get("pinned") else ""))
    return job


def _compute(a: argparse.Namespace, job, out: Path, lock) -> int:  # noqa: ANN001
    from tqdm import tqdm

    from lossviz_core.directions import save_directions

    if a.save_directions:
        save_directions(a.save_directions, job.directions)
    gen = job.iter(out=out, resume=a.resume, overwrite=a.overwrite, lock=lock,
                   executor=executor_from_args(a))
    result, store = job.result, job.store
    bar = tqdm(total=result.done.size, initial=int(result.done.sum()), unit="pt",
               desc="points", file=sys.stderr, dynamic_ncols=True)
    try:
        for chunk in gen:
            bar.update(len(chunk.indices))
            bar.set_postfix_str(workers_note(chunk), refresh=False)
    except KeyboardInterrupt:
        ignore_interrupts()  # a second Ctrl-C (or SIGTERM) must not break the cleanup
        bar.close()
        gen.close()
        saved = store.written if store is not None else int(result.done.sum())
        where = store.path if store is not None else out
        _say(f"interrupted: {saved}/{result.done.size} points saved in {where}; rerun with "
             f"--resume --out {where} to finish"
             + (f" ({out} is kept as it was)" if where != out else ""))
        return EXIT_INTERRUPTED
    finally:
        bar.close()  # an error after this prints on its own line, not glued to the bar
    loss = result.values[result.main_quantity()]
    bad = int((~np.isfinite(loss)).sum())
    if bad:  # what made them so: a negative BatchNorm variance, or a diverged loss
        from lossviz_core.results import nonfinite

        _say(f"warning: {bad} points have a non-finite loss (stored as NaN/inf): "
             f"{nonfinite.explain(result).cause()}")
    _say(f"wrote {out} ({'x'.join(map(str, result.shape))} points, "
         f"min {result.main_quantity()} {np.nanmin(np.where(np.isfinite(loss), loss, np.nan)):.4g})"
         if bad < loss.size else f"wrote {out}")
    replanned = job.workspace.info.get("evaluator", {}).get("replanned")
    if replanned:
        _say(f"changed plan mid-run: {replanned}")
    from lossviz_core.cli.report import alignment_lines, result_lines

    for line in (*result_lines(result), *alignment_lines(job)):
        _say(line)
    if getattr(a, "save_curve", None):
        from lossviz_core.cli.connect import save_curve

        _say(f"wrote the bend to {save_curve(job, a.save_curve, a.overwrite)}")
    if a.plot:
        from lossviz_core.figures import plot_result

        plot_result(result, a.plot, overwrite=a.overwrite)
        _say(f"drew {a.plot}")
    return 0


def check_grid_fits(recipe: Recipe) -> None:
    """Refuse, at once, a grid this machine cannot even hold (before any preparation)."""
    limits.check_grid_fits(recipe.grid.shape, seeds=len(recipe.directions.seeds) or 1)


def _plot(a: argparse.Namespace) -> int:
    from lossviz_core.figures import plot_result
    from lossviz_core.results.store import read_result

    result = read_result(a.file)
    path = plot_result(result, a.out, kind=a.kind, quantity=a.quantity, levels=a.levels,
                       vmax=a.vmax, log=a.log, overwrite=a.overwrite)
    print(f"lossviz: drew {path}", file=sys.stderr)
    return 0


def _info(a: argparse.Namespace) -> int:
    from lossviz_core.cli.entries import recipe_lines, registry_lines
    from lossviz_core.results.quantities import quantity
    from lossviz_core.results.store import read_result

    if a.file is None:
        load_libraries()
        print("\n".join(registry_lines()))
        return 0
    r = read_result(a.file)
    kind = "line" if r.is_line else "surface"
    print(f"{a.file}: {kind}, {'x'.join(map(str, r.shape))} points "
          f"({int(r.done.sum())} computed)")
    print(f"  x: {r.x[0]:g} .. {r.x[-1]:g} ({len(r.x)})")
    if r.y is not None:
        print(f"  y: {r.y[0]:g} .. {r.y[-1]:g} ({len(r.y)})")
    for q in r.quantities:
        v = r.values[q]
        fin = v[np.isfinite(v)]
        unit = quantity(q).unit
        rng = (f"{fin.min():.4g} .. {fin.max():.4g}{' ' + unit if unit else ''}" if fin.size
               else "no finite values")
        print(f"  {q} ({quantity(q).label}): {rng}"
              + (f" ({v.size - fin.size} missing/non-finite)" if fin.size < v.size else ""))
    recipe = r.recipe
    if recipe is not None:
        print("\n".join(recipe_lines(recipe)))
        print(f"  recipe: {recipe.to_json()}")
    if r.trajectory is not None and not r.trajectory.labels:
        ev = r.trajectory.explained_variance
        print(f"  trajectory: {len(r.trajectory.epochs)} checkpoints, explained variance "
              f"{100 * ev[0]:.1f} % / {100 * ev[1]:.1f} %")
    if not r.specs:
        print("  (no LossViz metadata: a file from the reference implementation?)")
    from lossviz_core.cli.report import result_lines

    for line in result_lines(r):
        print(f"  {line}")
    return 0


def _models(_: argparse.Namespace) -> int:
    from lossviz_core.models import list_models
    from lossviz_core.sources import model_sources

    for m in list_models():
        shape = "x".join(map(str, m.input_shape))
        print(f"{m.name:24s} {m.dataset:8s} input {shape:8s} {m.description}")
    print("\nother sources (--model):")
    for src in model_sources():
        if src.name != "zoo":
            print(f"  {src.example:36s} {src.label}")
    return 0


#: commands that load torch (and its compiled extensions) before doing anything else
NEEDS_TORCH = ("surface", "line", "connect", "align", "train", "curvature", "study",
               "animate")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    install_interrupts()
    args = sys.argv[1:] if argv is None else list(argv)
    command = next((t for t in args if not t.startswith("-")), None)
    try:
        if command in NEEDS_TORCH:
            load_libraries()  # before the registries load it; a broken torch is one line too
        parser = build_parser(entries_for=(command,) if command in ENTRY_COMMANDS else ())
        a = parser.parse_args(args)
        if a.command is None:
            parser.print_help()
            return 0
        if a.command == "surface":
            return _run_job(a, two_d=True)
        if a.command == "line":
            return _run_job(a, two_d=False)
        if a.command == "connect":
            from lossviz_core.cli.connect import connect_namespace

            return _run_job(connect_namespace(a), two_d=False)
        if a.command == "align":
            from lossviz_core.cli.align import run_align

            return run_align(a)
        if a.command == "train":
            from lossviz_core.cli.train import run_train

            return run_train(a)
        if a.command == "curvature":
            from lossviz_core.cli.curvature import run_curvature

            return run_curvature(a)
        if a.command == "animate":
            from lossviz_core.cli.animate import run_animate

            return run_animate(a)
        if a.command == "eos":
            from lossviz_core.cli.eos import run_eos

            return run_eos(a)
        return {"plot": _plot, "info": _info, "models": _models,
                "study": run_study_command}[a.command](a)
    except LossVizError as exc:
        print(f"lossviz: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `lossviz info FILE | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        ignore_interrupts()
        print("\nlossviz: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a one-line message
        if os.environ.get("LOSSVIZ_DEBUG"):
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"lossviz: error: {type(exc).__name__}: {msg} (LOSSVIZ_DEBUG=1 shows details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
