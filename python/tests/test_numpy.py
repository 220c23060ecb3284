"""The numpy API against the Rust CLI on synthetic instances, plus its input handling."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

import basis_aware
from basis_aware import Basis, Bat

from conftest import cli_truncate, read_instance

U32 = np.uint32


def _bat(instance, svd=None, **kw):
    w = instance["embedding"]
    basis = Basis.svd(w, svd) if svd else Basis.full(w)
    return Bat(basis, **kw)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("svd", [8, None])
def test_same_decisions_as_the_cli(cli, synth, seed, svd):
    path, instance = synth(seed=seed)
    bat = _bat(instance, svd)
    extra = ("--svd", str(svd)) if svd else ()
    for step in range(instance["logits"].shape[0]):
        ours = bat.truncate(instance["logits"][step])
        theirs = cli_truncate(cli, path, step, *extra)
        assert ours.kept.dtype == U32
        np.testing.assert_array_equal(ours.kept, np.array(theirs["kept"], dtype=U32))
        np.testing.assert_array_equal(ours.undecided, np.array(theirs["undecided"], dtype=U32))
        assert ours.tau == pytest.approx(theirs["tau"], rel=1e-12)


@pytest.mark.parametrize("rule", ["epsilon=0.001", "min-p=0.02", "top-k=5", "top-p=0.9"])
def test_other_rules_match_the_cli(cli, synth, rule):
    path, instance = synth(seed=3)
    bat = _bat(instance, 8, rule=rule)
    for step in range(instance["logits"].shape[0]):
        ours = bat.truncate(instance["logits"][step])
        theirs = cli_truncate(cli, path, step, "--svd", "8", "--rule", rule)
        np.testing.assert_array_equal(ours.kept, np.array(theirs["kept"], dtype=U32))


def test_no_backend_is_the_threshold_alone(cli, synth):
    path, instance = synth(seed=0)
    logits = instance["logits"][0]
    ours = _bat(instance, 8, backend="none").truncate(logits)
    theirs = cli_truncate(cli, path, 0, "--svd", "8", "--backend", "none")
    np.testing.assert_array_equal(ours.kept, np.array(theirs["kept"], dtype=U32))
    q = np.exp(logits.astype(np.float64) - logits.max())
    q /= q.sum()
    assert set(ours.kept) == set(np.flatnonzero(q >= ours.tau))
    assert ours.counts["solves"] == 0


def test_bat_keeps_tokens_below_tau(synth):
    # The instances the CLI comparison uses must exercise the LP: some keeps below tau.
    _, instance = synth(seed=0)
    bat = _bat(instance, 8)
    dual = sum(bat.truncate(row).counts["dual_kept"] for row in instance["logits"])
    assert dual > 0


def test_truncation_fields(synth):
    _, instance = synth(seed=1)
    t = _bat(instance, 8).truncate(instance["logits"][0])
    assert np.all(np.diff(t.kept.astype(np.int64)) > 0)
    assert set(t.counts) == {"threshold_kept", "dual_kept", "zero_mass_rejected", "point_rejected",
                             "chunk_rejected", "approximate", "undecided", "solves", "set_solves"}
    assert t.counts["threshold_kept"] + t.counts["dual_kept"] == len(t.kept) == len(t)
    assert t.counts["undecided"] == len(t.undecided)
    assert 0.0 < t.tau < 1.0 and t.elapsed_s > 0.0
    assert "Truncation(" in repr(t)


def test_batch_equals_single_calls(synth):
    _, instance = synth(seed=2)
    logits = instance["logits"]
    batch = _bat(instance, 8, threads=2).truncate_batch(logits)
    fresh = [_bat(instance, 8).truncate(row) for row in logits]
    assert len(batch) == len(fresh) == logits.shape[0]
    for b, s in zip(batch, fresh):
        np.testing.assert_array_equal(b.kept, s.kept)
        np.testing.assert_array_equal(b.undecided, s.undecided)
        assert b.tau == s.tau


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_logit_dtypes(synth, dtype):
    _, instance = synth(seed=0)
    bat = _bat(instance, 8)
    logits = instance["logits"][0].astype(dtype)
    np.testing.assert_array_equal(bat.truncate(logits).kept,
                                  bat.truncate(logits.astype(np.float32)).kept)


def test_weight_dtypes_and_layouts(synth, tmp_path):
    _, instance = synth(seed=0)
    w16 = instance["embedding"].astype(np.float16)
    Basis.full(w16.astype(np.float32)).save(tmp_path / "reference.safetensors")
    reference = read_instance(tmp_path / "reference.safetensors")["basis"]
    variants = {
        "f16": w16,
        "f64": w16.astype(np.float64),
        "fortran": np.asfortranarray(w16.astype(np.float32)),
        "transposed view": np.ascontiguousarray(w16.astype(np.float32).T).T,
        "strided rows": np.repeat(w16.astype(np.float32), 2, axis=1)[:, ::2],
        "list": w16.astype(np.float32).tolist(),
    }
    for name, w in variants.items():
        basis = Basis.full(w)
        basis.save(tmp_path / "variant.safetensors")
        stored = read_instance(tmp_path / "variant.safetensors")["basis"]
        np.testing.assert_array_equal(stored, reference, err_msg=name)
    assert not variants["transposed view"].flags["C_CONTIGUOUS"]


def test_non_contiguous_logits(synth):
    _, instance = synth(seed=1)
    bat = _bat(instance, 8)
    logits = instance["logits"][0]
    wide = np.zeros((logits.size, 3), dtype=np.float32)
    wide[:, 1] = logits
    strided = wide[:, 1]
    assert not strided.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(bat.truncate(strided).kept, bat.truncate(logits).kept)
    batch = np.asfortranarray(instance["logits"])
    for b, row in zip(bat.truncate_batch(batch), instance["logits"]):
        np.testing.assert_array_equal(b.kept, bat.truncate(row).kept)


def test_mask(synth):
    _, instance = synth(seed=0)
    bat = _bat(instance, 8)
    logits = instance["logits"][1].astype(np.float64)
    masked = bat.mask(logits)
    assert masked.dtype == np.float32 and masked.shape == logits.shape
    kept = bat.truncate(logits).kept
    keep = np.zeros(logits.size, dtype=bool)
    keep[kept] = True
    assert np.all(np.isneginf(masked[~keep]))
    np.testing.assert_array_equal(masked[keep], logits[keep].astype(np.float32))
    assert logits.dtype == np.float64 and np.isfinite(logits).all()  # the input is not touched
    rows = bat.mask(instance["logits"])
    for row, logit_row in zip(rows, instance["logits"]):
        np.testing.assert_array_equal(row, bat.mask(logit_row))


def test_sample_is_seeded_and_kept(synth):
    _, instance = synth(seed=2)
    bat = _bat(instance, 8)
    logits = instance["logits"][0]
    kept = set(bat.truncate(logits).kept.tolist())
    draws = [bat.sample(logits, seed) for seed in range(200)]
    assert draws == [bat.sample(logits, seed) for seed in range(200)]
    assert set(draws) <= kept
    assert len(set(draws)) > 1


def test_sample_from_draws_kept_tokens(synth):
    _, instance = synth(seed=2)
    bat = _bat(instance, 8)
    logits, proposal = instance["logits"][0], instance["logits"][1]
    kept = set(bat.truncate(logits).kept.tolist())
    draws = {bat.sample_from(proposal, logits, seed) for seed in range(100)}
    assert draws <= kept


def test_save_and_load(synth, tmp_path):
    _, instance = synth(seed=0)
    basis = Basis.svd(instance["embedding"], 8)
    basis.save(tmp_path / "b.safetensors", {"model": "synthetic"})
    loaded = Basis.load(tmp_path / "b.safetensors")
    assert (loaded.vocab, loaded.dim, loaded.kind) == (2000, 8, "svd")
    logits = instance["logits"][0]
    np.testing.assert_array_equal(Bat(loaded).truncate(logits).kept,
                                  Bat(basis).truncate(logits).kept)
    assert Basis.explicit(np.ones((5, 2))).kind == "explicit"
    assert "vocab=2000" in repr(basis)


def test_bad_input_raises_value_error(synth, tmp_path):
    _, instance = synth(seed=0)
    w, logits = instance["embedding"], instance["logits"][0]
    bat = _bat(instance, 8)
    nan = logits.copy()
    nan[3] = np.nan
    cases = [
        ("logit 3 is NaN", lambda: bat.truncate(nan)),
        ("shape mismatch", lambda: bat.truncate(logits[:-1])),
        ("every logit is -inf", lambda: bat.truncate(np.full(logits.size, -np.inf))),
        ("1-D array", lambda: bat.truncate(instance["logits"])),
        ("2-D array", lambda: bat.truncate_batch(logits)),
        ("float16, float32 or float64", lambda: bat.truncate(np.arange(2000))),
        ("1-D array", lambda: bat.truncate("not logits")),
        ("expected NAME=VALUE", lambda: Bat(bat.basis, rule="eta-0.1")),
        ("unknown rule", lambda: Bat(bat.basis, rule="beta=0.1")),
        ("eta must lie in (0, 1)", lambda: Bat(bat.basis, rule="eta=2")),
        ("unknown backend", lambda: Bat(bat.basis, backend="cplex")),
        ("time_limit must be", lambda: Bat(bat.basis, time_limit=-1.0)),
        ("temperature must be", lambda: Bat(bat.basis, temperature=0.0)),
        ("svd rank", lambda: Basis.svd(w, 0)),
        ("entries must be finite", lambda: Basis.full(np.full((4, 2), np.inf, dtype=np.float32))),
        ("2-D array", lambda: Basis.full(logits)),
        ("seed must be", lambda: bat.sample(logits, -1)),
        ("missing.safetensors", lambda: Basis.load(tmp_path / "missing.safetensors")),
        ("shape mismatch", lambda: bat.sample_from(logits[:10], logits, 0)),
    ]
    for message, call in cases:
        with pytest.raises(ValueError) as info:
            call()
        assert message in str(info.value), (message, str(info.value))
    # The Bat still works after every error.
    np.testing.assert_array_equal(bat.truncate(logits).kept, _bat(instance, 8).truncate(logits).kept)


def test_gil_is_released_during_decisions(synth):
    # A step that takes tens of milliseconds (every token below tau kept by an LP).
    _, instance = synth(vocab=5000, dim=32, steps=1, seed=5)
    bat = _bat(instance, 16)
    logits = instance["logits"][0]
    span = {}

    def decide():
        span["start"] = time.perf_counter()
        span["result"] = bat.truncate(logits)
        span["end"] = time.perf_counter()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        worker = threading.Thread(target=decide)
        ticks = []
        worker.start()
        while worker.is_alive():
            ticks.append(time.perf_counter())
        worker.join()
    finally:
        sys.setswitchinterval(old)
    inside = [t for t in ticks if span["start"] < t < span["end"]]
    duration = span["end"] - span["start"]
    assert duration > 0.01, f"the call took {duration:.4f} s: too short to tell"
    # Holding the GIL for the whole call would leave the main thread no tick inside it.
    assert len(inside) > 100, (len(inside), duration)


def test_version_and_reprs(synth):
    _, instance = synth(seed=0)
    assert basis_aware.__version__
    bat = _bat(instance, 8, rule="epsilon=0.001", temperature=0.7)
    assert bat.rule == "epsilon=0.001" and bat.backend == "simplex" and bat.temperature == 0.7
    assert "Bat(Basis(svd(c=8)" in repr(bat)


def test_time_limit_leaves_tokens_undecided(synth):
    _, instance = synth(seed=0)
    logits = instance["logits"][0]
    exact = _bat(instance, 8).truncate(logits)
    rushed = _bat(instance, 8, time_limit=1e-9).truncate(logits)
    assert exact.counts["dual_kept"] > 0 and len(exact.undecided) == 0
    # No LP starts after the deadline: what the LPs would decide is left undecided (dropped).
    assert len(rushed.undecided) > 0
    assert set(rushed.kept.tolist()) <= set(exact.kept.tolist())


def test_temperature_reshapes_draws_within_the_kept_set(synth):
    _, instance = synth(seed=2)
    logits = instance["logits"][0]
    kept = set(_bat(instance, 8).truncate(logits).kept.tolist())
    cold, hot = _bat(instance, 8, temperature=0.05), _bat(instance, 8, temperature=5.0)
    cold_draws = [cold.sample(logits, seed) for seed in range(100)]
    hot_draws = [hot.sample(logits, seed) for seed in range(100)]
    assert set(cold_draws) <= kept and set(hot_draws) <= kept
    assert len(set(hot_draws)) > len(set(cold_draws))
