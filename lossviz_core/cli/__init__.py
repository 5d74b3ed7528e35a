"""The ``lossviz`` command line: surface, line, train, plot, info, models.

Bad input ends with one line on stderr and a non-zero exit, never a traceback
(set LOSSVIZ_DEBUG=1 to see one for an unexpected error).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from lossviz_core.errors import InputError, LossVizError
from lossviz_core.recipe.spec import (
    DIR_TYPES,
    IGNORES,
    NORMS,
    DatasetSpec,
    DirectionSpec,
    ModelSpec,
    Range,
    SurfaceSpec,
)

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        self.exit(EXIT_ERROR, f"lossviz: error: {message} (see {self.prog} -h)\n")


def _range(text: str) -> Range:
    try:
        return Range.parse(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_source(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and data")
    g.add_argument("--demo", action="store_true", help="the bundled digits demo")
    g.add_argument("--model", help="zoo model name (see `lossviz models`)")
    g.add_argument("--checkpoint", help="checkpoint file (.pt, .t7, .safetensors)")
    g.add_argument("--dataset", default=None, help="digits | cifar10 | tensors:FILE.npz")
    g.add_argument("--data-root", help="dataset folder (cifar10)")
    g.add_argument("--download", action="store_true", help="download the dataset if missing")
    g.add_argument("--subsample", type=int, help="use N random examples of each split")
    g.add_argument("--subsample-seed", type=int, default=0)
    g.add_argument("--split", choices=("train", "test", "both"), default=None)
    g.add_argument("--loss", choices=("ce", "mse"), default="ce")
    c = p.add_argument_group("compute")
    c.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    c.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    c.add_argument("--batch-size", type=int)
    o = p.add_argument_group("output")
    o.add_argument("--out", required=True, help="result file (.h5)")
    o.add_argument("--resume", action="store_true", help="compute only the missing points")
    o.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    o.add_argument("--plot", help="also draw a figure (.png/.svg/.pdf) when done")


def _add_directions(p: argparse.ArgumentParser, two_d: bool) -> None:
    g = p.add_argument_group("directions")
    g.add_argument("--dir-type", choices=DIR_TYPES, default="weights")
    g.add_argument("--xnorm", choices=NORMS, default="filter")
    g.add_argument("--xignore", choices=IGNORES, default="biasbn")
    if two_d:
        g.add_argument("--ynorm", choices=NORMS, default="filter")
        g.add_argument("--yignore", choices=IGNORES, default="biasbn")
    g.add_argument("--seed", type=int, default=0, help="random direction seed")
    g.add_argument("--directions", help="import directions from an HDF5 direction file")
    g.add_argument("--save-directions", help="export the directions to an HDF5 file")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lossviz", description="Loss landscapes of neural networks "
                "(Li et al., NeurIPS 2018). Without arguments, opens the application.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    s = sub.add_parser("surface", help="compute a 2-D surface")
    _add_source(s)
    _add_directions(s, two_d=True)
    s.add_argument("--pca", metavar="RUN_DIR", help="PCA plane through a training run's trajectory")
    s.add_argument("--x", type=_range, default=Range(-1, 1, 21), help="MIN:MAX:NUM (-1:1:21)")
    s.add_argument("--y", type=_range, default=Range(-1, 1, 21), help="MIN:MAX:NUM (-1:1:21)")

    ln = sub.add_parser("line", help="compute a 1-D line (random direction or interpolation)")
    _add_source(ln)
    _add_directions(ln, two_d=False)
    ln.add_argument("--checkpoint2", help="interpolate θ_A + α(θ_B − θ_A) towards this checkpoint")
    ln.add_argument("--x", type=_range, default=None, help="MIN:MAX:NUM (-1:1:51, or -0.5:1.5:41 "
                    "for an interpolation)")

    t = sub.add_parser("train", help="train a model, writing a run folder")
    from lossviz_core.cli.train import add_train_arguments

    add_train_arguments(t)

    pl = sub.add_parser("plot", help="draw a figure from a result file")
    pl.add_argument("file")
    pl.add_argument("--out", required=True, help="figure file (.png, .svg, .pdf)")
    pl.add_argument("--kind", default="auto", choices=("auto", "contour", "filled", "surface", "line"))
    pl.add_argument("--quantity", help="train_loss | train_acc | test_loss | test_acc")
    pl.add_argument("--levels", type=int, default=30)
    pl.add_argument("--vmax", type=float, help="clip the loss at this value")
    pl.add_argument("--log", action="store_true", help="log scale")

    i = sub.add_parser("info", help="what a result file holds")
    i.add_argument("file")
    sub.add_parser("models", help="list the model zoo")
    return p


def _specs_from_args(a: argparse.Namespace, two_d: bool):
    from lossviz_core import demo

    if a.demo:
        m, d, dirs, surf = demo.specs("surface" if two_d else "line")
    else:
        if not (a.model or getattr(a, "pca", None)):
            raise InputError("choose a model: --demo, or --model NAME --checkpoint FILE")
        m, d, dirs, surf = ModelSpec(a.model or ""), DatasetSpec(), DirectionSpec(), SurfaceSpec()
    if a.model:
        m = m.replace(name=a.model)
    if a.checkpoint:
        m = m.replace(checkpoint=_existing(a.checkpoint, "checkpoint"))
    ds = {}
    for key, val in (("name", a.dataset), ("root", a.data_root), ("subsample", a.subsample)):
        if val is not None:
            ds[key] = val
    d = d.replace(download=a.download or d.download, subsample_seed=a.subsample_seed, **ds)
    if d.subsample is not None and d.subsample < 1:
        raise InputError("--subsample must be a positive number of examples")
    if "tensors:" in d.name:
        _existing(d.name.split(":", 1)[1], "tensors file")

    dkw = dict(dir_type=a.dir_type, xnorm=a.xnorm, xignore=a.xignore, seed=a.seed)
    if two_d:
        dkw.update(ynorm=a.ynorm, yignore=a.yignore)
    if a.directions:
        dkw.update(method="file", file=_existing(a.directions, "direction file"))
    if two_d and a.pca:
        from lossviz_core.train.runs import read_run

        if a.checkpoint or a.directions:
            raise InputError("--pca centres the plane on the run's final checkpoint with its own "
                             "directions: drop --checkpoint / --directions")
        run = read_run(a.pca)
        dkw.update(method="pca", pca_run=str(Path(a.pca).resolve()))
        if not a.model:
            m = m.replace(name=run.model_name)
        if a.dataset is None and run.dataset:
            d = DatasetSpec.from_dict(run.dataset).replace(subsample=d.subsample,
                                                           subsample_seed=d.subsample_seed)
    if not two_d and a.checkpoint2:
        dkw.update(method="target", target_checkpoint=_existing(a.checkpoint2, "checkpoint2"))
    dirs = dirs.replace(**dkw)

    split = a.split or surf.split
    if two_d:
        surf = SurfaceSpec(x=a.x, y=a.y, split=split)
    else:
        if a.x is not None:
            x = a.x
        elif a.demo:
            x = surf.x
        else:
            x = Range(-0.5, 1.5, 41) if dirs.method == "target" else Range(-1, 1, 51)
        surf = SurfaceSpec(x=x, y=None, split=split)
    surf = surf.replace(loss=a.loss, device=a.device, precision=a.precision,
                        batch_size=a.batch_size)
    return m, d, dirs, surf


def _existing(path: str, what: str) -> str:
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{what} not found: {path}")
    return str(p.resolve())


def _run_job(a: argparse.Namespace, two_d: bool) -> int:
    from tqdm import tqdm

    from lossviz_core.directions import save_directions
    from lossviz_core.run.job import prepare

    specs = _specs_from_args(a, two_d)
    out = Path(a.out)
    if out.exists() and not (a.resume or a.overwrite):
        raise InputError(f"{out} already exists: pass --resume to continue it or --overwrite")
    print(f"lossviz: preparing {specs[0].name} on {specs[1].name} ...", file=sys.stderr)
    job = prepare(*specs)
    info = job.directions.info
    if "cosine" in info:
        print(f"lossviz: cosine(d1, d2) = {info['cosine']:.4f}", file=sys.stderr)
    if "explained_variance" in info:
        ev = info["explained_variance"]
        print(f"lossviz: PCA explained variance {100 * ev[0]:.1f} %, {100 * ev[1]:.1f} %",
              file=sys.stderr)
    if a.save_directions:
        save_directions(a.save_directions, job.directions)
    ev_info = job.evaluator.info
    print(f"lossviz: {job.device_text}, {ev_info.get('precision')}, mode {ev_info.get('mode')}, "
          f"batch {ev_info.get('batch_size')}", file=sys.stderr)
    gen = job.iter(out=out, resume=a.resume, overwrite=a.overwrite)
    result = job.result
    bar = tqdm(total=result.done.size, initial=int(result.done.sum()), unit="pt",
               desc="points", file=sys.stderr, dynamic_ncols=True)
    try:
        for chunk in gen:
            bar.update(len(chunk.indices))
    except KeyboardInterrupt:
        gen.close()
        bar.close()
        print(f"lossviz: interrupted: {int(result.done.sum())}/{result.done.size} points saved "
              f"in {out}; rerun with --resume to finish", file=sys.stderr)
        return EXIT_INTERRUPTED
    bar.close()
    loss = result.values[result.main_quantity()]
    bad = int((~np.isfinite(loss)).sum())
    if bad:
        print(f"lossviz: warning: {bad} points have a non-finite loss (stored as NaN/inf)",
              file=sys.stderr)
    print(f"lossviz: wrote {out} ({'x'.join(map(str, result.shape))} points, "
          f"min {result.main_quantity()} {np.nanmin(np.where(np.isfinite(loss), loss, np.nan)):.4g})"
          if bad < loss.size else f"lossviz: wrote {out}", file=sys.stderr)
    if a.plot:
        from lossviz_core.figures import plot_result

        plot_result(result, a.plot)
        print(f"lossviz: drew {a.plot}", file=sys.stderr)
    return 0


def _plot(a: argparse.Namespace) -> int:
    from lossviz_core.figures import plot_result
    from lossviz_core.results.store import read_result

    result = read_result(a.file)
    path = plot_result(result, a.out, kind=a.kind, quantity=a.quantity, levels=a.levels,
                       vmax=a.vmax, log=a.log)
    print(f"lossviz: drew {path}", file=sys.stderr)
    return 0


def _info(a: argparse.Namespace) -> int:
    from lossviz_core.results.store import read_result

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
        rng = f"{fin.min():.4g} .. {fin.max():.4g}" if fin.size else "no finite values"
        print(f"  {q}: {rng}" + (f" ({v.size - fin.size} missing/non-finite)" if fin.size < v.size else ""))
    for key in ("model", "dataset", "directions", "surface"):
        if key in r.specs:
            print(f"  {key}: {r.specs[key]}")
    if r.trajectory is not None:
        ev = r.trajectory.explained_variance
        print(f"  trajectory: {len(r.trajectory.epochs)} checkpoints, explained variance "
              f"{100 * ev[0]:.1f} % / {100 * ev[1]:.1f} %")
    if not r.specs:
        print("  (no LossViz metadata: a file from the reference implementation?)")
    return 0


def _models(_: argparse.Namespace) -> int:
    from lossviz_core.models import list_models

    for m in list_models():
        shape = "x".join(map(str, m.input_shape))
        print(f"{m.name:24s} {m.dataset:8s} input {shape:8s} {m.description}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.command is None:
        parser.print_help()
        return 0
    try:
        if a.command == "surface":
            return _run_job(a, two_d=True)
        if a.command == "line":
            return _run_job(a, two_d=False)
        if a.command == "train":
            from lossviz_core.cli.train import run_train

            return run_train(a)
        return {"plot": _plot, "info": _info, "models": _models}[a.command](a)
    except LossVizError as exc:
        print(f"lossviz: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("lossviz: interrupted", file=sys.stderr)
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
