using Portal.Web.Features.Accounts;

namespace Portal.Web.Tests.Features.Accounts;

public class CommonPasswordsTests
{
    [Theory]
    [InlineData("aaaaaaaaaaaa", "repeats")]
    [InlineData("abababababab", "repeats")]
    [InlineData("abcabcabcabc", "repeats")]
    [InlineData("123456789012", "sequential")]
    [InlineData("qwertyuiopas", "sequential")]
    [InlineData("zyxwvutsrqpo", "sequential")]
    [InlineData("Password1234", "common")]
    [InlineData("iloveyou1234!", "common")]
    [InlineData("CorrectHorseBatteryStaple", "common")]
    [InlineData("jane.doe-secret-x", "e-mail")]
    public void Problem_GuessablePassword_Refused(string password, string why)
    {
        var problem = CommonPasswords.Problem(password, "jane.doe@example.com");

        problem.ShouldNotBeNull();
        problem.ShouldContain(why switch { "e-mail" => "e-mail", "common" => "most common", "sequential" => "sequential", _ => "repeats" });
    }

    [Theory]
    [InlineData("amber-kettle-drift-77")]
    [InlineData("teal-lantern-orbit-42")]
    [InlineData("Zx8#qLm2!pRt")]
    [InlineData("mountain river 1987")]
    public void Problem_UnguessablePassword_Accepted(string password) => CommonPasswords.Problem(password, "jane.doe@example.com").ShouldBeNull();
}
