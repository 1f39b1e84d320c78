"""Where a model runs and at which precision: device names resolved, autocast dtype chosen."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when torch sees a GPU, else CPU; any other name as torch reads it.

    Asking for CUDA where there is none is an error here rather than at the first tensor move,
    so a training run fails before it has built anything.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA device")
    return resolved


def autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """The mixed-precision dtype on ``device`` (None: full precision).

    CUDA only: ``amp`` is ignored on a CPU. bfloat16 where the GPU has it, since it needs no
    loss scaling; float16 (trained with a `GradScaler`) otherwise.
    """
    if not (amp and device.type == "cuda"):
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
