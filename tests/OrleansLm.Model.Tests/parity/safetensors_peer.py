"""Independent safetensors reader and writer for SafetensorsTests (struct + json + numpy, no safetensors library).

Usage: /usr/bin/python3 safetensors_peer.py read FILE.safetensors OUT.json
       /usr/bin/python3 safetensors_peer.py write SPEC.json FILE.safetensors
read:  OUT.json = {"metadata": {...}, "tensors": {name: {"dtype", "shape", "values" (as float or int)}}}
write: SPEC.json = {"metadata": {...}, "tensors": {name: {"dtype", "shape", "values"}}}; tensors are laid
       out in reverse name order so the reader cannot rely on the writer's order.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
          "U8": np.uint8, "BOOL": np.bool_}


def decode(dtype, raw):
    if dtype == "BF16":  # numpy has no bfloat16: widen the 16 high bits into float32
        halves = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return halves.view(np.float32)
    return np.frombuffer(raw, dtype=np.dtype(DTYPES[dtype]).newbyteorder("<"))


def read(path, out):
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length].decode("utf-8"))
    data = blob[8 + length:]
    result = {"metadata": header.pop("__metadata__", {}), "tensors": {}}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        values = decode(entry["dtype"], data[begin:end])
        result["tensors"][name] = {"dtype": entry["dtype"], "shape": entry["shape"], "values": values.tolist()}
    with open(out, "w") as f:
        json.dump(result, f)


def write(spec_path, path):
    with open(spec_path) as f:
        spec = json.load(f)
    header, chunks, offset = {}, [], 0
    if spec.get("metadata"):
        header["__metadata__"] = spec["metadata"]
    for name in sorted(spec["tensors"], reverse=True):
        entry = spec["tensors"][name]
        raw = np.asarray(entry["values"], dtype=np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<")).tobytes()
        header[name] = {"dtype": entry["dtype"], "shape": entry["shape"], "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header).encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("read", "write"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    (read if sys.argv[1] == "read" else write)(sys.argv[2], sys.argv[3])
