using System.Text.Json;
using Portal.Core.Results;

namespace Portal.Core.Tests.Results;

public class StoredTextTests
{
    [Theory]
    [InlineData("plain")]
    [InlineData("Zoë, 日本語 and 👍 (a surrogate pair)")]
    [InlineData("tabs\tand\nnew lines")]
    [InlineData(null)]
    public void Problem_StorableText_None(string? text) => StoredText.Problem(text).ShouldBeNull();

    // The odd character is given by its code: a lone surrogate does not survive in a test case's own data.
    [Theory]
    [InlineData("a", 0x0000, "b", "NUL")]
    [InlineData("a", 0xD800, "b", "lone surrogate (U+D800) at position 2")]
    [InlineData("", 0xDC00, "", "lone surrogate (U+DC00) at position 1")]
    [InlineData("end", 0xD83D, "", "lone surrogate (U+D83D) at position 4")]
    public void Problem_UnstorableText_Named(string before, int code, string after, string expected) =>
        StoredText.Problem(before + (char)code + after)!.ShouldContain(expected);

    [Theory]
    [InlineData("""{"a":1.5,"b":[1,2,{"c":"d"}],"e":null,"f":true,"g":-1e300}""", null)]
    [InlineData("""{"a":1e400000}""", "m.a")]
    [InlineData("""{"b":[0,{"c":"\u0000"}]}""", "m.b[1].c")]
    [InlineData("""{"x":"\ud800"}""", "m.x")]
    [InlineData("""{"\ud800":1}""", "m")]
    public void Problem_Json_PathOfTheFirstProblem(string json, string? path)
    {
        var problem = StoredText.Problem(JsonDocument.Parse(json).RootElement, "m");

        (problem?.Path).ShouldBe(path);
    }

    [Fact]
    public void Problem_JsonDeeperThanTheLimit_Refused()
    {
        var deep = new string('[', StoredText.MaxDepth + 2) + new string(']', StoredText.MaxDepth + 2);
        var shallow = new string('[', StoredText.MaxDepth) + new string(']', StoredText.MaxDepth);

        StoredText.Problem(JsonDocument.Parse(deep).RootElement, "m")!.Value.Problem.ShouldContain("nested more than");
        StoredText.Problem(JsonDocument.Parse(shallow).RootElement, "m").ShouldBeNull();
    }
}
