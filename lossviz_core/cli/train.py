"""``lossviz train``: arguments and the progress loop (kept apart from the landscape CLI)."""

from __future__ import annotations

import argparse
import sys

from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import DatasetSpec


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="zoo name, torchvision:NAME, timm:NAME or "
                   "FILE.py:FUNCTION")
    p.add_argument("--dataset", default="digits", help="digits | shakespeare (bundled text: "
                   "a language model, next-token loss) | cifar10 | tensors:FILE.npz | "
                   "torchvision:NAME | imagefolder:DIR | tokens:FILE.npy | FILE.py:FUNCTION")
    p.add_argument("--data-root", help="dataset folder (cifar10)")
    p.add_argument("--download", action="store_true", help="download the dataset if missing")
    p.add_argument("--subsample", type=int)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--schedule", choices=("constant", "step", "cosine"), default="constant")
    p.add_argument("--step-epochs", help="comma-separated epochs where the lr drops (step)")
    p.add_argument("--gamma", type=float, default=0.1, help="lr factor at each step")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--save-every", type=int, default=1, help="save a checkpoint every K epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", dest="init_checkpoint", help="start from this checkpoint")
    p.add_argument("--augment", choices=("auto", "on", "off"), default="auto")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    from lossviz_core.track.measures import TRACK_MEASURES

    t = p.add_argument_group("geometry during training (RUN/track.jsonl)")
    t.add_argument("--track", metavar="MEASURES", help="comma-separated: " + "; ".join(
        f"{m.name}: {m.label}" for m in TRACK_MEASURES.values()))
    t.add_argument("--track-every", type=int, default=100, metavar="N",
                   help="record every N optimizer steps and at the last (100)")
    t.add_argument("--track-examples", type=int, default=256, metavar="N",
                   help="the probe: a seeded subsample of N training examples (256)")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")


def track_line(r: dict) -> str:
    """One record as the progress line shows it."""
    parts = [f"step {r['step']}"]
    if r.get("lambda_max") is not None:
        parts.append(f"λmax {r['lambda_max']:.4g}")
    if r.get("lr"):
        parts.append(f"2/lr {2 / r['lr']:.4g}")
    if r.get("sharpness") is not None:
        parts.append(f"critical sharpness {r['sharpness']:.4g}")
    if r.get("grad_norm") is not None:
        parts.append(f"‖∇L‖ {r['grad_norm']:.3g}")
    return ", ".join(parts) + f"  (+{r['seconds']:.2f} s)"


def run_train(a: argparse.Namespace) -> int:
    from lossviz_core.cli.signals import ignore_interrupts
    from lossviz_core.device import threads_for_load
    from lossviz_core.resolve import absolute_dataset_name, absolute_model_name
    from lossviz_core.train import TrainSpec, iter_training
    from lossviz_core.train.loop import training_folder

    steps = None
    if a.step_epochs:
        try:
            steps = tuple(int(s) for s in a.step_epochs.split(","))
        except ValueError:
            raise InputError(f"--step-epochs wants comma-separated epochs, got {a.step_epochs!r}") from None
    spec = TrainSpec(
        model=absolute_model_name(a.model),
        dataset=DatasetSpec(name=absolute_dataset_name(a.dataset), root=a.data_root,
                            download=a.download,
                            subsample=a.subsample),
        optimizer=a.optimizer, lr=a.lr, momentum=a.momentum, nesterov=a.nesterov,
        weight_decay=a.weight_decay, schedule=a.schedule, step_epochs=steps, gamma=a.gamma,
        batch_size=a.batch_size, epochs=a.epochs, save_every=a.save_every, seed=a.seed,
        init_checkpoint=a.init_checkpoint, augment=a.augment, device=a.device,
        precision=a.precision, track=tuple((a.track or "").split(",")) if a.track else (),
        track_every=a.track_every, track_examples=a.track_examples,
    )
    _, why = threads_for_load()  # as surface and curvature do: the cores the load leaves
    print(f"lossviz: training {spec.model} on {spec.dataset.name} ({why}) ...", file=sys.stderr)
    work = training_folder(a.out, a.overwrite)
    gen = iter_training(spec, a.out, overwrite=a.overwrite)
    try:
        for r in gen:
            test = "" if r.test_loss is None else f"  test loss {r.test_loss:.4f} acc {r.test_acc:.2f} %"
            print(f"epoch {r.epoch}/{r.epochs}  lr {r.lr:.4g}  train loss {r.train_loss:.4f} "
                  f"acc {r.train_acc:.2f} %{test}  ({r.seconds:.1f} s)", file=sys.stderr)
            for record in r.extra.get("track", ()):
                print("  " + track_line(record), file=sys.stderr)
    except KeyboardInterrupt:
        ignore_interrupts()  # another signal must not break the cleanup below
        gen.close()
        kept = f" ({a.out} is kept as it was)" if str(work) != str(a.out) else ""
        print(f"lossviz: interrupted; the checkpoints saved so far are in {work}{kept}",
              file=sys.stderr)
        return 130
    print(f"lossviz: wrote run folder {a.out}", file=sys.stderr)
    return 0
