"""A DQN step whose TD target is made with .clone() where .detach() was meant: the target
keeps its graph, and backward also pushes gradient through the bootstrapped next-state values."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(12)
N_STATES, N_ACTIONS, GAMMA = 6, 2, 0.9


class QNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(N_STATES, 32), nn.ReLU(), nn.Linear(32, N_ACTIONS))

    def forward(self, obs):
        return self.body(obs)


def env_step(state, action):
    """Chain MDP: action 1 moves right, 0 moves left; reward at the right end."""
    nxt = torch.clamp(state + (2 * action - 1), 0, N_STATES - 1)
    reward = (nxt == N_STATES - 1).float()
    done = (nxt == N_STATES - 1).float()
    return nxt, reward, done


def one_hot(s):
    return F.one_hot(s, N_STATES).float()


q_net = QNet()
opt = torch.optim.Adam(q_net.parameters(), lr=1e-2)
for it in range(40):
    state = torch.randint(0, N_STATES - 1, (32,))
    action = torch.randint(0, N_ACTIONS, (32,))
    nxt, reward, done = env_step(state, action)
    q_sa = q_net(one_hot(state)).gather(1, action[:, None]).squeeze(1)
    next_q = q_net(one_hot(nxt)).max(dim=1).values.clone()  # CULPRIT
    target = reward + GAMMA * (1.0 - done) * next_q
    loss = F.smooth_l1_loss(q_sa, target)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 10 == 0:
        q0 = q_net(one_hot(torch.tensor([0]))).squeeze(0)
        print(f"iter {it:02d} td_loss {loss.item():.5f} Q(s0) = {q0.tolist()}")
