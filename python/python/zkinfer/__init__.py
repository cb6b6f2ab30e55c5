"""zkinfer: zero-knowledge proofs of neural-network inference.

A model owner or inference node runs a model and publishes the output with a proof; anyone
holding the compiled model checks that *this* model produced *this* output, without re-running
it. Proofs use halo2 over the Pasta curves with IPA commitments: no trusted setup.

    import zkinfer
    model = zkinfer.compile("digits_mlp.onnx", "digits_mlp.eval.json")
    proof = model.prove(x)             # numpy array or list; keys built once, then kept
    outputs = model.verify(proof)      # numpy array of the proven outputs, or VerifyError

Slow steps (import, compilation, key generation, proving, verifying) release the GIL, so
threads prove and verify in parallel. Every error is a ``ZkinferError`` subclass carrying the
library's message, which names the node, tensor, value or field at fault.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from . import _zkinfer
from ._zkinfer import (
    FileError,
    InputError,
    ModelError,
    PartedProof,
    ProveError,
    Proof,
    VerifyError,
    ZkinferError,
    link_seed,
)

__all__ = [
    "compile",
    "load",
    "verify_batch",
    "Model",
    "Proof",
    "PartedProof",
    "link_seed",
    "ZkinferError",
    "InputError",
    "ModelError",
    "ProveError",
    "VerifyError",
    "FileError",
]

PathLike = Union[str, "os.PathLike[str]"]
ArrayLike = Union[Sequence[float], "np.ndarray"]


def _flat(x: Any, what: str) -> List[float]:
    array = np.asarray(x, dtype=np.float32)
    if array.dtype.kind != "f":
        raise InputError(f"{what}: expected numbers")
    return array.ravel().tolist()


def _samples(calibration: Any) -> Union[str, List[List[float]]]:
    if isinstance(calibration, (str, os.PathLike)):
        return os.fspath(calibration)
    array = np.asarray(calibration, dtype=np.float32)
    if array.ndim == 0 or array.size == 0:
        raise InputError("calibration: expected a file or one or more samples")
    if array.ndim == 1:
        array = array[None, :]
    return array.reshape(array.shape[0], -1).tolist()


class Model:
    """A compiled model. Build one with :func:`compile` or :func:`load`.

    Its proving and verifying keys are built on the first ``prove`` or ``verify`` and kept, so
    later calls cost only the proof or the check.
    """

    def __init__(self, native: "_zkinfer.Model") -> None:
        self._native = native

    @staticmethod
    def load(path: PathLike, params_dir: Optional[PathLike] = None) -> "Model":
        """Loads a compiled model (``.zkm``), checking its format and structure."""
        return Model(_zkinfer.Model.load(os.fspath(path), _opt_path(params_dir)))

    @staticmethod
    def from_json(text: str, params_dir: Optional[PathLike] = None) -> "Model":
        """Reads a compiled model from JSON text (:meth:`to_json`), checked as a file is."""
        return Model(_zkinfer.Model.from_json(text, _opt_path(params_dir)))

    def to_json(self) -> str:
        """The compiled model as JSON text: how it travels to other processes (Ray tasks)."""
        return self._native.to_json()

    def save(self, path: PathLike) -> None:
        """Writes the compiled model (atomically): what provers and verifiers share."""
        self._native.save(os.fspath(path))

    def inspect(self) -> Dict[str, Any]:
        """Ops, shapes, scales, rows per node, ``k``, columns and predicted proving time."""
        return json.loads(self._native.inspect_json())

    def accuracy(self, eval_path: PathLike) -> Dict[str, Any]:
        """Quantised against float accuracy on a labelled evaluation set file."""
        return json.loads(self._native.accuracy_json(os.fspath(eval_path)))

    def prove(self, input: ArrayLike, clamp: bool = False) -> Union[Proof, PartedProof]:
        """Proves the model on one input (flattened row-major). Values outside the calibrated
        range raise :class:`InputError` unless ``clamp``. A model proven in parts
        (:attr:`parts` > 0) is proven part after part, and gives a :class:`PartedProof`."""
        if self.parts:
            return self._native.prove_parts(_flat(input, "input"), clamp)
        return self._native.prove(_flat(input, "input"), clamp)

    def prove_many(
        self, inputs: Iterable[ArrayLike], clamp: bool = False
    ) -> List[Union[Proof, PartedProof]]:
        """Proves every input, in order. Keys are built once: a model proven whole keeps
        them; one proven in parts is proven part by part, each part's keys built once for
        all the inputs and dropped before the next part's (peak memory stays one part's),
        each inference's links salted from its own fresh seed."""
        return self._native.prove_many([_flat(x, "input") for x in inputs], clamp)

    def prove_part(
        self, input: ArrayLike, part: int, link_seed: str, clamp: bool = False
    ) -> Proof:
        """Proves one part of a model proven in parts, its links salted from ``link_seed``
        (:func:`link_seed`; every process proving a part of one inference shares it, and it
        stays secret). Gather the parts with :meth:`PartedProof.assemble`. The part's keys
        are kept for the next call on the same part (one part's keys at a time): a worker
        that proves one part of many inferences builds them once."""
        return self._native.prove_part(_flat(input, "input"), part, link_seed, clamp)

    def verify(self, proof: Union[Proof, PartedProof]) -> "np.ndarray":
        """Checks ``proof`` against this model; returns the proven outputs, or raises
        :class:`VerifyError` saying why not (for a proof in parts, naming the part)."""
        if isinstance(proof, PartedProof):
            return np.asarray(self._native.verify_parts(proof), dtype=np.float64)
        return np.asarray(self._native.verify(proof), dtype=np.float64)

    @property
    def parts(self) -> int:
        """Parts the model is proven in (0: one circuit). See ``compile(max_k=...)``."""
        return self._native.parts

    def check_openings(self, openings_json: str, proof: Optional[Proof] = None) -> None:
        """Checks the openings of hashed tensors (``proof.openings_json()``, or the
        ``….openings.json`` file's text): each must hash to its commitment and, given
        ``proof``, the proof must verify and carry those commitments. Raises
        :class:`VerifyError`."""
        self._native.check_openings(openings_json, proof)

    def verify_batch(self, proofs: Iterable[Proof]) -> None:
        """Checks many proofs of this model at once (one multi-scalar multiplication);
        raises :class:`VerifyError` if any fails."""
        self._native.verify_batch(list(proofs))

    @property
    def digest(self) -> str:
        """The model's identity, which proofs name and the model owner publishes: a digest
        of the verifying key and of every scale, name and visibility of the model file."""
        return self._native.digest()

    @property
    def weights_commitment(self) -> Optional[str]:
        """The Poseidon commitment to the model's hashed params (64 hex digits): what the
        model owner publishes and every proof carries. ``None`` when the params are fixed."""
        return self._native.weights_commitment

    @property
    def is_verifier_file(self) -> bool:
        """Whether this is a verifier file (hashed params, no weights): it verifies only."""
        return self._native.is_verifier_file

    def verifier_file(self) -> "Model":
        """The verifier file of a model compiled with ``param_visibility="hashed"``: the
        same architecture, every weight zero, no salt. Save it and publish it with
        :attr:`weights_commitment`; it verifies the owner's proofs, it cannot prove."""
        return Model(self._native.verifier_file())

    def expecting_weights(self, commitment: str) -> "Model":
        """The same model, checking proofs against the weights commitment ``commitment``
        (the one the model owner announced) instead of the one it records."""
        return Model(self._native.expecting_weights(commitment))

    @property
    def input_len(self) -> int:
        return self._native.input_len

    @property
    def output_len(self) -> int:
        return self._native.output_len

    @property
    def k(self) -> int:
        """``log2`` of the circuit's rows."""
        return self._native.k

    def __repr__(self) -> str:
        return repr(self._native)


def _opt_path(p: Optional[PathLike]) -> Optional[str]:
    return None if p is None else os.fspath(p)


def compile(
    onnx_path: PathLike,
    calibration: Union[PathLike, ArrayLike],
    *,
    input_visibility: str = "private",
    output_visibility: str = "public",
    param_visibility: str = "fixed",
    precision: str = "standard",
    dot_width: Optional[int] = None,
    table_bits: Optional[int] = None,
    headroom_bits: Optional[int] = None,
    max_error: Optional[float] = None,
    max_k: Optional[int] = None,
    memory_budget: Optional[int] = None,
    cut_before: Optional[Sequence[int]] = None,
    share_keys: bool = True,
    params_dir: Optional[PathLike] = None,
) -> Model:
    """Imports an ONNX model and quantises it with scales chosen from ``calibration`` (an
    input file in any accepted format, or samples: a 2-D array, one row per sample), then
    checks it against tract's execution of the file.

    ``input_visibility`` is ``"private"`` (default), ``"public"`` or ``"hashed"``, and
    ``output_visibility`` ``"public"`` (default) or ``"hashed"``: a hashed tensor is public only
    as a Poseidon commitment under a random salt the prover keeps (``proof.openings_json()``).
    ``param_visibility`` is ``"fixed"`` (default: the verifying key commits to the weights) or
    ``"hashed"`` (the weights in advice cells under one commitment, :attr:`Model.weights_commitment`,
    so a verifier needs only :meth:`Model.verifier_file`).
    ``precision`` is ``"standard"`` (default: 16-bit activations, the fastest proofs) or
    ``"high"`` (24-bit activations, 16-bit weights: outputs closer to the float model, more
    rows). ``max_error`` is an error budget instead of a preset: the largest
    |float - quantised| output error allowed on the calibration samples the scales are not
    fitted on (the second half); the widths predicted to prove fastest within it are chosen
    (``inspect()["quant_report"]["budget"]`` shows them and the error measured). ``max_k`` (rows) or ``memory_budget`` (bytes of predicted peak proving memory) cut
    a model too large for one circuit into parts that each fit, linked by Poseidon
    commitments; ``cut_before`` (node indices, as ``inspect`` lists them) cuts it by hand.
    With hashed params in parts, repeated blocks are quantised and cut alike so that their
    parts share one circuit and its keys (``inspect()["shapes"]``); ``share_keys=False``
    gives every part its own. ``params_dir`` overrides where IPA parameters are cached (else ``$ZKINFER_PARAMS_DIR`` or
    ``~/.cache``).
    """
    native = _zkinfer.compile(
        os.fspath(onnx_path),
        _samples(calibration),
        input_visibility=input_visibility,
        output_visibility=output_visibility,
        param_visibility=param_visibility,
        precision=precision,
        dot_width=dot_width,
        table_bits=table_bits,
        headroom_bits=headroom_bits,
        max_error=max_error,
        max_k=max_k,
        memory_budget=memory_budget,
        cut_before=None if cut_before is None else list(cut_before),
        share_keys=share_keys,
        params_dir=_opt_path(params_dir),
    )
    return Model(native)


def load(path: PathLike, params_dir: Optional[PathLike] = None) -> Model:
    """Loads a compiled model (``.zkm``)."""
    return Model.load(path, params_dir)


def verify_batch(model: Model, proofs: Iterable[Proof]) -> None:
    """Checks many proofs of ``model`` at once; raises :class:`VerifyError` if any fails."""
    model.verify_batch(proofs)
