"""Alignment math with known answers: rotations recovered, CSLS and margin by hand, chunking."""

from __future__ import annotations

import pytest
import torch

from xlt.align.adversarial import AdversarialSettings, orthogonalize, unsupervised_map
from xlt.align.bitext import mine, retrieval_accuracy
from xlt.align.procrustes import apply_map, induce_dictionary, procrustes, refine
from xlt.align.retrieval import Scoring, normalize, precision_at_k, retrieve


def rotated_pair(n: int, dim: int, noise: float, seed: int = 0):
    """Skewed, anisotropic source points and their random rotation plus noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.empty(n, dim).exponential_(generator=g) * torch.linspace(2, 0.5, dim)
    x = x - x.mean(0)
    rotation, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g))
    return x, x @ rotation.T + noise * torch.randn(n, dim, generator=g), rotation


def p1(source, target, mapping, scoring="csls") -> float:
    _, top = retrieve(normalize(apply_map(source, mapping)), normalize(target), 1, scoring)
    return float((top[:, 0] == torch.arange(len(source))).float().mean())


def test_procrustes_recovers_a_random_rotation_from_a_few_pairs():
    x, y, rotation = rotated_pair(2000, 64, noise=0.01)
    mapping = procrustes(x[:300], y[:300])  # 300 seed pairs, evaluated on all 2000
    assert torch.allclose(mapping @ mapping.T, torch.eye(64), atol=1e-5)
    assert (mapping - rotation).norm() < 0.05
    assert p1(x, y, mapping) >= 0.99
    assert p1(x, y, torch.eye(64)) < 0.05  # without the map, nothing is found


def test_only_the_requested_maps_are_learned():
    """Refinement searches whole vocabularies (two vocabulary x vocabulary passes per
    iteration): it runs only when `procrustes+refine` is asked for."""
    from xlt.align.tasks.bli import learn_maps

    x, y, _ = rotated_pair(300, 16, noise=0.01)
    pairs = torch.arange(50).repeat(2, 1).T
    maps = learn_maps(x, y, pairs, ["procrustes"], 10, {}, None, tracker=None)
    assert set(maps) == {"identity", "procrustes"}
    both = learn_maps(x, y, pairs, ["procrustes", "procrustes+refine"], 10, {}, None, None)
    assert set(both) == {"identity", "procrustes", "procrustes+refine"}


def test_refinement_grows_a_small_seed_dictionary_into_the_full_one():
    x, y, _ = rotated_pair(1000, 32, noise=0.02)
    rough = procrustes(x[:40], y[:40] + 0.05 * torch.randn(40, 32))
    refined, sizes = refine(x, y, rough, iterations=3)
    assert sizes[-1] >= 950  # mutual nearest neighbours cover almost every word
    assert p1(x, y, refined) >= p1(x, y, rough)
    assert p1(x, y, refined) >= 0.99


@pytest.mark.slow  # ~20 s: ten short GAN restarts
def test_adversarial_mapping_recovers_a_rotation_without_any_pair():
    x, y, _ = rotated_pair(1000, 4, noise=0.01)
    settings = AdversarialSettings(
        epochs=2, epoch_size=5000, dis_hidden=128, criterion_words=1000, restarts=10, seed=0
    )
    adversarial, refined, logs = unsupervised_map(x, y, settings)
    assert p1(x, y, refined) >= 0.9
    assert p1(x, y, adversarial) > 0.3  # the GAN itself got close; refinement finished it
    assert p1(x, y, torch.eye(4)) < 0.05
    assert len([entry for entry in logs if "refined_criterion" in entry]) == 10


def test_orthogonalization_step_pulls_towards_orthogonal():
    w = torch.eye(8) + 0.05 * torch.randn(8, 8)
    before = (w @ w.T - torch.eye(8)).norm()
    for _ in range(50):
        orthogonalize(w, 0.1)
    assert (w @ w.T - torch.eye(8)).norm() < before / 10


def test_csls_matches_a_hand_computed_example():
    # Two queries, three keys (unit vectors); key 0 is a hub, close to both queries.
    q = normalize(torch.tensor([[1.0, 0.0], [0.8, 0.6]]))
    k = normalize(torch.tensor([[0.9, 0.436], [1.0, -0.2], [0.6, 0.8]]))
    cos = q @ k.T
    knn = 2
    r_q = cos.topk(knn, dim=1).values.mean(1)  # each query's mean similarity to its 2 NN keys
    r_k = cos.T.topk(knn, dim=1).values.mean(1)  # each key's mean similarity to its 2 NN queries
    expected = 2 * cos - r_q[:, None] - r_k[None, :]
    scores, top = retrieve(q, k, k=3, scoring=Scoring.csls, knn=knn)
    assert torch.allclose(scores, expected.sort(dim=1, descending=True).values, atol=1e-6)
    # The plain NN of query 1 is the hub (key 0); CSLS prefers key 2, nobody else's neighbour.
    assert retrieve(q, k, 1)[1][1, 0] == 0 and top[1, 0] == 2


def test_ratio_margin_on_a_toy_pool():
    q = normalize(torch.tensor([[1.0, 0.1], [0.1, 1.0]]))
    k = normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]]))
    cos = q @ k.T
    knn = 2
    r_q = cos.topk(knn, dim=1).values.mean(1)
    r_k = cos.T.topk(knn, dim=1).values.mean(1)
    expected = cos / ((r_q[:, None] + r_k[None, :]) / 2)
    scores, top = retrieve(q, k, k=3, scoring=Scoring.margin, knn=knn)
    assert torch.allclose(scores, expected.sort(dim=1, descending=True).values, atol=1e-6)
    assert top[:, 0].tolist() == [0, 1]


def test_chunked_retrieval_equals_one_big_matrix():
    g = torch.Generator().manual_seed(0)
    q, k = (
        normalize(torch.randn(300, 16, generator=g)),
        normalize(torch.randn(500, 16, generator=g)),
    )
    for scoring in Scoring:
        whole = retrieve(q, k, 5, scoring, chunk=10_000)
        chunked = retrieve(q, k, 5, scoring, chunk=7)
        assert torch.allclose(whole[0], chunked[0], atol=1e-6)
        assert torch.equal(whole[1], chunked[1])


def test_querying_a_few_words_keeps_the_whole_vocabularys_hubness():
    """BLI scores only its test words, but CSLS must see the same hubness terms as retrieving
    for every source word (what made a 200k-word space 200k x 200k per scoring)."""
    g = torch.Generator().manual_seed(1)
    src, tgt = (
        normalize(torch.randn(400, 16, generator=g)),
        normalize(torch.randn(600, 16, generator=g)),
    )
    few = torch.tensor([3, 50, 51, 399])
    for scoring in Scoring:
        everyone = retrieve(src, tgt, 5, scoring, knn=4)
        subset = retrieve(src[few], tgt, 5, scoring, knn=4, query_space=src)
        assert torch.allclose(everyone[0][few], subset[0], atol=1e-6)
        assert torch.equal(everyone[1][few], subset[1])


def test_precision_at_k_counts_any_gold_translation():
    predicted = torch.tensor([[3, 1, 2], [0, 2, 1]])
    assert precision_at_k(predicted, [{1}, {0, 5}], ks=(1, 2)) == {"p1": 0.5, "p2": 1.0}


def test_mutual_nearest_neighbours_make_the_induced_dictionary():
    x = normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.72]]))
    y = normalize(torch.tensor([[0.0, 1.0], [1.0, 0.05]]))
    pairs = induce_dictionary(x, y, scoring="cosine")
    assert sorted(map(tuple, pairs.tolist())) == [(0, 1), (1, 0)]  # x2 is nobody's mutual NN
    modes = {mode: sorted(map(tuple, induce_dictionary(x, y, "cosine", mode=mode).tolist()))
             for mode in ("S2T", "T2S", "S2T|T2S", "S2T&T2S")}  # fmt: skip
    assert modes == {"S2T": [(0, 1), (1, 0), (2, 1)], "T2S": [(0, 1), (1, 0)],
                     "S2T|T2S": [(0, 1), (1, 0), (2, 1)], "S2T&T2S": [(0, 1), (1, 0)]}  # fmt: skip
    # MUSE's rank limit: x0's best match is y1, past rank 1, so the pair is dropped (it is not
    # replaced by y0, the best within the limit); with rank 2 both first words keep theirs
    assert induce_dictionary(x, y, "cosine", max_rank=1, mode="S2T").tolist() == []
    assert induce_dictionary(x, y, "cosine", max_rank=2, mode="S2T").tolist() == [[0, 1], [1, 0]]


def test_the_mapping_learning_rate_follows_muses_schedule():
    """MUSE's trainer.update_lr on a scripted criterion: decay every epoch, shrink from the
    second drop below the best on, stop under min_lr; the discriminator's rate is not its."""
    from xlt.align.adversarial import MapLearningRate

    schedule = MapLearningRate(lr=0.1, decay=0.98, shrink=0.5, min_lr=1e-6)
    rates = [schedule.after_epoch(c) for c in (0.1, 0.2, 0.15, 0.3, 0.25, 0.1)]
    expected = [0.098, 0.09604, 0.0941192, 0.092236816, 0.092236816 * 0.98 * 0.5,
                0.092236816 * 0.98 * 0.5 * 0.98 * 0.5]  # fmt: skip
    assert rates == pytest.approx(expected, rel=1e-12) and not schedule.stopped
    tiny = MapLearningRate(lr=4e-6, decay=0.98, shrink=0.1, min_lr=1e-6)
    for criterion in (0.5, 0.4, 0.3):  # the second drop shrinks it below min_lr
        tiny.after_epoch(criterion)
    assert tiny.stopped


def test_retrieval_and_mining_on_a_pool_with_distractors():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(50, 32, generator=g)
    tgt = torch.cat([src[:40] + 0.1 * torch.randn(40, 32, generator=g),
                     torch.randn(20, 32, generator=g)])  # fmt: skip
    gold = {i: i for i in range(40)}  # rows 40-49 of src have no translation in the pool
    scores = retrieval_accuracy(src[:40], tgt[:40], "cosine")
    assert scores["p1_fwd"] == scores["p1_bwd"] == 1.0 and scores["xsim_error"] == 0
    mined = mine(src, tgt, gold, "margin")
    assert mined["average_precision"] == pytest.approx(1.0)
    assert mined["recall"] == 1.0 and mined["precision"] == 1.0


def test_mined_pairs_modes_on_a_known_permutation():
    """Pools where target j translates source perm[j], plus two unpaired targets: every mode
    finds the permutation; intersect keeps only mutual best pairs, union adds the rest."""
    from xlt.align.bitext import mined_pairs

    torch.manual_seed(0)
    source = torch.randn(20, 16)
    perm = torch.randperm(20)
    target = torch.cat([source[perm] + 0.05 * torch.randn(20, 16), torch.randn(2, 16)])
    truth = {int(perm[j]): j for j in range(20)}
    for mode in ("intersect", "forward", "union"):
        found = mined_pairs(source, target, "margin", knn=3, mode=mode)
        assert {i: j for i, j, _ in found if i in truth and truth[i] == j}.keys() == truth.keys()
        assert [s for *_, s in found] == sorted((s for *_, s in found), reverse=True)
    intersect = mined_pairs(source, target, "margin", knn=3, mode="intersect")
    union = mined_pairs(source, target, "margin", knn=3, mode="union")
    assert len(intersect) == 20 and len(union) >= len(intersect)
