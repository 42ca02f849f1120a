"""Comments → the statements they belong to, so that ``specc fmt`` keeps each in place: a
comment after code on its line trails that statement, an own-line comment leads the next
one, and the blank lines around them are kept."""

from __future__ import annotations

import bisect

from specc.errors import source_lines
from specc.syntax import ast

__all__ = ["attach_comments"]


def attach_comments(tree: ast.SpecFile, comments: list[tuple[int, str]], source: str) -> None:
    """Give each comment to the statement it belongs to, so `fmt` keeps it in place.
    ``comments``: each comment's line and text (from ``#``), in source order.

    Linear in the size of the file: statements and bodies are indexed by line first."""
    lines = source_lines(source)

    def is_blank(n: int) -> bool:  # 1-based line number
        return 1 <= n <= len(lines) and not lines[n - 1].strip()

    # a body: (start_line, end_line, statements, sink for comments after them, its owner)
    Body = tuple[int, int, list[ast.Node], list[str], "ast.Node | None"]
    root: Body = (0, 10**12, tree.definitions, tree.comments_end, None)
    body_at: dict[int, Body] = {}  # line → innermost body
    leaf_at: dict[int, ast.Node] = {}  # line → last simple statement on it

    def visit_body(body: Body) -> None:
        start, end, nodes, _, _ = body
        if body is not root:
            for line in range(start, end + 1):  # deeper bodies are visited later: they win
                body_at[line] = body
        prev_end = start
        for n in nodes:
            first = n.span.line
            # `a; b` on one line: no blank line before b, whatever precedes a
            n.blank_before = prev_end != start and first > prev_end and is_blank(first - 1)
            prev_end = n.span.end_line or n.span.line
            if isinstance(n, (ast.ModelDef, ast.BlockDef)):
                visit_body((n.span.line, n.span.end_line, n.body.stmts, n.body.comments, n))
            elif isinstance(n, ast.Section):
                visit_body((n.span.line, n.span.end_line, n.settings, n.comments_end, n))
            else:
                for line in range(n.span.line, (n.span.end_line or n.span.line) + 1):
                    leaf_at[line] = n
                # a chain's `repeat N { ... }` links are bodies of their own: the lines
                # strictly inside them belong to their statements, not to the chain
                chain = n.chain if isinstance(n, ast.Assign) else n
                for link in getattr(chain, "links", ()):
                    if isinstance(link, ast.Repeat):
                        for line in range(link.span.line + 1, link.span.end_line):
                            leaf_at.pop(line, None)
                        visit_body((link.span.line, link.span.end_line, link.body.stmts, link.body.comments, link))

    visit_body(root)
    leading: dict[int, tuple[ast.Node, list[tuple[int, str]]]] = {}
    starts: dict[int, list[int]] = {}  # id(statements) → their first lines (sorted: source order)

    for line, raw in comments:
        text = raw[1:].rstrip()
        text = text[1:] if text.startswith(" ") else text
        # the last statement on that line: `a; b  # c` comments b
        leaf = leaf_at.get(line)
        body = body_at.get(line, root)
        opener = body[4] if body[0] == line else None
        if leaf is not None and opener is not None and (opener.span.line, opener.span.col) >= (leaf.span.line, leaf.span.col):
            leaf = None  # `a; repeat 2 {  # c`: the comment follows the repeat's opening brace
        if leaf is not None:
            # a statement written over several lines, with several comments: it is printed
            # on one line, so the earlier comments go above it and the last one stays after it
            if leaf.trailing is not None:
                leaf.comments.append(leaf.trailing)
            leaf.trailing = text
            continue
        start, end, nodes, sink, owner = body
        firsts = starts.get(id(nodes))
        if firsts is None:
            firsts = starts[id(nodes)] = [n.span.line for n in nodes]
        i = bisect.bisect_left(firsts, line)
        on_line = nodes[i] if i < len(nodes) and firsts[i] == line else None
        if on_line is not None or (line == start and owner is not None):
            # comment on the opening line of a definition/section: `model x {  # ...`
            target = on_line or owner
            target.trailing = text if target.trailing is None else f"{target.trailing} {text}"
            continue
        j = bisect.bisect_right(firsts, line)
        if j < len(nodes):
            nxt = nodes[j]
            leading.setdefault(id(nxt), (nxt, []))[1].append((line, text))
        else:
            sink.append(text)

    # own-line comments before a statement: keep blank lines between them and around them
    for node, items in leading.values():
        items.sort()
        out: list[str | None] = []
        for i, (line, text) in enumerate(items):
            if i > 0 and any(is_blank(n) for n in range(items[i - 1][0] + 1, line)):
                out.append(None)
            out.append(text)
        if any(is_blank(n) for n in range(items[-1][0] + 1, node.span.line)):
            out.append(None)
        first = items[0][0]
        # the blank line (if any) goes above the comments, not between them and the statement
        node.blank_before = first > 1 and is_blank(first - 1)
        node.comments = out + node.comments
