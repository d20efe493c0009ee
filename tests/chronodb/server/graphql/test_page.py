"""GraphiQL's page, its script run by node with the browser's objects stood in for.

The page decides per request whether to use HTTP POST or the WebSocket; these tests load the
page as the server serves it, hand its fetcher the queries GraphiQL sends, and record which
transport each one opened.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from graphql import get_introspection_query

from chronodb import ChronoDB
from chronodb.server.graphql.example import default_query
from chronodb.server.graphql.routes import asset, graphiql_page
from chronodb.server.graphql.service import GraphQLService

# Stand-ins for what the page touches: GraphiQL.createFetcher (HTTP), WebSocket, React.
HARNESS = r"""
const vm = require("vm");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const opened = [];
let props = null;
const sandbox = {
  location: { origin: "http://127.0.0.1:8765" },
  GraphiQL: { createFetcher: () => (params) => { opened.push("http"); return {}; } },
  WebSocket: function (url, protocol) { opened.push("ws " + url + " " + protocol); },
  React: { createElement: (component, p) => p },
  ReactDOM: { createRoot: () => ({ render: (p) => { props = p; } }) },
  document: { getElementById: (id) => ({ id }) },
  JSON, Promise, Symbol,
};
sandbox.window = sandbox;
vm.createContext(sandbox);
vm.runInContext(input.operation, sandbox);
vm.runInContext(input.page, sandbox);
const transports = input.requests.map((request) => {
  opened.length = 0;
  props.fetcher(request, {});
  return opened.slice();
});
process.stdout.write(JSON.stringify({ transports, defaultQuery: props.defaultQuery }));
"""


def run_page(page: str, requests: list[dict[str, Any]]) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "these tests run the page's script with node"
    script = re.search(r"<script>\n(.*?)</script>", page, flags=re.S)
    assert script is not None
    payload = {
        "operation": asset("operation.js").decode("utf-8"),
        "page": script.group(1),
        "requests": requests,
    }
    done = subprocess.run(
        [node, "-e", HARNESS],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_introspection_and_queries_go_over_http_and_only_subscriptions_open_a_websocket() -> None:
    requests = [
        {"query": get_introspection_query(), "operationName": "IntrospectionQuery"},
        {"query": "{ users { id } }"},
        {"query": "mutation { insert_users(objects: [{id: 1}]) { id } }"},
        {"query": '# subscription\n{ users(where: {name: {eq: "subscription {"}}) { id } }'},
        {"query": "subscription { users_changes { operation } }"},
        {"query": "query A { users { id } }\nsubscription B { users_changes { id } }"},
        {
            "query": "query A { users { id } }\nsubscription B { users_changes { id } }",
            "operationName": "B",
        },
        {
            "query": 'subscription Watch($t: String = "x") @live { users_changes { id } }',
            "operationName": "Watch",
        },
    ]
    transports = run_page(graphiql_page("/graphql"), requests)["transports"]
    ws = ["ws ws://127.0.0.1:8765/graphql graphql-transport-ws"]
    assert transports == [["http"], ["http"], ["http"], ["http"], ws, ["http"], ws, ws]


def test_the_default_query_carries_points_from_the_files_history(tmp_path: Path) -> None:
    with ChronoDB(tmp_path / "shop.db") as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO users VALUES (1, 'Alice')")
        renamed = db.execute("UPDATE users SET name = 'Alicia' WHERE id = 1")
        before = db.transactions(limit=2)[1]["tx_id"]
        shown = run_page(graphiql_page("/graphql", default_query(db)), [])["defaultQuery"]
        assert f"asOfTransaction: {before}" in shown
        assert str(renamed.tx_id) in shown
        result = GraphQLService(db).run(shown)
        assert result.errors is None
        assert result.data["now"] == [{"id": 1, "name": "Alicia"}]
        assert result.data["before"] == [{"id": 1, "name": "Alice"}]
        assert result.data["beforeByTime"] == [{"id": 1, "name": "Alice"}]


def test_the_default_query_of_an_empty_file_runs(tmp_path: Path) -> None:
    with ChronoDB(tmp_path / "empty.db") as db:
        assert GraphQLService(db).run(default_query(db)).errors is None


def test_a_default_query_cannot_close_the_pages_script() -> None:
    page = graphiql_page("/graphql", "# </script><script>alert(1)</script>\n{ __typename }")
    assert page.count("</script>") == asset("graphiql.html").decode().count("</script>")
    shown = run_page(page, [])["defaultQuery"]
    assert shown == "# </script><script>alert(1)</script>\n{ __typename }"
