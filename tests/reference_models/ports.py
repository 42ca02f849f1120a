"""Hand-written ports, as a user would write them, of the reference models — correct ones
and ones with the classic porting mistakes planted (for ``specc verify --against``)."""

import keras
import torch
import torch.nn as nn
import torch.nn.functional as F
from keras import layers


class MnistConvnetTorch(nn.Module):
    """keras.io's MNIST convnet in PyTorch, done right: NCHW inside, NHWC before flatten."""

    def __init__(self, flatten_like_keras=True):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(1600, 10)
        self.flatten_like_keras = flatten_like_keras

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        if self.flatten_like_keras:
            x = x.permute(0, 2, 3, 1)
        x = torch.flatten(x, 1)
        x = self.dropout(x)
        return F.softmax(self.fc(x), dim=1)


def mnist_wrong_flatten():
    """The same port flattening NCHW directly: channels-first feature order."""
    return MnistConvnetTorch(flatten_like_keras=False)


def keras_same_conv():
    """A Keras source with 'same' padding, stride 2 (the extra padding row at the end)."""
    inp = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv")(inp)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Flatten(name="flatten")(x)
    out = layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inp, out)


class SameConvTorch(nn.Module):
    """Port of keras_same_conv.  ``padding=1`` is the planted bug (torch pads both sides);
    ``bn_momentum`` 0.01 is the right conversion of Keras' 0.99, 0.99 the planted bug."""

    def __init__(self, pad_like_keras=True, bn_momentum=0.01):
        super().__init__()
        self.pad_like_keras = pad_like_keras
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=0 if pad_like_keras else 1)
        self.bn = nn.BatchNorm2d(4, eps=1e-3, momentum=bn_momentum)
        self.fc = nn.Linear(64, 3)

    def forward(self, x):
        if self.pad_like_keras:
            x = F.pad(x, (0, 1, 0, 1))
        x = F.relu(self.conv(x))
        x = self.bn(x)
        x = x.permute(0, 2, 3, 1).flatten(1)
        return F.softmax(self.fc(x), dim=1)


def same_conv_wrong_padding():
    return SameConvTorch(pad_like_keras=False)


def same_conv_wrong_momentum():
    return SameConvTorch(bn_momentum=0.99)


def gru_tagger_keras(reset_after=True):
    """The PyTorch GRU tagger (tests/reference_models/torch_gru_tagger.py) ported to Keras."""
    inp = keras.Input((15,), dtype="int32")
    x = layers.Embedding(1000, 32)(inp)
    x = layers.GRU(48, return_sequences=True, reset_after=reset_after)(x)
    x = layers.Dense(12)(x)
    out = layers.Activation("log_softmax")(x)
    return keras.Model(inp, out)


def gru_tagger_keras_reset_before():
    """Planted: Keras' other GRU convention (reset gate before the recurrent matmul)."""
    return gru_tagger_keras(reset_after=False)


def gru_tagger_keras_from_torch(torch_model, reorder_gates=True):
    """A Keras port loaded with weights a user converted from the PyTorch tagger by hand.
    Right: torch's gate blocks r, z, n reordered to Keras' z, r, h; the planted bug keeps
    torch's order."""
    import numpy as np

    km = gru_tagger_keras()
    sd = {k: v.detach().numpy().astype(np.float64) for k, v in torch_model.state_dict().items()}

    def gates(a):
        r, z, n = np.split(a, 3, axis=0)
        return np.concatenate([z, r, n], axis=0) if reorder_gates else a

    emb, gru, dense = (la for la in km.layers if la.weights)
    emb.set_weights([sd["word_embeddings.weight"]])
    gru.set_weights([gates(sd["gru.weight_ih_l0"]).T, gates(sd["gru.weight_hh_l0"]).T, np.stack([gates(sd["gru.bias_ih_l0"]), gates(sd["gru.bias_hh_l0"])])])
    dense.set_weights([sd["hidden2tag.weight"].T, sd["hidden2tag.bias"]])
    return km
