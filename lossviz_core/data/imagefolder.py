"""``imagefolder:DIR``: images in class subfolders, as ``torchvision.datasets.ImageFolder``.

``DIR/train`` and ``DIR/val`` (or ``DIR/test``), when present, are the two splits; otherwise
the one folder there is (``DIR`` itself, say ImageNet's validation set laid out in class
folders) is the ``train`` split, the data the loss is measured on. The transform defaults to
``imagenet`` (resize 256, centre crop 224, ImageNet normalization). ``channels``: ``1``
(grayscale), ``3`` (RGB) or ``auto``: the input channels of the model's first layer where
they can be read (the workspace fills it in before loading), else RGB as the files are.
"""

from __future__ import annotations

import os
from pathlib import Path

from lossviz_core.data.base import RawDataset
from lossviz_core.data.registry import DataSource
from lossviz_core.data.transforms import resolve_transform
from lossviz_core.errors import DataError
from lossviz_core.limits import MAX_ENTRIES_WITHOUT_IMAGE, MAX_IMAGE_FOLDER_ENTRIES
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


def walk_images(directory: str, class_to_idx: dict[str, int], extensions: tuple[str, ...],
                ) -> list[tuple[str, int]]:
    """``(file, class)`` of every image below the class folders, as torchvision's
    ``make_dataset`` finds them, within limits: each folder is walked once (symbolic links
    that loop are not followed round), a class folder that shows no image among its first
    entries is refused at once, and so is a walk past the limit (``imagefolder:/`` would
    otherwise walk the whole file system before saying anything)."""
    samples: list[tuple[str, int]] = []
    seen: set[tuple[int, int]] = set()
    entries = 0
    for name in sorted(class_to_idx):
        folder = os.path.join(directory, name)
        found, since_image = 0, 0
        for root, dirs, files in os.walk(folder, followlinks=True):
            try:
                st = os.stat(root)
            except OSError:
                dirs[:] = []
                continue
            if (st.st_dev, st.st_ino) in seen:
                dirs[:] = []  # a link back to a folder walked already
                continue
            seen.add((st.st_dev, st.st_ino))
            dirs.sort()
            entries += len(dirs) + len(files)
            if entries > MAX_IMAGE_FOLDER_ENTRIES:
                raise DataError(f"image folder {directory} holds over "
                                f"{MAX_IMAGE_FOLDER_ENTRIES} files and folders; is it the "
                                "folder of class subfolders you meant?")
            for f in sorted(files):
                if f.lower().endswith(extensions):
                    samples.append((os.path.join(root, f), class_to_idx[name]))
                    found += 1
            since_image = 0 if found else since_image + len(dirs) + len(files)
            if not found and since_image > MAX_ENTRIES_WITHOUT_IMAGE:
                break
        if not found:
            raise DataError(f"class folder {folder} holds no images "
                            f"({', '.join(extensions[:4])}, ...): imagefolder:DIR wants DIR "
                            "to hold one subfolder of images per class")
    return samples


def _image_folder(root: str, transform: object) -> object:
    from torchvision.datasets import ImageFolder

    class Bounded(ImageFolder):
        @staticmethod
        def make_dataset(directory: str, class_to_idx: dict[str, int],
                         extensions: tuple[str, ...] | None = None, is_valid_file: object = None,
                         allow_empty: bool = False) -> list[tuple[str, int]]:
            return walk_images(directory, class_to_idx, tuple(extensions or ()))

    return Bounded(root, transform=transform)


def load(spec: DatasetSpec) -> RawDataset:
    root = Path(spec.name[len(PREFIX) :]).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder not found: {root}")
    channels = spec.options.get("channels", "auto")
    tf = resolve_transform(spec, "imagenet").torchvision(
        None if channels == "auto" else int(channels))
    train_dir, test_dir = split_folders(root)
    try:
        train = _image_folder(str(train_dir), tf)
        test = None if test_dir is None else _image_folder(str(test_dir), tf)
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
