"""Building blocks of the graders.

- ``messages``: the student's language (English / Vietnamese) and ``tr``.
- ``loader``: finds an implementation folder and loads exercise modules lazily.
- ``checks``: assertions whose failure messages are written for students.
- ``numgrad``: the graders' own centred-difference gradients.
- ``plugin``: the pytest plugin (options, markers, score table).
"""
