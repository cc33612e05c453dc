"""Batch grading (``autograder grade``): find the submissions (``discovery``), turn
notebooks into modules (``notebooks``), run the graders and store the grades (``runner``)."""
