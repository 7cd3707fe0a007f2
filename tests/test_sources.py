import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import full_mnist_dir, needs_full_mnist, write_tiny_set
from mnistlab.data import sources
from mnistlab.data.idx import IDX_FILES
from mnistlab.data.sources import SetInfo, load_dataset
from mnistlab.errors import UserError


def test_data_dir_is_used_first(tiny_idx_dir, monkeypatch):
    monkeypatch.setenv("MNISTLAB_DATA", "/nonexistent")
    ds = load_dataset("mnist", tiny_idx_dir)
    assert (ds.source, ds.path) == ("data-dir", str(tiny_idx_dir))
    assert ds.train_images.shape == (600, 28, 28) and ds.train_images.dtype == np.uint8
    assert ds.test_labels.dtype == np.int64 and len(ds.test_labels) == 200


def test_data_dir_may_be_the_parent_of_the_set(tiny_idx_dir):
    assert load_dataset("mnist", tiny_idx_dir.parent / tiny_idx_dir.name).source == "data-dir"
    parent = tiny_idx_dir.parent
    (parent / "mnist").mkdir(exist_ok=True)
    for f in tiny_idx_dir.iterdir():
        target = parent / "mnist" / f.name
        if not target.exists():
            target.symlink_to(f)
    assert load_dataset("mnist", parent).path == str(parent / "mnist")


def test_env_then_cache(tmp_path, sample, monkeypatch):
    write_tiny_set(tmp_path / "env" / "kmnist", sample, gz=False)
    monkeypatch.setenv("MNISTLAB_DATA", str(tmp_path / "env"))
    assert load_dataset("kmnist").source == "env"
    write_tiny_set(tmp_path / "cache" / "fashion-mnist", sample)
    monkeypatch.setenv("MNISTLAB_CACHE", str(tmp_path / "cache"))
    ds = load_dataset("fashion-mnist")
    assert ds.source == "cache" and ds.classes[0] == "T-shirt/top"


def test_unknown_dataset_and_missing_dir():
    with pytest.raises(UserError, match="unknown dataset 'emnist'; choose one of: mnist"):
        load_dataset("emnist")
    with pytest.raises(UserError, match="data path /no/such/dir does not exist"):
        load_dataset("mnist", "/no/such/dir")


def test_folder_without_the_files(tmp_path):
    with pytest.raises(UserError, match="holds no data set mnistlab reads; give an IDX folder"):
        load_dataset("mnist", tmp_path)


def test_image_label_count_mismatch_is_named(tmp_path, sample):
    paths = write_tiny_set(tmp_path, sample)
    from mnistlab.data.idx import write_idx

    write_idx(paths["train-labels-idx1-ubyte"], sample.train_labels[:599].astype(np.uint8))
    with pytest.raises(UserError, match="train images and labels disagree \\(600 images, 599 labels\\)"):
        load_dataset("mnist", tmp_path)


def test_sample_is_stratified_and_disjoint(sample):
    assert (len(sample.train_labels), len(sample.test_labels)) == (4000, 1000)
    assert np.bincount(sample.test_labels).tolist() == [100] * 10
    assert np.bincount(sample.train_labels).tolist() == [400] * 10
    train = {im.tobytes() for im in sample.train_images}
    assert not any(im.tobytes() in train for im in sample.test_images)


@needs_full_mnist
def test_full_mnist_matches_the_canonical_order():
    ds = load_dataset("mnist", full_mnist_dir())
    assert (len(ds.train_labels), len(ds.test_labels)) == (60000, 10000)
    assert ds.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert ds.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


# --- downloads, for real, from an HTTP server on 127.0.0.1 ---------------------------------------

class Mirror:
    """A loopback HTTP server serving a folder; `drop` names files it cuts off halfway."""

    def __init__(self, folder: Path):
        self.folder, self.drop, self.requests = folder, set(), []
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                mirror.requests.append(self.path)
                path = mirror.folder / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if path.name in mirror.drop:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the connection drops mid-file
                    return
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror(tmp_path, sample, monkeypatch):
    """A loopback mirror of a tiny 'mnist', registered with the right MD5s; the cache is empty."""
    served = tmp_path / "served"
    served.mkdir()
    paths = write_tiny_set(served, sample)
    md5 = {role: hashlib.md5(paths[stem].read_bytes()).hexdigest() for role, stem in IDX_FILES.items()}
    monkeypatch.setitem(sources.REGISTRY, "mnist", SetInfo("mnist", ("unused",), md5))
    monkeypatch.setenv("MNISTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MNISTLAB_DATA", raising=False)
    server = Mirror(served)
    monkeypatch.setenv("MNISTLAB_MIRROR", server.url)
    yield server
    server.close()


def cached(tmp_path) -> list[str]:
    folder = tmp_path / "cache" / "mnist"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_caches(mirror, tmp_path):
    ds = load_dataset("mnist")
    assert ds.source == "download" and len(ds.train_labels) == 600
    assert cached(tmp_path) == sorted(f"{stem}.gz" for stem in IDX_FILES.values())
    n = len(mirror.requests)
    assert load_dataset("mnist").source == "cache" and len(mirror.requests) == n


def test_checksum_mismatch_keeps_nothing(mirror, tmp_path, monkeypatch):
    info = sources.REGISTRY["mnist"]
    monkeypatch.setitem(sources.REGISTRY, "mnist", SetInfo("mnist", info.mirrors, {**info.md5, "test-images": "0" * 32}))
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte.gz failed verification.*checksum mismatch"):
        load_dataset("mnist")
    assert "t10k-images-idx3-ubyte.gz" not in cached(tmp_path)
    assert not [name for name in cached(tmp_path) if name.endswith(".tmp")]


def test_connection_dropped_mid_file_keeps_nothing_and_falls_back(mirror, tmp_path, capsys, caplog):
    mirror.drop.add("train-images-idx3-ubyte.gz")
    ds = load_dataset("mnist")
    assert ds.name == "mnist-sample" and "using mnist-sample" in ds.notice
    assert capsys.readouterr() == ("", "")  # a library function prints nothing: the notice is returned and logged
    assert [r.getMessage() for r in caplog.records if r.name == "mnistlab.data"] == [ds.notice]
    assert "train-images-idx3-ubyte.gz" not in cached(tmp_path)
    assert not [name for name in cached(tmp_path) if name.endswith(".tmp")]
    mirror.drop.clear()
    assert load_dataset("mnist").source == "download"  # the next try completes the cache


def test_offline_non_mnist_set_is_an_error(monkeypatch):
    monkeypatch.delenv("MNISTLAB_DATA", raising=False)
    with pytest.raises(UserError, match="kmnist is not available offline"):
        load_dataset("kmnist")


def test_bad_label_values_and_mixed_sizes_are_named(tmp_path, sample):
    from mnistlab.data.idx import write_idx

    paths = write_tiny_set(tmp_path, sample)
    write_idx(paths["train-labels-idx1-ubyte"], np.full(600, -1, np.int8))
    with pytest.raises(UserError, match="labels span -1..-1, outside 0..9"):
        load_dataset("mnist", tmp_path)
    paths = write_tiny_set(tmp_path, sample)
    write_idx(paths["t10k-images-idx3-ubyte"], np.zeros((200, 32, 32), np.uint8))
    with pytest.raises(UserError, match="train images are 28x28 but test images are 32x32"):
        load_dataset("mnist", tmp_path)
    paths = write_tiny_set(tmp_path, sample)
    write_idx(paths["train-images-idx3-ubyte"], np.zeros((600, 28, 28), np.float32))
    with pytest.raises(UserError, match="expected at least one uint8 image"):
        load_dataset("mnist", tmp_path)


def test_incomplete_env_folder_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    monkeypatch.setenv("MNISTLAB_DATA", str(tmp_path))
    with pytest.raises(UserError, match="lacks some of the four mnist IDX files"):
        load_dataset("mnist")


def test_chunked_response_cut_off_is_a_connection_failure(mirror, tmp_path, monkeypatch):
    import http.client

    def cut(*args, **kwargs):
        raise http.client.IncompleteRead(b"partial", 100)

    monkeypatch.setattr(sources.urllib.request, "urlopen", cut)
    assert load_dataset("mnist").name == "mnist-sample"
    assert cached(tmp_path) == []
