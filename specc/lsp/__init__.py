"""The ``.spec`` language server (``specc lsp``, on pygls: the optional extra
``specc[lsp]``): ``specc check``'s diagnostics as you type, hover with a layer's output
shape, parameters and MACs (or a vocabulary word's parameters), and completion of layer,
block, option, activation and other vocabulary names.  :mod:`specc.lsp.analysis` holds
what it says; :mod:`specc.lsp.server` speaks the protocol (stdio JSON-RPC)."""
