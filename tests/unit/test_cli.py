"""The console script turns user errors into a message and exit code 2, never a traceback."""

from model.cli import main


def test_bad_params_exit_2_with_message(tmp_path, capsys) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("model: {horizon: -1}\n")
    assert main(["--params", str(params), "panel"]) == 2
    err = capsys.readouterr().err
    assert "clashcast panel:" in err
    assert "model.horizon" in err
    assert "Traceback" not in err


def test_a_stage_run_tells_the_user_what_it_did_through_module_loggers(tmp_path) -> None:
    """Modules log as ``model.<module>`` (``__name__``); the CLI must show them, with the
    stage's time, in a plain run (no ``-v``)."""
    import shutil
    import subprocess
    import sys

    from conftest import ROOT

    shutil.copytree(ROOT / "data" / "raw", tmp_path / "data" / "raw")
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    args = ["--params", str(tmp_path / "params.yaml"), "--root", str(tmp_path), "ingest"]
    proc = subprocess.run(
        [sys.executable, "-m", "model.cli", *args], capture_output=True, text=True, check=True
    )
    lines = proc.stderr.splitlines()
    assert any(
        " model.stages.ingest INFO reading 1 source(s) and the positions" in x for x in lines
    )
    assert any(" model.data.ingest INFO ucdp_ged_iraq: 7473 read" in x and " s" in x for x in lines)
    assert any(" model.cli INFO ingest done in " in x for x in lines), proc.stderr
