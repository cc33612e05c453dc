"""GradeConfig: one order of precedence, command line > DLKIT_* environment > file > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.config import ConfigError, GradeConfig
from autograder.grading.loader import EXERCISES


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (
        "JOBS",
        "TIMEOUT",
        "MEMORY_LIMIT_MB",
        "DB",
        "LANG",
        "OUT",
        "EXERCISES",
        "SEED",
        "ISOLATE",
    ):
        monkeypatch.delenv(f"DLKIT_{name}", raising=False)


def test_defaults(tmp_path):
    config = GradeConfig.load(cwd=tmp_path)
    assert config.jobs == 1 and config.timeout == 600 and config.lang == "en"
    assert config.exercises == list(EXERCISES)
    assert config.isolate == "auto" and config.memory_limit_mb == 4096
    assert config.db_url() == f"sqlite:///{(Path('grading-results') / 'gradebook.db').resolve()}"


def test_precedence_cli_over_env_over_file_over_default(tmp_path, monkeypatch):
    (tmp_path / "autograder.toml").write_text(
        '[grade]\njobs = 3\ntimeout = 30\nlang = "vi"\nexercises = ["xor", "backprop"]\n',
        encoding="utf-8",
    )
    file_only = GradeConfig.load(cwd=tmp_path)
    assert (file_only.jobs, file_only.timeout, file_only.lang) == (3, 30, "vi")
    assert file_only.exercises == ["xor", "backprop"]
    assert file_only.memory_limit_mb == 4096  # default where the file is silent

    monkeypatch.setenv("DLKIT_JOBS", "5")
    monkeypatch.setenv("DLKIT_EXERCISES", "gradcheck, lenet")
    env = GradeConfig.load(cwd=tmp_path)
    assert env.jobs == 5 and env.exercises == ["gradcheck", "lenet"] and env.timeout == 30

    cli = GradeConfig.load(cwd=tmp_path, jobs=2, exercises=["optimizers"], timeout=None)
    assert cli.jobs == 2 and cli.exercises == ["optimizers"]
    assert cli.timeout == 30  # an option not given (None) falls through to the file


def test_explicit_config_file_and_top_level_keys(tmp_path):
    other = tmp_path / "other.toml"
    other.write_text('jobs = 4\nmemory_limit_mb = "none"\nisolate = false\n', encoding="utf-8")
    (tmp_path / "autograder.toml").write_text("jobs = 9\n", encoding="utf-8")
    config = GradeConfig.load(other, cwd=tmp_path)
    assert config.jobs == 4 and config.memory_limit_mb is None and config.isolate == "off"


@pytest.mark.parametrize(
    "text, match",
    [
        ("jobs = 0\n", "jobs"),
        ('exercises = ["nope"]\n', "unknown exercise"),
        ('lang = "fr"\n', "lang"),
        ("jobz = 2\n", "unknown setting"),
        ("jobs = [\n", "not valid TOML"),
    ],
)
def test_bad_file_is_a_clear_error(tmp_path, text, match):
    (tmp_path / "autograder.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        GradeConfig.load(cwd=tmp_path)


def test_bad_values_from_cli_and_env(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="unknown exercise"):
        GradeConfig.load(cwd=tmp_path, exercises=["backprop", "mnist"])
    with pytest.raises(ConfigError, match="not found"):
        GradeConfig.load(tmp_path / "missing.toml", cwd=tmp_path)
    monkeypatch.setenv("DLKIT_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="timeout"):
        GradeConfig.load(cwd=tmp_path)


def test_db_url_and_repeats(tmp_path):
    config = GradeConfig.load(
        cwd=tmp_path, out=tmp_path / "o", exercises=["xor", "xor", "backprop"]
    )
    assert config.exercises == ["xor", "backprop"]
    assert config.db_url() == f"sqlite:///{tmp_path / 'o' / 'gradebook.db'}"
    assert GradeConfig.load(cwd=tmp_path, db="postgresql://x/y").db_url() == "postgresql://x/y"
