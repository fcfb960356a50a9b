"""Soft actor-critic style actor update. The action is drawn with .sample(), so the critic's
gradient never reaches the actor."""
import torch
from torch import nn
from torch.distributions import Normal

torch.manual_seed(2)
obs_dim, act_dim = 5, 2
actor = nn.Sequential(nn.Linear(obs_dim, 32), nn.Tanh(), nn.Linear(32, 2 * act_dim))
critic = nn.Sequential(nn.Linear(obs_dim + act_dim, 32), nn.Tanh(), nn.Linear(32, 1))
actor_opt = torch.optim.Adam(actor.parameters(), lr=3e-4)
critic_opt = torch.optim.Adam(critic.parameters(), lr=3e-4)


def act(states):
    mean, log_std = actor(states).chunk(2, dim=-1)
    policy = Normal(mean, log_std.clamp(-5, 2).exp())
    action = policy.sample()  # CULPRIT
    return torch.tanh(action)


for it in range(3):
    states = torch.randn(32, obs_dim)
    rewards = torch.randn(32, 1)
    # critic regression on stored actions
    stored = torch.rand(32, act_dim) * 2 - 1
    q = critic(torch.cat([states, stored], dim=-1))
    critic_loss = (q - rewards).pow(2).mean()
    critic_opt.zero_grad()
    critic_loss.backward()
    critic_opt.step()
    # actor: maximise Q of its own actions
    actions = act(states)
    actor_loss = -critic(torch.cat([states, actions], dim=-1)).mean()
    actor_opt.zero_grad()
    actor_loss.backward()
    actor_opt.step()
print("actor loss", actor_loss.item())
