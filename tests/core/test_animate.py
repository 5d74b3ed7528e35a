"""Animations read back by independent decoders (Pillow for GIF, the ffmpeg binary for MP4):
the requested frame count and size, and first and last frames equal to the still exports
of the same states; a sequence shares one colour scale; bad input is one line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lossviz_core.animate import AnimationOptions, animate, cut_trajectory
from lossviz_core.animate.frames import common_scale, to_rgb
from lossviz_core.cli import main
from lossviz_core.errors import InputError
from lossviz_core.export.figure import FigureOptions, export_figure
from lossviz_core.results.result import SurfaceResult, Trajectory
from lossviz_core.results.store import save_result

X, Y = np.linspace(-2, 2, 21), np.linspace(-1, 1, 15)


def bowl(scale: float = 1.0) -> SurfaceResult:
    """f(x, y) = scale·(x² + 3y²) with a two-run trajectory spiralling in to the centre."""
    r = SurfaceResult.empty(X, Y, ("train_loss",), specs={"model": {"name": "toy"}})
    xx, yy = np.meshgrid(X, Y)
    r.values["train_loss"][:] = scale * (xx**2 + 3 * yy**2)
    r.done[:] = True
    t = np.linspace(0, 1, 6)
    x = np.concatenate([1.8 * (1 - t), -1.5 * (1 - t)])
    y = np.concatenate([0.8 * (1 - t) * np.cos(3 * t), 0.6 * (1 - t)])
    r.trajectory = Trajectory(epochs=np.tile(np.arange(6), 2), x=x, y=y,
                              off_plane=np.zeros(12), loss=x**2 + 3 * y**2,
                              run=np.repeat([0, 1], 6), runs=("SGD", "Adam"))
    return r


def still(result: SurfaceResult, options: AnimationOptions, tmp_path, name: str) -> np.ndarray:
    path = export_figure(result, tmp_path / f"{name}.png", options.figure_options())
    return to_rgb(np.asarray(Image.open(path).convert("RGBA")))


def gif_frames(path) -> list[np.ndarray]:
    img = Image.open(path)
    out = []
    for k in range(img.n_frames):
        img.seek(k)
        out.append(np.asarray(img.convert("RGB")))
    return out


def mp4_frames(path) -> tuple[list[np.ndarray], tuple[int, int]]:
    import imageio_ffmpeg  # runs the ffmpeg binary to decode

    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(gen)
    w, h = meta["size"]
    return [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in gen], (w, h)


def differ(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(mean absolute difference, fraction of pixels off by more than 60 of 255): encoding
    blurs colours a little everywhere; a path drawn or not changes a few pixels a lot."""
    d = np.abs(a.astype(int) - b.astype(int))
    return float(d.mean()), float((d.max(axis=2) > 60).mean())


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_frames_decode_to_the_request_and_match_the_still_exports(tmp_path, suffix):
    result = bowl()
    options = AnimationOptions(width=640, height=480, dpi=160, fps=5, frames=7)
    out = animate([result], tmp_path / f"a{suffix}", options)
    if suffix == ".gif":
        frames, size = gif_frames(out), Image.open(out).size
    else:
        frames, size = mp4_frames(out)
    assert len(frames) == 7 and size == (640, 480)
    assert all(f.shape == (480, 640, 3) for f in frames)
    first = still(result.__class__(**{**result.__dict__,
                                      "trajectory": cut_trajectory(result.trajectory, 0.0)}),
                  options, tmp_path, "first")
    last = still(result, options, tmp_path, "last")
    moved = differ(first, last)[1]
    assert moved > 0.004  # the paths have grown: the two states differ in their pixels
    # GIF: a 256-colour palette; MP4: H.264 with 4:2:0 chroma blurs thin lines
    mean_tol, far_tol = (0.5, moved / 4) if suffix == ".gif" else (1.5, moved / 2)
    for frame, own, other in ((frames[0], first, last), (frames[-1], last, first)):
        mean, far = differ(frame, own)
        assert mean < mean_tol and far <= far_tol
        assert far < differ(frame, other)[1] / 2


def test_the_path_grows_along_each_run_with_an_interpolated_head():
    traj = bowl().trajectory
    half = cut_trajectory(traj, 0.5)  # 2.5 of 5 steps along each 6-point run
    assert list(half.run) == [0, 0, 0, 0, 1, 1, 1, 1]
    np.testing.assert_allclose(half.x[:4], [*traj.x[:3], 0.5 * (traj.x[2] + traj.x[3])])
    assert list(cut_trajectory(traj, 1.0).x) == list(traj.x)
    start = cut_trajectory(traj, 0.0)
    assert list(start.x) == [traj.x[0], traj.x[6]]


def test_a_sequence_shares_one_colour_scale_and_the_command_line(tmp_path, capsys):
    results = [bowl(scale) for scale in (1.0, 2.0, 4.0)]
    o = common_scale(results, FigureOptions())
    assert (o.vmin, o.vmax) == (0.0, pytest.approx(4.0 * (4 + 3)))
    files = []
    for k, r in enumerate(results):
        files.append(str(tmp_path / f"r{k}.h5"))
        save_result(r, files[-1])
    for out in (tmp_path / "seq.mp4", tmp_path / "seq.gif"):
        code = main(["animate", *files, "--out", str(out), "--size", "400x300", "--fps", "4",
                     "--kind", "heatmap", "--title", ""])
        assert code == 0, capsys.readouterr().err
    frames, size = mp4_frames(tmp_path / "seq.mp4")
    assert len(frames) == 12 and size == (400, 300)  # 1 s per landscape at 4 fps
    # one scale: the landscape four times as steep is brighter (viridis: yellow is high)
    assert frames[-1].mean() > frames[4].mean() > frames[0].mean() + 3
    assert differ(frames[0], frames[3])[1] < 0.002  # each landscape held for its second
    # a GIF stores each held landscape once, shown for its whole second
    gif = Image.open(tmp_path / "seq.gif")
    durations = []
    for k in range(gif.n_frames):
        gif.seek(k)
        durations.append(gif.info["duration"])
    assert gif.n_frames == 3 and durations == [1000, 1000, 1000]
    out = tmp_path / "seq.gif"
    # bad input: one line each, nothing written
    for args, message in (
        ([files[0], "--out", str(tmp_path / "x.avi")], "use a .gif or .mp4"),
        ([files[0], "--out", str(tmp_path / "x.mp4"), "--size", "321x240"], "even width"),
        ([files[0], "--out", str(out)], "already exists"),
        ([str(tmp_path), "--out", str(tmp_path / "y.gif")], "neither a result file"),
    ):
        assert main(["animate", *args]) == 2
        assert message in capsys.readouterr().err
    flat = bowl()
    flat.trajectory = None
    with pytest.raises(InputError, match="no trajectory"):
        animate([flat], tmp_path / "z.gif", AnimationOptions(frames=2))
    assert not (tmp_path / "z.gif").exists()


def test_a_run_folder_animates_its_checkpoints_landscapes(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "digits_mlp", "--epochs", "1", "--out", str(run)]) == 0
    out, keep = tmp_path / "run.mp4", tmp_path / "kept"
    code = main(["animate", str(run), "--out", str(out), "--x=-1:1:5", "--y=-1:1:5",
                 "--duration", "2", "--fps", "2", "--size", "320x240", "--keep", str(keep)])
    assert code == 0, capsys.readouterr().err
    frames, size = mp4_frames(out)
    assert len(frames) == 4 and size == (320, 240)
    from lossviz_core.results.store import read_result

    kept = sorted(keep.glob("*.h5"))
    assert [p.name for p in kept] == ["run-epoch0.h5", "run-epoch1.h5"]
    first, last = (read_result(p) for p in kept)
    assert first.recipe.model.checkpoint.endswith("model_0.pt")
    assert last.recipe.model.checkpoint.endswith("model_1.pt")
    # training lowered the loss at the centre of the plane: epoch 1's centre is the lower
    assert last.values["train_loss"][2, 2] < first.values["train_loss"][2, 2]
    # kept landscapes are reused only where they are the ones asked for: one cut short is
    # finished (equal to the whole), other ranges are one line
    import h5py

    whole = last.values["train_loss"].copy()
    with h5py.File(kept[1], "r+") as f:
        f["lossviz/done"][0, :] = 0
    code = main(["animate", str(run), "--out", str(tmp_path / "again.gif"), "--x=-1:1:5",
                 "--y=-1:1:5", "--duration", "1", "--fps", "2", "--keep", str(keep)])
    assert code == 0, capsys.readouterr().err
    again = read_result(kept[1])
    assert again.done.all()
    np.testing.assert_allclose(again.values["train_loss"], whole, rtol=1e-6)
    code = main(["animate", str(run), "--out", str(tmp_path / "other.gif"), "--x=-2:2:5",
                 "--y=-1:1:5", "--duration", "1", "--fps", "2", "--keep", str(keep)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "holds another landscape" in err[-1] and str(kept[0]) in err[-1]
    # a run that counts steps (the tracker's RUN/steps) keeps its landscapes by step
    from dataclasses import replace

    from lossviz_core.runs import read_run, write_run

    info = read_run(run)
    write_run(replace(info, train={**info.train, "unit": "step"}))
    code = main(["animate", str(run), "--out", str(tmp_path / "steps.gif"), "--x=-1:1:5",
                 "--y=-1:1:5", "--duration", "1", "--fps", "2", "--keep",
                 str(tmp_path / "by-step")])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "by-step").glob("*.h5")) == [
        "run-step0.h5", "run-step1.h5"]


def test_a_kept_trajectory_plane_is_reused_as_it_is(tmp_path, capsys):
    """Trajectory mode keeps the PCA plane with the ranges fitted to the path written in: a
    second run reuses it untouched (its ranges are not the asked-for placeholders)."""
    run, keep = tmp_path / "run", tmp_path / "kept"
    assert main(["train", "--model", "digits_mlp", "--epochs", "2", "--out", str(run)]) == 0
    args = ["animate", str(run), "--mode", "trajectory", "--x=-1:1:5", "--y=-1:1:5",
            "--duration", "1", "--fps", "2", "--size", "160x120", "--keep", str(keep)]
    assert main([*args, "--out", str(tmp_path / "a.gif")]) == 0, capsys.readouterr().err
    (kept,) = keep.glob("*.h5")
    stamp, first = kept.stat().st_mtime_ns, gif_frames(tmp_path / "a.gif")
    assert main([*args, "--out", str(tmp_path / "b.gif")]) == 0, capsys.readouterr().err
    assert kept.stat().st_mtime_ns == stamp  # read, not computed again
    for a, b in zip(first, gif_frames(tmp_path / "b.gif"), strict=True):
        np.testing.assert_array_equal(a, b)
