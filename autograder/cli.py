"""The ``autograder`` command: a thin layer over ``autograder.commands``."""

from __future__ import annotations

import typer

from autograder.commands.autograde import autograde
from autograder.commands.build import build
from autograder.commands.collect import collect
from autograder.commands.export import export
from autograder.commands.feedback import feedback
from autograder.commands.release import release
from autograder.commands.stubs import stubs
from autograder.commands.grade import grade

app = typer.Typer(help="Instructor tools of the deep-learning foundations kit.",
                  no_args_is_help=True, add_completion=False)


@app.callback()
def main() -> None:
    """Instructor tools of the deep-learning foundations kit."""


app.command()(stubs)
# The nbgrader course workflow, in the order an instructor runs it.
for verb in (build, release, collect, autograde, feedback, export):
    app.command()(verb)
app.command()(grade)

if __name__ == "__main__":
    app()
