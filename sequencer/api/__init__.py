"""REST and JSON-RPC routers, one per topic."""
