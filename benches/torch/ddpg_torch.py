"""Reference PyTorch (CPU) timing of one DDPG update and of acting, at the paper's
rocket-lander sizes, to compare against saferl's Burn implementation.

  python ddpg_torch.py --batch 64 400 --updates 2000 --warmup 200 --threads 1 [--json]

One update = uniform minibatch from a 100k replay buffer (torch tensors) -> target
y = r + gamma (1-d) Q'(s', mu'(s')) under no_grad -> critic MSE step -> actor step on
-Q(s, mu(s)).mean() -> soft update of both targets. Acting = batch-1 actor forward
under no_grad, numpy observation in, Python list out (what an env loop does).
"""
import argparse, itertools, json, statistics, time

import numpy as np
import torch
from torch import nn

OBS, ACT, HIDDEN, DEPTH = 11, 3, 20, 5  # rocket lander: 5 hidden layers of 20
CAPACITY, GAMMA, TAU = 100_000, 0.99, 0.001


def mlp(n_in, n_out):
    layers, width = [], n_in
    for _ in range(DEPTH):
        layers += [nn.Linear(width, HIDDEN), nn.ReLU()]
        width = HIDDEN
    return layers + [nn.Linear(width, n_out)]


class Actor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(*mlp(OBS, ACT), nn.Tanh())

    def forward(self, s):
        return self.net(s)


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(*mlp(OBS + ACT, 1))

    def forward(self, s, a):
        return self.net(torch.cat([s, a], dim=1))


class DDPG:
    def __init__(self, adam="loop"):
        self.actor, self.critic = Actor(), Critic()
        self.actor_t, self.critic_t = Actor(), Critic()
        self.actor_t.load_state_dict(self.actor.state_dict())
        self.critic_t.load_state_dict(self.critic.state_dict())
        for p in [*self.actor_t.parameters(), *self.critic_t.parameters()]:
            p.requires_grad_(False)
        # torch.optim.Adam defaults (betas 0.9/0.999, eps 1e-8). On CPU, PyTorch's default is
        # the per-parameter for-loop ("loop"); --adam foreach/fused selects the other kernels.
        kw = {"loop": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[adam]
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=1e-4, **kw)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=1e-3, **kw)
        # (online, target) parameter lists for the soft update.
        self.pairs = [(list(o.parameters()), list(t.parameters()))
                      for o, t in ((self.actor, self.actor_t), (self.critic, self.critic_t))]
        # Replay buffer pre-filled with random data; done is a 0/1 flag.
        self.s = torch.randn(CAPACITY, OBS)
        self.a = torch.randn(CAPACITY, ACT)
        self.r = torch.randn(CAPACITY, 1)
        self.s2 = torch.randn(CAPACITY, OBS)
        self.d = (torch.rand(CAPACITY, 1) < 0.05).float()

    def update(self, batch):
        idx = torch.randint(0, CAPACITY, (batch,))
        s, a, r, s2, d = self.s[idx], self.a[idx], self.r[idx], self.s2[idx], self.d[idx]
        with torch.no_grad():
            y = r + GAMMA * (1.0 - d) * self.critic_t(s2, self.actor_t(s2))

        critic_loss = nn.functional.mse_loss(self.critic(s, a), y)
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()

        actor_loss = -self.critic(s, self.actor(s)).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()  # also fills critic grads; critic_opt.zero_grad() drops them
        self.actor_opt.step()

        # target <- (1 - tau) target + tau online, one foreach op per net. _foreach_lerp_ took
        # ~30 us for both nets vs ~75 us for a loop of lerp_ and ~115 us for _foreach_mul_ +
        # _foreach_add_ (1 thread, this machine), so it is used here.
        with torch.no_grad():
            for online, target in self.pairs:
                torch._foreach_lerp_(target, online, TAU)

    def act(self, obs):
        with torch.no_grad():
            return self.actor(torch.from_numpy(obs).unsqueeze(0))[0].tolist()


def rate(fn, n, repeats=3):
    """Median over `repeats` timed runs of n calls, in calls per second."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 400])
    ap.add_argument("--updates", type=int, default=2000, help="updates per timed repeat")
    ap.add_argument("--acts", type=int, default=20000, help="acting steps per timed repeat")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--adam", choices=["loop", "foreach", "fused"], default="loop",
                    help="Adam implementation (loop = PyTorch's CPU default)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    agent = DDPG(args.adam)
    # Acting cycles through pre-made numpy observations, as an env would hand them over.
    obs = itertools.cycle(np.random.default_rng(0).standard_normal((1024, OBS), dtype=np.float32))
    results = []
    for batch in args.batch:
        for _ in range(args.warmup):
            agent.update(batch)
        ups = rate(lambda: agent.update(batch), args.updates)
        for _ in range(args.warmup):
            agent.act(next(obs))
        aps = rate(lambda: agent.act(next(obs)), args.acts)
        results.append({"batch": batch, "updates_per_s": round(ups, 1), "act_per_s": round(aps, 1)})
        if not args.json:
            print(f"batch {batch:4d}: {ups:9.1f} updates/s  {aps:9.1f} act/s")

    if args.json:
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                          "adam": args.adam, "results": results}))
    else:
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, adam {args.adam}, "
              f"median of 3 repeats ({args.updates} updates, {args.acts} acts each)")


if __name__ == "__main__":
    main()
