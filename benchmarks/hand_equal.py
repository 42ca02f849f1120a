"""The code an expert writes by hand to compute exactly what ``specs/mnist_cnn.spec`` means.

``benchmarks/backend_speed.py``'s hand-written models are what an expert writes for the same
*task*: they compute nearly the spec's function (PyTorch's default initialisers instead of
the spec's Glorot-uniform, NCHW input, Keras' own Adam, whose ε sits before the bias
correction).  The models here are what an expert writes for the same *meaning*, the code a
port has to be: channels-last input, the spec's initialisers, the spec's loss and one
training step, and in Keras an Adam with PyTorch's ε placement (``keras.optimizers.Adam``
with its ``update_step`` replaced: the one thing Keras lacks).  tests/test_hand_equal.py
holds them equal to ``specc.build``'s models (outputs and the weights after two steps);
``benchmarks/generated_lines.py`` counts them beside the generated modules.
"""

from __future__ import annotations


def torch_hand():
    """(model, make_optimizer(model), train_step(model, optimizer, x, y) → loss)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3)
            self.conv2 = nn.Conv2d(32, 64, 3)
            self.conv3 = nn.Conv2d(64, 64, 3)
            self.fc1 = nn.Linear(576, 64)
            self.fc2 = nn.Linear(64, 10)
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)

        def forward(self, x):  # x: (batch, 28, 28, 1), channels-last as the spec's input
            x = F.max_pool2d(F.relu(self.conv1(x.movedim(-1, 1))), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = F.relu(self.conv3(x))
            return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))

    def make_optimizer(model):
        return torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step(model, opt, x, y):
        model.train()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return CNN(), make_optimizer, train_step


def keras_hand():
    """The compiled functional model."""
    import keras
    from keras import layers, ops

    class TorchAdam(keras.optimizers.Adam):
        """Adam as torch.optim.Adam steps: ε added to the bias-corrected root."""

        def update_step(self, gradient, variable, learning_rate):
            lr, g = ops.cast(learning_rate, variable.dtype), ops.cast(gradient, variable.dtype)
            t = ops.cast(self.iterations + 1, variable.dtype)
            i = self._get_variable_index(variable)
            m, v = self._momentums[i], self._velocities[i]
            self.assign_add(m, (g - m) * (1 - self.beta_1))
            self.assign_add(v, (ops.square(g) - v) * (1 - self.beta_2))
            denom = ops.sqrt(v) / ops.sqrt(1 - ops.power(self.beta_2, t)) + self.epsilon
            self.assign_sub(variable, lr / (1 - ops.power(self.beta_1, t)) * m / denom)

    inp = keras.Input((28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu")(inp)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    out = layers.Dense(10)(x)
    m = keras.Model(inp, out)
    m.compile(optimizer=TorchAdam(1e-3, epsilon=1e-8), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return m
