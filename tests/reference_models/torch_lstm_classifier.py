"""Text classifiers in the style of the common PyTorch sentiment tutorials
(bentrevett/pytorch-sentiment-analysis): the final hidden state of an LSTM, and of a
bidirectional LSTM (torch.cat((hidden[-2], hidden[-1]), dim=1))."""

import torch
import torch.nn as nn


class LSTMClassifier(nn.Module):
    def __init__(self, vocab_size=5000, embedding_dim=64, hidden_dim=32, output_dim=4):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, output_dim)

    def forward(self, text):
        embedded = self.embedding(text)
        output, (hidden, cell) = self.lstm(embedded)
        return self.fc(hidden[-1])


class BiLSTMClassifier(nn.Module):
    def __init__(self, vocab_size=5000, embedding_dim=64, hidden_dim=32, output_dim=1, dropout=0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = nn.LSTM(embedding_dim, hidden_dim, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(hidden_dim * 2, output_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, text):
        embedded = self.dropout(self.embedding(text))
        output, (hidden, cell) = self.rnn(embedded)
        hidden = self.dropout(torch.cat((hidden[-2], hidden[-1]), dim=1))
        return self.fc(hidden)


INPUTS = {"LSTMClassifier": ["text:int64[20]"], "BiLSTMClassifier": ["text:int64[20]"]}
