import gzip

import numpy as np
import pytest

from mnistlab.data.idx import decode_idx, encode_idx, read_idx, write_idx
from mnistlab.errors import UserError


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path, name, dtype):
    array = (np.arange(2 * 3 * 4).reshape(2, 3, 4) * 7 - 20).astype(dtype)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)


def test_gzip_detected_by_content_not_name(tmp_path):
    labels = np.array([5, 0, 4], np.uint8)
    (tmp_path / "labels").write_bytes(gzip.compress(encode_idx(labels)))
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), labels)


def test_canonical_header_layout():
    data = encode_idx(np.zeros((60000, 28, 28), np.uint8))
    assert data[:16] == bytes.fromhex("00000803 0000ea60 0000001c 0000001c")


@pytest.mark.parametrize("data, message", [
    (b"", "bad magic"),
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x07", "bad magic"),
    (b"\x00\x00\x42\x01\x00\x00\x00\x01\x07", "type code"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "payload has 2 bytes"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "payload has 2 bytes"),
])
def test_damaged_files_are_named(tmp_path, data, message):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(UserError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_is_named(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(encode_idx(np.zeros((10, 28, 28), np.uint8)))[:-20])
    with pytest.raises(UserError, match="corrupt or truncated gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_multibyte_values_come_back_in_native_byte_order():
    array = decode_idx(encode_idx(np.array([1, 2, 3], np.int32)))
    assert array.dtype == np.dtype("int32") and array.tolist() == [1, 2, 3]
