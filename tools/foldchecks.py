"""Fold the claim bookkeeping of a chapter behind one "show the checks" toggle in the built book.

A chapter's code cells compute something and then record claims about it (``ledger.prove``,
``ledger.approx``, …). In the book the computation stays in view; the trailing statements that
only record claims move to a cell of their own tagged ``kexue-check``, which the page hides
until the reader presses the one "Show the checks" button (``book/_static/kexue.js``). Their
results stay visible in the chapter's claim ledger. Only the staged copy changes; the stored
notebooks (what Jupyter and Colab open) keep their cells as written.

What counts as bookkeeping (a statement of the cell's tail, read with :mod:`ast`):

* a call ``ledger.<claim>(…)``;
* ``with ledger.cite(…):``, ``for …:`` or ``if …:`` whose body is bookkeeping only;
* an assignment whose names no later statement reads outside the bookkeeping (a table of
  claims such as ``rows = [...]`` before the loop that records it), unless its value is a direct
  call of the chapter's machinery (a function imported from ``kexue_lab`` or defined in the
  notebook, ``run.pick`` excepted): ``acc = train.fit(...)`` is the experiment and stays.

Splitting a cell's tail keeps what runs and in what order; an expression that now ends the
computation gets a ``;`` so that Jupyter does not start displaying it.
"""

from __future__ import annotations

import ast
import json
import re

TAG = "kexue-check"
CLAIM_METHODS = {"prove", "approx", "bound", "true", "beside"}
_NAME = re.compile(r"[A-Za-z_]\w*")


def _is_ledger_call(node: ast.AST, methods: set[str]) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "ledger"
        and node.func.attr in methods
    )


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _heavy(value: ast.AST | None, machinery: set[str]) -> bool:
    """Whether ``value`` is a direct call of the chapter's machinery (not ``run.pick``)."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    if isinstance(func, ast.Attribute) and func.attr == "pick" and _root(func) == "run":
        return False
    return _root(func) in machinery


def machinery(sources: list[str]) -> set[str]:
    """Names bound by ``from kexue_lab… import`` / ``import kexue_lab…`` or ``def`` in the cells."""
    names = {"run"}
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kexue_lab"):
                names |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {
                    a.asname or a.name.split(".")[0]
                    for a in node.names
                    if a.name.startswith("kexue_lab")
                }
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
    return names


def _bookkeeping(stmt: ast.stmt, private: set[str], heavy: set[str] = frozenset()) -> bool:
    """Whether ``stmt`` only records claims (assignments only to names in ``private``)."""
    if isinstance(stmt, ast.Expr):
        return _is_ledger_call(stmt.value, CLAIM_METHODS)
    if isinstance(stmt, ast.With):
        cites = all(_is_ledger_call(item.context_expr, {"cite"}) for item in stmt.items)
        return cites and _body(stmt.body, private)
    if isinstance(stmt, (ast.For, ast.If)):
        return not stmt.orelse and _body(stmt.body, private | _targets(stmt))
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        light = not _heavy(stmt.value, heavy)
        return light and bool(_targets(stmt)) and _targets(stmt) <= private
    return False


def _body(stmts: list[ast.stmt], private: set[str]) -> bool:
    inner = private | {n for s in stmts if isinstance(s, ast.Assign) for n in _targets(s)}
    return any(_records(s) for s in stmts) and all(_bookkeeping(s, inner) for s in stmts)


def _records(stmt: ast.stmt) -> bool:
    return any(_is_ledger_call(n, CLAIM_METHODS) for n in ast.walk(stmt))


def _targets(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, ast.For):
        nodes = [stmt.target]
    elif isinstance(stmt, ast.Assign):
        nodes = stmt.targets
    elif isinstance(stmt, ast.AnnAssign):
        nodes = [stmt.target]
    else:
        return set()
    names = {n.id for t in nodes for n in ast.walk(t) if isinstance(n, ast.Name)}
    plain = all(
        isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.Store))
        for t in nodes
        for n in ast.walk(t)
    )
    return names if plain else set()


def tail_split(source: str, later_names: set[str], heavy: set[str] = frozenset()) -> int | None:
    """The line (0-based) where the cell's bookkeeping tail starts, or ``None`` if it has none.

    ``later_names`` are the identifiers later cells use: a tail that binds one of them stays;
    ``heavy`` the chapter's machinery (see :func:`machinery`).
    """
    if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    stmts = tree.body
    start = len(stmts)
    while start > 0:
        cand = stmts[start - 1]
        tail = stmts[start - 1 :]
        bound = {n for s in tail for n in _targets(s) if not isinstance(s, ast.For)}
        if bound & later_names:  # a name the reader meets again later must stay in view
            break
        if not _bookkeeping(cand, bound | _targets(cand), heavy):
            break
        start -= 1
    tail = stmts[start:]
    if not tail or not any(_records(s) for s in tail):
        return None
    first = tail[0]
    line = min([first.lineno] + [d.lineno for d in getattr(first, "decorator_list", [])]) - 1
    lines = source.splitlines()
    while line > 0 and lines[line - 1].lstrip().startswith("#"):
        line -= 1  # a comment just above the tail belongs to it
    return line


def later_reads(sources: list[str]) -> set[str]:
    """Names the cells ``sources`` (in order) read before binding them again themselves."""
    reads: set[str] = set()
    rebound: set[str] = set()
    for src in sources:
        try:
            stmts = ast.parse(src).body
        except SyntaxError:  # a cell with magics: count every identifier in it as read
            reads |= set(_NAME.findall(src)) - rebound
            continue
        local: set[str] = set()
        for stmt in stmts:
            loads = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
            stores = {
                n.id
                for n in ast.walk(stmt)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                loads -= {
                    n.id
                    for t in _assign_targets(stmt)
                    for n in ast.walk(t)
                    if isinstance(n, ast.Name)
                }
            elif isinstance(stmt, ast.For):
                loads -= stores - {n.id for n in ast.walk(stmt.iter) if isinstance(n, ast.Name)}
            reads |= loads - local - rebound
            local |= stores
        rebound |= local
    return reads


def _assign_targets(stmt: ast.stmt) -> list[ast.expr]:
    if isinstance(stmt, ast.Assign):
        return [t for t in stmt.targets if isinstance(t, (ast.Name, ast.Tuple, ast.List))]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target]
    return []


def _mute_last_expression(head: str) -> str:
    tree = ast.parse(head)
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return head
    value = tree.body[-1].value
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "print"
    ):
        return head
    last = tree.body[-1]
    lines = head.splitlines()
    row = last.end_lineno - 1
    lines[row] = lines[row][: last.end_col_offset] + ";" + lines[row][last.end_col_offset :]
    return "\n".join(lines)


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def fold_checks(nb: dict) -> tuple[dict, int]:
    """The notebook with every code cell's bookkeeping tail in a ``kexue-check`` cell.

    Returns the new notebook and the number of folded cells. Exercise cells, the setup cell and
    the ``ledger.show()`` cell are left alone.
    """
    out = json.loads(json.dumps(nb))
    cells = out["cells"]
    sources = [_source(c) if c["cell_type"] == "code" else "" for c in cells]
    new: list[dict] = []
    folded = 0
    heavy = machinery(sources)
    for i, cell in enumerate(cells):
        src = sources[i]
        if cell["cell_type"] != "code" or cell.get("metadata", {}).get("kexue"):
            new.append(cell)
            continue
        split = tail_split(src, later_reads(sources[i + 1 :]), heavy)
        if split is None:
            new.append(cell)
            continue
        lines = src.splitlines()
        head, tail = "\n".join(lines[:split]).rstrip(), "\n".join(lines[split:]).strip("\n")
        meta = {**cell.get("metadata", {})}
        meta["tags"] = sorted({*meta.get("tags", []), TAG})
        check = {"cell_type": "code", "execution_count": None, "metadata": meta, "outputs": []}
        check["source"] = tail
        if head.strip():
            cell["source"] = _mute_last_expression(head)
            new.append(cell)
            if "id" in cell:
                check["id"] = f"{cell['id']}-checks"
        else:
            check = {**cell, "metadata": meta, "source": tail}
        new.append(check)
        folded += 1
    out["cells"] = new
    return out, folded
