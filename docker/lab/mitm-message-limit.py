# Scenario 8: a proxy with a WebSocket message size limit (a WAF or scanner rule): a message larger than
# LIMIT bytes makes it cut the connection. Run with: mitmdump --mode reverse:http://127.0.0.1:PORTAL -s THIS
from mitmproxy import http

LIMIT = 32 * 1024


def websocket_message(flow: http.HTTPFlow) -> None:
    assert flow.websocket is not None
    if len(flow.websocket.messages[-1].content) > LIMIT:
        flow.kill()
