using System.Reflection;
using Portal.Core.Results;
using Portal.Web.Features.Ingest;

namespace Portal.Web.Tests.Features.Ingest;

/// <summary>The hub's methods in both directions are the contract's (the kit calls them by the generated names).</summary>
public sealed class RunHubContractTests
{
    [Fact]
    public void RunHub_MethodsThePageCalls_AreTheContracts()
    {
        var methods = typeof(RunHub).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(m => !m.IsSpecialName && m.Name is not (nameof(RunHub.OnConnectedAsync) or nameof(RunHub.OnDisconnectedAsync)))
            .Select(m => m.Name);

        methods.ShouldBe(Contract.HubMethods, ignoreOrder: true);
    }

    [Fact]
    public void RunClient_MethodsTheHubCalls_AreTheContracts() =>
        typeof(IRunClient).GetMethods().Select(m => m.Name).ShouldBe(Contract.ClientMethods, ignoreOrder: true);
}
