"""``lossviz curvature``: the Hessian at the checkpoint (or at a point of the plane).

Same model and data options as ``lossviz surface``; writes a JSON report (``--out``) with
at least ``eigenvalues`` (the top k, largest first), ``lambda_min``, ``trace``,
``trace_stderr``, ``per_layer``, ``sharpness``, ``density`` (grid and values), ``converged``
and ``examples``, and a figure with ``--plot``.
"""

from __future__ import annotations

import argparse
import sys

from lossviz_core.errors import InputError


def _point(text: str) -> tuple[float, float]:
    try:
        parts = [float(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--at wants ALPHA,BETA, got {text!r}") from None
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError(f"--at wants ALPHA,BETA, got {text!r}")
    return (parts[0], parts[1] if len(parts) == 2 else 0.0)


def add_curvature_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("curvature")
    g.add_argument("--top-k", type=int, default=5, help="how many top eigenvalues (5)")
    g.add_argument("--hessian-params", choices=("perturbed", "all"), default="perturbed",
                   help="perturbed: the parameters the directions perturb (as the surface); "
                   "all: every parameter (as PyHessian)")
    g.add_argument("--at", type=_point, default=(0.0, 0.0), metavar="ALPHA,BETA",
                   help="a point of the plane (default 0,0: the checkpoint)")
    g.add_argument("--hessian-precision", choices=("fp32", "fp64"), default="fp32")
    g.add_argument("--hessian-subsample", type=int, help="a seeded subset of N examples")
    g.add_argument("--tol", type=float, default=1e-3, help="eigenvalue tolerance (1e-3)")
    g.add_argument("--maxiter", type=int, help="iteration cap per eigen-solve")
    g.add_argument("--solver", choices=("scipy", "torch"), default="torch",
                   help="torch: one Lanczos run on the device for the eigenvalues, λmin and "
                   "the density (the default); scipy: ARPACK's eigsh for each")
    g.add_argument("--trace-hvps", type=int, default=99, help="products for Hutch++ (99)")
    g.add_argument("--density-steps", type=int, default=60, help="Lanczos steps for the "
                   "spectral density (60)")
    g.add_argument("--rho", type=float, default=0.05, help="SAM / average sharpness radius")
    g.add_argument("--epsilon", type=float, default=1e-3, help="Keskar's ε-sharpness box")
    g.add_argument("--no-per-layer", action="store_true", help="skip the per-layer eigenvalues")
    g.add_argument("--no-sharpness", action="store_true", help="skip the sharpness measures")
    o = p.add_argument_group("output")
    o.add_argument("--out", default="curvature.json",
                   help="report file (.json; default: curvature.json here, never replaced "
                   "without --overwrite)")
    o.add_argument("--plot", help="also draw the spectrum (.png/.svg/.pdf)")
    o.add_argument("--overwrite", action="store_true", help="replace an existing report/figure")


def run_curvature(a: argparse.Namespace) -> int:
    from lossviz_core.cli import _say, choices_from_args
    from lossviz_core.cli.gates import admit_code
    from lossviz_core.curvature.report import CurvatureOptions, write_report
    from lossviz_core.device import threads_for_load
    from lossviz_core.resolve import resolve
    from lossviz_core.results.paths import check_output
    from lossviz_core.run.at_point import iter_curvature

    if a.top_k < 1:
        raise InputError(f"--top-k must be >= 1, got {a.top_k}")
    check_output(a.out, "report", may_exist=a.overwrite)
    if a.plot:
        check_output(a.plot, "figure", may_exist=a.overwrite)
    recipe = resolve({**choices_from_args(a, line=False), "x": None, "y": None})
    admit_code(recipe, a, _say)
    options = CurvatureOptions(k=a.top_k, tol=a.tol, maxiter=a.maxiter, solver=a.solver,
                               trace_hvps=a.trace_hvps, density_steps=a.density_steps,
                               rho=a.rho, epsilon=a.epsilon, per_layer=not a.no_per_layer,
                               sharpness=not a.no_sharpness)
    _, why = threads_for_load()
    _say(f"curvature of {recipe.model.name} on {recipe.dataset.name} at α, β = "
         f"{a.at[0]:g}, {a.at[1]:g} ({a.hessian_params} parameters; {why}) ...")
    gen = iter_curvature(recipe, options, at=a.at, params=a.hessian_params,
                         precision=a.hessian_precision, subsample=a.hessian_subsample)
    started = False  # the preparation's steps are quiet; the Hessian's each get a line
    try:
        while True:
            try:
                step = next(gen)
            except StopIteration as stop:
                report = stop.value
                break
            started = started or step.text.startswith("curvature:")
            if started:
                _say(step.text)
    except KeyboardInterrupt:
        gen.close()
        _say("interrupted: no report written")
        return 130
    write_report(report, a.out)
    ev = ", ".join(f"{v:.4g}" for v in report["eigenvalues"])
    _say(f"top eigenvalues {ev}; λmin {report['lambda_min']:.4g}; trace "
         f"{report['trace']:.4g} ± {report['trace_stderr']:.2g} over {report['examples']} "
         f"{report.get('unit', 'examples')}")
    if not all(report["converged"]["eigenvalues"]) or not report["converged"]["lambda_min"]:
        _say("warning: not every eigenvalue converged (see 'converged'; raise --maxiter)")
    _say(f"wrote {a.out}")
    if a.plot:
        from lossviz_core.export.curvature import plot_report  # matplotlib: when drawing

        plot_report(report, a.plot)
        _say(f"drew {a.plot}")
    print(f"{a.out}", file=sys.stdout)
    return 0
