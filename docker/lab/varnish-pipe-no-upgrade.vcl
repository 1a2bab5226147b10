vcl 4.1;
# Scenario 4a: Varnish pipes WebSocket requests but does not copy Upgrade and Connection to the backend request
# (they are hop-by-hop and the built-in vcl_pipe sets Connection: close), so the portal gets a plain GET.
# Fix: in vcl_pipe, set bereq.http.upgrade = req.http.upgrade; set bereq.http.connection = req.http.connection;
backend portal { .host = "127.0.0.1"; .port = "{portal}"; }
sub vcl_recv {
    if (req.http.upgrade ~ "(?i)websocket") { return (pipe); }
    return (pass);
}
