using System.Diagnostics;
using System.Text.Json;
using Portal.E2E.Tests.Lab;

namespace Portal.E2E.Tests;

/// <summary>The customer's other browser engines, driven by <c>engines/drive.mjs</c> (Playwright drives Chromium).</summary>
public static class Engines
{
    /// <summary>Opens <paramref name="url"/> in <paramref name="engine"/> (firefox or webkit), runs the battery and returns what the page showed.</summary>
    /// <param name="engine">firefox or webkit.</param>
    /// <param name="url">The customer link, with <c>?steps=</c> when only some steps should run.</param>
    /// <param name="proxy">A forward proxy (<c>host:port</c>) every request goes through; Firefox only.</param>
    public static async Task<JsonElement> RunAsync(string engine, Uri url, string? proxy = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        var folder = Path.Combine(LabResults.RepositoryRoot, "tests", "Portal.E2E.Tests", "engines");
        var info = new ProcessStartInfo("node") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "drive.mjs", engine, url.ToString(), "150", proxy ?? "" })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(200));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            // A hung driver must not leave its browser, Xvfb or WebDriver behind for the tests after it.
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"drive.mjs {engine} did not finish within 200 s: {await errors}");
        }
        process.ExitCode.ShouldBe(0, $"drive.mjs {engine} failed: {await errors}");
        return JsonDocument.Parse((await output).Trim().Split('\n')[^1]).RootElement.Clone();
    }
}
