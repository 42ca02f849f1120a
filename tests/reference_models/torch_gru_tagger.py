"""A sequence tagger in the style of PyTorch's "Sequence Models and LSTM Networks"
tutorial (LSTMTagger), with a GRU and batch_first=True."""

import torch.nn as nn
import torch.nn.functional as F


class GRUTagger(nn.Module):
    def __init__(self, embedding_dim=32, hidden_dim=48, vocab_size=1000, tagset_size=12):
        super(GRUTagger, self).__init__()
        self.hidden_dim = hidden_dim
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
        # The GRU takes word embeddings as inputs, and outputs hidden states
        # with dimensionality hidden_dim.
        self.gru = nn.GRU(embedding_dim, hidden_dim, batch_first=True)
        # The linear layer that maps from hidden state space to tag space
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        gru_out, _ = self.gru(embeds)
        tag_space = self.hidden2tag(gru_out)
        tag_scores = F.log_softmax(tag_space, dim=2)
        return tag_scores


INPUTS = ["sentence:int64[15]"]
