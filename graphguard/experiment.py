"""Hydra entry point of the experiments: compose, convert once, run the harness.

    python -m graphguard.experiment                                  # experiment=sim_labels40
    python -m graphguard.experiment experiment=sim_heldout
    python -m graphguard.experiment experiment=sim_inductive model.hidden=128
    python -m graphguard.experiment experiment=tolokers
    python -m graphguard.experiment --multirun experiment=sim_labels40 model.layers=1,2,3

The config is conf/experiments.yaml: the pipeline groups of conf/config.yaml, the experiment
section (`graphguard.evaluation.harness.ExperimentConfig`) and one file of conf/experiment/,
a small diff naming the setting. Every run writes into its directory (``experiments/<name>``
by default, ``paths.experiments_dir``; a multirun gets one subdirectory per job) the resolved
``config.yaml``, every interpolation filled in, then what `graphguard.evaluation.harness.run`
writes: ``metrics.json``, ``summary.md``, ``pr_curves.png``, ``score_hist.png`` and
``model.pt``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from graphguard.compose import config_dir, settings
from graphguard.config import ConfigError
from graphguard.evaluation import harness
from graphguard.outputs import write_text_atomic

#: what `metrics.json` records as the command, before the overrides
COMMAND = "python -m graphguard.experiment"


def run(
    cfg: DictConfig,
    out_dir: Path,
    progress: Any = print,
    *,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Write ``out_dir/config.yaml``, convert ``cfg`` and run the experiment it describes.

    ``overrides`` (the command line's, recorded in metrics.json) let anyone rerun it.
    """
    s = settings(cfg)  # a bad setting fails here, before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(OmegaConf.to_yaml(cfg, resolve=True), out_dir / "config.yaml")
    if s.experiment is None:
        raise ValueError(f"{config_dir()}: the composed config has no experiment section")
    return harness.run(
        s.experiment,
        out_dir,
        config=s.detect,
        features=s.features,
        params=s.params,
        simulation=s.simulate,
        shared_data=s.paths.shared_data,
        command=" ".join([COMMAND, *overrides]),
        progress=progress,
    )


@hydra.main(version_base=None, config_path=str(config_dir()), config_name="experiments")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        run(cfg, out_dir, overrides=list(hydra_cfg.overrides.task))
    except ConfigError as exc:  # a setting out of range: one line naming the key, exit 2
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
