# GENERATED from solutions/backprop.py by `autograder stubs`: do not edit this header or the
# code outside YOUR CODE HERE. / Tệp sinh tự động từ solutions/backprop.py.
# Replace each `raise NotImplementedError` with your code, then check it with
# / Hãy thay mỗi `raise NotImplementedError` bằng code của bạn rồi kiểm tra bằng:
#     python -m pytest graders/test_backprop.py
# %% [markdown] lang="en"
# # Exercise 1 — Backpropagation by hand
#
# A neural network is a composition of simple functions. Drawn as a **computational
# graph**, every node takes some inputs, produces an output and knows its **local
# gradient**: how its output changes when its inputs change. Backpropagation walks the
# graph from the loss $L$ back to every input and parameter with the **chain rule**: if
# $L$ depends on $x$ only through $y = f(x)$, then
# $$\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\,\frac{\partial y}{\partial x}
# \qquad\text{(upstream gradient} \times \text{local gradient).}$$
# When $x$ feeds several nodes, the contributions of all paths are **added**.
#
# So every layer here is a pair of functions:
# - `*_forward(inputs)` returns the output and a `cache`: whatever the backward pass needs;
# - `*_backward(dout, cache)` receives `dout` $= \partial L/\partial\,\text{out}$ (the shape
#   of `out`) and returns the gradient with respect to each input, **with the shape of that
#   input**: `dx` always means $\partial L/\partial x$.
#
# Notation: `N` examples in a batch, `D` input features, `M` outputs, `C` classes.
# Rules: numpy only; never modify an input array (work on new arrays); a loss may be
# returned as a Python float or a numpy scalar. The grader compares your gradients with
# numerical ones (centred differences) on random inputs of non-square shapes.

# %% [markdown] lang="vi"
# # Bài 1 — Lan truyền ngược bằng tay
#
# Mạng nơ-ron là hợp của nhiều hàm đơn giản. Khi vẽ thành **đồ thị tính toán**, mỗi nút
# nhận vài đầu vào, cho ra một đầu ra và biết **gradient cục bộ** của mình: đầu ra thay
# đổi thế nào khi đầu vào thay đổi. Lan truyền ngược (backpropagation) đi ngược đồ thị từ
# hàm mất mát $L$ về từng đầu vào và tham số bằng **quy tắc dây chuyền**: nếu $L$ chỉ phụ
# thuộc vào $x$ thông qua $y = f(x)$ thì
# $$\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\,\frac{\partial y}{\partial x}
# \qquad\text{(gradient từ phía trên} \times \text{gradient cục bộ).}$$
# Khi $x$ đi vào nhiều nút, đóng góp của mọi nhánh được **cộng lại**.
#
# Vì vậy mỗi lớp ở đây là một cặp hàm:
# - `*_forward(inputs)` trả về đầu ra và một `cache`: những gì bước lan truyền ngược cần;
# - `*_backward(dout, cache)` nhận `dout` $= \partial L/\partial\,\text{out}$ (cùng kích thước
#   với `out`) và trả về gradient theo từng đầu vào, **cùng kích thước với đầu vào đó**:
#   `dx` luôn có nghĩa là $\partial L/\partial x$.
#
# Ký hiệu: `N` mẫu trong một batch, `D` đặc trưng đầu vào, `M` đầu ra, `C` lớp.
# Quy tắc: chỉ dùng numpy; không bao giờ sửa mảng đầu vào (hãy tạo mảng mới); hàm mất mát
# có thể trả về số thực Python hoặc số vô hướng numpy. Bộ chấm so sánh gradient của bạn với
# gradient số (sai phân trung tâm) trên các đầu vào ngẫu nhiên có kích thước không vuông.

# %%
import numpy as np

# %% [markdown] lang="en"
# ## 1. Affine (fully connected) layer
#
# $\text{out}_{nm} = \sum_d x_{nd} W_{dm} + b_m$, i.e. `out = x @ w + b`. The weight
# $W_{dm}$ is used by **every** example of the batch, so its gradient sums over the batch:
# $$\frac{\partial L}{\partial W_{dm}} = \sum_n x_{nd}\,\text{dout}_{nm}
# \;\Longrightarrow\; dW = x^\top\,\text{dout}\ (D\times M),\qquad
# dx = \text{dout}\,W^\top\ (N\times D),\qquad db = \textstyle\sum_n \text{dout}_{n,:}\ (M).$$
# Shapes are a good guide: the only product of `x` (N, D) and `dout` (N, M) that has the
# shape (D, M) of `w` is `x.T @ dout`.

# %% [markdown] lang="vi"
# ## 1. Lớp affine (kết nối đầy đủ)
#
# $\text{out}_{nm} = \sum_d x_{nd} W_{dm} + b_m$, tức là `out = x @ w + b`. Trọng số
# $W_{dm}$ được dùng bởi **mọi** mẫu trong batch nên gradient của nó là tổng trên cả batch:
# $$\frac{\partial L}{\partial W_{dm}} = \sum_n x_{nd}\,\text{dout}_{nm}
# \;\Longrightarrow\; dW = x^\top\,\text{dout}\ (D\times M),\qquad
# dx = \text{dout}\,W^\top\ (N\times D),\qquad db = \textstyle\sum_n \text{dout}_{n,:}\ (M).$$
# Hãy để kích thước dẫn đường: tích duy nhất của `x` (N, D) và `dout` (N, M) có kích thước
# (D, M) như `w` là `x.T @ dout`.


# %%
def affine_forward(x, w, b):
    """Affine (fully connected) layer: out = x @ w + b.

    Args:
        x: array of shape (N, D), the inputs
        w: array of shape (D, M), the weights
        b: array of shape (M,), the biases
    Returns:
        out: array of shape (N, M)
        cache: what affine_backward needs (your choice, e.g. (x, w))
    """
    # YOUR CODE HERE
    raise NotImplementedError
    return out, cache


# %%
def affine_backward(dout, cache):
    """Backward pass of the affine layer.

    Args:
        dout: array of shape (N, M), the upstream gradient dL/dout
        cache: what affine_forward returned
    Returns:
        dx: array of shape (N, D), dL/dx
        dw: array of shape (D, M), dL/dw
        db: array of shape (M,), dL/db
    """
    # YOUR CODE HERE
    raise NotImplementedError
    return dx, dw, db


# %% [markdown] lang="en"
# ## 2. Activations: ReLU, sigmoid, tanh
#
# They act element-wise, so the backward pass is `dx = dout * local_gradient`.
# - **ReLU** $\max(0, x)$: local gradient 1 where $x > 0$, else 0 (at the kink $x = 0$ we
#   choose the subgradient 0). Build the output with `np.maximum`, not `x[x < 0] = 0`,
#   which would modify the caller's array.
# - **Sigmoid** $\sigma(x) = 1/(1 + e^{-x})$ has $\sigma'(x) = \sigma(x)\,(1 - \sigma(x))$:
#   keep the *output* in the cache. Numerical stability: for $x = -1000$, $e^{-x}$ overflows
#   (inf and a RuntimeWarning). Use $z = e^{-|x|} \in (0, 1]$, which never overflows:
#   $\sigma(x) = 1/(1+z)$ for $x \ge 0$ and $z/(1+z)$ for $x < 0$. Beware that
#   `np.where(c, a, b)` computes both `a` and `b` everywhere.
# - **tanh** has $\tanh'(x) = 1 - \tanh^2(x)$: again, cache the output. `np.tanh` is stable.

# %% [markdown] lang="vi"
# ## 2. Hàm kích hoạt: ReLU, sigmoid, tanh
#
# Chúng tác động lên từng phần tử, nên bước lan truyền ngược là `dx = dout * đạo_hàm_cục_bộ`.
# - **ReLU** $\max(0, x)$: đạo hàm cục bộ bằng 1 khi $x > 0$, bằng 0 khi ngược lại (tại điểm
#   gãy $x = 0$ ta chọn đạo hàm dưới bằng 0). Hãy tạo đầu ra bằng `np.maximum`, đừng dùng
#   `x[x < 0] = 0` vì nó sửa luôn mảng của người gọi.
# - **Sigmoid** $\sigma(x) = 1/(1 + e^{-x})$ có $\sigma'(x) = \sigma(x)\,(1 - \sigma(x))$:
#   hãy lưu *đầu ra* vào cache. Ổn định số: với $x = -1000$, $e^{-x}$ bị tràn số (ra inf kèm
#   RuntimeWarning). Hãy dùng $z = e^{-|x|} \in (0, 1]$, không bao giờ tràn:
#   $\sigma(x) = 1/(1+z)$ khi $x \ge 0$ và $z/(1+z)$ khi $x < 0$. Chú ý `np.where(c, a, b)`
#   tính cả `a` lẫn `b` ở mọi phần tử.
# - **tanh** có $\tanh'(x) = 1 - \tanh^2(x)$: cũng lưu đầu ra vào cache. `np.tanh` ổn định sẵn.


# %%
def relu_forward(x):
    """ReLU: out = max(0, x), element-wise.

    Args:
        x: array of any shape
    Returns:
        out: array of the shape of x
        cache: what relu_backward needs
    """
    # YOUR CODE HERE
    raise NotImplementedError
    return out, cache


# %%
def relu_backward(dout, cache):
    """Backward pass of ReLU (subgradient 0 where x <= 0).

    Args:
        dout: array of the shape of x, the upstream gradient
        cache: what relu_forward returned
    Returns:
        dx: array of the shape of x
    """
    # YOUR CODE HERE
    raise NotImplementedError
    return dx


# %%
def sigmoid_forward(x):
    """Sigmoid: out = 1 / (1 + exp(-x)), element-wise, without overflow for any finite x.

    Args:
        x: array of any shape
    Returns:
        out: array of the shape of x, values in [0, 1]
        cache: what sigmoid_backward needs
    """
    # YOUR CODE HERE
    raise NotImplementedError
    return out, cache


# %%
def sigmoid_backward(dout, cache):
    """Backward pass of the sigmoid.

    Args:
        dout: array of the shape of x, the upstream gradient
        cache: what sigmoid_forward returned
    Returns:
        dx: array of the shape of x
    """
    # YOUR CODE HERE
    raise NotImplementedError
    return dx


# %%
def tanh_forward(x):
    """Hyperbolic tangent, element-wise.

    Args:
        x: array of any shape
    Returns:
        out: array of the shape of x, values in [-1, 1]
        cache: what tanh_backward needs
    """
    # YOUR CODE HERE
    raise NotImplementedError
    return out, cache


# %%
def tanh_backward(dout, cache):
    """Backward pass of tanh.

    Args:
        dout: array of the shape of x, the upstream gradient
        cache: what tanh_forward returned
    Returns:
        dx: array of the shape of x
    """
    # YOUR CODE HERE
    raise NotImplementedError
    return dx


# %% [markdown] lang="en"
# ## 3. Losses
#
# **Softmax cross-entropy.** $p_{ic} = e^{s_{ic}} / \sum_k e^{s_{ik}}$ and
# $L = -\frac{1}{N}\sum_i \log p_{i, y_i}$. Its gradient is
# $$\frac{\partial L}{\partial s_{ic}} = \frac{1}{N}\left(p_{ic} - [c = y_i]\right).$$
# Why $\frac1N$? The loss is a **mean** over the batch: each example contributes
# $\frac1N$ of its own gradient (so the size of the gradient does not grow with the batch).
#
# Stability: softmax does not change if a constant is subtracted from a row. Subtract the row
# maximum: every exponent is then $\le 0$ (no overflow) and the largest term is $e^0 = 1$, so
# the sum is $\ge 1$ and its log is finite. Compute the log-probabilities directly,
# $\log p_{ic} = \tilde s_{ic} - \log\sum_k e^{\tilde s_{ik}}$ (log-sum-exp), rather than
# `np.log(p)`, which is $-\infty$ as soon as a probability underflows to 0: the loss must stay
# finite for scores up to $\pm 10^4$.
#
# **Mean squared error** over all $K$ elements: $L = \frac1K\sum (\text{pred} -
# \text{target})^2$, so $d\,\text{pred} = \frac{2}{K}(\text{pred} - \text{target})$.

# %% [markdown] lang="vi"
# ## 3. Hàm mất mát
#
# **Softmax cross-entropy.** $p_{ic} = e^{s_{ic}} / \sum_k e^{s_{ik}}$ và
# $L = -\frac{1}{N}\sum_i \log p_{i, y_i}$. Gradient của nó là
# $$\frac{\partial L}{\partial s_{ic}} = \frac{1}{N}\left(p_{ic} - [c = y_i]\right).$$
# Vì sao có $\frac1N$? Hàm mất mát là **trung bình** trên batch: mỗi mẫu đóng góp $\frac1N$
# gradient của riêng nó (nhờ vậy độ lớn gradient không tăng theo kích thước batch).
#
# Ổn định số: softmax không đổi khi trừ cùng một hằng số trên một hàng. Hãy trừ giá trị lớn
# nhất của hàng: khi đó mọi số mũ đều $\le 0$ (không tràn số) và số hạng lớn nhất là
# $e^0 = 1$, nên tổng $\ge 1$ và log của nó hữu hạn. Hãy tính trực tiếp log-xác suất,
# $\log p_{ic} = \tilde s_{ic} - \log\sum_k e^{\tilde s_{ik}}$ (log-sum-exp), thay vì
# `np.log(p)`, vốn bằng $-\infty$ ngay khi một xác suất bị làm tròn về 0: hàm mất mát phải
# hữu hạn với điểm số (score) tới $\pm 10^4$.
#
# **Sai số bình phương trung bình** trên toàn bộ $K$ phần tử: $L = \frac1K\sum
# (\text{pred} - \text{target})^2$, nên $d\,\text{pred} = \frac{2}{K}(\text{pred} - \text{target})$.


# %%
def softmax_cross_entropy(scores, y):
    """Mean softmax cross-entropy loss and its gradient.

    Args:
        scores: array of shape (N, C), unnormalised class scores
        y: integer array of shape (N,), labels with 0 <= y[i] < C (any integer dtype)
    Returns:
        loss: float, mean over the N examples of -log softmax(scores)[i, y[i]];
            finite for scores up to +-1e4
        dscores: array of shape (N, C), dL/dscores
    """
    # YOUR CODE HERE
    raise NotImplementedError
    return loss, dscores


# %%
def mse_loss(pred, target):
    """Mean squared error over all elements, and its gradient.

    Args:
        pred: array of any shape
        target: array of the shape of pred
    Returns:
        loss: float, mean of (pred - target)**2 over all elements
        dpred: array of the shape of pred, dL/dpred
    """
    # YOUR CODE HERE
    raise NotImplementedError
    return loss, dpred


# %% [markdown] lang="en"
# ## 4. A two-layer network
#
# `X → affine(W1, b1) → ReLU → affine(W2, b2) → softmax cross-entropy`, plus L2
# regularisation of the weights (not the biases): $L \mathrel{+}= \frac{\text{reg}}{2}
# \left(\sum W_1^2 + \sum W_2^2\right)$, whose gradient is $\text{reg}\cdot W$ (the
# $\frac12$ cancels the 2). The forward pass stores the caches; the backward pass visits the
# layers in reverse order, each backward function turning the gradient of its output into
# the gradients of its inputs. Reuse the functions above.

# %% [markdown] lang="vi"
# ## 4. Mạng hai lớp
#
# `X → affine(W1, b1) → ReLU → affine(W2, b2) → softmax cross-entropy`, cộng thêm điều chuẩn
# hoá L2 cho trọng số (không áp dụng cho bias): $L \mathrel{+}= \frac{\text{reg}}{2}
# \left(\sum W_1^2 + \sum W_2^2\right)$, có gradient là $\text{reg}\cdot W$ (hệ số
# $\frac12$ triệt tiêu số 2). Bước lan truyền xuôi lưu các cache; bước lan truyền ngược đi qua
# các lớp theo thứ tự ngược lại, mỗi hàm backward biến gradient theo đầu ra của nó thành
# gradient theo các đầu vào. Hãy dùng lại các hàm ở trên.


# %%
def two_layer_net(params, X, y, reg=0.0):
    """Loss and gradients of a two-layer network: affine - ReLU - affine - softmax.

    Args:
        params: dict with 'W1' (D, H), 'b1' (H,), 'W2' (H, C), 'b2' (C,); not modified
        X: array of shape (N, D), the inputs
        y: integer array of shape (N,), labels in [0, C)
        reg: L2 strength; the loss includes 0.5 * reg * (sum(W1**2) + sum(W2**2))
    Returns:
        loss: float, the mean cross-entropy plus the regularisation term
        grads: dict with the keys of params, each gradient with its parameter's shape
    """
    # YOUR CODE HERE
    raise NotImplementedError
    return loss, grads
