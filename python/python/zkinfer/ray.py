"""Proving the parts of a model on a Ray cluster, keys kept in long-lived actors.

A model compiled in parts (``zkinfer.compile(..., max_k=K)`` or ``memory_budget=...``) is
proven by long-lived Ray actors, one per distinct circuit shape among its parts
(``model.inspect()["shapes"]``: the repeated blocks of a model with hashed params share
one), or ``actors_per_shape`` of them, the shape's parts dealt out in turn. Each actor gets
the model (shared once through Ray's object store), asks Ray for one CPU (or ``num_cpus``)
and its shape's predicted peak memory, builds its shape's keys on its first proof and keeps
them for every part of that shape it proves. The parts of one inference run in parallel
across the cluster (each actor recomputes the cheap integer passes before its part), and a
stream of inferences is pipelined: an actor takes its next part as soon as it is free. An
actor is released once it has proven its parts of every inference, which frees its memory
for parts still waiting. The driver gathers the part proofs in order, assembles them and
verifies them. Ray is an optional dependency: ``pip install ./python[ray]``.

    import ray, zkinfer, zkinfer.ray
    ray.init()                                   # or ray.init(address="ray://head:10001")
    model = zkinfer.load("resnet20.zkm")
    proof = zkinfer.ray.prove(model, x)          # a PartedProof, verified
    proofs = zkinfer.ray.prove_many(model, xs)   # keys built once per shape for all of xs
    proof.save("proof.json")                     # `zkinfer verify resnet20.zkm proof.json`

The link seeds travel to the actors with the inputs: they hide the intermediate values from
whoever sees the proofs, so run the actors on machines you trust with the inputs.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from . import InputError, Model, PartedProof, ProveError, _flat, link_seed

__all__ = ["prove", "prove_many", "memory_request"]


class _ShapeProver:
    """One Ray actor: proves parts of one shape for many inferences, the shape's keys built
    on the first proof and kept (``Model.prove_part`` keeps the keys of the shape it last
    proved a part of)."""

    def __init__(self, model_json: str, params_dir: Optional[str]) -> None:
        import zkinfer

        self.model = zkinfer.Model.from_json(model_json, params_dir)

    def prove(self, x: List[float], part: int, seed: str, clamp: bool) -> str:
        return self.model.prove_part(x, part, seed, clamp).to_json()


def _largest_node_memory(ray: Any) -> int:
    """The most logical memory (bytes) any live node of the cluster offers."""
    return int(max((n["Resources"].get("memory", 0) for n in ray.nodes() if n.get("Alive")),
                   default=0))


def memory_request(predicted: int, largest_node: int) -> int:
    """The memory (bytes) a part's actor asks Ray for: its predicted peak, but never more than
    the largest node offers. A request above every node's would never be scheduled (Ray
    would wait for ever), and dropping the request would let two such parts share a node and
    run it out of memory; asking for a whole node runs the part alone there."""
    return max(0, min(predicted, largest_node))


def prove(model: Model, input: Any, address: Optional[str] = None, **options: Any) -> PartedProof:
    """Proves every part of ``model`` on ``input`` on Ray; returns the assembled proof,
    verified. The options are :func:`prove_many`'s."""
    return prove_many(model, [input], address, **options)[0]


def prove_many(
    model: Model,
    inputs: Iterable[Any],
    address: Optional[str] = None,
    *,
    clamp: bool = False,
    num_cpus: float = 1,
    retries: int = 1,
    params_dir: Optional[str] = None,
    verify: bool = True,
    actors_per_shape: int = 1,
) -> List[PartedProof]:
    """Proves every part of ``model`` on each of ``inputs`` in Ray actors, ``actors_per_shape``
    per distinct shape (each given that shape's parts in turn), each keeping its shape's
    keys across its parts and the inferences; returns the assembled proofs in order,
    verified (unless ``verify`` is false). More actors per shape prove more parts at once,
    each building the shape's keys once.

    ``address`` is given to ``ray.init`` when Ray is not initialised yet (``None``: a local
    Ray). Each actor asks for ``num_cpus`` CPUs and its shape's predicted peak memory
    (``model.inspect()["shapes"][s]["predicted_peak_mib"]``), or the largest
    node's whole memory if that is less (:func:`memory_request`); Ray retries a failed proof
    ``retries`` times, and a part that still fails raises :class:`ProveError` naming it.
    ``params_dir`` is where the actors cache IPA parameters (else ``$ZKINFER_PARAMS_DIR``).
    Each inference's links are salted from its own fresh seed.
    """
    try:
        import ray
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("zkinfer.ray needs Ray: pip install './python[ray]'") from e
    if not model.parts:
        raise InputError("the model is proven whole: compile it with max_k or memory_budget")
    xs = [_flat(x, "input") for x in inputs]
    for s, x in enumerate(xs):
        if len(x) != model.input_len:
            raise InputError(f"input {s} has {len(x)} values; the model takes {model.input_len}")
    if not ray.is_initialized():
        ray.init(address=address)
    if actors_per_shape < 1:
        raise InputError(f"actors_per_shape = {actors_per_shape}: at least one actor per shape")
    inspection = model.inspect()
    n = len(inspection["parts"])
    seeds = [link_seed() for _ in xs]
    shared = ray.put(model.to_json())
    actor = ray.remote(_ShapeProver)
    largest = _largest_node_memory(ray)
    actors = []
    owner = [0] * n  # the actor proving each part
    for shape in inspection["shapes"]:
        predicted = int(shape["predicted_peak_mib"] * (1 << 20))
        options: Dict[str, Any] = dict(num_cpus=num_cpus)
        memory = memory_request(predicted, largest)
        if memory:
            options["memory"] = memory
        members = shape["parts"]
        first = len(actors)
        for _ in range(min(actors_per_shape, len(members))):
            actors.append(actor.options(**options).remote(shared, params_dir))
        for j, i in enumerate(members):
            owner[i] = first + j % actors_per_shape
    # Submitted inference by inference, parts in order: each actor proves its parts in that
    # order, so the inferences are pipelined through the actors.
    pending = {}
    for s, (x, seed) in enumerate(zip(xs, seeds)):
        for i in range(n):
            ref = actors[owner[i]].prove.options(
                max_task_retries=retries, retry_exceptions=True).remote(x, i, seed, clamp)
            pending[ref] = (s, i)
    proven = [[""] * n for _ in xs]
    left = [0] * len(actors)
    for i in range(n):
        left[owner[i]] += len(xs)
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                s, i = pending.pop(ref)
                try:
                    proven[s][i] = ray.get(ref)
                except Exception as e:  # a RayTaskError wrapping the part's own exception
                    raise ProveError(
                        f"part {i} of {n} failed after {retries + 1} attempts: {e}") from e
                left[owner[i]] -= 1
                if left[owner[i]] == 0:
                    # Its parts are proven for every inference: free its memory for others.
                    ray.kill(actors[owner[i]])
    finally:
        for a in actors:
            ray.kill(a)
    from . import Proof

    proofs = [PartedProof.assemble([Proof.from_json(p) for p in parts_of]) for parts_of in proven]
    if verify:
        for proof in proofs:
            model.verify(proof)
    return proofs
