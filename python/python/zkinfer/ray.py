"""Proving the parts of a model on a Ray cluster.

A model compiled in parts (``zkinfer.compile(..., max_k=K)`` or ``memory_budget=...``) is
proven one Ray task per part: each task gets the model (shared once through Ray's object
store), the input and the inference's link seed, recomputes the cheap integer passes before
its part and proves it, asking Ray for one CPU (or ``num_cpus``) and the part's predicted
peak memory. The driver gathers the part proofs in order, assembles them and verifies the
result. Ray is an optional dependency: ``pip install ./python[ray]``.

    import ray, zkinfer, zkinfer.ray
    ray.init()                                   # or ray.init(address="ray://head:10001")
    model = zkinfer.load("resnet20.zkm")
    proof = zkinfer.ray.prove(model, x)          # a PartedProof, verified
    proof.save("proof.json")                     # `zkinfer verify resnet20.zkm proof.json`

The link seed travels to the tasks with the input: it hides the intermediate values from
whoever sees the proof, so run the tasks on machines you trust with the input.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from . import InputError, Model, PartedProof, ProveError, _flat, link_seed

__all__ = ["prove", "memory_request"]


def _prove_part(model_json: str, x: List[float], part: int, seed: str, clamp: bool,
                params_dir: Optional[str]) -> str:
    """One Ray task: proves part ``part`` and returns its proof as JSON text."""
    import zkinfer

    model = zkinfer.Model.from_json(model_json, params_dir)
    return model.prove_part(x, part, seed, clamp).to_json()


def _largest_node_memory(ray: Any) -> int:
    """The most logical memory (bytes) any live node of the cluster offers."""
    return int(max((n["Resources"].get("memory", 0) for n in ray.nodes() if n.get("Alive")),
                   default=0))


def memory_request(predicted: int, largest_node: int) -> int:
    """The memory (bytes) a part's task asks Ray for: its predicted peak, but never more than
    the largest node offers. A request above every node's would never be scheduled (Ray
    would wait for ever), and dropping the request would let two such parts share a node and
    run it out of memory; asking for a whole node runs the part alone there."""
    return max(0, min(predicted, largest_node))


def prove(
    model: Model,
    input: Any,
    address: Optional[str] = None,
    *,
    clamp: bool = False,
    num_cpus: float = 1,
    retries: int = 1,
    params_dir: Optional[str] = None,
    verify: bool = True,
) -> PartedProof:
    """Proves every part of ``model`` on ``input`` in Ray tasks; returns the assembled proof,
    verified (unless ``verify`` is false).

    ``address`` is given to ``ray.init`` when Ray is not initialised yet (``None``: a local
    Ray). Each task asks for ``num_cpus`` CPUs and the part's predicted peak memory
    (``model.inspect()["parts"][i]["circuit"]["predicted_peak_mib"]``), or the largest
    node's whole memory if that is less (:func:`memory_request`); Ray retries a failed
    task ``retries`` times, and a part that still fails raises :class:`ProveError` naming it.
    ``params_dir`` is where the tasks cache IPA parameters (else ``$ZKINFER_PARAMS_DIR``).
    """
    try:
        import ray
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("zkinfer.ray needs Ray: pip install './python[ray]'") from e
    if not model.parts:
        raise InputError("the model is proven whole: compile it with max_k or memory_budget")
    x = _flat(input, "input")
    if len(x) != model.input_len:
        raise InputError(f"input has {len(x)} values; the model takes {model.input_len}")
    if not ray.is_initialized():
        ray.init(address=address)
    parts: List[Dict[str, Any]] = model.inspect()["parts"]
    seed = link_seed()
    shared = ray.put(model.to_json())
    task = ray.remote(_prove_part)
    largest = _largest_node_memory(ray)
    pending = []
    for i, part in enumerate(parts):
        predicted = int(part["circuit"]["predicted_peak_mib"] * (1 << 20))
        options = dict(num_cpus=num_cpus, max_retries=retries, retry_exceptions=True,
                       name=f"zkinfer part {i}")
        memory = memory_request(predicted, largest)
        if memory:
            options["memory"] = memory
        pending.append(task.options(**options).remote(shared, x, i, seed, clamp, params_dir))
    proofs = []
    for i, ref in enumerate(pending):
        try:
            proofs.append(ray.get(ref))
        except Exception as e:  # a RayTaskError wrapping the part's own exception
            raise ProveError(f"part {i} of {len(parts)} failed after {retries + 1} attempts: {e}") from e
    from . import Proof

    assembled = PartedProof.assemble([Proof.from_json(p) for p in proofs])
    if verify:
        model.verify(assembled)
    return assembled
