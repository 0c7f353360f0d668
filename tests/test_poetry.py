"""Chapter 05: the couplet data, the gated-convolution VAE and the poem measurements."""

from __future__ import annotations

import hashlib
import io
import json
import math
import tarfile

import numpy as np
import pytest
import torch

from kexue_lab.data import RemoteDataset, RemoteFile
from kexue_lab.generative import poetry as P
from kexue_lab.generative import poetry_data as D


def test_shipped_couplets_and_tone_table() -> None:
    poems = D.shipped()["poems"]
    assert len(poems) == 16602 and len(set(poems)) == len(poems)
    couplets = D.load_couplets("shipped")
    assert len(couplets) == 2 * len(poems)
    assert all(len(c) == 10 for c in couplets)
    ping, ze = D.tone_table()
    assert not ping & ze
    assert {"平", "天", "风", "山"} <= ping and {"仄", "月", "去", "不"} <= ze
    assert D.to_simplified("春眠不覺曉，處處聞啼鳥") == "春眠不觉晓，处处闻啼鸟"
    with pytest.raises(ValueError, match="source"):
        D.load_couplets("tang")
    with pytest.raises(TypeError, match="text"):
        D.to_simplified(3)


def test_extract_couplets_follows_the_article_filter() -> None:
    poems = [
        ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。"],
        ["床前明月光，疑是地上霜。", "舉頭望明月"],  # odd number of lines: dropped
        ["慈母手中線，遊子身上衣。臨行密密縫"],  # odd
        ["國破山河在，城春草木深！"],  # other punctuation also splits
        ["千山鳥飛絕，萬徑人蹤滅，孤舟蓑笠翁，獨釣寒江雪。x"],  # a non-Chinese line
        ["朝辭白帝彩雲間，千里江陵一日還。"],  # seven characters
    ]
    got = D.extract_couplets(poems)
    assert got == ["白日依山盡黃河入海流", "欲窮千里目更上一層樓", "國破山河在城春草木深"]
    assert D.extract_couplets(poems[-1:], n=7) == ["朝辭白帝彩雲間千里江陵一日還"]
    with pytest.raises(TypeError, match="paragraphs"):
        D.extract_couplets(["白日依山盡，黃河入海流。"])
    with pytest.raises(ValueError, match="n"):
        D.extract_couplets(poems, n=0)


def test_frequent_subset() -> None:
    couplets = ["甲甲甲甲甲乙乙乙乙乙", "甲甲甲甲甲丙丙丙丙丙", "丁甲甲甲甲乙乙乙乙乙"]
    assert D.frequent_subset(couplets, 2) == [couplets[0]]
    assert D.frequent_subset(couplets, None) == couplets
    with pytest.raises(ValueError, match="k"):
        D.frequent_subset(couplets, 0)


def _tarball(tmp_path) -> tuple[bytes, str]:
    poems = [
        {"id": "a", "paragraphs": ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。"]},
        {"id": "b", "paragraphs": ["朝辭白帝彩雲間，千里江陵一日還。"]},
    ]
    song = [{"id": "c", "paragraphs": ["國破山河在，城春草木深。"]}]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, items in (
            ("package/dist/quantangshi/poet.tang.0.json", poems),
            ("package/dist/quantangshi/poet.song.0.json", song),
        ):
            raw = json.dumps(items, ensure_ascii=False).encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    data = buf.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def test_full_loader_fetches_verifies_and_extracts(tmp_path) -> None:
    data, digest = _tarball(tmp_path)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "chinese-poetry-2.0.1.tgz").write_bytes(data)
    spec = RemoteFile("chinese-poetry-2.0.1.tgz", digest)
    good = RemoteDataset("poetry-test", {"tarball": spec}, (mirror.as_uri() + "/",))
    got = D.load_couplets("full", dataset=good, root=tmp_path / "cache")
    assert got == ["白日依山尽黄河入海流", "欲穷千里目更上一层楼"]  # Tang only, simplified
    assert (tmp_path / "cache" / "chinese-poetry-2.0.1.tgz").is_file()
    bad_spec = RemoteFile("chinese-poetry-2.0.1.tgz", "0" * 64)
    bad = RemoteDataset("poetry-test", {"tarball": bad_spec}, (mirror.as_uri() + "/",))
    with pytest.raises(Exception, match="SHA-256"):
        D.load_couplets("full", dataset=bad, root=tmp_path / "other")
    assert D.CHINESE_POETRY.mirrors[0].startswith("https://registry.npmjs.org/chinese-poetry/")


def test_vocab_round_trip_and_unknown() -> None:
    voc = P.Vocab(["春风又绿江南岸明月", "何时照我还春风又绿"])
    assert voc.chars[0] == P.UNKNOWN and voc.chars[1:] == sorted(voc.chars[1:])
    ids = voc.encode(["春风又绿江南岸明月", "春风又绿江南岸明天"])
    assert ids.dtype == torch.int64 and ids[1, -1] == 0
    assert voc.decode(ids)[0] == "春风又绿江南岸明月"
    with pytest.raises(ValueError, match="same length"):
        voc.encode(["春风", "春风又"])
    with pytest.raises(ValueError, match="at least one"):
        P.Vocab([])


def test_parameter_count_is_129v_plus_123648() -> None:
    for v in (2, 100, 6000):
        model = P.CoupletVAE(v)
        assert sum(p.numel() for p in model.parameters()) == 129 * v + 123648


def test_gated_conv_against_a_direct_sum() -> None:
    torch.manual_seed(0)
    layer = P.GatedConv1d(4, 3)
    h = torch.randn(2, 4, 7)
    w = layer.conv.weight  # (8, 4, 3)
    padded = torch.nn.functional.pad(h, (1, 1))
    conv = torch.zeros(2, 8, 7)
    for t in range(7):  # slow reference: the correlation written out
        conv[:, :, t] = torch.einsum("oik,bik->bo", w, padded[:, :, t : t + 3])
    expected = conv[:, :4] * torch.sigmoid(conv[:, 4:]) + h
    torch.testing.assert_close(layer(h), expected, atol=1e-6, rtol=1e-6)
    assert not P.GatedConv1d(4, residual=False).residual
    with pytest.raises(ValueError, match="odd"):
        P.GatedConv1d(4, 2)
    with pytest.raises(ValueError, match="channels"):
        P.GatedConv1d(0)


def test_model_shapes_loss_and_bad_input() -> None:
    torch.manual_seed(0)
    model = P.CoupletVAE(50, latent=8, hidden=16)
    x = torch.randint(0, 50, (5, 10))
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 8)
    assert model.decode(mu).shape == (5, 10, 50)
    rec, kl = model.elbo_terms(x)
    assert rec.shape == kl.shape == (5,) and (rec < 0).all() and (kl >= 0).all()
    loss, metrics = P.couplet_loss()(model, x)
    assert set(metrics) == {"nll", "kl"} and torch.isfinite(loss)
    with pytest.raises(TypeError, match="int64"):
        model.encode(x.float())
    with pytest.raises(ValueError, match="shape"):
        model.encode(x[:, :5])
    with pytest.raises(ValueError, match="vocab"):
        P.CoupletVAE(1)
    with pytest.raises(TypeError, match="CoupletVAE"):
        P.couplet_loss()(torch.nn.Linear(2, 2), x)


def test_kl_warmup_weights_the_kl_linearly() -> None:
    torch.manual_seed(0)
    model = P.CoupletVAE(20, latent=4, hidden=8)
    x = torch.randint(0, 20, (3, 10))
    loss = P.couplet_loss(warmup=4)
    weights = []
    for _ in range(6):
        torch.manual_seed(1)
        total, m = loss(model, x)
        weights.append(float((total.detach() - m["nll"]) / m["kl"]))
    assert weights == pytest.approx([0, 0.25, 0.5, 0.75, 1, 1], abs=1e-5)
    with pytest.raises(ValueError, match="warmup"):
        P.couplet_loss(warmup=-1)


def test_sampling() -> None:
    torch.manual_seed(0)
    model = P.CoupletVAE(30, latent=4, hidden=8)
    g = torch.Generator().manual_seed(0)
    ids = P.sample_couplets(model, 7, generator=g)
    assert ids.shape == (7, 10) and (ids > 0).all()
    g = torch.Generator().manual_seed(0)
    z = torch.randn(7, 4, generator=g)
    logits = model.decode(z)
    logits[..., 0] = -torch.inf
    assert torch.equal(ids, logits.argmax(-1))
    hot = P.sample_couplets(model, 2000, temperature=1.0, generator=g)
    assert (hot > 0).all() and len(torch.unique(hot)) > 20
    with pytest.raises(ValueError, match="temperature"):
        P.sample_couplets(model, 2, temperature=-1)


def test_tone_rule_rate_by_hand() -> None:
    ping, ze = {"平", "天"}, {"仄", "月"}
    good = "x平x仄x" + "x仄x平x"  # 平仄 | 仄平: every rule holds
    same = "x平x平x" + "x仄x仄x"  # 二四同
    mirror = "x平x仄x" + "x平x仄x"  # not opposed across the lines
    unknown = "x平x仄x" + "x仄x?x"
    known, rate = P.tone_rule_rate([good, same, mirror, unknown], ping, ze)
    assert known == 0.75 and rate == pytest.approx(1 / 3)
    assert P.tone_rule_rate(["x天x月xx月x天x"], ping, ze) == (1.0, 1.0)
    assert all(math.isnan(v) for v in P.tone_rule_rate([], ping, ze))
    with pytest.raises(ValueError, match="share"):
        P.tone_rule_rate([good], {"平"}, {"平"})
    with pytest.raises(ValueError, match="10 characters"):
        P.tone_rule_rate(["平仄"], ping, ze)


def test_novelty_and_distinct() -> None:
    train = ["一二三四五六七八九十", "甲乙丙丁戊己庚辛壬癸"]
    gen = ["一二三四五六七八九十", "一二三四五己庚辛壬癸", "子丑寅卯辰巳午未申酉"]
    got = P.novelty(gen, train)
    assert got == {"couplet": pytest.approx(2 / 3), "line": pytest.approx(2 / 6)}
    assert P.distinct_per_couplet(["风风风风风风风风风风", gen[0]]) == 5.5
    with pytest.raises(ValueError, match="generated"):
        P.novelty([], train)
    with pytest.raises(ValueError, match="couplets"):
        P.distinct_per_couplet([])


def test_kl_per_dim_and_active_units() -> None:
    torch.manual_seed(0)
    mu = torch.randn(500, 3) * torch.tensor([1.0, 0.05, 0.0])
    logvar = torch.randn(500, 3) * 0.1
    per = P.kl_per_dim(mu, logvar)
    direct = 0.5 * (mu**2 + logvar.exp() - logvar - 1).mean(0)  # the closed form, by hand
    torch.testing.assert_close(per, direct)
    assert per.sum() == pytest.approx(
        float(0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1).mean())
    )
    assert P.active_units(mu) == 1
    assert P.active_units(mu, threshold=1e-4) == 2
    with pytest.raises(ValueError, match="mu"):
        P.active_units(mu[:1])
    with pytest.raises(ValueError, match="threshold"):
        P.active_units(mu, threshold=0)
    with pytest.raises(ValueError, match="mu and logvar"):
        P.kl_per_dim(mu, logvar[:, :2])
    assert np.isfinite(per.numpy()).all()
