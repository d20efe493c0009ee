/* Which kind of operation a GraphQL request runs: "query", "mutation" or "subscription".
 *
 * GraphiQL's page sends subscriptions over the WebSocket and everything else over HTTP
 * POST. The decision reads the document's top-level definitions with a small tokenizer
 * (comments, strings and block strings are skipped, so words inside them never count),
 * then picks the operation the request names, or its only operation. A document it cannot
 * place gives null, and the page sends it over HTTP, where the server explains the error.
 */
(function (root) {
  "use strict";
  var PUNCTUATOR = /[!$&()\[\]{}:=@|]/;
  var NAME_START = /[_A-Za-z]/;
  var NAME_PART = /[_0-9A-Za-z]/;

  function tokens(text) {
    var out = [], i = 0, n = text.length;
    while (i < n) {
      var c = text[i];
      if (c === "#") {
        while (i < n && text[i] !== "\n" && text[i] !== "\r") { i++; }
      } else if (text.substr(i, 3) === '"""') {
        i += 3;
        while (i < n && text.substr(i, 3) !== '"""') { i += text.substr(i, 4) === '\\"""' ? 4 : 1; }
        i += 3;
        out.push({ kind: "value" });
      } else if (c === '"') {
        i++;
        while (i < n && text[i] !== '"' && text[i] !== "\n") { i += text[i] === "\\" ? 2 : 1; }
        i++;
        out.push({ kind: "value" });
      } else if (NAME_START.test(c)) {
        var start = i;
        while (i < n && NAME_PART.test(text[i])) { i++; }
        out.push({ kind: "name", text: text.slice(start, i) });
      } else if (text.substr(i, 3) === "...") {
        i += 3;
        out.push({ kind: "punct", text: "..." });
      } else if (PUNCTUATOR.test(c)) {
        i++;
        out.push({ kind: "punct", text: c });
      } else {
        i++;  // white space, commas, digits, signs: nothing that places an operation
      }
    }
    return out;
  }

  /* The operations of a document, in order: [{type, name}] (name null when anonymous). */
  function operations(text) {
    var found = [], depth = 0, inside = false, list = tokens(String(text || ""));
    for (var k = 0; k < list.length; k++) {
      var t = list[k];
      if (t.kind === "punct" && (t.text === "{" || t.text === "(" || t.text === "[")) {
        if (depth === 0 && !inside && t.text === "{") {
          found.push({ type: "query", name: null });  // the shorthand { ... } is a query
          inside = true;
        }
        depth++;
      } else if (t.kind === "punct" && (t.text === "}" || t.text === ")" || t.text === "]")) {
        depth = Math.max(0, depth - 1);
        if (depth === 0 && t.text === "}") { inside = false; }
      } else if (depth === 0 && !inside && t.kind === "name") {
        inside = true;
        if (t.text === "query" || t.text === "mutation" || t.text === "subscription") {
          var next = list[k + 1];
          found.push({ type: t.text, name: next && next.kind === "name" ? next.text : null });
        }
      }
    }
    return found;
  }

  function operationType(text, operationName) {
    var found = operations(text);
    for (var k = 0; k < found.length; k++) {
      if (operationName && found[k].name === operationName) { return found[k].type; }
    }
    return !operationName && found.length === 1 ? found[0].type : null;
  }

  var api = { operations: operations, operationType: operationType };
  if (typeof module === "object" && module.exports) { module.exports = api; }
  else { root.ChronoDBGraphQL = api; }
})(this);
