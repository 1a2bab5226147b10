using Portal.Core.Diagnosis;

namespace Portal.Core.Tests.Diagnosis;

public class FrontProxyTests
{
    private const int PortalPort = 5080;

    private static RequestFacts Facts(string? page, string host, Dictionary<string, string>? headers = null, bool tls = false, bool trusted = false, string[]? own = null) =>
        new(page, host, tls, PortalPort, "10.0.0.5", trusted, headers ?? [], own ?? [], a => trusted && a == "10.0.0.5");

    [Fact]
    public void Judge_StraightToThePortal_NoFrontProxyNothingForeign()
    {
        var view = FrontProxy.Judge(Facts("http://portal.example:5080", "portal.example:5080"));

        view.FrontProxy.ShouldBeFalse();
        view.ForeignHeaders.ShouldBeEmpty();
        view.Problems.ShouldBeEmpty();
    }

    [Fact]
    public void Judge_CustomersForwardProxyStraightToThePortal_ItsHeadersAreForeign()
    {
        // A forward proxy (Squid) reaches the address the browser asked for, Host unchanged, and adds Via and X-Forwarded-For.
        var view = FrontProxy.Judge(Facts("http://portal.example:5080", "portal.example:5080", new() { ["Via"] = "1.1 squid", ["X-Forwarded-For"] = "192.168.1.20" }));

        view.FrontProxy.ShouldBeFalse();
        view.ForeignHeaders.ShouldBe(["Via", "X-Forwarded-For"], ignoreOrder: true);
        view.Problems.ShouldBeEmpty();
    }

    [Fact]
    public void Judge_NginxOnAnotherPortWithHostDollarHost_HostRewrittenAndNothingForeign()
    {
        // nginx on :8081, proxy_set_header Host $host (the port is dropped), X-Forwarded-For added, not trusted.
        var view = FrontProxy.Judge(Facts("http://127.0.0.1:8081", "127.0.0.1", new() { ["X-Forwarded-For"] = "127.0.0.1" }));

        view.FrontProxy.ShouldBeTrue();
        view.FrontHeaders.ShouldBe(["X-Forwarded-For"]);
        view.ForeignHeaders.ShouldBeEmpty();
        view.Problems.ShouldBe([DeploymentProblems.UntrustedProxy, DeploymentProblems.HostRewritten], ignoreOrder: true);
    }

    [Fact]
    public void Judge_TlsEndsInFrontWithoutForwardedProto_SchemeNotForwarded()
    {
        // stunnel on :8443 → Varnish → portal: Varnish adds X-Forwarded-For and Via; nothing says https.
        var view = FrontProxy.Judge(Facts("https://127.0.0.1:8443", "127.0.0.1:8443", new() { ["X-Forwarded-For"] = "127.0.0.1", ["Via"] = "1.1 varnish (Varnish/7.1)" }));

        view.FrontProxy.ShouldBeTrue();
        view.ForeignHeaders.ShouldBeEmpty();
        view.Problems.ShouldBe([DeploymentProblems.UntrustedProxy, DeploymentProblems.SchemeNotForwarded], ignoreOrder: true);
    }

    [Fact]
    public void Judge_TrustedProxyForwardingProtoAndHost_FrontWithoutProblems()
    {
        var view = FrontProxy.Judge(Facts("https://portal.example", "portal.example", new() { ["X-Forwarded-For"] = "203.0.113.9", ["X-Forwarded-Proto"] = "https" }, trusted: true));

        view.FrontProxy.ShouldBeTrue();
        view.ForeignHeaders.ShouldBeEmpty();
        view.Problems.ShouldBeEmpty();
    }

    [Fact]
    public void Judge_CustomersProxyBehindATrustedFrontProxy_ItsViaIsForeign()
    {
        // The customer's proxy added X-Forwarded-For and Via; the portal's trusted nginx appended the proxy's address.
        var view = FrontProxy.Judge(Facts("https://portal.example", "portal.example",
            new() { ["X-Forwarded-For"] = "192.168.1.20, 198.51.100.7", ["Via"] = "1.1 bluecoat", ["X-Forwarded-Proto"] = "https" }, trusted: true));

        view.FrontProxy.ShouldBeTrue();
        view.ForeignHeaders.ShouldBe(["Via"]);
        view.Problems.ShouldBeEmpty();
    }

    [Fact]
    public void Judge_CustomersProxyBehindAnUntrustedFrontProxy_ExtraHopIsForeign()
    {
        var view = FrontProxy.Judge(Facts("http://127.0.0.1:8081", "127.0.0.1:8081", new() { ["X-Forwarded-For"] = "192.168.1.20, 198.51.100.7", ["Via"] = "1.1 bluecoat" }));

        view.FrontProxy.ShouldBeTrue();
        view.ForeignHeaders.ShouldBe(["X-Forwarded-For", "Via"], ignoreOrder: true);
        view.Problems.ShouldBe([DeploymentProblems.UntrustedProxy]);
    }

    [Fact]
    public void Judge_PageOnAConfiguredPublicOrigin_HostRewriteAndSchemeAreNoProblem()
    {
        var view = FrontProxy.Judge(Facts("https://portal.example", "portal", own: ["https://portal.example"], trusted: true, headers: new() { ["X-Forwarded-For"] = "203.0.113.9" }));

        view.FrontProxy.ShouldBeTrue();
        view.Problems.ShouldBeEmpty();
    }

    [Fact]
    public void Judge_UntrustedFrontProxyWithoutForwardingHeaders_ClientAddressHidden()
    {
        // HAProxy as Debian installs it: Host passed on, no option forwardfor; the page's port is the proxy's.
        var view = FrontProxy.Judge(Facts("http://127.0.0.1:8081", "127.0.0.1:8081"));

        view.FrontProxy.ShouldBeTrue();
        view.Problems.ShouldBe([DeploymentProblems.ClientAddressHidden]);
    }

    [Fact]
    public void Judge_TrustedFrontProxyWithoutForwardingHeaders_NoProblem()
    {
        // stunnel cannot add headers; an admin who lists it as trusted has chosen that.
        var view = FrontProxy.Judge(Facts("https://127.0.0.1:8443", "127.0.0.1:8443", tls: false, trusted: true, own: ["https://127.0.0.1:8443"]));

        view.FrontProxy.ShouldBeTrue();
        view.Problems.ShouldBeEmpty();
    }
}
