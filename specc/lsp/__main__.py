from specc.lsp.server import main

main()
