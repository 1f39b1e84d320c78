"""Where a model runs and at which precision: device names resolved, autocast dtype chosen."""

from __future__ import annotations

import torch

from graphguard.models.params import check_device


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when torch sees a GPU, else CPU; ``cpu``, ``cuda`` or ``cuda:N``.

    Any other name is a `graphguard.errors.ConfigError` naming the accepted values
    (`graphguard.models.params.DEVICE_CHOICES`), not torch's
    list of device types. Asking for CUDA where there is none, or for a GPU index torch does
    not see, is an error here rather than at the first tensor move, so a training run fails
    before it has built anything.
    """
    if isinstance(device, torch.device):
        device = str(device)
    check_device("device", device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but torch sees no CUDA device")
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(
                f"device {device!r} asked for, but torch sees {count} CUDA device(s)"
                f" (cuda:0 to cuda:{count - 1})"
            )
    return resolved


def autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """The mixed-precision dtype on ``device`` (None: full precision).

    CUDA only: ``amp`` is ignored on a CPU. bfloat16 where the GPU has it, since it needs no
    loss scaling; float16 (trained with a `GradScaler`) otherwise.
    """
    if not (amp and device.type == "cuda"):
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
