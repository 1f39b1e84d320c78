"""The GraphSAGE detector's hyper-parameters: one dataclass, the only list of them.

`GraphSAGEDetector` takes exactly these fields as keyword arguments, `get_params` returns them
and checkpoints store them. The config groups ``model`` (the network) and ``train`` (how it is
trained and how it scores) are the fields whose metadata says so, so conf/ never lists a
parameter or a default again. Torch-free, so composing a config never loads torch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from graphguard.config import (
    ConfigError,
    check_choice,
    check_int_at_least,
    check_non_negative,
    check_positive,
    check_share,
)

#: the two config groups a parameter can belong to
MODEL_GROUP = "model"
TRAIN_GROUP = "train"

#: ``aggr`` values
AGGREGATIONS = ("mean", "max", "sum")
#: ``block`` values (`graphguard.models.sage.BLOCKS`)
BLOCKS = ("post", "prenorm")
#: ``activation`` values (`graphguard.models.sage.ACTIVATIONS`)
ACTIVATIONS = ("relu", "gelu")
#: ``select_on`` values (`graphguard.models.training.SELECTION_SCORES`)
SELECTION_SCORES = ("loss", "auprc", "auroc")
#: the device names a model takes, in words
DEVICE_CHOICES = "auto, cpu, cuda, cuda:N"
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device(key: str, device: Any) -> None:
    """``device`` is one of `DEVICE_CHOICES` (torch-free: checked before any work)."""
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise ConfigError(key, f"must be one of {DEVICE_CHOICES}, got {device!r}")


def _p(default: Any, group: str, doc: str) -> Any:
    return field(default=default, metadata={"group": group, "doc": doc})


def _list(default: list[int], group: str, doc: str) -> Any:
    return field(default_factory=lambda: list(default), metadata={"group": group, "doc": doc})


@dataclass
class GraphSAGEParams:
    """Hyper-parameters of `GraphSAGEDetector` (see its docstring for what each one does)."""

    # --- the network (config group ``model``)
    hidden: int = _p(64, MODEL_GROUP, "width of every GraphSAGE layer")
    layers: int = _p(2, MODEL_GROUP, "message-passing layers (hops)")
    dropout: float = _p(0.2, MODEL_GROUP, "dropout after every layer")
    feature_clip: float | None = _p(
        3.0, MODEL_GROUP, "normalised features are clipped to +-this many training std (null: none)"
    )
    residual: bool = _p(False, MODEL_GROUP, "residual connections around every layer")
    input_dropout: float = _p(0.0, MODEL_GROUP, "dropout on the normalised input features")
    jumping_knowledge: bool = _p(False, MODEL_GROUP, "the head reads every layer's output")
    aggr: str = _p("mean", MODEL_GROUP, "neighbourhood aggregation: mean, max or sum")
    block: str = _p(
        "post",
        MODEL_GROUP,
        "post (transform, LayerNorm, activation) or prenorm (LayerNorm first, residual, "
        "feed-forward; a LayerNorm before the head)",
    )
    activation: str = _p("relu", MODEL_GROUP, "activation of every layer: relu or gelu")
    degree_features: bool = _p(False, MODEL_GROUP, "append log1p degree per relation")
    edge_gate: bool = _p(
        False,
        MODEL_GROUP,
        "scale every message by a gate learned from its account pair's attributes (support "
        "and weight per relation, `graph.inputs.edge_attributes`); full-batch graphs only",
    )
    label_input: bool = _p(False, MODEL_GROUP, "the label trick (transductive training)")
    label_input_rate: float = _p(0.5, MODEL_GROUP, "share of training labels shown per epoch")
    # --- training and scoring (config group ``train``)
    epochs: int = _p(100, TRAIN_GROUP, "most passes over the training accounts")
    lr: float = _p(1e-2, TRAIN_GROUP, "Adam learning rate")
    weight_decay: float = _p(1e-4, TRAIN_GROUP, "AdamW weight decay")
    patience: int = _p(10, TRAIN_GROUP, "stop after this many epochs without a better score")
    select_on: str = _p(
        "loss", TRAIN_GROUP, "epoch kept: loss (lowest validation loss), auprc or auroc"
    )
    val_fraction: float = _p(
        0.2, TRAIN_GROUP, "share of labelled accounts (per class) held out for early stopping"
    )
    seed: int = _p(0, TRAIN_GROUP, "seeds initialisation, dropout, validation split, sampling")
    device: str = _p("auto", TRAIN_GROUP, "auto (CUDA when torch sees a GPU), cpu or cuda")
    amp: bool = _p(True, TRAIN_GROUP, "mixed precision on CUDA; ignored on CPU")
    full_batch_max_nodes: int = _p(
        200_000, TRAIN_GROUP, "graphs above this many accounts train on sampled mini-batches"
    )
    fanouts: list[int] = _list(
        [15, 10], TRAIN_GROUP, "neighbours sampled per account, relation and hop (one per layer)"
    )
    batch_size: int = _p(1024, TRAIN_GROUP, "seed accounts per mini-batch")
    inference_batch_size: int = _p(8192, TRAIN_GROUP, "accounts per step of layer-wise scoring")

    def __post_init__(self) -> None:
        """Range checks, each naming the key as a config writes it (``train.epochs``)."""

        def key(name: str) -> str:
            return f"{_GROUP_OF[name]}.{name}"

        for name in ("hidden", "layers", "epochs", "batch_size", "inference_batch_size"):
            check_int_at_least(key(name), getattr(self, name), 1)
        for name in ("patience", "seed", "full_batch_max_nodes"):
            check_int_at_least(key(name), getattr(self, name), 0)
        for name in ("dropout", "input_dropout", "val_fraction"):
            check_share(key(name), getattr(self, name), below_one=True)
        if self.feature_clip is not None:
            check_positive(key("feature_clip"), self.feature_clip)
        check_choice(key("aggr"), self.aggr, AGGREGATIONS)
        check_choice(key("block"), self.block, BLOCKS)
        check_choice(key("activation"), self.activation, ACTIVATIONS)
        if self.block == "prenorm" and self.jumping_knowledge:
            raise ConfigError(key("jumping_knowledge"), "must be false with model.block=prenorm")
        if not 0.0 < self.label_input_rate < 1.0:
            raise ConfigError(
                key("label_input_rate"), f"must be in (0, 1), got {self.label_input_rate!r}"
            )
        check_positive(key("lr"), self.lr)
        check_non_negative(key("weight_decay"), self.weight_decay)
        check_choice(key("select_on"), self.select_on, SELECTION_SCORES)
        check_device(key("device"), self.device)
        fanouts = list(self.fanouts)
        for fanout in fanouts:
            check_int_at_least(key("fanouts"), fanout, -(2**31))
            if fanout == 0:
                raise ConfigError(
                    key("fanouts"),
                    f"entries must be positive, or negative for every neighbour, got {fanouts}",
                )
        if len(fanouts) != self.layers:
            raise ConfigError(
                key("fanouts"),
                f"needs one entry per layer ({self.layers}), got {fanouts}",
            )


#: parameter name -> its config group
_GROUP_OF = {f.name: f.metadata["group"] for f in fields(GraphSAGEParams)}


def param_names(group: str | None = None) -> tuple[str, ...]:
    """The parameter names, all of them or those of one config group."""
    return tuple(
        f.name for f in fields(GraphSAGEParams) if group is None or f.metadata["group"] == group
    )


def with_overrides(
    params: GraphSAGEParams | None = None, overrides: Mapping[str, Any] | None = None
) -> GraphSAGEParams:
    """A new `GraphSAGEParams`: ``params`` (default: all defaults) with ``overrides`` applied.

    ``params`` itself is never changed. An override that is no parameter is a `TypeError`
    naming it and the known ones, as a misspelt keyword argument would be.
    """
    overrides = dict(overrides or {})
    known = param_names()
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise TypeError(
            f"unknown GraphSAGE parameter {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )
    if params is None:
        return GraphSAGEParams(**overrides)
    if not isinstance(params, GraphSAGEParams):
        raise TypeError(
            f"params must be a GraphSAGEParams, got {type(params).__name__}; pass"
            " hyper-parameters by keyword"
        )
    return replace(params, **overrides)
