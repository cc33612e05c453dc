"""Trusted probes: small functions of the kit that run next to the student's code.

A grader cannot read the student's objects (:mod:`autograder.grading.values`): it asks a
probe, ``impl.probes(exercise).NAME(*args)``, which runs in the same process as the
student's code (the isolated worker, or the grading process itself with
``--no-isolate``) and returns what the grader needs as data: the logits of a model, the
calls a spy recorded, whether an optimizer updated its arrays in place.

One module per exercise that needs probes (``autograder/probes/<exercise>_probes.py``). A probe
takes data, refs and the student's functions (``ex.NAME``) and returns data; it must not
trust what the student's objects report about themselves beyond what it observes.
"""
