"""The `workshop` command reaches the results: s3 ls / get, open-report; and -p parsing."""

from __future__ import annotations

from workshop_utils import cli


def test_s3_ls_get_and_open_report(store, settings, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("WORKSHOP_BUCKET", settings.bucket)
    monkeypatch.setenv("WORKSHOP_PREFIX", settings.prefix)
    key = store.put_bytes(settings.key("reports", "report.html"), b"<html>internal</html>", "text/html")
    assert cli.main(["s3", "ls", "reports"]) == 0
    assert key in capsys.readouterr().out
    assert cli.main(["s3", "ls", "nothing-here"]) == 1
    dest = tmp_path / "r.html"
    assert cli.main(["s3", "get", key, str(dest)]) == 0 and dest.read_bytes() == b"<html>internal</html>"
    assert cli.main(["s3", "get", key, str(dest)]) == 2  # never overwrites a local file
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setattr("workshop_utils.runner.REPO_ROOT", tmp_path)
    assert cli.main(["open-report", "--no-browser"]) == 0
    assert (tmp_path / "runs" / settings.run_id / "report.html").exists()
    assert cli.main(["open-report", "no-such-run", "--no-browser"]) == 2


def test_parameters_parse_like_the_notebooks():
    assert cli._parse_param("epsilon=None") == ("epsilon", None)
    assert cli._parse_param("epsilon=3") == ("epsilon", 3)
    assert cli._parse_param("frontier_epsilons=[1, 3, null]") == ("frontier_epsilons", [1, 3, None])
