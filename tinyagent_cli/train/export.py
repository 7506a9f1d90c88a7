"""The trained LoRA as a GGUF adapter file that llama.cpp applies at load (``lora_path``).

Tensors are named as llama.cpp names the base's own (``blk.3.attn_q.weight``) plus
``.lora_a`` / ``.lora_b``; ``adapter.lora.alpha`` gives the scale (alpha / rank). Our own
``tinyagent.*`` keys record what the adapter was made from, so the agent can refuse one
made for another base and warn when the tools changed since.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError

_PEFT_NAME = re.compile(r"^base_model\.model\.(?P<module>.+)\.lora_(?P<part>[AB])\.weight$")


def gguf_field(reader: Any, key: str) -> Any:
    """A scalar or string value of a GGUF file's metadata, read with gguf-py."""
    field = reader.fields.get(key)
    if field is None:
        raise ModelError(f"{reader.path}: no {key} in its metadata")
    value = field.parts[field.data[0]]
    return bytes(value).decode() if field.types and field.types[0].name == "STRING" else value[0].item()


def _base_tensor_names(base_gguf: Path) -> tuple[str, Any]:
    """The base's architecture and gguf-py's map from its torch module names to GGUF tensor names."""
    import gguf

    reader = gguf.GGUFReader(base_gguf)
    arch = gguf_field(reader, "general.architecture")
    arch_id = next((a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == arch), None)
    if arch_id is None:
        raise ModelError(f"{base_gguf}: gguf-py does not know the architecture {arch!r}")
    return arch, gguf.get_tensor_name_map(arch_id, int(gguf_field(reader, f"{arch}.block_count")))


def write_adapter(lora: Mapping[str, Any], base_gguf: Path, out: Path, *, alpha: float,
                  metadata: Mapping[str, str]) -> Path:
    """Write ``lora`` (peft's state dict) as a GGUF LoRA adapter for ``base_gguf``, atomically."""
    arch, names = _base_tensor_names(base_gguf)
    pairs: dict[str, dict[str, Any]] = {}
    for key, tensor in lora.items():
        match = _PEFT_NAME.match(key)
        if match is None:
            raise ModelError(f"unexpected tensor {key!r} in the LoRA state: not a lora_A or lora_B weight")
        target = names.get_name(match["module"])
        if target is None:
            raise ModelError(f"{match['module']} has no tensor in a {arch} GGUF")
        pairs.setdefault(target, {})[match["part"]] = tensor

    tensors: dict[str, Any] = {}
    for target in sorted(pairs):
        # A is (rank, in) and B (out, rank), as in torch: ggml reads them as in x rank and rank x out.
        tensors[f"{target}.weight.lora_a"] = pairs[target]["A"].numpy()
        tensors[f"{target}.weight.lora_b"] = pairs[target]["B"].numpy()
    return _write_gguf(out, arch, alpha, metadata, tensors)


def _write_gguf(out: Path, arch: str, alpha: float, metadata: Mapping[str, str], tensors: Mapping[str, Any]) -> Path:
    """An adapter file of ``tensors`` (f16), written beside ``out`` and renamed over it whole."""
    import gguf
    import numpy as np

    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(tmp, arch=arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for key, value in metadata.items():
        writer.add_string(key, value)
    for name, tensor in tensors.items():
        writer.add_tensor(name, np.ascontiguousarray(tensor.astype(np.float16)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)
    return out


def _open_adapter(path: Path) -> Any:
    """gguf-py's reader of an adapter file, or a ModelError that names the file."""
    import gguf

    try:
        return gguf.GGUFReader(path)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a GGUF adapter ({exc})") from None


def read_adapter(adapter: Path, base_gguf: Path, modules: list[str]) -> dict[str, Any]:
    """The LoRA of a GGUF adapter written by :func:`write_adapter`, in peft's naming for the
    ``modules`` (peft module names, ``base_model.model.…q_proj``), as float32 tensors: what a
    training run starts from with ``--init``."""
    import torch

    _, names = _base_tensor_names(base_gguf)
    tensors = {t.name: t for t in _open_adapter(adapter).tensors}
    lora: dict[str, Any] = {}
    for module in modules:
        target = names.get_name(module.removeprefix("base_model.model."))
        for part, suffix in (("A", "lora_a"), ("B", "lora_b")):
            tensor = tensors.get(f"{target}.weight.{suffix}")
            if tensor is None:
                raise ModelError(f"{adapter}: no {target}.weight.{suffix}: not an adapter of this shape for this base")
            lora[f"{module}.lora_{part}.weight"] = torch.from_numpy(tensor.data.astype("float32").copy())
    return lora


# What every parent of an average must share: the weights it adapts, the tools and the prompt it
# was trained to plan with. Each run's own keys (seed, steps, data) describe no average.
_SHARED_KEYS = ("tinyagent.base_model", "tinyagent.base_sha256", "tinyagent.toolset", "tinyagent.prompt_style",
                "tinyagent.examples_in_prompt")


@dataclass(frozen=True)
class _Parent:
    """One adapter being averaged, as read from its file."""

    path: Path
    arch: str
    rank: int
    alpha: float
    keys: dict[str, Any]  # its tinyagent.* metadata
    tensors: dict[str, Any]  # name -> float32 array

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


def _read_parent(path: Path) -> _Parent:
    import gguf
    import numpy as np

    reader = _open_adapter(path)
    tensors = {t.name: np.asarray(t.data, dtype=np.float32) for t in reader.tensors}
    ranks = {tensors[name].shape[0] for name in tensors if name.endswith(".lora_a")}
    if len(ranks) != 1:
        raise ModelError(f"{path}: not a LoRA adapter of one rank")
    keys = {key: gguf_field(reader, key) for key in reader.fields if key.startswith("tinyagent.")}
    return _Parent(path, gguf_field(reader, "general.architecture"), ranks.pop(),
                   float(gguf_field(reader, gguf.Keys.Adapter.LORA_ALPHA)), keys, tensors)


def average_adapters(adapters: Sequence[Path], out: Path) -> Path:
    """Write one adapter whose change to each weight is the mean of ``adapters``' changes.

    A LoRA changes W by (alpha / r) B A. The mean of n of them is itself a LoRA, of rank
    r_1 + ... + r_n: the parents' A stacked and their B side by side, each B scaled to its share.
    Nothing is approximated; the cost is a larger rank. alpha / r stays the first parent's, so
    ``tinyagent train --init`` goes on from the average with ``--rank`` set to its rank.
    """
    import numpy as np

    from ..llm.files import sha256_file

    if len(adapters) < 2:
        raise ConfigError("averaging needs two adapters or more")
    parents = [_read_parent(path) for path in adapters]
    first = parents[0]
    for other in parents[1:]:
        if other.arch != first.arch or other.tensors.keys() != first.tensors.keys():
            raise ModelError(f"{other.path} adapts other tensors than {first.path}: they cannot be averaged")
        differ = [key for key in _SHARED_KEYS if other.keys.get(key) != first.keys.get(key)]
        if differ:
            raise ModelError(f"{other.path} and {first.path} differ in {', '.join(differ)}: they cannot be averaged")

    rank = sum(parent.rank for parent in parents)
    tensors = {}
    for name in sorted(first.tensors):
        if name.endswith(".lora_a"):  # (rank, in): stacked
            tensors[name] = np.concatenate([parent.tensors[name] for parent in parents], axis=0)
        else:  # (out, rank): side by side, each at its own scale over the average's, over n
            tensors[name] = np.concatenate(
                [parent.tensors[name] * (parent.scale / first.scale / len(parents)) for parent in parents], axis=1)
    metadata = {key: first.keys[key] for key in _SHARED_KEYS if key in first.keys}
    metadata["tinyagent.averaged_from"] = ",".join(sha256_file(path) for path in adapters)
    return _write_gguf(out, first.arch, first.scale * rank, metadata, tensors)
