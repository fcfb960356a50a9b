"""REINFORCE with a learned baseline: actions are drawn with Categorical.sample(), the advantage is
detached, and the baseline is trained by its own regression loss."""
import torch
from torch import nn
from torch.distributions import Categorical

torch.manual_seed(25)
actor = nn.Sequential(nn.Linear(4, 24), nn.ReLU(), nn.Linear(24, 2))
critic = nn.Sequential(nn.Linear(4, 24), nn.ReLU(), nn.Linear(24, 1))
opt = torch.optim.Adam([*actor.parameters(), *critic.parameters()], lr=1e-3)

for episode in range(3):
    obs = torch.randn(10, 4)
    pi = Categorical(logits=actor(obs))
    act = pi.sample()
    reward = torch.where(act == 0, 1.0, -1.0)
    returns = torch.flip(torch.cumsum(torch.flip(reward, [0]), 0), [0])
    values = critic(obs).squeeze(-1)
    adv = (returns - values).detach()
    actor_loss = -(pi.log_prob(act) * adv).mean() - 0.01 * pi.entropy().mean()
    critic_loss = nn.functional.mse_loss(values, returns)
    opt.zero_grad()
    (actor_loss + critic_loss).backward()
    opt.step()
print(actor_loss.item(), critic_loss.item())
