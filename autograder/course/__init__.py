"""The nbgrader course: the five exercises as nbgrader assignments, and the instructor workflow.

One module per step, each driven by one ``autograder`` verb (``autograder/commands/``)::

    build      layout, config, testmap, notebook   solutions/ + graders/ -> source/<ex>/<ex>.ipynb
    release    release                              nbgrader generate_assignment + LMS zips
    collect    collect, lms_zip                     exchange or LMS zip -> submitted/
    autograde  autograde                            nbgrader autograde, one student per process
    feedback   feedback                             nbgrader generate_feedback, hidden tests removed
    export     export                               gradebook -> grades CSV

Every nbgrader run goes through :func:`autograder.course.nbgrader_cli.run_nbgrader`, in
the course directory, with the settings of the ``nbgrader_config.py`` that
:mod:`autograder.course.config` writes there.
"""
