using Portal.Core.Sessions;

namespace Portal.Core.Tests.Sessions;

public class CapabilityTokenTests
{
    [Fact]
    public void Create_Always_Has256BitsOfUrlSafeText()
    {
        var token = CapabilityToken.Create();

        token.Length.ShouldBe(CapabilityToken.TextLength);
        System.Buffers.Text.Base64Url.DecodeFromChars(token).Length.ShouldBe(32);
        CapabilityToken.IsWellFormed(token).ShouldBeTrue();
    }

    [Fact]
    public void Create_ManyTimes_NeverRepeats()
    {
        var tokens = Enumerable.Range(0, 10_000).Select(_ => CapabilityToken.Create()).ToHashSet(StringComparer.Ordinal);

        tokens.Count.ShouldBe(10_000);
    }

    [Fact]
    public void Hash_SameToken_SameHashAndNotTheToken()
    {
        var token = CapabilityToken.Create();

        var hash = CapabilityToken.Hash(token);

        hash.Length.ShouldBe(32);
        CapabilityToken.Hash(token).ShouldBe(hash);
        CapabilityToken.Hash(CapabilityToken.Create()).ShouldNotBe(hash);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("short")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void IsWellFormed_NotATokenShape_False(string? text)
    {
        CapabilityToken.IsWellFormed(text).ShouldBeFalse();
    }
}
