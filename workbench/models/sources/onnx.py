"""Turning a sentence-transformers BERT ONNX export into a safetensors model directory.

The ONNX graph keeps the sentence-transformers weight names, so the conversion is a renaming
(plus transposing the MatMul weights), verified against onnxruntime in the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from workbench.errors import ModelNotFoundError

__all__ = ["convert_bert_onnx"]

_TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


def convert_bert_onnx(onnx_path: Path, target: Path, *, tokenizer_from: Path) -> Path:
    """Turn a sentence-transformers BERT ONNX export into a safetensors ST directory.

    The export keeps names like ``model.0.auto_model.encoder.layer.0.output.dense.bias``;
    the Linear weights appear as anonymous MatMul initialisers, identified by the bias the
    MatMul feeds. Written to a temporary folder and renamed, so a crash leaves no half model.
    """
    import onnx
    from onnx import numpy_helper
    from safetensors.numpy import save_file

    graph = onnx.load(str(onnx_path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    prefix = "model.0.auto_model."
    tensors: dict[str, np.ndarray] = {
        k.removeprefix(prefix): v for k, v in inits.items() if k.startswith(prefix)
    }
    for node in graph.node:
        weight = next((i for i in node.input if i in inits and not i.startswith(prefix)), None)
        if node.op_type != "MatMul" or weight is None:
            continue
        bias = [i for c in consumers.get(node.output[0], []) for i in c.input if i.startswith(prefix)]
        if len(bias) != 1 or not bias[0].endswith(".bias"):
            raise ModelNotFoundError(f"{onnx_path}: cannot identify the layer of MatMul {weight}")
        tensors[bias[0].removeprefix(prefix).removesuffix(".bias") + ".weight"] = inits[weight].T
    hidden_size = tensors["embeddings.word_embeddings.weight"].shape[1]
    # The export has no pooler (mean pooling does not use it); zeros keep the load quiet.
    tensors["pooler.dense.weight"] = np.zeros((hidden_size, hidden_size), dtype=np.float32)
    tensors["pooler.dense.bias"] = np.zeros((hidden_size,), dtype=np.float32)
    layers = 1 + max(int(k.split(".")[2]) for k in tensors if k.startswith("encoder.layer."))
    hidden = tensors["embeddings.word_embeddings.weight"].shape[1]
    config = {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": int(hidden),
        "initializer_range": 0.02,
        "intermediate_size": int(tensors["encoder.layer.0.intermediate.dense.weight"].shape[0]),
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": int(tensors["embeddings.position_embeddings.weight"].shape[0]),
        "model_type": "bert",
        "num_attention_heads": 12,
        "num_hidden_layers": layers,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "type_vocab_size": int(tensors["embeddings.token_type_embeddings.weight"].shape[0]),
        "vocab_size": int(tensors["embeddings.word_embeddings.weight"].shape[0]),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        contiguous = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sorted(tensors.items())}
        save_file(contiguous, str(tmp / "model.safetensors"))
        _write_json(tmp / "config.json", config)
        _write_json(tmp / "sentence_bert_config.json", {"max_seq_length": 128, "do_lower_case": False})
        _write_json(
            tmp / "modules.json",
            [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "",
                    "type": "sentence_transformers.models.Transformer",
                },
                {
                    "idx": 1,
                    "name": "1",
                    "path": "1_Pooling",
                    "type": "sentence_transformers.models.Pooling",
                },
            ],
        )
        (tmp / "1_Pooling").mkdir()
        _write_json(
            tmp / "1_Pooling" / "config.json",
            {"word_embedding_dimension": int(hidden), "pooling_mode_mean_tokens": True},
        )
        for name in _TOKENIZER_FILES:
            shutil.copyfile(tokenizer_from / name, tmp / name)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
