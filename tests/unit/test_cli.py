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
