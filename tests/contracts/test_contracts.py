"""The gRPC contracts: committed stubs match the protos, and the API rules hold."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor

from scia.v1 import common_pb2, embedder_pb2, planner_pb2, rag_pb2

ROOT = Path(__file__).resolve().parents[2]
FILES = [common_pb2.DESCRIPTOR, embedder_pb2.DESCRIPTOR, rag_pb2.DESCRIPTOR, planner_pb2.DESCRIPTOR]


def load_protogen():
    spec = importlib.util.spec_from_file_location("protogen", ROOT / "tools" / "protogen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_are_what_the_protos_generate():
    result = subprocess.run(
        [sys.executable, "tools/protogen.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_the_check_names_a_stale_stub(tmp_path, monkeypatch):
    protogen = load_protogen()
    copy = tmp_path / "src"
    shutil.copytree(protogen.OUTPUT_ROOT, copy)
    stale = copy / "scia" / "v1" / "embedder_pb2.pyi"
    stale.write_text(stale.read_text() + "\n# edited by hand\n")
    (copy / "scia" / "v1" / "planner_pb2_grpc.py").unlink()
    monkeypatch.setattr(protogen, "OUTPUT_ROOT", copy)
    assert protogen.check() == ["missing: planner_pb2_grpc.py", "stale: embedder_pb2.pyi"]


def all_enums(file: descriptor.FileDescriptor):
    yield from file.enum_types_by_name.values()

    def nested(message: descriptor.Descriptor):
        yield from message.enum_types
        for child in message.nested_types:
            yield from nested(child)

    for message in file.message_types_by_name.values():
        yield from nested(message)


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name)
def test_contracts_live_in_scia_v1_and_every_enum_starts_unspecified(file):
    assert file.package == "scia.v1"
    for enum in all_enums(file):
        zero = enum.values_by_number[0].name
        assert zero.endswith("_UNSPECIFIED"), f"{enum.full_name}: zero value is {zero}"


def test_every_rpc_and_message_is_documented():
    """Public APIs: every service, rpc and message says what it is for in a comment.

    Request and response messages are named after their rpc, which documents them.
    """
    undocumented = []
    for path in sorted((ROOT / "protos" / "scia" / "v1").glob("*.proto")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            stripped = line.strip()
            is_message = stripped.startswith("message ") and not re.match(r"message \w+(Request|Response) ", stripped)
            if stripped.startswith(("rpc ", "service ")) or is_message:
                previous = lines[number - 1].strip()
                if not previous.startswith("//"):
                    undocumented.append(f"{path.name}:{number + 1}: {stripped}")
    assert not undocumented, "\n".join(undocumented)
