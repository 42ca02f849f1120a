// Starts the specc language server (`specc lsp`, stdio) for .spec files.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("specc").get("server.command", ["specc", "lsp"]);
  client = new LanguageClient(
    "specc",
    "specc language server",
    { command, args },
    { documentSelector: [{ scheme: "file", language: "specc" }] }
  );
  client.start();
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
