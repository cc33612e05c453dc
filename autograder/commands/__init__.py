"""One module per ``autograder`` verb; ``autograder.cli`` only wires them up."""
