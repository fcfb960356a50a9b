"""A metric-learning script whose embedding helper carries @torch.no_grad() (right for the
retrieval evaluation), but the triplet loss is computed through it too: backward fails."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(3)


class EmbeddingNet(nn.Module):
    def __init__(self, d_in=20, d_emb=8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, 64), nn.ReLU(), nn.Linear(64, d_emb))

    def forward(self, x):
        return self.net(x)


@torch.no_grad()  # CULPRIT
def embed(model, x):
    """L2-normalised embeddings, used for retrieval eval and for the triplet loss."""
    return F.normalize(model(x), dim=-1)


centers = torch.randn(6, 20) * 3


def sample_triplets(n=32):
    a_cls = torch.randint(0, 6, (n,))
    n_cls = (a_cls + torch.randint(1, 6, (n,))) % 6
    a = centers[a_cls] + torch.randn(n, 20)
    p = centers[a_cls] + torch.randn(n, 20)
    neg = centers[n_cls] + torch.randn(n, 20)
    return a, p, neg


def recall_at_1(model):
    q_cls = torch.arange(6).repeat(5)
    q = embed(model, centers[q_cls] + torch.randn(30, 20))
    g = embed(model, centers)
    return (torch.cdist(q, g).argmin(1) == q_cls).float().mean().item()


model = EmbeddingNet()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
print(f"init recall@1 {recall_at_1(model):.3f}")
for step in range(20):
    a, p, n = sample_triplets()
    ea, ep, en = embed(model, a), embed(model, p), embed(model, n)
    loss = F.triplet_margin_loss(ea, ep, en, margin=0.2)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 5 == 0:
        print(f"step {step} triplet {loss.item():.4f} recall@1 {recall_at_1(model):.3f}")
