using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Portal.Web.Features.CustomerLink;

namespace Portal.Web.Tests.Features.CustomerLink;

/// <summary>
/// The customer page in the customer's language: every string in every language with the same placeholders, the
/// language chosen from the page's switch, the engineer's choice for the session, or Accept-Language with region
/// fallback; <c>lang</c> and <c>dir</c> set; one language's strings on the page, within its weight budget.
/// </summary>
public sealed partial class CustomerLanguageTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    public static TheoryData<string> Languages() => [.. CustomerStrings.Supported.Where(l => l != CustomerStrings.Default)];

    [Theory]
    [MemberData(nameof(Languages))]
    public void EveryLanguage_HasEveryKey_WithTheSamePlaceholders_AndNoOtherKey(string language)
    {
        var english = CustomerStrings.OwnStrings(CustomerStrings.Default);
        var own = CustomerStrings.OwnStrings(language);

        own.Keys.Except(english.Keys).ShouldBeEmpty("keys English does not have");
        english.Keys.Except(own.Keys).ShouldBeEmpty("keys missing (they would fall back to English)");
        foreach (var (key, text) in own)
        {
            text.ShouldNotBeNullOrWhiteSpace(key);
            CustomerStrings.Placeholders(text).ShouldBe(CustomerStrings.Placeholders(english[key]), key);
        }

        own["language.name"].ShouldNotBe(english["language.name"]);
    }

    [Fact]
    public void KitKeys_AllExistInEnglish()
    {
        // Every key the kit asks for by name is in the English file (a key never reaches the customer's screen).
        var source = Path.Combine(Portal.Testing.Repository.Root, "wwwroot", "src");
        var used = Directory.EnumerateFiles(source, "*.ts", SearchOption.AllDirectories)
            .SelectMany(f => KitKey().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
            .Where(k => !k.EndsWith('.'))
            .ToHashSet(StringComparer.Ordinal);
        used.ShouldNotBeEmpty();
        used.Except(CustomerStrings.OwnStrings(CustomerStrings.Default).Keys).ShouldBeEmpty();
        // And the page carries them: none is one the server keeps to itself.
        used.Where(k => CustomerStrings.ServerOnly.Any(prefix => k.StartsWith(prefix, StringComparison.Ordinal))).ShouldBeEmpty();
        // Step labels are looked up by the step's name.
        foreach (var step in Portal.Core.Results.Contract.Steps.Where(s => s.Source == Portal.Core.Results.StepSource.Client))
        {
            CustomerStrings.OwnStrings(CustomerStrings.Default).ContainsKey($"step.{step.Name}").ShouldBeTrue($"step.{step.Name}");
        }
    }

    [Theory]
    [MemberData(nameof(AllLanguages))]
    public void FindingSentence_IdleTimeout_NamesTheMeasuredSeconds_InEveryLanguage(string language)
    {
        var evidence = System.Text.Json.JsonDocument.Parse("""[{"step":"ws.idle","figures":{"idleSeconds":75,"diedAfterSeconds":60.2}}]""").RootElement;

        var sentence = CustomerStrings.FindingSentence(language, "idle-timeout", evidence);

        sentence.ShouldNotBeNull();
        sentence.ShouldContain("60");
        sentence.ShouldNotContain("{");
    }

    [Theory]
    [MemberData(nameof(AllLanguages))]
    public void FindingSentence_PacketLoss_NamesTheMeasuredShare_InEveryLanguage(string language)
    {
        var evidence = System.Text.Json.JsonDocument.Parse("""[{"step":"webrtc.turn","figures":{"lossPercent":4.9,"transport":"udp","packets":7350}}]""").RootElement;

        var sentence = CustomerStrings.FindingSentence(language, "packet-loss", evidence);

        sentence.ShouldNotBeNull();
        sentence.ShouldContain(4.9.ToString(System.Globalization.CultureInfo.GetCultureInfo(language)));
        sentence.ShouldNotContain("{");
        CustomerStrings.FindingSentence(language, "packet-loss", System.Text.Json.JsonDocument.Parse("[]").RootElement).ShouldBeNull();
    }

    [Theory]
    [InlineData("portal-deployment")]
    [InlineData("portal-refused")]
    [InlineData("certificate-problem")]
    [InlineData("step-failed")]
    public void FindingSentence_NotTheCustomersToActOn_None(string code) =>
        CustomerStrings.FindingSentence("de", code, default).ShouldBeNull();

    [Fact]
    public void FindingSentence_IdleTimeoutWithoutItsSeconds_None() =>
        CustomerStrings.FindingSentence("fr", "idle-timeout", System.Text.Json.JsonDocument.Parse("[]").RootElement).ShouldBeNull();

    public static TheoryData<string> AllLanguages() => [.. CustomerStrings.Supported];

    [Theory]
    [InlineData(null, null, "de-DE,de;q=0.9,en;q=0.8", "de")]
    [InlineData(null, null, "fr-CA", "fr")]
    [InlineData(null, null, "pt-BR,pt;q=0.9", "pt")]
    [InlineData(null, null, "zh-Hans-CN", "zh")]
    [InlineData(null, null, "sv-SE,ja;q=0.5,en;q=0.4", "ja")]
    [InlineData(null, null, "en;q=0.2,ko;q=0.9", "ko")]
    [InlineData(null, null, "xx-YY", "en")]
    [InlineData(null, null, "", "en")]
    [InlineData(null, "ja", "de-DE", "ja")]
    [InlineData("ar", "ja", "de-DE", "ar")]
    [InlineData("xx", "it", "de-DE", "it")]
    public void Choose_SwitchThenSessionThenBrowser(string? requested, string? session, string acceptLanguage, string expected) =>
        CustomerStrings.Choose(requested, session, acceptLanguage).ShouldBe(expected);

    [Theory]
    [InlineData("de-DE", "de", "ltr", "Test starten")]
    [InlineData("ar-EG", "ar", "rtl", "ابدأ الاختبار")]
    [InlineData("ja-JP", "ja", "ltr", "テストを開始")]
    [InlineData("fr-CA", "fr", "ltr", "Lancer le test")]
    [InlineData("pt-BR", "pt", "ltr", "Iniciar teste")]
    public async Task CustomerPage_InTheBrowsersLanguage_WithLangAndDir(string acceptLanguage, string lang, string dir, string button)
    {
        var (_, _, url) = await fixture.CreateSessionAsync();

        var html = await PageAsync(url.PathAndQuery, acceptLanguage);

        html.ShouldContain($"<html lang=\"{lang}\" dir=\"{dir}\">");
        html.ShouldContain($">{button}</button>");
        html.ShouldContain($"data-lang=\"{lang}\"");
        // One language travels with the page: its own strings, not the others'.
        if (lang != "de")
        {
            html.ShouldNotContain("Test starten", Case.Sensitive, "German strings on another language's page");
        }
    }

    [Fact]
    public async Task EngineersChoice_BeatsTheBrowser_TheCustomersSwitchBeatsBoth_AnUnknownOneIs400()
    {
        using var api = fixture.Portal.CreateClient();
        using var created = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = "Kenji", language = "ja" });
        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var url = new Uri((await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("customerUrl").GetString()!);

        (await PageAsync(url.PathAndQuery, "de-DE")).ShouldContain("<html lang=\"ja\"");
        (await PageAsync(url.PathAndQuery + "?lang=ko", "de-DE")).ShouldContain("<html lang=\"ko\"");

        using var refused = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = "Nobody", language = "klingon" });
        refused.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await refused.Content.ReadAsStringAsync()).ShouldContain("language");
    }

    [Theory]
    [InlineData("en", "<p class=\"lead\">For Mia. Ticket T-7. Your support engineer")]
    [InlineData("de", "<p class=\"lead\">Für Mia. Ticket T-7. Ihr Support-Team")]
    [InlineData("ja", "<p class=\"lead\">Mia 様、チケット T-7。サポート担当者")]
    public async Task Lead_WhoItIsForTheTicketAndWhatItDoes_WrittenAsTheLanguageWritesSentences(string language, string expected)
    {
        using var api = fixture.Portal.CreateClient();
        using var created = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = "Mia", ticketRef = "T-7", language });
        var url = new Uri((await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("customerUrl").GetString()!);

        (await PageAsync(url.PathAndQuery, "en")).ShouldContain(expected);
    }

    [Fact]
    public async Task LinkThatDoesNotWork_ToldInTheCustomersLanguage_TheSessionsLanguageForAnExpiredOne()
    {
        using var client = fixture.Portal.CreateClient(withApiKey: false);
        using var unknown = new HttpRequestMessage(HttpMethod.Get, $"/t/{Portal.Core.Sessions.CapabilityToken.Create()}");
        unknown.Headers.TryAddWithoutValidation("Accept-Language", "ar-EG,ar;q=0.9");
        using var notFound = await client.SendAsync(unknown);
        notFound.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var html = await notFound.Content.ReadAsStringAsync();
        html.ShouldContain("<html lang=\"ar\" dir=\"rtl\">");
        html.ShouldContain(CustomerStrings.Text("ar", "problem.notFound.title"));
        html.ShouldContain(CustomerStrings.Text("ar", "problem.next"));
        html.ShouldNotContain("Ask your support engineer");

        // An expired link still knows its session: the engineer's language for it wins over the browser's.
        using var api = fixture.Portal.CreateClient();
        using var created = await api.PostAsJsonAsync("/api/v1/sessions", new { customerName = "Anja", language = "pl" });
        var body = await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        await using (var command = fixture.Database.CreateCommand("UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE id = $1"))
        {
            command.Parameters.Add(new() { Value = body.GetProperty("id").GetGuid() });
            (await command.ExecuteNonQueryAsync()).ShouldBe(1);
        }

        using var expired = new HttpRequestMessage(HttpMethod.Get, new Uri(body.GetProperty("customerUrl").GetString()!).PathAndQuery);
        expired.Headers.TryAddWithoutValidation("Accept-Language", "de-DE");
        using var gone = await client.SendAsync(expired);
        gone.StatusCode.ShouldBe(HttpStatusCode.Gone);
        var page = await gone.Content.ReadAsStringAsync();
        page.ShouldContain("<html lang=\"pl\" dir=\"ltr\">");
        page.ShouldContain(CustomerStrings.Text("pl", "problem.expired.body"));
    }

    [Theory]
    [InlineData("en")]
    [InlineData("ar")]
    [InlineData("ja")]
    public async Task CustomerPage_WithItsStringsAndKit_StaysWithin30KBCompressed(string language)
    {
        var (_, _, url) = await fixture.CreateSessionAsync();
        var html = await PageAsync(url.PathAndQuery, language);
        using var client = fixture.Portal.CreateClient(withApiKey: false);
        long total = Gzipped(html);
        foreach (Match asset in Asset().Matches(html))
        {
            total += Gzipped(await client.GetStringAsync(asset.Groups[1].Value));
        }

        total.ShouldBeLessThanOrEqualTo(30 * 1024);
    }

    private async Task<string> PageAsync(string path, string acceptLanguage)
    {
        using var client = fixture.Portal.CreateClient(withApiKey: false);
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Accept-Language", acceptLanguage);
        using var response = await client.SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return await response.Content.ReadAsStringAsync();
    }

    private static long Gzipped(string text)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(System.Text.Encoding.UTF8.GetBytes(text));
        }

        return buffer.Length;
    }

    [GeneratedRegex("\\bt\\(\"([a-zA-Z.]+)\"")]
    private static partial Regex KitKey();

    [GeneratedRegex("(?:src|href)=\"(/kit/[^\"]+)\"")]
    private static partial Regex Asset();
}
