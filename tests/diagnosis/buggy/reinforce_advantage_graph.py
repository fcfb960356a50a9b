"""REINFORCE with a learned baseline. The advantage still carries the value network's graph, so the
policy-gradient term also trains the baseline (towards making advantages large)."""
import torch
from torch import nn
from torch.distributions import Categorical

torch.manual_seed(9)
policy = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 3))
value = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1))
optim = torch.optim.Adam(list(policy.parameters()) + list(value.parameters()), lr=1e-3)
gamma = 0.99


def discounted(rewards):
    out, running = [], 0.0
    for r in reversed(rewards):
        running = r + gamma * running
        out.insert(0, running)
    return torch.tensor(out)


for episode in range(3):
    states = torch.randn(12, 4)
    dist = Categorical(logits=policy(states))
    actions = dist.sample()
    rewards = (actions == 1).float().tolist()
    returns = discounted(rewards)
    baseline = value(states).squeeze(-1)
    advantage = returns - baseline  # CULPRIT
    policy_loss = -(dist.log_prob(actions) * advantage).mean()
    value_loss = (returns - baseline).pow(2).mean()
    optim.zero_grad()
    (policy_loss + 0.5 * value_loss).backward()
    optim.step()
print(policy_loss.item(), value_loss.item())
