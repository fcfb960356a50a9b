"""A text classifier whose encode() helper was decorated with @torch.no_grad() (copied from an
inference utility). The encoder never trains; only the classifier head does."""
import torch
from torch import nn

torch.manual_seed(11)


class Classifier(nn.Module):
    def __init__(self, vocab=50, dim=16, classes=3):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab, dim)
        self.proj = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, classes)

    @torch.no_grad()  # CULPRIT
    def encode(self, tokens):
        return torch.relu(self.proj(self.embed(tokens)))

    def forward(self, tokens):
        return self.out(self.encode(tokens))


clf = Classifier()
opt = torch.optim.Adam(clf.parameters(), lr=1e-2)
tokens = torch.randint(0, 50, (20, 7))
labels = torch.randint(0, 3, (20,))
for step in range(3):
    loss = nn.functional.cross_entropy(clf(tokens), labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item())
