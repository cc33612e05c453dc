# GENERATED from solutions/lenet.py by `autograder stubs`: do not edit this header or the
# code outside YOUR CODE HERE. / Tệp sinh tự động từ solutions/lenet.py.
# Replace each `raise NotImplementedError` with your code, then check it with
# / Hãy thay mỗi `raise NotImplementedError` bằng code của bạn rồi kiểm tra bằng:
#     python -m pytest graders/test_lenet.py
# %% [markdown] lang="en"
# # Exercise 5 — LeNet-5 in PyTorch
#
# In exercises 1–4 you computed every gradient by hand. Here PyTorch's automatic
# differentiation does that for you, and the work moves to *building* a network and
# *training* it correctly. You will write:
#
# 1. `LeNet5`, the convolutional network of LeCun et al. (1998), for 28×28 grey images;
# 2. `train_one_epoch`, one pass over the training data;
# 3. `evaluate`, the accuracy on held-out data;
# 4. `fit`, which puts them together with the Adam optimizer.
#
# The data comes from the kit: float32 images of shape (N, 1, 28, 28), standardised
# (mean 0, standard deviation 1), and int64 labels in 0..9. Without internet, the
# kit uses the handwritten digits that scikit-learn ships, upsampled from 8×8 to
# 28×28 (1,437 training and 360 test images); it uses MNIST when its files are on
# your disk:
#
# ```python
# from autograder.data import get_loaders
# train_loader, test_loader = get_loaders("digits", batch_size=16, seed=0)
# images, labels = next(iter(train_loader))   # (16, 1, 28, 28) float32, (16,) int64
# ```

# %% [markdown] lang="vi"
# # Bài 5 — LeNet-5 với PyTorch
#
# Ở các bài 1–4, bạn đã tự tính từng gradient bằng tay. Ở bài này, cơ chế đạo hàm tự
# động của PyTorch làm việc đó thay bạn, và công việc chuyển sang *xây dựng* mạng và
# *huấn luyện* nó cho đúng. Bạn sẽ viết:
#
# 1. `LeNet5`, mạng tích chập của LeCun và cộng sự (1998), cho ảnh xám 28×28;
# 2. `train_one_epoch`, một lượt duyệt qua dữ liệu huấn luyện;
# 3. `evaluate`, độ chính xác trên dữ liệu kiểm tra;
# 4. `fit`, ghép các hàm trên với bộ tối ưu Adam.
#
# Dữ liệu do bộ công cụ cung cấp: ảnh float32 có kích thước (N, 1, 28, 28), đã được
# chuẩn hoá (trung bình 0, độ lệch chuẩn 1), và nhãn int64 từ 0 đến 9. Khi không có
# internet, bộ công cụ dùng tập chữ số viết tay có sẵn trong scikit-learn, được phóng
# từ 8×8 lên 28×28 (1.437 ảnh huấn luyện và 360 ảnh kiểm tra); nếu các tệp MNIST có
# trên máy của bạn thì dùng MNIST:
#
# ```python
# from autograder.data import get_loaders
# train_loader, test_loader = get_loaders("digits", batch_size=16, seed=0)
# images, labels = next(iter(train_loader))   # (16, 1, 28, 28) float32, (16,) int64
# ```

# %%
import torch
import torch.nn as nn
import torch.nn.functional as F  # noqa: F401  (F.relu, F.max_pool2d, ... if you prefer functions)

# %% [markdown] lang="en"
# ## The architecture
#
# **Convolution.** A `nn.Conv2d(C_in, C_out, kernel_size=K)` layer slides `C_out`
# filters of shape (C_in, K, K) over the image; each output value is a weighted sum of
# a K×K window over all input channels, plus a bias. The same weights are used at every
# position, which is why a convolution needs so few parameters. For an input of height
# H, padding P and stride S, the output height is
#
# $$H_{out} = \frac{H + 2P - K}{S} + 1 .$$
#
# **Pooling.** A 2×2 pooling layer keeps one value per 2×2 window (the maximum, or the
# average), halving height and width; it has no parameters.
#
# LeNet-5 for 28×28 images, with the shape after each step:
#
# | step | output shape |
# |---|---|
# | input | (N, 1, 28, 28) |
# | conv 1→6, 5×5, padding 2: (28 + 2·2 − 5)/1 + 1 = 28 | (N, 6, 28, 28) |
# | activation, then 2×2 pooling | (N, 6, 14, 14) |
# | conv 6→16, 5×5, no padding: (14 − 5)/1 + 1 = 10 | (N, 16, 10, 10) |
# | activation, then 2×2 pooling | (N, 16, 5, 5) |
# | flatten: 16·5·5 | (N, 400) |
# | linear 400→120, activation | (N, 120) |
# | linear 120→84, activation | (N, 84) |
# | linear 84→10 | (N, 10) logits |
#
# The padding of 2 is what the original network did to its 32×32 input: without it
# the first convolution gives 24×24 and the flattened vector has 16·4·4 = 256 values,
# not 400.
#
# **Parameters** (weights + biases): a convolution has C_out·C_in·K·K + C_out, a linear
# layer D_in·D_out + D_out:
#
# $$\underbrace{6\cdot25+6}_{156} + \underbrace{16\cdot6\cdot25+16}_{2416}
#   + \underbrace{400\cdot120+120}_{48120} + \underbrace{120\cdot84+84}_{10164}
#   + \underbrace{84\cdot10+10}_{850} = 61\,706 .$$
#
# Check yours with `sum(p.numel() for p in model.parameters())`.
#
# The activation and the pooling are your choice: ReLU with max pooling (the modern
# default) or tanh with average pooling (the classic LeNet) both reach the bar.
#
# **Logits, not probabilities.** `forward` returns the raw scores (logits). The loss
# `nn.CrossEntropyLoss` applies log-softmax itself, in a numerically stable way, so a
# softmax at the end of the network would be applied twice and slow learning down. To
# predict, take `logits.argmax(dim=1)`; softmax does not change the argmax.

# %% [markdown] lang="vi"
# ## Kiến trúc mạng
#
# **Tích chập.** Lớp `nn.Conv2d(C_in, C_out, kernel_size=K)` trượt `C_out` bộ lọc có
# kích thước (C_in, K, K) trên ảnh; mỗi giá trị đầu ra là tổng có trọng số của một cửa
# sổ K×K trên mọi kênh đầu vào, cộng thêm độ lệch (bias). Cùng một bộ trọng số được dùng
# ở mọi vị trí, vì thế lớp tích chập cần rất ít tham số. Với đầu vào chiều cao H, phần
# đệm (padding) P và bước trượt (stride) S, chiều cao đầu ra là
#
# $$H_{out} = \frac{H + 2P - K}{S} + 1 .$$
#
# **Gộp (pooling).** Lớp gộp 2×2 giữ lại một giá trị cho mỗi cửa sổ 2×2 (giá trị lớn
# nhất, hoặc trung bình), làm chiều cao và chiều rộng giảm một nửa; lớp này không có
# tham số.
#
# LeNet-5 cho ảnh 28×28, với kích thước sau mỗi bước:
#
# | bước | kích thước đầu ra |
# |---|---|
# | đầu vào | (N, 1, 28, 28) |
# | tích chập 1→6, 5×5, đệm 2: (28 + 2·2 − 5)/1 + 1 = 28 | (N, 6, 28, 28) |
# | hàm kích hoạt, rồi gộp 2×2 | (N, 6, 14, 14) |
# | tích chập 6→16, 5×5, không đệm: (14 − 5)/1 + 1 = 10 | (N, 16, 10, 10) |
# | hàm kích hoạt, rồi gộp 2×2 | (N, 16, 5, 5) |
# | làm phẳng (flatten): 16·5·5 | (N, 400) |
# | tuyến tính 400→120, hàm kích hoạt | (N, 120) |
# | tuyến tính 120→84, hàm kích hoạt | (N, 84) |
# | tuyến tính 84→10 | (N, 10) logit |
#
# Phần đệm 2 tương đương với việc mạng gốc nhận ảnh 32×32: nếu bỏ nó, lớp tích chập
# đầu tiên cho ra 24×24 và vectơ sau khi làm phẳng có 16·4·4 = 256 giá trị chứ không
# phải 400.
#
# **Số tham số** (trọng số + độ lệch): lớp tích chập có C_out·C_in·K·K + C_out, lớp
# tuyến tính có D_in·D_out + D_out:
#
# $$\underbrace{6\cdot25+6}_{156} + \underbrace{16\cdot6\cdot25+16}_{2416}
#   + \underbrace{400\cdot120+120}_{48120} + \underbrace{120\cdot84+84}_{10164}
#   + \underbrace{84\cdot10+10}_{850} = 61\,706 .$$
#
# Hãy kiểm tra bằng `sum(p.numel() for p in model.parameters())`.
#
# Hàm kích hoạt và kiểu gộp do bạn chọn: ReLU với gộp cực đại (max pooling, lựa chọn
# phổ biến ngày nay) hay tanh với gộp trung bình (LeNet cổ điển) đều đạt yêu cầu.
#
# **Logit chứ không phải xác suất.** `forward` trả về điểm số thô (logit). Hàm mất mát
# `nn.CrossEntropyLoss` tự áp dụng log-softmax theo cách ổn định về số học, nên nếu thêm
# softmax ở cuối mạng thì softmax bị áp dụng hai lần và mạng học chậm đi. Để dự đoán,
# dùng `logits.argmax(dim=1)`; softmax không làm thay đổi argmax.

# %%
class LeNet5(nn.Module):
    """LeNet-5 for grey 28x28 images; returns logits (no softmax).

    Shapes: x (N, 1, 28, 28) -> conv1 (N, 6, 28, 28) -> pool (N, 6, 14, 14)
    -> conv2 (N, 16, 10, 10) -> pool (N, 16, 5, 5) -> flatten (N, 400)
    -> fc (N, 120) -> fc (N, 84) -> fc (N, 10). 61,706 parameters.
    """

    def __init__(self):
        super().__init__()
        # YOUR CODE HERE
        raise NotImplementedError

    def forward(self, x):
        """Logits of a batch.

        Args:
            x: tensor of shape (N, 1, 28, 28), float32
        Returns:
            logits: tensor of shape (N, 10)
        """
        # YOUR CODE HERE
        raise NotImplementedError


# %% [markdown] lang="en"
# ## Training and evaluation
#
# One training step on a batch is always the same four lines:
#
# ```python
# optimizer.zero_grad()                   # forget the previous batch's gradients
# loss = loss_fn(model(images), labels)   # forward pass, builds the graph
# loss.backward()                         # gradients of the loss into p.grad
# optimizer.step()                        # update the parameters with p.grad
# ```
#
# `backward()` **adds** to `p.grad`; without `zero_grad()` every step would use the sum
# of all gradients seen so far. Keep the loss of each batch with `loss.item()`, a Python
# float: keeping the tensor would keep its whole graph in memory.
#
# **Modes.** `model.train()` and `model.eval()` switch layers that behave differently
# while training (dropout, batch normalisation). LeNet-5 has none, but a training loop
# must not depend on that: call `model.train()` before training and `model.eval()`
# before evaluating. During evaluation no gradient is needed, so run the forward passes
# inside `with torch.no_grad():`, which builds no graph (faster, less memory).
#
# **Accuracy** is the number of correct predictions over the number of examples of the
# whole loader (careful: the last batch may be smaller).
#
# `fit` creates an `torch.optim.Adam` optimizer with the given learning rate and an
# `nn.CrossEntropyLoss`, then alternates one epoch of training and one evaluation,
# `epochs` times.

# %% [markdown] lang="vi"
# ## Huấn luyện và đánh giá
#
# Một bước huấn luyện trên một batch luôn gồm bốn dòng:
#
# ```python
# optimizer.zero_grad()                   # xoá gradient của batch trước
# loss = loss_fn(model(images), labels)   # lan truyền xuôi, xây dựng đồ thị tính toán
# loss.backward()                         # lan truyền ngược: gradient của hàm mất mát vào p.grad
# optimizer.step()                        # cập nhật tham số bằng p.grad
# ```
#
# `backward()` **cộng dồn** vào `p.grad`; nếu thiếu `zero_grad()`, mỗi bước sẽ dùng tổng
# của mọi gradient từ đầu đến giờ. Hãy lưu giá trị mất mát của mỗi batch bằng
# `loss.item()`, một số thực Python: giữ lại tensor thì cả đồ thị tính toán của nó cũng
# bị giữ trong bộ nhớ.
#
# **Chế độ.** `model.train()` và `model.eval()` chuyển đổi các lớp hoạt động khác nhau
# khi huấn luyện (dropout, chuẩn hoá theo batch). LeNet-5 không có lớp nào như vậy,
# nhưng vòng lặp huấn luyện không được phụ thuộc vào điều đó: gọi `model.train()` trước
# khi huấn luyện và `model.eval()` trước khi đánh giá. Khi đánh giá không cần gradient,
# nên hãy chạy lan truyền xuôi bên trong `with torch.no_grad():`, khối lệnh này không
# xây dựng đồ thị (nhanh hơn, tốn ít bộ nhớ hơn).
#
# **Độ chính xác** là số dự đoán đúng chia cho số mẫu của toàn bộ loader (cẩn thận:
# batch cuối có thể nhỏ hơn).
#
# `fit` tạo bộ tối ưu `torch.optim.Adam` với tốc độ học cho trước và hàm mất mát
# `nn.CrossEntropyLoss`, rồi lần lượt huấn luyện một epoch và đánh giá một lần, lặp lại
# `epochs` lần.

# %%
def train_one_epoch(model, loader, optimizer, loss_fn, device="cpu"):
    """One pass over ``loader`` in training mode, one optimizer step per batch.

    Args:
        model: nn.Module mapping images (B, 1, 28, 28) to logits (B, 10)
        loader: iterable of (images (B, 1, 28, 28) float32, labels (B,) int64)
        optimizer: a torch.optim optimizer over model's parameters
        loss_fn: maps (logits (B, 10), labels (B,)) to the mean loss of the batch,
            e.g. nn.CrossEntropyLoss()
        device: where batches are moved before the forward pass, e.g. "cpu" or "cuda"
    Returns:
        mean_loss: float, the mean of the batch losses
    """
    # YOUR CODE HERE
    raise NotImplementedError


# %%
def evaluate(model, loader, device="cpu"):
    """Accuracy of ``model`` on ``loader``, in eval mode and without building a graph.

    Args:
        model: nn.Module mapping images (B, 1, 28, 28) to logits (B, 10)
        loader: iterable of (images (B, 1, 28, 28) float32, labels (B,) int64)
        device: where batches are moved before the forward pass
    Returns:
        accuracy: float in [0, 1], correct predictions / number of examples
    """
    # YOUR CODE HERE
    raise NotImplementedError


# %%
def fit(model, train_loader, val_loader, epochs=10, lr=1e-3, device="cpu"):
    """Train ``model`` with Adam and cross-entropy for exactly ``epochs`` epochs.

    Args:
        model: nn.Module mapping images (B, 1, 28, 28) to logits (B, 10); trained in place
        train_loader, val_loader: iterables of (images (B, 1, 28, 28), labels (B,))
        epochs: number of passes over train_loader
        lr: learning rate of torch.optim.Adam
        device: where the model and the batches go
    Returns:
        history: {'train_loss': [float per epoch], 'val_acc': [float in [0, 1] per epoch]}
    """
    # YOUR CODE HERE
    raise NotImplementedError


# %% [markdown] lang="en"
# ## Try it, then check it
#
# ```python
# import torch
# from autograder.data import get_loaders
# torch.manual_seed(0)
# train_loader, test_loader = get_loaders("digits", batch_size=16, seed=0)
# model = LeNet5()
# history = fit(model, train_loader, test_loader, epochs=15, lr=3e-3)
# print(history["val_acc"][-1])   # about 0.97-0.99, in well under a minute on a CPU
# ```
#
# The grader (`python -m pytest graders/test_lenet.py`) checks the shapes, the 61,706
# parameters, that the network returns logits, that an activation follows every
# convolution and every hidden linear layer, and the behaviour of your loops on small
# models of its own (zero_grad, modes, one step per batch, the mean loss, the accuracy,
# Adam's learning rate, the number of epochs, the defaults of the signatures). Then comes the bar: with exactly the code
# above for the seeds 0, 1 and 2, the median held-out accuracy must be at least 95% and
# none below 90% (and at least 98% on the MNIST test set after 3 epochs, when MNIST is
# configured).

# %% [markdown] lang="vi"
# ## Chạy thử, rồi kiểm tra
#
# ```python
# import torch
# from autograder.data import get_loaders
# torch.manual_seed(0)
# train_loader, test_loader = get_loaders("digits", batch_size=16, seed=0)
# model = LeNet5()
# history = fit(model, train_loader, test_loader, epochs=15, lr=3e-3)
# print(history["val_acc"][-1])   # khoảng 0.97-0.99, chưa tới một phút trên CPU
# ```
#
# Bộ chấm (`python -m pytest graders/test_lenet.py`) kiểm tra kích thước, 61.706 tham
# số, việc mạng trả về logit, việc có hàm kích hoạt sau mỗi lớp tích chập và mỗi lớp
# tuyến tính ẩn, và cách các vòng lặp của bạn hoạt động trên những mô hình nhỏ của riêng
# nó (zero_grad, chế độ huấn luyện/đánh giá, một bước cho mỗi batch, giá trị mất mát
# trung bình, độ chính xác, tốc độ học của Adam, số epoch, giá trị mặc định của các tham số). Sau đó là ngưỡng
# yêu cầu: với đúng đoạn code trên cho các seed 0, 1 và 2, trung vị độ chính xác trên tập
# kiểm tra phải đạt ít nhất 95% và không lần nào dưới 90% (và ít nhất 98% trên tập kiểm
# tra MNIST sau 3 epoch, nếu đã cấu hình MNIST).
