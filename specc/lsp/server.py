"""The protocol side of the language server (pygls over stdio).  Each open document is
analysed on open and on every change (full text sync) and its diagnostics published; the
last successful analysis of a document answers hover requests."""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from specc import __version__
from specc.errors import Diagnostic

from .analysis import analyse
from .completion import completions
from .hover import hover_text, word_at
from .positions import Positions

__all__ = ["server", "main", "to_lsp"]

server = LanguageServer("specc", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
_models: dict = {}

_KINDS = {
    "layer": types.CompletionItemKind.Class,
    "block": types.CompletionItemKind.Module,
    "activation": types.CompletionItemKind.Function,
    "option": types.CompletionItemKind.Property,
    "setting": types.CompletionItemKind.Property,
    "value": types.CompletionItemKind.EnumMember,
    "keyword": types.CompletionItemKind.Keyword,
}


def _path(uri: str) -> str:
    p = urlparse(uri)
    return unquote(p.path) if p.scheme == "file" else uri


def _positions(ls: LanguageServer, source: str) -> Positions:
    """The document's positions in the encoding negotiated at ``initialize`` (pygls picks
    the client's first of utf-8 / utf-16 / utf-32, utf-16 when it offers none)."""
    return Positions(source, ls.workspace.position_encoding or "utf-16")


def to_lsp(d: Diagnostic, positions: Positions) -> types.Diagnostic:
    s = d.span
    if s is None:
        rng = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    else:
        start = positions.to_lsp(s.line, s.col)
        end = positions.to_lsp(s.end_line or s.line, s.end_col or s.col + 1)
        end = max(start, end)
        rng = types.Range(start=types.Position(line=start[0], character=start[1]), end=types.Position(line=end[0], character=end[1]))
    extra = [f"expected: {d.expected}"] if d.expected else []
    extra += [f"note: {n}" for n in d.notes]
    extra += [f"help: {d.hint}"] if d.hint else []
    severity = types.DiagnosticSeverity.Warning if d.severity == "warning" else types.DiagnosticSeverity.Error
    return types.Diagnostic(range=rng, message="\n".join([d.message, *extra]), severity=severity, source="specc")


def _source(ls: LanguageServer, uri: str) -> str | None:
    """The document's text: the editor's copy once opened; pygls reads any other URI from
    disk, which may not exist (None: nothing to hover or complete, not an internal error)."""
    try:
        return ls.workspace.get_text_document(uri).source
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _refresh(ls: LanguageServer, uri: str) -> None:
    doc = ls.workspace.get_text_document(uri)
    positions = _positions(ls, doc.source)
    result = analyse(positions.spec_text, _path(uri))
    if result.model is not None:
        _models[uri] = result.model
    else:
        _models.pop(uri, None)  # positions of an older model would point at the wrong text
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, version=doc.version, diagnostics=[to_lsp(d, positions) for d in result.diagnostics]))


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    _refresh(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    _refresh(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    _models.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: LanguageServer, params: types.HoverParams) -> types.Hover | None:
    source = _source(ls, params.text_document.uri)
    if source is None:
        return None
    positions = _positions(ls, source)
    line, col = positions.to_spec(params.position.line, params.position.character)
    text = hover_text(positions.spec_text, line, col, _models.get(params.text_document.uri))
    if text is None:
        return None
    word = word_at(positions.spec_text.split("\n")[line], col)
    rng = None
    if word is not None:  # the word hovered, in the client's units
        (l0, c0), (l1, c1) = positions.to_lsp(line + 1, word[1] + 1), positions.to_lsp(line + 1, word[2] + 1)
        rng = types.Range(start=types.Position(line=l0, character=c0), end=types.Position(line=l1, character=c1))
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text), range=rng)


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["(", "=", " ", "[", ","]))
def complete(ls: LanguageServer, params: types.CompletionParams) -> types.CompletionList:
    source = _source(ls, params.text_document.uri)
    if source is None:
        return types.CompletionList(is_incomplete=False, items=[])
    positions = _positions(ls, source)
    line, col = positions.to_spec(params.position.line, params.position.character)
    items = [
        types.CompletionItem(label=c.label, kind=_KINDS.get(c.kind, types.CompletionItemKind.Value), detail=c.detail or c.kind)
        for c in completions(positions.spec_text, line, col)
    ]
    return types.CompletionList(is_incomplete=False, items=items)


def main() -> None:
    server.start_io()
