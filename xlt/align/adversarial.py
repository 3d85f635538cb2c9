"""Unsupervised word-level mapping: a linear map trained against a language discriminator
(Conneau et al. 2018, "Word translation without parallel data"), kept orthogonal, with the
epoch chosen by MUSE's unsupervised criterion (no dictionary involved)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from xlt.align.procrustes import mean_cosine_criterion, refine


@dataclass
class AdversarialSettings:
    """MUSE's defaults, except `epoch_size` (MUSE: 1,000,000 for 200k-word vocabularies)."""

    epochs: int = 5
    epoch_size: int = 100_000  # samples per epoch
    batch_size: int = 32
    dis_steps: int = 5
    dis_hidden: int = 2048
    dis_layers: int = 2
    dis_input_dropout: float = 0.1
    dis_smooth: float = 0.1
    map_lr: float = 0.1
    dis_lr: float = 0.1
    lr_decay: float = (
        0.98  # the mapping's learning rate, every epoch (MUSE: not the discriminator's)
    )
    lr_shrink: float = 0.5  # when the criterion drops below its best, from the second time on
    min_lr: float = 1e-6  # training stops once the mapping's rate falls below it
    map_beta: float = 0.001  # orthogonalisation step
    most_frequent: int = 75_000  # discriminator samples from this many first words
    criterion_words: int = 10_000
    restarts: int = 1  # the first from the identity (MUSE), the others from random rotations
    refinement_iterations: int = 5  # Procrustes refinement after each restart
    refinement_mode: str = "S2T&T2S"  # how refinement builds its dictionary (MUSE's dico_build)
    refinement_max_rank: int = 15_000  # the most frequent words it considers (dico_max_rank)
    seed: int = 0


def discriminator(dim: int, hidden: int, layers: int, input_dropout: float) -> nn.Sequential:
    parts: list[nn.Module] = [nn.Dropout(input_dropout)]
    width = dim
    for _ in range(layers):
        parts += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    parts.append(nn.Linear(width, 1))  # a logit; BCEWithLogits applies the sigmoid
    return nn.Sequential(*parts)


def orthogonalize(weight: torch.Tensor, beta: float) -> None:
    """W <- (1 + beta) W - beta (W W^T) W: one step towards the orthogonal manifold."""
    with torch.no_grad():
        weight.copy_((1 + beta) * weight - beta * weight @ weight.T @ weight)


def random_rotation(dim: int, seed: int) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=torch.Generator().manual_seed(seed)))
    return q * torch.sign(torch.diagonal(r))  # Haar-distributed


def unsupervised_map(
    source: torch.Tensor,
    target: torch.Tensor,
    settings: AdversarialSettings | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, float]]]:
    """Adversarial training then Procrustes refinement, per restart; the restart whose refined
    map scores best on the unsupervised criterion wins (GANs land in a bad basin often).

    Returns (adversarial map, refined map, logs) of the chosen restart.
    """
    s = settings or AdversarialSettings()
    best, chosen, logs = -float("inf"), None, []
    for restart in range(s.restarts):
        init = None if restart == 0 else random_rotation(source.shape[1], s.seed * 1000 + restart)
        adv, history = adversarial_map(source, target, s, init, restart, on_epoch)
        refined, _ = refine(source, target, adv, s.refinement_iterations,
                            max_rank=s.refinement_max_rank, mode=s.refinement_mode)  # fmt: skip
        score = mean_cosine_criterion(source, target, refined, s.criterion_words)
        logs += history + [{"restart": restart, "refined_criterion": score}]
        if score > best:
            best, chosen = score, (adv, refined)
    return chosen[0], chosen[1], logs


def adversarial_map(
    source: torch.Tensor,
    target: torch.Tensor,
    settings: AdversarialSettings | None = None,
    init: torch.Tensor | None = None,
    restart: int = 0,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """The mapping W (source -> target, `source @ W.T`) of the best epoch, and per-epoch logs.
    Its random draws are seeded from `settings.seed` and `restart`; torch's global generator is
    left as it was (two runs in one process do not influence each other)."""
    s = settings or AdversarialSettings()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed * 1000 + restart)  # weight init and dropout, inside the fork
        game = AdversarialGame(source, target, s, init, restart)
        best, best_weight, history = -float("inf"), game.mapping.weight.detach().clone(), []
        schedule = MapLearningRate(s.map_lr, s.lr_decay, s.lr_shrink, s.min_lr)
        for epoch in range(s.epochs):
            dis_loss = game.epoch()
            weight = game.mapping.weight.detach().clone()
            criterion = mean_cosine_criterion(source, target, weight, s.criterion_words)
            log = {"restart": restart, "epoch": epoch, "dis_loss": dis_loss, "criterion": criterion}
            history.append(log)
            if on_epoch:
                on_epoch(restart * s.epochs + epoch, log)
            if criterion > best:
                best, best_weight = criterion, weight
            game.set_map_lr(schedule.after_epoch(criterion))
            if schedule.stopped:  # MUSE: "Learning rate < 1e-6. BREAK."
                break
    return best_weight, history


class MapLearningRate:
    """The mapping optimiser's rate as MUSE's trainer sets it after each epoch: decayed (with
    `min_lr` as a floor), then shrunk whenever the criterion is below its best so far, except
    the first time that happens; training stops when the rate falls below `min_lr`."""

    def __init__(self, lr: float, decay: float, shrink: float, min_lr: float) -> None:
        self.lr, self.decay, self.shrink, self.min_lr = lr, decay, shrink, min_lr
        self.best = -float("inf")
        self.dropped_before = False

    def after_epoch(self, criterion: float) -> float:
        self.best = max(self.best, criterion)  # MUSE saves the best before updating the rate
        self.lr = max(self.min_lr, self.lr * self.decay)
        if self.shrink < 1 and criterion < self.best:
            if self.dropped_before:
                self.lr *= self.shrink
            self.dropped_before = True
        return self.lr

    @property
    def stopped(self) -> bool:
        return self.lr < self.min_lr


class AdversarialGame:
    """The mapping against a discriminator (MUSE's GAN), one epoch at a time."""

    def __init__(self, source, target, s: AdversarialSettings, init, restart: int) -> None:
        self.source, self.target, self.s = source, target, s
        self.generator = torch.Generator().manual_seed(s.seed * 1000 + restart)
        dim = source.shape[1]
        self.mapping = nn.Linear(dim, dim, bias=False)
        with torch.no_grad():
            self.mapping.weight.copy_(torch.eye(dim) if init is None else init)
        self.dis = discriminator(dim, s.dis_hidden, s.dis_layers, s.dis_input_dropout)
        self.map_opt = torch.optim.SGD(self.mapping.parameters(), lr=s.map_lr)
        self.dis_opt = torch.optim.SGD(self.dis.parameters(), lr=s.dis_lr)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.n_src, self.n_tgt = (
            min(s.most_frequent, len(source)),
            min(s.most_frequent, len(target)),
        )
        self.labels = torch.cat([torch.full((s.batch_size,), 1 - s.dis_smooth),
                                 torch.full((s.batch_size,), s.dis_smooth)])  # fmt: skip

    def batch(self, grad: bool) -> torch.Tensor:
        s = self.s
        x = self.source[torch.randint(self.n_src, (s.batch_size,), generator=self.generator)]
        y = self.target[torch.randint(self.n_tgt, (s.batch_size,), generator=self.generator)]
        with torch.set_grad_enabled(grad):
            mapped = self.mapping(x)
        return torch.cat([mapped, y])

    def epoch(self) -> float:
        """Discriminator steps, then one mapping step that fools it, `epoch_size` times over;
        returns the mean discriminator loss."""
        s, losses = self.s, []
        for _ in range(max(1, s.epoch_size // s.batch_size)):
            self.dis.train()
            for _ in range(s.dis_steps):
                loss = self.loss_fn(self.dis(self.batch(grad=False)).squeeze(1), self.labels)
                self.dis_opt.zero_grad()
                loss.backward()
                self.dis_opt.step()
                losses.append(loss.detach())
            self.dis.eval()  # the mapping fools a fixed discriminator, labels flipped
            loss = self.loss_fn(self.dis(self.batch(grad=True)).squeeze(1), 1 - self.labels)
            self.map_opt.zero_grad()
            loss.backward()
            self.map_opt.step()
            orthogonalize(self.mapping.weight, s.map_beta)
        return float(torch.stack(losses).mean())

    def set_map_lr(self, lr: float) -> None:
        for group in self.map_opt.param_groups:
            group["lr"] = lr
