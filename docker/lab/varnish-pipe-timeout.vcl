vcl 4.1;
# Scenario 4b: a correct WebSocket pipe; the pipe_timeout parameter ({timeout} s here, 60 s by default) cuts a
# piped connection that stays quiet. Fix: varnishd -p pipe_timeout=… above the quiet period, and a keep-alive.
backend portal { .host = "127.0.0.1"; .port = "{portal}"; }
sub vcl_recv {
    if (req.http.upgrade ~ "(?i)websocket") { return (pipe); }
    return (pass);
}
sub vcl_pipe {
    if (req.http.upgrade) {
        set bereq.http.upgrade = req.http.upgrade;
        set bereq.http.connection = req.http.connection;
    }
}
