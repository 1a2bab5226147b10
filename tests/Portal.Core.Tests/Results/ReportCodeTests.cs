using System.IO.Compression;
using System.Text;
using Portal.Core.Results;

namespace Portal.Core.Tests.Results;

public class ReportCodeTests
{
    private static string Encode(string json)
    {
        using var packed = new MemoryStream();
        using (var deflate = new DeflateStream(packed, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(Encoding.UTF8.GetBytes(json));
        }

        return ReportCode.Prefix + System.Buffers.Text.Base64Url.EncodeToString(packed.ToArray());
    }

    [Fact]
    public void TryDecode_CodeOfTwoResults_RunAndResultsWithTheirNumbers()
    {
        var run = Guid.NewGuid();
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        var code = Encode($$"""{"r":"{{run}}","s":[["{{a}}","ws.echo","fail",{"openMs":null,"closeCode":1006},"2026-11-21T10:00:00.000Z"],["{{b}}","http.ping","pass",{"rttMedianMs":12.5},null]]}""");

        var ok = ReportCode.TryDecode(code[..10] + "\n  " + code[10..], out var runId, out var results, out var error);

        ok.ShouldBeTrue(error);
        runId.ShouldBe(run);
        results.Select(r => (r.Id, r.Step, r.Status)).ShouldBe([(a, "ws.echo", "fail"), (b, "http.ping", "pass")]);
        results[0].Metrics!.Value.GetProperty("closeCode").GetInt32().ShouldBe(1006);
        results[0].ClientTime.ShouldBe(new DateTimeOffset(2026, 11, 21, 10, 0, 0, TimeSpan.Zero));
        results[1].ClientTime.ShouldBeNull();
        results.ShouldAllBe(r => r.RunId == run);
    }

    [Theory]
    [InlineData("", "starts with")]
    [InlineData("X1.abc", "starts with")]
    [InlineData("P1.***", "base64url")]
    [InlineData("P1.____", "decompress")]
    public void TryDecode_DamagedCode_PlainReason(string code, string reason)
    {
        ReportCode.TryDecode(code, out _, out var results, out var error).ShouldBeFalse();

        error!.ShouldContain(reason);
        results.ShouldBeEmpty();
    }

    [Fact]
    public void TryDecode_WrongJsonShape_Refused()
    {
        ReportCode.TryDecode(Encode("""{"hello":"world"}"""), out _, out _, out var error).ShouldBeFalse();

        error.ShouldBe("The report code is not one the portal understands.");
    }

    [Fact]
    public void TryDecode_DecompressionBomb_Refused()
    {
        var code = Encode("{\"r\":\"" + new string('0', ReportCode.MaxInflatedBytes * 2) + "\"}");

        ReportCode.TryDecode(code, out _, out _, out var error).ShouldBeFalse();

        error!.ShouldContain("more than a run");
    }
}
