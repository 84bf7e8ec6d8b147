"""Cycle detection over explicit and implicit job dependencies.

The server adds an edge producer -> consumer for every file or user_data one job outputs and
another inputs, so a cycle through such data deadlocks the workflow just like an explicit
``depends_on`` cycle. Rather than materializing producer x consumer pairs (quadratic for a
file read by many jobs), files and user_data are graph nodes themselves:
``producer -> file -> consumer``. The search is an iterative DFS, linear in jobs + references.
"""

from __future__ import annotations

from .errors import SpecError

_RESOURCE_LISTS = (
    ("file", "output_files", "input_files"),
    ("user_data", "output_user_data", "input_user_data"),
)


def check_acyclic(jobs: list[dict]) -> None:
    """Raise SpecError naming a dependency cycle, e.g. ``a -> b -> c -> a``."""
    labels, edges = _build_graph(jobs)
    nodes = find_cycle(edges, start_nodes=range(len(jobs)))
    if nodes is not None:
        raise SpecError(f"dependency cycle: {_render(nodes, labels)}", job=labels[nodes[0]][1])


def find_cycle(successors: list[list[int]], start_nodes=None) -> list[int] | None:
    """One cycle of the graph (``successors[n]``: the nodes after node n) as node indexes, first
    == last, restarted at its smallest index (the earliest-declared job, for stable messages);
    None when the graph is acyclic. Linear in nodes + edges."""
    cycle = _search(successors, range(len(successors)) if start_nodes is None else start_nodes)
    if cycle is None:
        return None
    nodes = cycle[:-1]
    at = nodes.index(min(nodes))
    nodes = nodes[at:] + nodes[:at]
    return [*nodes, nodes[0]]


def implicit_upstreams(jobs: list[dict]) -> dict[int, list[str]]:
    """Job position → names of the jobs it waits for because they write a file or user data it
    reads, other than itself and its ``depends_on`` (the edges the server adds). Jobs without
    such edges are left out. Unlike the cycle search, this lists every writer-reader pair, as the
    server stores them."""
    writers: dict[tuple[str, str], list[str]] = {}
    for job in jobs:
        if job["output_files"] or job["output_user_data"]:
            for kind, outputs, _ in _RESOURCE_LISTS:
                for name in job[outputs]:
                    writers.setdefault((kind, name), []).append(job["name"])
    result: dict[int, list[str]] = {}
    if not writers:
        return result
    for i, job in enumerate(jobs):
        if not (job["input_files"] or job["input_user_data"]):
            continue
        found = {}
        for kind, _, inputs in _RESOURCE_LISTS:
            for name in job[inputs]:
                found.update(dict.fromkeys(writers.get((kind, name), ())))
        for name in (job["name"], *job["depends_on"]):
            found.pop(name, None)
        if found:
            result[i] = list(found)
    return result


def _build_graph(jobs: list[dict]) -> tuple[list[tuple[str, str]], list[list[int]]]:
    """Node labels ``(kind, name)`` (jobs first, in order) and successor lists."""
    node_ids: dict[tuple[str, str], int] = {("job", job["name"]): i for i, job in enumerate(jobs)}
    labels: list[tuple[str, str]] = list(node_ids)
    edges: list[list[int]] = [[] for _ in jobs]

    def node(kind: str, name: str) -> int:
        key = (kind, name)
        if key not in node_ids:
            node_ids[key] = len(labels)
            labels.append(key)
            edges.append([])
        return node_ids[key]

    for i, job in enumerate(jobs):
        for dependency in job["depends_on"]:
            edges[node_ids[("job", dependency)]].append(i)
        for kind, outputs, inputs in _RESOURCE_LISTS:
            for name in job[outputs]:
                edges[i].append(node(kind, name))
            for name in job[inputs]:
                edges[node(kind, name)].append(i)
    return labels, edges


def _search(edges: list[list[int]], start_nodes) -> list[int] | None:
    """Nodes of one cycle (first == last), or None. Iterative: specs can be very deep."""
    unvisited, on_path, done = 0, 1, 2
    state = [unvisited] * len(edges)
    for start in start_nodes:
        if state[start] != unvisited:
            continue
        path = [start]
        position = {start: 0}
        cursors = [0]
        state[start] = on_path
        while path:
            current = path[-1]
            if cursors[-1] == len(edges[current]):
                state[current] = done
                del position[current]
                path.pop()
                cursors.pop()
                continue
            successor = edges[current][cursors[-1]]
            cursors[-1] += 1
            if state[successor] == on_path:
                return [*path[position[successor] :], successor]
            if state[successor] == unvisited:
                state[successor] = on_path
                position[successor] = len(path)
                path.append(successor)
                cursors.append(0)
    return None


def _render(nodes: list[int], labels: list[tuple[str, str]]) -> str:
    """``a -> b (via file 'f') -> a``: jobs only, data nodes shown on the edge they carry."""
    text, via = labels[nodes[0]][1], None
    for n in nodes[1:]:
        kind, name = labels[n]
        if kind != "job":
            via = f"{kind} '{name}'"
            continue
        text += f" -> {name}" + (f" (via {via})" if via else "")
        via = None
    return text
