"""Inspection plan revisions: which revision is in force, and the signed approval that puts one in force.

A revision in the configuration takes effect only once a supervisor approves it; the approval records the
revision's content hash, so a revision edited after approval is not in force until approved again. Until then
the previously approved revision stays in force. Must not evaluate measurements.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from edge import audit, auth
from edge.config import LineConfig, Plan, Product
from edge.errors import ConflictError, NotFoundError
from edge.store import Store, Tx, new_uid

_HASHES: dict[int, tuple[Plan, str]] = {}


def plan_hash(plan: Plan) -> str:
    """The revision's content hash; plans are immutable, so it is computed once per plan object."""
    cached = _HASHES.get(id(plan))
    if cached is not None and cached[0] is plan:
        return cached[1]
    digest = audit.digest(json.dumps(_content(plan), sort_keys=True, separators=(",", ":")))
    _HASHES[id(plan)] = (plan, digest)  # keeps the plan alive, so its id is never reused by another
    return digest


# Keys added to a characteristic after plans were first approved: left out while unset, so that adding them to
# the schema does not change the hash of a revision already approved (and knock it out of force).
_LATER_KEYS = ("vision",)


def _content(plan: Plan) -> dict[str, object]:
    content = plan.model_dump(mode="json")
    for characteristic in content["characteristics"]:
        for key in _LATER_KEYS:
            if characteristic.get(key) is None:
                characteristic.pop(key, None)
    return content


@dataclass(frozen=True, slots=True)
class PlanInForce:
    product: Product
    plan: Plan
    hash: str
    approved_at: str


def _product(config: LineConfig, product_id: str) -> Product:
    product = config.product(product_id)
    if product is None:
        known = ", ".join(p.id for p in config.products)
        raise NotFoundError(f"unknown product {product_id!r} (known: {known})")
    return product


def in_force(store: Store, config: LineConfig, product_id: str) -> PlanInForce:
    """The latest approved revision whose content still matches its approval."""
    product = _product(config, product_id)
    approvals = store.query("SELECT revision, plan_hash, approved_at FROM plan_approvals WHERE product = ? "
                            "ORDER BY approved_at DESC", (product_id,))
    for approval in approvals:
        plan = product.plan(approval["revision"])
        if plan is not None and plan_hash(plan) == approval["plan_hash"]:
            return PlanInForce(product, plan, approval["plan_hash"], approval["approved_at"])
    raise ConflictError(f"product {product_id!r} has no approved plan revision in force: a supervisor must "
                        f"approve one (lineside plan approve {product_id} REVISION)")


def approve(store: Store, config: LineConfig, signer: auth.Actor, secret: str, product_id: str,
            revision: str, meaning: str = "approved") -> str:
    product = _product(config, product_id)
    plan = product.plan(revision)
    if plan is None:
        known = ", ".join(p.revision for p in product.plans)
        raise NotFoundError(f"product {product_id!r} has no plan revision {revision!r} (known: {known})")
    auth.countersign(store, signer, secret, list(config.authority.approve_plan), "approve a plan revision")
    digest = plan_hash(plan)

    def job(tx: Tx) -> str:
        uid = new_uid()
        signature = auth.add_signature(tx, signer, meaning, "plan_approvals", uid)
        tx.add("plan_approvals", {"uid": uid, "product": product_id, "revision": revision, "plan_hash": digest,
                                  "signature_uid": signature, "approved_at": tx.at},
               action="plan.approved", actor=signer.name, station=signer.station)
        return uid

    return store.write(job)
