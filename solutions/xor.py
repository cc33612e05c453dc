# %% [markdown] lang="en"
# # Exercise 4 — An XOR network from scratch
#
# XOR is the smallest problem a linear model cannot solve. The four inputs and targets are
#
# | $x_1$ | $x_2$ | $y = x_1 \oplus x_2$ |
# |---|---|---|
# | 0 | 0 | 0 |
# | 0 | 1 | 1 |
# | 1 | 0 | 1 |
# | 1 | 1 | 0 |
#
# **Why no line separates them.** A linear classifier predicts 1 when $w_1 x_1 + w_2 x_2 + b > 0$.
# The four points would need $b \le 0$ (for $(0,0)$), $w_2 + b > 0$, $w_1 + b > 0$ and
# $w_1 + w_2 + b \le 0$. Adding the two middle inequalities gives $w_1 + w_2 + 2b > 0$, so
# $w_1 + w_2 + b > -b \ge 0$, which contradicts the last one. Geometrically, the two points of
# class 1 sit on one diagonal of the unit square and the two points of class 0 on the other:
# any line that has both class-1 corners on its positive side also has at least one class-0 corner
# there. Logistic regression on $(x_1, x_2)$ therefore cannot get all four right.
#
# **One hidden layer is enough.** With $H$ hidden units the network computes
#
# $$a = X W_1 + b_1,\quad h = \tanh(a),\quad z = h W_2 + b_2,\quad p = \sigma(z) = \frac{1}{1 + e^{-z}},$$
#
# with $X$ of shape $(N, 2)$, $W_1$ $(2, H)$, $b_1$ $(H,)$, $W_2$ $(H, 1)$, $b_2$ $(1,)$ and
# probabilities $p$ of shape $(N, 1)$. The hidden layer bends the input space: for instance one
# unit can learn "$x_1$ OR $x_2$" and another "$x_1$ AND $x_2$", and the output "OR and not AND"
# is then linear in $h$. You may use a sigmoid instead of $\tanh$ in the hidden layer.
#
# **Loss.** The mean binary cross-entropy over the $N$ examples is
#
# $$L = -\frac{1}{N}\sum_{i=1}^{N} \big[y_i \log p_i + (1 - y_i)\log(1 - p_i)\big].$$
#
# $\log 0 = -\infty$, so clip $p$ to $[\varepsilon, 1 - \varepsilon]$ (e.g. $\varepsilon = 10^{-12}$)
# before taking logs: the loss stays finite even when a probability is exactly 0 or 1.
#
# **Gradient through the sigmoid.** Since $\sigma'(z) = p(1 - p)$, the two factors cancel:
#
# $$\frac{\partial L}{\partial z_i} = \frac{1}{N}\left(-\frac{y_i}{p_i} + \frac{1 - y_i}{1 - p_i}\right) p_i (1 - p_i)
#   = \frac{p_i - y_i}{N}.$$
#
# From there: $\partial L/\partial W_2 = h^\top\, dz$, $\partial L/\partial b_2 = \sum_i dz_i$,
# $dh = dz\, W_2^\top$, $da = dh \odot (1 - h^2)$ (the derivative of $\tanh$, written with its
# *output* $h$; for a sigmoid hidden layer it is $h(1 - h)$), $\partial L/\partial W_1 = X^\top da$ and
# $\partial L/\partial b_1 = \sum_i da_i$. Every gradient has the shape of its parameter.
#
# **Symmetry breaking.** If all weights start at zero (or at the same value), every hidden unit
# computes the same function and receives the same gradient, so after any number of steps they
# are still identical: the network behaves as if it had a single hidden unit, which cannot
# solve XOR. Random initial weights make the units different from the start.
#
# **Learning rate.** Gradient descent updates $\theta \leftarrow \theta - \eta\,\partial L/\partial\theta$.
# Too small an $\eta$ and 5000 epochs are not enough; too large and the loss oscillates or
# diverges. For this tiny problem $\eta \approx 1$ works well.
#
# The defaults in the signatures are suggestions: you may choose others (hidden size, learning
# rate, epochs, initial scale), as long as `train` with its own defaults reaches 100% accuracy and a
# loss below 0.05 for at least 9 of the seeds 0-9. Use numpy only.

# %% [markdown] lang="vi"
# # Bài 4 — Mạng XOR từ con số không
#
# XOR là bài toán nhỏ nhất mà một mô hình tuyến tính không giải được. Bốn đầu vào và nhãn là
#
# | $x_1$ | $x_2$ | $y = x_1 \oplus x_2$ |
# |---|---|---|
# | 0 | 0 | 0 |
# | 0 | 1 | 1 |
# | 1 | 0 | 1 |
# | 1 | 1 | 0 |
#
# **Vì sao không đường thẳng nào tách được chúng.** Bộ phân loại tuyến tính dự đoán 1 khi
# $w_1 x_1 + w_2 x_2 + b > 0$. Bốn điểm sẽ đòi hỏi $b \le 0$ (với $(0,0)$), $w_2 + b > 0$,
# $w_1 + b > 0$ và $w_1 + w_2 + b \le 0$. Cộng hai bất đẳng thức ở giữa được $w_1 + w_2 + 2b > 0$,
# tức $w_1 + w_2 + b > -b \ge 0$, mâu thuẫn với bất đẳng thức cuối. Về hình học, hai điểm lớp 1
# nằm trên một đường chéo của hình vuông đơn vị, hai điểm lớp 0 nằm trên đường chéo kia: đường
# thẳng nào để cả hai góc lớp 1 ở phía dương thì cũng để ít nhất một góc lớp 0 ở phía đó. Vì vậy
# hồi quy logistic trên $(x_1, x_2)$ không thể đúng cả bốn điểm.
#
# **Một lớp ẩn là đủ.** Với $H$ nơ-ron ẩn, mạng tính
#
# $$a = X W_1 + b_1,\quad h = \tanh(a),\quad z = h W_2 + b_2,\quad p = \sigma(z) = \frac{1}{1 + e^{-z}},$$
#
# với $X$ có kích thước $(N, 2)$, $W_1$ $(2, H)$, $b_1$ $(H,)$, $W_2$ $(H, 1)$, $b_2$ $(1,)$ và
# xác suất $p$ có kích thước $(N, 1)$. Lớp ẩn "uốn" không gian đầu vào: chẳng hạn một nơ-ron học
# "$x_1$ OR $x_2$", một nơ-ron khác học "$x_1$ AND $x_2$", và đầu ra "OR nhưng không AND" khi đó
# là hàm tuyến tính của $h$. Bạn có thể dùng sigmoid thay cho $\tanh$ ở lớp ẩn.
#
# **Hàm mất mát.** Entropy chéo nhị phân (binary cross-entropy) trung bình trên $N$ mẫu là
#
# $$L = -\frac{1}{N}\sum_{i=1}^{N} \big[y_i \log p_i + (1 - y_i)\log(1 - p_i)\big].$$
#
# Vì $\log 0 = -\infty$, hãy kẹp (clip) $p$ vào $[\varepsilon, 1 - \varepsilon]$ (vd. $\varepsilon = 10^{-12}$)
# trước khi lấy log: hàm mất mát vẫn hữu hạn kể cả khi một xác suất bằng đúng 0 hoặc 1.
#
# **Gradient qua hàm sigmoid.** Vì $\sigma'(z) = p(1 - p)$, hai thừa số triệt tiêu nhau:
#
# $$\frac{\partial L}{\partial z_i} = \frac{1}{N}\left(-\frac{y_i}{p_i} + \frac{1 - y_i}{1 - p_i}\right) p_i (1 - p_i)
#   = \frac{p_i - y_i}{N}.$$
#
# Từ đó: $\partial L/\partial W_2 = h^\top\, dz$, $\partial L/\partial b_2 = \sum_i dz_i$,
# $dh = dz\, W_2^\top$, $da = dh \odot (1 - h^2)$ (đạo hàm của $\tanh$, viết theo *đầu ra* $h$;
# với lớp ẩn sigmoid thì là $h(1 - h)$), $\partial L/\partial W_1 = X^\top da$ và
# $\partial L/\partial b_1 = \sum_i da_i$. Mỗi gradient có cùng kích thước với tham số của nó.
#
# **Phá vỡ tính đối xứng.** Nếu mọi trọng số bắt đầu bằng 0 (hoặc cùng một giá trị), mọi nơ-ron
# ẩn tính cùng một hàm và nhận cùng một gradient, nên sau bao nhiêu bước chúng vẫn giống hệt nhau:
# mạng hoạt động như thể chỉ có một nơ-ron ẩn, và như vậy không giải được XOR. Khởi tạo trọng số
# ngẫu nhiên làm các nơ-ron khác nhau ngay từ đầu.
#
# **Tốc độ học.** Gradient descent cập nhật $\theta \leftarrow \theta - \eta\,\partial L/\partial\theta$.
# Tốc độ học $\eta$ quá nhỏ thì 5000 epoch không đủ; quá lớn thì hàm mất mát dao động hoặc phân kỳ.
# Với bài toán nhỏ này, $\eta \approx 1$ chạy tốt.
#
# Các giá trị mặc định trong chữ ký hàm chỉ là gợi ý: bạn có thể chọn khác (số nơ-ron ẩn, tốc độ
# học, số epoch, độ lớn khởi tạo), miễn là `train` với các mặc định của chính bạn đạt độ chính xác
# 100% và hàm mất mát dưới 0.05 với ít nhất 9 trong các seed 0-9. Chỉ dùng numpy.

# %%
import numpy as np

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])  # (4, 2)
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])  # (4, 1): x1 xor x2


# %% [markdown] lang="en"
# ## Initialisation
# Draw the weights with `np.random.default_rng(seed)` so that the same seed gives the same network.
# Biases may start at zero: the random weights already break the symmetry.

# %% [markdown] lang="vi"
# ## Khởi tạo
# Lấy trọng số ngẫu nhiên bằng `np.random.default_rng(seed)` để cùng một seed cho cùng một mạng.
# Bias có thể bắt đầu bằng 0: trọng số ngẫu nhiên đã đủ phá vỡ tính đối xứng.

# %%
def init_params(n_hidden=4, seed=0):
    """Random parameters of a 2 -> n_hidden -> 1 network.

    Args:
        n_hidden: H, the number of hidden units
        seed: seed of np.random.default_rng; the same seed gives the same params
    Returns:
        params: dict with 'W1' (2, H), 'b1' (H,), 'W2' (H, 1), 'b2' (1,), float64 arrays
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.standard_normal((2, n_hidden)),
        "b1": np.zeros(n_hidden),
        "W2": rng.standard_normal((n_hidden, 1)),
        "b2": np.zeros(1),
    }
    ### END SOLUTION


# %% [markdown] lang="en"
# ## Forward pass and loss
# `forward` returns the probabilities and a `cache` of whatever `backward` will need (only your own
# `backward` ever reads it). Tip: $\sigma(z) = \tfrac12(1 + \tanh(z/2))$ never overflows.

# %% [markdown] lang="vi"
# ## Lan truyền xuôi và hàm mất mát
# `forward` trả về xác suất và một `cache` chứa những gì `backward` sẽ cần (chỉ `backward` của chính
# bạn đọc nó). Mẹo: $\sigma(z) = \tfrac12(1 + \tanh(z/2))$ không bao giờ bị tràn số.

# %%
def forward(params, X):
    """Forward pass: tanh (or sigmoid) hidden layer, sigmoid output.

    Args:
        params: dict with 'W1' (2, H), 'b1' (H,), 'W2' (H, 1), 'b2' (1,)
        X: array of shape (N, 2)
    Returns:
        probs: array of shape (N, 1), P(y = 1 | x), values in [0, 1]
        cache: whatever backward needs (e.g. X and the hidden activations (N, H))
    """
    ### BEGIN SOLUTION
    h = np.tanh(X @ params["W1"] + params["b1"])  # (N, H)
    z = h @ params["W2"] + params["b2"]  # (N, 1)
    probs = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid, without overflow
    return probs, (X, h, probs)
    ### END SOLUTION


def bce_loss(probs, Y):
    """Mean binary cross-entropy.

    Args:
        probs: array of shape (N, 1), predicted probabilities in [0, 1]
        Y: array of shape (N, 1), targets 0 or 1
    Returns:
        loss: float, -mean(Y log p + (1 - Y) log(1 - p)); finite even when a prob is 0 or 1
    """
    ### BEGIN SOLUTION
    eps = 1e-12
    p = np.clip(probs, eps, 1.0 - eps)
    return float(-np.mean(Y * np.log(p) + (1.0 - Y) * np.log(1.0 - p)))
    ### END SOLUTION


# %% [markdown] lang="en"
# ## Backward pass
# Use $dz = (p - y)/N$ and the chain rule of the introduction. Check the shape of every gradient.

# %% [markdown] lang="vi"
# ## Lan truyền ngược
# Dùng $dz = (p - y)/N$ và quy tắc chuỗi ở phần giới thiệu. Kiểm tra kích thước của từng gradient.

# %%
def backward(params, cache, Y):
    """Gradient of bce_loss(forward(params, X)[0], Y) with respect to every parameter.

    Args:
        params: dict with 'W1' (2, H), 'b1' (H,), 'W2' (H, 1), 'b2' (1,)
        cache: the cache returned by forward(params, X)
        Y: array of shape (N, 1), targets 0 or 1
    Returns:
        grads: dict with 'W1' (2, H), 'b1' (H,), 'W2' (H, 1), 'b2' (1,)
    """
    ### BEGIN SOLUTION
    X, h, probs = cache
    N = X.shape[0]
    dz = (probs - Y) / N  # (N, 1): sigmoid + BCE together
    dW2 = h.T @ dz  # (H, 1)
    db2 = dz.sum(axis=0)  # (1,)
    dh = dz @ params["W2"].T  # (N, H)
    da = dh * (1.0 - h ** 2)  # tanh'(a) = 1 - tanh(a)^2
    dW1 = X.T @ da  # (2, H)
    db1 = da.sum(axis=0)  # (H,)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    ### END SOLUTION


# %% [markdown] lang="en"
# ## Training and prediction
# `train` runs full-batch gradient descent from `init_params(n_hidden, seed)` using your own
# `forward` and `backward`, and records one loss per epoch (before or after that epoch's update).

# %% [markdown] lang="vi"
# ## Huấn luyện và dự đoán
# `train` chạy gradient descent trên toàn bộ dữ liệu, bắt đầu từ `init_params(n_hidden, seed)`, dùng
# chính `forward` và `backward` của bạn, và ghi lại một giá trị mất mát cho mỗi epoch (trước hoặc
# sau bước cập nhật của epoch đó).

# %%
def train(X, Y, n_hidden=4, lr=1.0, epochs=5000, seed=0):
    """Full-batch gradient descent.

    Args:
        X: array of shape (N, 2); Y: array of shape (N, 1), targets 0 or 1
        n_hidden: H; lr: learning rate; epochs: number of updates; seed: for init_params
    Returns:
        params: dict of the trained parameters (shapes as in init_params)
        losses: list of epochs floats, the training loss at each epoch
    """
    ### BEGIN SOLUTION
    params = init_params(n_hidden, seed)
    losses = []
    for _ in range(epochs):
        probs, cache = forward(params, X)
        losses.append(bce_loss(probs, Y))  # the loss just before this epoch's update
        grads = backward(params, cache, Y)
        params = {key: params[key] - lr * grads[key] for key in params}
    return params, losses
    ### END SOLUTION


def predict(params, X):
    """Class predictions.

    Args:
        params: dict of parameters; X: array of shape (N, 2)
    Returns:
        labels: int array of shape (N, 1), 1 where the probability is > 0.5, else 0
    """
    ### BEGIN SOLUTION
    probs, _ = forward(params, X)
    return (probs > 0.5).astype(int)
    ### END SOLUTION
