import pytest
import torch

from xlt.evaluation.metrics import language_metrics, summarize


def test_summary_names_target_average_and_gap():
    scores = {
        "en": {"acc": 0.8, "macro_f1": 0.7},
        "zh": {"acc": 0.6, "macro_f1": 0.5},
        "de": {"acc": 0.7, "macro_f1": 0.6},
    }
    out = summarize("test", scores, source="en", targets=["zh", "de"])
    assert out["test/acc/zh"] == 0.6
    assert out["test/acc/avg_target"] == pytest.approx(0.65)
    assert out["test/macro_f1/avg_target"] == pytest.approx(0.55)
    assert out["test/transfer_gap"] == pytest.approx(0.15)


def test_accuracy_and_macro_f1_match_hand_computed_values():
    metrics = language_metrics(num_classes=3)
    metrics.update(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 2]))
    result = {k: float(v) for k, v in metrics.compute().items()}
    assert result["acc"] == pytest.approx(0.75)
    # per class F1: c0 = 2/3, c1 = 2/3, c2 = 1
    assert result["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
