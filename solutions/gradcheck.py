# %% [markdown] lang="en"
# # Exercise 2 — Gradient checking
#
# Backpropagation code is easy to get *almost* right: a missing transpose, a forgotten
# $1/N$, a wrong sign. Such bugs do not crash; the network just learns badly. A
# **gradient check** compares the analytic gradient computed by your backward pass with a
# numerical estimate built from values of the function alone (forward passes). In this
# exercise you write these tools; the rest of the course relies on them.
#
# ## Derivatives from function values
#
# For $f:\mathbb{R}\to\mathbb{R}$, $f'(x) = \lim_{h\to 0} \frac{f(x+h)-f(x)}{h}$. A
# computer cannot take the limit, so we use a small $h$. By Taylor's theorem
# $$f(x \pm h) = f(x) \pm h f'(x) + \tfrac{h^2}{2} f''(x) \pm \tfrac{h^3}{6} f'''(x) + O(h^4).$$
# The **one-sided** (forward) difference keeps an error of order $h$:
# $$\frac{f(x+h)-f(x)}{h} = f'(x) + \tfrac{h}{2} f''(x) + O(h^2),$$
# while in the **centred** difference the even terms cancel, leaving an error of order $h^2$:
# $$\frac{f(x+h)-f(x-h)}{2h} = f'(x) + \tfrac{h^2}{6} f'''(x) + O(h^4).$$
# With $h = 10^{-5}$ the one-sided error is about $10^{-5}$ (as large as the bugs we hunt),
# the centred one about $10^{-10}$. Always use centred differences.
#
# For an array $x$ of any shape, the partial derivative with respect to one element $x_i$
# moves only that element: $\frac{f(x + h e_i) - f(x - h e_i)}{2h}$, where $e_i$ is 1 at
# position $i$ and 0 elsewhere. That is two evaluations of $f$ per element.
#
# ## Choosing $h$
#
# A smaller $h$ shrinks the truncation error $h^2 |f'''| / 6$, but float64 stores numbers
# with a relative precision $\epsilon \approx 1.1 \times 10^{-16}$: each $f(x \pm h)$ carries
# a rounding error of about $\epsilon |f(x)|$, and dividing their difference by $2h$ blows it
# up to about $\epsilon |f| / h$. The total $h^2 |f'''| / 6 + \epsilon |f| / h$ is smallest
# near $h \approx \epsilon^{1/3} \approx 10^{-5}$ (for values of order 1): hence the default
# `h=1e-5`. With $h = 10^{-10}$ rounding dominates and the estimate is noise; with
# $h = 10^{-2}$ truncation dominates. It is also why everything stays float64: in float32
# ($\epsilon \approx 6 \times 10^{-8}$) the number $x + 10^{-5}$ itself is off by up to 1% of $h$.
#
# ## Relative error
#
# An absolute difference means nothing without a scale: $10^{-4}$ is alarming for
# gradients of order $10^{-3}$ and excellent for gradients of order $10^4$. We compare
# $$\mathrm{rel}(a, b) = \max_i \frac{|a_i - b_i|}{\max(\varepsilon, |a_i| + |b_i|)},$$
# symmetric in $a$ and $b$; $\varepsilon = 10^{-8}$ avoids $0/0$ where both are zero (the error
# is then 0). Rules of thumb in float64 with centred differences and $h = 10^{-5}$:
#
# | relative error | meaning |
# |---|---|
# | below $10^{-7}$ | the gradient is correct |
# | $10^{-7}$ to $10^{-4}$ | suspicious; acceptable near kinks (ReLU at 0, max) or in deep nets |
# | $10^{-4}$ to $10^{-2}$ | probably wrong, unless the function has kinks |
# | above $10^{-2}$ | wrong |
#
# ## Sparse checks
#
# A full numerical gradient costs two evaluations of $f$ per parameter: a million
# parameters means two million forward passes. In practice we check a few coordinates
# drawn at random (`gradient_check`). A gradient bug usually spoils most entries, so about
# ten random coordinates are enough to expose it.
#
# ## Leave `x` as you found it
#
# The cheapest way is to perturb `x` in place: set `x[i] = old + h`, evaluate, set
# `x[i] = old - h`, evaluate, then put back **the saved value** `x[i] = old`. Do not undo
# with `x[i] += h`: floating-point arithmetic is not exactly reversible, e.g.
# `((0.1 + h) - 2*h) + h` gives `0.09999999999999999`. A checker that leaves the
# parameters slightly changed corrupts the very model it checks; `x` belongs to the
# caller. Passing `f` perturbed copies of `x` instead is also fine (simpler, slower).

# %% [markdown] lang="vi"
# # Bài 2 — Kiểm tra gradient
#
# Code lan truyền ngược rất dễ viết *gần đúng*: thiếu một phép chuyển vị, quên chia cho
# $N$, sai một dấu. Những lỗi này không làm chương trình dừng lại; mạng chỉ học kém đi.
# **Kiểm tra gradient** (gradient checking) so sánh gradient giải tích do hàm backward của
# bạn tính với một ước lượng số chỉ dựa vào giá trị của hàm (các lượt truyền xuôi). Trong
# bài này bạn viết các công cụ đó; các bài sau đều dựa vào chúng.
#
# ## Đạo hàm từ giá trị của hàm
#
# Với $f:\mathbb{R}\to\mathbb{R}$, $f'(x) = \lim_{h\to 0} \frac{f(x+h)-f(x)}{h}$. Máy tính
# không lấy giới hạn được, nên ta dùng một $h$ nhỏ. Theo khai triển Taylor
# $$f(x \pm h) = f(x) \pm h f'(x) + \tfrac{h^2}{2} f''(x) \pm \tfrac{h^3}{6} f'''(x) + O(h^4).$$
# **Sai phân một phía** (sai phân tiến) còn sai số bậc $h$:
# $$\frac{f(x+h)-f(x)}{h} = f'(x) + \tfrac{h}{2} f''(x) + O(h^2),$$
# còn trong **sai phân trung tâm** các số hạng bậc chẵn triệt tiêu nhau, sai số chỉ còn bậc $h^2$:
# $$\frac{f(x+h)-f(x-h)}{2h} = f'(x) + \tfrac{h^2}{6} f'''(x) + O(h^4).$$
# Với $h = 10^{-5}$, sai số một phía cỡ $10^{-5}$ (lớn ngang những lỗi ta cần tìm), còn sai
# số trung tâm cỡ $10^{-10}$. Hãy luôn dùng sai phân trung tâm.
#
# Với mảng $x$ có kích thước bất kỳ, đạo hàm riêng theo một phần tử $x_i$ chỉ dịch chuyển
# đúng phần tử đó: $\frac{f(x + h e_i) - f(x - h e_i)}{2h}$, trong đó $e_i$ bằng 1 tại vị trí
# $i$ và bằng 0 ở mọi chỗ khác. Mỗi phần tử cần hai lần tính $f$.
#
# ## Chọn $h$
#
# $h$ nhỏ hơn thì sai số cắt cụt $h^2 |f'''| / 6$ giảm, nhưng float64 chỉ lưu số với độ
# chính xác tương đối $\epsilon \approx 1.1 \times 10^{-16}$: mỗi giá trị $f(x \pm h)$ mang sai
# số làm tròn cỡ $\epsilon |f(x)|$, và khi chia hiệu của chúng cho $2h$, sai số này phóng to
# thành cỡ $\epsilon |f| / h$. Tổng $h^2 |f'''| / 6 + \epsilon |f| / h$ nhỏ nhất khi
# $h \approx \epsilon^{1/3} \approx 10^{-5}$ (với các giá trị cỡ 1): vì thế mặc định là
# `h=1e-5`. Với $h = 10^{-10}$, sai số làm tròn lấn át và ước lượng chỉ còn là nhiễu; với
# $h = 10^{-2}$, sai số cắt cụt lấn át. Đó cũng là lý do mọi phép tính phải giữ ở float64:
# trong float32 ($\epsilon \approx 6 \times 10^{-8}$), bản thân số $x + 10^{-5}$ đã có thể lệch
# tới 1% của $h$.
#
# ## Sai số tương đối
#
# Hiệu tuyệt đối không nói lên điều gì nếu thiếu thang đo: $10^{-4}$ là đáng lo với gradient
# cỡ $10^{-3}$ nhưng rất tốt với gradient cỡ $10^4$. Ta so sánh bằng
# $$\mathrm{rel}(a, b) = \max_i \frac{|a_i - b_i|}{\max(\varepsilon, |a_i| + |b_i|)},$$
# đối xứng theo $a$ và $b$; $\varepsilon = 10^{-8}$ tránh phép chia $0/0$ khi cả hai đều bằng 0
# (khi đó sai số bằng 0). Kinh nghiệm với float64, sai phân trung tâm và $h = 10^{-5}$:
#
# | sai số tương đối | ý nghĩa |
# |---|---|
# | dưới $10^{-7}$ | gradient đúng |
# | $10^{-7}$ đến $10^{-4}$ | đáng ngờ; chấp nhận được gần các điểm gãy (ReLU tại 0, max) hoặc trong mạng sâu |
# | $10^{-4}$ đến $10^{-2}$ | nhiều khả năng sai, trừ khi hàm có điểm gãy |
# | trên $10^{-2}$ | sai |
#
# ## Kiểm tra thưa
#
# Gradient số đầy đủ tốn hai lần tính $f$ cho mỗi tham số: một triệu tham số nghĩa là hai
# triệu lượt truyền xuôi. Trong thực tế ta chỉ kiểm tra vài tọa độ chọn ngẫu nhiên (hàm
# `gradient_check`). Một lỗi gradient thường làm sai phần lớn các phần tử, nên khoảng mười
# tọa độ ngẫu nhiên là đủ để lộ ra.
#
# ## Trả lại `x` nguyên vẹn
#
# Cách rẻ nhất là dịch chuyển `x` tại chỗ: đặt `x[i] = old + h`, tính $f$, đặt
# `x[i] = old - h`, tính $f$, rồi đặt lại **giá trị đã lưu** `x[i] = old`. Đừng hoàn tác
# bằng `x[i] += h`: phép tính dấu phẩy động không đảo ngược chính xác được, ví dụ
# `((0.1 + h) - 2*h) + h` cho ra `0.09999999999999999`. Một hàm kiểm tra làm thay đổi tham số,
# dù rất ít, là làm hỏng chính mô hình nó đang kiểm tra; `x` thuộc về người gọi hàm. Truyền
# cho `f` các bản sao đã dịch chuyển của `x` cũng được (đơn giản hơn, chậm hơn).

# %%
import numpy as np

# %% [markdown] lang="en"
# ## Numerical gradient of a scalar function
#
# `numerical_gradient(f, x, h)` returns an array shaped like `x` holding the centred
# difference for every element. It must work for **any shape** (1-D, 2-D, 3-D, ...):
# loop over `np.ndindex(x.shape)` or `np.nditer(x, flags=["multi_index"])`; `x[i]` with an
# integer `i` selects a whole row of a 2-D array, not one element.

# %% [markdown] lang="vi"
# ## Gradient số của một hàm vô hướng
#
# `numerical_gradient(f, x, h)` trả về một mảng cùng kích thước với `x`, chứa sai phân
# trung tâm cho từng phần tử. Hàm phải chạy với **mọi kích thước** (1 chiều, 2 chiều,
# 3 chiều, ...): hãy lặp qua `np.ndindex(x.shape)` hoặc `np.nditer(x, flags=["multi_index"])`;
# với mảng 2 chiều, `x[i]` với một số nguyên `i` chọn cả một hàng chứ không phải một phần tử.


# %%
def numerical_gradient(f, x, h=1e-5):
    """Gradient of a scalar function by centred differences.

    Args:
        f: callable; f(z) returns a float for an array z of the shape of x
        x: float64 array of any shape, the point where the gradient is taken
        h: step of the finite difference
    Returns:
        grad: float64 array of the shape of x, with
            grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h) for every index i
    x is left exactly (bit for bit) as it was.
    """
    ### BEGIN SOLUTION
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        old = x[index]
        try:
            x[index] = old + h
            f_plus = float(f(x))
            x[index] = old - h
            f_minus = float(f(x))
        finally:
            x[index] = old  # the saved value: x[index] += h would not restore it exactly
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad
    ### END SOLUTION


# %% [markdown] lang="en"
# ## Numerical gradient of an array-valued function
#
# A layer maps an array to an array, e.g. `out = relu(x)`. Its backward pass receives the
# upstream gradient `dout` (shaped like `out`) and returns `dx`, the gradient of the scalar
# $\sum_j \mathrm{out}_j \, \mathrm{dout}_j$ with respect to `x`. So the centred difference for
# element $i$ is $\sum_j \frac{f(x + h e_i)_j - f(x - h e_i)_j}{2h} \, \mathrm{dout}_j$.
# `dout` has the shape of `f(x)`, which need not be the shape of `x`.

# %% [markdown] lang="vi"
# ## Gradient số của một hàm trả về mảng
#
# Một lớp (layer) biến một mảng thành một mảng, ví dụ `out = relu(x)`. Hàm backward của nó
# nhận gradient từ phía trên `dout` (cùng kích thước với `out`) và trả về `dx`, gradient của
# đại lượng vô hướng $\sum_j \mathrm{out}_j \, \mathrm{dout}_j$ theo `x`. Vậy sai phân trung tâm
# cho phần tử $i$ là $\sum_j \frac{f(x + h e_i)_j - f(x - h e_i)_j}{2h} \, \mathrm{dout}_j$.
# `dout` có kích thước của `f(x)`, không nhất thiết bằng kích thước của `x`.


# %%
def numerical_gradient_array(f, x, dout, h=1e-5):
    """Gradient of sum(f(x) * dout) with respect to x, by centred differences.

    Args:
        f: callable; f(z) returns an array of the shape of dout for an array z of the
            shape of x
        x: float64 array of any shape
        dout: float64 array of the shape of f(x), the upstream gradient
        h: step of the finite difference
    Returns:
        grad: float64 array of the shape of x
    x is left exactly (bit for bit) as it was.
    """
    ### BEGIN SOLUTION
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        old = x[index]
        try:
            x[index] = old + h
            out_plus = np.array(f(x), dtype=np.float64)  # a copy: f may return a view of x
            x[index] = old - h
            out_minus = np.array(f(x), dtype=np.float64)
        finally:
            x[index] = old
        grad[index] = np.sum((out_plus - out_minus) * dout) / (2 * h)
    return grad
    ### END SOLUTION


# %% [markdown] lang="en"
# ## Relative error
#
# `relative_error(a, b, eps)` returns one float, the **largest** element-wise relative
# error (a mean would hide one wrong entry among many right ones). It must be `0.0`, not
# `nan` and without a warning, for two identical all-zero arrays.

# %% [markdown] lang="vi"
# ## Sai số tương đối
#
# `relative_error(a, b, eps)` trả về một số thực: sai số tương đối **lớn nhất** trên các phần
# tử (lấy trung bình sẽ che mất một phần tử sai giữa nhiều phần tử đúng). Với hai mảng toàn
# số 0 giống nhau, kết quả phải là `0.0`, không phải `nan`, và không kèm cảnh báo nào.


# %%
def relative_error(a, b, eps=1e-8):
    """Largest element-wise relative error between two arrays.

    Args:
        a: float64 array of any shape
        b: float64 array of the shape of a
        eps: floor of the denominator
    Returns:
        error: float, max over elements of |a - b| / max(eps, |a| + |b|)
    """
    ### BEGIN SOLUTION
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(eps, np.abs(a) + np.abs(b))))
    ### END SOLUTION


# %% [markdown] lang="en"
# ## Sparse gradient check
#
# `gradient_check(f, x, analytic_grad, num_checks, h, seed)` draws `num_checks`
# coordinates of `x` at random with `np.random.default_rng(seed)` (same seed, same
# coordinates, same result), computes the centred difference at each of them only (two
# evaluations of `f` per coordinate, not a full numerical gradient) and returns the
# largest relative error against `analytic_grad` at those coordinates.

# %% [markdown] lang="vi"
# ## Kiểm tra gradient thưa
#
# `gradient_check(f, x, analytic_grad, num_checks, h, seed)` chọn ngẫu nhiên `num_checks`
# tọa độ của `x` bằng `np.random.default_rng(seed)` (cùng seed thì cùng tọa độ, cùng kết
# quả), chỉ tính sai phân trung tâm tại các tọa độ đó (hai lần tính `f` cho mỗi tọa độ,
# không tính cả gradient số) và trả về sai số tương đối lớn nhất so với `analytic_grad` tại
# các tọa độ ấy.


# %%
def gradient_check(f, x, analytic_grad, num_checks=10, h=1e-5, seed=0):
    """Compare an analytic gradient with centred differences at random coordinates.

    Args:
        f: callable; f(z) returns a float for an array z of the shape of x
        x: float64 array of any shape
        analytic_grad: float64 array of the shape of x, the gradient to check
        num_checks: number of coordinates drawn at random
        h: step of the finite difference
        seed: seed of np.random.default_rng that draws the coordinates
    Returns:
        error: float, the largest relative error |num - ana| / max(1e-8, |num| + |ana|)
            over the coordinates checked
    x is left exactly (bit for bit) as it was.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(num_checks):
        index = tuple(int(rng.integers(n)) for n in x.shape)
        old = x[index]
        try:
            x[index] = old + h
            f_plus = float(f(x))
            x[index] = old - h
            f_minus = float(f(x))
        finally:
            x[index] = old
        numeric = (f_plus - f_minus) / (2 * h)
        worst = max(worst, relative_error(numeric, analytic_grad[index]))
    return worst
    ### END SOLUTION


# %% [markdown] lang="en"
# ## Try it
#
# The gradient of $f(x) = \sum x^3$ is $3x^2$; a correct checker reports an error well
# below $10^{-7}$ for it and about $0.2$ for the wrong gradient $2x^2$.

# %% [markdown] lang="vi"
# ## Thử nghiệm
#
# Gradient của $f(x) = \sum x^3$ là $3x^2$; một hàm kiểm tra đúng báo sai số nhỏ hơn hẳn
# $10^{-7}$ cho gradient này và khoảng $0.2$ cho gradient sai $2x^2$.

# %%
if __name__ == "__main__":
    x_demo = np.random.default_rng(0).standard_normal((3, 4))
    cube = lambda z: float(np.sum(z ** 3))
    print("numerical vs 3x^2:", relative_error(numerical_gradient(cube, x_demo), 3 * x_demo ** 2))
    print("check of 3x^2:", gradient_check(cube, x_demo, 3 * x_demo ** 2))
    print("check of 2x^2:", gradient_check(cube, x_demo, 2 * x_demo ** 2))
