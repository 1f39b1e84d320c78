"""The engine switch: local by default, spark asked for without pyspark or Java is one clear
error before any work."""

from __future__ import annotations

import sys

import pytest

from graphguard.config import DetectConfig
from graphguard.pipeline.detect import run_detection
from graphguard.spark.session import SparkUnavailable, require_spark


def test_spark_without_pyspark_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    with pytest.raises(SparkUnavailable, match=r"pip install 'graphguard\[spark\]'"):
        require_spark()
    with pytest.raises(SparkUnavailable, match="pyspark"):
        run_detection(tmp_path / "missing.parquet", tmp_path / "out", engine="spark")
    assert not (tmp_path / "out").exists()


def test_spark_without_java_names_java_17(monkeypatch):
    pytest.importorskip("pyspark")
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(SparkUnavailable, match="Java 17"):
        require_spark()


def test_local_is_the_default():
    assert DetectConfig().engine == "local"
