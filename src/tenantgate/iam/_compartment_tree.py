"""Pure rules of the compartment tree: paths, depth and legal moves, over plain rows.

The store loads ``(id, parent_id, name)`` rows and asks these functions; keeping the rules
here makes them testable without a database and keeps the store's queries simple.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tenantgate.errors import CompartmentTooDeep, InvalidCompartmentChange
from tenantgate.iam.policy_model import COMPARTMENT_DEPTH_MAX


@dataclass(frozen=True, slots=True)
class Node:
    """One compartment as the tree sees it."""

    id: str
    parent_id: str | None
    name: str


Tree = Mapping[str, Node]


def path_of(tree: Tree, compartment_id: str) -> tuple[str, ...]:
    """The names from just below the root down to ``compartment_id`` (``()`` for the root)."""
    names: list[str] = []
    node = tree[compartment_id]
    while node.parent_id is not None:
        names.append(node.name)
        if len(names) > COMPARTMENT_DEPTH_MAX + 1:
            raise InvalidCompartmentChange("The compartment tree contains a cycle.")
        node = tree[node.parent_id]
    return tuple(reversed(names))


def subtree_height(tree: Tree, compartment_id: str) -> int:
    """Levels in the subtree rooted at ``compartment_id``: 1 for a leaf."""
    children: dict[str, list[str]] = {}
    for node in tree.values():
        if node.parent_id is not None:
            children.setdefault(node.parent_id, []).append(node.id)
    height, level = 0, [compartment_id]
    while level:
        height += 1
        level = [child for parent in level for child in children.get(parent, [])]
    return height


def check_depth(parent_path: tuple[str, ...], height: int = 1) -> None:
    """Refuse placing a subtree of ``height`` levels below ``parent_path`` deeper than allowed."""
    if len(parent_path) + height > COMPARTMENT_DEPTH_MAX:
        raise CompartmentTooDeep(
            f"Compartments nest at most {COMPARTMENT_DEPTH_MAX} levels below the tenancy.",
            param="parent",
        )


def check_move(tree: Tree, compartment_id: str, new_parent_id: str) -> None:
    """Refuse moving the root, or moving a compartment into itself or its own subtree."""
    if tree[compartment_id].parent_id is None:
        raise InvalidCompartmentChange("The root compartment cannot be moved.")
    ancestor: str | None = new_parent_id
    while ancestor is not None:
        if ancestor == compartment_id:
            raise InvalidCompartmentChange(
                "A compartment cannot be moved into itself or one of its descendants.",
                param="parent",
            )
        ancestor = tree[ancestor].parent_id
    check_depth(path_of(tree, new_parent_id), subtree_height(tree, compartment_id))


def resolve(tree: Tree, path: tuple[str, ...]) -> str | None:
    """The id of the compartment at ``path``, or None when there is none."""
    by_parent = {(node.parent_id, node.name): node.id for node in tree.values()}
    current = next((node.id for node in tree.values() if node.parent_id is None), None)
    for name in path:
        if current is None:
            return None
        current = by_parent.get((current, name))
    return current
