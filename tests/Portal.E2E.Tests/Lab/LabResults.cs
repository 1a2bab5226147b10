using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Portal.Testing;

namespace Portal.E2E.Tests.Lab;

/// <summary>
/// The lab's record: one row per scenario (expected findings, findings reported, measured figures), written to
/// <c>docs/lab-results.md</c> in the repository after every scenario. Rows of scenarios this test run did not reach
/// are kept from the previous file, with their own dates.
/// </summary>
public static class LabResults
{
    private const string Header = "| scenario | path | expected findings | findings reported | measured | result | run |";
    private static readonly Lock s_gate = new();
    private static readonly Dictionary<string, string> s_rows = Load();

    /// <summary>The repository's root: the folder holding <c>Portal.sln</c>, above the test assembly.</summary>
    public static string RepositoryRoot => Repository.Root;

    /// <summary>Where the table is written.</summary>
    public static string FilePath => Path.Combine(RepositoryRoot, "docs", "lab-results.md");

    /// <summary>Records a scenario's row and rewrites the table.</summary>
    public static void Record(string scenario, string path, IEnumerable<string> expected, IEnumerable<string> reported, string measured, bool ok) =>
        Write(scenario, $"| {scenario} | {Cell(path)} | {Codes(expected)} | {Codes(reported)} | {Cell(measured)} | {(ok ? "✓" : "✗ differs")} | {Now()} |");

    /// <summary>Records that a scenario could not run on this machine, and why.</summary>
    public static void Skipped(string scenario, string path, IEnumerable<string> expected, string reason) =>
        Write(scenario, $"| {scenario} | {Cell(path)} | {Codes(expected)} | – | {Cell(reason)} | skipped here | {Now()} |");

    private static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) + " UTC";

    private static void Write(string scenario, string row)
    {
        lock (s_gate)
        {
            s_rows[scenario] = row;
            var text = new StringBuilder()
                .AppendLine("# The lab's record")
                .AppendLine()
                .AppendLine("Written by the lab tests (`tests/Portal.E2E.Tests/Lab`, part of the README's test command): a real customer run in")
                .AppendLine("Chromium through each real proxy of `docker/lab/`, and the findings the portal reported for it. A scenario passes")
                .AppendLine("only when the reported findings are exactly the expected ones. Each row carries the time it was last run.")
                .AppendLine(CultureInfo.InvariantCulture, $"Last written on a machine with {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}.")
                .AppendLine()
                .AppendLine(Header)
                .AppendLine("|---|---|---|---|---|---|---|");
            foreach (var line in s_rows.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => r.Value))
            {
                text.AppendLine(line);
            }

            Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
            File.WriteAllText(FilePath, text.ToString());
        }
    }

    private static string Codes(IEnumerable<string> codes)
    {
        var list = codes.Order(StringComparer.Ordinal).ToList();
        return list.Count == 0 ? "(none)" : string.Join(", ", list.Select(c => $"`{c}`"));
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    private static Dictionary<string, string> Load()
    {
        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        var path = Path.Combine(Repository.Root, "docs", "lab-results.md");
        if (!File.Exists(path))
        {
            return rows;
        }

        foreach (var line in File.ReadLines(path).Where(l => l.StartsWith("| ", StringComparison.Ordinal) && l != Header))
        {
            rows[line.Split('|', StringSplitOptions.TrimEntries)[1]] = line;
        }

        return rows;
    }
}
