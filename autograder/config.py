"""The typed configuration of ``autograder grade``: one model, one order of precedence.

    command-line option  >  environment (DLKIT_*)  >  file  >  default

The file is ``--config FILE``, else ``autograder.toml`` in the current folder when it
exists. Its keys are the field names below, at the top level or in a ``[grade]`` table::

    # autograder.toml
    [grade]
    jobs = 2
    timeout = 900
    exercises = ["backprop", "xor"]
    db = "postgresql+psycopg://grader@localhost/course"

Environment variables are the field names in upper case after ``DLKIT_``
(``DLKIT_JOBS=2``, ``DLKIT_TIMEOUT=900``, ``DLKIT_EXERCISES=backprop,xor``,
``DLKIT_LANG=vi``, ``DLKIT_DB=sqlite:////srv/grades.db``, ``DLKIT_ISOLATE=on``).
"""

from __future__ import annotations

import contextvars
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from autograder.grading.loader import EXERCISES

CONFIG_FILE_NAME = "autograder.toml"
_config_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "dlkit_config_file", default=None
)


class ConfigError(Exception):
    """The configuration is wrong (an operator error); the message says where and why."""


class TomlFileSource(PydanticBaseSettingsSource):
    """Settings from a TOML file: its ``[grade]`` table, or its top level."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None):
        super().__init__(settings_cls)
        self.path = path
        self.data: dict[str, Any] = {}
        if path is not None:
            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read the configuration file {path}: {exc}") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path} is not valid TOML: {exc}") from None
            table = raw.get("grade", raw)
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: [grade] must be a table")
            known = set(settings_cls.model_fields)
            unknown = sorted(set(table) - known - {"grade"})
            if unknown:
                raise ConfigError(
                    f"{path}: unknown setting(s) {', '.join(unknown)}; "
                    f"known: {', '.join(sorted(known))}"
                )
            self.data = {key: value for key, value in table.items() if key in known}

    def get_field_value(self, field, field_name: str):  # required by the base class
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


class GradeConfig(BaseSettings):
    """Settings of a grading batch (see the module docstring for where they come from)."""

    model_config = SettingsConfigDict(env_prefix="DLKIT_", extra="ignore", validate_default=True)

    jobs: int = Field(1, ge=1, le=256, description="grader processes at a time (-j)")
    timeout: float = Field(
        600.0, gt=0, description="wall-clock seconds per (student, exercise) run"
    )
    memory_limit_mb: int | None = Field(
        4096, ge=256, description="address-space limit (MB) of each grader process; none: no limit"
    )
    db: str | None = Field(
        None, description="SQLAlchemy URL of the gradebook (default: sqlite:///<out>/gradebook.db)"
    )
    lang: Literal["en", "vi"] = "en"
    out: Path = Field(Path("grading-results"), description="output folder")
    exercises: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(EXERCISES))
    seed: int | None = Field(
        None, description="seed of the graders' random inputs (default: theirs)"
    )
    isolate: Literal["auto", "on", "off"] = Field(
        "auto",
        description="run student code in the graders' isolated worker (--isolate): "
        "auto = when the graders offer it",
    )

    sandbox_layer: Literal["auto", "bwrap", "landlock", "none"] = Field(
        "auto",
        description="confinement of the isolated workers (autograder.sandbox.confine): auto = "
        "the strongest available",
    )
    unconfined: bool = Field(
        False,
        description="grade even where no filesystem confinement can be applied (or with "
        "isolate=off); every result records it",
    )

    @field_validator("exercises", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.replace(" ", ",").split(",") if part.strip()]
        return value

    @field_validator("exercises")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in EXERCISES]
        if unknown:
            raise ValueError(
                f"unknown exercise(s) {', '.join(unknown)}; known: {', '.join(EXERCISES)}"
            )
        if not value:
            raise ValueError("no exercise selected")
        return list(dict.fromkeys(value))  # keep the order, drop repeats

    @field_validator("isolate", mode="before")
    @classmethod
    def _bool_words(cls, value: Any) -> Any:
        words = {
            True: "on",
            False: "off",
            "true": "on",
            "false": "off",
            "1": "on",
            "0": "off",
            "yes": "on",
            "no": "off",
        }
        if isinstance(value, str):
            value = value.strip().lower()
        return words.get(value, value)

    @field_validator("memory_limit_mb", mode="before")
    @classmethod
    def _none_words(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("", "none", "off", "0"):
            return None
        if value == 0:
            return None
        return value

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        # CLI (passed as init arguments) > environment > file > defaults.
        return (init_settings, env_settings, TomlFileSource(settings_cls, _config_file.get()))

    @classmethod
    def load(
        cls, config_file: Path | None = None, cwd: Path | None = None, **cli: Any
    ) -> GradeConfig:
        """The configuration for these command-line values (None = option not given)."""
        if config_file is not None:
            config_file = Path(config_file)
            if not config_file.is_file():
                raise ConfigError(f"configuration file not found: {config_file}")
        else:
            candidate = (cwd or Path.cwd()) / CONFIG_FILE_NAME
            config_file = candidate if candidate.is_file() else None
        given = {key: value for key, value in cli.items() if value is not None and value != []}
        unknown = sorted(set(given) - set(cls.model_fields))
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}")
        token = _config_file.set(config_file)
        try:
            return cls(**given)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
                for err in exc.errors()
            )
            where = f" (file {config_file})" if config_file else ""
            raise ConfigError(f"invalid configuration{where}: {problems}") from None
        finally:
            _config_file.reset(token)

    def db_url(self) -> str:
        from autograder.gradebook import sqlite_url

        return self.db or sqlite_url(self.out / "gradebook.db")
