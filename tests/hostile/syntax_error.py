"""HOSTILE TEST INPUT: not valid Python."""
def affine_forward(x, w, b:
    return x @ w + b
