"""metrics.embedders.weights: lookup order, the checksummed one-time download into the cache,
and the errors when a file is absent (offline)."""

import hashlib
import io
import urllib.error
import urllib.request

import pytest

from core.errors import WeightsNotFoundError
from metrics.embedders.weights import resolve_weights_file
from metrics.errors import MetricError

PAYLOAD = b"official weights bytes" * 1000
URL = "https://example.org/files/model-1234.pth"


@pytest.fixture
def online(monkeypatch):
    """urlopen served from memory; records the URLs asked for."""
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)
    asked = []

    def urlopen(url, timeout=None):
        asked.append(url)
        return io.BytesIO(PAYLOAD)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


def test_absent_file_is_downloaded_once_into_the_cache_when_its_checksum_matches(tmp_path, online):
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    got = resolve_weights_file("Model", None, "model-1234.pth", URL, tmp_path, checksum=("sha256", sha))
    assert got == tmp_path / "weights" / "model-1234.pth" and got.read_bytes() == PAYLOAD
    assert online == [URL]
    again = resolve_weights_file("Model", None, "model-1234.pth", URL, tmp_path, checksum=("sha256", sha))
    assert again == got and online == [URL]  # found in the cache: no second download
    # a torch.hub-style prefix and an md5 are accepted too
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    resolve_weights_file("Model", None, "other.pth", URL, tmp_path / "b", checksum=("sha256", sha[:8]))
    resolve_weights_file("Model", None, "other.pth", URL, tmp_path / "c", checksum=("md5", md5))
    assert len(online) == 3


def test_a_download_with_the_wrong_checksum_is_refused_and_not_kept(tmp_path, online):
    with pytest.raises(MetricError, match=r"model-1234.pth: the downloaded file's md5 is .* not the official 0{32}"):
        resolve_weights_file("Model", None, "model-1234.pth", URL, tmp_path, checksum=("md5", "0" * 32))
    assert not (tmp_path / "weights" / "model-1234.pth").exists()
    assert list((tmp_path / "weights").glob("*")) == []  # no partial file either


def test_offline_absent_file_is_named_with_url_and_place(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)

    def unreachable(url, timeout=None):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(WeightsNotFoundError) as e:
        resolve_weights_file("Model", None, "model-1234.pth", URL, tmp_path, checksum=("md5", "0" * 32))
    msg = str(e.value)
    assert "model-1234.pth" in msg and "download failed" in msg and URL in msg
    assert str(tmp_path / "weights") in msg


def test_explicit_checkpoint_is_never_downloaded_and_bench_offline_is_respected(tmp_path, online, monkeypatch):
    with pytest.raises(WeightsNotFoundError, match="missing.pth: Model weights file not found"):
        resolve_weights_file("Model", tmp_path / "missing.pth", "model-1234.pth", URL, tmp_path,
                             checksum=("md5", "0" * 32))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError, match="BENCH_OFFLINE is set"):
        resolve_weights_file("Model", None, "model-1234.pth", URL, tmp_path, checksum=("md5", "0" * 32))
    assert online == []


def test_embedders_pin_the_official_checksums():
    from metrics.embedders.cnn14 import OFFICIAL_CHECKSUMS, OFFICIAL_FILES
    from metrics.embedders.vggish import VGGISH_CHECKSUM, VGGISH_FILE

    assert set(OFFICIAL_CHECKSUMS) == set(OFFICIAL_FILES) == {16000, 32000}
    assert OFFICIAL_CHECKSUMS[16000] == ("md5", "362fc5ff18f1d6ad2f6d464b45893f2c")
    assert VGGISH_FILE.split("-")[-1].split(".")[0] == VGGISH_CHECKSUM[1]
