using Portal.Core.Tls;

namespace Portal.Core.Tests.Tls;

public class BrowserFitTests
{
    private const string Chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    private const string Edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
    private const string Firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
    private const string Safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15";
    private const string FirefoxEsr = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0";
    private const string WebKitGtk = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15";
    private const string ChromeOnIPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 Mobile/15E148 Safari/604.1";

    [Theory]
    [InlineData(Chrome, "t13d1516h2_8daaf6152771_02713d6af862")]
    [InlineData(Edge, "t13d1517h2_8daaf6152771_b0da82dd1658")]
    [InlineData(Firefox, "t13d1715h2_5b57614c22b0_3d5424432f57")]
    [InlineData(FirefoxEsr, "t13d1617h2_86a278354501_3cbfd9057e0d")]
    [InlineData(WebKitGtk, "t13d2914h1_723694b0fccc_067a5f92fbdb")]
    [InlineData(Safari, "t13d2014h2_a09f3c656075_14788d8d241b")]
    [InlineData(ChromeOnIPhone, "t13d2014h2_a09f3c656075_14788d8d241b")]
    public void Judge_BrowserWithItsOwnStack_Fits(string userAgent, string ja4)
    {
        var result = BrowserFit.Judge(userAgent, ja4);

        result.Fits.ShouldBe(true);
    }

    [Theory]
    [InlineData(Chrome, "t13d3112h2_e8f1e7e78f70_6bebaf5329ac", "OpenSSL 3.0 defaults")]
    [InlineData(Firefox, "t13d2911h1_c36778b98fa1_1f22a2ca17c4", "OpenSSL (mitmproxy)")]
    [InlineData(WebKitGtk, "t13d3112h2_e8f1e7e78f70_6bebaf5329ac", "OpenSSL 3.0 defaults")]
    [InlineData(Chrome, "t13d1715h2_5b57614c22b0_3d5424432f57", "NSS")]
    [InlineData(Firefox, "t13d1516h2_8daaf6152771_02713d6af862", "BoringSSL")]
    public void Judge_BrowserWithAnotherStack_DoesNotFit(string userAgent, string ja4, string? observed)
    {
        var result = BrowserFit.Judge(userAgent, ja4);

        result.Fits.ShouldBe(false);
        result.ObservedStack.ShouldBe(observed);
    }

    [Theory]
    [InlineData("curl/8.5.0")]
    [InlineData("")]
    [InlineData(null)]
    public void Judge_UnknownClient_GivesNoVerdict(string? userAgent)
    {
        var result = BrowserFit.Judge(userAgent, "t13d1516h2_8daaf6152771_02713d6af862");

        result.Fits.ShouldBeNull();
        result.ObservedStack.ShouldBe("BoringSSL");
    }

    [Theory]
    // A stack the data file does not know: Firefox 153's new offer before it was listed, an old Safari, anything new.
    [InlineData(Firefox, "t13i1616h2_0123456789ab_e0e7c2a0c4c2")]
    [InlineData(Safari, "t12d1209h2_d34a8e72043a_b39be8c56a14")]
    [InlineData(Chrome, "t13d1516h2_ffffffffffff_02713d6af862")]
    public void Judge_UnknownFingerprint_NoVerdictAndANoteWithTheRawJa4(string userAgent, string ja4)
    {
        var result = BrowserFit.Judge(userAgent, ja4);

        result.Fits.ShouldBeNull();
        result.ObservedStack.ShouldBeNull();
        result.Note!.ShouldContain(ja4);
        result.Note!.ShouldContain("Not evidence of interception");
    }

    [Fact]
    public void Judge_WebKitOutsideApple_NotExpectedToUseApplesStack()
    {
        // WebKitGTK's User-Agent says Safari, but on Linux it does not use Apple's TLS stack.
        var result = BrowserFit.Judge(WebKitGtk, "t13d2014h2_a09f3c656075_14788d8d241b");

        result.Family.ShouldBe("WebKit");
        result.ExpectedStack.ShouldBe("GnuTLS (glib-networking)");
        result.Fits.ShouldBe(false);
    }

    [Fact]
    public void Stacks_DataFile_EveryEntrySourcedAndEveryBrowserFamilyCovered()
    {
        BrowserFit.Version.ShouldNotBeNullOrWhiteSpace();
        BrowserFit.Stacks.ShouldAllBe(s => s.CipherHash.Length == 12 && s.Source.Length > 0 && s.Seen.Length > 0);
        BrowserFit.Stacks.Select(s => s.CipherHash).ShouldBeUnique();
        foreach (var engine in new[] { "Chromium", "Firefox", "Safari" })
        {
            BrowserFit.Stacks.ShouldContain(s => s.Kind == StackKind.Browser && s.Engines.Contains(engine));
        }
    }
}
