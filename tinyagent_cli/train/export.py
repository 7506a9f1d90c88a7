"""The trained LoRA as a GGUF adapter file that llama.cpp applies at load (``lora_path``).

Tensors are named as llama.cpp names the base's own (``blk.3.attn_q.weight``) plus
``.lora_a`` / ``.lora_b``; ``adapter.lora.alpha`` gives the scale (alpha / rank). Our own
``tinyagent.*`` keys record what the adapter was made from, so the agent can refuse one
made for another base and warn when the tools changed since.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ModelError

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
    import numpy as np

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

    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(tmp, arch=arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for key, value in metadata.items():
        writer.add_string(key, value)
    for target in sorted(pairs):
        a, b = pairs[target]["A"], pairs[target]["B"]
        # A is (rank, in) and B (out, rank), as in torch: ggml reads them as in x rank and rank x out.
        writer.add_tensor(f"{target}.weight.lora_a", np.ascontiguousarray(a.numpy().astype(np.float16)))
        writer.add_tensor(f"{target}.weight.lora_b", np.ascontiguousarray(b.numpy().astype(np.float16)))
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
