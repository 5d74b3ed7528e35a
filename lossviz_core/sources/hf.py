"""``hf:DIR_OR_NAME``: a transformers model (an optional extra: ``pip install 'lossviz[hf]'``).

A folder saved with ``save_pretrained`` (a causal language model, a sequence classifier, any
model with a head) is loaded as the class its config names, with its own config and weights,
in fp32. A hub name (``org/name``) is read from the Hugging Face cache, and downloaded only
with ``--download``; code the model ships (its config's ``auto_map``, transformers'
``trust_remote_code``) runs only with ``--allow-code``. The weights come with the model, so
no checkpoint is needed (one given is loaded into it). The model's own tokenizer, where its
folder has one, tokenizes ``text:``, ``jsonl:`` and ``hfds:`` data (:attr:`facts`).

A relative folder is one that exists, or is written ``./DIR``; anything else of the form
``name`` or ``org/name`` is a hub name (and is never made into a path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lossviz_core.errors import CheckpointError, InputError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import ModelSpec
from lossviz_core.sources.registry import ModelSource

PREFIX = "hf:"
# where a config without an architecture (or with its own code) finds a class, in order
AUTO_CLASSES = ("AutoModelForCausalLM", "AutoModelForSequenceClassification",
                "AutoModelForMaskedLM", "AutoModelForImageClassification", "AutoModel")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")

DOWNLOAD = Param("download", "bool", label="Download from the hub",
                 help="a hub name: download the model (and its tokenizer) when it is not in "
                 "the cache")
ALLOW_CODE = Param("allow_code", "bool", label="Run the model's own code",
                   help="run the Python code a model folder or hub repository ships "
                   "(transformers' trust_remote_code)")


def is_hub_name(value: str) -> bool:
    """Whether ``value`` names a hub repository rather than a folder: not a folder here, not
    written as a path (``/``, ``./``, ``~``), and at most ``org/name``."""
    if not value or value.startswith(("/", ".", "~")) or "\\" in value:
        return False
    return not Path(value).expanduser().exists() and value.count("/") <= 1


@dataclass(frozen=True)
class FolderOrHubName(NameParts):
    """The name's one part is a folder (made absolute, shipped to a cluster) or a hub name
    (left as it is)."""

    def paths(self, name: str) -> dict[str, str]:
        value = str(self.split(name).get(self.params[0].name) or "")
        return {} if is_hub_name(value) else super().paths(name)


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise InputError("hf: models need transformers: pip install 'lossviz[hf]'") from None
    return transformers


def _where(spec: ModelSpec) -> tuple[str, bool]:
    """(the folder or hub name, whether it is a folder here)."""
    value = spec.name[len(PREFIX):]
    folder = Path(value).expanduser()
    if folder.is_dir():
        return str(folder.resolve()), True
    if not is_hub_name(value):
        raise InputError(f"model folder not found: {value}")
    return value, False


def _config_json(folder: str) -> dict[str, Any]:
    try:
        return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _refused_code(name: str) -> InputError:
    return InputError(f"hf:{name} ships its own model code (its config's auto_map); pass "
                      f"{ALLOW_CODE.cli_flag} to run it")


def build(spec: ModelSpec, num_classes: int | None) -> nn.Module:
    """The model of ``spec`` in eval-ready fp32 (``num_classes``: fixed by its config)."""
    transformers = _transformers()
    name, local = _where(spec)
    if local and not (Path(name) / "config.json").is_file():
        raise InputError(f"{name} is not a transformers model folder (no config.json); save "
                         "the model with model.save_pretrained(DIR)")
    allow = bool(spec.options.get("allow_code"))
    if local and _config_json(name).get("auto_map") and not allow:
        raise _refused_code(name)
    kwargs = {"local_files_only": local or not spec.options.get("download"),
              "trust_remote_code": allow}
    bars = transformers.utils.logging
    shown = bars.is_progress_bar_enabled()
    bars.disable_progress_bar()  # "Loading weights": the CLI and the window say what runs
    try:
        config = transformers.AutoConfig.from_pretrained(name, **kwargs)
        model = _model_class(transformers, config, allow, name).from_pretrained(
            name, config=config, **kwargs)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - no network, not cached, a damaged folder, ...
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        if "trust_remote_code" in str(exc):
            raise _refused_code(name) from None
        if not local and kwargs["local_files_only"]:
            raise InputError(f"hf:{name} is not a folder here nor in the Hugging Face cache; "
                             f"pass {DOWNLOAD.cli_flag} to download it from the hub, or give "
                             "the folder it was saved to with save_pretrained") from None
        raise CheckpointError(f"cannot load hf:{name}: {type(exc).__name__}: {text}") from None
    finally:
        if shown:
            bars.enable_progress_bar()
    if hasattr(model.config, "use_cache"):
        model.config.use_cache = False  # a forward returns logits, not a key/value cache
    if any(p.is_floating_point() and p.dtype != torch.float32 for p in model.parameters()):
        model = model.float()  # the plane and the precision option work from fp32 weights
    return model


def _model_class(transformers: Any, config: Any, allow: bool, name: str) -> Any:
    """The class the config names (its head), or, for code the model ships, the auto class
    its ``auto_map`` offers; a config naming neither: the first auto class that knows it."""
    auto_map = getattr(config, "auto_map", None) or {}
    if auto_map:
        if not allow:
            raise _refused_code(name)
        models = [k for k in (*AUTO_CLASSES, *auto_map) if k in auto_map
                  and k.startswith("AutoModel")]
        if not models:
            raise InputError(f"hf:{name}'s auto_map names no model class")
        return getattr(transformers, models[0])
    for arch in getattr(config, "architectures", None) or ():
        cls = getattr(transformers, arch, None)
        if cls is not None:
            return cls
    for key in AUTO_CLASSES:
        cls = getattr(transformers, key)
        if type(config) in getattr(cls, "_model_mapping", {}):
            return cls
    return transformers.AutoModel


def facts(spec: ModelSpec) -> dict[str, Any]:
    """Where the model's tokenizer is (its folder, or its hub name) and, for an image
    model, its input channels; read from the files, nothing built or downloaded."""
    try:
        name, local = _where(spec)
    except InputError:
        return {}
    out: dict[str, Any] = {}
    if not local or any((Path(name) / f).is_file() for f in TOKENIZER_FILES):
        out["tokenizer"] = name
    channels = _config_json(name).get("num_channels") if local else None
    if isinstance(channels, int):
        out["channels"] = channels
    return out


def user_code(name: str) -> str | None:
    """The folder whose Python code building the model runs (its config's auto_map)."""
    folder = Path(name[len(PREFIX):]).expanduser()
    if folder.is_dir() and _config_json(str(folder)).get("auto_map"):
        return str(folder.resolve())
    return None


SOURCE = ModelSource(
    name="hf", label="Hugging Face transformers model", matches=lambda n: n.startswith(PREFIX),
    build=build, example="hf:DIR_OR_NAME",
    name_parts=FolderOrHubName((Param("hf_model", "path", must_exist=False,
                                      label="Folder or hub name",
                                      help="a folder saved with save_pretrained, or a hub name "
                                      "(org/name)"),), prefix=PREFIX),
    options=(DOWNLOAD, ALLOW_CODE), facts=facts, user_code=user_code,
    carries_weights=lambda spec: True, fixed_classes=lambda spec: True,
    help="a transformers model with its own config and weights (causal LM, classifier, ...)",
)
