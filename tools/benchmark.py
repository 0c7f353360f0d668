"""Measure, don't guess: notebook smoke times, VectorQuantizer and k-NN entropy throughput.

    python tools/benchmark.py                 # all three parts
    python tools/benchmark.py --vq-only       # only the VectorQuantizer comparison
    python tools/benchmark.py --knn-only      # only the k-NN entropy comparison
    python tools/benchmark.py --notebooks-only
    python tools/benchmark.py --crf-only      # only the CRF loss against pytorch-crf

1. **Notebooks**: executes every chapter once, one at a time, as CI does (smoke profile,
   network off, ``KEXUE_BOOK=1``) and prints the run time of each.
2. **VectorQuantizer**: forward + backward throughput (vectors per second) of
   ``kexue_lab.generative.vq.VectorQuantizer`` next to a straightforward reference written
   the obvious way (broadcast differences, squared norm, argmin, gather), in the same run,
   on the same inputs, after checking that both give the same codes, output and loss.
3. **k-NN entropy**: ``kexue_lab.generative.eae.knn_entropy`` (brute force: the distance
   matrix by one matrix product per chunk of rows, then ``argmin``/``topk``) next to the same
   Kozachenko–Leonenko estimate from ``scipy.spatial.cKDTree`` + ``scipy.special.digamma``,
   for N in (1000, 5000, 20000) and d in (2, 8, 32), float64, after checking that both give
   the same value (on a GPU only ours is timed; the k-d tree is CPU-only).

4. **CRF loss**: ``kexue_lab.sequences.crf.crf_nll`` next to ``torchcrf.CRF`` (pytorch-crf
   0.7.2) with its start and end transitions set to zero (the same model): the largest
   difference of the per-sequence NLL (float32, relative, and float64, absolute) and the
   forward + backward time for B = 64, n = 50 (random lengths), K = 10 and 50, on CPU with one
   thread, float32 (median of repeats), and the ratio pytorch-crf time / ours (chapter 32).

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import book  # noqa: E402


def reference_vq(
    z: torch.Tensor, codebook: torch.Tensor, beta: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The textbook VQ step: broadcast (z − e)², argmin, gather, straight-through, two losses."""
    flat = z.reshape(-1, z.shape[-1])
    dist = ((flat[:, None, :] - codebook[None, :, :]) ** 2).sum(-1)
    codes = dist.argmin(dim=1)
    e = codebook[codes].reshape(z.shape)
    loss = torch.mean((z.detach() - e) ** 2) + beta * torch.mean((z - e.detach()) ** 2)
    z_q = z + (e - z).detach()
    return z_q, loss, codes.reshape(z.shape[:-1])


def _time(fn, repeats: int, device: torch.device) -> float:
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def vq_benchmark(device: torch.device, n: int, dim: int, num_codes: int, repeats: int = 10) -> dict:
    from kexue_lab.generative.vq import VectorQuantizer

    torch.manual_seed(0)
    vq = VectorQuantizer(num_codes, dim, beta=0.25).to(device)
    z = torch.randn(n, dim, device=device, requires_grad=True)

    def ours() -> None:
        z_q, loss, _ = vq(z)
        (z_q.square().mean() + loss).backward()

    def ref() -> None:
        z_q, loss, _ = reference_vq(z, vq.codebook, 0.25)
        (z_q.square().mean() + loss).backward()

    with torch.no_grad():
        a, b = vq(z), reference_vq(z, vq.codebook, 0.25)
    same_codes = float((a[2] == b[2]).float().mean())
    max_dz = float((a[0] - b[0]).abs().max())
    loss_gap = abs(float(a[1]) - float(b[1]))
    for fn in (ours, ref):  # warm-up
        fn()
    t_ours, t_ref = _time(ours, repeats, device), _time(ref, repeats, device)
    return {
        "device": _device_label(device),
        "n": n,
        "dim": dim,
        "num_codes": num_codes,
        "ours_vectors_per_s": n / t_ours,
        "reference_vectors_per_s": n / t_ref,
        "speedup": t_ref / t_ours,
        "same_codes_fraction": same_codes,
        "max_abs_diff_z_q": max_dz,
        "loss_gap": loss_gap,
    }


def _device_label(device: torch.device) -> str:
    """The GPU's name, or the CPU and its thread count (what a timing was measured on)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(0)
    return f"cpu ({torch.get_num_threads()} threads)"


def reference_knn_entropy(z, k: int = 1) -> float:
    """Kozachenko–Leonenko with a k-d tree: ψ(N) − ψ(k) + log V_d + (d/N) Σ log r_i."""
    import numpy as np
    from scipy.spatial import cKDTree
    from scipy.special import digamma, gammaln

    n, d = z.shape
    dist, _ = cKDTree(z).query(z, k=k + 1)
    log_vd = 0.5 * d * np.log(np.pi) - gammaln(0.5 * d + 1)
    return float(digamma(n) - digamma(k) + log_vd + d * np.mean(np.log(dist[:, k])))


def knn_benchmark(device: torch.device, n: int, dim: int, k: int = 1) -> dict:
    from kexue_lab.generative.eae import knn_entropy

    torch.manual_seed(0)
    z = torch.randn(n, dim, dtype=torch.float64, device=device)
    z_np = z.cpu().numpy()
    gap = abs(float(knn_entropy(z, k)) - reference_knn_entropy(z_np, k))
    repeats = 3 if n <= 5000 else 1
    ref_fn = (lambda: reference_knn_entropy(z_np, k)) if device.type == "cpu" else None
    t_ours = _time(lambda: knn_entropy(z, k), repeats, device)
    t_ref = _time(ref_fn, repeats, device) if ref_fn else float("nan")
    return {
        "device": _device_label(device),
        "n": n,
        "dim": dim,
        "k": k,
        "ours_seconds": t_ours,
        "ckdtree_seconds": t_ref,
        "speedup": t_ref / t_ours,
        "abs_gap": gap,
    }


def crf_benchmark(k: int, b: int = 64, n: int = 50, repeats: int = 20) -> dict:
    """crf_nll against pytorch-crf (zero start/end transitions): agreement and fwd+bwd time."""
    from torchcrf import CRF

    from kexue_lab.sequences.crf import crf_nll

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    em = torch.randn(b, n, k, requires_grad=True)
    tags = torch.randint(0, k, (b, n))
    lengths = torch.randint(1, n + 1, (b,))
    lengths[0] = n
    mask = torch.arange(n) < lengths[:, None]
    ref = CRF(k, batch_first=True)
    with torch.no_grad():
        ref.start_transitions.zero_()
        ref.end_transitions.zero_()
    trans = ref.transitions
    with torch.no_grad():
        want = -ref(em, tags, mask, reduction="none")
        got = crf_nll(em, trans, tags, mask)
        rel32 = float(((got - want).abs() / want.abs()).max())
        ref64 = CRF(k, batch_first=True).double()
        ref64.load_state_dict(ref.state_dict())
        want64 = -ref64(em.double(), tags, mask, reduction="none")
        abs64 = float((crf_nll(em.double(), trans.double(), tags, mask) - want64).abs().max())

    def ours() -> None:
        em.grad = None
        crf_nll(em, trans, tags, mask).sum().backward()

    def theirs() -> None:
        em.grad = None
        (-ref(em, tags, mask, reduction="sum")).backward()

    for fn in (ours, theirs):  # warm-up
        fn()
    cpu = torch.device("cpu")
    t_ours, t_ref = _time(ours, repeats, cpu), _time(theirs, repeats, cpu)
    row = {
        "device": _device_label(cpu),
        "B": b,
        "n": n,
        "K": k,
        "ours_ms": 1e3 * t_ours,
        "pytorch_crf_ms": 1e3 * t_ref,
        "speedup": t_ref / t_ours,
        "max_rel_diff_float32": rel32,
        "max_abs_diff_float64": abs64,
    }
    torch.set_num_threads(threads)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--vq-only", action="store_true")
    ap.add_argument("--knn-only", action="store_true")
    ap.add_argument("--notebooks-only", action="store_true")
    ap.add_argument("--crf-only", action="store_true")
    ap.add_argument("--out", default="_build/benchmark.json")
    args = ap.parse_args()
    report: dict = {}
    if args.crf_only:
        args.vq_only = args.knn_only = args.notebooks_only = False
    if not (args.vq_only or args.knn_only or args.crf_only):
        stage = book.ROOT / "_stage_bench"
        book.stage(stage)
        report["notebooks_smoke_seconds"] = book.execute(stage, jobs=1)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    if not (args.notebooks_only or args.knn_only or args.crf_only):
        rows = []
        for device in devices:
            for n, dim, k in [(4096, 64, 512), (16384, 64, 512)] + (
                [(65536, 64, 512), (262144, 64, 1024)] if device.type == "cuda" else []
            ):
                rows.append(vq_benchmark(device, n, dim, k))
        report["vector_quantizer"] = rows
        print(
            f"\n{'device':<28}{'N':>8}{'d':>5}{'K':>6}{'ours vec/s':>14}"
            f"{'reference vec/s':>17}{'speed-up':>10}{'same codes':>12}"
        )
        for r in rows:
            print(
                f"{r['device']:<28}{r['n']:>8}{r['dim']:>5}{r['num_codes']:>6}{r['ours_vectors_per_s']:>14.3g}"
                f"{r['reference_vectors_per_s']:>17.3g}{r['speedup']:>9.1f}×{r['same_codes_fraction']:>12.4f}"
            )
    if not (args.notebooks_only or args.vq_only or args.crf_only):
        rows = []
        for device in devices:
            for n in (1000, 5000, 20000):
                for dim in (2, 8, 32):
                    rows.append(knn_benchmark(device, n, dim))
        report["knn_entropy"] = rows
        print(
            f"\n{'device':<28}{'N':>7}{'d':>4}{'ours s':>11}{'cKDTree s':>11}"
            f"{'speed-up':>10}{'|gap|':>10}"
        )
        for r in rows:
            print(
                f"{r['device']:<28}{r['n']:>7}{r['dim']:>4}{r['ours_seconds']:>11.3g}"
                f"{r['ckdtree_seconds']:>11.3g}{r['speedup']:>9.2f}×{r['abs_gap']:>10.1e}"
            )
    if not (args.notebooks_only or args.vq_only or args.knn_only):
        rows = [crf_benchmark(k) for k in (10, 50)]
        report["crf_nll"] = rows
        print(
            f"\n{'device':<20}{'B':>4}{'n':>4}{'K':>4}{'ours ms':>10}{'pytorch-crf ms':>16}"
            f"{'speed-up':>10}{'rel diff f32':>14}{'abs diff f64':>14}"
        )
        for r in rows:
            print(
                f"{r['device']:<20}{r['B']:>4}{r['n']:>4}{r['K']:>4}{r['ours_ms']:>10.2f}"
                f"{r['pytorch_crf_ms']:>16.2f}{r['speedup']:>9.2f}×"
                f"{r['max_rel_diff_float32']:>14.1e}{r['max_abs_diff_float64']:>14.1e}"
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
