"""LoRA fine-tuning of a GGUF base model on training pairs, on a CPU, CUDA or MPS.

transformers reads the base straight from the GGUF file llama.cpp will run (dequantised),
so the adapter is trained against the very weights it will be applied to. What makes it
affordable on two CPU cores: the loss is taken on the plan tokens only (a 262k-word
vocabulary's logits at every prompt position would cost more than the rest together),
bf16 autocast where the hardware computes bf16 itself (float32 elsewhere), and batches of
similar length (little padding).
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .data import TrainingPair

# Attention and MLP projections of every layer (Gemma, Llama, Qwen and most others).
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainConfig:
    rank: int = 16
    alpha: float = 32.0
    learning_rate: float = 2e-4
    warmup_steps: int = 20
    batch_size: int = 8
    epochs: float = 1.0  # fractions allowed: 0.5 is half the pairs, each seen once
    max_steps: int = 0  # stop after this many optimizer steps (0: as many as the epochs make)
    seed: int = 0
    checkpoint_every: int = 50  # steps
    device: str = "auto"  # auto, cpu, cuda or mps


@dataclass(frozen=True)
class TrainResult:
    steps: int
    examples_seen: int
    train_loss: float  # mean over the last 20 steps
    held_out_loss: float | None
    seconds: float
    device: str
    precision: str  # "bfloat16" (autocast) or "float32": see training_precision
    lora: dict[str, Any]  # parameter name -> tensor (CPU, float32), peft naming
    config: TrainConfig
    interrupted: bool = False  # Ctrl-C: the adapter is the last whole step's


Progress = Callable[[int, int, float], None]  # step, total steps, loss


def pick_device(wanted: str) -> str:
    import torch

    if wanted == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if torch.backends.mps.is_available() else "cpu"
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if wanted not in available:
        raise ConfigError(f"unknown device {wanted!r}: use auto, cpu, cuda or mps")
    if not available[wanted]:
        raise ConfigError(f"this machine has no {wanted} device for torch: use --device cpu")
    return wanted


def load_base(gguf_path: Path, device: str) -> tuple[Any, Any]:
    """(tokenizer, model) from a GGUF file, weights dequantised to float32."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    return tokenizer, model.to(device)


def _encode(tokenizer: Any, pair: TrainingPair) -> tuple[list[int], int]:
    """Token ids of prompt + plan + end of text, and where the plan starts. The two are
    tokenized apart, as llama.cpp reads the prompt and then writes the plan after it."""
    prompt = tokenizer(pair.prompt, add_special_tokens=True)["input_ids"]
    plan = tokenizer(pair.plan, add_special_tokens=False)["input_ids"]
    return prompt + plan + [tokenizer.eos_token_id], len(prompt)


def _batches(lengths: Sequence[int], size: int, rng: random.Random) -> list[list[int]]:
    """Indices in batches of similar length, the batches in random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def _plan_loss(model: Any, encoded: Sequence[tuple[list[int], int]], device: str) -> Any:
    """Mean cross-entropy of the plan tokens of a right-padded batch."""
    import torch

    width = max(len(ids) for ids, _ in encoded)
    ids = torch.zeros((len(encoded), width), dtype=torch.long)
    attention = torch.zeros((len(encoded), width), dtype=torch.long)
    target = torch.zeros((len(encoded), width), dtype=torch.bool)
    for row, (tokens, start) in enumerate(encoded):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        attention[row, : len(tokens)] = 1
        target[row, start : len(tokens)] = True
    ids, attention, target = ids.to(device), attention.to(device), target.to(device)
    causal = model.get_base_model()
    hidden = causal.model(input_ids=ids, attention_mask=attention).last_hidden_state
    # Position t predicts token t + 1: only positions before a plan token need logits.
    logits = causal.lm_head(hidden[:, :-1][target[:, 1:]])
    cap = getattr(causal.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return torch.nn.functional.cross_entropy(logits.float(), ids[:, 1:][target[:, 1:]])


def training_precision(device: str) -> str:
    """bfloat16 autocast where the device computes bf16 itself, else float32. A CPU without
    AVX512-BF16 or AMX emulates bf16: a training step took three times as long as in float32
    on such a 2-core Xeon (bench/train_step: 27.3 s against 9.8 s)."""
    import torch

    if device == "mps":  # bf16 autocast on MPS is patchy across torch releases
        return "float32"
    if device == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    native = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if all(check is None for check in native):  # a torch too old to say: bf16, as before it could
        return "bfloat16"
    return "bfloat16" if any(check is not None and check() for check in native) else "float32"


def _autocast(device: str, precision: str) -> Any:
    import contextlib

    import torch

    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device, dtype=torch.bfloat16)


def train_lora(
    tokenizer: Any,
    base: Any,
    train: Sequence[TrainingPair],
    held_out: Sequence[TrainingPair],
    config: TrainConfig,
    *,
    device: str,
    work_dir: Path,
    resume: bool = False,
    progress: Progress | None = None,
    init: Callable[[list[str]], dict[str, Any]] | None = None,
) -> TrainResult:
    """Train LoRA on ``base`` (modified in place); checkpoints go to ``work_dir``."""
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    model = get_peft_model(base, LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=0.0,
                                            target_modules=list(TARGET_MODULES), bias="none"))
    if init is not None:  # start from an adapter already trained (--init), not from zero
        from peft import get_peft_model_state_dict

        modules = sorted({key.rsplit(".lora_", 1)[0] for key in get_peft_model_state_dict(model)})
        start = init(modules)
        own = get_peft_model_state_dict(model)
        if {k: tuple(v.shape) for k, v in start.items()} != {k: tuple(v.shape) for k, v in own.items()}:
            raise ConfigError(f"--init: the adapter's LoRA is not of rank {config.rank} on {', '.join(TARGET_MODULES)}")
        set_peft_model_state_dict(model, start)
    encoded = [_encode(tokenizer, pair) for pair in train]
    epochs = max(1, math.ceil(config.epochs))
    plan: list[list[int]] = []
    for _ in range(epochs):
        plan.extend(_batches([len(ids) for ids, _ in encoded], config.batch_size, rng))
    total = math.ceil(len(encoded) * config.epochs / config.batch_size)
    if config.max_steps:
        total = min(total, config.max_steps)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate,
                                  weight_decay=0.0)

    def rate(step: int) -> float:  # linear warm-up, then cosine down to a tenth
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        done = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    step, losses = 0, []
    checkpoint = work_dir / CHECKPOINT
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        if _resumable(state["config"]) != _resumable(asdict(config)) or state["pairs"] != len(train):
            raise ConfigError(f"{checkpoint} was made with other settings or data: start again without --resume")
        set_peft_model_state_dict(model, state["lora"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, losses = state["step"], state["losses"]

    model.train()
    interrupted = False
    precision = training_precision(device)
    try:
        _steps(model, optimizer, scheduler, encoded, plan, step, total, losses, config, checkpoint, device,
               precision, progress)
    except KeyboardInterrupt:  # keep what was learnt: the adapter is written from the last whole step
        interrupted = True
        _save(checkpoint, model, optimizer, scheduler, config, len(train), len(losses), losses)
    # One loss per step done, this run's and those before a resume: the step count itself.
    return _finish(model, tokenizer, held_out, plan, len(losses), losses, config, device, precision, started,
                   interrupted)


def _resumable(config: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint must share with the run that resumes it. --max-steps may differ: a
    smaller one than the checkpoint's step writes the adapter as the checkpoint has it."""
    return {k: v for k, v in config.items() if k not in ("max_steps", "checkpoint_every")}


def _steps(model: Any, optimizer: Any, scheduler: Any, encoded: Sequence[tuple[list[int], int]],
           plan: Sequence[list[int]], step: int, total: int, losses: list[float], config: TrainConfig,
           checkpoint: Path, device: str, precision: str, progress: Progress | None) -> None:
    import torch

    while step < total:
        with _autocast(device, precision):
            loss = _plan_loss(model, [encoded[i] for i in plan[step]], device)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        step += 1
        if progress:
            progress(step, total, sum(losses[-20:]) / len(losses[-20:]))
        if step % config.checkpoint_every == 0 or step == total:
            _save(checkpoint, model, optimizer, scheduler, config, len(encoded), step, losses)


def _save(checkpoint: Path, model: Any, optimizer: Any, scheduler: Any, config: TrainConfig, pairs: int,
          step: int, losses: list[float]) -> None:
    import torch
    from peft import get_peft_model_state_dict

    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    tmp = checkpoint.with_name(f"{CHECKPOINT}.{os.getpid()}.tmp")
    torch.save({"config": asdict(config), "pairs": pairs, "step": step, "losses": losses,
                "lora": get_peft_model_state_dict(model), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict()}, tmp)
    os.replace(tmp, checkpoint)


def _finish(model: Any, tokenizer: Any, held_out: Sequence[TrainingPair], plan: Sequence[list[int]], step: int,
            losses: list[float], config: TrainConfig, device: str, precision: str, started: float,
            interrupted: bool) -> TrainResult:
    import torch
    from peft import get_peft_model_state_dict

    model.eval()
    held_loss = None
    if held_out:
        with torch.no_grad(), _autocast(device, precision):
            held = [_encode(tokenizer, pair) for pair in held_out]
            parts = [float(_plan_loss(model, held[i : i + config.batch_size], device))
                     for i in range(0, len(held), config.batch_size)]
        held_loss = sum(parts) / len(parts)
    lora = {name: tensor.detach().float().cpu() for name, tensor in get_peft_model_state_dict(model).items()}
    return TrainResult(step, sum(len(batch) for batch in plan[:step]),
                       sum(losses[-20:]) / max(1, len(losses[-20:])), held_loss,
                       time.perf_counter() - started, device, precision, lora, config, interrupted)
