"""HOSTILE TEST INPUT: every function returns something of the wrong type."""


class Thing:
    def __float__(self):
        raise RuntimeError("not a number")


def affine_forward(x, w, b):
    return "out", "cache"


def affine_backward(dout, cache):
    return None


def relu_forward(x):
    return Thing()


def relu_backward(dout, cache):
    return [[1, "a"]]


def sigmoid_forward(x):
    return {"out": x}


def sigmoid_backward(dout, cache):
    return lambda: 0


def tanh_forward(x):
    return (x.tolist(), None)


def tanh_backward(dout, cache):
    return iter([1, 2, 3])


def softmax_cross_entropy(scores, y):
    return "1.0", scores


def mse_loss(pred, target):
    return Thing(), pred


def two_layer_net(params, X, y, reg=0.0):
    return 0.0, ["W1", "b1"]
