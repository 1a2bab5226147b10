namespace Portal.Probes.Tests;

public class ProbeTargetTests
{
    [Theory]
    [InlineData("https://example.com", "https", "example.com", 443, "/")]
    [InlineData("wss://example.com:8443/socket?x=1", "wss", "example.com", 8443, "/socket?x=1")]
    [InlineData("ws://Example.COM./", "ws", "example.com", 80, "/")]
    [InlineData("http://[2001:db8::1]:8080/a", "http", "2001:db8::1", 8080, "/a")]
    [InlineData("example.com:25", "tcp", "example.com", 25, "/")]
    public void TryParse_ValidTarget_ReadsParts(string text, string scheme, string host, int port, string path)
    {
        ProbeTarget.TryParse(text, out var target, out var error).ShouldBeTrue(error);

        target.Scheme.ShouldBe(scheme);
        target.Host.ShouldBe(host);
        target.Port.ShouldBe(port);
        target.PathAndQuery.ShouldBe(path);
    }

    [Theory]
    [InlineData("ftp://example.com/", "scheme")]
    [InlineData("file:///etc/passwd", "scheme")]
    [InlineData("gopher://example.com:70/", "scheme")]
    [InlineData("https://user:pw@example.com/", "user name")]
    [InlineData("example.com", "port")]
    [InlineData("https://example.com:99999/", "port")]
    [InlineData("https://exa mple.com/", "a space at position 12")]
    [InlineData("ws://host/x HTTP/1.1\r\nX-Injected: yes\r\n\r\nPOST /smuggled", "a space")]
    [InlineData("ws://host/x\r\nX-Injected: yes", "control character (U+000D) at position 12")]
    [InlineData("http://host/\u0000", "control character (U+0000)")]
    [InlineData("http://host/\tx", "control character (U+0009)")]
    [InlineData("https://bücher.example/", "non-ASCII character ('ü')")]
    [InlineData("http://2001:db8::1/", "brackets")]
    [InlineData("", "URL")]
    public void TryParse_InvalidTarget_SaysWhy(string text, string expected)
    {
        ProbeTarget.TryParse(text, out _, out var error).ShouldBeFalse();

        error.ShouldContain(expected, Case.Insensitive);
    }
}
