"""The lenet grader against mistaken and correct variants of the reference solution.

Each MISTAKE must lose points (on the tests its ``must_fail`` names); each CORRECT
alternative must get full marks. The bar (``test_accuracy_digits``, ~30-50 s per run)
runs only for the classic tanh/average-pooling LeNet (it must pass it too) and for a
mistake that crashes it; the other variants change nothing the behavioural tests miss.
"""

from __future__ import annotations

import pytest
from harness import (
    Variant,
    assert_full_marks,
    assert_mistake_caught,
    base_name,
    grade_variants,
    selected_variants,
)

FAST = "not test_accuracy_"  # every test but the bars (test_accuracy_digits, _mnist)

CONV1 = "self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)"
FC1 = "self.fc1 = nn.Linear(16 * 5 * 5, 120)"
FC2 = "self.fc2 = nn.Linear(120, 84)"
ACT = "self.act = nn.ReLU()"
POOL = "self.pool = nn.MaxPool2d(2)"
LOGITS = "return self.fc3(x)  # (N, 10)"
TRAIN_MODE = "model.train()\n    losses = []"
ZERO_GRAD = "        optimizer.zero_grad()\n"
BACKWARD = "        loss.backward()\n"
STEP = "        optimizer.step()\n"
RECORD = "losses.append(loss.item())"
MEAN_LOSS = "return sum(losses) / max(len(losses), 1)"
EVAL_MODE = "model.eval()\n    correct, total = 0, 0"
NO_GRAD = "with torch.no_grad():\n        for images, labels in loader:"
ACCURACY = "return correct / max(total, 1)"
ADAM = "optimizer = torch.optim.Adam(model.parameters(), lr=lr)"
CE = "loss_fn = nn.CrossEntropyLoss()"
EPOCH_LOOP = "for _ in range(epochs):"

INIT_BODY = """self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d(2)"""
FORWARD_BODY = """x = self.pool(self.act(self.conv1(x)))  # (N, 6, 14, 14)
        x = self.pool(self.act(self.conv2(x)))  # (N, 16, 5, 5)
        x = torch.flatten(x, 1)  # (N, 400)
        x = self.act(self.fc1(x))  # (N, 120)
        x = self.act(self.fc2(x))  # (N, 84)
        """ + LOGITS

TRAIN_SIGNATURE = 'def train_one_epoch(model, loader, optimizer, loss_fn, device="cpu"):'
EVAL_SIGNATURE = 'def evaluate(model, loader, device="cpu"):'
FIT_DEFAULTS = "epochs=10, lr=1e-3"
FC2_ACT = "x = self.act(self.fc2(x))  # (N, 84)"

NO_ACTIVATION_FORWARD = [(FORWARD_BODY, """x = self.pool(self.conv1(x))  # (N, 6, 14, 14)
        x = self.pool(self.conv2(x))  # (N, 16, 5, 5)
        x = torch.flatten(x, 1)  # (N, 400)
        x = self.fc1(x)  # (N, 120)
        x = self.fc2(x)  # (N, 84)
        """ + LOGITS)]

MODULE_DICT_MODEL = [
    (INIT_BODY, """self.layers = nn.ModuleDict({
            "c1": nn.Conv2d(1, 6, 5, padding=2), "c2": nn.Conv2d(6, 16, 5),
            "f1": nn.Linear(400, 120), "f2": nn.Linear(120, 84), "f3": nn.Linear(84, 10),
        })
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)"""),
    (FORWARD_BODY, """layer = self.layers
        x = self.pool(self.act(layer["c1"](x)))
        x = self.pool(self.act(layer["c2"](x)))
        x = x.flatten(1)
        x = self.act(layer["f1"](x))
        x = self.act(layer["f2"](x))
        return layer["f3"](x)"""),
]

SEQUENTIAL_MODEL = [
    (INIT_BODY, """self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10),
        )"""),
    (FORWARD_BODY, "return self.classifier(self.features(x))"),
]

MISTAKES = [
    Variant("lenet", "no_padding", [(CONV1, CONV1.replace(", padding=2", ""))],
            must_fail=["test_output_shape", "test_layer_structure", "test_outputs_are_logits",
                       "test_gradients_reach_every_parameter", "test_accuracy_digits"]),
    Variant("lenet", "no_padding_flatten_256",
            [(CONV1, CONV1.replace(", padding=2", "")), (FC1, FC1.replace("5 * 5", "4 * 4"))],
            must_fail=["test_parameter_count", "test_layer_structure"], keyword=FAST),
    Variant("lenet", "fc1_120_to_100", [(FC1, FC1.replace("120", "100")), (FC2, FC2.replace("120", "100"))],
            must_fail=["test_parameter_count", "test_layer_structure"], keyword=FAST),
    Variant("lenet", "conv2_kernel_3", [("nn.Conv2d(6, 16, kernel_size=5)", "nn.Conv2d(6, 16, kernel_size=3)"),
                                        (FC1, FC1.replace("5 * 5", "6 * 6"))],
            must_fail=["test_parameter_count", "test_layer_structure"], keyword=FAST),
    Variant("lenet", "softmax_output", [(LOGITS, "return F.softmax(self.fc3(x), dim=1)")],
            must_fail=["test_outputs_are_logits"], keyword=FAST),
    Variant("lenet", "log_softmax_output", [(LOGITS, "return F.log_softmax(self.fc3(x), dim=1)")],
            must_fail=["test_outputs_are_logits"], keyword=FAST),
    Variant("lenet", "sigmoid_output", [(LOGITS, "return torch.sigmoid(self.fc3(x))")],
            must_fail=["test_outputs_are_logits"], keyword=FAST),
    Variant("lenet", "unused_layer", [(FC2, FC2 + "\n        self.fc2b = nn.Linear(84, 84)")],
            must_fail=["test_gradients_reach_every_parameter", "test_parameter_count"], keyword=FAST),
    Variant("lenet", "detached_features", [("x = torch.flatten(x, 1)", "x = torch.flatten(x, 1).detach()")],
            must_fail=["test_gradients_reach_every_parameter"], keyword=FAST),
    Variant("lenet", "no_activation_max_pooling_only", NO_ACTIVATION_FORWARD,
            must_fail=["test_activation_after_each_layer"], keyword=FAST),
    Variant("lenet", "no_activation_after_fc2", [(FC2_ACT, "x = self.fc2(x)  # (N, 84)")],
            must_fail=["test_activation_after_each_layer"], keyword=FAST),
    Variant("lenet", "sequential_no_activation_after_conv2",
            [(SEQUENTIAL_MODEL[0][0], SEQUENTIAL_MODEL[0][1].replace(
                "nn.Conv2d(6, 16, 5), nn.ReLU(),", "nn.Conv2d(6, 16, 5),")), SEQUENTIAL_MODEL[1]],
            must_fail=["test_activation_after_each_layer"], keyword=FAST),
    Variant("lenet", "missing_zero_grad", [(ZERO_GRAD, "")],
            must_fail=["test_train_one_epoch_zeroes_gradients"], keyword=FAST),
    Variant("lenet", "zero_grad_between_backward_and_step", [(ZERO_GRAD, ""), (BACKWARD, BACKWARD + ZERO_GRAD)],
            must_fail=["test_train_one_epoch_zeroes_gradients"], keyword=FAST),
    Variant("lenet", "zero_grad_once_per_epoch", [(ZERO_GRAD, ""), (TRAIN_MODE, TRAIN_MODE + "\n" + ZERO_GRAD[4:])],
            must_fail=["test_train_one_epoch_zeroes_gradients"], keyword=FAST),
    Variant("lenet", "missing_step", [(STEP, "")],
            must_fail=["test_train_one_epoch_steps_once_per_batch"], keyword=FAST),
    Variant("lenet", "train_one_epoch_in_eval_mode", [(TRAIN_MODE, TRAIN_MODE.replace("train()", "eval()"))],
            must_fail=["test_train_one_epoch_training_mode"], keyword=FAST),
    Variant("lenet", "train_one_epoch_sum_of_losses", [(MEAN_LOSS, "return sum(losses)")],
            must_fail=["test_train_one_epoch_returns_mean_loss"], keyword=FAST),
    Variant("lenet", "train_one_epoch_last_loss", [(MEAN_LOSS, "return losses[-1]")],
            must_fail=["test_train_one_epoch_returns_mean_loss"], keyword=FAST),
    Variant("lenet", "train_one_epoch_keeps_graphs", [(RECORD, "losses.append(loss)")],
            must_fail=["test_train_one_epoch_returns_mean_loss"], keyword=FAST),
    Variant("lenet", "evaluate_in_train_mode", [(EVAL_MODE, EVAL_MODE.replace("eval()", "train()"))],
            must_fail=["test_evaluate_eval_mode_no_grad"], keyword=FAST),
    Variant("lenet", "evaluate_with_grad", [(NO_GRAD, NO_GRAD.replace("with torch.no_grad()", "if True"))],
            must_fail=["test_evaluate_eval_mode_no_grad"], keyword=FAST),
    Variant("lenet", "evaluate_percentage", [(ACCURACY, "return 100 * correct / max(total, 1)")],
            must_fail=["test_evaluate_accuracy", "test_fit_runs_exactly_epochs"], keyword=FAST),
    Variant("lenet", "evaluate_count", [(ACCURACY, "return correct")],
            must_fail=["test_evaluate_accuracy"], keyword=FAST),
    Variant("lenet", "evaluate_mean_of_batch_accuracies",
            [("total += labels.numel()", "total += 1"),
             ("correct += (predictions == labels).sum().item()",
              "correct += (predictions == labels).float().mean().item()")],
            must_fail=["test_evaluate_accuracy"], keyword=FAST),
    Variant("lenet", "fit_ignores_lr", [(ADAM, ADAM.replace("lr=lr", "lr=1e-3"))],
            must_fail=["test_fit_adam_learning_rate"], keyword=FAST),
    Variant("lenet", "fit_sgd", [(ADAM, ADAM.replace("Adam", "SGD"))],
            must_fail=["test_fit_adam_learning_rate"], keyword=FAST),
    Variant("lenet", "fit_one_extra_epoch", [(EPOCH_LOOP, "for _ in range(epochs + 1):")],
            must_fail=["test_fit_runs_exactly_epochs"], keyword=FAST),
    Variant("lenet", "fit_one_epoch_too_few", [(EPOCH_LOOP, "for _ in range(1, epochs):")],
            must_fail=["test_fit_runs_exactly_epochs"], keyword=FAST),
    Variant("lenet", "fit_default_one_epoch", [(FIT_DEFAULTS, FIT_DEFAULTS.replace("epochs=10", "epochs=1"))],
            must_fail=["test_signature_defaults"], keyword=FAST),
    Variant("lenet", "fit_default_lr_1e-2", [(FIT_DEFAULTS, FIT_DEFAULTS.replace("lr=1e-3", "lr=1e-2"))],
            must_fail=["test_signature_defaults"], keyword=FAST),
    Variant("lenet", "train_one_epoch_device_required", [(TRAIN_SIGNATURE, TRAIN_SIGNATURE.replace('="cpu"', ""))],
            must_fail=["test_signature_defaults"], keyword=FAST),
    Variant("lenet", "evaluate_device_required", [(EVAL_SIGNATURE, EVAL_SIGNATURE.replace('="cpu"', ""))],
            must_fail=["test_signature_defaults"], keyword=FAST),
    Variant("lenet", "fit_nll_loss_on_logits", [(CE, "loss_fn = nn.NLLLoss()")],
            must_fail=["test_fit_uses_cross_entropy"], keyword=FAST),
    Variant("lenet", "fit_trains_a_copy", [("model.to(device)\n", "model = copy.deepcopy(model).to(device)\n"),
                                           ("import torch\nimport torch.nn as nn", "import copy\nimport torch\nimport torch.nn as nn")],
            must_fail=["test_fit_runs_exactly_epochs", "test_fit_adam_learning_rate"], keyword=FAST),
]

CORRECT = [
    # The reference's bar runs in tests/test_kit.py; here the classic variant runs it.
    Variant("lenet", "reference", keyword=FAST),
    Variant("lenet", "classic_tanh_average_pooling",
            [(ACT, "self.act = nn.Tanh()"), (POOL, "self.pool = nn.AvgPool2d(kernel_size=2, stride=2)")]),
    Variant("lenet", "sequential_model", SEQUENTIAL_MODEL, keyword=FAST),  # same init as the reference
    Variant("lenet", "functional_style",
            [("\n        " + ACT, ""), ("\n        " + POOL, ""),
             (FORWARD_BODY, """x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), kernel_size=2)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)""")], keyword=FAST),
    Variant("lenet", "sigmoid_average_pooling",
            [(ACT, "self.act = nn.Sigmoid()"), (POOL, "self.pool = nn.AvgPool2d(2)")], keyword=FAST),
    Variant("lenet", "module_dict_inplace_relu", MODULE_DICT_MODEL, keyword=FAST),
    Variant("lenet", "pooling_before_activation",
            [(FORWARD_BODY, FORWARD_BODY.replace("self.pool(self.act(self.conv1(x)))",
                                                 "F.relu(F.max_pool2d(self.conv1(x), 2))")
              .replace("self.pool(self.act(self.conv2(x)))", "torch.relu(self.pool(self.conv2(x)))"))],
            keyword=FAST),
    Variant("lenet", "train_one_epoch_size_weighted_mean",
            [(TRAIN_MODE, "model.train()\n    total_loss, seen = 0.0, 0"),
             (RECORD, "total_loss += loss.item() * images.size(0)\n        seen += images.size(0)"),
             (MEAN_LOSS, "return total_loss / len(loader.dataset)")], keyword=FAST),
    Variant("lenet", "train_one_epoch_zero_grad_after_step",
            [(ZERO_GRAD, ""), (STEP, STEP + "        model.zero_grad(set_to_none=True)\n")], keyword=FAST),
    Variant("lenet", "train_one_epoch_returns_0d_tensor",
            [(MEAN_LOSS, "return torch.tensor(losses).mean()")], keyword=FAST),
    Variant("lenet", "evaluate_restores_mode",
            [(EVAL_MODE, "was_training = model.training\n    " + EVAL_MODE),
             (ACCURACY, "model.train(was_training)\n    " + ACCURACY)], keyword=FAST),
    Variant("lenet", "evaluate_float32_count",  # 7/12 in float32 is 2e-8 away from 7/12
            [(EVAL_MODE, "model.eval()\n    correct, total = torch.zeros(()), 0"),
             ("correct += (predictions == labels).sum().item()",
              "correct += (predictions == labels).float().sum()"),
             (ACCURACY, "return (correct / total).item()")], keyword=FAST),
    Variant("lenet", "evaluate_inference_mode_torch_max",
            [(NO_GRAD, NO_GRAD.replace("no_grad", "inference_mode")),
             ("predictions = model(images).argmax(dim=1)", "_, predictions = torch.max(model(images), 1)"),
             (ACCURACY, "return float(correct) / len(loader.dataset)")], keyword=FAST),
    Variant("lenet", "fit_own_loop_with_functional_loss",
            [(CE, "loss_fn = F.cross_entropy"),
             ('history["train_loss"].append(train_one_epoch(model, train_loader, optimizer, loss_fn, device))',
              """model.train()
        total, batches = 0.0, 0
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images.to(device)), labels.to(device))
            loss.backward()
            optimizer.step()
            total, batches = total + loss.item(), batches + 1
        history["train_loss"].append(total / batches)""")], keyword=FAST),
    Variant("lenet", "fit_adamw_no_decay",
            [(ADAM, "optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)")],
            keyword=FAST),
]


# Mistakes that must lose the points of the tests they name and no others.
ONLY_THEIR_TESTS = {"fit_default_one_epoch", "fit_default_lr_1e-2", "train_one_epoch_device_required",
                    "evaluate_device_required", "no_activation_max_pooling_only",
                    "no_activation_after_fc2", "sequential_no_activation_after_conv2"}


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """Every selected variant graded once, in a few processes (see harness.grade_variants)."""
    return grade_variants(selected_variants(request, MISTAKES + CORRECT),
                          tmp_path_factory.mktemp("variants"))


@pytest.mark.parametrize("variant", MISTAKES, ids=lambda v: v.name)
def test_mistake_loses_points(variant, runs):
    assert_mistake_caught(variant, runs[variant.name])


@pytest.mark.parametrize("variant", CORRECT, ids=lambda v: v.name)
def test_correct_variant_gets_full_marks(variant, runs):
    assert_full_marks(variant, runs[variant.name])


@pytest.mark.parametrize("variant", [v for v in MISTAKES if v.name in ONLY_THEIR_TESTS], ids=lambda v: v.name)
def test_mistake_loses_only_its_points(variant, runs):
    failed = {base_name(name) for name in runs[variant.name].failed()}
    assert failed == set(variant.must_fail), (
        f"mistake {variant.name!r} failed {sorted(failed)}, expected {variant.must_fail}\n"
        f"{runs[variant.name].output}")
