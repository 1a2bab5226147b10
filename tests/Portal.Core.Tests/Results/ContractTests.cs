using System.Text;
using System.Text.RegularExpressions;
using Portal.Core.Results;

namespace Portal.Core.Tests.Results;

/// <summary>
/// The contract is written once, in <see cref="Contract"/>: the kit's <c>wwwroot/src/contract.ts</c> and
/// <c>docs/contract.md</c> are generated from it. Run with <c>PORTAL_WRITE_CONTRACT=1</c> to write them anew.
/// </summary>
public sealed partial class ContractTests
{
    private static readonly string Root = Portal.Testing.Repository.Root;

    [Fact]
    public void TypeScript_GeneratedFromTheCatalogue_MatchesTheKitsFile() => Check(Path.Combine("wwwroot", "src", "contract.ts"), TypeScript());

    [Fact]
    public void Document_GeneratedFromTheCatalogue_MatchesDocs() => Check(Path.Combine("docs", "contract.md"), Markdown());

    [Fact]
    public void Diagnoser_EveryMetricItReads_IsInTheCatalogue()
    {
        // The rules read metrics by key (r.Number("…")); a key no step carries is a rule that can never fire.
        var source = File.ReadAllText(Path.Combine(Root, "src", "Portal.Core", "Diagnosis", "Diagnoser.cs"));
        var known = Contract.Steps.SelectMany(s => s.Metrics).Concat(Contract.CommonMetrics).Concat(Contract.PlannedMetrics).ToHashSet(StringComparer.Ordinal);

        var read = NumberRead().Matches(source).Select(m => m.Groups[1].Value).Distinct().ToList();

        read.ShouldNotBeEmpty();
        read.Where(k => !known.Contains(k)).ShouldBeEmpty();
    }

    [Fact]
    public void Diagnoser_EveryDetailKeyItReads_IsInTheCatalogue()
    {
        var source = File.ReadAllText(Path.Combine(Root, "src", "Portal.Core", "Diagnosis", "Diagnoser.cs"));
        var known = Contract.Steps.SelectMany(s => s.Detail).Concat(Contract.CommonDetail).ToHashSet(StringComparer.Ordinal);

        var read = DetailRead().Matches(source).Select(m => m.Groups[1].Value).Distinct().ToList();

        read.ShouldContain("deploymentProblems");
        read.Where(k => !known.Contains(k)).ShouldBeEmpty();
    }

    [Fact]
    public void RulesAndProbes_EveryStepTheyName_IsInTheCatalogue()
    {
        // Step names written in the rules and the probes: one misspelt or renamed is a rule that never fires.
        var sources = Directory.GetFiles(Path.Combine(Root, "src", "Portal.Probes"), "*.cs")
            .Append(Path.Combine(Root, "src", "Portal.Core", "Diagnosis", "Diagnoser.cs"));

        var named = sources.SelectMany(f => StepLiteral().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value)).Distinct().ToList();

        named.ShouldContain("probe.tls");
        named.ShouldContain("ws.idle");
        named.Where(n => !KnownSteps.IsKnown(n)).ShouldBeEmpty();
    }

    [Fact]
    public void Steps_NamesAreUniqueAndKnown()
    {
        Contract.Steps.Select(s => s.Name).ShouldBeUnique();
        Contract.Steps.ShouldAllBe(s => KnownSteps.IsKnown(s.Name));
        KnownSteps.IsKnown("ws.echoo").ShouldBeFalse();
    }

    private static void Check(string relative, string expected)
    {
        var path = Path.Combine(Root, relative);
        if (Environment.GetEnvironmentVariable("PORTAL_WRITE_CONTRACT") == "1")
        {
            File.WriteAllText(path, expected);
        }

        File.Exists(path).ShouldBeTrue($"{relative} is missing: run the Core tests with PORTAL_WRITE_CONTRACT=1.");
        File.ReadAllText(path).ReplaceLineEndings("\n").ShouldBe(expected, $"{relative} differs from the catalogue (src/Portal.Core/Results/Contract.cs): change the catalogue, then run the Core tests with PORTAL_WRITE_CONTRACT=1.");
    }

    private static string Camel(string name)
    {
        var parts = name.Split('.');
        return parts[0] + string.Concat(parts.Skip(1).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));
    }

    /// <summary>The kit's view of the contract: constants for names, and metric keys typed per step.</summary>
    internal static string TypeScript()
    {
        var text = new StringBuilder();
        text.Append("// Generated from src/Portal.Core/Results/Contract.cs by tests/Portal.Core.Tests/Results/ContractTests.cs: do not edit.\n");
        text.Append("// Change the catalogue, then run the Core tests with PORTAL_WRITE_CONTRACT=1.\n\n");
        text.Append("/** The steps the browser runs, by name. */\n");
        text.Append("export const Steps = {\n");
        foreach (var step in Contract.Steps.Where(s => s.Source == StepSource.Client))
        {
            text.Append("  ").Append(Camel(step.Name)).Append(": \"").Append(step.Name).Append("\",\n");
        }

        text.Append("} as const;\n\n");
        text.Append("/** A step the browser runs. */\n");
        text.Append("export type StepName = (typeof Steps)[keyof typeof Steps];\n\n");
        text.Append("/** The metric keys each step's results carry. */\n");
        text.Append("export interface StepMetricKeys {\n");
        foreach (var step in Contract.Steps.Where(s => s.Source == StepSource.Client))
        {
            text.Append("  \"").Append(step.Name).Append("\": ").Append(string.Join(" | ", step.Metrics.Select(m => $"\"{m}\""))).Append(";\n");
        }

        text.Append("}\n\n");
        text.Append("/** The detail keys each step's results carry (top level). */\n");
        text.Append("export interface StepDetailKeys {\n");
        foreach (var step in Contract.Steps.Where(s => s.Source == StepSource.Client))
        {
            text.Append("  \"").Append(step.Name).Append("\": ").Append(step.Detail.Count == 0 ? "never" : string.Join(" | ", step.Detail.Select(m => $"\"{m}\""))).Append(";\n");
        }

        text.Append("}\n\n");
        text.Append("/** Detail keys every result may carry. */\n");
        text.Append("export type CommonDetailKey = ").Append(string.Join(" | ", Contract.CommonDetail.Select(m => $"\"{m}\""))).Append(";\n\n");
        text.Append("/** The detail of a step's result: only its own keys (and the common ones). */\n");
        text.Append("export type Detail<S extends StepName = StepName> = { [K in StepDetailKeys[S] | CommonDetailKey]?: unknown };\n\n");
        text.Append("/** Metric keys every result may carry. */\n");
        text.Append("export type CommonMetricKey = ").Append(string.Join(" | ", Contract.CommonMetrics.Select(m => $"\"{m}\""))).Append(";\n\n");
        text.Append("/** The metrics of a step's result: only its own keys (and the common ones). */\n");
        text.Append("export type Metrics<S extends StepName = StepName> = { [K in StepMetricKeys[S] | CommonMetricKey]?: number | null };\n\n");
        text.Append("/** A result's status. */\n");
        text.Append("export type Status = ").Append(string.Join(" | ", ResultStatus.All.Where(s => s != ResultStatus.Blocked).Select(s => $"\"{s}\""))).Append(";\n\n");
        text.Append("/** How a result reached the portal. */\n");
        text.Append("export type Transport = ").Append(string.Join(" | ", Contract.Transports.Select(t => $"\"{t}\""))).Append(";\n\n");
        text.Append("/** The hub's methods the page calls. */\n");
        text.Append("export const HubMethods = { ").Append(string.Join(", ", Contract.HubMethods.Select(m => $"{char.ToLowerInvariant(m[0])}{m[1..]}: \"{m}\""))).Append(" } as const;\n\n");
        text.Append("/** The methods the hub calls on the page. */\n");
        text.Append("export const ClientMethods = { ").Append(string.Join(", ", Contract.ClientMethods.Select(m => $"{char.ToLowerInvariant(m[0])}{m[1..]}: \"{m}\""))).Append(" } as const;\n");
        return text.ToString();
    }

    /// <summary>The contract written down for people.</summary>
    internal static string Markdown()
    {
        var text = new StringBuilder();
        text.Append("# The result contract\n\n");
        text.Append("<!-- Generated from src/Portal.Core/Results/Contract.cs by tests/Portal.Core.Tests/Results/ContractTests.cs: do not edit. -->\n\n");
        text.Append("What crosses the wire between the customer's page (the test kit in `wwwroot/`), the portal's probes and the rules,\n");
        text.Append("written once in `src/Portal.Core/Results/Contract.cs`. The kit's `wwwroot/src/contract.ts` is generated from the same\n");
        text.Append("catalogue and types each step's metrics, so a key renamed on one side fails the kit's build (`tsc`) or the Core tests,\n");
        text.Append("never a customer's run.\n\n");
        text.Append("## A result\n\n");
        text.Append("`{id, runId, step, status, metrics, detail, clientTime}`: `id` and `runId` are made by the page (a result is stored once\n");
        text.Append("per id, however often it is sent); `metrics` holds numbers (or null where not measured) under the step's keys below;\n");
        text.Append("`detail` holds evidence in words and structures (`summary` always, `error` and `unexpected` when a step met an answer it\n");
        text.Append("did not expect). A result is at most ").Append(ResultValidator.MaxResultBytes).Append(" bytes.\n\n");
        text.Append("Statuses: ").Append(string.Join(", ", ResultStatus.All.Select(s => $"`{s}`"))).Append(" (`blocked`: a probe the address guard did not allow).\n\n");
        text.Append("Transports (how a result reached the portal): ").Append(string.Join(", ", Contract.Transports.Select(t => $"`{t}`"))).Append(".\n\n");
        text.Append("## The hub (`/hubs/run`, SignalR JSON protocol)\n\n");
        text.Append("The page calls ").Append(string.Join(", ", Contract.HubMethods.Select(m => $"`{m}`"))).Append("; each returns an acknowledgement `{id, stored, transport}`\n");
        text.Append("(`Ping` returns the server's clock). The hub calls ").Append(string.Join(", ", Contract.ClientMethods.Select(m => $"`{m}`"))).Append(" on the page (a strongly typed hub: `IRunClient`).\n");
        text.Append("Over the budget of a link (`Portal__Limits__MessagesPerMinutePerLink`) an invocation gets an error instead of an acknowledgement.\n\n");
        text.Append("## Steps\n\n");
        text.Append("Every result may also carry ").Append(string.Join(", ", Contract.CommonMetrics.Select(m => $"`{m}`"))).Append(".\n\n");
        text.Append("Read by a rule but carried by no step yet: ").Append(string.Join(", ", Contract.PlannedMetrics.Select(m => $"`{m}`")))
            .Append(" (`slow-network`'s loss; only a packet-loss measurement through TURN can give it).\n\n");
        text.Append("Every result's detail may also carry ").Append(string.Join(", ", Contract.CommonDetail.Select(m => $"`{m}`"))).Append(".\n\n");
        text.Append("| step | from | metrics | detail | what it measures |\n|---|---|---|---|---|\n");
        foreach (var step in Contract.Steps)
        {
            text.Append("| `").Append(step.Name).Append("` | ").Append(step.Source.ToString().ToLowerInvariant()).Append(" | ")
                .Append(string.Join(", ", step.Metrics.Select(m => $"`{m}`"))).Append(" | ")
                .Append(step.Detail.Count == 0 ? "–" : string.Join(", ", step.Detail.Select(m => $"`{m}`"))).Append(" | ").Append(step.Meaning).Append(" |\n");
        }

        return text.ToString();
    }

    [GeneratedRegex("""\.Number\("([A-Za-z0-9]+)"\)""")]
    private static partial Regex NumberRead();

    [GeneratedRegex("""\.(?:Text|Strings|Flag|Keys)\("([A-Za-z0-9]+)"\)""")]
    private static partial Regex DetailRead();

    [GeneratedRegex("\"((?:env|sse|longpoll|targets|(?:http|ws|signalr|server|probe)\\.[a-z]+(?:\\.[a-z]+)?))\"")]
    private static partial Regex StepLiteral();
}
