"""``imagefolder:DIR``: images in class subfolders, as ``torchvision.datasets.ImageFolder``.

``DIR/train`` and ``DIR/val`` (or ``DIR/test``), when present, are the two splits; otherwise
the one folder there is (``DIR`` itself, say ImageNet's validation set laid out in class
folders) is the ``train`` split, the data the loss is measured on. The transform defaults to
``imagenet`` (resize 256, centre crop 224, ImageNet normalization). ``channels``: ``1``
(grayscale), ``3`` (RGB) or ``auto``: the input channels of the model's first layer where
they can be read (the workspace fills it in before loading), else RGB as the files are.
"""

from __future__ import annotations

from pathlib import Path

from lossviz_core.data.base import RawDataset
from lossviz_core.data.registry import DataSource
from lossviz_core.data.transforms import resolve_transform
from lossviz_core.errors import DataError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import DatasetSpec

PREFIX = "imagefolder:"


def split_folders(root: Path) -> tuple[Path, Path | None]:
    """(train folder, test folder or None) of an image-folder dataset."""
    train = root / "train"
    test = next((root / n for n in ("val", "test") if (root / n).is_dir()), None)
    if train.is_dir():
        return train, test
    if test is not None:
        return test, None
    return root, None


def load(spec: DatasetSpec) -> RawDataset:
    from torchvision.datasets import ImageFolder

    root = Path(spec.name[len(PREFIX) :]).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder not found: {root}")
    channels = spec.options.get("channels", "auto")
    tf = resolve_transform(spec, "imagenet").torchvision(
        None if channels == "auto" else int(channels))
    train_dir, test_dir = split_folders(root)
    try:
        train = ImageFolder(str(train_dir), transform=tf)
        test = None if test_dir is None else ImageFolder(str(test_dir), transform=tf)
    except (FileNotFoundError, OSError) as exc:
        raise DataError(f"cannot read image folder {root}: {exc}") from None
    if test is not None and test.classes != train.classes:
        raise DataError(f"{train_dir} and {test_dir} have different class folders "
                        f"({len(train.classes)} and {len(test.classes)})")
    return RawDataset(spec.name, train, test, len(train.classes))


SOURCE = DataSource(
    name="imagefolder", label="Image folder (class subfolders)",
    matches=lambda n: n.startswith(PREFIX), load=load, example="imagefolder:DIR",
    name_parts=NameParts((Param("image_folder", "folder", label="Folder",
                                help="one subfolder per class (DIR/train and DIR/val are "
                                "the two splits)"),), prefix=PREFIX),
    options=(Param("channels", default="auto", choices=("auto", "1", "3"), label="Channels",
                   help="1: grayscale, 3: RGB; auto: what the model's first layer takes, "
                   "where that can be read (else RGB)", title="{} channels"),),
    model_hints=("channels",),
    uses=("transform", "size", "mean", "std", "cache", "workers"))
