# %% [markdown] lang="en"
# # Exercise 3 — Optimizers: SGD, momentum, RMSprop, Adam, AdamW
#
# An optimizer turns gradients into parameter updates. You will write the four
# classic ones in numpy, with **exactly** the update rules of PyTorch's `torch.optim`
# (the grader runs them side by side with torch, in float64, for 25 steps and asks
# for a relative agreement of $10^{-9}$). Notation: parameters $\theta$, gradient
# $g_t = \nabla_\theta L(\theta_{t-1})$ at step $t = 1, 2, \dots$, learning rate $\eta$,
# weight decay $\lambda$. All operations are element-wise.
#
# **SGD with momentum** (torch's form). The velocity $v$ accumulates gradients:
# $$v_t = \mu\, v_{t-1} + g_t, \qquad \theta_t = \theta_{t-1} - \eta\, v_t, \qquad v_0 = 0 .$$
# CS231n writes it with the learning rate inside the velocity:
# $u_t = \mu\, u_{t-1} - \eta\, g_t,\ \theta_t = \theta_{t-1} + u_t$. With $u_t = -\eta v_t$
# the two are identical **while $\eta$ is constant**; with a learning-rate schedule they
# differ (torch applies the new $\eta$ to the whole velocity). With $\mu = 0$ this is
# plain SGD, $\theta_t = \theta_{t-1} - \eta g_t$.
#
# **Nesterov momentum** evaluates the step "ahead", along the updated velocity:
# $$v_t = \mu\, v_{t-1} + g_t, \qquad \theta_t = \theta_{t-1} - \eta\,(g_t + \mu\, v_t).$$
# Without momentum it means nothing, so `nesterov=True` with `momentum=0` is an error.
#
# **RMSprop** divides each coordinate by a running root-mean-square of its gradients:
# $$s_t = \alpha\, s_{t-1} + (1-\alpha)\, g_t^2, \qquad
#   \theta_t = \theta_{t-1} - \eta\,\frac{g_t}{\sqrt{s_t} + \epsilon}, \qquad s_0 = 0 .$$
#
# **Adam** keeps moving averages of the gradient (first moment) and of its square
# (second moment), both started at zero:
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2,$$
# $$\hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad
#   \theta_t = \theta_{t-1} - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$
# *Why bias correction?* Because $m_0 = v_0 = 0$, the averages are biased towards zero
# early on: if the gradients were constant, $m_t = (1-\beta_1^t)\,g$ and
# $v_t = (1-\beta_2^t)\,g^2$. Dividing by $1-\beta^t$ removes exactly this factor.
# Without it, the first step would be
# $\frac{m_1}{\sqrt{v_1}} = \frac{1-\beta_1}{\sqrt{1-\beta_2}} \approx 3.16$
# times too large for the default betas. $t$ counts the steps taken,
# **starting at 1** at the first step, the same for every parameter. $\epsilon$ is added
# to $\sqrt{\hat v_t}$, outside the square root and after the bias correction. Torch
# computes the same number as
# $\frac{\eta}{1-\beta_1^t}\, m_t \,/\, \big(\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon\big)$.
# The "efficient" form of the Adam paper,
# $\theta_t = \theta_{t-1} - \alpha_t\, m_t/(\sqrt{v_t} + \hat\epsilon)$ with
# $\alpha_t = \eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)$, is the same rule only if
# $\hat\epsilon = \epsilon\sqrt{1-\beta_2^t}$.
#
# **Weight decay: L2 versus decoupled.** `SGD`, `RMSprop` and `Adam` implement weight
# decay as an L2 penalty $\frac{\lambda}{2}\|\theta\|^2$ added to the loss, i.e. by adding
# its gradient to the gradient before anything else:
# $g_t \leftarrow g_t + \lambda\,\theta_{t-1}$. In Adam this decay term is then divided by
# $\sqrt{\hat v_t}$, so weights with large gradients are decayed less than the others.
# **AdamW** (Loshchilov & Hutter) *decouples* it: it shrinks the parameters directly,
# $\theta \leftarrow \theta\,(1 - \eta\lambda)$, and then takes a plain Adam step with the raw
# gradient $g_t$. For plain SGD the two coincide; with adaptive methods they do not.
#
# **The API.** Each optimizer is built on a dict of named numpy arrays,
# `opt = Adam(params, lr=0.1)`, and keeps it as `self.params`. `opt.step(grads)` takes a
# dict of gradients with the same keys and shapes, updates the arrays of `params`
# **in place** (`p -= ...` or `p[...] = ...`: whoever holds `params['W']` sees the new
# values), leaves `grads` unchanged and returns `None`. The state (velocity, moments,
# step count) is kept **per parameter name**: two parameters never share a buffer.

# %% [markdown] lang="vi"
# # Bài 3 — Các bộ tối ưu: SGD, động lượng, RMSprop, Adam, AdamW
#
# Bộ tối ưu biến gradient thành bước cập nhật tham số. Bạn sẽ viết bốn bộ tối ưu
# kinh điển bằng numpy, với quy tắc cập nhật **giống hệt** các lớp của `torch.optim`
# trong PyTorch (bộ chấm chạy song song với torch, ở float64, trong 25 bước và đòi hỏi
# sai lệch tương đối không quá $10^{-9}$). Ký hiệu: tham số $\theta$, gradient
# $g_t = \nabla_\theta L(\theta_{t-1})$ ở bước $t = 1, 2, \dots$, tốc độ học $\eta$,
# hệ số suy giảm trọng số $\lambda$. Mọi phép toán đều thực hiện theo từng phần tử.
#
# **SGD với động lượng** (dạng của torch). Vận tốc $v$ tích luỹ các gradient:
# $$v_t = \mu\, v_{t-1} + g_t, \qquad \theta_t = \theta_{t-1} - \eta\, v_t, \qquad v_0 = 0 .$$
# CS231n viết tốc độ học vào trong vận tốc:
# $u_t = \mu\, u_{t-1} - \eta\, g_t,\ \theta_t = \theta_{t-1} + u_t$. Với $u_t = -\eta v_t$, hai
# cách viết trùng nhau **khi $\eta$ không đổi**; nếu tốc độ học thay đổi theo lịch thì
# chúng khác nhau (torch áp $\eta$ mới cho toàn bộ vận tốc). Với $\mu = 0$ ta có SGD
# thuần tuý, $\theta_t = \theta_{t-1} - \eta g_t$.
#
# **Động lượng Nesterov** tính bước đi "nhìn trước", theo vận tốc đã cập nhật:
# $$v_t = \mu\, v_{t-1} + g_t, \qquad \theta_t = \theta_{t-1} - \eta\,(g_t + \mu\, v_t).$$
# Không có động lượng thì Nesterov vô nghĩa, nên `nesterov=True` với `momentum=0` là lỗi.
#
# **RMSprop** chia mỗi toạ độ cho căn bậc hai của trung bình trượt các bình phương gradient:
# $$s_t = \alpha\, s_{t-1} + (1-\alpha)\, g_t^2, \qquad
#   \theta_t = \theta_{t-1} - \eta\,\frac{g_t}{\sqrt{s_t} + \epsilon}, \qquad s_0 = 0 .$$
#
# **Adam** giữ trung bình động hàm mũ của gradient (mô-men bậc một) và của bình phương
# gradient (mô-men bậc hai), cả hai khởi tạo bằng 0:
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2,$$
# $$\hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad
#   \theta_t = \theta_{t-1} - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$
# *Vì sao cần hiệu chỉnh độ lệch?* Vì $m_0 = v_0 = 0$ nên trong những bước đầu các trung
# bình bị kéo về 0: nếu gradient không đổi thì $m_t = (1-\beta_1^t)\,g$ và
# $v_t = (1-\beta_2^t)\,g^2$. Chia cho $1-\beta^t$ loại bỏ đúng hệ số này. Nếu không hiệu
# chỉnh, bước đầu tiên sẽ là
# $\frac{m_1}{\sqrt{v_1}} = \frac{1-\beta_1}{\sqrt{1-\beta_2}} \approx 3{,}16$
# lần quá lớn với các beta mặc định. $t$ đếm số bước đã đi, **bắt đầu từ 1** ở bước đầu
# tiên, và như nhau cho mọi tham số. $\epsilon$ được cộng vào $\sqrt{\hat v_t}$, nằm ngoài
# căn bậc hai và sau khi hiệu chỉnh độ lệch. Torch tính cùng con số đó dưới dạng
# $\frac{\eta}{1-\beta_1^t}\, m_t \,/\, \big(\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon\big)$.
# Dạng "hiệu quả" trong bài báo Adam,
# $\theta_t = \theta_{t-1} - \alpha_t\, m_t/(\sqrt{v_t} + \hat\epsilon)$ với
# $\alpha_t = \eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)$, chỉ là cùng một quy tắc khi
# $\hat\epsilon = \epsilon\sqrt{1-\beta_2^t}$.
#
# **Suy giảm trọng số: L2 hay tách rời.** `SGD`, `RMSprop` và `Adam` hiện thực suy giảm
# trọng số như một số hạng phạt L2 $\frac{\lambda}{2}\|\theta\|^2$ cộng vào hàm mất mát, tức là
# cộng đạo hàm của nó vào gradient trước mọi bước khác:
# $g_t \leftarrow g_t + \lambda\,\theta_{t-1}$. Trong Adam, số hạng suy giảm này sau đó bị
# chia cho $\sqrt{\hat v_t}$, nên các trọng số có gradient lớn bị suy giảm ít hơn các trọng
# số khác. **AdamW** (Loshchilov & Hutter) *tách rời* nó: thu nhỏ trực tiếp tham số,
# $\theta \leftarrow \theta\,(1 - \eta\lambda)$, rồi đi một bước Adam bình thường với gradient
# gốc $g_t$. Với SGD thuần tuý hai cách là một; với các phương pháp thích nghi thì không.
#
# **Giao diện.** Mỗi bộ tối ưu được tạo từ một dict các mảng numpy có tên,
# `opt = Adam(params, lr=0.1)`, và giữ nó trong `self.params`. `opt.step(grads)` nhận một
# dict gradient cùng khoá và cùng kích thước, cập nhật **tại chỗ** các mảng của `params`
# (`p -= ...` hoặc `p[...] = ...`: ai đang giữ `params['W']` cũng thấy giá trị mới),
# không sửa `grads` và trả về `None`. Trạng thái (vận tốc, các mô-men, số bước) được
# lưu **theo tên từng tham số**: hai tham số không bao giờ dùng chung một bộ đệm.

# %%
import numpy as np

# %% [markdown] lang="en"
# ## SGD, with momentum and Nesterov
# Keep one velocity array per parameter name. Weight decay is added to the gradient
# first ($g \leftarrow g + \lambda\theta$), and that gradient feeds the velocity.

# %% [markdown] lang="vi"
# ## SGD, có động lượng và Nesterov
# Giữ một mảng vận tốc cho mỗi tên tham số. Suy giảm trọng số được cộng vào gradient
# trước tiên ($g \leftarrow g + \lambda\theta$), rồi gradient đó mới đi vào vận tốc.

# %%
class SGD:
    """Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD.

    Args:
        params: dict name -> float64 array of any shape; updated in place by step().
        lr: learning rate eta.
        momentum: mu; 0 means plain SGD.
        weight_decay: lambda of the L2 penalty; lambda * p is added to the gradient.
        nesterov: use Nesterov momentum (requires momentum > 0, else ValueError).
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0, nesterov=False):
        self.params = params
        self.lr, self.momentum = lr, momentum
        self.weight_decay, self.nesterov = weight_decay, nesterov
        ### BEGIN SOLUTION
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum requires a momentum > 0")
        self.state = {name: {"velocity": np.zeros_like(p)} for name, p in params.items()}
        ### END SOLUTION

    def step(self, grads):
        """One update of every parameter.

        Args:
            grads: dict with the keys of self.params; grads[name] has the shape of
                params[name]. Not modified.
        Returns:
            None (the arrays of self.params are updated in place).
        """
        ### BEGIN SOLUTION
        for name, p in self.params.items():
            g = grads[name]
            if self.weight_decay != 0:
                g = g + self.weight_decay * p  # a new array: grads stays untouched
            if self.momentum != 0:
                v = self.state[name]["velocity"]
                v *= self.momentum
                v += g
                g = g + self.momentum * v if self.nesterov else v
            p -= self.lr * g
        ### END SOLUTION


# %% [markdown] lang="en"
# ## RMSprop
# The running average $s$ starts at zero; $\epsilon$ goes outside the square root.

# %% [markdown] lang="vi"
# ## RMSprop
# Trung bình trượt $s$ bắt đầu từ 0; $\epsilon$ nằm ngoài căn bậc hai.

# %%
class RMSprop:
    """RMSprop, as torch.optim.RMSprop (not centered, no momentum).

    Args:
        params: dict name -> float64 array of any shape; updated in place by step().
        lr: learning rate eta.
        alpha: smoothing constant of the running average of squared gradients.
        eps: added to the square root of the running average.
        weight_decay: lambda of the L2 penalty; lambda * p is added to the gradient.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0):
        self.params = params
        self.lr, self.alpha, self.eps, self.weight_decay = lr, alpha, eps, weight_decay
        ### BEGIN SOLUTION
        self.state = {name: {"square_avg": np.zeros_like(p)} for name, p in params.items()}
        ### END SOLUTION

    def step(self, grads):
        """One update of every parameter.

        Args:
            grads: dict with the keys of self.params; grads[name] has the shape of
                params[name]. Not modified.
        Returns:
            None (the arrays of self.params are updated in place).
        """
        ### BEGIN SOLUTION
        for name, p in self.params.items():
            g = grads[name]
            if self.weight_decay != 0:
                g = g + self.weight_decay * p
            s = self.state[name]["square_avg"]
            s[...] = self.alpha * s + (1 - self.alpha) * g * g
            p -= self.lr * g / (np.sqrt(s) + self.eps)
        ### END SOLUTION


# %% [markdown] lang="en"
# ## Adam
# Each parameter keeps $m$, $v$ (uncorrected) and its step count $t$, which is 1 at
# the first step. Bias-correct fresh copies, $\hat m$ and $\hat v$, at every step.

# %% [markdown] lang="vi"
# ## Adam
# Mỗi tham số giữ $m$, $v$ (chưa hiệu chỉnh) và số bước $t$ của nó, bằng 1 ở bước đầu
# tiên. Mỗi bước tính mới các bản đã hiệu chỉnh $\hat m$ và $\hat v$.

# %%
class Adam:
    """Adam with L2 weight decay, as torch.optim.Adam (amsgrad=False).

    Args:
        params: dict name -> float64 array of any shape; updated in place by step().
        lr: learning rate eta.
        betas: (beta1, beta2), decay rates of the first and second moment averages.
        eps: added to sqrt(v_hat), after bias correction.
        weight_decay: lambda of the L2 penalty; lambda * p is added to the gradient.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = params
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        ### BEGIN SOLUTION
        self.state = {name: {"t": 0, "m": np.zeros_like(p), "v": np.zeros_like(p)}
                      for name, p in params.items()}
        ### END SOLUTION

    def step(self, grads):
        """One update of every parameter.

        Args:
            grads: dict with the keys of self.params; grads[name] has the shape of
                params[name]. Not modified.
        Returns:
            None (the arrays of self.params are updated in place).
        """
        ### BEGIN SOLUTION
        beta1, beta2 = self.betas
        for name, p in self.params.items():
            g = grads[name]
            if self.weight_decay != 0:
                g = g + self.weight_decay * p
            state = self.state[name]
            state["t"] += 1
            t = state["t"]
            state["m"] = beta1 * state["m"] + (1 - beta1) * g
            state["v"] = beta2 * state["v"] + (1 - beta2) * g * g
            m_hat = state["m"] / (1 - beta1 ** t)
            v_hat = state["v"] / (1 - beta2 ** t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        ### END SOLUTION


# %% [markdown] lang="en"
# ## AdamW
# First decay the parameters, $\theta \leftarrow \theta(1-\eta\lambda)$, then take an Adam step
# with the raw gradient. (This reference writes the Adam step the way torch does,
# $\frac{\eta}{1-\beta_1^t}\, m / (\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon)$: the same numbers.)

# %% [markdown] lang="vi"
# ## AdamW
# Trước hết suy giảm tham số, $\theta \leftarrow \theta(1-\eta\lambda)$, rồi đi một bước Adam với
# gradient gốc. (Lời giải mẫu này viết bước Adam theo cách của torch,
# $\frac{\eta}{1-\beta_1^t}\, m / (\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon)$: cùng những con số.)

# %%
class AdamW:
    """Adam with decoupled weight decay, as torch.optim.AdamW (amsgrad=False).

    Args:
        params: dict name -> float64 array of any shape; updated in place by step().
        lr: learning rate eta.
        betas: (beta1, beta2), decay rates of the first and second moment averages.
        eps: added to sqrt(v_hat), after bias correction.
        weight_decay: lambda; each step starts with p *= 1 - lr * lambda.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        self.params = params
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        ### BEGIN SOLUTION
        self.t = 0  # one step count for the optimizer: every parameter is stepped each time
        self.exp_avg = {name: np.zeros_like(p) for name, p in params.items()}
        self.exp_avg_sq = {name: np.zeros_like(p) for name, p in params.items()}
        ### END SOLUTION

    def step(self, grads):
        """One update of every parameter.

        Args:
            grads: dict with the keys of self.params; grads[name] has the shape of
                params[name]. Not modified.
        Returns:
            None (the arrays of self.params are updated in place).
        """
        ### BEGIN SOLUTION
        self.t += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1 - beta1 ** self.t)
        bias_correction2_sqrt = np.sqrt(1 - beta2 ** self.t)
        for name, p in self.params.items():
            g = grads[name]
            p *= 1 - self.lr * self.weight_decay
            exp_avg, exp_avg_sq = self.exp_avg[name], self.exp_avg_sq[name]
            exp_avg *= beta1
            exp_avg += (1 - beta1) * g
            exp_avg_sq *= beta2
            exp_avg_sq += (1 - beta2) * g ** 2
            denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + self.eps
            p -= step_size * exp_avg / denom
        ### END SOLUTION
