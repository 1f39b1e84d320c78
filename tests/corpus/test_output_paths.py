"""Bad output paths, driven through the CLI: each is refused before any work starts with one
`Error:` line (exit 1), the inputs stay, and nothing finished-looking is left. Then crash safety:
a detect, train or export killed at a random point leaves nothing that passes for a result, and
the next run into the same place cleans up after it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from graphguard.outputs import lock_path
from tests.clicheck import assert_clean_error, assert_no_run_left, invoke


@pytest.fixture
def data(ring_log, tmp_path):
    """A private copy of the ring log, with labels and a truth file beside it."""
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(ring_log, d / "events.parquet")
    for name in ("labels.parquet", "truth.parquet"):
        (d / name).write_bytes(b"not read: the output is refused first")
    return d


def _inputs_kept(d: Path) -> None:
    assert sorted(p.name for p in d.iterdir()) == [
        "events.parquet",
        "labels.parquet",
        "truth.parquet",
    ]


def _no_hidden(directory: Path) -> None:
    assert not [p.name for p in directory.iterdir() if p.name.startswith(".")]


# --- 1. an output that would replace an input -----------------------------------------------


def test_detect_into_the_inputs_own_directory_is_refused(data):
    result = invoke(
        "detect",
        data / "events.parquet",
        "--labels",
        data / "labels.parquet",
        "--out",
        data,
        "--overwrite",
        "-q",
    )
    assert_clean_error(result, str(data), "replacing it would delete the input")
    _inputs_kept(data)


def test_detect_into_a_directory_above_the_input_is_refused(data):
    result = invoke("detect", data / "events.parquet", "--out", data.parent, "--overwrite", "-q")
    assert_clean_error(result, "holds the input")
    _inputs_kept(data)


def test_detect_inside_an_input_directory_is_refused(data):
    result = invoke("detect", data, "--out", data / "run", "-q")
    assert_clean_error(result, "inside the input directory")
    assert_no_run_left(data / "run")
    _inputs_kept(data)


def test_detect_over_the_model_it_reads_is_refused(data, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "m.pt").write_bytes(b"model")
    result = invoke(
        "detect",
        data / "events.parquet",
        "--model",
        models / "m.pt",
        "--out",
        models,
        "--overwrite",
        "-q",
    )
    assert_clean_error(result, "holds the input")
    assert (models / "m.pt").read_bytes() == b"model"


def test_train_over_its_labels_is_refused(data):
    result = invoke(
        "train",
        data / "events.parquet",
        "--labels",
        data / "labels.parquet",
        "--out",
        data / "labels.parquet",
        "--overwrite",
        "-q",
    )
    assert_clean_error(result, "is the input")
    _inputs_kept(data)


def test_report_html_over_a_run_file_or_the_truth_is_refused(simulated_world, tmp_path):
    run_dir, truth = simulated_world
    before = (run_dir / "accounts.parquet").read_bytes()
    result = invoke("report", run_dir, "--html", "--out", run_dir / "accounts.parquet")
    assert_clean_error(result, "is the input")
    assert (run_dir / "accounts.parquet").read_bytes() == before
    result = invoke("report", run_dir, "--html", "--truth", truth, "--out", truth)
    assert_clean_error(result, "is the input")


def test_export_over_a_run_file_is_refused(simulated_run):
    target = simulated_run / "run.json"
    before = target.read_bytes()
    result = invoke("export", simulated_run, "--top", "1", "--out", target, "--overwrite", "-q")
    assert_clean_error(result, "not a directory")
    result = invoke(
        "export", simulated_run, "--top", "1", "-f", "parquet", "--out", simulated_run, "-q"
    )
    assert result.exit_code == 0, result.output  # files written into the run dir, none replaced
    for p in simulated_run.glob("cluster-*.parquet"):
        p.unlink()
    assert target.read_bytes() == before


# --- 2. problems found before any work ------------------------------------------------------


def test_out_dot_is_refused_before_reading_the_log(data, tmp_path, monkeypatch):
    work = tmp_path / "empty"
    work.mkdir()
    monkeypatch.chdir(work)
    result = invoke("detect", data / "events.parquet", "--out", ".", "-q")
    assert_clean_error(result, "current directory")
    assert list(work.iterdir()) == []
    assert not [p.name for p in tmp_path.iterdir() if "partial" in p.name]


def test_a_missing_log_with_a_bad_output_names_the_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("detect", tmp_path / "nowhere.parquet", "--out", ".", "-q")
    assert_clean_error(result, "current directory")


def test_simulate_into_a_file_is_refused_before_simulating(tmp_path):
    target = tmp_path / "world"
    target.write_text("a file")
    result = invoke("simulate", target, "--accounts", "200")
    assert_clean_error(result, "is a file, not a directory")
    assert target.read_text() == "a file"


def test_simulate_refuses_existing_files_with_the_overwrite_hint(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "labels.parquet").write_text("mine")
    result = invoke("simulate", tmp_path / "w", "--accounts", "200")
    assert_clean_error(result, "labels.parquet: already exists", "--overwrite")


# --- 3. --overwrite over a file or a link ---------------------------------------------------


def test_detect_overwrite_replaces_a_file_cleanly(data, tmp_path):
    target = tmp_path / "run"
    target.write_text("a file")
    result = invoke("detect", data / "events.parquet", "--out", target, "--overwrite", "-q")
    assert result.exit_code == 0, result.output
    assert (target / "run.json").is_file()
    _no_hidden(tmp_path)


def test_detect_overwrite_replaces_a_link_not_what_it_points_to(data, tmp_path):
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("precious")
    link = tmp_path / "run"
    link.symlink_to(kept, target_is_directory=True)
    result = invoke("detect", data / "events.parquet", "--out", link, "--overwrite", "-q")
    assert result.exit_code == 0, result.output
    assert not link.is_symlink() and (link / "run.json").is_file()
    assert (kept / "notes.txt").read_text() == "precious"
    _no_hidden(tmp_path)


def test_detect_without_overwrite_keeps_a_link(data, tmp_path):
    (tmp_path / "kept").mkdir()
    (tmp_path / "run").symlink_to(tmp_path / "kept", target_is_directory=True)
    result = invoke("detect", data / "events.parquet", "--out", tmp_path / "run", "-q")
    assert_clean_error(result, "already exists", "--overwrite")
    assert (tmp_path / "run").is_symlink()


# --- 5. two runs into one place -------------------------------------------------------------


def test_a_second_run_into_a_busy_destination_is_refused(data, tmp_path):
    target = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom graphguard.outputs import output_guard\n"
            f"with output_guard({str(target)!r}):\n"
            "    print('ready', flush=True)\n    sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = invoke("detect", data / "events.parquet", "--out", target, "-q")
        assert_clean_error(result, f"another graphguard process (pid {holder.pid})")
        assert_no_run_left(target)
    finally:
        holder.communicate("\n", timeout=30)
    result = invoke("detect", data / "events.parquet", "--out", target, "-q")
    assert result.exit_code == 0, result.output
    assert not lock_path(target).exists()


# --- 6. a file name for many files; a place no file can be written --------------------------


def test_export_to_a_file_name_with_many_files_is_refused(simulated_run, tmp_path):
    target = tmp_path / "one.gexf"
    result = invoke("export", simulated_run, "--top", "3", "-f", "gexf", "--out", target, "-q")
    assert_clean_error(result, "names a file, but 3 files would be written")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_export_to_a_directory_named_like_a_file_is_allowed(simulated_run, tmp_path):
    target = tmp_path / "cases.gexf"
    target.mkdir()
    result = invoke("export", simulated_run, "--top", "2", "-f", "gexf", "--out", target, "-q")
    assert result.exit_code == 0, result.output
    assert len(list(target.glob("cluster-*.gexf"))) == 2


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_train_to_proc_fails_before_training(data):
    start = time.perf_counter()
    result = invoke(
        "train",
        data / "events.parquet",
        "--labels",
        data / "labels.parquet",
        "--out",
        "/proc/x.pt",
        "-q",
    )
    assert_clean_error(result, "/proc/x.pt: cannot write in /proc")
    assert time.perf_counter() - start < 5


def test_train_to_an_existing_directory_is_refused(data, tmp_path):
    (tmp_path / "m.pt").mkdir()
    result = invoke(
        "train",
        data / "events.parquet",
        "--labels",
        data / "labels.parquet",
        "--out",
        tmp_path / "m.pt",
        "--overwrite",
        "-q",
    )
    assert_clean_error(result, "is a directory")


# --- 4 and 7. killed runs -------------------------------------------------------------------


@pytest.fixture(scope="session")
def big_world(tmp_path_factory) -> Path:
    """A simulated log big enough that detect, train and export take a few seconds."""
    from graphguard.simulate import SimulationConfig, simulate, write_world

    directory = tmp_path_factory.mktemp("big_world")
    write_world(simulate(SimulationConfig(n_accounts=20_000, seed=3)), directory)
    return directory


def _graphguard(*args: object) -> list[str]:
    return [sys.executable, "-m", "graphguard.cli", *[str(a) for a in args]]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "GRAPHGUARD_DEBUG"}


def _kill_after(args: list[str], seconds: float) -> None:
    """Run ``args`` in its own process group and SIGKILL the group after ``seconds``."""
    begun = time.monotonic()
    _kill_once(args, lambda: time.monotonic() - begun >= seconds, timeout=seconds)


def _kill_once(args: list[str], started: Callable[[], bool], timeout: float = 120) -> None:
    """Run ``args`` in its own process group and SIGKILL the group as soon as ``started()``
    holds (polled every 10 ms; at the latest after ``timeout`` seconds), so that it is killed
    part-way through its writing however fast the machine is; then wait until every process of
    the group is gone (the command runs its work in a worker process, `graphguard.launch.main`),
    or the next run would still see a live writer."""
    proc = subprocess.Popen(
        args,
        env=_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not started() and time.monotonic() < deadline:
        time.sleep(0.01)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "finished before it was killed: kill it sooner"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)


def _only_hidden_beside(dest: Path) -> None:
    """Nothing at ``dest``; beside it at most hidden leftovers, none of them a final name."""
    assert not os.path.lexists(dest)
    for p in dest.parent.iterdir():
        assert p.name.startswith("."), p


@pytest.mark.slow
def test_a_killed_detect_leaves_no_run_and_the_next_one_cleans_up(big_world, tmp_path):
    target = tmp_path / "run"
    # killed as soon as its partial run is beside the target: part-way through the write (a
    # kill after a fixed time could land after the run was published, detect being fast)
    _kill_once(
        _graphguard("detect", big_world / "events.parquet", "--out", target, "-q"),
        lambda: any(p.name.startswith(".run.") for p in tmp_path.iterdir()),
    )
    _only_hidden_beside(target)
    # a killed writer's partial run, as a kill during the write leaves it
    (tmp_path / f".run.{_dead_pid()}.k1ll3d.partial").mkdir()
    result = invoke("detect", big_world / "events.parquet", "--out", target, "-q", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.slow
def test_a_killed_train_leaves_no_model_and_the_next_one_cleans_up(big_world, tmp_path):
    target = tmp_path / "m.pt"
    _kill_after(
        _graphguard(
            "train",
            big_world / "events.parquet",
            "--labels",
            big_world / "labels.parquet",
            "--out",
            target,
            "-q",
        ),
        3.0,
    )
    _only_hidden_beside(target)
    (tmp_path / ".m.pt.tmp").write_bytes(b"half a checkpoint")  # killed inside torch.save
    # the next run into the same place cleans up first, even one that then fails on its input
    result = invoke(
        "train",
        big_world / "events.parquet",
        "--labels",
        tmp_path / "none.parquet",
        "--out",
        target,
        "-q",
    )
    assert result.exit_code == 1, result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_killed_export_leaves_only_whole_files_and_the_next_one_cleans_up(big_world, tmp_path):
    run_dir = tmp_path / "run"
    assert (
        subprocess.run(
            _graphguard("detect", big_world / "events.parquet", "--out", run_dir, "-q", "--json"),
            env=_env(),
            stdout=subprocess.DEVNULL,
            check=False,
        ).returncode
        == 0
    )
    out = tmp_path / "exports"
    # killed once its first file is there: the other clusters' files are still to come
    _kill_once(
        _graphguard(
            "export", run_dir, "--top", "100", "-f", "graphml", "-f", "gexf", "--out", out, "-q"
        ),
        lambda: out.is_dir() and any(out.iterdir()),
    )
    (out).mkdir(exist_ok=True)
    (out / f".cluster-0.graphml.{_dead_pid()}.abcd1234.tmp").write_text("<graphml")
    for p in out.iterdir():  # a final name is a whole file
        assert p.name.startswith(".") or p.read_text().rstrip().endswith(("</graphml>", "</gexf>"))
    result = invoke("export", run_dir, "--top", "2", "--out", out, "--overwrite", "-q")
    assert result.exit_code == 0, result.output
    _no_hidden(out)
    assert not lock_path(out).exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
