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


def write_adapter(lora: Mapping[str, Any], base_gguf: Path, out: Path, *, alpha: float,
                  metadata: Mapping[str, str]) -> Path:
    """Write ``lora`` (peft's state dict) as a GGUF LoRA adapter for ``base_gguf``, atomically."""
    import gguf

    reader = gguf.GGUFReader(base_gguf)
    arch = gguf_field(reader, "general.architecture")
    blocks = int(gguf_field(reader, f"{arch}.block_count"))
    arch_id = next((a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == arch), None)
    if arch_id is None:
        raise ModelError(f"{base_gguf}: gguf-py does not know the architecture {arch!r}")
    names = gguf.get_tensor_name_map(arch_id, blocks)

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


def read_adapter(adapter: Path, base_gguf: Path, modules: list[str]) -> dict[str, Any]:
    """The LoRA of a GGUF adapter written by :func:`write_adapter`, in peft's naming for the
    ``modules`` (peft module names, ``base_model.model.…q_proj``), as float32 tensors: what a
    training run starts from with ``--init``."""
    import gguf
    import torch

    base = gguf.GGUFReader(base_gguf)
    arch = gguf_field(base, "general.architecture")
    arch_id = next((a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == arch), None)
    if arch_id is None:
        raise ModelError(f"{base_gguf}: gguf-py does not know the architecture {arch!r}")
    names = gguf.get_tensor_name_map(arch_id, int(gguf_field(base, f"{arch}.block_count")))
    try:
        tensors = {t.name: t for t in gguf.GGUFReader(adapter).tensors}
    except (OSError, ValueError) as exc:
        raise ModelError(f"{adapter}: not a GGUF adapter ({exc})") from None
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


def average_adapters(adapters: Sequence[Path], out: Path) -> Path:
    """Write one adapter whose change to each weight is the mean of ``adapters``' changes.

    A LoRA changes W by (alpha / r) B A. The mean of n of them is itself a LoRA, of rank
    r_1 + ... + r_n: the parents' A stacked and their B side by side, each B scaled to its share.
    Nothing is approximated; the cost is a larger rank. alpha / r stays the first parent's, so
    ``tinyagent train --init`` goes on from the average with ``--rank`` set to its rank.
    """
    import gguf
    import numpy as np

    from ..llm.files import sha256_file

    if len(adapters) < 2:
        raise ConfigError("averaging needs two adapters or more")
    parents = []
    for path in adapters:
        try:
            reader = gguf.GGUFReader(path)
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: not a GGUF adapter ({exc})") from None
        tensors = {t.name: np.asarray(t.data, dtype=np.float32) for t in reader.tensors}
        ranks = {tensors[name].shape[0] for name in tensors if name.endswith(".lora_a")}
        if len(ranks) != 1:
            raise ModelError(f"{path}: not a LoRA adapter of one rank")
        keys = {key: gguf_field(reader, key) for key in reader.fields if key.startswith("tinyagent.")}
        parents.append((path, gguf_field(reader, "general.architecture"), ranks.pop(),
                        float(gguf_field(reader, gguf.Keys.Adapter.LORA_ALPHA)), keys, tensors))

    first_path, arch, first_rank, first_alpha, first_keys, first_tensors = parents[0]
    for path, other_arch, _, _, keys, tensors in parents[1:]:
        if other_arch != arch or tensors.keys() != first_tensors.keys():
            raise ModelError(f"{path} adapts other tensors than {first_path}: they cannot be averaged")
        differ = [key for key in _SHARED_KEYS if keys.get(key) != first_keys.get(key)]
        if differ:
            raise ModelError(f"{path} and {first_path} differ in {', '.join(differ)}: they cannot be averaged")

    scale = first_alpha / first_rank
    rank = sum(rank for _, _, rank, _, _, _ in parents)
    tensors = {}
    for name in sorted(first_tensors):
        if name.endswith(".lora_a"):  # (rank, in): stacked
            tensors[name] = np.concatenate([p[5][name] for p in parents], axis=0)
        else:  # (out, rank): side by side, each its parent's scale over the average's, over n
            tensors[name] = np.concatenate([p[5][name] * (p[3] / p[2] / scale / len(parents)) for p in parents],
                                           axis=1)
    metadata = {key: first_keys[key] for key in _SHARED_KEYS if key in first_keys}
    metadata["tinyagent.averaged_from"] = ",".join(sha256_file(path) for path in adapters)
    return _write_gguf(out, arch, scale * rank, metadata, tensors)
