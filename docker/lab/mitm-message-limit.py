# Scenario 8: a proxy with a WebSocket message size limit (a WAF or content-scanner rule): a message larger than
# LIMIT bytes is silently dropped, so small messages echo and large ones never arrive.
# Run with: mitmdump --mode reverse:http://127.0.0.1:PORTAL/ --set keep_host_header=true -s THIS
from mitmproxy import http

LIMIT = 32 * 1024


def websocket_message(flow: http.HTTPFlow) -> None:
    assert flow.websocket is not None
    message = flow.websocket.messages[-1]
    if len(message.content) > LIMIT:
        message.drop()
