"""The ``autograder`` command: a thin layer over ``autograder.commands``."""

from __future__ import annotations

import typer

from autograder.commands.stubs import stubs

app = typer.Typer(help="Instructor tools of the deep-learning foundations kit.",
                  no_args_is_help=True, add_completion=False)


@app.callback()
def main() -> None:
    """Instructor tools of the deep-learning foundations kit."""


app.command()(stubs)

if __name__ == "__main__":
    app()
