using System.Text.Json;
using Portal.Core.Results;

namespace Portal.Core.Tests.Results;

public class ResultValidatorTests
{
    private static ResultSubmission Valid() => new(
        Guid.NewGuid(), Guid.NewGuid(), "ws.echo", ResultStatus.Pass,
        JsonDocument.Parse("""{"rttMedianMs": 1.2}""").RootElement, JsonDocument.Parse("{}").RootElement, DateTimeOffset.UtcNow);

    [Fact]
    public void Validate_WellFormedResult_NoErrors()
    {
        ResultValidator.Validate(Valid(), 200).ShouldBeEmpty();
    }

    [Fact]
    public void Validate_OverSizeLimit_RefusedWithTheLimitNamed()
    {
        var errors = ResultValidator.Validate(Valid(), ResultValidator.MaxResultBytes + 1);

        errors.Keys.ShouldBe(["result"]);
        errors["result"][0].ShouldContain(ResultValidator.MaxResultBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Validate_AtSizeLimit_Accepted()
    {
        ResultValidator.Validate(Valid(), ResultValidator.MaxResultBytes).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("")]
    [InlineData("WS.Echo")]
    [InlineData("ws echo")]
    [InlineData("ws/echo")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public void Validate_BadStepName_Refused(string step)
    {
        ResultValidator.Validate(Valid() with { Step = step }, 100).Keys.ShouldContain("step");
    }

    [Fact]
    public void Validate_UnknownButWellFormedStep_Accepted()
    {
        ResultValidator.Validate(Valid() with { Step = "future.step-2" }, 100).ShouldBeEmpty();
        KnownSteps.IsKnown("future.step-2").ShouldBeFalse();
        KnownSteps.IsKnown(KnownSteps.WebSocketEcho).ShouldBeTrue();
    }

    [Fact]
    public void Validate_EmptyIdsAndUnknownStatus_EachNamed()
    {
        var errors = ResultValidator.Validate(Valid() with { Id = Guid.Empty, RunId = Guid.Empty, Status = "great" }, 100);

        errors.Keys.OrderBy(k => k, StringComparer.Ordinal).ShouldBe(["id", "runId", "status"]);
    }

    [Fact]
    public void Validate_MetricsNotAnObject_Refused()
    {
        var errors = ResultValidator.Validate(Valid() with { Metrics = JsonDocument.Parse("[1,2]").RootElement }, 100);

        errors.Keys.ShouldBe(["metrics"]);
    }

    [Fact]
    public void Validate_NulCharacterInDetail_Refused()
    {
        var errors = ResultValidator.Validate(Valid() with { Detail = JsonDocument.Parse("""{"text":"a\u0000b"}""").RootElement }, 100);

        errors.Keys.ShouldBe(["detail"]);
    }
}
