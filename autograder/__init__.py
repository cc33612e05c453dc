"""dl-autograder: the instructor's package of the deep-learning foundations kit.

Sub-packages and modules:

- ``autograder.grading``: what the graders in ``graders/`` are built on (loading an
  implementation, teaching assertions, numerical gradients, the pytest plugin).
- ``autograder.stubs``: generates the student stubs in ``exercises/`` from ``solutions/``.
- ``autograder.data``: the offline digits dataset and the local MNIST (IDX) loader.
- ``autograder.cli``: the ``autograder`` command.
"""

__version__ = "0.1.0"
