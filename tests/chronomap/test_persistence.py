"""Saving and loading: dicts, JSON, pickle (compressed or not), and atomic writes."""

from __future__ import annotations

import json
import os
import pickle
import zlib
from pathlib import Path

import pytest

from chronomap import ChronoMap, ChronoMapTypeError, ChronoMapValueError
from chronomap import map as map_module


@pytest.fixture
def cm() -> ChronoMap:
    cm = ChronoMap()
    cm.put("temp", 20, timestamp=100)
    cm.put("temp", 22, timestamp=200)
    cm.put("list", [1, 2, {"deep": True}], timestamp=150)
    cm.put("none", None, timestamp=1)
    return cm


def assert_same(one: ChronoMap, two: ChronoMap) -> None:
    assert one.keys() == two.keys()
    for key in one:
        assert one.history(key) == two.history(key)


def test_to_dict_layout(cm: ChronoMap) -> None:
    data = cm.to_dict()
    assert isinstance(data, dict)
    assert data["store"]["temp"] == [(100.0, 20), (200.0, 22)]
    assert data["ttl"] == {}
    assert data["version"] == "2.1.0"
    data["store"]["list"][0][1].append("changed")  # the dict is a copy
    assert cm["list"] == [1, 2, {"deep": True}]


def test_dict_round_trip(cm: ChronoMap) -> None:
    data = cm.to_dict()
    again = ChronoMap.from_dict(data)
    assert_same(cm, again)
    data["store"]["list"][0][1].append("later")  # from_dict copies too
    assert again["list"] == [1, 2, {"deep": True}]
    assert ChronoMap.from_dict(data, use_rwlock=True)["temp"] == 22


def test_compressed_dict(cm: ChronoMap) -> None:
    big = ChronoMap()
    big.put_many({f"key{i}": f"value{i}" * 100 for i in range(100)})
    compressed = big.to_dict(compress=True)
    assert isinstance(compressed, bytes)
    assert len(compressed) < len(pickle.dumps(big.to_dict()))
    assert_same(ChronoMap.from_dict(compressed), big)
    assert_same(ChronoMap.from_dict(cm.to_dict(compress=True)), cm)


def test_ttl_round_trip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    now = [1000.0]
    monkeypatch.setattr(map_module, "_time", lambda: now[0])
    cm = ChronoMap()
    cm.put("session", "abc", ttl=10)
    cm.put("perm", 1)
    cm.save_json(tmp_path / "s.json")
    cm.save_pickle(tmp_path / "s.pkl")
    for again in (
        ChronoMap.from_dict(cm.to_dict()),
        ChronoMap.load_json(tmp_path / "s.json"),
        ChronoMap.load_pickle(tmp_path / "s.pkl"),
    ):
        assert again["session"] == "abc"
        now[0] = 1011.0
        assert "session" not in again
        assert again["perm"] == 1
        now[0] = 1000.0


def test_json_round_trip(cm: ChronoMap, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    cm.save_json(path)
    json.loads(path.read_text())  # valid JSON
    assert_same(ChronoMap.load_json(path), cm)
    assert_same(ChronoMap.load_json(str(path)), cm)


def test_json_keeps_key_types(tmp_path: Path) -> None:
    cm = ChronoMap()
    keys = ["1", 1, 2.5, False, None, ("user", 7), ("nested", (1, "a"))]
    for index, key in enumerate(keys):
        cm.put(key, index, timestamp=index, ttl=1000 if index % 2 else None)
    cm.save_json(tmp_path / "keys.json")
    again = ChronoMap.load_json(tmp_path / "keys.json")
    assert set(again.keys()) == set(keys)
    assert [type(key) for key in again] == [type(key) for key in keys]
    assert again.latest() == cm.latest()
    assert again.to_dict()["ttl"] == cm.to_dict()["ttl"]


def test_json_refuses_keys_it_cannot_represent(tmp_path: Path) -> None:
    cm = ChronoMap()
    cm[frozenset({1})] = "x"
    with pytest.raises(ChronoMapTypeError, match="frozenset"):
        cm.save_json(tmp_path / "bad.json")
    assert list(tmp_path.iterdir()) == []


def test_failed_json_save_names_the_key_and_keeps_the_old_file(
    cm: ChronoMap, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    cm.save_json(path)
    before = path.read_bytes()
    cm.put("bad", object())
    with pytest.raises(ChronoMapTypeError, match="'bad'") as caught:
        cm.save_json(path)
    assert "save_pickle" in str(caught.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left behind


def test_interrupted_write_keeps_the_old_file(
    cm: ChronoMap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.pkl"
    cm.save_pickle(path)
    before = path.read_bytes()

    def crash(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    cm["more"] = 1
    with pytest.raises(OSError, match="disk full"):
        cm.save_pickle(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["state.pkl"]


def test_loads_chronomap_2_json(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(
        json.dumps(
            {
                "store": {"key": [[200.0, "new"], [100.0, "value"]]},
                "ttl": {},
                "snapshot_time": None,
            }
        )
    )
    cm = ChronoMap.load_json(path)
    assert cm["key"] == "new"
    assert cm.history("key") == [(100.0, "value"), (200.0, "new")]


@pytest.mark.parametrize("compress", [False, True])
def test_pickle_round_trip(cm: ChronoMap, tmp_path: Path, compress: bool) -> None:
    path = tmp_path / "state.pkl"
    cm.save_pickle(path, compress=compress)
    raw = path.read_bytes()
    assert (raw[:1] == b"\x80") is not compress
    again = ChronoMap.load_pickle(path)
    assert_same(again, cm)
    assert again == cm


def test_pickle_compression_is_detected_and_smaller(tmp_path: Path) -> None:
    cm = ChronoMap()
    cm.put_many({f"k{i}": "repetitive " * 50 for i in range(50)})
    cm.save_pickle(tmp_path / "plain.pkl")
    cm.save_pickle(tmp_path / "small.pkl", compress=True)
    assert (tmp_path / "small.pkl").stat().st_size < (tmp_path / "plain.pkl").stat().st_size
    assert zlib.decompress((tmp_path / "small.pkl").read_bytes())
    assert ChronoMap.load_pickle(tmp_path / "plain.pkl") == ChronoMap.load_pickle(
        tmp_path / "small.pkl"
    )


def test_loads_chronomap_2_pickles(tmp_path: Path) -> None:
    data = {"store": {"x": [(100.0, 42)]}, "ttl": {}, "snapshot_time": None, "version": "2.1.0"}
    (tmp_path / "old.pkl").write_bytes(pickle.dumps(data))
    (tmp_path / "old.zpkl").write_bytes(zlib.compress(pickle.dumps(data)))
    (tmp_path / "proto0.pkl").write_bytes(pickle.dumps(data, protocol=0))
    for name in ("old.pkl", "old.zpkl", "proto0.pkl"):
        assert ChronoMap.load_pickle(tmp_path / name).history("x") == [(100.0, 42)]


@pytest.mark.parametrize(
    "payload",
    [b"", b"garbage", zlib.compress(b"not a pickle"), b"\x78\x9c broken zlib"],
    ids=["empty", "garbage", "zlib-not-pickle", "broken-zlib"],
)
def test_corrupt_pickles(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "bad.pkl"
    path.write_bytes(payload)
    with pytest.raises(ChronoMapValueError):
        ChronoMap.load_pickle(path)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"store": [1, 2]},
        {"store": {"k": [(-1, "v")]}},
        {"store": {"k": [("not a time", "v")]}},
        {"store": {"k": [1, 2, 3]}},
    ],
)
def test_malformed_dicts(data: dict) -> None:
    with pytest.raises(ChronoMapValueError):
        ChronoMap.from_dict(data)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_malformed_json_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ChronoMapValueError):
        ChronoMap.load_json(path)


def test_empty_map_round_trips(tmp_path: Path) -> None:
    cm = ChronoMap()
    cm.save_json(tmp_path / "e.json")
    cm.save_pickle(tmp_path / "e.pkl", compress=True)
    assert len(ChronoMap.load_json(tmp_path / "e.json")) == 0
    assert len(ChronoMap.load_pickle(tmp_path / "e.pkl")) == 0
    assert len(ChronoMap.from_dict(cm.to_dict())) == 0
